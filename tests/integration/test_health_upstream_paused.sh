#!/usr/bin/env bash
# A write to a database InfluxDB 1.6.7 does not have: /health names the upstream paused with
# InfluxDB's answer as the README's troubleshooting table shows it (one line, no trailing newline
# of the answer in the middle of the message), and the log line carries the same text.
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
dir=$work_dir/relay
relay_config_write "$dir" "  upstreams:
    - name: influxdb
      url: $influxdb_url
      pause_retry: 1s"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
http_request write "$relay_url/write?db=lampfi" --data-binary 'm v=1 1700000000000000000'
expect_equal "the relay takes the write" 204 "$http_code"
upstream_check_message() {
    curl -s "$relay_url/health" |
        json_eval 'd.checks.find((c) => c.name === "upstream:influxdb").message'
}
eventually_deadline=$((SECONDS + 20))
eventually "/health: paused, with InfluxDB's answer on one line" \
    'paused: HTTP 404: {"error":"database not found: \"lampfi\""}; 1 records waiting' \
    upstream_check_message
expect_contains "the log names the same answer" \
    '"error":"HTTP 404: {\"error\":\"database not found: \\\"lampfi\\\"\"}"}' "$(cat "$relay_log")"
influxdb_execute 'CREATE DATABASE lampfi'
eventually_deadline=$((SECONDS + 20))
eventually "delivered once the database exists" 'delivering; 0 records waiting' upstream_check_message
relay_stop
expect_equal "clean exit" 0 "$relay_exit_status"

# The upstream renamed: the old name's cursor keeps every later segment on disk, and a spool that
# fills for that reason must say so where operators look, not only in one log line at start.
sed -i 's/- name: influxdb/- name: influx/' "$dir/config.yaml"
if relay_start "$dir"; then
    spool_check_get() {
        curl -s "$relay_url/health" | json_eval 'JSON.stringify(d.checks.find((c) => c.name === "spool"))'
    }
    expect_equal "/health: the spool check names the cursor of no configured upstream" \
        '{"name":"spool","status":"warn","message":"accepting writes; the cursor of \"influxdb\", read by no configured upstream or stream processor, keeps spool segments from being deleted: if it is gone for good, stop the relay and delete its cursor file","sync":"always"}' \
        "$(spool_check_get)"
    relay_stop
else
    check_fail "meter-relay starts with the upstream renamed"
fi
finish
