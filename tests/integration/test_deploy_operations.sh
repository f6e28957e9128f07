#!/usr/bin/env bash
# Operations (issue 8): what an operator and the service manager see of a running relay.
#   - `--version` of both programs names VERSION and the commit; /health carries the same build;
#   - systemd's notify protocol (Type=notify): READY=1 once it listens, RELOADING=1 and READY=1
#     around a SIGHUP, STOPPING=1 at SIGTERM; batch jobs do not inherit NOTIFY_SOCKET;
#   - SIGUSR1 reopens the log file (logrotate's move-then-signal) without reloading the
#     configuration;
#   - logging.max_bytes / backup_count rotate the file: file, file.1 .. file.N, none larger.
# (SIGHUP reload with a broken file is test_reload.sh, the SIGTERM drain test_http_write.sh.)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/relay_helpers.sh"
unset RELAY_TOKENS RELAY_USERS NOTIFY_SOCKET
listener_pid=
trap 'relay_stop; [ -z "$listener_pid" ] || kill "$listener_pid" 2>/dev/null; rm -rf "$work_dir"' EXIT

version=$(cat "$REPO_DIR/VERSION")

# --version
relay_version=$("$BIN_DIR/meter-relay" --version)
batch_version=$("$BIN_DIR/meter-batch" --version)
[[ "$relay_version" =~ ^meter-relay\ ([^ ]+)\ \(commit\ ([^\)]+)\)$ ]]
expect_equal "meter-relay --version names VERSION" "$version" "${BASH_REMATCH[1]:-}"
commit=${BASH_REMATCH[2]:-}
[ -n "$commit" ] && check_pass "meter-relay --version names a commit ($commit)" ||
    check_fail "meter-relay --version names a commit" "$relay_version"
expect_equal "meter-batch --version is the same build" "meter-batch $version (commit $commit)" "$batch_version"

# log_wait FILE PATTERN: waits (at most 10 s) for a line matching PATTERN in FILE.
log_wait() {
    local attempt
    for attempt in $(seq 1 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# A stand-in for systemd's notify socket: every datagram goes to notify.out, one per line
# (newlines inside a datagram become '|'). perl-base (essential on Debian) has the socket module.
notify_socket=$work_dir/notify.sock
perl -MIO::Socket::UNIX -e '
    my $socket = IO::Socket::UNIX->new(Type => SOCK_DGRAM(), Local => $ARGV[0]) or die "socket: $!";
    open(my $out, ">>", $ARGV[1]) or die "$ARGV[1]: $!";
    $out->autoflush(1);
    while (defined $socket->recv(my $message, 4096)) { $message =~ s/\n/|/g; print $out "$message\n"; }
' "$notify_socket" "$work_dir/notify.out" &
listener_pid=$!
for attempt in $(seq 1 50); do [ -S "$notify_socket" ] && break; sleep 0.1; done

# The relay logs to a file (for SIGUSR1), rotated at 4 KiB keeping 2 old files; a job that
# records its environment shows whether NOTIFY_SOCKET leaked to children.
dir=$work_dir/relay
relay_config_write "$dir"
log_file=$dir/log/relay.log
mkdir -p "$dir/log"
sed -i "s|  format: json|  format: json\n  file: $log_file\n  max_bytes: 4KiB\n  backup_count: 2|" \
    "$dir/config.yaml"
cat >"$dir/fake-batch" <<SH
#!/bin/sh
env >"$dir/job.env"
SH
chmod 755 "$dir/fake-batch"
printf 'workflows:\n  batch_program: %s\n' "$dir/fake-batch" >>"$dir/config.yaml"

NOTIFY_SOCKET=$notify_socket "$BIN_DIR/meter-relay" run -c "$dir/config.yaml" 2>"$dir/stderr.log" &
relay_pid=$!
relay_log=$log_file
if ! log_wait "$log_file" '"msg":"listening"'; then
    check_fail "the relay starts and logs to its file" "$(cat "$dir/stderr.log")"
    finish
    exit
fi
port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$log_file" | head -n 1)
relay_url=http://127.0.0.1:$port
log_wait "$work_dir/notify.out" 'READY=1' || true
expect_equal "systemd is told READY=1 once the relay listens" "READY=1|STATUS=accepting writes" \
    "$(head -n 1 "$work_dir/notify.out" 2>/dev/null)"
expect_equal "... and /ready answers then" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$relay_url/ready")"

health=$(curl -s "$relay_url/health")
build=$(node -e 'const h = JSON.parse(process.argv[1]); console.log(h.build.program, h.build.version, h.build.commit, h.version)' "$health")
expect_equal "/health names the build (program, version, commit; InfluxDB version)" \
    "meter-relay $version $commit 1.8.10" "$build"

# A job run: its environment has no NOTIFY_SOCKET.
http_request job -XPOST "$relay_url/api/v1/jobs/reconcile"
expect_equal "a job starts" 202 "$http_code"
for attempt in $(seq 1 100); do [ -s "$dir/job.env" ] && break; sleep 0.1; done
if [ -s "$dir/job.env" ] && ! grep -q '^NOTIFY_SOCKET=' "$dir/job.env"; then
    check_pass "a batch job does not inherit NOTIFY_SOCKET"
else
    check_fail "a batch job does not inherit NOTIFY_SOCKET" "$(grep NOTIFY "$dir/job.env" 2>&1)"
fi

kill -HUP "$relay_pid"
log_wait "$log_file" '"msg":"configuration reloaded"' || check_fail "SIGHUP reloads" "$(tail -n 3 "$log_file")"
for attempt in $(seq 1 50); do [ "$(wc -l <"$work_dir/notify.out")" -ge 3 ] && break; sleep 0.1; done
expect_equal "SIGHUP: RELOADING=1, then READY=1" "RELOADING=1 READY=1|STATUS=accepting writes" \
    "$(sed -n '2p;3p' "$work_dir/notify.out" | tr '\n' ' ' | sed 's/ $//')"

# SIGUSR1: logrotate moved the file away; the relay reopens the path, reloads nothing.
reloads_before=$(cat "$log_file"* | grep -c '"msg":"configuration reloaded"')
mv "$log_file" "$dir/log/moved.log"
kill -USR1 "$relay_pid"
if log_wait "$log_file" '"msg":"log file reopened"'; then
    check_pass "SIGUSR1: the relay writes to a new file at the configured path"
else
    check_fail "SIGUSR1: the relay writes to a new file at the configured path" \
        "$(tail -n 3 "$dir/log/moved.log")"
fi
expect_equal "SIGUSR1 does not reload the configuration" "$reloads_before" \
    "$(cat "$log_file"* "$dir/log/moved.log" | grep -c '"msg":"configuration reloaded"')"
expect_equal "SIGUSR1 is not a reload for systemd either" 3 "$(wc -l <"$work_dir/notify.out")"
expect_equal "the relay still answers after SIGUSR1" 204 \
    "$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'm v=1 1700000000' "$relay_url/write?db=d&precision=s")"

# Rotation at max_bytes (4 KiB), keeping 2: each SIGUSR1 logs one line of about 100 bytes.
for i in $(seq 1 150); do
    kill -USR1 "$relay_pid"
    sleep 0.01
done
for attempt in $(seq 1 100); do
    [ "$(cat "$log_file"* 2>/dev/null | grep -c '"msg":"log file reopened"')" -ge 100 ] && break
    sleep 0.1
done
files=$(cd "$dir/log" && ls relay.log* | sort | tr '\n' ' ')
expect_equal "rotation keeps relay.log, relay.log.1, relay.log.2" "relay.log relay.log.1 relay.log.2 " "$files"
largest=$(stat -c %s "$log_file" "$log_file.1" "$log_file.2" | sort -n | tail -n 1)
[ "$largest" -le 4096 ] && check_pass "no log file grows past max_bytes ($largest bytes)" ||
    check_fail "no log file grows past max_bytes" "largest: $largest bytes"
kill -0 "$relay_pid" 2>/dev/null && check_pass "the relay runs on after rotating" ||
    check_fail "the relay runs on after rotating"

relay_stop
expect_equal "SIGTERM: exit status 0" 0 "$relay_exit_status"
for attempt in $(seq 1 50); do grep -q STOPPING "$work_dir/notify.out" && break; sleep 0.1; done
expect_equal "SIGTERM: systemd is told STOPPING=1" "STOPPING=1" "$(tail -n 1 "$work_dir/notify.out")"
finish
