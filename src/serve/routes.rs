//! The methods `serve` answers, by path, and the "did you mean" of a path it
//! does not know. Anyone may send any path, so a suggestion costs a bounded
//! amount of work however long the path and however large the schema: the
//! names are lowercased once, at start-up; a name of an absurd length or
//! shape gets no suggestion; a method is compared only with the methods of
//! its own service that start with the same letter and have about its
//! length, and with at most [`MAX_COMPARED`] of them.

use std::collections::HashMap;

use prost_reflect::{DescriptorPool, MethodDescriptor};

use super::builtin::Builtin;

/// Longer paths get no suggestion (no real name is this long).
const MAX_NAME: usize = 256;
/// Comparisons of one request at most (services, then methods).
pub(crate) const MAX_COMPARED: usize = 64;
/// Typos rarely change a name's length by more than this.
const MAX_LENGTH_DIFFERENCE: usize = 3;
/// How alike (Jaro-Winkler) two names must be to be suggested.
const THRESHOLD: f64 = 0.8;

pub struct Routes {
    by_path: HashMap<String, (MethodDescriptor, Option<Builtin>)>,
    /// Lowercase `pkg.Service/Method` → the path's real spelling.
    by_lowercase: HashMap<String, String>,
    services: Vec<ServiceNames>,
}

struct ServiceNames {
    name: String,
    lower: String,
    /// Lowercase method names by their first byte: (lowercase, name).
    methods: HashMap<u8, Vec<(String, String)>>,
}

impl Routes {
    pub fn new(pool: &DescriptorPool) -> Routes {
        let mut by_path = HashMap::new();
        let mut by_lowercase = HashMap::new();
        let mut services = Vec::new();
        for service in pool.services() {
            let mut methods: HashMap<u8, Vec<(String, String)>> = HashMap::new();
            for method in service.methods() {
                let name = format!("{}/{}", service.full_name(), method.name());
                by_lowercase.insert(name.to_ascii_lowercase(), name.clone());
                let lower = method.name().to_ascii_lowercase();
                if let Some(first) = lower.bytes().next() {
                    methods
                        .entry(first)
                        .or_default()
                        .push((lower, method.name().to_string()));
                }
                let builtin = Builtin::of(service.full_name(), method.name());
                by_path.insert(format!("/{name}"), (method, builtin));
            }
            services.push(ServiceNames {
                name: service.full_name().to_string(),
                lower: service.full_name().to_ascii_lowercase(),
                methods,
            });
        }
        Routes {
            by_path,
            by_lowercase,
            services,
        }
    }

    pub fn get(&self, path: &str) -> Option<&(MethodDescriptor, Option<Builtin>)> {
        self.by_path.get(path)
    }

    /// " (did you mean 'pkg.Service/Method'?)" for a path that names no
    /// method, or nothing.
    pub fn suggest(&self, path: &str) -> String {
        let mut compared = 0;
        match self.closest(path, &mut compared) {
            Some(best) => format!(" (did you mean '{best}'?)"),
            None => String::new(),
        }
    }

    fn closest(&self, path: &str, compared: &mut usize) -> Option<String> {
        if path.len() > MAX_NAME {
            return None;
        }
        let wanted = path.strip_prefix('/')?;
        let (service, method) = wanted.split_once('/')?;
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        if !plain(service) || !plain(method) {
            return None;
        }
        let lower = wanted.to_ascii_lowercase();
        if let Some(name) = self.by_lowercase.get(&lower) {
            return (name != wanted).then(|| name.clone());
        }
        let (service_lower, method_lower) = lower.split_once('/')?;
        let known = match self.services.iter().find(|s| s.lower == service_lower) {
            Some(known) => known,
            None => {
                let mut best: Option<(f64, &ServiceNames)> = None;
                for candidate in &self.services {
                    if *compared >= MAX_COMPARED {
                        break;
                    }
                    *compared += 1;
                    let score = strsim::jaro_winkler(service_lower, &candidate.lower);
                    if score > THRESHOLD && best.is_none_or(|(b, _)| score > b) {
                        best = Some((score, candidate));
                    }
                }
                let (_, known) = best?;
                if let Some(name) = self
                    .by_lowercase
                    .get(&format!("{}/{method_lower}", known.lower))
                {
                    return Some(name.clone());
                }
                known
            }
        };
        let first = method_lower.bytes().next()?;
        let mut best: Option<(f64, &str)> = None;
        for (candidate, name) in known.methods.get(&first).into_iter().flatten() {
            if candidate.len().abs_diff(method_lower.len()) > MAX_LENGTH_DIFFERENCE {
                continue;
            }
            if *compared >= MAX_COMPARED {
                break;
            }
            *compared += 1;
            let score = strsim::jaro_winkler(method_lower, candidate);
            if score > THRESHOLD && best.is_none_or(|(b, _)| score > b) {
                best = Some((score, name.as_str()));
            }
        }
        let (_, name) = best?;
        Some(format!("{}/{name}", known.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big() -> DescriptorPool {
        let mut source =
            String::from("syntax = \"proto3\";\npackage big;\nmessage E {}\nservice Big {\n");
        for i in 0..2000 {
            source.push_str(&format!("  rpc Method{i:04}(E) returns (E);\n"));
        }
        source.push_str("}\nservice Small { rpc Echo(E) returns (E); }\n");
        let dir = std::env::temp_dir().join(format!("rpcurl-routes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("big.proto"), source).unwrap();
        let files = protox::compile(["big.proto"], [&dir]).unwrap();
        DescriptorPool::from_file_descriptor_set(files).unwrap()
    }

    fn closest(routes: &Routes, path: &str) -> (Option<String>, usize) {
        let mut compared = 0;
        (routes.closest(path, &mut compared), compared)
    }

    #[test]
    fn suggestions_are_bounded_work() {
        let routes = Routes::new(&big());
        // A typo, a case slip, a typo in the service.
        let (best, compared) = closest(&routes, "/big.Big/Method0001x");
        assert_eq!(best.as_deref(), Some("big.Big/Method0001"));
        assert!(compared <= MAX_COMPARED, "{compared} comparisons");
        assert_eq!(
            closest(&routes, "/big.big/method1999").0.as_deref(),
            Some("big.Big/Method1999")
        );
        assert_eq!(
            closest(&routes, "/big.Smal/Echo").0.as_deref(),
            Some("big.Small/Echo")
        );
        assert_eq!(
            closest(&routes, "/big.Smal/Ecko").0.as_deref(),
            Some("big.Small/Echo")
        );
        // Long or odd names cost nothing.
        let long = format!("/big.Big/{}", "A".repeat(14_000));
        assert_eq!(closest(&routes, &long), (None, 0));
        assert_eq!(closest(&routes, "/big.Big/Method 0001"), (None, 0));
        // `//svc/Echo` is not `svc/Echo`: no suggestion of the same name.
        assert_eq!(closest(&routes, "//big.Small/Echo"), (None, 0));
        assert_eq!(routes.suggest("/big.Small/Echo"), "");
        for path in ["/big.Big/Zzz", "/x/y", "/big.Big/", "/big.Big", "/"] {
            let (_, compared) = closest(&routes, path);
            assert!(compared <= MAX_COMPARED, "{path}: {compared}");
        }
    }
}
