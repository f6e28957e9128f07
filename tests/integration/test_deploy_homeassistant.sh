#!/usr/bin/env bash
# deploy/homeassistant/configuration.yaml (api_version 1) against the relay and a real InfluxDB
# 1.x: the file parses (PyYAML, with Home Assistant's !secret tag) and names the relay's port and
# the raw database; then exactly what Home Assistant's influxdb integration sends with it (the
# influxdb Python client 5.3): at setup an empty POST /write?db=lampfi with Basic root:root (the
# client's default user) that must answer 204 or Home Assistant retries its setup forever; then
# its batches of state changes in the client's line protocol (tags and fields sorted, floats as
# Python's repr, nanosecond timestamps). The readings reach InfluxDB byte for byte and the
# stream processor takes the input_number ones as meter readings. (api_version 2 is
# tests/clients/homeassistant_v2.test.mjs, with the official client library.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/servers.sh"
unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; influxdb_stop; rm -rf "$work_dir"' EXIT

example=$REPO_DIR/deploy/homeassistant/configuration.yaml
ha_json() {
    python3 -c '
import json, sys, yaml
yaml.SafeLoader.add_constructor("!secret", lambda loader, node: {"secret": loader.construct_scalar(node)})
print(json.dumps(yaml.safe_load(open(sys.argv[1]))["influxdb"]))' "$1"
}
if ! ha=$(ha_json "$example" 2>&1); then
    check_fail "the example parses as YAML" "$ha"
    finish
    exit
fi
fields=$(node -e 'const c = JSON.parse(process.argv[1]);
    console.log(String(c.api_version), c.port, c.ssl, c.database, c.token === undefined, (c.include.domains || []).join(","))' "$ha")
expect_equal "api_version 1, the relay's port, http, the raw database, no token, input_number included" \
    "1 8087 false lampfi true input_number,sensor" "$fields"
database=$(node -e 'console.log(JSON.parse(process.argv[1]).database)' "$ha")
raw_default=$("$BIN_DIR/meter-relay" check-config -c "$REPO_DIR/config/config.yaml" 2>/dev/null |
    sed -n "s/^  bucket_raw: *['\"]\{0,1\}\([^'\"]*\).*/\1/p" | head -n 1)
expect_equal "... the database is the example configuration's influxdb.bucket_raw" "$raw_default" "$database"
v2=$(ha_json "$REPO_DIR/deploy/homeassistant/configuration.v2.yaml" 2>&1)
expect_equal "configuration.v2.yaml parses: api_version 2, token from secrets, org and bucket" \
    '2 {"secret":"relay_token"} home lampfi' \
    "$(node -e 'const c = JSON.parse(process.argv[1]); console.log(String(c.api_version), JSON.stringify(c.token), c.organization, c.bucket)' "$v2")"

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
expect_status "influxdb: CREATE DATABASE $database" 0 influxdb_create_database "$database"
dir=$work_dir/relay
relay_stream_config_write "$dir" "  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      backoff_initial: 100ms"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
# Home Assistant's URL is http://<host>:<port>; the relay's port replaces the example's here.
base=$relay_url

# The influxdb Python client's request: params db (and precision when configured), Basic auth with
# its default user root/root, these headers.
ha_write() { # BODY_FILE
    curl -s -o "$work_dir/write.body" -w '%{http_code}' -XPOST -u root:root \
        -H 'Content-Type: application/octet-stream' -H 'Accept: text/plain' \
        -H 'User-Agent: python-requests/2.31.0' --data-binary "@$1" "$base/write?db=$database"
}
: >"$work_dir/empty"
expect_equal "setup: the empty write answers 204 (as InfluxDB 1.x does)" 204 "$(ha_write "$work_dir/empty")"
expect_equal "... and InfluxDB 1.x itself answers it the same" 204 \
    "$(curl -s -o /dev/null -w '%{http_code}' -XPOST -u root:root -H 'Content-Type: application/octet-stream' \
        --data-binary '' "$influxdb_url/write?db=$database")"

# Two batches of state changes: a water meter (input_number, m³), a sensor (W) and a state with
# no number (Home Assistant's "state" field). Attributes per the example's ignore_attributes.
cat >"$work_dir/batch1.lp" <<'LP'
m³,domain=input_number,entity_id=haupt_wasser initial_str="None",max=1000000.0,min=0.0,mode_str="box",step=0.001,value=842.137 1732687200123456000
W,domain=sensor,entity_id=power_total device_class_str="power",state_class_str="measurement",value=431.5 1732687201000000000
state,domain=binary_sensor,entity_id=front_door device_class_str="door",state="on",value=1.0 1732687202000000000
LP
cat >"$work_dir/batch2.lp" <<'LP'
m³,domain=input_number,entity_id=haupt_wasser initial_str="None",max=1000000.0,min=0.0,mode_str="box",step=0.001,value=842.361 1732773600654321000
m³,domain=input_number,entity_id=haupt_wasser initial_str="None",max=1000000.0,min=0.0,mode_str="box",step=0.001,value=842.59 1732860000000000000
LP
expect_equal "a batch of state changes: 204" 204 "$(ha_write "$work_dir/batch1.lp")"
expect_equal "the next batch: 204" 204 "$(ha_write "$work_dir/batch2.lp")"

deadline=$((SECONDS + 30))
while :; do
    stored=$(influxdb_query "$database" 'SELECT * FROM "m³" WHERE entity_id = '"'haupt_wasser'" |
        node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
            const r = JSON.parse(s).results[0]; if (!r.series) return console.log("none");
            const cols = r.series[0].columns;
            console.log(r.series[0].values.map(v => `${v[0]}:${v[cols.indexOf("value")]}:${v[cols.indexOf("mode_str")]}`).join(" ")); })')
    [ "$stored" != none ] && [ "$(wc -w <<<"$stored")" -ge 3 ] && break
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.2
done
expect_equal "InfluxDB has the meter's readings with their attributes" \
    "1732687200123456000:842.137:box 1732773600654321000:842.361:box 1732860000000000000:842.59:box" "$stored"
sensor=$(influxdb_query "$database" 'SELECT "value", "device_class_str" FROM "W"' |
    node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.stringify(JSON.parse(s).results[0].series[0].values)))')
expect_equal "... and the sensor's" '[[1732687201000000000,431.5,"power"]]' "$sensor"

relay_stream_wait 3 || check_fail "the stream processor reads the three readings" "$(curl -s "$relay_url/metrics" | grep stream_readings)"
meter=$(curl -s "$relay_url/api/v1/meters/haupt_wasser")
expect_contains "the stream processor took the input_number entity as meter haupt_wasser" '"meter_id":"haupt_wasser"' "$meter"
expect_contains "... with its last reading" '842.59' "$meter"
expect_equal "... and not the sensor" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$relay_url/api/v1/meters/power_total")"
relay_stop
expect_equal "the relay stops cleanly" 0 "$relay_exit_status"
finish
