//! Schemas from `.proto` sources, compiled in-process with protox: files and
//! directories of them, import paths (`-I`), the well-known types, and the
//! imports public APIs rarely ship (google/api, google/rpc, buf/validate),
//! bundled for when the user's paths lack them.

use std::path::{Path, PathBuf};

use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

use crate::error::{Error, Result};

/// Bundled imports: (name, source). See descriptors/bundled/README.md.
const BUNDLED: &[(&str, &str)] = &[
    (
        "google/api/annotations.proto",
        include_str!("../../descriptors/bundled/google/api/annotations.proto"),
    ),
    (
        "google/api/http.proto",
        include_str!("../../descriptors/bundled/google/api/http.proto"),
    ),
    (
        "google/api/field_behavior.proto",
        include_str!("../../descriptors/bundled/google/api/field_behavior.proto"),
    ),
    (
        "google/api/resource.proto",
        include_str!("../../descriptors/bundled/google/api/resource.proto"),
    ),
    (
        "google/api/client.proto",
        include_str!("../../descriptors/bundled/google/api/client.proto"),
    ),
    (
        "google/api/launch_stage.proto",
        include_str!("../../descriptors/bundled/google/api/launch_stage.proto"),
    ),
    (
        "google/rpc/status.proto",
        include_str!("../../descriptors/builtin/google/rpc/status.proto"),
    ),
    (
        "google/rpc/code.proto",
        include_str!("../../descriptors/builtin/google/rpc/code.proto"),
    ),
    (
        "google/rpc/error_details.proto",
        include_str!("../../descriptors/builtin/google/rpc/error_details.proto"),
    ),
    (
        "buf/validate/validate.proto",
        include_str!("../../descriptors/bundled/buf/validate/validate.proto"),
    ),
];

struct Bundled;

impl FileResolver for Bundled {
    fn open_file(&self, name: &str) -> std::result::Result<File, protox::Error> {
        match BUNDLED.iter().find(|(n, _)| *n == name) {
            Some((name, source)) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// Whether a `--schema` argument is `.proto` source (a file or a directory)
/// rather than a descriptor set.
pub fn is_source(arg: &str) -> bool {
    arg.ends_with(".proto") || Path::new(arg).is_dir()
}

/// Compiles the `.proto` files and directories in `args` into a descriptor
/// set with all imports and source info (comments, for `describe`),
/// encoded (by protox itself, so custom options survive).
pub fn compile(args: &[&str], import_paths: &[String]) -> Result<Vec<u8>> {
    let mut includes: Vec<PathBuf> = import_paths.iter().map(PathBuf::from).collect();
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in args {
        let path = PathBuf::from(arg);
        if path.is_dir() {
            // A directory is both an import path and the files under it.
            if !includes.contains(&path) {
                includes.push(path.clone());
            }
            let mut seen = std::collections::HashSet::new();
            collect_protos(&path, &mut files, &mut seen)
                .map_err(|e| Error::local(format!("cannot read schema directory {arg}: {e}")))?;
            if files.is_empty() {
                return Err(Error::local(format!(
                    "schema directory {arg} holds no .proto files"
                )));
            }
        } else if path.is_file() {
            files.push(path);
        } else {
            return Err(Error::local(format!(
                "cannot read schema {arg}: no such file"
            )));
        }
    }
    if import_paths.is_empty() {
        // As protoc with no -I: the current directory, then each file's own.
        let here = PathBuf::from(".");
        if !includes.contains(&here) {
            includes.push(here);
        }
        for file in &files {
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                let parent = parent.to_path_buf();
                if !includes.contains(&parent) {
                    includes.push(parent);
                }
            }
        }
    }
    let mut chain = ChainFileResolver::new();
    for include in &includes {
        chain.add(IncludeFileResolver::new(include.clone()));
    }
    chain.add(Bundled);
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true).include_source_info(true);
    let searched = includes
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    for file in &files {
        compiler
            .open_file(file)
            .map_err(|e| explain(&e, &searched, &files))?;
    }
    Ok(compiler.encode_file_descriptor_set())
}

/// The `.proto` files under `dir`, following symbolic links but reading
/// each directory once (by device and inode): links back to an ancestor
/// would otherwise make the walk endless, or exponential with two of them.
fn collect_protos(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(dir)?;
    if !seen.insert((meta.dev(), meta.ino())) {
        // The one warning of the schema layer: the user should know that
        // part of the tree was left out, and why.
        eprintln!(
            "warning: skipping {}: a directory already read (a symbolic link loop?)",
            dir.display()
        );
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect_protos(&path, out, seen)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

/// One line naming what failed; a missing import also names the paths
/// searched.
fn explain(err: &protox::Error, searched: &str, files: &[PathBuf]) -> Error {
    let text = err.to_string();
    if err.is_file_not_found() || text.contains("not found") {
        // protox names the missing import, not who imports it: find it.
        let missing = text.split('\'').nth(1).unwrap_or_default();
        let needle = format!("\"{missing}\"");
        let importers: Vec<String> = files
            .iter()
            .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(&needle)))
            .map(|f| f.display().to_string())
            .collect();
        let by = if importers.is_empty() {
            String::new()
        } else {
            format!(", imported by {}", importers.join(", "))
        };
        Error::local(format!(
            "{text}{by} (searched: {searched}, then rpcurl's bundled google/api, google/rpc and buf/validate files and the well-known types; add a directory with -I)"
        ))
    } else {
        Error::local(format!(
            "cannot compile the .proto sources: {}",
            text.replace('\n', " ")
        ))
    }
}
