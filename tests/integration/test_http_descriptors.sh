#!/usr/bin/env bash
# meter-relay out of file descriptors: when accept() fails with EMFILE (more clients than the
# process may hold descriptors, e.g. relay.max_connections above `ulimit -n`), the relay pauses
# accepting for a moment instead of retrying at once: the listening socket stays readable, so an
# immediate retry is a busy loop that writes one log line per try (hundreds of thousands a second,
# tens of MB of log) for as long as the clients hold their connections. It logs the condition
# once, and serves the waiting clients as soon as descriptors are free again.
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

dir=$work_dir/relay
relay_config_write "$dir" "  read_timeout: 30s"
# Only the relay runs with the low limit (a subshell); the clients below do not.
# The relay is the subshell's child, so the subshell waits for it and reports its exit status.
(
    ulimit -n 48
    relay_start "$dir" || exit
    echo "$relay_pid $relay_url" >"$work_dir/relay.info"
    wait "$relay_pid"
    echo $? >"$work_dir/relay.status"
) &
starter_pid=$!
for _ in $(seq 1 300); do
    [ -s "$work_dir/relay.info" ] && break
    sleep 0.1
done
read -r relay_pid relay_url <"$work_dir/relay.info" || {
    check_fail "meter-relay starts with ulimit -n 48"
    finish
    exit
}

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
kill -TERM "$relay_pid"
wait "$starter_pid"
relay_pid=
expect_equal "meter-relay exits cleanly" 0 "$(cat "$work_dir/relay.status" 2>/dev/null)"
finish
