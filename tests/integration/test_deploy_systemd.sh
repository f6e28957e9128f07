#!/usr/bin/env bash
# deploy/systemd: the units as make install writes them (PREFIX=/usr) pass `systemd-analyze
# verify` with no message at all (it only warns about unknown keys and bad values, so any output
# fails here), their hardening scores "OK" or better in `systemd-analyze security`, and the
# commands they run work: ExecStart under systemd's notify protocol (READY=1), ExecReload's
# check-config and SIGHUP, then SIGTERM. (Booted under a real systemd in make test-install.)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
unset NOTIFY_SOCKET RELAY_TOKENS RELAY_USERS

if ! command -v systemd-analyze >/dev/null; then
    check_fail "systemd-analyze is installed (Debian: systemd)"
    finish
    exit
fi
root=$work_dir/root
make -s -C "$REPO_DIR" install-files DESTDIR="$root" PREFIX=/usr INSTALL_BIN_DIR="$BIN_DIR" \
    RELAY_LISTEN=127.0.0.1:0 >"$work_dir/install.out" 2>&1 ||
    check_fail "make install-files" "$(cat "$work_dir/install.out")"
# verify --root needs the system's own units (targets the units name) in the root.
mkdir -p "$root/lib/systemd"
cp -a /lib/systemd/system "$root/lib/systemd/"
units=$(cd "$root" && ls usr/lib/systemd/system/meter-*)
expect_equal "five units installed" \
    "usr/lib/systemd/system/meter-batch-reconcile.service usr/lib/systemd/system/meter-batch-reconcile.timer usr/lib/systemd/system/meter-batch-tibber.service usr/lib/systemd/system/meter-batch-tibber.timer usr/lib/systemd/system/meter-relay.service" \
    "$(echo $units)"
for unit in $units; do
    output=$(cd "$root" && systemd-analyze verify --root="$root" "$unit" 2>&1)
    status=$?
    if [ "$status" -eq 0 ] && [ -z "$output" ]; then
        check_pass "systemd-analyze verify ${unit##*/}: clean"
    else
        check_fail "systemd-analyze verify ${unit##*/}: clean" "exit $status" "$output"
    fi
done
# A broken unit is caught (the check can fail).
sed 's/^ProtectSystem=strict/ProtectSystem=strictly/' "$root/usr/lib/systemd/system/meter-relay.service" \
    >"$root/usr/lib/systemd/system/broken-relay.service"
broken=$(cd "$root" && systemd-analyze verify --root="$root" usr/lib/systemd/system/broken-relay.service 2>&1)
expect_contains "a bad value is reported" "Failed to parse protect system value" "$broken"
rm "$root/usr/lib/systemd/system/broken-relay.service"

for service in meter-relay meter-batch-reconcile meter-batch-tibber; do
    score=$(cd "$root" && systemd-analyze security --offline=yes --root="$root" \
        "usr/lib/systemd/system/$service.service" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
    if [[ "$score" =~ ^[0-9.]+\ (OK|SAFE)$ ]] && awk -v s="${score% *}" 'BEGIN { exit !(s <= 2.0) }'; then
        check_pass "$service.service hardening: exposure $score"
    else
        check_fail "$service.service hardening: exposure at most 2.0 (OK)" "got: $score"
    fi
done
unit=$(cat "$root/usr/lib/systemd/system/meter-relay.service")
for line in Type=notify User=nebenkosten Restart=on-failure ProtectSystem=strict \
    "ReadWritePaths=/var/lib/nebenkosten /var/log/nebenkosten" NoNewPrivileges=yes PrivateTmp=yes \
    "CapabilityBoundingSet=" StateDirectory=nebenkosten; do
    [[ $'\n'"$unit"$'\n' == *$'\n'"$line"$'\n'* ]] && check_pass "meter-relay.service: $line" ||
        check_fail "meter-relay.service: $line"
done

# The commands of the unit, as systemd runs them (paths inside DESTDIR, the relay on a free port,
# the state directory of the root). A perl listener stands in for systemd's notify socket.
config=$root/etc/nebenkosten/config.yaml
sed -i "s#dir: /var/lib/nebenkosten/spool#dir: $root/var/lib/nebenkosten/spool#" "$config"
exec_line() { sed -n "s/^$1=//p" "$root/usr/lib/systemd/system/meter-relay.service" | sed "s#/usr/bin/#$root/usr/bin/#g; s#/etc/nebenkosten/#$root/etc/nebenkosten/#g"; }
start=$(exec_line ExecStart)
check=$(exec_line ExecReload | head -n 1)
perl -MIO::Socket::UNIX -e '
    my $socket = IO::Socket::UNIX->new(Type => SOCK_DGRAM(), Local => $ARGV[0]) or die "socket: $!";
    open(my $out, ">>", $ARGV[1]) or die; $out->autoflush(1);
    while (defined $socket->recv(my $message, 4096)) { $message =~ s/\n/|/g; print $out "$message\n"; }
' "$work_dir/notify.sock" "$work_dir/notify.out" &
listener=$!
trap 'kill "$listener" 2>/dev/null; [ -z "${relay:-}" ] || kill "$relay" 2>/dev/null; rm -rf "$work_dir"' EXIT
for _ in $(seq 1 50); do [ -S "$work_dir/notify.sock" ] && break; sleep 0.1; done
# shellcheck disable=SC2086
NOTIFY_SOCKET=$work_dir/notify.sock $start 2>"$work_dir/relay.log" &
relay=$!
for _ in $(seq 1 100); do grep -q READY=1 "$work_dir/notify.out" 2>/dev/null && break; sleep 0.1; done
expect_contains "ExecStart: the relay tells systemd READY=1" "READY=1" "$(cat "$work_dir/notify.out" 2>/dev/null)"
# shellcheck disable=SC2086
expect_status "ExecReload's check-config accepts the installed file" 0 $check
kill -HUP "$relay"
for _ in $(seq 1 50); do grep -q 'configuration reloaded' "$work_dir/relay.log" && break; sleep 0.1; done
expect_contains "ExecReload's SIGHUP reloads" "configuration reloaded" "$(cat "$work_dir/relay.log")"
kill -TERM "$relay"
wait "$relay"
expect_equal "SIGTERM (systemctl stop): exit status 0" 0 "$?"
relay=

# The batch units' sandbox against what meter-batch writes. With logging.file set under the log
# directory (as the installed example and deploy/logrotate suggest), meter-batch appends to the
# relay's log file, so the timers' services must be able to write there. ProtectSystem=strict is
# reproduced in a mount namespace: the root read-only, writable only what the unit names
# (ReadWritePaths=, StateDirectory= under /var/lib, LogsDirectory= under /var/log), as systemd
# makes it.
unit_writable_paths() { # UNIT
    local file=$root/usr/lib/systemd/system/$1
    sed -n 's/^ReadWritePaths=//p' "$file" | tr ' ' '\n'
    sed -n 's/^StateDirectory=//p' "$file" | tr ' ' '\n' | sed 's#^#/var/lib/#'
    sed -n 's/^LogsDirectory=//p' "$file" | tr ' ' '\n' | sed 's#^#/var/log/#'
}
sed -i "s|^  # file: /var/log/nebenkosten/relay.log .*|  file: $root/var/log/nebenkosten/relay.log|; s|http://127.0.0.1:8086|http://127.0.0.1:9|g" \
    "$config"
expect_contains "the installed configuration logs to the log directory" "file: $root/var/log/nebenkosten/relay.log" \
    "$(cat "$config")"
for service in meter-batch-reconcile meter-batch-tibber; do
    : >"$root/var/log/nebenkosten/relay.log"
    command=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/$service.service" |
        sed "s#/usr/bin/#$root/usr/bin/#g; s#/etc/nebenkosten/#$root/etc/nebenkosten/#g")
    writable=$(unit_writable_paths "$service.service" | sed '/^$/d' | sort -u | sed "s#^#$root#" | tr '\n' ' ')
    # shellcheck disable=SC2016
    unshare --mount --propagation private sh -c '
        root=$1; shift; writable=$1; shift
        mount --bind "$root" "$root" || exit 99
        for path in $writable; do mount --bind "$path" "$path" || exit 99; done
        mount -o remount,bind,ro "$root" || exit 99
        exec "$@"' sandbox "$root" "$writable" $command >"$work_dir/$service.out" 2>&1
    status=$?
    [ "$status" -ne 99 ] || check_fail "$service: the sandbox is set up (unshare, mount)" "$(cat "$work_dir/$service.out")"
    output=$(cat "$work_dir/$service.out")
    [[ "$output" != *"cannot open log file"* ]] && [ -s "$root/var/log/nebenkosten/relay.log" ] &&
        check_pass "$service.service: meter-batch writes to logging.file in the unit's sandbox" ||
        check_fail "$service.service: meter-batch writes to logging.file in the unit's sandbox" \
            "exit $status, writable: $writable" "$output"
done
finish
