#!/usr/bin/env bash
# The stream processor end to end with a real InfluxDB 1.x (issue 5): readings of three meters
# (strom with a transient 0, wasser with a reset, kaltwasser read by hand with a typo) written
# through the relay land in lampfi, and
# the processed series the stream derives from them are queried back from lampfi_processed with
# the values worked out by hand below. Also the stream's HTTP API, /health, /metrics, and the
# checkpoint at shutdown.
#   DELIVERY_WAIT  seconds the relay gets to deliver everything (default 20)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/servers.sh"
source "$(dirname "$0")/upstream_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; influxdb_stop; rm -rf "$work_dir"' EXIT
delivery_wait=${DELIVERY_WAIT:-20}

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
# InfluxDB 1.x answers a write to a missing database with 404: delivery would only stall.
for database in lampfi lampfi_processed; do
    expect_status "influxdb: CREATE DATABASE $database" 0 influxdb_create_database "$database"
done

dir=$work_dir/relay
relay_stream_config_write "$dir" "  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      backoff_initial: 100ms
      backoff_max: 1s
      pause_retry: 1s"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi

# Readings in time order, in four requests, timestamps in seconds (the relay makes them ns):
#            2024-02-27 12:00  02-28 12:00  02-28 18:00  02-29 04:00  02-29 06:00  02-29 12:00  02-29 18:00  03-01 06:00  03-01 18:00
#   strom    100               110                       116                       0            125                       152
#   wasser   500               502          3                         4                                      6
# strom: the 0 is followed by 125, back above the old level: a glitch, discarded.
# wasser: 3 after 502 is a drop to near zero; 4 follows, not back: a reset at 02-28 18:00, offset
#   502 - 3 = 499, so the register reads 502, 503, 505 from there.
# Registers at the midnights (linear between the applied readings around each):
#   02-28: strom 100 + 10 x 12/24 = 105             wasser 500 + 2 x 12/24 = 501
#   02-29: strom 110 + 6 x 12/16 = 114.5            wasser 502 + 1 x 6/12 = 502.5
#   03-01: strom 125 + 27 x 6/24 = 131.75           wasser 503 + 2 x 18/24 = 504.5
# Consumption: 0 on a meter's first midnight, then the differences: strom 9.5, 17.25; wasser 1.5,
# 2. Monthly: 02-29 is February's last day (2024 is a leap year): strom 114.5, wasser 502.5.
# kaltwasser, typed into Home Assistant: 1357 (02-27 12:00), 13595 (02-28 12:00, a digit too many),
# 1359.5 (02-28 18:00, the correction), 1362.5 (02-29 18:00), 1365.5 (03-01 18:00). 13595 first
# makes 02-28's register 7476; the correction is a drop held until 1362.5 decides it, and as it is
# above 1357 the typo was the outlier: a glitch, and 02-28 is written again, as if it had never come:
#   02-28: 1357 + 2.5 x 12/30 = 1358   02-29: 1359.5 + 3 x 6/24 = 1360.25   03-01: 1363.25
# consumption 0, 2.25, 3; monthly 1360.25. InfluxDB keeps the last point of a series and time.
requests=(
    $'kWh,domain=input_number,entity_id=strom value=100 1709035200\nm³,domain=input_number,entity_id=wasser value=500 1709035200\nm³,domain=input_number,entity_id=kaltwasser value=1357 1709035200'
    $'kWh,domain=input_number,entity_id=strom value=110 1709121600\nm³,domain=input_number,entity_id=wasser value=502 1709121600\nm³,domain=input_number,entity_id=kaltwasser value=13595 1709121600\nm³,domain=input_number,entity_id=wasser value=3 1709143200\nm³,domain=input_number,entity_id=kaltwasser value=1359.5 1709143200'
    $'kWh,domain=input_number,entity_id=strom value=116 1709179200\nm³,domain=input_number,entity_id=wasser value=4 1709186400\nkWh,domain=input_number,entity_id=strom value=0 1709208000\nkWh,domain=input_number,entity_id=strom value=125 1709229600\nm³,domain=input_number,entity_id=kaltwasser value=1362.5 1709229600'
    $'m³,domain=input_number,entity_id=wasser value=6 1709272800\nkWh,domain=input_number,entity_id=strom value=152 1709316000\nm³,domain=input_number,entity_id=kaltwasser value=1365.5 1709316000'
)
readings=16
for body in "${requests[@]}"; do
    http_request write -XPOST --data-binary "$body" "$relay_url/write?db=lampfi&precision=s"
    expect_equal "relay accepts $(wc -l <<<"$body") readings" "204 " "$http_code $http_body"
done
relay_stream_wait "$readings" || check_fail "the stream applies all $readings readings"

query() { influxdb_query "$1" "$2"; }
result() { echo "{\"results\":[{\"statement_id\":0,\"series\":[$1]}]}"; }
values() { result "{\"name\":\"$1\",\"columns\":[\"time\",\"value\"],\"values\":[$2]}"; }

eventually_deadline=$((SECONDS + delivery_wait))
echo "  (waiting up to ${delivery_wait} s for delivery)"
eventually "lampfi: strom's raw readings, the 0 too" \
    "$(values kWh '[1709035200000000000,100],[1709121600000000000,110],[1709179200000000000,116],[1709208000000000000,0],[1709229600000000000,125],[1709316000000000000,152]')" \
    query lampfi "SELECT value FROM \"kWh\" WHERE entity_id='strom'"
eventually "lampfi: wasser's raw readings" \
    "$(values m³ '[1709035200000000000,500],[1709121600000000000,502],[1709143200000000000,3],[1709186400000000000,4],[1709272800000000000,6]')" \
    query lampfi "SELECT value FROM \"m³\" WHERE entity_id='wasser'"
eventually "lampfi_processed: strom's daily registers" \
    "$(values meter_interpolated_daily '[1709078400000000000,105],[1709164800000000000,114.5],[1709251200000000000,131.75]')" \
    query lampfi_processed "SELECT value FROM meter_interpolated_daily WHERE meter_id='strom'"
eventually "lampfi_processed: wasser's daily registers, with the offset after the reset" \
    "$(values meter_interpolated_daily '[1709078400000000000,501],[1709164800000000000,502.5],[1709251200000000000,504.5]')" \
    query lampfi_processed "SELECT value FROM meter_interpolated_daily WHERE meter_id='wasser'"
eventually "lampfi_processed: kaltwasser's daily registers, the typo's written over" \
    "$(values meter_interpolated_daily '[1709078400000000000,1358],[1709164800000000000,1360.25],[1709251200000000000,1363.25]')" \
    query lampfi_processed "SELECT value FROM meter_interpolated_daily WHERE meter_id='kaltwasser'"
eventually "lampfi_processed: kaltwasser's consumption, the typo not booked" \
    "$(values meter_consumption '[1709078400000000000,0],[1709164800000000000,2.25],[1709251200000000000,3]')" \
    query lampfi_processed "SELECT value FROM meter_consumption WHERE meter_id='kaltwasser'"
eventually "lampfi_processed: strom's consumption, the transient 0 not booked" \
    "$(values meter_consumption '[1709078400000000000,0],[1709164800000000000,9.5],[1709251200000000000,17.25]')" \
    query lampfi_processed "SELECT value FROM meter_consumption WHERE meter_id='strom'"
eventually "lampfi_processed: wasser's consumption across the reset" \
    "$(values meter_consumption '[1709078400000000000,0],[1709164800000000000,1.5],[1709251200000000000,2]')" \
    query lampfi_processed "SELECT value FROM meter_consumption WHERE meter_id='wasser'"
eventually "lampfi_processed: February's monthly values" \
    "$(result '{"name":"meter_interpolated_monthly","columns":["time","meter_id","value"],"values":[[1709164800000000000,"kaltwasser",1360.25],[1709164800000000000,"strom",114.5],[1709164800000000000,"wasser",502.5]]}')" \
    query lampfi_processed "SELECT meter_id, value FROM meter_interpolated_monthly"
eventually "lampfi_processed: the glitches and the reset events" \
    "$(result '{"name":"meter_event","columns":["time","meter_id","kind","value","detail"],"values":[[1709121600000000000,"kaltwasser","glitch",13595,"rose from 1357 to 13595, then the readings fell back to 1359.5: an outlier (a typo or a misread), discarded"],[1709143200000000000,"wasser","reset",3,"fell from 502 to 3: register offset now 499"],[1709208000000000000,"strom","glitch",0,"fell from 116 to 0 and came back to 125: discarded"]]}')" \
    query lampfi_processed "SELECT meter_id, kind, value, detail FROM meter_event"
measurements() { result "{\"name\":\"measurements\",\"columns\":[\"name\"],\"values\":[$1]}"; }
eventually "lampfi_processed: nothing else (no anomaly from 3 days)" \
    "$(measurements '["meter_consumption"],["meter_event"],["meter_interpolated_daily"],["meter_interpolated_monthly"]')" \
    query lampfi_processed 'SHOW MEASUREMENTS'
eventually "lampfi: only the raw readings" "$(measurements '["kWh"],["m³"]')" \
    query lampfi 'SHOW MEASUREMENTS'

# The stream's view of the meters.
http_request meters "$relay_url/api/v1/meters"
expect_equal "GET /api/v1/meters: 200 JSON" "200 application/json" \
    "$http_code $(sed -n 's/^Content-Type: *//Ip' <<<"$http_headers")"
# shellcheck disable=SC2016 # a JavaScript template literal
expect_equal "GET /api/v1/meters: the meters with their last reading and offset" \
    "3 kaltwasser 2024-03-01T18:00:00Z 1365.5 1365.5 0; strom 2024-03-01T18:00:00Z 152 152 0; wasser 2024-03-01T06:00:00Z 6 505 499" \
    "$(json_eval 'd.count + " " + d.meters.map((m) => `${m.meter_id} ${m.last_reading.time} ${m.last_reading.raw} ${m.last_reading.value} ${m.offset}`).sort().join("; ")' <<<"$http_body")"
http_request meter "$relay_url/api/v1/meters/wasser"
# shellcheck disable=SC2016 # a JavaScript template literal
# Its readings are of 2024: nothing is known of today's consumption (the unit test has the rest).
expect_equal "GET /api/v1/meters/wasser: last midnight, no consumption today, counters" \
    "200 wasser 2024-03-01T00:00:00Z 504.5 null readings=5 reset=1 glitch=0 pending=false" \
    "$http_code $(json_eval '`${d.meter_id} ${d.last_midnight.time} ${d.last_midnight.value} ${d.today_consumption} readings=${d.counters.readings} reset=${d.counters.reset} glitch=${d.counters.glitch} pending=${d.open_flags.pending_drop}`' <<<"$http_body")"
http_request unknown "$relay_url/api/v1/meters/gas"
expect_equal "GET /api/v1/meters/gas (no readings): 404 with a JSON error" \
    "404 no meter \"gas\" has sent a reading (GET /api/v1/meters lists them)" \
    "$http_code $(json_eval 'd.error' <<<"$http_body")"
# Ids that are not plain text stay UTF-8 JSON in the 404 (Python's json and requests refuse the
# body otherwise), quoted as the parse errors quote names: a long id (1 + 120 umlauts of 2
# bytes, URL-encoded) cut between characters with "...", a byte that is not UTF-8 as \xFF.
# utf8_error NAME: the error of the answer's body decoded strictly as UTF-8.
utf8_error() {
    python3 -c 'import json, sys; print(json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))["error"])' \
        "$work_dir/$1.body" 2>&1 | tail -n 1
}
long_id="a$(printf '%%C3%%A4%.0s' $(seq 1 120))"
http_request unknown_long "$relay_url/api/v1/meters/$long_id"
expect_equal "GET /api/v1/meters/<long umlaut id>: 404, UTF-8 JSON, the id cut at a character" \
    "404 no meter \"a$(printf 'ä%.0s' $(seq 1 98))...\" has sent a reading (GET /api/v1/meters lists them)" \
    "$http_code $(utf8_error unknown_long)"
http_request unknown_ff "$relay_url/api/v1/meters/a%FFb"
expect_equal "GET /api/v1/meters/a%FFb: 404, UTF-8 JSON, the byte as \\xFF" \
    '404 no meter "a\xFFb" has sent a reading (GET /api/v1/meters lists them)' \
    "$http_code $(utf8_error unknown_ff)"
http_request post -XPOST "$relay_url/api/v1/meters"
expect_equal "POST /api/v1/meters: 405, Allow: GET, HEAD" "405 GET, HEAD" \
    "$http_code $(sed -n 's/^Allow: *//Ip' <<<"$http_headers")"
expect_equal "/health: check stream passes" pass \
    "$(curl -s "$relay_url/health" | json_eval "d.checks.find((c) => c.name === 'stream')?.status ?? 'absent'")"
expect_equal "/metrics: readings, points and events counted" \
    "$readings 26 1 2 0 0" \
    "$(relay_metric nebenkosten_stream_readings_total) $(relay_metric nebenkosten_stream_points_emitted_total) $(relay_metric 'nebenkosten_stream_events_total{kind="reset"}') $(relay_metric 'nebenkosten_stream_events_total{kind="glitch"}') $(relay_metric 'nebenkosten_stream_events_total{kind="late_reading"}') $(relay_metric nebenkosten_stream_backlog_records)"
# The first request crosses no midnight: it produces no processed record.
eventually "/metrics: the upstream sent everything (4 raw and 3 processed records)" "7 0" \
    metric_row influxdb sent_records_total backlog_records

relay_stop
expect_equal "relay exits 0 on SIGTERM" 0 "$relay_exit_status"
expect_contains "the log says the checkpoint was written at shutdown" \
    '"msg":"stream checkpoint written at shutdown","position":' "$(cat "$dir/relay.log")"
if [ -s "$dir/spool/stream/checkpoint" ]; then check_pass "spool/stream/checkpoint exists"; else
    check_fail "spool/stream/checkpoint exists"
fi

# relay.auth covers the meters' state as it covers /query: a household's readings are private.
dir=$work_dir/relay-auth
relay_stream_config_write "$dir" "  auth: token"
printf 'RELAY_TOKENS=stream-token\n' >"$dir/secrets/relay.env"
chmod 600 "$dir/secrets/relay.env"
if relay_start "$dir"; then
    http_request auth_write -H "Authorization: Token stream-token" -XPOST "$relay_url/write?db=lampfi" \
        --data-binary 'kWh,domain=input_number,entity_id=strom value=100 1709035200000000000'
    expect_equal "auth: token: the reading is written with the token" 204 "$http_code"
    relay_stream_wait 1 || check_fail "auth: token: the stream reads the reading"
    http_request meters_anonymous "$relay_url/api/v1/meters"
    expect_equal "auth: token: GET /api/v1/meters without a token is refused" \
        "401 authorization failed" "$http_code $(json_eval 'd.error' <"$work_dir/meters_anonymous.body")"
    http_request meter_anonymous "$relay_url/api/v1/meters/strom"
    expect_equal "auth: token: GET /api/v1/meters/strom without a token is refused" 401 "$http_code"
    http_request meter_token -H "Authorization: Token stream-token" "$relay_url/api/v1/meters/strom"
    expect_equal "auth: token: GET /api/v1/meters/strom with the token" "200 100" \
        "$http_code $(json_eval 'd.last_reading.value' <"$work_dir/meter_token.body")"
    relay_stop
else
    check_fail "meter-relay starts with auth: token"
fi
finish
