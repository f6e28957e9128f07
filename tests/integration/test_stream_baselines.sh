#!/usr/bin/env bash
# The nightly batch's detector baselines reach the running stream processor: a baselines file
# written to <spool>/stream/baselines.json replaces the online statistics of the meters it names
# (shown by /api/v1/meters), is logged once, survives a restart without being applied again, and a
# damaged file is refused with a warning while the baselines in force stay; and what meter-batch
# reconcile writes, applied, leaves the stream's detector equal to the batch's after the next
# reading (no day learned twice).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/upstream_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; rm -rf "$work_dir"' EXIT

# Writes line protocol (seconds) to the relay; prints the HTTP status.
readings_post() {
    curl -s -o /dev/null -w '%{http_code}' --data-binary "$1" "$relay_url/write?db=lampfi&precision=s"
}

dir=$work_dir/relay
relay_stream_config_write "$dir" "" "  checkpoint_interval: 200ms"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
code=$(readings_post $'kWh,domain=input_number,entity_id=strom value=100 1709035200\nkWh,domain=input_number,entity_id=strom value=110 1709121600\nkWh,domain=input_number,entity_id=strom value=125 1709229600')
expect_equal "three readings accepted" 204 "$code"
relay_stream_wait 3 || check_fail "the stream read the readings"

detector() { curl -s "$relay_url/api/v1/meters/strom" | json_eval "d.detector.$1"; }
expect_equal "before: the online baseline has learned 1 day" 1 "$(detector count)"

# Written like meter-batch writes it: a temporary file renamed into place (the directory is made by
# the relay's first checkpoint or by meter-batch, whichever comes first).
baselines_write() {
    mkdir -p "$dir/spool/stream"
    printf '%s' "$1" >"$dir/spool/stream/baselines.tmp"
    mv "$dir/spool/stream/baselines.tmp" "$dir/spool/stream/baselines.json"
}
baselines_write '{"version":1,"meters":{
  "strom":{"days":40,"flagged_run":0,"level":{"count":40,"mean":42,"m2":390},
    "seasonal":{"count":0,"mean":0,"m2":0},
    "q1":{"count":40,"heights":[30,36,39,45,60],"positions":[1,10,20,30,40]},
    "q3":{"count":40,"heights":[30,40,46,50,60],"positions":[1,20,30,35,40]},
    "window":[40,41,42,43,44]},
  "not_seen_yet":{"days":3,"flagged_run":0,"level":{"count":2,"mean":5,"m2":2},
    "seasonal":{"count":0,"mean":0,"m2":0},
    "q1":{"count":2,"heights":[4,6],"positions":[]},"q3":{"count":2,"heights":[4,6],"positions":[]},
    "window":[0,4,6]}}}'
eventually_deadline=$((SECONDS + 10))
eventually "after: the meter's baseline is the file's (40 days, mean 42)" "40 42" \
    bash -c "curl -s '$relay_url/api/v1/meters/strom' | node -e 'let s=\"\";process.stdin.on(\"data\",c=>s+=c).on(\"end\",()=>{const d=JSON.parse(s).detector;console.log(d.count+\" \"+d.mean)})'"
expect_equal "the log names the file and one meter applied" 1 \
    "$(grep -c '"msg":"detector baselines re-seeded".*"meters_in_file":2,"meters_applied":1' "$relay_log")"

relay_stop
expect_equal "relay exits 0" 0 "$relay_exit_status"
mv "$relay_log" "$dir/first.log"
relay_start "$dir" || check_fail "meter-relay starts again"
sleep 1
expect_equal "after a restart: the baseline is still the file's" 42 "$(detector mean)"
expect_equal "after a restart: the same file is not applied again" 0 \
    "$(grep -c 'detector baselines re-seeded' "$relay_log")"

baselines_write '{"version":1,"meters":{"strom":{"days":"many"}}}'
eventually_deadline=$((SECONDS + 10))
eventually "a damaged file is refused with a warning naming the member" 1 \
    bash -c "grep -c 'detector baselines not applied.*meters.strom: days' '$relay_log'"
expect_equal "the baseline in force stays" 42 "$(detector mean)"

# What meter-batch reconcile writes, applied, then the next reading: the stream's detectors hold
# each day once. gas is read at noon, 10 a day, from 03-01 to 03-05; the run is on 03-08, so the
# batch extrapolates 03-06 .. 03-08 past the last reading. The stream closes those midnights
# itself when the reading of 03-09 comes; a baseline that had learned them too would count them
# twice. Afterwards the stream's detector must be the one a run over the same readings on 03-09
# computes.
gas_readings=$work_dir/gas.csv
{
    echo meter_id,timestamp,value
    for day in 1 2 3 4 5; do echo "gas,2024-03-0${day}T12:00:00Z,$((90 + 10 * day))"; done
} >"$gas_readings"
body=$(sed -n 's/^gas,\([^,]*\),\(.*\)$/\1 \2/p' "$gas_readings" | while read -r time value; do
    echo "m³,domain=input_number,entity_id=gas value=$value $(date -ud "$time" +%s)"
done)
code=$(readings_post "$body")
expect_equal "gas: five readings accepted" 204 "$code"
relay_stream_wait || check_fail "the stream read gas's readings"
expect_status "meter-batch reconcile on 2024-03-08 (three days after gas's last reading)" 0 \
    "$BIN_DIR/meter-batch" reconcile -c "$dir/config.yaml" --readings "$gas_readings" \
    --today 2024-03-08 --out "$work_dir/night"
baselines_write "$(cat "$work_dir/night/baselines.json")"
gas_detector() { curl -s "$relay_url/api/v1/meters/gas" | json_eval "d.detector.$1"; }
eventually_deadline=$((SECONDS + 10))
eventually "gas: the night's baselines are applied" 1 \
    bash -c "grep -c '\"msg\":\"detector baselines re-seeded\"' '$relay_log'"
code=$(readings_post "m³,domain=input_number,entity_id=gas value=180 $(date -ud 2024-03-09T12:00:00Z +%s)")
expect_equal "gas: the reading of 03-09 accepted" 204 "$code"
relay_stream_wait || check_fail "the stream read gas's reading of 03-09"
echo "gas,2024-03-09T12:00:00Z,180" >>"$gas_readings"
expect_status "meter-batch reconcile on 2024-03-09 over the same readings" 0 \
    "$BIN_DIR/meter-batch" reconcile -c "$dir/config.yaml" --readings "$gas_readings" \
    --today 2024-03-09 --out "$work_dir/next"
expect_equal "gas: the stream's detector after the re-seed and the next reading is the batch's" \
    "$(json_eval '((g) => `${g.days} ${g.level.count} ${g.level.mean} ${g.window.length}`)(d.meters.gas)' <"$work_dir/next/baselines.json")" \
    "$(gas_detector days) $(gas_detector count) $(gas_detector mean) $(gas_detector window_days)"

# A meter replaced before the relay ran (the household migrated its history): wasser reads 500 ..
# 530 from 03-01 to 03-04, then the new meter 5, 15, 25 from 03-05. The relay sees only the new
# meter, so its register starts at 5; the batch, from the whole history, continues the old one
# (offset 525). After the night's re-seed the stream must write the batch's values, or each new
# midnight jumps back by 525 until the batch overwrites it.
wasser_readings=$work_dir/wasser.csv
{
    echo meter_id,timestamp,value
    for day in 1 2 3 4; do echo "wasser,2024-03-0${day}T12:00:00Z,$((490 + 10 * day))"; done
    for day in 5 6 7; do echo "wasser,2024-03-0${day}T12:00:00Z,$((10 * day - 45))"; done
} >"$wasser_readings"
body=$(sed -n 's/^wasser,\(2024-03-0[567][^,]*\),\(.*\)$/\1 \2/p' "$wasser_readings" | while read -r time value; do
    echo "m³,domain=input_number,entity_id=wasser value=$value $(date -ud "$time" +%s)"
done)
code=$(readings_post "$body")
expect_equal "wasser: the new meter's three readings accepted" 204 "$code"
relay_stream_wait || check_fail "the stream read wasser's readings"
wasser() { curl -s "$relay_url/api/v1/meters/wasser" | json_eval "$1"; }
expect_equal "wasser: the stream's register starts at its first reading" "0 25" \
    "$(wasser '`${d.offset} ${d.last_reading.value}`')"
expect_status "meter-batch reconcile on 2024-03-07 over the whole history" 0 \
    "$BIN_DIR/meter-batch" reconcile -c "$dir/config.yaml" --readings "$wasser_readings" \
    --today 2024-03-07 --out "$work_dir/wasser-night"
baselines_write "$(cat "$work_dir/wasser-night/baselines.json")"
eventually_deadline=$((SECONDS + 10))
eventually "wasser: the stream takes the batch's register offset" "525 550 545" \
    bash -c "curl -s '$relay_url/api/v1/meters/wasser' | node -e 'let s=\"\";process.stdin.on(\"data\",c=>s+=c).on(\"end\",()=>{const d=JSON.parse(s);console.log(d.offset+\" \"+d.last_reading.value+\" \"+d.last_midnight.value)})'"
expect_equal "wasser: the log says so once" 1 \
    "$(grep -c '"msg":"register offset taken from the batch.*"meter":"wasser","offset_before":0,"offset":525' "$relay_log")"
code=$(readings_post "m³,domain=input_number,entity_id=wasser value=35 $(date -ud 2024-03-08T12:00:00Z +%s)")
expect_equal "wasser: the reading of 03-08 accepted" 204 "$code"
relay_stream_wait || check_fail "the stream read wasser's reading of 03-08"
echo "wasser,2024-03-08T12:00:00Z,35" >>"$wasser_readings"
"$BIN_DIR/meter-batch" reconcile -c "$dir/config.yaml" --readings "$wasser_readings" \
    --today 2024-03-08 --out "$work_dir/wasser-next" >/dev/null 2>&1 ||
    check_fail "meter-batch reconcile on 2024-03-08"
expect_equal "wasser: the stream's midnight of 03-08 and its consumption are the batch's" \
    "$(grep -h '^wasser,2024-03-08T00:00:00Z,' "$work_dir/wasser-next/daily.csv" "$work_dir/wasser-next/consumption.csv" | cut -d, -f3 | awk '{ printf "%s ", $1 + 0 }')" \
    "$(wasser '`${d.last_midnight.value} ${d.last_midnight.value - 545} `')"

# The same migration, but the batch runs before the stream has seen the meters (meter-batch
# imported the history, then the relay was started; or a meter that reads once a month): their
# baselines wait, and each meter's first reading takes its offset, before a restart and after one.
migrated_readings=$work_dir/migrated.csv
{
    echo meter_id,timestamp,value
    for day in 1 2 3 4; do
        echo "kaltwasser,2024-03-0${day}T12:00:00Z,$((490 + 10 * day))"
        echo "warmwasser,2024-03-0${day}T12:00:00Z,$((200 + 10 * day))"
    done
    for day in 5 6; do
        echo "kaltwasser,2024-03-0${day}T12:00:00Z,$((10 * day - 45))"
        echo "warmwasser,2024-03-0${day}T12:00:00Z,$((10 * day - 49))"
    done
} >"$migrated_readings"
expect_status "meter-batch reconcile on 2024-03-06 over two meters the stream has not seen" 0 \
    "$BIN_DIR/meter-batch" reconcile -c "$dir/config.yaml" --readings "$migrated_readings" \
    --today 2024-03-06 --out "$work_dir/migrated-night"
baselines_write "$(cat "$work_dir/migrated-night/baselines.json")"
eventually_deadline=$((SECONDS + 10))
eventually "the file's two meters wait for their first readings" 1 \
    bash -c "grep -c '\"msg\":\"detector baselines re-seeded\".*\"meters_in_file\":2,\"meters_applied\":0,\"meters_waiting\":2' '$relay_log'"
# Before it, a reading of its device before the clock was set (1970): ignored, it must not take
# the place of the first reading, which decides whether the batch's offset applies.
code=$(readings_post "m³,domain=input_number,entity_id=kaltwasser value=3 7
m³,domain=input_number,entity_id=kaltwasser value=25 $(date -ud 2024-03-07T12:00:00Z +%s)")
expect_equal "kaltwasser: a reading dated 1970 and its first reading accepted" 204 "$code"
relay_stream_wait || check_fail "the stream read kaltwasser's reading"
expect_equal "kaltwasser: the first reading continues the batch's register (offset 525), with its detector" \
    "525 550 $(json_eval 'd.meters.kaltwasser.level.count' <"$work_dir/migrated-night/baselines.json")" \
    "$(curl -s "$relay_url/api/v1/meters/kaltwasser" | json_eval '`${d.offset} ${d.last_reading.value} ${d.detector.count}`')"
relay_stop
mv "$relay_log" "$dir/second.log"
relay_start "$dir" || check_fail "meter-relay starts again"
code=$(readings_post "m³,domain=input_number,entity_id=warmwasser value=21 $(date -ud 2024-03-07T12:00:00Z +%s)")
expect_equal "warmwasser: its first reading, after a restart, accepted" 204 "$code"
relay_stream_wait || check_fail "the stream read warmwasser's reading"
expect_equal "warmwasser: after a restart its baseline still waited (offset 239)" "239 260" \
    "$(curl -s "$relay_url/api/v1/meters/warmwasser" | json_eval '`${d.offset} ${d.last_reading.value}`')"
expect_equal "the restart did not apply the file again" 0 \
    "$(grep -c 'detector baselines re-seeded' "$relay_log")"
finish
