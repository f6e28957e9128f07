#!/usr/bin/env bash
# The durability promise of spec/spool.md under kill -9: a load writer (load_writer.mjs) keeps
# several connections busy while the relay is killed with SIGKILL and restarted on the same port
# and spool RESTARTS times; every point whose request got a 204 must be in the spool afterwards
# (duplicates allowed, a retried request may be stored twice), and spool-check must find the
# cleanly stopped spool sound.
#   BIN_DIR   directory holding meter-relay (required)
#   RESTARTS  number of kill -9 / restart cycles (default 20)
#   WRITERS   concurrent writer connections (default 8)
crash_dir=$(cd "$(dirname "$0")" && pwd)
source "$crash_dir/../integration/lib.sh"
source "$crash_dir/../integration/relay_helpers.sh"
source "$crash_dir/crash_helpers.sh"

restarts=${RESTARTS:-20}
writers=${WRITERS:-8}
dir=$work_dir/relay
ack_log=$work_dir/acks.log
writer_pid=

cleanup() {
    [ -n "${writer_pid:-}" ] && kill -KILL "$writer_pid" 2>/dev/null
    [ -n "${relay_pid:-}" ] && kill -KILL "$relay_pid" 2>/dev/null
    rm -rf "$work_dir"
}
trap cleanup EXIT

port=$(crash_port_pick)
# A small free-space floor: the test must not depend on how full the machine's /tmp is.
relay_config_write "$dir" "    min_free_bytes: 32MiB"
sed -i "s/^  listen: 127.0.0.1:0$/  listen: 127.0.0.1:$port/" "$dir/config.yaml"
expect_contains "config listens on the chosen port" "listen: 127.0.0.1:$port" "$(cat "$dir/config.yaml")"

started=$(date +%s)
if ! relay_start "$dir"; then
    check_fail "meter-relay starts on 127.0.0.1:$port"
    finish
    exit
fi
crash_writer_start "$relay_url" "$ack_log" "$writers"

crash_kill_restarts "$dir" "$restarts"
expect_equal "relay restarted after every kill -9" "$restarts" "$done_restarts"

# Let the last relay acknowledge some more, then stop the writer before the relay so that no
# request is left half-answered by a shutdown.
[ -n "${relay_pid:-}" ] && sleep 0.5
crash_writer_stop
if [ -n "${relay_pid:-}" ]; then
    relay_stop
    expect_equal "relay exits 0 on SIGTERM" 0 "$relay_exit_status"
fi

echo "  restarts:               $done_restarts (kill -9 under load, $(($(date +%s) - started)) s)"
echo "  connection errors seen: ${writer_stat_connection_errors:-?}"
if [ "${writer_stat_connection_errors:-0}" -gt 0 ]; then check_pass "kills interrupted requests in flight"; else
    check_fail "kills interrupted requests in flight" "the writer saw no connection error"
fi
crash_spool_compare "$ack_log" "$dir/spool"
finish
