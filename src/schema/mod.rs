//! Where schemas come from, and finding methods and types in them.
//!
//! A run has up to two sources: server reflection and the `--schema` files
//! (merged into one pool). Lookups consult reflection first, then the files.
//! Each source keeps its own pool, because a message can only refer to types
//! of the pool it came from; when a type is missing from one pool but known
//! to the other, its file is copied across.

pub mod cache;
pub mod editions;
pub mod facts;
pub mod files;
pub mod lookup;
pub mod pool;
mod prune;
pub mod reflection;
pub mod sources;

use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};

use crate::error::{Error, Result};
use crate::target::MethodName;
use files::Files;
pub use lookup::{Found, Symbol, suggest};
use reflection::Reflection;

/// Which pool a descriptor came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Reflection,
    Files,
}

/// What the caller of [`Schema::method`] will do with the method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Anything, requests that name types in "@type" among it: a method
    /// from the files whose request can hold an `Any` comes with every file
    /// (the JSON reader looks that type up in the method's own pool).
    Any,
    /// Calls whose requests name no types: the method's file and imports.
    Calls,
    /// One call whose requests name no types and that reads nothing of the
    /// schema but the method and its types: those alone where the files can
    /// be cut down to them (`prune.rs`), in a pool of the call's own, else
    /// as [`Use::Calls`].
    OneCall,
}

/// A method and the source that knows its types.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub method: MethodDescriptor,
    pub source: Source,
}

pub struct Schema {
    reflection: Option<Reflection>,
    /// Built lazily: see [`Files`].
    files: Option<Files>,
    file_names: Vec<String>,
}

impl Schema {
    pub fn new(
        reflection: Option<Reflection>,
        files: Option<Files>,
        file_names: Vec<String>,
    ) -> Schema {
        Schema {
            reflection,
            files,
            file_names,
        }
    }

    pub fn pool(&self, source: Source) -> Option<&DescriptorPool> {
        match source {
            Source::Reflection => self.reflection.as_ref().map(|r| r.pool()),
            Source::Files => self.files.as_ref().map(Files::pool),
        }
    }

    fn describe_sources(&self) -> String {
        match (&self.reflection, self.file_names.is_empty()) {
            (Some(_), true) => "server reflection".to_string(),
            (Some(_), false) => format!("server reflection or {}", self.file_names.join(", ")),
            (None, _) => self.file_names.join(", "),
        }
    }

    /// Finds a method, reflection first, then the files, with as much of
    /// the schema as `used` needs.
    pub async fn method(&mut self, name: &MethodName, used: Use) -> Result<Resolved> {
        if used == Use::OneCall {
            // The one call looks up the types of `Any` payloads it meets.
            if let Some(reflection) = self.reflection.as_mut() {
                reflection.rpc_types_on_demand();
            }
            if let Some(files) = self.files.as_mut() {
                files.rpc_types_on_demand();
            }
            if let Some(found) = self.method_cut(name).await? {
                return Ok(found);
            }
        }
        // A cached schema without the method may be an old one.
        if let Some(reflection) = self.reflection.as_mut()
            && reflection.is_cached()
            && find_method(reflection.pool(), name)?.is_none()
        {
            reflection.refresh();
        }
        if let Some(reflection) = self.reflection.as_mut()
            && reflection.ensure_symbol(&name.service).await?
            && let Some(found) = find_method(reflection.pool(), name)?
        {
            return Ok(Resolved {
                method: found,
                source: Source::Reflection,
            });
        }
        if let Some(files) = self.files.as_mut()
            && files.ensure_symbol(&name.service)?
            && let Some(found) = find_method(files.pool(), name)?
        {
            // A request that can hold an `Any` may name any type of the
            // set in "@type", and the JSON reader looks it up in the
            // method's pool: that needs every file.
            if used == Use::Any && json_any_possible(&found.input()) {
                let pool = files.all()?;
                if let Some(found) = find_method(pool, name)? {
                    return Ok(Resolved {
                        method: found,
                        source: Source::Files,
                    });
                }
            }
            return Ok(Resolved {
                method: found,
                source: Source::Files,
            });
        }
        Err(self.not_found(name).await)
    }

    /// The method in a pool of its own types alone (see [`Use::OneCall`]);
    /// None when its files cannot be cut down. With both sources, only
    /// reflection's files are cut.
    async fn method_cut(&mut self, name: &MethodName) -> Result<Option<Resolved>> {
        let (pool, source) = match (self.reflection.as_mut(), self.files.as_ref()) {
            (Some(reflection), _) => (
                reflection.cut_for(&name.service, &name.method).await?,
                Source::Reflection,
            ),
            (None, Some(files)) => (files.cut_for(&name.service, &name.method)?, Source::Files),
            _ => (None, Source::Files),
        };
        Ok(match pool {
            Some(pool) => find_method(&pool, name)?.map(|method| Resolved { method, source }),
            None => None,
        })
    }

    /// Explains a method that no source has, with the closest names.
    async fn not_found(&mut self, name: &MethodName) -> Error {
        let sources = self.describe_sources();
        // Suggestions draw on every file; one that does not build is
        // left out of them.
        if let Some(files) = self.files.as_mut() {
            let _ = files.all();
        }
        // A message or enum named where a service or method was expected.
        for pool in self.pools() {
            let full = name.full_name();
            for candidate in [&name.service, &full] {
                if pool.get_message_by_name(candidate).is_some() {
                    return Error::local(format!(
                        "'{candidate}' is a message type, not a service or method; give package.Service/Method"
                    ));
                }
            }
        }
        let services = self.services().await.unwrap_or_default();
        if services.iter().any(|s| s == &name.service) {
            let mut methods: Vec<String> = self
                .pools()
                .iter()
                .filter_map(|p| p.get_service_by_name(&name.service))
                .flat_map(|s| {
                    s.methods()
                        .map(|m| m.name().to_string())
                        .collect::<Vec<_>>()
                })
                .collect();
            if methods.is_empty()
                && let Some(listed) = self
                    .files
                    .as_ref()
                    .and_then(|f| f.methods_of(&name.service))
            {
                methods = listed.to_vec();
            }
            return Error::local(format!(
                "service {} has no method '{}'{}; its methods: {}",
                name.service,
                name.method,
                suggest(&name.method, &methods),
                methods.join(", ")
            ));
        }
        Error::local(format!(
            "service '{}' not found in {sources}{}; list services with --list-services",
            name.service,
            suggest(&name.service, &services)
        ))
    }

    fn pools(&self) -> Vec<&DescriptorPool> {
        let mut pools = Vec::new();
        if let Some(r) = &self.reflection {
            pools.push(r.pool());
        }
        if let Some(f) = &self.files {
            pools.push(f.pool());
        }
        pools
    }

    /// Every service of every source, sorted and without repeats.
    pub async fn services(&mut self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        if let Some(reflection) = self.reflection.as_mut() {
            names.extend(reflection.list_services().await?);
        }
        if let Some(files) = &self.files {
            names.extend(files.services().map(str::to_string));
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Every method as package.Service/Method, sorted.
    pub async fn methods(&mut self) -> Result<Vec<String>> {
        let services = self.services().await?;
        let mut out = Vec::new();
        for service in services {
            if let Some(reflection) = self.reflection.as_mut()
                && reflection.ensure_symbol(&service).await?
                && let Some(s) = reflection.pool().get_service_by_name(&service)
            {
                out.extend(s.methods().map(|m| format!("{service}/{}", m.name())));
                continue;
            }
            if let Some(methods) = self.files.as_ref().and_then(|f| f.methods_of(&service)) {
                out.extend(methods.iter().map(|m| format!("{service}/{m}")));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Makes message types available in the pool of `source`, for `Any`
    /// values and error details met while printing. Returns the grown pool
    /// when anything was added. Failures only mean the type stays unknown,
    /// so they are not errors.
    pub async fn ensure_types(
        &mut self,
        source: Source,
        names: &[String],
    ) -> Option<DescriptorPool> {
        let mut grew = false;
        for name in names {
            if self
                .pool(source)
                .is_some_and(|p| p.get_message_by_name(name).is_some())
            {
                continue;
            }
            // rpcurl's own first: the well-known types and google.rpc,
            // which reflection never takes from the server.
            let base = pool::base();
            let builtin = base.get_message_by_name(name).is_some();
            if !builtin {
                if let Some(reflection) = self.reflection.as_mut() {
                    let _ = reflection.ensure_symbol(name).await;
                }
                if let Some(files) = self.files.as_mut() {
                    let _ = files.ensure_symbol(name);
                }
            }
            let reflected = self.reflection.as_ref().map(|r| r.pool().clone());
            let candidates = [
                builtin.then_some(&base),
                reflected.as_ref(),
                self.files.as_ref().map(Files::pool),
            ];
            let Some(from) = candidates
                .into_iter()
                .flatten()
                .find(|p| p.get_message_by_name(name).is_some())
                .cloned()
            else {
                continue;
            };
            let target = match source {
                Source::Reflection => self.reflection.as_mut().map(|r| r.pool_mut()),
                Source::Files => self.files.as_mut().map(Files::pool_mut),
            };
            if let Some(target) = target {
                if target.get_message_by_name(name).is_none() {
                    if let Some(message) = from.get_message_by_name(name)
                        && copy_file(&from, target, message.parent_file().name()).is_ok()
                    {
                        grew = true;
                    }
                } else {
                    grew = true;
                }
            }
        }
        if grew {
            self.pool(source).cloned()
        } else {
            None
        }
    }

    /// What `name` names, and the pool that knows it: reflection first,
    /// then the files, then the well-known types and google.rpc (which files
    /// need not carry). Names of members are looked up through their
    /// parents, since some servers' reflection (grpcio's) only resolves
    /// top-level symbols. See [`lookup`] for the names accepted.
    pub async fn lookup(&mut self, name: &str) -> Result<Found> {
        match self.find(name).await? {
            Some(found) => Ok(found),
            None => {
                if let Some(files) = self.files.as_mut() {
                    let _ = files.all();
                }
                Err(lookup::not_found(name, &self.known_symbols()))
            }
        }
    }

    /// A message by name, or the request message of a method (`pkg.Svc.M`
    /// or `pkg.Svc/M`), as `template` and `jsonschema` take them.
    pub async fn message_or_method(&mut self, name: &str) -> Result<MessageDescriptor> {
        let found = self.lookup(name).await?;
        let message = lookup::message_of(&found.symbol, name)?;
        // As for a method's request (see `method`): an `Any` may hold any
        // type of the files.
        if let Some(files) = self.files.as_mut()
            && &found.pool == files.pool()
            && json_any_possible(&message)
            && let Some(whole) = files.all()?.get_message_by_name(message.full_name())
        {
            return Ok(whole);
        }
        Ok(message)
    }

    async fn find(&mut self, name: &str) -> Result<Option<Found>> {
        let found = |pool: &DescriptorPool| {
            lookup::find(pool, name).map(|symbol| Found {
                pool: pool.clone(),
                symbol,
            })
        };
        if let Some(reflection) = self.reflection.as_mut() {
            // As for methods: a cached schema without the name may be old.
            if reflection.is_cached() && found(reflection.pool()).is_none() {
                reflection.refresh();
            }
            if name.trim().ends_with(".proto")
                && reflection.ensure_file(name.trim()).await?
                && let Some(hit) = found(reflection.pool())
            {
                return Ok(Some(hit));
            }
            let symbol = lookup::normalize(name);
            let mut scope = symbol.as_str();
            while !scope.is_empty() {
                if reflection.ensure_symbol(scope).await?
                    && let Some(hit) = found(reflection.pool())
                {
                    return Ok(Some(hit));
                }
                scope = scope.rsplit_once('.').map_or("", |(parent, _)| parent);
            }
        }
        if let Some(files) = self.files.as_mut() {
            let trimmed = name.trim();
            if trimmed.ends_with(".proto") {
                files.ensure_file(trimmed)?;
            } else {
                files.ensure_symbol(trimmed)?;
            }
            if let Some(hit) = found(files.pool()) {
                return Ok(Some(hit));
            }
            // Names no top-level symbol encloses (an enum value scoped by
            // its package): every file.
            if let Some(hit) = found(files.all()?) {
                return Ok(Some(hit));
            }
        }
        Ok(found(&pool::base()))
    }

    /// Every symbol's full name in every source, for suggestions.
    pub fn known_symbols(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .pools()
            .into_iter()
            .flat_map(lookup::candidates)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The whole schema as one pool: with reflection, every service the
    /// server lists is fetched first (and the files' types added when they
    /// do not clash); otherwise the files' pool.
    pub async fn full_pool(&mut self) -> Result<DescriptorPool> {
        self.full_pool_watched(&mut |_, _| {}).await
    }

    /// [`Self::full_pool`], telling `read` how many of the server's
    /// services have been read by reflection, of how many, as it goes.
    pub async fn full_pool_watched(
        &mut self,
        read: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<DescriptorPool> {
        if let Some(reflection) = self.reflection.as_mut() {
            let services = reflection.list_services().await?;
            for (done, service) in services.iter().enumerate() {
                read(done, services.len());
                let _ = reflection.ensure_symbol(service).await?;
            }
            let mut pool = reflection.pool().clone();
            if let Some(files) = self.files.as_mut() {
                let files = files.all()?;
                for file in files.files() {
                    if pool.get_file_by_name(file.name()).is_none() {
                        let _ = copy_file(files, &mut pool, file.name());
                    }
                }
            }
            return Ok(pool);
        }
        match self.files.as_mut() {
            Some(files) => Ok(files.all()?.clone()),
            None => Err(Error::usage(
                "no schema: give a server (reflection) or --schema",
            )),
        }
    }

    /// A message type by full name, from any source.
    pub fn message(&self, name: &str) -> Option<MessageDescriptor> {
        self.pools()
            .into_iter()
            .find_map(|p| p.get_message_by_name(name))
            .or_else(|| pool::base().get_message_by_name(name))
    }
}

/// Whether JSON for messages of this type can hold an `Any` (whose
/// "@type" may name any type of the schema).
fn json_any_possible(desc: &MessageDescriptor) -> bool {
    facts::reaches(desc, "google.protobuf.Any")
}

fn find_method(pool: &DescriptorPool, name: &MethodName) -> Result<Option<MethodDescriptor>> {
    Ok(pool
        .get_service_by_name(&name.service)
        .and_then(|s| s.methods().find(|m| m.name() == name.method)))
}

/// Copies a file and whatever it imports from one pool to another.
fn copy_file(from: &DescriptorPool, to: &mut DescriptorPool, name: &str) -> Result<()> {
    let mut files = Vec::new();
    let mut stack = vec![name.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(file_name) = stack.pop() {
        if !seen.insert(file_name.clone()) || to.get_file_by_name(&file_name).is_some() {
            continue;
        }
        let Some(file) = from.get_file_by_name(&file_name) else {
            continue;
        };
        stack.extend(file.dependencies().map(|d| d.name().to_string()));
        // The pool's own encoding keeps custom options.
        let raw = pool::RawFile::decode(file.encode_to_vec())
            .map_err(|e| Error::local(format!("file '{file_name}' does not decode: {e}")))?;
        files.push(raw);
    }
    pool::add_raw_files(
        to,
        files,
        "schema",
        &|dep, importer| format!("'{importer}' imports '{dep}', which no schema provides"),
        true,
    )
}
