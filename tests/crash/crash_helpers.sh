# shellcheck shell=bash
# Helpers for the crash tests (sourced after tests/integration/lib.sh and relay_helpers.sh).
#
#   crash_port_pick                      prints a free 127.0.0.1 port (chosen once per test, so
#                                        every restart listens where the writer's retries go)
#   crash_writer_start URL ACK_LOG N [MAX_POINTS]
#                                       starts load_writer.mjs with N connections, 1 to MAX_POINTS
#                                       (default 4) points per request; sets writer_pid
#   crash_writer_stop                    SIGTERM, waits; sets writer_status, writer_stat_<name>
#                                        from its JSON summary (requests_acknowledged, status_503, ...)
#   crash_spool_compare ACK_LOG SPOOL    stopped spool vs. the ack log: runs spool-dump and
#                                        spool-check, prints the counts, checks nothing is missing
#   crash_kill_restarts DIR N            N times: wait 0.2-1.5 s, kill -9 the relay, start it
#                                        again on DIR; sets done_restarts (stops at a failed start)

crash_port_pick() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

crash_writer_start() {
    local url=$1 ack_log=$2 connections=$3 max_points=${4:-4}
    : >"$ack_log"
    node "$crash_dir/load_writer.mjs" "$url" "$ack_log" "$connections" "$max_points" >"$work_dir/writer.out" \
        2>"$work_dir/writer.err" &
    writer_pid=$!
}

crash_writer_stop() {
    writer_status=0
    [ -n "${writer_pid:-}" ] || return 0
    kill -TERM "$writer_pid"
    wait "$writer_pid" || writer_status=$?
    writer_pid=
    local name
    for name in requests_acknowledged points_acknowledged retries connection_errors status_503 unexpected; do
        printf -v "writer_stat_$name" '%s' \
            "$(sed -n "s/.*\"$name\":\([0-9]*\).*/\1/p" "$work_dir/writer.out")"
    done
    expect_equal "writer got only 204, 503 or connection errors" 0 "$writer_status"
    if [ -s "$work_dir/writer.err" ]; then
        echo "  writer stderr:"
        head -n 20 "$work_dir/writer.err" | sed 's/^/       /'
    fi
}

crash_spool_compare() {
    local ack_log=$1 spool=$2
    "$BIN_DIR/meter-relay" spool-dump "$spool" >"$work_dir/dump.txt" 2>"$work_dir/dump.err"
    expect_equal "spool-dump exits 0" "0" "$?"
    expect_status "spool-check finds the stopped spool sound" 0 "$BIN_DIR/meter-relay" spool-check "$spool"

    sed -n 's/^crash,writer=\([0-9]*\) n=\([0-9]*\)i [0-9]*$/\1 \2/p' "$work_dir/dump.txt" >"$work_dir/found.all"
    sort -u "$work_dir/found.all" >"$work_dir/found.ids"
    sort -u "$ack_log" >"$work_dir/acked.ids"
    comm -23 "$work_dir/acked.ids" "$work_dir/found.ids" >"$work_dir/missing.ids"
    local acked found distinct missing
    acked=$(wc -l <"$work_dir/acked.ids")
    found=$(wc -l <"$work_dir/found.all")
    distinct=$(wc -l <"$work_dir/found.ids")
    missing=$(wc -l <"$work_dir/missing.ids")
    echo "  requests acknowledged:  ${writer_stat_requests_acknowledged:-?} (writer)"
    echo "  points acknowledged:    $acked"
    echo "  points found in spool:  $found ($distinct distinct, $((found - distinct)) duplicates)"
    echo "  missing:                $missing"
    if [ "$acked" -gt 0 ]; then check_pass "writer got acknowledgements"; else
        check_fail "writer got acknowledgements" "$(cat "$work_dir/writer.out" "$work_dir/writer.err")"
    fi
    expect_equal "no acknowledged point is missing from the spool" 0 "$missing"
    [ "$missing" -gt 0 ] && head -n 20 "$work_dir/missing.ids" | sed 's/^/       missing writer,n: /'
    return 0
}

# A random 0.2 to 1.5 s, so kills land at every phase of the write and delivery paths.
crash_random_sleep() {
    local ms=$((200 + RANDOM % 1301))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

crash_kill_restarts() {
    local dir=$1 restarts=$2 cycle
    done_restarts=0
    for cycle in $(seq 1 "$restarts"); do
        crash_random_sleep
        kill -KILL "$relay_pid"
        wait "$relay_pid" 2>/dev/null
        relay_pid=
        # Give the writer time to see connection errors and retry against nothing.
        sleep 0.05
        if ! relay_start "$dir"; then
            check_fail "meter-relay restarts after kill -9 number $cycle"
            return
        fi
        done_restarts=$cycle
    done
}
