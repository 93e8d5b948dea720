//! Taking a schema offline: the files to export, dependencies first, as an
//! encoded descriptor set or as `.proto` sources.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use prost_reflect::{DescriptorPool, FileDescriptor};

use crate::error::Error;

use super::source::file_source;
use crate::schema::lookup;

/// Files every pool holds whether or not the user's schema has them
/// (prost-reflect's well-known types and rpcurl's google.rpc and
/// google.api.http files): exported only when an exported file imports them.
const BUILTIN_RPC_FILES: [&str; 5] = [
    "google/rpc/code.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
    "google/api/http.proto",
    "google/api/annotations.proto",
];

/// Files of rpcurl's own making, never exported.
const INTERNAL_PREFIX: &str = "rpcurl/internal/";

/// The files to export, dependencies first, each once. With no symbols:
/// every file of the pool except rpcurl's internal ones, and the well-known
/// types and google.rpc files unless an exported file imports them. With
/// symbols: the files defining them and everything they import.
pub fn export_files(
    pool: &DescriptorPool,
    symbols: &[String],
) -> Result<Vec<FileDescriptor>, Error> {
    let roots: Vec<FileDescriptor> = if symbols.is_empty() {
        pool.files()
            .filter(|f| !is_builtin(f.name()) && !is_internal(f.name()))
            .collect()
    } else {
        symbols
            .iter()
            .map(|s| lookup::find_or_suggest(pool, s).map(|found| found.file()))
            .collect::<Result<_, _>>()?
    };
    Ok(dependencies_first(&roots))
}

#[cfg(test)]
/// [`export_files`] as a `FileDescriptorSet` of the pool's descriptors.
///
/// prost-types drops custom (extension) options; [`encode_export`] keeps them.
pub fn export_set(
    pool: &DescriptorPool,
    symbols: &[String],
) -> Result<prost_types::FileDescriptorSet, Error> {
    Ok(prost_types::FileDescriptorSet {
        file: export_files(pool, symbols)?
            .iter()
            .map(|f| f.file_descriptor_proto().clone())
            .collect(),
    })
}

/// The encoded `FileDescriptorSet` of `files`, keeping custom options that
/// the pool knows (unlike encoding the prost-types set).
pub fn encode_export(files: &[FileDescriptor]) -> Vec<u8> {
    let mut out = Vec::new();
    for file in files {
        let bytes = file.encode_to_vec();
        // Field 1 (`file`), length-delimited.
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(bytes.len() as u64, &mut out);
        out.extend_from_slice(&bytes);
    }
    out
}

/// Writes each file as `.proto` source under `dir`, at its name, creating
/// directories; returns the paths written. The well-known types
/// (`google/protobuf/*.proto` as compilers ship them) are not written.
/// `wrote` hears how many files are done, of how many, before each.
pub fn write_proto_files(
    files: &[FileDescriptor],
    dir: &Path,
    wrote: &mut dyn FnMut(usize, usize),
) -> Result<Vec<PathBuf>, Error> {
    let mut written = Vec::new();
    for (done, file) in files.iter().enumerate() {
        wrote(done, files.len());
        if is_well_known_file(file.name()) {
            continue;
        }
        let relative = safe_relative_path(file.name())?;
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::local(format!("cannot create directory {}: {e}", parent.display()))
            })?;
        }
        std::fs::write(&path, file_source(file))
            .map_err(|e| Error::local(format!("cannot write {}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(written)
}

pub(super) fn is_internal(name: &str) -> bool {
    name.starts_with(INTERNAL_PREFIX)
}

/// The well-known types compilers have built in (as in prost-reflect's
/// global pool: `google/protobuf/*.proto` and `compiler/plugin.proto`).
pub(super) fn is_well_known_file(name: &str) -> bool {
    name.starts_with("google/protobuf/")
        && DescriptorPool::global().get_file_by_name(name).is_some()
}

pub(super) fn is_builtin(name: &str) -> bool {
    is_well_known_file(name) || BUILTIN_RPC_FILES.contains(&name)
}

/// `roots` and everything they import, each once, every file after its
/// imports; rpcurl's internal files left out.
pub(super) fn dependencies_first(roots: &[FileDescriptor]) -> Vec<FileDescriptor> {
    let mut out = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for root in roots {
        if !seen.insert(root.name().to_string()) {
            continue;
        }
        // Iterative depth-first walk: (file, its imports not yet visited).
        let mut stack: Vec<(FileDescriptor, Vec<FileDescriptor>)> =
            vec![(root.clone(), root.dependencies().collect())];
        while let Some((file, pending)) = stack.last_mut() {
            if let Some(dependency) = pending.pop() {
                if seen.insert(dependency.name().to_string()) {
                    let deps = dependency.dependencies().collect();
                    stack.push((dependency, deps));
                }
                continue;
            }
            let file = file.clone();
            stack.pop();
            if !is_internal(file.name()) {
                out.push(file);
            }
        }
    }
    out
}

/// A file name from a descriptor as a path under the output directory:
/// relative, without `..`, so a server cannot make us write elsewhere.
pub(super) fn safe_relative_path(name: &str) -> Result<PathBuf, Error> {
    let path = Path::new(name);
    let ok = !name.is_empty()
        && !name.contains('\\')
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(path.to_path_buf())
    } else {
        Err(Error::local(format!(
            "refusing to write file '{name}': its name is not a plain relative path"
        )))
    }
}
