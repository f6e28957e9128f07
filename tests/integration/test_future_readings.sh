#!/usr/bin/env bash
# A reading dated years ahead (a device whose clock was reset to 2036, a year typed wrong) is no
# measurement. The stream must not take it as the meter's newest reading, or every later reading
# is "late" until that date; the batch must not interpolate towards it. Both leave it out, say so
# once, and take the meter's later readings as usual. Likewise a reading dated before 2001 (a
# device that sends before its clock is set counts from 1970): as a meter's first reading, the
# stream interpolated every midnight since 1970 towards the next one.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/upstream_helpers.sh"

here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_DIR:-${NEBENKOSTEN_SHARED:-$here/../../../shared}}
unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; rm -rf "$work_dir"' EXIT

now=$(date +%s)
future=$((now + 10 * 365 * 86400))
# Readings of meter strom at noon two and one days ago (a midnight between them).
noon=$(((now / 86400 - 2) * 86400 + 43200))
midnight=$(((noon / 86400 + 1) * 86400))

# --- The stream
dir=$work_dir/relay
relay_stream_config_write "$dir" "" "  checkpoint_interval: 200ms"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts" "$(tail -n 5 "$relay_log")"
    finish
    exit
fi
write() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary "$1" \
        "$relay_url/write?db=lampfi&precision=s")" = 204 ]
}
meter() { curl -s "$relay_url/api/v1/meters/strom" | json_eval "$1"; }
write "kWh,domain=input_number,entity_id=strom value=100 $noon" || check_fail "reading 1 accepted"
write "kWh,domain=input_number,entity_id=strom value=99999 $future" || check_fail "the future reading accepted"
relay_stream_wait 2 || check_fail "the stream read the readings"
expect_equal "after the future reading: the flag is open" true "$(meter d.open_flags.future_reading)"
write "kWh,domain=input_number,entity_id=strom value=110 $((noon + 86400))" ||
    check_fail "reading 2 accepted"
relay_stream_wait 3 || check_fail "the stream read the third reading"
expect_equal "the next reading is taken, not late: last raw value, no late reading" "110 0 false" \
    "$(meter '[d.last_reading.raw, d.counters.late_reading, d.open_flags.future_reading].join(" ")')"
expect_equal "/metrics counts one future_reading event" 1 \
    "$(relay_metric 'nebenkosten_stream_events_total{kind="future_reading"}')"
write "kWh,domain=input_number,entity_id=strom value=1 $future" || check_fail "a second future reading accepted"
write "kWh,domain=input_number,entity_id=strom value=2 $((future + 60))" ||
    check_fail "a third future reading accepted"
relay_stream_wait 5 || check_fail "the stream read them"
expect_equal "the log warns once per run of future readings (2 runs)" 2 \
    "$(grep -c '"msg":"a reading dated more than a day after the relay'"'"'s clock is ignored.*"meter":"strom"' "$relay_log")"

# A device without a set clock: its first reading is dated 1970-01-01T00:00:07Z.
write "kWh,domain=input_number,entity_id=uhrlos value=3 7" || check_fail "the 1970 reading accepted"
relay_stream_wait 6 || check_fail "the stream read the 1970 reading"
expect_equal "after the 1970 reading: the flag is open, no reading taken" "true undefined" \
    "$(curl -s "$relay_url/api/v1/meters/uhrlos" | json_eval '[d.open_flags.unset_clock, String(d.last_reading)].join(" ")')"
write "kWh,domain=input_number,entity_id=uhrlos value=100 $noon" || check_fail "uhrlos: reading 1 accepted"
write "kWh,domain=input_number,entity_id=uhrlos value=110 $((noon + 86400))" ||
    check_fail "uhrlos: reading 2 accepted"
relay_stream_wait 8 || check_fail "the stream read uhrlos' readings"
expect_equal "uhrlos: the readings with the time set are taken, the flag closed" "110 0 false" \
    "$(curl -s "$relay_url/api/v1/meters/uhrlos" | json_eval '[d.last_reading.raw, d.counters.late_reading, d.open_flags.unset_clock].join(" ")')"
expect_equal "/metrics counts one unset_clock event" 1 \
    "$(relay_metric 'nebenkosten_stream_events_total{kind="unset_clock"}')"
expect_equal "the log warns once" 1 \
    "$(grep -c '"msg":"a reading dated before 2001 is ignored.*"meter":"uhrlos"' "$relay_log")"
relay_stop
expect_equal "relay exits 0" 0 "$relay_exit_status"
dump=$("$BIN_DIR/meter-relay" spool-dump "$dir/spool")
expect_equal "uhrlos: one midnight booked, between its two readings, and one unset_clock event" \
    "meter_interpolated_daily,meter_id=uhrlos value=105 ${midnight}000000000 1" \
    "$(grep '^meter_interpolated_daily,meter_id=uhrlos ' <<<"$dump") $(grep -c '^meter_event,meter_id=uhrlos,kind=unset_clock ' <<<"$dump")"
expect_equal "three future_reading events in the processed points, none at the reading's time" \
    "3 0" "$(grep -c '^meter_event,meter_id=strom,kind=future_reading ' <<<"$dump") $(grep -c "^meter_.*,meter_id=strom.* ${future}000000000\$" <<<"$dump")"
expect_contains "the midnight between the readings is booked" \
    "meter_interpolated_daily,meter_id=strom value=105 ${midnight}000000000" "$dump"

# --- The batch, on a fixture with one reading added ten years ahead
scenario=$shared/fixtures/reference/edge_dense_medium
today=$(json_eval d.today <"$scenario/scenario.json")
cp "$scenario/input/readings.csv" "$work_dir/readings.csv"
echo "hourly_30d,$(date -u -d "@$future" +%Y-%m-%dT%H:%M:%SZ),99999.0" >>"$work_dir/readings.csv"
for compat in none reference; do
    "$BIN_DIR/meter-batch" reconcile --compat "$compat" -c "$scenario/config/config.yaml" \
        --readings "$scenario/input/readings.csv" --today "$today" --out "$work_dir/$compat-plain" \
        >/dev/null 2>&1 || check_fail "$compat: reconcile of the fixture exits 0"
    "$BIN_DIR/meter-batch" reconcile --compat "$compat" -c "$scenario/config/config.yaml" \
        --readings "$work_dir/readings.csv" --today "$today" --out "$work_dir/$compat-future" \
        --report "$work_dir/$compat.json" >"$work_dir/$compat.log" 2>&1 ||
        check_fail "$compat: reconcile with the future reading exits 0"
    rm -f "$work_dir"/"$compat"-*/baselines.json
    expect_equal "$compat: the series are those without the future reading" "" \
        "$(diff -r "$work_dir/$compat-plain" "$work_dir/$compat-future" | head -n 5)"
    expect_equal "$compat: the report counts it" "842 1" \
        "$(json_eval '[d.totals.readings, d.totals.future_readings_left_out].join(" ")' <"$work_dir/$compat.json")"
    expect_equal "$compat: the log names the meter once" 1 \
        "$(grep -c '"msg":"readings dated after the run'"'"'s clock are left out.*"meter":"hourly_30d","readings":1' "$work_dir/$compat.log")"
done

# --- The batch, on the fixture with a reading of 1970 added before a meter's first
{ head -n 1 "$scenario/input/readings.csv"; echo "hourly_30d,1970-01-01T00:00:07Z,0.0"; tail -n +2 "$scenario/input/readings.csv"; } >"$work_dir/readings-1970.csv"
"$BIN_DIR/meter-batch" reconcile -c "$scenario/config/config.yaml" \
    --readings "$work_dir/readings-1970.csv" --today "$today" --out "$work_dir/none-1970" \
    --report "$work_dir/none-1970.json" >"$work_dir/none-1970.log" 2>&1 ||
    check_fail "reconcile with the 1970 reading exits 0"
rm -f "$work_dir"/none-1970/baselines.json
expect_equal "the series are those without the 1970 reading" "" \
    "$(diff -r "$work_dir/none-plain" "$work_dir/none-1970" | head -n 5)"
expect_equal "the report counts it" "842 0 1" \
    "$(json_eval '[d.totals.readings, d.totals.future_readings_left_out, d.totals.unset_clock_readings_left_out].join(" ")' <"$work_dir/none-1970.json")"
expect_equal "the log names the meter once" 1 \
    "$(grep -c '"msg":"readings dated before 2001 are left out.*"meter":"hourly_30d","readings":1,"first":"1970-01-01T00:00:07Z"' "$work_dir/none-1970.log")"
finish
