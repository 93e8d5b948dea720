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
        include_str!("../../descriptors/builtin/google/api/annotations.proto"),
    ),
    (
        "google/api/http.proto",
        include_str!("../../descriptors/builtin/google/api/http.proto"),
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

/// Stops at an Editions source under the include paths (protox cannot
/// parse them) with the one error that says what to do; any other file is
/// left to the resolvers after it.
struct EditionsGuard {
    includes: Vec<PathBuf>,
}

impl FileResolver for EditionsGuard {
    fn open_file(&self, name: &str) -> std::result::Result<File, protox::Error> {
        // The first include that has the file is the one protox would read.
        if let Some(path) = self
            .includes
            .iter()
            .map(|i| i.join(name))
            .find(|p| p.is_file())
            && let Ok(text) = std::fs::read_to_string(&path)
            && let Some((line, edition)) = super::editions::source_edition(&text)
        {
            let shown = path.strip_prefix(".").unwrap_or(&path);
            return Err(protox::Error::new(super::editions::source_error(
                &shown.display().to_string(),
                line,
                &edition,
            )));
        }
        Err(protox::Error::file_not_found(name))
    }
}

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
/// encoded (by protox itself, so custom options survive). A file found in
/// a directory that does not compile (Protobuf Editions, a syntax error, a
/// missing import) is skipped with a warning on stderr, so the rest of the
/// directory can still be used; a file named on its own must compile.
pub fn compile(args: &[&str], import_paths: &[String]) -> Result<Vec<u8>> {
    let mut includes: Vec<PathBuf> = import_paths.iter().map(PathBuf::from).collect();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut from_directory = std::collections::HashSet::new();
    for arg in args {
        let path = PathBuf::from(arg);
        if path.is_dir() {
            // A directory is both an import path and the files under it.
            if !includes.contains(&path) {
                includes.push(path.clone());
            }
            let before = files.len();
            let mut seen = std::collections::HashSet::new();
            collect_protos(&path, &mut files, &mut seen)
                .map_err(|e| Error::local(format!("cannot read schema directory {arg}: {e}")))?;
            from_directory.extend(files[before..].iter().cloned());
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
    chain.add(EditionsGuard {
        includes: includes.clone(),
    });
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
    let mut compiled = 0;
    for file in &files {
        match compiler.open_file(file) {
            Ok(_) => compiled += 1,
            Err(e) if from_directory.contains(file) => {
                // The schema layer prints nothing else; this is the one
                // warning the user needs to know why a type is missing.
                let reason = explain(&e, &searched, &files).to_string();
                eprintln!(
                    "warning: skipped schema file {}: {}",
                    file.display(),
                    reason.strip_prefix(COMPILE_FAILED).unwrap_or(&reason)
                );
            }
            Err(e) => return Err(explain(&e, &searched, &files)),
        }
    }
    if compiled == 0 {
        // Every file was skipped: nothing to add (the lookup that needs a
        // type says it is missing).
        return Ok(Vec::new());
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

const COMPILE_FAILED: &str = "cannot compile the .proto sources: ";

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
        Error::local(format!("{COMPILE_FAILED}{}", text.replace('\n', " ")))
    }
}
