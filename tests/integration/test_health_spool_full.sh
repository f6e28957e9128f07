#!/usr/bin/env bash
# The spool at relay.spool.max_bytes while InfluxDB is down: writes get 503 and /health must not
# claim the spool is "accepting writes"; its check warns and names the limit. Once InfluxDB is
# back and the backlog is delivered, segments are deleted, the check passes and writes get 204.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/relay_helpers.sh"
source "$here/servers.sh"
source "$here/upstream_helpers.sh"
unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; influxdb_stop; rm -rf "$work_dir"' EXIT

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
influxdb_execute 'CREATE DATABASE home'
dir=$work_dir/relay
relay_config_write "$dir" "    segment_bytes: 256KiB
    max_bytes: 2MiB
  upstreams:
    - name: influxdb
      url: $influxdb_url
      backoff_initial: 100ms
      backoff_max: 500ms"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
influxdb_stop

# Writes of about 30 KB until the spool refuses one.
accepted=0
for k in $(seq 1 200); do
    awk -v k="$k" 'BEGIN { for (i = 0; i < 1000; i++) printf "q,k=%d i=%di %d%03d000000\n", k, i, 1700000000 + k, i }' \
        >"$work_dir/body"
    http_request write "$relay_url/write?db=home" --data-binary @"$work_dir/body"
    [ "$http_code" = 204 ] || break
    accepted=$k
done
expect_equal "the full spool refuses a write with 503" \
    '503 {"error":"spool is full (spool.max_bytes reached); waiting for delivery"}' \
    "$http_code $http_body"
http_request full "$relay_url/health"
expect_equal "/health of a full spool: 200 (the upstream is the problem, not the relay)" 200 "$http_code"
spool_check=$(json_eval 'JSON.stringify(d.checks.find((c) => c.name === "spool"))' <<<"$http_body")
expect_equal "/health: the spool check says writes are refused and why" \
    '{"name":"spool","status":"warn","message":"refusing writes: spool is full (spool.max_bytes reached); waiting for delivery","sync":"always"}' \
    "$spool_check"

influxdb_restart
eventually_deadline=$((SECONDS + 60))
eventually "the backlog is delivered" 0 \
    relay_metric 'nebenkosten_upstream_backlog_records{upstream="influxdb"}'
# Cursors are stored every second: the delivered segments go within a second or two after that.
spool_check_get() {
    curl -s "$relay_url/health" | json_eval 'JSON.stringify(d.checks.find((c) => c.name === "spool"))'
}
eventually "/health after delivery: the spool check passes again" \
    '{"name":"spool","status":"pass","message":"accepting writes","sync":"always"}' spool_check_get
expect_equal "every accepted point is in InfluxDB" $((accepted * 1000)) \
    "$(influxdb_query home 'SELECT count(i) FROM q' | json_eval 'd.results[0].series[0].values[0][1]')"
# The spool check passes as soon as the spool is below max_bytes, which one cursor store can reach
# while the next one deletes the rest: wait for that too.
spool_below_1mib() {
    [ "$(relay_metric nebenkosten_spool_bytes)" -lt 1048576 ] && echo true || echo false
}
eventually_deadline=$((SECONDS + 20))
eventually "delivered segments are deleted" true spool_below_1mib
http_request again "$relay_url/write?db=home" --data-binary @"$work_dir/body"
expect_equal "writes are accepted again" 204 "$http_code"
relay_stop
expect_equal "clean exit" 0 "$relay_exit_status"
finish
