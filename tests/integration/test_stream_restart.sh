#!/usr/bin/env bash
# kill -9 equivalence of the stream processor (issue 5): a year of 15-minute readings of three
# meters (a transient 0, a garbage value, a dip, a reset, a spike day, a 10-day gap), written in
# ~1000 small requests. Run A writes them to one relay and stops it with SIGTERM. Run B writes
# the same requests to a fresh relay that is killed with SIGKILL at random moments (at least 5
# times: the first before any checkpoint, the others with checkpoints every 200 ms, so that kills
# land between, during and after checkpoints) and restarted; after each restart the writer goes on after the last request the spool holds (a
# request whose 204 was lost may or may not be there; none is sent twice: the stream would
# rightly call the repeat late readings). The processed points both spools hold must be
# byte-identical, and /api/v1/meters must show the same state.
#   STREAM_RESTART_SEED   seed of the kill moments (default: random; printed)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/upstream_helpers.sh"

here=$(cd "$(dirname "$0")" && pwd)
min_kills=5
seed=${STREAM_RESTART_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$seed
killer_pid=
trap '[ -z "$killer_pid" ] || kill "$killer_pid" 2>/dev/null; relay_stop; rm -rf "$work_dir"' EXIT

requests_dir=$work_dir/requests
read -r requests readings < <(node "$here/stream_readings.mjs" history "$requests_dir" 100)
request_file() { printf '%s/%06d.lp' "$requests_dir" "$1"; }
# A fifo opened read-write never delivers data nor EOF: `read -t` on it sleeps without a child
# process, so the killer below can be stopped by its pid alone.
mkfifo "$work_dir/never"

# post_from FIRST: posts requests FIRST.. in order until one is not answered 204 (the relay was
# killed). Sets next_request to the first one not acknowledged.
post_from() {
    next_request=$1
    while [ "$next_request" -le "$requests" ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary "@$(request_file "$next_request")" \
            "$relay_url/write?db=lampfi")" = 204 ] || return 0
        next_request=$((next_request + 1))
    done
}

# The payloads of a spool dump: records_derived (the stream's, in spool order) or records_source.
records_derived() { awk '/^# seq=/ { keep = / origin=stream$/; next } keep' "$1"; }
records_source() { awk '/^# seq=/ { keep = !/ origin=stream$/; next } keep' "$1"; }
source_count() { grep -c '^# seq=.* db=lampfi ' "$1"; }
# The last source record's payload.
source_last() {
    awk '/^# seq=/ { if (!/ origin=stream$/) { last = ""; keep = 1 } else keep = 0; next }
        keep { last = last $0 "\n" } END { printf "%s", last }' "$1"
}

# The meters' state as /api/v1/meters shows it, by id; and one line per meter with its last
# reading.
meters_state() { curl -s "$relay_url/api/v1/meters" | json_eval 'd.meters.sort((a, b) => (a.meter_id < b.meter_id ? -1 : 1))'; }
meters_last() {
    # shellcheck disable=SC2016 # a JavaScript template literal
    json_eval 'd.map((m) => `${m.meter_id} ${m.last_reading?.time} ${m.last_reading?.raw} ${m.last_reading?.value}`).join("; ")' <<<"$1"
}

# Run A: uninterrupted.
dir_a=$work_dir/a
relay_stream_config_write "$dir_a" "" "  checkpoint_interval: 200ms"
relay_start "$dir_a" || {
    check_fail "run A: meter-relay starts"
    finish
    exit
}
started=$(date +%s%N)
post_from 1
write_ms=$((($(date +%s%N) - started) / 1000000))
expect_equal "run A: all $requests requests answered 204" "$((requests + 1))" "$next_request"
relay_stream_wait "$readings" || check_fail "run A: the stream applies all $readings readings"
state_a=$(meters_state)
relay_stop
expect_equal "run A: relay exits 0 on SIGTERM" 0 "$relay_exit_status"
"$BIN_DIR/meter-relay" spool-dump "$dir_a/spool" >"$dir_a/dump"
records_derived "$dir_a/dump" >"$dir_a/processed"

# Run B: killed at random moments while the writer goes on, each a random part (1/14 to 1/7) of
# run A's writing time after a start, so that the kills fall well inside the writing. The first
# start checkpoints only at shutdown: its kill leaves processed points in the spool and no
# checkpoint, which the restart must not append again either.
dir_b=$work_dir/b
relay_stream_config_write "$dir_b" "" "  checkpoint_interval: 1h"
echo "  (run A wrote $requests requests, $readings readings, in $write_ms ms; kill seed $seed)"
kills=0
next_request=1
resumed_ok=1
while :; do
    relay_start "$dir_b" || {
        check_fail "run B: meter-relay restarts after $kills kills" "$(tail -n 5 "$dir_b/relay.log")"
        resumed_ok=0
        break
    }
    # Where to go on: the requests the spool holds (a running relay's spool is safe to dump).
    "$BIN_DIR/meter-relay" spool-dump "$dir_b/spool" >"$dir_b/dump" 2>"$dir_b/dump.err"
    stored=$(source_count "$dir_b/dump")
    if [ "$stored" -ne $((next_request - 1)) ] && [ "$stored" -ne "$next_request" ] ||
        { [ "$stored" -gt 0 ] && ! cmp -s <(source_last "$dir_b/dump") "$(request_file "$stored")"; }; then
        check_fail "run B: after kill $kills the spool holds the requests sent" \
            "acknowledged: $((next_request - 1)), records: $stored (last one not request $stored?)"
        resumed_ok=0
        break
    fi
    next_request=$((stored + 1))
    [ "$next_request" -gt "$requests" ] && [ "$kills" -ge "$min_kills" ] && break
    delay_ms=$((write_ms / 14 + RANDOM % (write_ms / 14 + 1)))
    (
        read -rt "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))" _ <>"$work_dir/never"
        kill -KILL "$relay_pid"
    ) &
    killer_pid=$!
    post_from "$next_request"
    # Both waits quiet: bash reports the killed relay at whichever comes first.
    wait "$killer_pid" 2>/dev/null
    killer_pid=
    wait "$relay_pid" 2>/dev/null
    relay_pid=
    kills=$((kills + 1))
    mv "$dir_b/relay.log" "$dir_b/relay.log.$kills"
    if [ "$kills" -eq 1 ]; then
        expect_equal "run B: no checkpoint before the first kill" absent \
            "$([ -e "$dir_b/spool/stream/checkpoint" ] && echo present || echo absent)"
        relay_stream_config_write "$dir_b" "" "  checkpoint_interval: 200ms"
    fi
done
echo "  (run B: $kills kills; replays that skipped points already spooled:" \
    "$(cat "$dir_b"/relay.log.* | grep -c '"replayed_without_output":[1-9]'))"
if [ "$resumed_ok" -eq 1 ]; then
    if [ "$kills" -ge "$min_kills" ]; then check_pass "run B: killed $kills times with SIGKILL"; else
        check_fail "run B: killed at least $min_kills times" "killed $kills times"
    fi
    relay_stream_wait || check_fail "run B: the stream catches up after the last restart"
    state_b=$(meters_state)
    relay_stop
    expect_equal "run B: relay exits 0 on SIGTERM" 0 "$relay_exit_status"
    expect_contains "run B: the log says the checkpoint was written at shutdown" \
        '"msg":"stream checkpoint written at shutdown"' "$(cat "$dir_b/relay.log")"
    "$BIN_DIR/meter-relay" spool-dump "$dir_b/spool" >"$dir_b/dump"

    for run in A B; do
        if [ -s "$work_dir/${run,}/spool/stream/checkpoint" ]; then
            check_pass "run $run: spool/stream/checkpoint exists"
        else
            check_fail "run $run: spool/stream/checkpoint exists"
        fi
        expect_equal "run $run: the spool holds every request once, in order" \
            "$(cat "$requests_dir"/*.lp | sha256sum)" \
            "$(records_source "$work_dir/${run,}/dump" | sha256sum)"
    done
    records_derived "$dir_b/dump" >"$dir_b/processed"
    counts_a="$(grep -c 'origin=stream$' "$dir_a/dump") records, $(wc -l <"$dir_a/processed") lines"
    counts_b="$(grep -c 'origin=stream$' "$dir_b/dump") records, $(wc -l <"$dir_b/processed") lines"
    echo "  (processed: run A $counts_a; run B $counts_b)"
    if cmp -s "$dir_a/processed" "$dir_b/processed" && [ -s "$dir_a/processed" ]; then
        check_pass "processed points byte-identical ($(wc -l <"$dir_a/processed") lines)"
    else
        check_fail "processed points byte-identical" "run A: $counts_a; run B: $counts_b" \
            "$(diff "$dir_a/processed" "$dir_b/processed" | head -n 10)"
    fi
    expect_equal "/api/v1/meters: same meters and last readings" "$(meters_last "$state_a")" \
        "$(meters_last "$state_b")"
    expect_equal "/api/v1/meters: same state of every meter" "$state_a" "$state_b"
fi
# What the history holds must be among the processed points of the uninterrupted run, so that
# the comparison covers every kind of state.
for what in kind=glitch kind=negative_delta kind=reset kind=stale meter_anomaly; do
    if grep -Eq "^(meter_event,meter_id=[a-z]*,$what|$what,meter_id=strom) " "$dir_a/processed"; then
        check_pass "run A: ${what#kind=} among the processed points"
    else
        check_fail "run A: ${what#kind=} among the processed points"
    fi
done
finish
