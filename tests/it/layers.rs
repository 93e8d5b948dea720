//! The layer rule of docs/design.md, checked on the source: a module imports
//! only from lower layers, or from its own layer without a cycle.
//!
//! Every `crate::a::b` path in `src/` (in `use` lines and inline) and every
//! `super::x` path is an edge from the file's module to the module it names.
//! A new top-level module must be given a layer in `LAYERS` first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first (docs/design.md, "The rule").
const LAYERS: &[(&str, &[&str])] = &[
    (
        "L0 foundation",
        &[
            "error", "status", "target", "headers", "auth", "trace", "units", "color", "progress",
        ],
    ),
    ("L1 transport", &["transport", "listen"]),
    ("L2 protocol", &["protocol"]),
    ("L3 schema", &["schema"]),
    ("L4 messages", &["json", "transcode", "formats"]),
    (
        "L5 features",
        &[
            "session",
            "input",
            "output",
            "call",
            "envelope",
            "describe",
            "template",
            "jsonschema",
            "rest",
            "serve",
            "bench",
            "ui",
            "mcp",
        ],
    ),
    ("L6 cli and commands", &["cli", "commands"]),
];

fn layer_of(top: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&top))
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; lib.rs and main.rs
/// are the crate root.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments, string literals and `#[cfg(test)]`
/// modules (tests may reach anything).
fn code_only(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<usize> = None;
    let mut depth = 0usize;
    let mut pending_cfg_test = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if skip_depth.is_none() && trimmed.starts_with("#[cfg(test)]") {
            pending_cfg_test = true;
            continue;
        }
        let code = strip_strings(line);
        let opens = code.matches('{').count();
        let closes = code.matches('}').count();
        if pending_cfg_test
            && (trimmed.starts_with("mod ") || trimmed.starts_with("pub(crate) mod "))
        {
            skip_depth = Some(depth);
        }
        pending_cfg_test = false;
        depth = (depth + opens).saturating_sub(closes);
        if let Some(d) = skip_depth {
            if depth <= d && closes > 0 {
                skip_depth = None;
            }
            continue;
        }
        out.push_str(&code);
        out.push('\n');
    }
    out
}

fn strip_strings(line: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let code = match line.find("//") {
        Some(i) if !line[..i].contains('"') => &line[..i],
        _ => line,
    };
    for c in code.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            continue;
        }
        out.push(c);
    }
    out
}

/// Module paths a file names: `crate::a::b::Item` → [a, b, Item] (trimmed
/// later to a module that exists); `super::x` → the parent's path + x.
/// `use crate::a::{b, c}` counts as naming `a` (enough for the rule, which
/// is about top-level modules and sibling files).
fn named_paths(code: &str, own: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent_of(own))] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(ident) {
                continue;
            }
            let mut path = base.clone();
            let mut tail = rest;
            loop {
                let end = tail.find(|c: char| !ident(c)).unwrap_or(tail.len());
                if end == 0 {
                    break;
                }
                path.push(tail[..end].to_string());
                tail = &tail[end..];
                match tail.strip_prefix("::") {
                    Some(t) => tail = t,
                    None => break,
                }
            }
            if !path.is_empty() {
                out.push(path);
            }
        }
    }
    out
}

fn parent_of(module: &[String]) -> Vec<String> {
    module[..module.len().saturating_sub(1)].to_vec()
}

#[test]
fn imports_only_go_down_and_siblings_do_not_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(&src, f)).collect();

    let mut problems = Vec::new();
    // Edges between sibling modules (same parent), for the cycle check.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let own = module_path(&src, file);
        let Some(top) = own.first() else {
            continue; // lib.rs and main.rs sit above every layer
        };
        let Some(own_layer) = layer_of(top) else {
            problems.push(format!(
                "src/{}: module `{top}` has no layer: add it to LAYERS here and to docs/design.md",
                file.strip_prefix(&src).unwrap().display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for path in named_paths(&code_only(&text), &own) {
            // The longest prefix that is a module (an item path ends in
            // a type or function name).
            let mut target = path.clone();
            while !target.is_empty() && !modules.contains(&target) {
                target.pop();
            }
            let Some(target_top) = target.first() else {
                continue; // an item of the crate root (lib.rs)
            };
            let Some(target_layer) = layer_of(target_top) else {
                continue; // reported for its own file
            };
            if target_layer > own_layer {
                problems.push(format!(
                    "{} ({}) imports {} ({}): a lower layer must not reach up",
                    own.join("::"),
                    LAYERS[own_layer].0,
                    target.join("::"),
                    LAYERS[target_layer].0
                ));
            }
            // Sibling edge: the first place the two paths part.
            let common = own.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < own.len() && common < target.len() {
                let from = own[..=common].to_vec();
                let to = target[..=common].to_vec();
                edges.entry(from).or_default().insert(to);
            }
        }
    }
    // Cycles among siblings.
    for (from, tos) in &edges {
        for to in tos {
            if reaches(&edges, to, from, &mut BTreeSet::new()) {
                problems.push(format!(
                    "cycle: {} and {} import each other (directly or through siblings)",
                    from.join("::"),
                    to.join("::")
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "the layer rule is broken:\n  {}",
        problems.join("\n  ")
    );
}

fn reaches(
    edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    from: &Vec<String>,
    goal: &Vec<String>,
    seen: &mut BTreeSet<Vec<String>>,
) -> bool {
    if from == goal {
        return true;
    }
    if !seen.insert(from.clone()) {
        return false;
    }
    edges
        .get(from)
        .is_some_and(|tos| tos.iter().any(|t| reaches(edges, t, goal, seen)))
}

#[test]
fn the_checker_sees_upward_imports_and_cycles() {
    // The rule would be useless if the parser missed imports: check it on
    // a few lines.
    let own = vec!["schema".to_string(), "files".to_string()];
    let code = code_only(
        "use crate::cli::Format;\nuse super::sources;\n// use crate::commands;\nlet s = \"crate::serve\";\n#[cfg(test)]\nmod tests {\n    use crate::describe;\n}\n",
    );
    let named = named_paths(&code, &own);
    assert_eq!(
        named,
        vec![
            vec!["cli".to_string(), "Format".to_string()],
            vec!["schema".to_string(), "sources".to_string()],
        ]
    );
}
