#!/usr/bin/env bash
# The nightly batch's detector baselines reach the running stream processor: a baselines file
# written to <spool>/stream/baselines.json replaces the online statistics of the meters it names
# (shown by /api/v1/meters), is logged once, survives a restart without being applied again, and a
# damaged file is refused with a warning while the baselines in force stay.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/upstream_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; rm -rf "$work_dir"' EXIT

dir=$work_dir/relay
relay_stream_config_write "$dir" "" "  checkpoint_interval: 200ms"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary \
    $'kWh,domain=input_number,entity_id=strom value=100 1709035200\nkWh,domain=input_number,entity_id=strom value=110 1709121600\nkWh,domain=input_number,entity_id=strom value=125 1709229600' \
    "$relay_url/write?db=lampfi&precision=s")
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
finish
