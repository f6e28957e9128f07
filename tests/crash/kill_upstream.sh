#!/usr/bin/env bash
# At-least-once delivery under kill -9 (spec/spool.md "How it is proven"): the load writer
# (load_writer.mjs) keeps several connections busy while the relay, forwarding to a real InfluxDB,
# is killed with SIGKILL at random moments and restarted on the same port and spool RESTARTS
# times. Afterwards the backlog must drain and every point whose request got a 204 must be in
# InfluxDB, once (re-sent batches merge: same series and timestamp).
#   BIN_DIR     directory holding meter-relay (required)
#   RESTARTS    number of kill -9 / restart cycles (default 20)
#   WRITERS     concurrent writer connections (default 8)
#   DRAIN_WAIT  seconds the relay gets to deliver the backlog afterwards (default 120)
crash_dir=$(cd "$(dirname "$0")" && pwd)
source "$crash_dir/../integration/lib.sh"
source "$crash_dir/../integration/relay_helpers.sh"
source "$crash_dir/../integration/servers.sh"
source "$crash_dir/../integration/upstream_helpers.sh"
source "$crash_dir/crash_helpers.sh"
source "$crash_dir/crash_upstream.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
restarts=${RESTARTS:-20}
writers=${WRITERS:-8}
drain_wait=${DRAIN_WAIT:-120}
dir=$work_dir/relay
ack_log=$work_dir/acks.log
writer_pid=

cleanup() {
    [ -n "${writer_pid:-}" ] && kill -KILL "$writer_pid" 2>/dev/null
    [ -n "${relay_pid:-}" ] && kill -KILL "$relay_pid" 2>/dev/null
    influxdb_stop
    rm -rf "$work_dir"
}
trap cleanup EXIT

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
expect_status "influxdb: CREATE DATABASE crash" 0 influxdb_create_database crash
crash_upstream_config "$dir" "$(crash_port_pick)"

started=$SECONDS
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
crash_writer_start "$relay_url" "$ack_log" "$writers"

crash_kill_restarts "$dir" "$restarts"
expect_equal "relay restarted after every kill -9" "$restarts" "$done_restarts"
if [ -z "${relay_pid:-}" ]; then
    finish
    exit
fi

# Stop the writer before the relay so that no request is left half-answered.
sleep 0.5
crash_writer_stop
echo "  restarts:               $done_restarts (kill -9 under load, $((SECONDS - started)) s)"
echo "  connection errors seen: ${writer_stat_connection_errors:-?}"
if [ "${writer_stat_connection_errors:-0}" -gt 0 ]; then check_pass "kills interrupted requests in flight"; else
    check_fail "kills interrupted requests in flight" "the writer saw no connection error"
fi

crash_backlog_wait "$drain_wait"
crash_influxdb_compare "$ack_log"
relay_stop
expect_equal "relay exits 0 on SIGTERM" 0 "$relay_exit_status"
finish
