//! `--schema-cache`: the schema fetched by reflection kept on disk and used
//! by later processes, against the in-process tonic server (which counts
//! the reflection streams it is asked to open) and `rpcurl serve`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crate::support::serve::Serve;
use crate::support::*;

/// A fresh XDG_CACHE_HOME, removed when dropped.
struct CacheHome(PathBuf);

impl CacheHome {
    fn new(name: &str) -> CacheHome {
        let dir =
            std::env::temp_dir().join(format!("rpcurl-schema-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cache home");
        CacheHome(dir)
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("XDG_CACHE_HOME", self.0.to_str().expect("utf-8 path"))]
    }

    fn run(&self, args: &[&str]) -> Run {
        rpcurl_env(args, &self.env())
    }

    /// The entry files under rpcurl's folder.
    fn entries(&self) -> Vec<PathBuf> {
        let dir = self.0.join("rpcurl");
        let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        out.retain(|p| p.extension().is_some_and(|e| e == "rpcache"));
        out.sort();
        out
    }
}

impl Drop for CacheHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn streams(server: &TestServer) -> usize {
    server.reflection_streams.load(Ordering::SeqCst)
}

fn echo(home: &CacheHome, server_url: &str, extra: &[&str]) -> Run {
    let url = format!("{server_url}/rpcurl.test.v1.TestService/Echo");
    let mut args = vec!["--schema-cache", "-d", r#"{"fString":"hi"}"#];
    args.extend_from_slice(extra);
    args.push(&url);
    home.run(&args)
}

#[track_caller]
fn assert_echoed(run: &Run) {
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, r#""fString": "hi""#);
}

#[test]
fn a_second_process_calls_without_reflection() {
    let home = CacheHome::new("across");
    let server = TestServer::start(ReflectionMode::Both);
    let url = server.url();
    assert_echoed(&echo(&home, &url, &[]));
    let after_first = streams(&server);
    assert!(after_first > 0, "the first call used reflection");
    assert_echoed(&echo(&home, &url, &[]));
    assert_eq!(streams(&server), after_first, "the second call reflected");

    // The same address, now a server without reflection: the cache still
    // knows the method; without the cache the call cannot be made.
    let port = server.addr.port();
    drop(server);
    let bare = TestServer::start_on(port, ServerOptions::new(ReflectionMode::None));
    assert_echoed(&echo(&home, &url, &[]));
    let uncached = rpcurl(&["-d", "{}", &method(&bare, "Echo")]);
    assert_eq!(uncached.code, 64 + 12, "{}", uncached.stderr);
    contains(&uncached.stderr, "no reflection service");
    // An expired entry is not used: reflection is asked and is not there.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let expired = echo(&home, &url, &["--schema-cache-ttl", "10ms"]);
    assert_eq!(expired.code, 64 + 12, "{}", expired.stderr);
}

#[test]
fn an_expired_entry_is_fetched_again() {
    let home = CacheHome::new("ttl");
    let server = TestServer::start(ReflectionMode::Both);
    let url = server.url();
    assert_echoed(&echo(&home, &url, &["--schema-cache-ttl", "1m30s"]));
    let first = streams(&server);
    assert_echoed(&echo(&home, &url, &["--schema-cache-ttl", "1m30s"]));
    assert_eq!(streams(&server), first);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_echoed(&echo(&home, &url, &["--schema-cache-ttl", "40ms"]));
    assert_eq!(streams(&server), first + 1, "an old entry was used");
    // The fetch wrote a fresh entry, used by the next call.
    assert_echoed(&echo(&home, &url, &["--schema-cache-ttl", "10s"]));
    assert_eq!(streams(&server), first + 1);
    // The flag takes the duration syntax, and needs --schema-cache.
    let bad = home.run(&["--schema-cache", "--schema-cache-ttl", "soon", &url]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    contains(&bad.stderr, "not a duration");
    let alone = home.run(&["--schema-cache-ttl", "1s", &method(&server, "Echo")]);
    assert_eq!(alone.code, 2, "{}", alone.stderr);
    contains(&alone.stderr, "--schema-cache");
}

fn write_proto(dir: &Path, methods: &[&str]) -> String {
    let mut text = String::from(
        "syntax = \"proto3\";\npackage cache.v1;\nmessage Req { string name = 1; }\nservice Greeter {\n",
    );
    for m in methods {
        text.push_str(&format!("  rpc {m}(Req) returns (Req);\n"));
    }
    text.push_str("}\n");
    let path = dir.join("greeter.proto");
    std::fs::write(&path, text).expect("write proto");
    path.to_string_lossy().into_owned()
}

/// Reflection streams opened on `serve` (its log has a line per message;
/// the first of each stream has index 0).
fn reflection_requests(serve: &Serve) -> usize {
    serve
        .log()
        .iter()
        .filter(|l| {
            l["method"]
                .as_str()
                .is_some_and(|m| m.contains("ServerReflection"))
                && l["index"] == 0
        })
        .count()
}

#[test]
fn a_method_the_cache_lacks_refreshes_it_once() {
    let home = CacheHome::new("refresh");
    let proto = write_proto(&home.0, &["One"]);
    let old = Serve::start(&["--schema", &proto]);
    let url = old.url.clone();
    let one = home.run(&[
        "--schema-cache",
        "-d",
        r#"{"name":"a"}"#,
        &format!("{url}/cache.v1.Greeter/One"),
    ]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    let listen = old.addr();
    drop(old);

    // The server's schema changes under the same address.
    let proto = write_proto(&home.0, &["One", "Two"]);
    let new = Serve::start(&["--schema", &proto, "--listen", &listen]);
    let two = home.run(&[
        "--schema-cache",
        "-d",
        r#"{"name":"b"}"#,
        &format!("{url}/cache.v1.Greeter/Two"),
    ]);
    assert_eq!(two.code, 0, "{}", two.stderr);
    assert_eq!(two.json()["name"], "b");
    new.wait_log("cache.v1.Greeter/Two");
    let fetched = reflection_requests(&new);
    assert!(fetched > 0, "Two came without asking the server");
    // Now cached: no reflection.
    let again = home.run(&["--schema-cache", &format!("{url}/cache.v1.Greeter/Two")]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    // A method nobody has: one refresh, then a clear error.
    let three = home.run(&["--schema-cache", &format!("{url}/cache.v1.Greeter/Three")]);
    assert_eq!(three.code, 1, "{}", three.stderr);
    contains(
        &three.stderr,
        "service cache.v1.Greeter has no method 'Three'",
    );
    contains(&three.stderr, "One, Two");
    let after = reflection_requests(&new);
    assert_eq!(after, fetched + 1, "{:?}", new.log());
    // describe, through the one lookup, refreshes too.
    let proto = write_proto(&home.0, &["One", "Two", "Four"]);
    let listen = new.addr();
    drop(new);
    let newest = Serve::start(&["--schema", &proto, "--listen", &listen]);
    let describe = home.run(&["describe", "--schema-cache", &url, "cache.v1.Greeter.Four"]);
    assert_eq!(describe.code, 0, "{}", describe.stderr);
    contains(&describe.stdout, "rpc Four");
    drop(newest);
}

#[test]
fn concurrent_writers_never_leave_half_a_file() {
    let home = CacheHome::new("concurrent");
    let server = TestServer::start(ReflectionMode::Both);
    let url = method(&server, "Echo");
    assert_echoed(&echo(&home, &server.url(), &[]));
    let base = streams(&server);
    let binary = env!("CARGO_BIN_EXE_rpcurl");
    let writers = 6;
    let readers = 6;
    let rounds = 3;
    for _ in 0..rounds {
        let mut children = Vec::new();
        for i in 0..writers + readers {
            let mut command = std::process::Command::new(binary);
            command
                .envs(home.env())
                .args(["--schema-cache", "-d", "{}"]);
            // Writers never use the entry (a zero time to live) and always
            // write it; readers use it while it is being replaced.
            if i < writers {
                command.args(["--schema-cache-ttl", "0"]);
            }
            command
                .arg(&url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            children.push(command.spawn().expect("spawn"));
        }
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // Only the writers reflected: no reader ever found a file it could not
    // use (a half-written one would have sent it to the server).
    assert_eq!(streams(&server) - base, writers * rounds);
    assert_eq!(home.entries().len(), 1);
    // And no temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(home.0.join("rpcurl"))
        .expect("folder")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn entries_are_private_and_never_hold_header_values() {
    let home = CacheHome::new("private");
    let server = TestServer::start(ReflectionMode::Both);
    let url = server.url();
    assert_echoed(&echo(
        &home,
        &url,
        &["-H", "authorization: Bearer tok-s3cr3t"],
    ));
    let entries = home.entries();
    assert_eq!(entries.len(), 1);
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&entries[0]), 0o600);
    assert_eq!(mode(&home.0.join("rpcurl")), 0o700);
    let name = entries[0].to_string_lossy().into_owned();
    assert!(!name.contains("s3cr3t"), "{name}");
    let bytes = std::fs::read(&entries[0]).expect("entry");
    assert!(!bytes.windows(6).any(|w| w == b"s3cr3t"));
    // Other headers, another entry (and another reflection).
    let before = streams(&server);
    assert_echoed(&echo(&home, &url, &["-H", "authorization: Bearer other"]));
    assert_eq!(streams(&server), before + 1);
    assert_eq!(home.entries().len(), 2);
}

#[test]
fn cache_list_and_clear() {
    let home = CacheHome::new("list");
    let empty = home.run(&["cache", "list"]);
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert_eq!(empty.stdout, "");
    let server = TestServer::start(ReflectionMode::Both);
    let url = server.url();
    assert_echoed(&echo(&home, &url, &[]));
    let listed = home.run(&[
        "--schema-cache",
        "--list-services",
        &format!("http://localhost:{}", server.addr.port()),
    ]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let list = home.run(&["cache", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", list.stdout);
    assert!(lines[0].starts_with("TARGET"), "{}", list.stdout);
    let row = lines
        .iter()
        .find(|l| l.starts_with(&url))
        .unwrap_or_else(|| panic!("no row for {url}:\n{}", list.stdout));
    let cells: Vec<&str> = row.split_whitespace().collect();
    // target, age, size, files, headers
    assert_eq!(cells.len(), 5, "{row}");
    assert!(cells[1].ends_with('s'), "{row}");
    let size: u64 = cells[2].parse().expect("size");
    assert_eq!(size, std::fs::metadata(&home.entries()[0]).unwrap().len());
    let files: usize = cells[3].parse().expect("file count");
    assert!(files >= 1, "{row}");
    assert_eq!(cells[4], "no");

    let clear = home.run(&["cache", "clear"]);
    assert_eq!(clear.code, 0, "{}", clear.stderr);
    contains(&clear.stdout, "removed 2");
    assert!(home.entries().is_empty());
    assert_eq!(home.run(&["cache", "list"]).stdout, "");
    // Cleared: the next call asks the server again.
    let before = streams(&server);
    assert_echoed(&echo(&home, &url, &[]));
    assert_eq!(streams(&server), before + 1);
}

#[test]
fn a_corrupt_or_cut_entry_is_fetched_again() {
    let home = CacheHome::new("corrupt");
    let server = TestServer::start(ReflectionMode::Both);
    let url = server.url();
    assert_echoed(&echo(&home, &url, &[]));
    let entry = home.entries().remove(0);
    let whole = std::fs::read(&entry).expect("entry");
    let mut expected = streams(&server);
    let mut flipped = whole.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    for bad in [
        whole[..whole.len() / 2].to_vec(),
        whole[..whole.len() - 1].to_vec(),
        Vec::new(),
        flipped,
        b"not a cache file at all".to_vec(),
    ] {
        std::fs::write(&entry, &bad).expect("spoil the entry");
        assert_echoed(&echo(&home, &url, &[]));
        expected += 1;
        assert_eq!(streams(&server), expected, "a bad entry was used");
        // Written again whole.
        assert_eq!(std::fs::read(&entry).expect("entry").len(), whole.len());
    }
    // `cache list` leaves a bad file out instead of failing.
    std::fs::write(&entry, b"junk").expect("spoil");
    let list = home.run(&["cache", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(list.stdout, "");
}
