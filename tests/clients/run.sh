#!/usr/bin/env bash
# The official InfluxDB client libraries against meter-relay: installs the locked npm packages
# when node_modules is missing or older than package-lock.json, then runs every *.test.mjs with
# node's test runner (which prints the pass/fail summary). Needs BIN_DIR (make check-clients).
set -euo pipefail

clients_dir=$(cd "$(dirname "$0")" && pwd)
if [ -z "${BIN_DIR:-}" ] || [ ! -x "$BIN_DIR/meter-relay" ]; then
    echo "tests/clients/run.sh: BIN_DIR must name the directory holding meter-relay" \
        "(run: make check-clients)" >&2
    exit 2
fi
export BIN_DIR
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "tests/clients/run.sh: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
    exit 2
fi

cd "$clients_dir"
# npm ci records the lock it installed in node_modules/.package-lock.json; a newer
# package-lock.json means the locked versions changed since.
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --prefer-offline
fi

shopt -s nullglob
# The fake upstream of the forwarder tests checks itself here too (node built-ins only).
tests=("$clients_dir"/*.test.mjs "$clients_dir"/../upstream/*.test.mjs)
if [ ${#tests[@]} -eq 0 ]; then
    echo "tests/clients/run.sh: no *.test.mjs files in $clients_dir" >&2
    exit 1
fi
exec node --test --test-concurrency=1 "${tests[@]}"
