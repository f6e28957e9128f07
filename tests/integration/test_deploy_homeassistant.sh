#!/usr/bin/env bash
# deploy/homeassistant/configuration.yaml (api_version 1) against the relay and a real InfluxDB
# 1.x, driven by the client Home Assistant's influxdb integration uses: the influxdb Python package
# 5.3 (Debian's python3-influxdb), through homeassistant_v1.py, which does with it what the
# integration does (see there). The example parses (PyYAML, with Home Assistant's !secret tag)
# and names the relay's port and the raw database. Then, with the example's settings:
# - setup: write_points([]) sends "\n" (not an empty body) with Basic root:root (the client's
#   default user); anything but 204 makes Home Assistant retry its setup every minute;
# - state changes go out as batches of the client's line protocol (tags and fields sorted, floats
#   as Python's repr, nanosecond timestamps); they reach InfluxDB byte for byte and the stream
#   processor takes the input_number ones as meter readings;
# - the sensor platform's SHOW DATABASES; and its SELECTs through /query, with the client's
#   Accept: application/x-msgpack, epoch and chunked;
# - what Home Assistant makes of the relay's failures: a partly bad batch (400 and the relay's
#   error text: dropped, not retried, the good lines kept), wrong credentials with relay.auth
#   basic (401: setup retried), a disk below spool.min_free_bytes (503 with Retry-After:
#   retried by Home Assistant, not by the client).
# (api_version 2 is tests/clients/homeassistant_v2.test.mjs, with the official client library.)
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

# Debian's python3, where python3-influxdb is installed (a python3 earlier in PATH, e.g. pyenv's,
# does not see Debian's packages).
python=/usr/bin/python3
if ! "$python" -c 'import influxdb' 2>"$work_dir/import.err"; then
    check_fail "the influxdb Python client is installed (deploy/install-packages.sh: python3-influxdb)" \
        "$(cat "$work_dir/import.err")"
    finish
    exit
fi
driver=$REPO_DIR/tests/integration/homeassistant_v1.py

# ha_conf PORT [SETTINGS_JSON]: the example's influxdb: block with Home Assistant's host and
# port pointing at 127.0.0.1:PORT, and SETTINGS (e.g. username and password) added.
ha_conf() {
    "$python" -c '
import json, sys
c = json.loads(sys.argv[1])
c["host"], c["port"] = "127.0.0.1", int(sys.argv[2])
c.update(json.loads(sys.argv[3]) if len(sys.argv) > 3 else {})
print(json.dumps(c))' "$ha" "$@"
}
# ha_run NAME CONF COMMAND [ARGUMENT]: runs the driver, its JSON in $work_dir/NAME.json.
ha_run() {
    local name=$1
    shift
    "$python" "$driver" "$@" >"$work_dir/$name.json" 2>"$work_dir/$name.err" ||
        check_fail "homeassistant_v1.py $name runs" "$(cat "$work_dir/$name.err")"
}
# ha_get NAME EXPRESSION: a Python expression over the driver's JSON d (r: its last request).
ha_get() {
    "$python" -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = d["requests"][-1] if d["requests"] else {}
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))' "$work_dir/$1.json" "$2" 2>&1
}

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
expect_status "influxdb: CREATE DATABASE $database" 0 influxdb_create_database "$database"
# The stream processor's output goes there; without it the upstream pauses (404) and the raw
# readings queued behind wait with it.
expect_status "influxdb: CREATE DATABASE ${database}_processed" 0 influxdb_create_database "${database}_processed"
expect_status "influxdb: CREATE DATABASE scratch (for InfluxDB's own answers)" 0 influxdb_create_database scratch
dir=$work_dir/relay
upstreams="  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      backoff_initial: 100ms"
relay_stream_config_write "$dir" "$upstreams"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
conf=$(ha_conf "${relay_url##*:}")

ha_run setup "$conf" setup
expect_equal "setup: the write test passes (204)" 'ok 204' "$(ha_get setup 'd["outcome"] + " " + str(r["status"])')"
expect_equal "... it was POST /write?db=$database, body \"\\n\", Basic root:root, octet-stream, msgpack wanted" \
    "POST /write {\"db\": \"$database\"} \"\\n\" Basic cm9vdDpyb290 application/octet-stream application/x-msgpack" \
    "$(ha_get setup 'r["method"] + " " + r["path"] + " " + json.dumps(r["params"]) + " " + json.dumps(r["body"]) + " " + r["headers"]["Authorization"] + " " + r["headers"]["Content-Type"] + " " + r["headers"]["Accept"]')"
ha_run setup_influxdb "$(ha_conf "${influxdb_url##*:}")" setup
expect_equal "... and InfluxDB 1.x itself answers it the same" 'ok 204' \
    "$(ha_get setup_influxdb 'd["outcome"] + " " + str(r["status"])')"

# Two batches of state changes: a water meter (input_number, m³), a power sensor (W), a tiny gas
# flow (a float Python writes as 4e-05), a state that is no number (measurement "state", field
# state) and a binary_sensor, which the example's include: leaves out.
cat >"$work_dir/batch1.states" <<'JSON'
[{"entity_id": "input_number.haupt_wasser", "state": "842.137", "time_fired": "2024-11-27T06:00:00.123456+00:00",
  "attributes": {"initial": null, "editable": true, "min": 0.0, "max": 1000000.0, "step": 0.001, "mode": "box",
                 "unit_of_measurement": "m³", "icon": "mdi:water", "friendly_name": "Hauptwasserzähler"}},
 {"entity_id": "sensor.power_total", "state": "431.5", "time_fired": "2024-11-27T06:00:01+00:00",
  "attributes": {"state_class": "measurement", "unit_of_measurement": "W", "device_class": "power",
                 "friendly_name": "Leistung gesamt"}},
 {"entity_id": "sensor.gas_flow", "state": "0.00004", "time_fired": "2024-11-27T06:00:01.5+00:00",
  "attributes": {"unit_of_measurement": "m³/h", "friendly_name": "Gasfluss"}},
 {"entity_id": "sensor.washer_status", "state": "running", "time_fired": "2024-11-27T06:00:02+00:00",
  "attributes": {"friendly_name": "Waschmaschine", "options": ["idle", "running"]}},
 {"entity_id": "binary_sensor.front_door", "state": "on", "time_fired": "2024-11-27T06:00:02+00:00",
  "attributes": {"device_class": "door", "friendly_name": "Haustür"}}]
JSON
cat >"$work_dir/batch2.states" <<'JSON'
[{"entity_id": "input_number.haupt_wasser", "state": "842.361", "time_fired": "2024-11-28T06:00:00.654321+00:00",
  "attributes": {"initial": null, "editable": true, "min": 0.0, "max": 1000000.0, "step": 0.001, "mode": "box",
                 "unit_of_measurement": "m³", "icon": "mdi:water", "friendly_name": "Hauptwasserzähler"}},
 {"entity_id": "input_number.haupt_wasser", "state": "842.59", "time_fired": "2024-11-29T06:00:00+00:00",
  "attributes": {"initial": null, "editable": true, "min": 0.0, "max": 1000000.0, "step": 0.001, "mode": "box",
                 "unit_of_measurement": "m³", "icon": "mdi:water", "friendly_name": "Hauptwasserzähler"}}]
JSON
ha_run batch1 "$conf" states "$work_dir/batch1.states"
expect_equal "a batch of state changes: 204" 'ok 204' "$(ha_get batch1 'd["outcome"] + " " + str(r["status"])')"
expect_equal "... in the client's line protocol" \
    'm³,domain=input_number,entity_id=haupt_wasser initial_str="None",max=1000000.0,min=0.0,mode_str="box",step=0.001,value=842.137 1732687200123456000
W,domain=sensor,entity_id=power_total device_class_str="power",state_class_str="measurement",value=431.5 1732687201000000000
m³/h,domain=sensor,entity_id=gas_flow value=4e-05 1732687201500000000
state,domain=sensor,entity_id=washer_status options_str="['\''idle'\'', '\''running'\'']",state="running" 1732687202000000000
' "$(ha_get batch1 'r["body"]')
"
ha_run batch2 "$conf" states "$work_dir/batch2.states"
expect_equal "the next batch: 204" 'ok 204' "$(ha_get batch2 'd["outcome"] + " " + str(r["status"])')"

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
others=$(influxdb_query "$database" 'SELECT "value" FROM "m³/h"; SELECT "state" FROM "state"; SHOW MEASUREMENTS' |
    node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.stringify(JSON.parse(s).results.map(r => r.series[0].values))))')
expect_equal "... the gas flow's 4e-05, the washer's state, and nothing of the binary_sensor" \
    '[[[1732687201500000000,0.00004]],[[1732687202000000000,"running"]],[["W"],["m³"],["m³/h"],["state"]]]' "$others"

relay_stream_wait 3 || check_fail "the stream processor reads the three readings" "$(curl -s "$relay_url/metrics" | grep stream_readings)"
meter=$(curl -s "$relay_url/api/v1/meters/haupt_wasser")
expect_contains "the stream processor took the input_number entity as meter haupt_wasser" '"meter_id":"haupt_wasser"' "$meter"
expect_contains "... with its last reading" '842.59' "$meter"
expect_equal "... and not the sensor" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$relay_url/api/v1/meters/power_total")"

# The sensor platform (configuration.yaml's sensor: - platform: influxdb, with the same
# connection settings): its read test, then sensor updates through the relay's /query.
ha_run read_test "$conf" read_test
expect_equal "sensor setup: SHOW DATABASES; lists the database" "ok true" \
    "$(ha_get read_test 'd["outcome"] + " " + json.dumps("'"$database"'" in d["result"])')"
ha_run sensor_last "$conf" sensor '{"measurement": "\"m³\"", "field": "value", "group_function": "last", "where": "entity_id = '"'haupt_wasser'"'", "database": "'"$database"'"}'
expect_equal "a sensor (last value of the meter) reads 842.59 through the relay" 'ok 842.59' \
    "$(ha_get sensor_last 'd["outcome"] + " " + json.dumps(d["result"])')"
expect_equal "... GET /query with q and db, Basic root:root passed on; InfluxDB's msgpack answer comes back as such" \
    "GET /query {\"q\": \"select last(value) as value from \\\"m³\\\" where entity_id = 'haupt_wasser'\", \"db\": \"$database\"} 200 application/x-msgpack" \
    "$(ha_get sensor_last 'r["method"] + " " + r["path"] + " " + json.dumps(r["params"], ensure_ascii=False) + " " + str(r["status"]) + " " + r["response_headers"].get("Content-Type", "")')"
ha_run sensor_mean "$conf" sensor '{"measurement": "\"m³\"", "where": "entity_id = '"'haupt_wasser'"' and time >= '"'2024-11-28T00:00:00Z'"'", "database": "'"$database"'"}'
expect_equal "... and one with the default mean() over a time range" 'ok 842.4755' \
    "$(ha_get sensor_mean 'd["outcome"] + " " + json.dumps(round(d["result"], 6))')"
ha_run epoch "$conf" query '{"query": "SELECT value FROM \"m³\" WHERE entity_id = '"'haupt_wasser'"'", "database": "'"$database"'", "epoch": "ns"}'
expect_equal "client.query with epoch=ns: nanosecond times" \
    'ok [{"time": 1732687200123456000, "value": 842.137}, {"time": 1732773600654321000, "value": 842.361}, {"time": 1732860000000000000, "value": 842.59}] {"q": "SELECT value FROM \"m³\" WHERE entity_id = '"'haupt_wasser'"'", "db": "'"$database"'", "epoch": "ns"}' \
    "$(ha_get epoch 'd["outcome"] + " " + json.dumps(d["result"], ensure_ascii=False) + " " + json.dumps(r["params"], ensure_ascii=False)')"
# The client reads a chunked answer line by line as JSON only: asking for msgpack (its default)
# with chunk_size it fails on InfluxDB itself (msgpack ExtraData), so JSON is asked for here.
ha_run chunked "$conf" query '{"query": "SELECT value FROM \"m³\" WHERE entity_id = '"'haupt_wasser'"'", "database": "'"$database"'", "epoch": "ns", "chunked": true, "chunk_size": 2, "accept": "application/json"}'
expect_equal "... chunked=true, chunk_size=2: the relay streams InfluxDB's chunks through, one per line" \
    'ok [[{"time": 1732687200123456000, "value": 842.137}, {"time": 1732773600654321000, "value": 842.361}], [{"time": 1732860000000000000, "value": 842.59}]] {"q": "SELECT value FROM \"m³\" WHERE entity_id = '"'haupt_wasser'"'", "db": "'"$database"'", "epoch": "ns", "chunked": "true", "chunk_size": "2"}' \
    "$(ha_get chunked 'd["outcome"] + " " + json.dumps(d["result"], ensure_ascii=False) + " " + json.dumps(r["params"], ensure_ascii=False)')"
ha_run sensor_bad "$conf" sensor '{"measurement": "\"m³\"", "where": "", "database": "'"$database"'"}'
expect_equal "a sensor whose where: is empty: InfluxDB's 400 reaches Home Assistant as ValueError with its text" \
    'ValueError 400 400: {"error":"error parsing query: found EOF, expected identifier, string, number, bool at line 1, char 45"}' \
    "$(ha_get sensor_bad 'd["outcome"] + " " + str(d["error"]["code"]) + " " + d["error"]["message"]')"

# A batch with a line InfluxDB refuses (tags_attributes: [time] makes an attribute "time" the
# reserved tag key time): 400 with the relay's error text, so Home Assistant drops the batch
# without retrying it; the good reading is kept.
cat >"$work_dir/bad.states" <<'JSON'
[{"entity_id": "input_number.haupt_wasser", "state": "842.9", "time_fired": "2024-11-30T06:00:00+00:00",
  "attributes": {"unit_of_measurement": "m³"}},
 {"entity_id": "sensor.tide", "state": "1.2", "time_fired": "2024-11-30T06:00:00+00:00",
  "attributes": {"unit_of_measurement": "m", "time": "06:00"}}]
JSON
cat >"$work_dir/bad.expected" <<'TEXT'
{"error":"partial write: unable to parse 'm,domain=sensor,entity_id=tide,time=06:00 value=1.2 1732946400000000000': tag key \"time\" is reserved by InfluxDB: rename the tag dropped=1"}
TEXT
ha_run bad "$(ha_conf "${relay_url##*:}" '{"tags_attributes": ["time"]}')" states "$work_dir/bad.states"
expect_equal "a partly bad batch: ValueError (dropped, not retried), one request" 'ValueError 400 1' \
    "$(ha_get bad 'd["outcome"] + " " + str(d["error"]["code"]) + " " + str(len(d["requests"]))')"
expect_equal "... the client surfaces the relay's error text" \
    "400: $(cat "$work_dir/bad.expected")" "$(ha_get bad 'd["error"]["message"]')"
ha_run bad_influxdb "$(ha_conf "${influxdb_url##*:}" '{"tags_attributes": ["time"], "database": "scratch"}')" states "$work_dir/bad.states"
expect_equal "... as InfluxDB 1.x answers it (400, partial write)" 'ValueError 400 partial write:' \
    "$(ha_get bad_influxdb 'd["outcome"] + " " + str(d["error"]["code"]) + " " + json.loads(d["error"]["message"][5:])["error"][:14]')"
deadline=$((SECONDS + 30))
until [ "$(influxdb_query "$database" 'SELECT count(value) FROM "m³"' | grep -o '"values":\[\[[^]]*\]\]')" = '"values":[[0,4]]' ] ||
    [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
expect_equal "... and its good reading reaches InfluxDB" '"values":[[0,4]]' \
    "$(influxdb_query "$database" 'SELECT count(value) FROM "m³"' | grep -o '"values":\[\[[^]]*\]\]')"
relay_stop
expect_equal "the relay stops cleanly" 0 "$relay_exit_status"

# relay.auth basic with a user for Home Assistant (the example's commented username/password).
relay_stream_config_write "$dir" "  auth: basic
$upstreams"
printf 'RELAY_USERS=homeassistant:s3cret\n' >"$dir/secrets/relay.env"
chmod 600 "$dir/secrets/relay.env"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts with relay.auth basic"
    finish
    exit
fi
conf=$(ha_conf "${relay_url##*:}")
ha_run unauthorized "$conf" setup
expect_equal "auth basic, the example without username: setup gets 401, a ConnectionError (setup retried)" \
    'ConnectionError InfluxDBClientError 401 401: {"error":"authorization failed"} Basic realm="InfluxDB"' \
    "$(ha_get unauthorized 'd["outcome"] + " " + d["error"]["class"] + " " + str(d["error"]["code"]) + " " + d["error"]["message"] + " " + r["response_headers"].get("WWW-Authenticate", "")')"
ha_run unauthorized_read "$conf" read_test
expect_equal "... and the sensor platform's read test the same" \
    'ConnectionError 401 401: {"error":"authorization failed"}' \
    "$(ha_get unauthorized_read 'd["outcome"] + " " + str(d["error"]["code"]) + " " + d["error"]["message"]')"
conf=$(ha_conf "${relay_url##*:}" '{"username": "homeassistant", "password": "s3cret"}')
ha_run authorized "$conf" setup
expect_equal "... with username and password from RELAY_USERS: 204" 'ok 204' \
    "$(ha_get authorized 'd["outcome"] + " " + str(r["status"])')"
ha_run authorized_sensor "$conf" sensor '{"measurement": "\"m³\"", "group_function": "last", "where": "entity_id = '"'haupt_wasser'"'", "database": "'"$database"'"}'
expect_equal "... and its sensors read" 'ok 842.9' "$(ha_get authorized_sensor 'd["outcome"] + " " + json.dumps(d["result"])')"
relay_stop

# A disk below spool.min_free_bytes: 503 with Retry-After. The client raises at once (it retries
# only on connection errors); Home Assistant retries the batch 20 s later (it ignores
# Retry-After). The setup's empty write still passes: nothing is to be stored.
relay_stream_config_write "$dir" "    min_free_bytes: 1000000TiB
$upstreams"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts with a min_free_bytes beyond the disk"
    finish
    exit
fi
conf=$(ha_conf "${relay_url##*:}")
ha_run full_setup "$conf" setup
expect_equal "disk below the floor: setup still passes" 'ok 204' "$(ha_get full_setup 'd["outcome"] + " " + str(r["status"])')"
ha_run full "$conf" states "$work_dir/batch2.states"
expect_equal "... a batch: 503, InfluxDBServerError with the relay's JSON, a ConnectionError (retried), one request" \
    "ConnectionError InfluxDBServerError b'{\"error\":\"file system below spool.min_free_bytes or full\"}' 503 1" \
    "$(ha_get full 'd["outcome"] + " " + d["error"]["class"] + " " + d["error"]["message"] + " " + str(r["status"]) + " " + str(len(d["requests"]))')"
expect_equal "... with an integer Retry-After" ok "$(ha_get full '"ok" if r["response_headers"].get("Retry-After", "").isdigit() else r["response_headers"]')"
relay_stop
expect_equal "the relay stops cleanly" 0 "$relay_exit_status"
finish
