#!/usr/bin/env bash
# Upstream down for minutes under load, then back (spec/spool.md "How it is proven"): the load
# writer (load_writer.mjs) keeps the relay busy while InfluxDB, its only upstream, is stopped for
# OUTAGE_SECONDS and restarted on the same URL. The relay must answer 204 throughout, show the
# upstream backing off with a growing backlog, then drain the backlog to 0 and delete the
# delivered segments; every acknowledged point must be in InfluxDB, and a point rewritten during
# the outage (same series and timestamp, new value) must have its last value.
#   BIN_DIR         directory holding meter-relay (required)
#   OUTAGE_SECONDS  how long InfluxDB is down (default 120)
#   WRITERS         concurrent writer connections (default 4)
#   POINTS_PER_REQUEST  at most this many points per write (default 1: meter devices send one
#                   line per request, so a 5000-line batch of the backlog is 5000 spool records)
#   DRAIN_WAIT      seconds the relay gets to deliver the backlog afterwards (default 180)
crash_dir=$(cd "$(dirname "$0")" && pwd)
source "$crash_dir/../integration/lib.sh"
source "$crash_dir/../integration/relay_helpers.sh"
source "$crash_dir/../integration/servers.sh"
source "$crash_dir/../integration/upstream_helpers.sh"
source "$crash_dir/crash_helpers.sh"
source "$crash_dir/crash_upstream.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
outage_seconds=${OUTAGE_SECONDS:-120}
writers=${WRITERS:-4}
points_per_request=${POINTS_PER_REQUEST:-1}
drain_wait=${DRAIN_WAIT:-180}
dir=$work_dir/relay
ack_log=$work_dir/acks.log
writer_pid=

cleanup() {
    [ -n "${writer_pid:-}" ] && kill -KILL "$writer_pid" 2>/dev/null
    relay_stop
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
expect_status "influxdb: CREATE DATABASE outage" 0 influxdb_create_database outage

# 1 MiB segments: the backlog spans many, so deleting the delivered ones is visible.
crash_upstream_config "$dir" "$(crash_port_pick)" "    segment_bytes: 1MiB"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi

# rewrite VALUE: the same point (series and timestamp) with a new value; the relay must take it.
rewrite() {
    expect_equal "rewritten point, value $1: 204" 204 "$(curl -s -o /dev/null -w '%{http_code}' -XPOST \
        --data-binary "rewrite,key=a v=${1}i 1700000000000000000" "$relay_url/write?db=outage")"
}
rewrite_value() { influxdb_query outage 'SELECT v FROM rewrite' | json_eval 'd.results[0].series?.[0].values[0][1] ?? "none"'; }
segments() { find "$dir/spool/seg" -name '*.seg' | wc -l; }
# The segment being written and the one prepared after it stay.
segments_left() {
    local count
    count=$(segments)
    if [ "$count" -le 2 ]; then echo "at most 2"; else echo "$count segments"; fi
}

rewrite 1
crash_writer_start "$relay_url" "$ack_log" "$writers" "$points_per_request"
eventually_deadline=$((SECONDS + 20))
eventually "before the outage: delivered (the first value is in InfluxDB)" 1 rewrite_value
if [ "$checks_failed" -gt 0 ]; then
    echo "  no delivery before the outage: the outage itself would prove nothing, stopping here"
    finish
    exit
fi

influxdb_stop
echo "  InfluxDB stopped for ${outage_seconds} s"
acks_before=$(wc -l <"$ack_log")
rewrite 2
sleep "$((outage_seconds / 2))"
eventually_deadline=$((SECONDS + 5))
eventually "during the outage: the upstream is backing off" 1 \
    relay_metric 'nebenkosten_upstream_state{upstream="influxdb",state="backoff"}'
rewrite 3
sleep "$((outage_seconds - outage_seconds / 2))"
acks_during=$(($(wc -l <"$ack_log") - acks_before))
backlog=$(relay_metric 'nebenkosten_upstream_backlog_records{upstream="influxdb"}')
oldest=$(relay_metric 'nebenkosten_upstream_oldest_unsent_seconds{upstream="influxdb"}')
segments_during=$(segments)
echo "  points acknowledged during the outage: $acks_during"
echo "  backlog: $backlog records, oldest unsent ${oldest} s, $segments_during segments"
echo "  relay RSS: $(awk '/^VmRSS/ { print $2, $3 }' "/proc/$relay_pid/status")"
if [ "$acks_during" -gt 0 ]; then check_pass "the relay kept acknowledging during the outage"; else
    check_fail "the relay kept acknowledging during the outage" "no point acknowledged while InfluxDB was down"
fi
if [[ "$backlog" =~ ^[0-9]+$ ]] && [ "$backlog" -gt 0 ]; then check_pass "/metrics: backlog grew ($backlog records)"; else
    check_fail "/metrics: backlog grew" "nebenkosten_upstream_backlog_records: $backlog"
fi
# The writes of the outage's first second are the oldest unsent ones.
if [[ "$oldest" =~ ^[0-9.]+$ ]] && [ "${oldest%.*}" -ge "$((outage_seconds - 5))" ]; then
    check_pass "/metrics: oldest unsent age covers the outage (${oldest} s)"
else
    check_fail "/metrics: oldest unsent age covers the outage" \
        "expected >= $((outage_seconds - 5)) s, got: $oldest"
fi

restarted=$SECONDS
if influxdb_restart; then check_pass "InfluxDB restarts on the same URL"; else
    check_fail "InfluxDB restarts on the same URL"
    finish
    exit
fi
# Load continues while the backlog drains.
sleep 3
crash_writer_stop
expect_equal "the writer got 204 for every request: no 503, no connection error" "0 0" \
    "${writer_stat_status_503:-?} ${writer_stat_connection_errors:-?}"

crash_backlog_wait "$drain_wait"
echo "  backlog drained $((SECONDS - restarted)) s after InfluxDB's restart (load went on for 3 s)"
crash_influxdb_compare "$ack_log"
expect_equal "the rewritten point has its last value" 3 "$(rewrite_value)"

# Cursors are stored every second; then every delivered segment must be gone.
eventually_deadline=$((SECONDS + 5))
eventually "delivered segments deleted ($segments_during during the outage)" "at most 2" segments_left

relay_stop
expect_equal "relay exits 0 on SIGTERM" 0 "$relay_exit_status"
finish
