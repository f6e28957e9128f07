#!/usr/bin/env bash
# The connection limits of meter-relay (spec/wire.md: "Slow or stalled clients are cut off by
# read/write timeouts; connection count is capped") against the real binary: relay.max_connections
# makes further clients wait until a connection closes; a request trickling in is cut off
# read_timeout after its first byte, without an answer and without spooling anything; an idle
# keep-alive connection closes after idle_timeout; connections the relay cuts off free their
# place under the cap; a complete write parked for the spool commit is not cut off by the read
# deadline; chunked bodies over relay.max_inflight_bytes all get through. Raw connections use
# bash's /dev/tcp.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD

writer_pid=
cleanup() {
    [ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null
    relay_stop
    rm -rf "$work_dir"
}
trap cleanup EXIT

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# write_status: the status of one small write on a new connection (at most 5 s).
write_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 -XPOST "$relay_url/write?db=home" \
        --data-binary "$1"
}

# spool_records DIR: how many records the spool in DIR holds.
spool_records() {
    "$BIN_DIR/meter-relay" spool-dump "$1/spool" | grep -c '^# seq='
}

# read_until_closed FD SECONDS: reads FD until the relay closes it; sets read_text to what came
# and read_closed to yes, or to no when SECONDS passed first.
read_until_closed() {
    local chunk status
    read_text=
    while true; do
        IFS= read -r -t "$2" -u "$1" chunk
        status=$?
        if [ "$status" -gt 128 ]; then
            read_closed=no
            return
        fi
        read_text+=$chunk
        if [ "$status" -ne 0 ]; then
            read_closed=yes
            return
        fi
        read_text+=$'\n'
    done
}

# answer_status FD: reads one answer's head from FD and prints its status code.
answer_status() {
    local line status=
    while IFS= read -r -t 5 -u "$1" line; do
        [ -z "$status" ] && status=$(cut -d' ' -f2 <<<"$line")
        [ "$line" = $'\r' ] && break
    done
    echo "${status:-none}"
}

# trickle FD TEXT: writes TEXT to FD one byte per second, in the background (writer_pid).
trickle() {
    local fd=$1 text=$2
    (
        for ((i = 0; i < ${#text}; i++)); do
            printf '%s' "${text:i:1}" >&"$fd" || exit 0
            sleep 1
        done
    ) 2>/dev/null &
    writer_pid=$!
}

# --- relay.max_connections: 4 ---
dir=$work_dir/cap
relay_config_write "$dir" "  max_connections: 4"
if relay_start "$dir"; then
    port=${relay_url##*:}
    expect_equal "a write below the cap: 204" 204 "$(write_status 'm v=1 1')"

    exec {idle1}<>"/dev/tcp/127.0.0.1/$port" {idle2}<>"/dev/tcp/127.0.0.1/$port" \
        {idle3}<>"/dev/tcp/127.0.0.1/$port" {idle4}<>"/dev/tcp/127.0.0.1/$port"
    sleep 0.3
    # The fifth client must not inherit the idle sockets, or closing them here would not close
    # them.
    curl -s -o /dev/null -w '%{http_code}' --max-time 8 -XPOST "$relay_url/write?db=home" \
        --data-binary 'm v=5 5' >"$work_dir/fifth.code" \
        {idle1}<&- {idle2}<&- {idle3}<&- {idle4}<&- &
    fifth_pid=$!
    sleep 1
    if kill -0 "$fifth_pid" 2>/dev/null; then
        check_pass "at the cap a fifth client waits (no answer after 1 s)"
    else
        check_fail "at the cap a fifth client waits (no answer after 1 s)" \
            "it got: $(cat "$work_dir/fifth.code")"
    fi
    closed_ms=$(now_ms)
    exec {idle1}<&-
    wait "$fifth_pid"
    waited_ms=$(($(now_ms) - closed_ms))
    expect_equal "once one connection closes the fifth client gets 204" 204 \
        "$(cat "$work_dir/fifth.code")"
    expect_equal "and gets it within 1 s of the close" yes "$([ "$waited_ms" -lt 1000 ] && echo yes)"
    exec {idle2}<&- {idle3}<&- {idle4}<&-

    # Closed connections are counted out: more new connections than the cap, one after another.
    statuses=
    for i in 1 2 3 4 5 6; do
        statuses+="$(write_status "m v=$i $i") "
    done
    expect_equal "six writes on six new connections: 204 each" "204 204 204 204 204 204 " \
        "$statuses"
    relay_stop
    expect_equal "cap relay: exit status 0" 0 "$relay_exit_status"
    expect_equal "cap relay: every acknowledged write is in the spool" 8 "$(spool_records "$dir")"
else
    check_fail "cap relay starts"
fi

# --- read_timeout: 2s, idle_timeout: 3s, max_connections: 2 ---
dir=$work_dir/timeouts
relay_config_write "$dir" "  read_timeout: 2s
  idle_timeout: 3s
  max_connections: 2"
if relay_start "$dir"; then
    port=${relay_url##*:}

    # A whole request, one byte per second.
    exec {slow}<>"/dev/tcp/127.0.0.1/$port"
    start_ms=$(now_ms)
    trickle "$slow" $'POST /write?db=home HTTP/1.1\r\nHost: relay\r\nContent-Length: 8\r\n\r\nm v=1 1\n'
    read_until_closed "$slow" 6
    elapsed_ms=$(($(now_ms) - start_ms))
    kill "$writer_pid" 2>/dev/null
    exec {slow}<&-
    expect_equal "a request trickling in is cut off" yes "$read_closed"
    expect_equal "within 1.5 to 3 s (read_timeout 2s)" yes \
        "$([ "$elapsed_ms" -ge 1500 ] && [ "$elapsed_ms" -le 3000 ] && echo yes)"
    expect_equal "without an answer" "" "$read_text"

    # The headers at once, the body one byte per second: the deadline counts from the first byte.
    exec {slow}<>"/dev/tcp/127.0.0.1/$port"
    start_ms=$(now_ms)
    printf 'POST /write?db=home HTTP/1.1\r\nHost: relay\r\nContent-Length: 16\r\n\r\n' >&"$slow"
    trickle "$slow" $'m v=2 2\nm v=3 3\n'
    read_until_closed "$slow" 6
    elapsed_ms=$(($(now_ms) - start_ms))
    kill "$writer_pid" 2>/dev/null
    exec {slow}<&-
    expect_equal "a body trickling in is cut off" yes "$read_closed"
    expect_equal "within 1.5 to 3 s of the request's first byte" yes \
        "$([ "$elapsed_ms" -ge 1500 ] && [ "$elapsed_ms" -le 3000 ] && echo yes)"

    # Keep-alive: a second request after more than read_timeout of idling is still served; the
    # connection closes idle_timeout after its last answer.
    exec {keep}<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET /ping HTTP/1.1\r\nHost: relay\r\n\r\n' >&"$keep"
    expect_equal "keep-alive: first /ping 204" 204 "$(answer_status "$keep")"
    sleep 2.3
    printf 'GET /ping HTTP/1.1\r\nHost: relay\r\n\r\n' >&"$keep"
    expect_equal "keep-alive: /ping after 2.3 s idle (> read_timeout) 204" 204 \
        "$(answer_status "$keep")"
    start_ms=$(now_ms)
    read_until_closed "$keep" 6
    elapsed_ms=$(($(now_ms) - start_ms))
    exec {keep}<&-
    expect_equal "an idle keep-alive connection is closed" yes "$read_closed"
    expect_equal "after 2.5 to 4 s (idle_timeout 3s)" yes \
        "$([ "$elapsed_ms" -ge 2500 ] && [ "$elapsed_ms" -le 4000 ] && echo yes)"

    # Connections the relay cuts off free their place under the cap (2 here): two that never
    # send anything hold it until their first request's deadline, read_timeout after the accept.
    exec {mute1}<>"/dev/tcp/127.0.0.1/$port" {mute2}<>"/dev/tcp/127.0.0.1/$port"
    start_ms=$(now_ms)
    status=$(write_status 'm v=4 4' {mute1}<&- {mute2}<&-)
    elapsed_ms=$(($(now_ms) - start_ms))
    exec {mute1}<&- {mute2}<&-
    expect_equal "a client waiting behind two mute connections gets 204" 204 "$status"
    expect_equal "once they are cut off, 1.5 to 3 s after their accept" yes \
        "$([ "$elapsed_ms" -ge 1500 ] && [ "$elapsed_ms" -le 3000 ] && echo yes)"

    relay_stop
    expect_equal "timeouts relay: exit status 0" 0 "$relay_exit_status"
    expect_equal "nothing of the cut-off requests is in the spool, only the last write" 1 \
        "$(spool_records "$dir")"
else
    check_fail "timeouts relay starts"
fi

# --- a complete write parked for the commit longer than read_timeout ---
dir=$work_dir/parked
relay_config_write "$dir" "    commit_max_delay_us: 1s
  read_timeout: 300ms"
if relay_start "$dir"; then
    start_ms=$(now_ms)
    status=$(write_status 'm v=9 9')
    elapsed_ms=$(($(now_ms) - start_ms))
    expect_equal "a write parked for the commit: 204" 204 "$status"
    expect_equal "after waiting longer than read_timeout (300ms)" yes \
        "$([ "$elapsed_ms" -ge 900 ] && echo yes)"
    relay_stop
    expect_equal "parked relay: exit status 0" 0 "$relay_exit_status"
    expect_equal "the parked write is in the spool" 1 "$(spool_records "$dir")"
else
    check_fail "parked relay starts"
fi

# --- clients without credentials announcing bodies do not hold the writes' budget ---
# A request other than a write may send at most 64 KiB of body before its client is known. Such
# bodies must not wait in line for relay.max_inflight_bytes, nor count in it: twenty clients that
# announce one each and send nothing (more than 1 MiB in all) would otherwise hold every write
# behind them until read_timeout, and again with the next twenty.
dir=$work_dir/unknown_bodies
relay_config_write "$dir" "  auth: token
  max_inflight_bytes: 1MiB
  read_timeout: 10s"
printf 'RELAY_TOKENS=limits-token\n' >"$dir/secrets/relay.env"
chmod 600 "$dir/secrets/relay.env"
if relay_start "$dir"; then
    port=${relay_url##*:}
    holders=()
    for i in $(seq 1 20); do
        exec {holder}<>"/dev/tcp/127.0.0.1/$port"
        printf 'GET /ping HTTP/1.1\r\nHost: relay\r\nContent-Length: 65536\r\n\r\n' >&"$holder"
        holders+=("$holder")
    done
    sleep 0.5
    started_ms=$(now_ms)
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 8 -XPOST "$relay_url/write?db=home" \
        -H 'Authorization: Token limits-token' --data-binary 'm v=1 1')
    waited_ms=$(($(now_ms) - started_ms))
    expect_equal "a write while 20 clients without credentials announce bodies: 204" 204 "$code"
    expect_equal "and it is not held behind them (answered within 2 s)" yes \
        "$([ "$waited_ms" -lt 2000 ] && echo yes || echo "no: $waited_ms ms")"
    for holder in "${holders[@]}"; do exec {holder}<&-; done
    relay_stop
else
    check_fail "relay for bodies of unknown clients starts"
fi

# --- chunked bodies over relay.max_inflight_bytes at once ---
# Each body is read piece by piece; one that would pass the budget stops being read until there
# is room, except the oldest, which always goes on: six 2.8 MB uploads against a 1 MiB budget
# must all be answered (none waits for another for good) and spooled whole.
dir=$work_dir/chunked
relay_config_write "$dir" "  max_inflight_bytes: 1MiB
  read_timeout: 20s"
if relay_start "$dir"; then
    for client in 1 2 3 4 5 6; do
        awk -v c="$client" 'BEGIN {
            for (i = 0; i < 40000; i++)
                printf "upload%d,host=relay-chunked-budget-test value=%d %d\n", c, i, 1700000000000000000 + i
        }' >"$work_dir/upload$client.lp"
    done
    upload_pids=()
    for client in 1 2 3 4 5 6; do
        curl -s -o /dev/null -w '%{http_code}' --max-time 60 --limit-rate 4M -XPOST \
            "$relay_url/write?db=home" -H 'Transfer-Encoding: chunked' \
            --data-binary @"$work_dir/upload$client.lp" >"$work_dir/upload$client.status" &
        upload_pids+=($!)
    done
    wait "${upload_pids[@]}" # not the relay, which runs in the background too
    for client in 1 2 3 4 5 6; do
        expect_equal "chunked upload $client over the budget: 204" 204 \
            "$(cat "$work_dir/upload$client.status")"
    done
    relay_stop
    expect_equal "chunked budget relay: exit status 0" 0 "$relay_exit_status"
    expect_equal "every line of the six uploads is in the spool" 240000 \
        "$("$BIN_DIR/meter-relay" spool-dump "$dir/spool" | grep -c '^upload')"
else
    check_fail "chunked budget relay starts"
fi

finish
