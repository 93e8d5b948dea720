#!/usr/bin/env bash
# rpcurl bench against h2load (nghttp2's C load generator), in the same run,
# against the same `rpcurl serve -q` on loopback: one connection, 20 calls in
# flight, unary Echo of {"fString":"hi"}. h2load sends the request pre-framed
# (the same bytes rpcurl sends) and only counts HTTP statuses; rpcurl encodes
# nothing per call but decodes and checks every response and its gRPC status.
#
#   bench/load.sh                     # 100,000 calls each, 3 rounds
#   CALLS=200000 ROUNDS=5 bench/load.sh
#   PROFILE=bench-fast bench/load.sh  # a quicker build (see Cargo.toml)
#
# Reports calls/s and CPU (user + system) per 1,000 calls of each generator,
# and of the server while it answered each. See docs/benchmarks.md.
set -euo pipefail

CALLS=${CALLS:-100000}
ROUNDS=${ROUNDS:-3}
STREAMS=${STREAMS:-20}

cd "$(dirname "$0")/.."
CACHE=bench/.cache
mkdir -p "$CACHE"
log() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need=()
command -v h2load >/dev/null || need+=(nghttp2-client)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
    log "apt-get install ${need[*]}"
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

# BUILD=0 uses the binary as it is. PROFILE=bench-fast builds in a fraction
# of the time, for iterating; published figures use the release profile.
PROFILE=${PROFILE:-release}
if [[ ${BUILD:-1} != 0 ]]; then
    log "cargo build --profile $PROFILE --bin rpcurl"
    cargo build --profile "$PROFILE" --bin rpcurl
fi
RPCURL=target/$PROFILE/rpcurl
SCHEMA=descriptors/test.binpb
METHOD=rpcurl.test.v1.TestService/Echo
DATA='{"fString":"hi"}'

# The request as rpcurl frames it: the message, after a 5-byte gRPC envelope.
"$RPCURL" encode --schema "$SCHEMA" rpcurl.test.v1.Everything <<<"$DATA" >"$CACHE/echo.bin"
len=$(stat -c %s "$CACHE/echo.bin")
((len < 256)) || die "the request is over 255 bytes"
{ printf '\x00\x00\x00\x00'; printf "\\x$(printf %02x "$len")"; cat "$CACHE/echo.bin"; } >"$CACHE/echo.grpc"

"$RPCURL" serve -q --schema "$SCHEMA" --listen 127.0.0.1:0 2>"$CACHE/load-server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
url=
for _ in $(seq 200); do
    url=$(sed -n 's/.*"listening":"\(http:[^"]*\)".*/\1/p' "$CACHE/load-server.log" | head -n 1)
    [[ -n $url ]] && break
    sleep 0.05
done
[[ -n $url ]] || die "rpcurl serve did not start: $(cat "$CACHE/load-server.log")"
log "rpcurl serve at $url; $CALLS calls, $STREAMS in flight, 1 connection, $ROUNDS rounds"

# CPU seconds (user + system) the server has used so far.
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$SERVER/stat"
}

# run NAME COMMAND...: prints "NAME calls/s client-CPU-ms/1000 server-CPU-ms/1000".
run() {
    local name=$1
    shift
    local before after
    before=$(server_cpu)
    /usr/bin/time -f '%e %U %S' -o "$CACHE/load-time" "$@" >"$CACHE/load-$name.out" 2>&1 ||
        die "$name failed: $(tail -n 5 "$CACHE/load-$name.out")"
    after=$(server_cpu)
    read -r wall user sys <"$CACHE/load-time"
    local calls=$CALLS
    if [[ $name == rpcurl ]]; then
        grep -q "\"ok\":$CALLS," "$CACHE/load-$name.out" ||
            die "rpcurl: not every call succeeded: $(cat "$CACHE/load-$name.out")"
    else
        grep -q "status codes: $CALLS 2xx" "$CACHE/load-$name.out" ||
            die "h2load: not every call succeeded: $(cat "$CACHE/load-$name.out")"
    fi
    awk -v n="$name" -v c="$calls" -v w="$wall" -v u="$user" -v s="$sys" -v b="$before" -v a="$after" \
        'BEGIN { printf "%s %.0f %.1f %.1f\n", n, c / w, (u + s) * 1e6 / c, (a - b) * 1e6 / c }'
}

results=()
for round in $(seq "$ROUNDS"); do
    results+=("$(run h2load h2load -n "$CALLS" -c 1 -m "$STREAMS" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        -d "$CACHE/echo.grpc" "$url/$METHOD")")
    results+=("$(run rpcurl "$RPCURL" bench --schema "$SCHEMA" -d "$DATA" --total "$CALLS" \
        -c "$STREAMS" --connections 1 --format json "$url/$METHOD")")
    log "round $round: ${results[-2]} | ${results[-1]}"
done

printf '\n| round | h2load calls/s | rpcurl calls/s | ratio | h2load CPU ms / 1,000 calls | rpcurl CPU ms / 1,000 calls | server CPU ms / 1,000 (h2load / rpcurl) |\n'
printf '|---|---|---|---|---|---|---|\n'
for round in $(seq "$ROUNDS"); do
    read -r _ hr hc hs <<<"${results[$(((round - 1) * 2))]}"
    read -r _ rr rc rs <<<"${results[$(((round - 1) * 2 + 1))]}"
    awk -v k="$round" -v hr="$hr" -v rr="$rr" -v hc="$hc" -v rc="$rc" -v hs="$hs" -v rs="$rs" \
        'BEGIN { printf "| %s | %d | %d | %.2f | %.1f | %.1f | %.1f / %.1f |\n", k, hr, rr, rr / hr, hc, rc, hs, rs }'
done
