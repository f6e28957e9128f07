#!/usr/bin/env bash
# Restarts of the stream processor in a fixed order, each checked for the processed points the
# spool holds afterwards: a replay after a kill -9 must not append the points already spooled,
# and what it skips must not be skipped once more after the next restart (the checkpoints written
# after a replay record where the spooled points end); a baselines file the batch wrote after the
# checkpoint must not change the replay (a reading that had an event then has none, and the
# points of the next reading are taken for that event's, already spooled).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/upstream_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; rm -rf "$work_dir"' EXIT

dir=$work_dir/relay
# write_reading DAY VALUE [HH:MM]: a reading of meter strom at noon (or HH:MM, UTC) of 2024-01-DAY.
write_reading() {
    local seconds
    seconds=$(date -u -d "2024-01-$1 ${3:-12:00}" +%s)
    [ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary \
        "kWh,domain=input_number,entity_id=strom value=$2 $seconds" \
        "$relay_url/write?db=lampfi&precision=s")" = 204 ]
}
# daily_lines DAY [KIND]: the meter_interpolated_daily points (or meter_event of KIND) of
# 2024-01-DAY the spool holds.
daily_lines() {
    local ns=$(($(date -u -d "2024-01-$1 00:00" +%s) * 1000000000))
    "$BIN_DIR/meter-relay" spool-dump "$dir/spool" | grep -c "^meter_interpolated_daily,meter_id=strom .* $ns\$"
}
event_lines() {
    "$BIN_DIR/meter-relay" spool-dump "$dir/spool" | grep -c "^meter_event,meter_id=strom,kind=$1 "
}
start() {
    relay_stream_config_write "$dir" "" "  checkpoint_interval: $1"
    relay_start "$dir" || {
        check_fail "meter-relay starts" "$(tail -n 5 "$relay_log")"
        finish
        exit
    }
}
# kill_relay: SIGKILL once every derived record is durable (the spool commits each loop pass).
kill_relay() {
    sleep 0.5
    kill -KILL "$relay_pid"
    wait "$relay_pid" 2>/dev/null
    relay_pid=
}

# 1. A first reading, checkpointed at shutdown: no processed point yet.
start 1h
write_reading 01 100 || check_fail "reading of 01-01 accepted"
relay_stream_wait 1 || check_fail "the stream read the reading of 01-01"
relay_stop
expect_equal "relay exits 0" 0 "$relay_exit_status"

# 2. A reading that crosses midnight, killed before any checkpoint: its points are in the spool.
start 1h
write_reading 02 110 || check_fail "reading of 01-02 accepted"
relay_stream_wait 1 || check_fail "the stream read the reading of 01-02"
kill_relay
expect_equal "before the replay: 01-02 in the spool once" 1 "$(daily_lines 02)"

# 3. The replay skips the points of 01-02; a checkpoint is written after it, then a clean stop.
start 200ms
relay_stream_wait 1 || check_fail "the replay read the reading of 01-02"
expect_contains "the replay skipped the spooled points" '"replayed_without_output":1' \
    "$(cat "$relay_log")"
sleep 1
relay_stop
expect_equal "relay exits 0 after the replay" 0 "$relay_exit_status"
expect_equal "after the replay: 01-02 in the spool once" 1 "$(daily_lines 02)"

# 4. Nothing is left to replay: the next reading's points are appended.
start 200ms
expect_contains "nothing to skip after a clean stop" '"replayed_without_output":0' \
    "$(cat "$relay_log")"
write_reading 03 120 || check_fail "reading of 01-03 accepted"
relay_stream_wait 1 || check_fail "the stream read the reading of 01-03"
sleep 0.5
relay_stop
expect_equal "the points of 01-03 are in the spool" 1 "$(daily_lines 03)"

# baselines_write MEAN: a baselines file as meter-batch writes it, a warm detector of meter strom
# whose days are all about MEAN (so its spike_rate limit is about 2 x MEAN an hour).
baselines_write() {
    local m=$1
    mkdir -p "$dir/spool/stream"
    cat >"$dir/spool/stream/baselines.tmp" <<JSON
{"version":1,"meters":{"strom":{"days":70,"flagged_run":0,
  "level":{"count":40,"mean":$m,"m2":$((m * m / 4))},"seasonal":{"count":0,"mean":0,"m2":0},
  "q1":{"count":40,"heights":[$((m / 2)),$((m * 3 / 4)),$m,$((m * 5 / 4)),$((m * 3 / 2))],"positions":[1,10,20,30,40]},
  "q3":{"count":40,"heights":[$((m / 2)),$m,$((m * 5 / 4)),$((m * 3 / 2)),$((m * 3 / 2))],"positions":[1,20,30,35,40]},
  "window":[$m,$m,$m,$m,$m,$m,$m,$m,$m,$m]}}}
JSON
    mv "$dir/spool/stream/baselines.tmp" "$dir/spool/stream/baselines.json"
}

# 5. Baselines of a small meter (2 a day), applied and checkpointed.
rm -rf "$dir"
start 200ms
write_reading 01 100 || check_fail "reading of 01-01 accepted"
relay_stream_wait 1 || check_fail "the stream read the reading of 01-01"
baselines_write 2
eventually_deadline=$((SECONDS + 10))
eventually "the small meter's baselines are applied" 1 \
    bash -c "grep -c '\"msg\":\"detector baselines re-seeded\"' '$relay_log'"
relay_stop

# 6. +100 in an hour is a spike for it (an event); the next reading crosses midnight. Then the
# batch writes the baselines of a large meter (2000 a day), and the relay is killed before its
# next checkpoint (an hour away) could take them in.
start 1h
write_reading 01 200 13:00 || check_fail "reading of 01-01 13:00 accepted"
write_reading 02 210 || check_fail "reading of 01-02 accepted"
relay_stream_wait 2 || check_fail "the stream read the readings of 01-01 13:00 and 01-02"
expect_equal "+100 in an hour is a spike_rate event" 1 "$(event_lines spike_rate)"
baselines_write 2000
kill_relay

# 7. The replay decides as before the kill: the points of the next reading are appended.
start 1h
write_reading 03 220 || check_fail "reading of 01-03 accepted"
relay_stream_wait 3 || check_fail "the stream read the replay and the reading of 01-03"
sleep 0.5
relay_stop
expect_equal "the spike_rate event in the spool once" 1 "$(event_lines spike_rate)"
expect_equal "the points of 01-02 in the spool once" 1 "$(daily_lines 02)"
expect_equal "the points of 01-03 are in the spool" 1 "$(daily_lines 03)"

# 8. A re-seed applied at start moves the register (the batch's offset 525: a meter replaced
# before the relay ran). Killed after the next reading's points were spooled, the restart must
# not replay without it: the points of 01-08 were decided with it, so the next midnight must
# continue from them instead of jumping back by 525 until the next re-seed.
rm -rf "$dir"
start 1h
for day in 05 06 07; do
    write_reading "$day" $((10 * 10#$day - 45)) || check_fail "reading of 01-$day accepted"
done
relay_stream_wait 3 || check_fail "the stream read the readings of 01-05 .. 01-07"
relay_stop
mkdir -p "$dir/spool/stream"
cat >"$dir/spool/stream/baselines.json" <<JSON
{"version":1,"meters":{"strom":{"days":3,"flagged_run":0,"level":{"count":2,"mean":10,"m2":2},
  "seasonal":{"count":0,"mean":0,"m2":0},"q1":{"count":2,"heights":[9,11],"positions":[]},
  "q3":{"count":2,"heights":[9,11],"positions":[]},"window":[0,10,10],
  "register":{"reading_ns":"$(($(date -u -d "2024-01-07 12:00" +%s) * 1000000000))","offset":525}}}}
JSON
start 1h
write_reading 08 35 || check_fail "reading of 01-08 accepted"
relay_stream_wait 1 || check_fail "the stream read the reading of 01-08"
expect_contains "the register at 01-08 continues the batch's" \
    "meter_interpolated_daily,meter_id=strom value=555 $(($(date -u -d "2024-01-08 00:00" +%s) * 1000000000))" \
    "$("$BIN_DIR/meter-relay" spool-dump "$dir/spool")"
kill_relay
start 1h
write_reading 09 45 || check_fail "reading of 01-09 accepted"
relay_stream_wait 2 || check_fail "the stream read the replay and the reading of 01-09"
expect_equal "after the kill: the register at 01-09 continues from 01-08's (offset 525)" "525 565" \
    "$(curl -s "$relay_url/api/v1/meters/strom" | json_eval '`${d.offset} ${d.last_midnight.value}`')"
relay_stop
finish
