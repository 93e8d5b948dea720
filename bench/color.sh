#!/usr/bin/env bash
# What colour costs: a server stream of 100,000 messages printed as JSON by
# this build with --color never, by default (auto, stdout not a terminal),
# and with --color always (every token highlighted), and by another build
# (BASE, e.g. main's) that has no colour at all, in the same hyperfine run,
# against `rpcurl serve` on loopback. See docs/benchmarks.md, "Colour".
#
#   cargo build --release && BASE=/path/to/main/rpcurl bench/color.sh
#   RUNS=20 RPCURL=/path/to/rpcurl bench/color.sh
set -euo pipefail

cd "$(dirname "$0")/.."
RPCURL=${RPCURL:-target/release/rpcurl}
BASE=${BASE:-}
RUNS=${RUNS:-10}
CACHE=bench/.cache
mkdir -p "$CACHE"
SCHEMA=descriptors/test.binpb
SVC=rpcurl.test.v1.TestService

command -v hyperfine >/dev/null || {
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y hyperfine >&2
}

# Messages with a string holding quotes, a backslash and a colon, so the
# highlighter's string state is exercised, not only short tokens.
responses=$CACHE/color-responses.json
printf '{"%s/Count": {"responses": [{"index": 123456, "text": "a \\"quoted\\": \\\\ tick"}], "repeat": 100000}}\n' \
    "$SVC" >"$responses"
log=$CACHE/color-server.log
"$RPCURL" serve -q --schema "$SCHEMA" --responses "$responses" --listen 127.0.0.1:0 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
addr=
for _ in $(seq 200); do
    addr=$(sed -n 's/.*"listening":"http:\/\/\([^"]*\)".*/\1/p' "$log" | head -n 1)
    [[ -n $addr ]] && break
    sleep 0.05
done
[[ -n $addr ]] || { echo "rpcurl serve did not start: $(cat "$log")" >&2; exit 1; }
args=(--schema "$SCHEMA" -d '{"count":100000}' "http://$addr/$SVC/Count")
# hyperfine -N splits its commands as a shell would: the JSON is quoted.
call="--schema $SCHEMA -d '{\"count\":100000}' http://$addr/$SVC/Count"

# Each output must be the 100,000 messages, coloured only with always.
plain=$("$RPCURL" "${args[@]}" --compact | grep -vc $'\x1b' || true)
coloured=$("$RPCURL" "${args[@]}" --compact --color always | grep -c $'\x1b\\[1;34m"index"' || true)
[[ $plain == 100000 && $coloured == 100000 ]] || {
    echo "unexpected output: $plain lines, $coloured coloured" >&2
    exit 1
}

commands=()
names=()
if [[ -n $BASE ]]; then
    commands+=("$BASE $call")
    names+=("--command-name=base (no colour code)")
fi
commands+=("$RPCURL $call --color never" "$RPCURL $call" "$RPCURL $call --color always")
# `--command-name=` form: a name that starts with `--` would be read as a flag.
names+=("--command-name=--color never" "--command-name=auto, stdout a pipe" "--command-name=--color always")
hyperfine -N --warmup 2 --runs "$RUNS" "${names[@]}" "${commands[@]}" \
    --export-markdown "$CACHE/color.md" >&2
cat "$CACHE/color.md"
