//! The checked-in descriptor sets must match their `.proto` sources.
//! `RPCURL_BLESS=1 cargo test --test it descriptors` rewrites them.

use std::path::{Path, PathBuf};

use prost::Message as _;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("descriptors")
}

struct Set {
    out: &'static str,
    include: &'static str,
    files: &'static [&'static str],
    imports: bool,
    source_info: bool,
}

const SETS: &[Set] = &[
    // The test schema with everything it needs, as `buf build` writes it.
    Set {
        out: "test.binpb",
        include: "proto",
        files: &["rpcurl/test/v1/test.proto", "rpcurl/test/v1/extra.proto"],
        imports: true,
        source_info: true,
    },
    // The same service without its imports (protoc without
    // --include_imports): the well-known types must come from rpcurl.
    Set {
        out: "test-noimports.binpb",
        include: "proto",
        files: &["rpcurl/test/v1/test.proto"],
        imports: false,
        source_info: false,
    },
    // Built into the binary: google.rpc status and error details, and
    // google.api.http (the REST rules of methods).
    Set {
        out: "builtin.binpb",
        include: "builtin",
        files: &[
            "google/rpc/code.proto",
            "google/rpc/status.proto",
            "google/rpc/error_details.proto",
            "google/api/http.proto",
            "google/api/annotations.proto",
        ],
        imports: false,
        source_info: false,
    },
    // Built into the binary: the well-known types, as protox has them, so
    // a pool takes the few it imports without prost-reflect's global pool
    // (building that is a third of a short call).
    Set {
        out: "well_known.binpb",
        include: "builtin",
        files: &[
            "google/protobuf/any.proto",
            "google/protobuf/api.proto",
            "google/protobuf/compiler/plugin.proto",
            "google/protobuf/descriptor.proto",
            "google/protobuf/duration.proto",
            "google/protobuf/empty.proto",
            "google/protobuf/field_mask.proto",
            "google/protobuf/source_context.proto",
            "google/protobuf/struct.proto",
            "google/protobuf/timestamp.proto",
            "google/protobuf/type.proto",
            "google/protobuf/wrappers.proto",
        ],
        imports: false,
        source_info: false,
    },
    // Built into `rpcurl serve`: grpc.health.v1.
    Set {
        out: "health.binpb",
        include: "serve",
        files: &["grpc/health/v1/health.proto"],
        imports: false,
        source_info: true,
    },
];

fn build(set: &Set) -> Vec<u8> {
    let mut compiler = protox::Compiler::new([root().join(set.include)]).expect("compiler");
    compiler.include_imports(set.imports);
    compiler.include_source_info(set.source_info);
    compiler.open_files(set.files).expect("sources compile");
    compiler.file_descriptor_set().encode_to_vec()
}

#[test]
fn descriptor_sets_match_their_sources() {
    let bless = std::env::var_os("RPCURL_BLESS").is_some();
    let mut stale = Vec::new();
    for set in SETS {
        let built = build(set);
        let path = root().join(set.out);
        let current = std::fs::read(&path).unwrap_or_default();
        if current != built {
            if bless {
                // Other tests of this binary may be reading the set right
                // now: replace it whole, never truncate it in place.
                let fresh = path.with_extension("binpb.blessed");
                std::fs::write(&fresh, &built).expect("write descriptor set");
                std::fs::rename(&fresh, &path).expect("replace descriptor set");
            } else {
                stale.push(set.out);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "descriptor sets out of date: {stale:?}; run `RPCURL_BLESS=1 cargo test --test it descriptors`"
    );
}
