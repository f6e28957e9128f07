#!/usr/bin/env bash
# meter-relay and its file descriptor limit:
# - soft limit low, hard limit high (a shell's or systemd's default of 1024 outside the relay's
#   unit, under relay.max_connections 1024): the relay raises its soft limit at start, so many
#   idle clients cannot exhaust its descriptors. Before, they did, the next spool segment could
#   not be created (EMFILE) and the relay stopped with a spool I/O error.
# - hard limit low as well: when accept() fails with EMFILE, the relay pauses accepting for a
#   moment instead of retrying at once (the listening socket stays readable, so an immediate retry
#   is a busy loop writing a log line per try, tens of MB a second, for as long as the clients
#   hold their connections). It logs the condition once, and serves the waiting clients as soon
#   as descriptors are free again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
holder_pid=
relay_pid=
cleanup() {
    [ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
    wait
    rm -rf "$work_dir"
}
trap cleanup EXIT

# limited_relay_start DIR ULIMIT_OPTION: starts the relay of DIR under `ulimit ULIMIT_OPTION 48`
# in a subshell (the clients below keep the test's limits); sets relay_pid, relay_url,
# starter_pid. The subshell waits for the relay and writes its exit status to DIR/relay.status.
limited_relay_start() {
    local dir=$1 option=$2
    (
        ulimit "$option" 48
        relay_start "$dir" || exit
        echo "$relay_pid $relay_url" >"$dir/relay.info"
        wait "$relay_pid"
        echo $? >"$dir/relay.status"
    ) &
    starter_pid=$!
    for _ in $(seq 1 300); do
        [ -s "$dir/relay.info" ] && break
        sleep 0.1
    done
    read -r relay_pid relay_url <"$dir/relay.info"
}

limited_relay_stop() {
    kill -TERM "$relay_pid"
    wait "$starter_pid"
    relay_pid=
}

echo "-- soft limit 48, hard limit high"
dir=$work_dir/soft
relay_config_write "$dir" "  read_timeout: 30s"
sed -i 's/^    dir: spool$/    dir: spool\n    segment_bytes: 1MiB/' "$dir/config.yaml"
if limited_relay_start "$dir" -Sn; then
    # 5 writers connect first, then 80 idle clients; the writers then send 3 MB, so new spool
    # segments are needed while the idle clients hold their connections.
    answers=$(python3 - "${relay_url##*:}" <<'PY'
import socket, sys
port = int(sys.argv[1])
writers = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(80)]
body = b"".join(b"power,meter=m%d value=%d %d\n" % (j % 50, j, 1700000000000000000 + j)
                for j in range(20000))


def answer_read(connection):
    """The status of one answer without a body (204, 503), or what went wrong."""
    head = b""
    connection.settimeout(20)
    try:
        while b"\r\n\r\n" not in head:
            data = connection.recv(1)
            if not data:
                return "closed"
            head += data
    except OSError as error:
        return type(error).__name__
    return head[9:12].decode()


answers = []
for _ in range(4):
    for w in writers:
        w.sendall(b"POST /write?db=home HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
    answers += [answer_read(w) for w in writers]
print(" ".join(sorted(set(answers))), len(answers))
for s in idle + writers:
    s.close()
PY
)
    expect_equal "80 idle clients, 20 writes of 600 KB: every write 204" "204 20" "$answers"
    sleep 1
    expect_equal "the relay still answers" 204 \
        "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$relay_url/ping")"
    expect_equal "and accepted every client" 0 "$(grep -c 'cannot accept' "$dir/relay.log")"
    limited_relay_stop
    expect_equal "meter-relay exits cleanly" 0 "$(cat "$dir/relay.status" 2>/dev/null)"
else
    check_fail "meter-relay starts with ulimit -Sn 48"
fi

echo "-- soft and hard limit 48"
dir=$work_dir/hard
relay_config_write "$dir" "  read_timeout: 30s"
if ! limited_relay_start "$dir" -n; then
    check_fail "meter-relay starts with ulimit -n 48"
    finish
    exit
fi
# 80 idle connections (more than the relay has descriptors for), held until the file "release"
# appears, then closed.
python3 - "${relay_url##*:}" "$work_dir/release" <<'PY' &
import os, socket, sys, time
port, release = int(sys.argv[1]), sys.argv[2]
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(80)]
while not os.path.exists(release):
    time.sleep(0.05)
for s in held:
    s.close()
PY
holder_pid=$!
sleep 3
accept_errors=$(grep -c 'cannot accept' "$dir/relay.log")
if [ "$accept_errors" -ge 1 ] && [ "$accept_errors" -le 10 ]; then
    check_pass "out of descriptors for 3 s: logged, not once per retry ($accept_errors lines)"
else
    check_fail "out of descriptors for 3 s: logged, not once per retry" \
        "expected 1 to 10 'cannot accept' lines, got $accept_errors"
fi
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$relay_pid/stat"; }
before=$(cpu_ticks)
sleep 1
used=$(($(cpu_ticks) - before))
if [ "$used" -le 20 ]; then
    check_pass "the relay does not spin while out of descriptors ($used ticks in 1 s)"
else
    check_fail "the relay does not spin while out of descriptors" \
        "expected at most 20 clock ticks of CPU in 1 s, used $used"
fi

touch "$work_dir/release"
wait "$holder_pid"
holder_pid=
expect_equal "once the clients are gone, a new client is served" 204 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$relay_url/ping")"
expect_equal "and a write is accepted" 204 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -XPOST "$relay_url/write?db=home" \
        --data-binary 'power value=1 1700000000000000000')"
limited_relay_stop
expect_equal "meter-relay exits cleanly" 0 "$(cat "$dir/relay.status" 2>/dev/null)"
finish
