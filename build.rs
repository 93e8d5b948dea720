//! Lays out the release binary's start-up code together: the functions
//! short runs execute (`link/startup.order`, written by
//! `bench/startup_order.sh`) are placed first in `.text`, so a short call
//! maps a few hundred kilobytes of code instead of pages from all over the
//! binary (docs/benchmarks.md). Names the binary no longer has are
//! skipped, so a stale list costs memory, never correctness.
//!
//! Only where the linker is known to be lld, which takes the list: rustc
//! 1.90 and later link x86_64-unknown-linux-gnu with it unless a linker or
//! linker flags are configured. Anywhere else the build is unchanged.
//!
//! Release builds for x86_64-unknown-linux-gnu with the default linker
//! (lld or not) are also linked as a position-dependent executable
//! (`-no-pie`), as Go links buf and grpcurl: the dynamic loader then has
//! no relocations to apply at start-up and no relocated data pages to copy
//! (an eighth of `rpcurl --version`'s time; docs/design.md, "Choices").
//! Shared libraries, the heap and the stack are still placed at random.

use std::env::var;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/startup.order");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let release = var("PROFILE").is_ok_and(|p| p == "release");
    let target = var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    let default_linker = var("RUSTC_LINKER").is_err()
        && !var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| f.contains("link"));
    if release && target && default_linker {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    if !(release && target && default_linker && rustc_links_with_lld()) {
        return;
    }
    let dir = var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let order = std::path::Path::new(&dir).join("link/startup.order");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}

/// Whether rustc is 1.90 or later (`rustc 1.95.0 (…)`).
fn rustc_links_with_lld() -> bool {
    let rustc = var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let Ok(out) = std::process::Command::new(rustc).arg("--version").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut version = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (version.next().unwrap_or(0), version.next().unwrap_or(0));
    major > 1 || (major == 1 && minor >= 90)
}
