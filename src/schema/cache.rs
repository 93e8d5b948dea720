//! The reflection cache (`--schema-cache`): the files a server's reflection
//! sent, kept on disk so the next run within the time to live needs no
//! reflection round trips.
//!
//! One entry per target and reflection headers, in one file named after the
//! target and a hash of the headers' names and values (the values themselves
//! appear in neither the name nor the content, since they are often tokens).
//! A file is a magic string, the SHA-256 of the payload, and the payload (a
//! protobuf message): a truncated or corrupt file fails the check and is
//! treated as absent. Files are written to a temporary file in the same
//! folder and renamed over the entry, so a reader never sees half of one;
//! when several processes write at once, the last rename wins whole.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message as _;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The first bytes of every entry: the format and its version.
const MAGIC: &[u8; 8] = b"rpcurlC1";
/// Entries end in this; temporary files and anything else in the folder
/// are not entries.
const EXTENSION: &str = "rpcache";
const DIGEST_LEN: usize = 32;
/// How long an entry is used without --schema-cache-ttl.
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// Where entries live and how long they are used.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// None when there is no home to put it in (see [`default_dir`]).
    pub dir: Option<PathBuf>,
    pub ttl: Duration,
}

/// `$XDG_CACHE_HOME/rpcurl`, else `~/.cache/rpcurl` (the XDG base directory
/// rules: a relative XDG_CACHE_HOME is ignored).
pub fn default_dir() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME")
        && Path::new(&xdg).is_absolute()
    {
        return Some(Path::new(&xdg).join("rpcurl"));
    }
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| Path::new(&home).join(".cache").join("rpcurl"))
}

/// The folder of [`default_dir`], or why there is none.
pub fn dir_or_error(dir: Option<&Path>) -> Result<&Path> {
    dir.ok_or_else(|| {
        Error::usage("no folder for the schema cache: neither XDG_CACHE_HOME nor HOME is set")
    })
}

/// What an entry holds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    /// The target as `cache list` shows it.
    #[prost(string, tag = "1")]
    pub target: String,
    /// Hex SHA-256 of the reflection headers, empty without any.
    #[prost(string, tag = "2")]
    pub headers_hash: String,
    /// When the oldest of these files was fetched, in ms since the epoch.
    #[prost(uint64, tag = "3")]
    pub fetched_ms: u64,
    /// Serialized FileDescriptorProtos as the server sent them.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub files: Vec<Vec<u8>>,
    /// The server's service list, when it was asked for.
    #[prost(string, repeated, tag = "5")]
    pub services: Vec<String>,
    #[prost(bool, tag = "6")]
    pub services_listed: bool,
}

impl Entry {
    pub fn fetched(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.fetched_ms)
    }
}

/// The entry of one target and set of reflection headers.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    path: PathBuf,
    target: String,
    headers_hash: String,
    ttl: Duration,
}

impl Cache {
    /// `key` holds everything besides the target that may change what the
    /// server's reflection answers: its headers (names and values) and the
    /// :authority sent.
    pub fn new(options: &CacheOptions, target: &str, key: &[(&str, &[u8])]) -> Result<Cache> {
        let dir = dir_or_error(options.dir.as_deref())?;
        let headers_hash = if key.is_empty() {
            String::new()
        } else {
            let mut sorted: Vec<_> = key.to_vec();
            sorted.sort();
            let mut hasher = Sha256::new();
            for (name, value) in sorted {
                // Lengths first, so no two lists hash the same text.
                hasher.update((name.len() as u64).to_be_bytes());
                hasher.update(name.as_bytes());
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value);
            }
            hex(&hasher.finalize())
        };
        let mut hasher = Sha256::new();
        hasher.update(target.as_bytes());
        hasher.update([0]);
        hasher.update(headers_hash.as_bytes());
        let id = hex(&hasher.finalize()[..8]);
        let name = format!("{}-{id}.{EXTENSION}", readable(target));
        Ok(Cache {
            path: dir.join(name),
            dir: dir.to_path_buf(),
            target: target.to_string(),
            headers_hash,
            ttl: options.ttl,
        })
    }

    /// The entry, if there is one younger than the time to live. A file
    /// that cannot be read or fails its check counts as absent.
    pub fn load(&self) -> Option<Entry> {
        let entry = read_entry(&self.path).ok()?;
        if entry.target != self.target || entry.headers_hash != self.headers_hash {
            return None;
        }
        // A time in the future (a clock set back) is not trusted.
        let age = SystemTime::now().duration_since(entry.fetched()).ok()?;
        (age < self.ttl).then_some(entry)
    }

    /// A new entry, to be filled and stored.
    pub fn entry(&self, fetched: SystemTime) -> Entry {
        Entry {
            target: self.target.clone(),
            headers_hash: self.headers_hash.clone(),
            fetched_ms: fetched
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            ..Entry::default()
        }
    }

    /// Writes the entry atomically (a temporary file in the same folder,
    /// renamed over the old one), readable by the user only.
    pub fn store(&self, entry: &Entry) -> Result<()> {
        create_dir(&self.dir)?;
        let payload = entry.encode_to_vec();
        let mut bytes = Vec::with_capacity(MAGIC.len() + DIGEST_LEN + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&Sha256::digest(&payload));
        bytes.extend_from_slice(&payload);
        write_atomically(&self.path, &bytes)
            .map_err(|e| Error::local(format!("cannot write {}: {e}", self.path.display())))
    }
}

/// One entry as `cache list` shows it.
pub struct Listed {
    pub target: String,
    /// Whether reflection headers were part of the key.
    pub headers: bool,
    pub age: Duration,
    /// Bytes on disk.
    pub size: u64,
    pub files: usize,
}

/// Every readable entry of `dir`, by target; unreadable files are left out.
pub fn list(dir: &Path) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    for path in entry_paths(dir)? {
        let Ok(entry) = read_entry(&path) else {
            continue;
        };
        let size = fs::metadata(&path).map_or(0, |m| m.len());
        out.push(Listed {
            age: SystemTime::now()
                .duration_since(entry.fetched())
                .unwrap_or_default(),
            target: entry.target,
            headers: !entry.headers_hash.is_empty(),
            size,
            files: entry.files.len(),
        });
    }
    out.sort_by(|a, b| a.target.cmp(&b.target).then(a.age.cmp(&b.age)));
    Ok(out)
}

/// Removes every entry of `dir` (and temporary files writers left behind);
/// how many entries there were.
pub fn clear(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for path in entry_paths(dir)? {
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::local(format!(
                    "cannot remove {}: {e}",
                    path.display()
                )));
            }
        }
    }
    for path in temporary_paths(dir)? {
        let _ = fs::remove_file(path);
    }
    Ok(removed)
}

fn entry_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    paths_where(dir, |name| {
        !name.starts_with('.') && name.ends_with(&format!(".{EXTENSION}"))
    })
}

fn temporary_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    paths_where(dir, |name| name.starts_with('.') && name.ends_with(".tmp"))
}

fn paths_where(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::local(format!(
                "cannot read the cache folder {}: {e}",
                dir.display()
            )));
        }
    };
    let mut out = Vec::new();
    for item in read.flatten() {
        if let Some(name) = item.file_name().to_str()
            && keep(name)
        {
            out.push(item.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Why an entry file is not used; never shown, since the cure (fetching
/// again) is the same for all.
#[derive(Debug)]
enum Unusable {
    Unreadable,
    Corrupt,
}

fn read_entry(path: &Path) -> std::result::Result<Entry, Unusable> {
    let bytes = fs::read(path).map_err(|_| Unusable::Unreadable)?;
    let rest = bytes.strip_prefix(MAGIC).ok_or(Unusable::Corrupt)?;
    if rest.len() < DIGEST_LEN {
        return Err(Unusable::Corrupt);
    }
    let (digest, payload) = rest.split_at(DIGEST_LEN);
    if Sha256::digest(payload).as_slice() != digest {
        return Err(Unusable::Corrupt);
    }
    Entry::decode(payload).map_err(|_| Unusable::Corrupt)
}

/// The folder, made private to the user when this creates it.
fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            Error::local(format!(
                "cannot create the cache folder {}: {e}",
                dir.display()
            ))
        })?;
    // The mode above is narrowed by the umask, and parents made on the way
    // are the user's own business; the folder itself is 0700.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::local(format!("cannot protect {}: {e}", dir.display())))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(
        ".{name}.{}.{nanos}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// A file-name-safe form of the target, for people looking at the folder.
fn readable(target: &str) -> String {
    let text: String = target
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    text.trim_start_matches('.').to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &Path) -> CacheOptions {
        CacheOptions {
            dir: Some(dir.to_path_buf()),
            ttl: Duration::from_secs(600),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rpcurl-cache-unit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn header_values_stay_out_of_names_and_contents() {
        let dir = scratch("secret");
        let cache = Cache::new(
            &options(&dir),
            "http://127.0.0.1:1234",
            &[("authorization", b"Bearer s3cr3t-token")],
        )
        .unwrap();
        let mut entry = cache.entry(SystemTime::now());
        entry.files.push(b"file".to_vec());
        cache.store(&entry).unwrap();
        let path = entry_paths(&dir).unwrap().remove(0);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("127.0.0.1_1234-"), "{name}");
        assert!(!name.contains("s3cr3t"));
        let bytes = fs::read(&path).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"s3cr3t"));
        assert_eq!(cache.load().unwrap().files, vec![b"file".to_vec()]);
        // Another token is another entry.
        let other = Cache::new(
            &options(&dir),
            "http://127.0.0.1:1234",
            &[("authorization", b"Bearer other")],
        )
        .unwrap();
        assert!(other.load().is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_cut_of_a_file_is_refused() {
        let dir = scratch("cut");
        let cache = Cache::new(&options(&dir), "unix:/tmp/s", &[]).unwrap();
        let mut entry = cache.entry(SystemTime::now());
        entry.files.push(vec![7; 100]);
        entry.services = vec!["a.B".into()];
        entry.services_listed = true;
        cache.store(&entry).unwrap();
        let path = entry_paths(&dir).unwrap().remove(0);
        let whole = fs::read(&path).unwrap();
        for len in 0..whole.len() {
            fs::write(&path, &whole[..len]).unwrap();
            assert!(cache.load().is_none(), "cut at {len} was read");
        }
        fs::write(&path, &whole).unwrap();
        assert_eq!(cache.load(), Some(entry));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn old_entries_are_not_used() {
        let dir = scratch("ttl");
        let cache = Cache::new(&options(&dir), "http://h", &[]).unwrap();
        let old = SystemTime::now() - Duration::from_secs(601);
        cache.store(&cache.entry(old)).unwrap();
        assert!(cache.load().is_none());
        assert_eq!(list(&dir).unwrap().len(), 1);
        assert_eq!(clear(&dir).unwrap(), 1);
        assert!(list(&dir).unwrap().is_empty());
        let _ = fs::remove_dir_all(&dir);
    }
}
