//! The one symbol lookup, through the binary: names that `describe` once
//! refused although it could print them.

use std::process::Command;

fn schema() -> String {
    format!("{}/descriptors/test.binpb", env!("CARGO_MANIFEST_DIR"))
}

/// Runs rpcurl; its exit code, stdout and stderr.
fn rpcurl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rpcurl"))
        .args(args)
        .output()
        .expect("rpcurl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn describe_enum_value_by_package_scope() {
    let schema = schema();
    for name in [
        "rpcurl.test.v1.COLOR_RED",
        ".rpcurl.test.v1.COLOR_RED",
        "rpcurl.test.v1.Color.COLOR_RED",
    ] {
        let (code, stdout, stderr) = rpcurl(&["describe", "--schema", &schema, name]);
        assert_eq!(code, 0, "{name}: {stderr}");
        assert_eq!(
            stdout, "COLOR_RED = 1; // value of enum rpcurl.test.v1.Color\n",
            "{name}"
        );
    }
}

#[test]
fn describe_file_by_name() {
    let schema = schema();
    let (code, stdout, stderr) =
        rpcurl(&["describe", "--schema", &schema, "rpcurl/test/v1/test.proto"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("package rpcurl.test.v1;"), "{stdout}");
    assert!(stdout.contains("service TestService {"), "{stdout}");
    let (code, stdout, stderr) = rpcurl(&[
        "describe",
        "--schema",
        &schema,
        "--format",
        "json",
        "rpcurl/test/v1/extra.proto",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("\"name\": \"rpcurl/test/v1/extra.proto\""),
        "{stdout}"
    );
}

#[test]
fn unknown_names_suggest_the_closest() {
    let (code, _, stderr) = rpcurl(&[
        "describe",
        "--schema",
        &schema(),
        "rpcurl.test.v1.COLOR_REDD",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
    assert!(stderr.contains("did you mean"), "{stderr}");
}

#[test]
fn template_of_a_method_by_either_spelling() {
    let schema = schema();
    let (code, slash, stderr) = rpcurl(&[
        "template",
        "--schema",
        &schema,
        "rpcurl.test.v1.TestService/Echo",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, dot, stderr) = rpcurl(&[
        "template",
        "--schema",
        &schema,
        ".rpcurl.test.v1.TestService.Echo",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(slash, dot);
}
