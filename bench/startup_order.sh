#!/usr/bin/env bash
# Writes link/startup.order: the functions short runs of rpcurl execute, in
# the order callgrind first meets them. build.rs hands the file to the
# linker (lld's --symbol-ordering-file), which places those functions
# together at the start of .text, so a short call maps a few hundred
# kilobytes of code instead of pages from all over the binary.
#
#   bench/startup_order.sh        # then rebuild: cargo build --release
#
# Run it after changes that move start-up code (new dependencies, a new
# toolchain); a stale list only costs memory (names the binary no longer
# has are skipped). Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "error: needs valgrind" >&2; exit 1; }

cargo build --release --bin rpcurl >&2
RPCURL=target/release/rpcurl
WORK=$(mktemp -d)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# The large schema of bench/compare.sh (P6, P7), made the same way.
LARGE=bench/.cache/large.binpb
if [[ ! -s $LARGE || bench/large_schema.py -nt $LARGE ]]; then
    rm -rf bench/.cache/large
    mkdir -p bench/.cache
    python3 bench/large_schema.py bench/.cache/large >&2
    "$RPCURL" export --schema bench/.cache/large --protoset-out "$LARGE"
fi

printf '{"rpcurl.test.v1.TestService/Count": {"responses": [{"index": 1, "text": "tick"}], "repeat": 20}}\n' \
    >"$WORK/responses.json"
"$RPCURL" serve -q --schema descriptors/test.binpb --schema "$LARGE" \
    --responses "$WORK/responses.json" --listen 127.0.0.1:0 2>"$WORK/serve.log" &
SERVER=$!
ADDR=
for _ in $(seq 100); do
    ADDR=$(sed -n 's/.*"listening":"http:\/\/\([^"]*\)".*/\1/p' "$WORK/serve.log")
    [[ -n $ADDR ]] && break
    sleep 0.05
done
[[ -n $ADDR ]] || { echo "error: rpcurl serve did not start" >&2; exit 1; }
URL=http://$ADDR/rpcurl.test.v1.TestService

# The runs whose start-up matters (those of bench/compare.sh's start-up cases
# among them): each becomes one callgrind profile.
n=0
profile() {
    n=$((n + 1))
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/run.$n" \
        "$RPCURL" "$@" >/dev/null 2>&1 || true
}
profile --version
profile --schema descriptors/test.binpb -d '{"fString":"hi"}' "$URL/Echo"
profile -d '{"fString":"hi"}' "$URL/Echo"
profile --protocol connect --schema descriptors/test.binpb -d '{"fString":"hi"}' "$URL/Echo"
profile --schema descriptors/test.binpb -d '{}' "$URL/Count"
profile --schema descriptors/test.binpb --list-methods "http://$ADDR"
profile --plaintext "$ADDR" list
LARGE_URL=http://$ADDR/bench.large.catalog.v1.CatalogService/EchoItem
profile --schema "$LARGE" -d '{"name":"hi"}' "$LARGE_URL"
profile -d '{"name":"hi"}' "$LARGE_URL"

nm --defined-only "$RPCURL" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u >"$WORK/symbols"
python3 - "$WORK" "$n" >link/startup.order <<'PY'
import re, sys
work, runs = sys.argv[1], int(sys.argv[2])
symbols = set(open(f"{work}/symbols").read().split())
seen = set()
for run in range(1, runs + 1):
    for line in open(f"{work}/run.{run}"):
        m = re.match(r"c?fn=\(\d+\) (\S+)", line)
        if m and m.group(1) in symbols and m.group(1) not in seen:
            seen.add(m.group(1))
            print(m.group(1))
PY
echo "link/startup.order: $(wc -l <link/startup.order) functions" >&2
