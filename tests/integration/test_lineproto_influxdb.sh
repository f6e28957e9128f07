#!/usr/bin/env bash
# Line-protocol compatibility with a real InfluxDB 1.x, measured differentially: every line of
# lineproto_influxdb.mjs's corpus goes to influxd's own /write and to a relay whose upstream is
# that influxd (another database); the answers and what InfluxDB stored from each must agree,
# except where spec/wire.md deliberately differs (each such case names why), and nothing the
# relay acknowledged may be dead-lettered upstream.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/servers.sh"
here=$(cd "$(dirname "$0")" && pwd)

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; influxdb_stop; rm -rf "$work_dir"' EXIT

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
# No batch wait and several requests in flight: every case has its own database, so its own
# batch, and the relay delivers them all within a second or two.
dir=$work_dir/relay
relay_config_write "$dir" "  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      gzip: false
      batch_wait: 0ms
      requests_in_flight: 4
      backoff_initial: 100ms
      backoff_max: 1s
      pause_retry: 1s"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi

if node "$here/lineproto_influxdb.mjs" "$influxdb_url" "$relay_url"; then
    check_pass "relay and InfluxDB agree on the whole corpus"
else
    check_fail "relay and InfluxDB agree on the whole corpus" \
        "dead letters: $("$BIN_DIR/meter-relay" dlq list "$dir/spool" 2>&1 | head -n 20)"
fi

relay_stop
expect_equal "relay exits 0 on SIGTERM" 0 "$relay_exit_status"
finish
