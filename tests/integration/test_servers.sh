#!/usr/bin/env bash
# servers.sh against the real influxd and victoria-metrics: both start on picked ports, keep what
# is written with exact values and timestamps (pinning down VictoriaMetrics' line-protocol
# mapping that servers.sh documents), InfluxDB's data survives influxdb_restart on the same URL,
# and the stop functions leave no process behind.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/servers.sh"

trap 'influxdb_stop; victoria_stop; rm -rf "$work_dir"' EXIT
if ! influxdb_start "$work_dir/influxdb" || ! victoria_start "$work_dir/victoria"; then
    check_fail "influxd and victoria-metrics start"
    finish
    exit
fi
check_pass "influxd ($influxdb_url) and victoria-metrics ($victoria_url) start"
if port_listened_by "$influxdb_rpc_port" "$influxdb_pid"; then
    check_pass "influxd's RPC port is the picked one, not 8088"
else
    check_fail "influxd's RPC port is the picked one, not 8088" \
        "influxd does not listen on $influxdb_rpc_port"
fi

# write NAME URL BODY: POSTs line protocol; curl prints the answer's body, then its status.
write() {
    expect_equal "$1: 204, no body" 204 \
        "$(curl -s -w '%{http_code}' -XPOST "$2" --data-binary "$3")"
}

# InfluxDB keeps nanoseconds; the 1973 point checks that old timestamps are kept.
expect_status "influxdb_create_database" 0 influxdb_create_database x
lines=$'power,room=kitchen watts=12.5,volts=230i 1700000000123456789\nenergy value=1 100000000000000000'
write "influxdb /write" "$influxdb_url/write?db=x&precision=ns" "$lines"
power_expected='{"results":[{"statement_id":0,"series":[{"name":"power","columns":["time","room","volts","watts"],"values":[[1700000000123456789,"kitchen",230,12.5]]}]}]}'
energy_expected='{"results":[{"statement_id":0,"series":[{"name":"energy","columns":["time","value"],"values":[[100000000000000000,1]]}]}]}'
expect_equal "influxdb: power point" "$power_expected" "$(influxdb_query x 'SELECT * FROM power')"
expect_equal "influxdb: 1973 point" "$energy_expected" "$(influxdb_query x 'SELECT * FROM energy')"

# VictoriaMetrics: org and bucket of a v2 write become no label, db of a v1 write does; export
# has milliseconds, truncated.
write "victoria /api/v2/write" "$victoria_url/api/v2/write?org=o&bucket=b&precision=ns" \
    'gas,meter=m1 value=7.25 1700000001987654321'
write "victoria /write" "$victoria_url/write?db=x" "$lines"
victoria_expected='{"metric":{"__name__":"energy_value","db":"x"},"values":[1],"timestamps":[100000000000]}
{"metric":{"__name__":"gas_value","meter":"m1"},"values":[7.25],"timestamps":[1700000001987]}
{"metric":{"__name__":"power_volts","db":"x","room":"kitchen"},"values":[230],"timestamps":[1700000000123]}
{"metric":{"__name__":"power_watts","db":"x","room":"kitchen"},"values":[12.5],"timestamps":[1700000000123]}'
expect_equal "victoria: series, labels, values, millisecond timestamps" "$victoria_expected" \
    "$(victoria_export '{__name__=~"power_.*|gas_value|energy_value"}' | LC_ALL=C sort)"

old_pid=$influxdb_pid
old_url=$influxdb_url
if influxdb_restart; then check_pass "influxdb_restart"; else check_fail "influxdb_restart"; fi
expect_equal "restart: same URL" "$old_url" "$influxdb_url"
if process_running "$old_pid"; then
    check_fail "restart: the old influxd has exited" "pid $old_pid still runs"
else
    check_pass "restart: the old influxd has exited"
fi
expect_equal "restart: power point survived" "$power_expected" \
    "$(influxdb_query x 'SELECT * FROM power')"
expect_equal "restart: 1973 point survived" "$energy_expected" \
    "$(influxdb_query x 'SELECT * FROM energy')"

pids="$influxdb_pid $victoria_pid"
influxdb_stop
victoria_stop
influxdb_stop
victoria_stop
still_running=""
for pid in $pids; do process_running "$pid" && still_running+=" $pid"; done
expect_equal "stop (twice): no server process remains" "" "$still_running"
finish
