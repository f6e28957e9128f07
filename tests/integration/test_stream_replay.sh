#!/usr/bin/env bash
# Restarts of the stream processor in a fixed order, each checked for the processed points the
# spool holds afterwards: a replay after a kill -9 must not append the points already spooled,
# and what it skips must not be skipped once more after the next restart (the checkpoints written
# after a replay record where the spooled points end).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; rm -rf "$work_dir"' EXIT

dir=$work_dir/relay
# write_reading DAY VALUE: a reading of meter strom at noon (UTC) of 2024-01-DAY.
write_reading() {
    local seconds
    seconds=$(date -u -d "2024-01-$1 12:00" +%s)
    [ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary \
        "kWh,domain=input_number,entity_id=strom value=$2 $seconds" \
        "$relay_url/write?db=lampfi&precision=s")" = 204 ]
}
# daily_lines DAY: the meter_interpolated_daily points of 2024-01-DAY the spool holds.
daily_lines() {
    local ns=$(($(date -u -d "2024-01-$1 00:00" +%s) * 1000000000))
    "$BIN_DIR/meter-relay" spool-dump "$dir/spool" | grep -c "^meter_interpolated_daily,meter_id=strom .* $ns\$"
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

finish
