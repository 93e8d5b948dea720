//! Schemas from files: binary FileDescriptorSets, as `buf build -o x.binpb`
//! and `protoc --descriptor_set_out` write them.

use std::collections::HashMap;
use std::io::Read;

use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

use super::pool::{self, RawFile, RawSet};
use crate::error::{Error, Result};

/// Reads every `--schema` argument into one pool. The same file may appear
/// in several sets (a shared import); two different files of the same name
/// are a conflict the user must resolve.
pub fn load(
    paths: &[String],
    import_paths: &[String],
    stdin: &mut dyn Read,
) -> Result<DescriptorPool> {
    let mut files: Vec<RawFile> = Vec::new();
    let mut origin_of: HashMap<String, (usize, String)> = HashMap::new();
    // .proto sources are compiled together, so they may import each other.
    let sources: Vec<&str> = paths
        .iter()
        .map(String::as_str)
        .filter(|p| *p != "-" && super::sources::is_source(p))
        .collect();
    let mut sets = Vec::new();
    if !sources.is_empty() {
        sets.push((
            sources.join(", "),
            decode_raw(
                &super::sources::compile(&sources, import_paths)?,
                "the .proto sources",
            )?,
        ));
    }
    for path in paths {
        if path != "-" && super::sources::is_source(path) {
            continue;
        }
        let label = if path == "-" {
            "stdin".to_string()
        } else {
            path.clone()
        };
        let bytes = read(path, &label, stdin)?;
        sets.push((label.clone(), decode_raw(&bytes, &label)?));
    }
    for (label, set) in sets {
        for file in set {
            let name = file.proto.name().to_string();
            match origin_of.get(&name) {
                Some((index, first)) => {
                    if !same_definition(&files[*index].proto, &file.proto) {
                        return Err(Error::local(format!(
                            "conflicting schemas: '{name}' differs between {first} and {label}"
                        )));
                    }
                }
                None => {
                    origin_of.insert(name, (files.len(), label.clone()));
                    files.push(file);
                }
            }
        }
    }
    let mut pool = DescriptorPool::new();
    let origin = paths.join(", ");
    pool::add_raw_files(
        &mut pool,
        files,
        &format!("schema {origin}"),
        &|dep, importer| {
            format!(
                "schema {origin}: '{importer}' imports '{dep}', which is not in the schema (build the set with its imports: `buf build -o FILE` or `protoc --include_imports --descriptor_set_out=FILE`)"
            )
        },
    )?;
    pool::add_any_support(&mut pool)?;
    Ok(pool)
}

/// Two copies of a file agree when they define the same things; comments
/// (source info) may differ, as between sets built with and without them.
fn same_definition(a: &FileDescriptorProto, b: &FileDescriptorProto) -> bool {
    let strip = |f: &FileDescriptorProto| FileDescriptorProto {
        source_code_info: None,
        ..f.clone()
    };
    strip(a) == strip(b)
}

fn read(path: &str, label: &str, stdin: &mut dyn Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let result = if path == "-" {
        stdin.read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    result.map_err(|e| Error::local(format!("cannot read schema {label}: {e}")))?;
    Ok(bytes)
}

/// Decodes a FileDescriptorSet keeping each file's bytes (custom options
/// live only there).
pub fn decode_raw(bytes: &[u8], label: &str) -> Result<Vec<RawFile>> {
    // Validate (and explain) first; then take the files' bytes as they are.
    let set = decode(bytes, label)?;
    let raw = RawSet::decode(bytes)
        .map_err(|e| Error::local(format!("schema {label} is not a FileDescriptorSet: {e}")))?;
    Ok(set
        .file
        .into_iter()
        .zip(raw.file)
        .map(|(proto, raw)| RawFile { proto, raw })
        .collect())
}

/// Decodes a FileDescriptorSet, telling apart the usual wrong inputs.
pub fn decode(bytes: &[u8], label: &str) -> Result<FileDescriptorSet> {
    if bytes.is_empty() {
        return Err(Error::local(format!("schema {label} is empty")));
    }
    let looks_textual = bytes
        .iter()
        .take(512)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    let set = FileDescriptorSet::decode(bytes).map_err(|e| {
        if looks_textual {
            Error::local(format!(
                "schema {label} is text, not a binary FileDescriptorSet: name .proto sources with the .proto extension, or build a set with `buf build -o FILE.binpb`"
            ))
        } else {
            Error::local(format!(
                "schema {label} is not a binary FileDescriptorSet (truncated or another format): {e}"
            ))
        }
    })?;
    if set.file.is_empty() {
        return Err(Error::local(format!("schema {label} holds no files")));
    }
    for file in &set.file {
        if file.name.as_deref().unwrap_or("").is_empty() {
            return Err(Error::local(format!(
                "schema {label} is not a FileDescriptorSet: a file in it has no name"
            )));
        }
    }
    Ok(set)
}
