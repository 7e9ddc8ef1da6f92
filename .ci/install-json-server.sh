#!/usr/bin/env bash
# Installs json-server (the exact version locked in .ci/json-server/package-lock.json) into DIR,
# for the end-to-end test of the shipped json-server mapping (tests/it/json_server.rs).
#
#   .ci/install-json-server.sh [DIR]      # default: ${CARGO_TARGET_DIR:-target}/tmp/json-server
#
# Installs Node.js and npm with apt-get only when `node` or `npm` is missing (as root, or through
# sudo without a password). Then `npm ci` into DIR from the checked-in lock file; a stamp skips
# that while the lock file is unchanged. Safe to run concurrently: the work happens under a lock.
# Prints the path of the json-server entry script on its last line.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPEC=$ROOT/.ci/json-server
DIR=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/tmp/json-server}
ENTRY=$DIR/node_modules/json-server/lib/cli/bin.js

fail() {
    printf 'install-json-server: %s\n' "$*" >&2
    exit 1
}

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
ENTRY=$DIR/node_modules/json-server/lib/cli/bin.js

# One installer at a time per DIR (the test and CI may both call this).
exec 9>"$DIR/.install.lock"
if command -v flock >/dev/null; then
    flock 9
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "install-json-server: node or npm missing: installing Debian's nodejs and npm" >&2
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null && sudo -n true 2>/dev/null ||
            fail "node/npm are missing and this user cannot run apt-get; run as root: apt-get update && apt-get install -y nodejs npm"
        SUDO="sudo -n"
    fi
    command -v apt-get >/dev/null ||
        fail "node/npm are missing and apt-get is not available; install Node.js >= 12 with npm"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || fail "apt-get update failed"
    $SUDO apt-get install -y -qq nodejs npm >/dev/null || fail "apt-get install nodejs npm failed"
fi

stamp="$(sha256sum "$SPEC/package-lock.json" | cut -d' ' -f1) $(node --version)"
if [[ -f $ENTRY && "$(cat "$DIR/.stamp" 2>/dev/null)" == "$stamp" ]]; then
    echo "install-json-server: up to date in $DIR" >&2
else
    echo "install-json-server: npm ci into $DIR" >&2
    rm -f "$DIR/.stamp"
    cp "$SPEC/package.json" "$SPEC/package-lock.json" "$DIR/"
    (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) || fail "npm ci failed in $DIR"
    [[ -f $ENTRY ]] || fail "npm ci succeeded but $ENTRY is missing"
    echo "$stamp" >"$DIR/.stamp"
fi
echo "$ENTRY"
