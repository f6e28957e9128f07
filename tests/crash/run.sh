#!/usr/bin/env bash
# Crash tests of meter-relay's spool (spec/spool.md "How it is proven"): kill -9 loops under
# load, a full disk (skipped where a tmpfs cannot be mounted), and delivery into a real InfluxDB
# through a 2-minute outage and through kill -9 loops.
# Needs BIN_DIR (the Makefile's check-crash sets it) and node 20 for the load writer.
set -u
crash_dir=$(cd "$(dirname "$0")" && pwd)
if [ -z "${BIN_DIR:-}" ] || [ ! -x "$BIN_DIR/meter-relay" ]; then
    echo "BIN_DIR must name the directory holding meter-relay (make check-crash sets it)" >&2
    exit 2
fi
if ! command -v node >/dev/null; then
    echo "node is needed for tests/crash/load_writer.mjs; install nodejs" >&2
    exit 2
fi
status=0
for test in "$crash_dir"/kill_loop.sh "$crash_dir"/full_disk.sh "$crash_dir"/outage.sh \
    "$crash_dir"/kill_upstream.sh; do
    echo "== ${test##*/}"
    bash "$test" || status=1
done
exit $status
