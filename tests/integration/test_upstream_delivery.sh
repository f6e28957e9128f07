#!/usr/bin/env bash
# Upstream delivery into real servers at the same time: InfluxDB 1.x as a v1 upstream and
# VictoriaMetrics' /api/v2/write as a v2 upstream. Points written to the relay with curl (v1 and
# v2 endpoints, plain and gzip, with and without timestamps, three databases and a retention
# policy) are read back from both servers with exact values and times; a line without a timestamp
# has the relay's receive time on both; /metrics counts them sent and the backlog returns to 0.
#   DELIVERY_WAIT  seconds the relay gets to deliver everything (default 20)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/servers.sh"
source "$(dirname "$0")/upstream_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; influxdb_stop; victoria_stop; rm -rf "$work_dir"' EXIT
delivery_wait=${DELIVERY_WAIT:-20}

if ! influxdb_start "$work_dir/influxdb" || ! victoria_start "$work_dir/victoria"; then
    check_fail "influxd and victoria-metrics start"
    finish
    exit
fi
# InfluxDB 1.x answers a write to a missing database with 404 and to a missing retention policy
# with 500; both would only stall delivery here.
for statement in 'CREATE DATABASE home' 'CREATE DATABASE garden' 'CREATE DATABASE cellar' \
    'CREATE RETENTION POLICY rp1 ON home DURATION INF REPLICATION 1'; do
    expect_status "influxdb: $statement" 0 influxdb_execute "$statement"
done

# Short retry intervals: a delivery that needs a retry still arrives within the wait.
dir=$work_dir/relay
relay_config_write "$dir" "  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      backoff_initial: 100ms
      backoff_max: 1s
      pause_retry: 1s
    - name: victoria
      url: $victoria_url
      api: v2
      org: home-org
      credentials: victoria.env
      backoff_initial: 100ms
      backoff_max: 1s
      pause_retry: 1s"
printf 'INFLUX_TOKEN=victoria-token\n' >"$dir/secrets/victoria.env"
chmod 600 "$dir/secrets/victoria.env"
expect_status "check-config accepts both upstreams" 0 \
    "$BIN_DIR/meter-relay" check-config -c "$dir/config.yaml"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi

# relay_write DESCRIPTION PATH BODY [gzip]: POSTs BODY to the relay, expects 204.
relay_write() {
    local description=$1 path=$2 body=$3 encoding=()
    printf '%s\n' "$body" >"$work_dir/body"
    if [ "${4:-}" = gzip ]; then
        gzip -c "$work_dir/body" >"$work_dir/body.gz" && mv "$work_dir/body.gz" "$work_dir/body"
        encoding=(-H 'Content-Encoding: gzip')
    fi
    http_request write -XPOST "${encoding[@]}" --data-binary "@$work_dir/body" "$relay_url$path"
    expect_equal "relay accepts $description" "204 " "$http_code $http_body"
}

relay_write "v1, home, ns, plain" "/write?db=home&precision=ns" \
    $'power,room=kitchen watts=12.5,volts=230i 1700000000123456789\nmeter,id=main\\ hall value=12345.678,note="say \\"hi\\"" 1700000000500000000'
relay_write "v1, garden, s, gzip" "/write?db=garden&precision=s" \
    'water,meter=garden liters=42i 1700000100' gzip
relay_write "v1, home/rp1, no timestamp" "/write?db=home&rp=rp1" 'temp,sensor=t1 celsius=21.5'
relay_write "v2, garden, ns, plain" "/api/v2/write?org=o&bucket=garden&precision=ns" \
    'gas,meter=m1 value=7.25 1700000001987654321'
relay_write "v2, bucket home/rp1, ms, gzip" "/api/v2/write?org=o&bucket=home%2Frp1&precision=ms" \
    'heat,zone=z1 kwh=3.5,on=true 1700000002123' gzip
relay_write "v2, garden, no timestamp" "/api/v2/write?org=o&bucket=garden" \
    'soil,bed=b1 moisture=0.375'
relay_write "v1, cellar, two lines" "/write?db=cellar" \
    $'boiler,unit=a temp=55i 1700000003000000000\nboiler,unit=b temp=48i 1700000003000000001'
records_written=7
lines_written=9

# The relay stamps lines without a timestamp with its receive time; both servers must get that.
temp_ns=$(spool_timestamp "$dir" 'temp,sensor=t1 celsius=21.5')
soil_ns=$(spool_timestamp "$dir" 'soil,bed=b1 moisture=0.375')
expect_equal "relay stamped the lines without timestamp (ns)" "19 19" "${#temp_ns} ${#soil_ns}"

# query DB STATEMENT: what InfluxDB holds (polled until it holds what is expected).
query() { influxdb_query "$1" "$2"; }
result() { echo "{\"results\":[{\"statement_id\":0,\"series\":[$1]}]}"; }

eventually_deadline=$((SECONDS + delivery_wait))
echo "  (waiting up to ${delivery_wait} s for delivery)"
eventually "influxdb: home.autogen.power" \
    "$(result '{"name":"power","columns":["time","room","volts","watts"],"values":[[1700000000123456789,"kitchen",230,12.5]]}')" \
    query home 'SELECT * FROM "home"."autogen"."power"'
eventually "influxdb: home.autogen.meter, escaped tag and string field" \
    "$(result '{"name":"meter","columns":["time","id","note","value"],"values":[[1700000000500000000,"main hall","say \"hi\"",12345.678]]}')" \
    query home 'SELECT * FROM "home"."autogen"."meter"'
eventually "influxdb: garden.water, gzip, precision s" \
    "$(result '{"name":"water","columns":["time","liters","meter"],"values":[[1700000100000000000,42,"garden"]]}')" \
    query garden 'SELECT * FROM water'
eventually "influxdb: home.rp1.temp, relay's receive time" \
    "$(result "{\"name\":\"temp\",\"columns\":[\"time\",\"celsius\",\"sensor\"],\"values\":[[$temp_ns,21.5,\"t1\"]]}")" \
    query home 'SELECT * FROM "home"."rp1"."temp"'
eventually "influxdb: garden.gas from a v2 write" \
    "$(result '{"name":"gas","columns":["time","meter","value"],"values":[[1700000001987654321,"m1",7.25]]}')" \
    query garden 'SELECT * FROM gas'
eventually "influxdb: v2 bucket home/rp1 -> db home, rp rp1" \
    "$(result '{"name":"heat","columns":["time","kwh","on","zone"],"values":[[1700000002123000000,3.5,true,"z1"]]}')" \
    query home 'SELECT * FROM "home"."rp1"."heat"'
eventually "influxdb: garden.soil, relay's receive time" \
    "$(result "{\"name\":\"soil\",\"columns\":[\"time\",\"bed\",\"moisture\"],\"values\":[[$soil_ns,\"b1\",0.375]]}")" \
    query garden 'SELECT * FROM soil'
eventually "influxdb: cellar.boiler, both lines" \
    "$(result '{"name":"boiler","columns":["time","temp","unit"],"values":[[1700000003000000000,55,"a"],[1700000003000000001,48,"b"]]}')" \
    query cellar 'SELECT * FROM boiler'
influxdb_series() {
    local db
    for db in home garden cellar; do query "$db" 'SHOW SERIES'; done
}
eventually "influxdb: no other series" \
    "$(result '{"columns":["key"],"values":[["heat,zone=z1"],["meter,id=main\\ hall"],["power,room=kitchen"],["temp,sensor=t1"]]}')
$(result '{"columns":["key"],"values":[["gas,meter=m1"],["soil,bed=b1"],["water,meter=garden"]]}')
$(result '{"columns":["key"],"values":[["boiler,unit=a"],["boiler,unit=b"]]}')" \
    influxdb_series

# VictoriaMetrics: one series per field, no label for org or bucket (so no db label shows that
# the v2 endpoint was used), milliseconds truncated, strings as 0, true as 1.
victoria_expected=$(LC_ALL=C sort <<EXPECTED
{"metric":{"__name__":"power_watts","room":"kitchen"},"values":[12.5],"timestamps":[1700000000123]}
{"metric":{"__name__":"power_volts","room":"kitchen"},"values":[230],"timestamps":[1700000000123]}
{"metric":{"__name__":"meter_value","id":"main hall"},"values":[12345.678],"timestamps":[1700000000500]}
{"metric":{"__name__":"meter_note","id":"main hall"},"values":[0],"timestamps":[1700000000500]}
{"metric":{"__name__":"water_liters","meter":"garden"},"values":[42],"timestamps":[1700000100000]}
{"metric":{"__name__":"temp_celsius","sensor":"t1"},"values":[21.5],"timestamps":[${temp_ns:0:13}]}
{"metric":{"__name__":"gas_value","meter":"m1"},"values":[7.25],"timestamps":[1700000001987]}
{"metric":{"__name__":"heat_kwh","zone":"z1"},"values":[3.5],"timestamps":[1700000002123]}
{"metric":{"__name__":"heat_on","zone":"z1"},"values":[1],"timestamps":[1700000002123]}
{"metric":{"__name__":"soil_moisture","bed":"b1"},"values":[0.375],"timestamps":[${soil_ns:0:13}]}
{"metric":{"__name__":"boiler_temp","unit":"a"},"values":[55],"timestamps":[1700000003000]}
{"metric":{"__name__":"boiler_temp","unit":"b"},"values":[48],"timestamps":[1700000003000]}
EXPECTED
)
victoria_series() {
    victoria_export '{__name__=~"(power|meter|water|temp|gas|heat|soil|boiler)_.*"}' | LC_ALL=C sort
}
eventually "victoria: every series, value and millisecond timestamp" "$victoria_expected" \
    victoria_series

# Read back from each server rather than the spool: the same instant on both.
influxdb_time() { influxdb_query "$1" "SELECT * FROM $2" | json_eval 'd.results[0].series?.[0].values[0][0] ?? "none"'; }
victoria_time() { victoria_export "$1" | json_eval 'd.timestamps[0]'; }
influx_ns=$(influxdb_time home '"home"."rp1"."temp"')
expect_equal "line without timestamp (v1): same time on both servers (ms)" \
    "$(victoria_time temp_celsius)" "${influx_ns:0:13}"
influx_ns=$(influxdb_time garden soil)
expect_equal "line without timestamp (v2): same time on both servers (ms)" \
    "$(victoria_time soil_moisture)" "${influx_ns:0:13}"

metrics_expected() {
    cat <<METRICS
nebenkosten_upstream_state{upstream="$1",state="ok"} 1
nebenkosten_upstream_state{upstream="$1",state="backoff"} 0
nebenkosten_upstream_state{upstream="$1",state="paused"} 0
nebenkosten_upstream_sent_records_total{upstream="$1"} $records_written
nebenkosten_upstream_sent_lines_total{upstream="$1"} $lines_written
nebenkosten_upstream_retries_total{upstream="$1"} 0
nebenkosten_upstream_dead_lettered_records_total{upstream="$1"} 0
nebenkosten_upstream_backlog_records{upstream="$1"} 0
nebenkosten_upstream_backlog_bytes{upstream="$1"} 0
nebenkosten_upstream_oldest_unsent_seconds{upstream="$1"} 0
METRICS
}
for upstream in influxdb victoria; do
    eventually "/metrics: $upstream ok, everything sent once, backlog 0" \
        "$(metrics_expected "$upstream")" relay_upstream_metrics "$upstream"
    expect_equal "/health: check upstream:$upstream passes" pass \
        "$(curl -s "$relay_url/health" | json_eval "d.checks.find((c) => c.name === 'upstream:$upstream')?.status ?? 'absent'")"
done

relay_stop
expect_equal "relay exits 0 on SIGTERM" 0 "$relay_exit_status"
finish
