//! Profiles of the config file (docs/profiles.md): real calls to the
//! in-process server show that a flag wins over the profile and the profile
//! over `[defaults]`, that a profile's URL takes the short method form and
//! its schema paths are read from the file's folder, that `${VAR}` is
//! expanded; `rpcurl profiles` masks secrets; every mistake in the file is
//! one usage error naming file, line and key. Each test has a config file
//! of its own in a temporary folder (RPCURL_CONFIG, or XDG_CONFIG_HOME and
//! HOME pointing there), never the real home.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::cli_call::tempdir;
use crate::support::*;

/// A folder holding `config.toml` with `text`.
fn config(text: &str) -> (PathBuf, String) {
    let dir = tempdir();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write the config file");
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

fn with_config(path: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec![("RPCURL_CONFIG", path)];
    all.extend_from_slice(env);
    rpcurl_env(args, &all)
}

/// The values a header reached the server with (the Headers method echoes
/// the request's metadata).
fn seen(run: &Run, name: &str) -> serde_json::Value {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["headers"][name]["values"].clone()
}

const HEADERS: &str = "rpcurl.test.v1.TestService/Headers";

#[test]
fn headers_flag_over_profile_over_defaults() {
    let server = TestServer::start(ReflectionMode::Both);
    let (_dir, path) = config(&format!(
        r#"
[defaults]
headers = ["x-level: defaults", "x-only-defaults: d"]

[profiles.p]
url = "{url}"
headers = ["x-level: profile", "x-only-profile: p"]
"#,
        url = server.url()
    ));
    // No profile: [defaults] alone (the URL is given whole).
    let run = with_config(&path, &[&method(&server, "Headers")], &[]);
    assert_eq!(seen(&run, "x-level"), json!(["defaults"]));
    assert_eq!(seen(&run, "x-only-profile"), serde_json::Value::Null);

    // The profile's header replaces [defaults]'s of the same name; the
    // other headers of both are sent.
    let run = with_config(&path, &["--profile", "p", HEADERS], &[]);
    assert_eq!(seen(&run, "x-level"), json!(["profile"]));
    assert_eq!(seen(&run, "x-only-defaults"), json!(["d"]));
    assert_eq!(seen(&run, "x-only-profile"), json!(["p"]));

    // -H replaces the header of its name and leaves the others.
    let run = with_config(
        &path,
        &["--profile", "p", "-H", "X-Level: flag", HEADERS],
        &[],
    );
    assert_eq!(seen(&run, "x-level"), json!(["flag"]));
    assert_eq!(seen(&run, "x-only-profile"), json!(["p"]));
    assert_eq!(seen(&run, "x-only-defaults"), json!(["d"]));
}

#[test]
fn switches_and_values_flag_over_profile_over_defaults() {
    let server = TestServer::start(ReflectionMode::Both);
    let (_dir, path) = config(&format!(
        r#"
[defaults]
proto_names = true
timeout = "10s"

[profiles.short]
url = "{url}"
timeout = "200ms"

[profiles.json-names]
url = "{url}"
proto_names = false
"#,
        url = server.url()
    ));
    let echo = "rpcurl.test.v1.TestService/Echo";
    let data = r#"{"fString": "x"}"#;
    // [defaults]: proto field names.
    let run = with_config(&path, &["-d", data, &method(&server, "Echo")], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"f_string": "x"}));
    // The profile's false wins over [defaults]'s true...
    let run = with_config(&path, &["--profile", "json-names", "-d", data, echo], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fString": "x"}));
    // ...and the flag over the profile.
    let run = with_config(
        &path,
        &["--profile", "json-names", "--proto-names", "-d", data, echo],
        &[],
    );
    assert_eq!(run.json(), json!({"f_string": "x"}));

    // The profile's 200ms over [defaults]' 10s: a 2s sleep runs out.
    let sleep = "rpcurl.test.v1.TestService/Sleep";
    let run = with_config(
        &path,
        &["--profile", "short", "-d", r#"{"ms": 2000}"#, sleep],
        &[],
    );
    assert_eq!(run.code, 68, "deadline_exceeded: {}", run.stderr);
    // --timeout on the command line wins.
    let run = with_config(
        &path,
        &[
            "--profile",
            "short",
            "--timeout",
            "20s",
            "-d",
            r#"{"ms": 300}"#,
            sleep,
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn profile_url_takes_the_short_forms_and_a_full_url_wins() {
    let server = TestServer::start(ReflectionMode::Both);
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let (_dir, path) = config(&format!(
        "[profiles.p]\nurl = \"{url}\"\n[profiles.dead]\nurl = \"{dead}\"\n",
        url = server.url()
    ));
    let run = with_config(&path, &["--profile", "p", "--list-services"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "rpcurl.test.v1.TestService");
    // grpcurl's verb after the (profile's) address, and the command form.
    for args in [
        &["--profile", "p", "list", "rpcurl.test.v1.TestService"][..],
        &["list", "--profile", "p", "rpcurl.test.v1.TestService"][..],
    ] {
        let run = with_config(&path, args, &[]);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        contains(&run.stdout, "rpcurl.test.v1.TestService.Headers");
    }
    let run = with_config(
        &path,
        &["describe", "--profile", "p", "rpcurl.test.v1.CountRequest"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "message CountRequest");
    // A server on the command line wins over the profile's.
    let run = with_config(
        &path,
        &["--profile", "dead", &method(&server, "Headers")],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = with_config(&path, &["--profile", "dead", HEADERS], &[]);
    assert_eq!(
        run.code, 78,
        "the dead port is the profile's: {}",
        run.stderr
    );
}

#[test]
fn schema_paths_are_read_from_the_config_folder() {
    // No reflection: the call works only with the profile's schema.
    let server = TestServer::start(ReflectionMode::None);
    let (dir, path) = config(&format!(
        "[profiles.offline]\nurl = \"{url}\"\nschema = [\"schemas/test.binpb\"]\n",
        url = server.url()
    ));
    std::fs::create_dir_all(dir.join("schemas")).unwrap();
    std::fs::copy(test_schema(), dir.join("schemas/test.binpb")).unwrap();
    assert!(!Path::new("schemas/test.binpb").exists());
    let run = with_config(
        &path,
        &[
            "--profile",
            "offline",
            "-d",
            r#"{"fString": "s"}"#,
            "rpcurl.test.v1.TestService/Echo",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!({"fString": "s"}));
    // The same schema for a command that takes no server.
    let run = with_config(
        &path,
        &[
            "template",
            "--profile",
            "offline",
            "rpcurl.test.v1.CountRequest",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "\"count\"");
    // --schema on the command line replaces the profile's list.
    let missing = dir.join("missing.binpb");
    let run = with_config(
        &path,
        &[
            "--profile",
            "offline",
            "--schema",
            &missing.to_string_lossy(),
            "rpcurl.test.v1.TestService/Echo",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    contains(&run.stderr, "missing.binpb");
}

#[test]
fn variables_in_headers_come_from_the_environment() {
    let server = TestServer::start(ReflectionMode::Both);
    let (_dir, path) = config(&format!(
        "[profiles.api]\nurl = \"{url}\"\nheaders = [\n  \"x-org: acme\",\n  \"Authorization: Bearer ${{PROFILES_TEST_TOKEN}}\",\n]\n",
        url = server.url()
    ));
    let run = with_config(
        &path,
        &["--profile", "api", HEADERS],
        &[("PROFILES_TEST_TOKEN", "t0k3n")],
    );
    assert_eq!(seen(&run, "authorization"), json!(["Bearer t0k3n"]));
    // RPCURL_PROFILE chooses the profile too.
    let run = with_config(
        &path,
        &[HEADERS],
        &[("PROFILES_TEST_TOKEN", "t0k3n"), ("RPCURL_PROFILE", "api")],
    );
    assert_eq!(seen(&run, "authorization"), json!(["Bearer t0k3n"]));
    // Unset: one error naming the variable, the file, the line and the key.
    let run = with_config(&path, &["--profile", "api", HEADERS], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains(
        &run.stderr,
        &format!(
            "{path}:5: profiles.api.headers: environment variable PROFILES_TEST_TOKEN is not set"
        ),
    );
    // A -H of the same name makes the variable unneeded.
    let run = with_config(
        &path,
        &[
            "--profile",
            "api",
            "-H",
            "authorization: Basic eA==",
            HEADERS,
        ],
        &[],
    );
    assert_eq!(seen(&run, "authorization"), json!(["Basic eA=="]));
}

#[test]
fn profiles_lists_them_with_secrets_masked() {
    let (_dir, path) = config(
        r#"
[defaults]
timeout = 5

[profiles.prod]
url = "https://api.example.com/v2"
headers = ["x-api-key: s3cr3t-literal", "Authorization: Bearer ${API_TOKEN}"]
cert = "client.pem"
key = "client.key"
"#,
    );
    let run = with_config(&path, &["profiles"], &[("API_TOKEN", "from-env")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "[defaults]\ntimeout = 5\n");
    contains(&run.stdout, "[profiles.prod]\n");
    contains(&run.stdout, r#""x-api-key: ***""#);
    contains(&run.stdout, r#""Authorization: Bearer ${API_TOKEN}""#);
    contains(&run.stdout, r#"key = "client.key""#);
    contains(&run.stdout, r#"url = "https://api.example.com/v2""#);
    for secret in ["s3cr3t", "from-env"] {
        assert!(
            !run.stdout.contains(secret),
            "{secret} shown:\n{}",
            run.stdout
        );
    }
    // No file: nothing to list, and no error.
    let run = rpcurl(&["profiles"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    contains(&run.stderr, "no config file");
}

#[test]
fn the_file_is_found_through_xdg_config_home_and_home() {
    let server = TestServer::start(ReflectionMode::Both);
    let text = format!(
        "[profiles.here]\nurl = \"{}\"\nheaders = [\"x-found: yes\"]\n",
        server.url()
    );
    let xdg = tempdir();
    std::fs::create_dir_all(xdg.join("rpcurl")).unwrap();
    std::fs::write(xdg.join("rpcurl/config.toml"), &text).unwrap();
    let home = tempdir();
    std::fs::create_dir_all(home.join(".config/rpcurl")).unwrap();
    std::fs::write(home.join(".config/rpcurl/config.toml"), &text).unwrap();
    let xdg = xdg.to_string_lossy().into_owned();
    let home = home.to_string_lossy().into_owned();
    // An empty RPCURL_CONFIG counts as unset.
    for env in [
        [
            ("RPCURL_CONFIG", ""),
            ("XDG_CONFIG_HOME", xdg.as_str()),
            ("HOME", "/"),
        ],
        [
            ("RPCURL_CONFIG", ""),
            ("XDG_CONFIG_HOME", ""),
            ("HOME", home.as_str()),
        ],
    ] {
        let run = rpcurl_env(&["--profile", "here", HEADERS], &env);
        assert_eq!(seen(&run, "x-found"), json!(["yes"]), "{env:?}");
    }
}

#[test]
fn no_file_and_no_profile_is_nothing_but_a_named_profile_must_exist() {
    let server = TestServer::start(ReflectionMode::Both);
    let run = rpcurl(&[&method(&server, "Headers")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let run = rpcurl(&["--profile", "nope", &method(&server, "Headers")]);
    assert_eq!(run.code, 2);
    contains(
        &run.stderr,
        "no profile 'nope' (--profile): there is no config file at ",
    );
    let (_dir, path) = config("[profiles.a]\n[profiles.b]\n");
    let run = with_config(
        &path,
        &[&method(&server, "Headers")],
        &[("RPCURL_PROFILE", "c")],
    );
    assert_eq!(run.code, 2);
    contains(
        &run.stderr,
        &format!("{path}: no profile 'c' (RPCURL_PROFILE); it defines a, b"),
    );
}

#[test]
fn mistakes_in_the_file_name_file_line_and_key() {
    let server = TestServer::start(ReflectionMode::Both);
    let cases: &[(&str, &str)] = &[
        (
            "[profiles.p]\nprotcol = \"grpc\"\n",
            ":2: profiles.p.protcol: unknown key (did you mean protocol?)",
        ),
        (
            "[defaults]\n\ninsecure = \"yes\"\n",
            ":3: defaults.insecure: expected true or false, not a string",
        ),
        (
            "[profiles.p]\nprotocol = \"grcp\"\n",
            ":2: profiles.p.protocol: invalid value 'grcp' for '--protocol <PROTOCOL>'",
        ),
        (
            "[profiles.p]\ntimeout = \"soon\"\n",
            ":2: profiles.p.timeout: invalid value 'soon' for '--timeout <DURATION>'",
        ),
        (
            "[profiles.p]\nschema = \"a.binpb\"\n",
            ":2: profiles.p.schema: expected a list of strings, not a string",
        ),
        (
            "[profiles.p]\nheaders = [\n \"x: 1\",\n \"no colon\"]\n",
            ":4: profiles.p.headers: header 'no…' is not of the form 'Name: value'",
        ),
        (
            "[profiles.p]\nurl = \"https://h/pkg.Svc/Method\"\n",
            ":2: profiles.p.url: a base URL names no method",
        ),
        (
            "[profiles.p]\ncert = \"c.pem\"\n",
            ":2: profiles.p.cert: needs key as well",
        ),
        ("[profile.p]\n", ":1: profile: unknown key"),
        (
            "[profiles]\np = 1\n",
            ":2: profiles.p: a profile is a table ([profiles.p]), not a number",
        ),
        ("[profiles.p\nurl = 1\n", ":1: TOML: "),
    ];
    for (text, wanted) in cases {
        let (_dir, path) = config(text);
        // The whole file is checked, whichever profile is used, and on a
        // call without one.
        let run = with_config(&path, &[&method(&server, "Headers")], &[]);
        assert_eq!(run.code, 2, "{text}: {}", run.stderr);
        contains(&run.stderr, &format!("error: {path}{wanted}"));
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        let run = with_config(&path, &["profiles"], &[]);
        assert_eq!(run.code, 2, "{text}: {}", run.stderr);
        contains(&run.stderr, &format!("{path}{wanted}"));
    }
}

#[test]
fn serve_takes_no_profile() {
    // serve is not a calling command: its --timeout is how long to serve.
    let (_dir, path) = config("[defaults]\ntimeout = \"50ms\"\n");
    let run = with_config(&path, &["serve", "--profile", "x"], &[]);
    assert_eq!(run.code, 2);
    contains(&run.stderr, "--profile");
}

#[test]
fn keys_a_command_does_not_take_are_left_out() {
    let server = TestServer::start(ReflectionMode::Both);
    let (_dir, path) = config("[defaults]\nemit_defaults = true\nplaintext = true\n");
    let address = server.addr.to_string();
    // grpcurl's `list` after the address takes `list`'s flags: no
    // --emit-defaults from [defaults], and no refusal of it either.
    let run = with_config(&path, &[&address, "list"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    contains(&run.stdout, "rpcurl.test.v1.TestService\n");
    // A call takes both: plaintext reaches the address, and defaults print.
    let run = with_config(
        &path,
        &[&address, "rpcurl.test.v1.TestService/Echo", "-d", "{}"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["fString"], json!(""));
    // encode takes neither.
    let run = rpcurl_stdin_env(
        &[
            "encode",
            "--schema",
            &test_schema(),
            "rpcurl.test.v1.CountRequest",
        ],
        b"{\"count\": 1}",
        &path,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

fn rpcurl_stdin_env(args: &[&str], stdin: &[u8], config: &str) -> Run {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rpcurl"));
    command
        .env("RPCURL_CONFIG", config)
        .env_remove("RPCURL_PROFILE");
    command.args(args);
    run_command(command, Some(stdin))
}

#[test]
fn a_profile_turns_the_schema_cache_on() {
    let server = TestServer::start(ReflectionMode::Both);
    let (dir, path) = config(&format!(
        "[profiles.cached]\nurl = \"{}\"\nschema_cache = true\nschema_cache_ttl = \"5m\"\n",
        server.url()
    ));
    let cache_home = dir.join("cache");
    let cache_home = cache_home.to_string_lossy().into_owned();
    let env = [("XDG_CACHE_HOME", cache_home.as_str())];
    let streams = || {
        server
            .reflection_streams
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let echo = "rpcurl.test.v1.TestService/Echo";
    let data = r#"{"fString": "x"}"#;
    let run = with_config(&path, &["--profile", "cached", "-d", data, echo], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first = streams();
    assert!(first > 0, "the first call used reflection");
    // The second process reads the cache the profile turned on.
    let run = with_config(&path, &["--profile", "cached", "-d", data, echo], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(streams(), first, "the second call reflected");
    let list = with_config(&path, &["cache", "list"], &env);
    assert_eq!(list.code, 0, "{}", list.stderr);
    contains(&list.stdout, &server.addr.port().to_string());
}
