#!/usr/bin/env bash
# make test-install: a fresh Debian 12 root goes from a clean copy of this checkout to a relay
# answering /health with `make install-relay` alone, twice over:
#   1. in a chroot (no init system, as in a build stage): install-relay installs everything and
#      says it cannot start the service; the relay started by hand as the nebenkosten user
#      answers /health and takes a write into /var/lib/nebenkosten;
#   2. the same root booted with systemd as PID 1 (systemd-nspawn, what a Proxmox LXC is):
#      install-relay again (idempotent: no package, no rebuild) with WITH_INFLUXDB=1 enables and
#      starts meter-relay.service (Type=notify, hardened) and InfluxDB; /health passes, a write
#      reaches InfluxDB, `systemctl reload` refuses a broken file and the relay keeps running,
#      the reconcile timer's service runs, `systemctl stop` drains cleanly.
# The Debian root is cached in var/test-install/base (debootstrap, once), the downloaded .debs
# and apt lists in var/test-install/apt-*, so a rerun needs no download. Each phase runs in its
# own mount and network namespace: nothing listens on the host, no mount outlives the test.
# Needs root, debootstrap and systemd-container (systemd-nspawn); MIRROR overrides the Debian
# mirror (default: the one this machine's apt uses), TEST_INSTALL_CACHE the cache directory.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TEST_INSTALL_CACHE:-$repo/var/test-install}
root=$cache/root
log=$cache/test-install.log
base_recipe="bookworm minbase systemd,systemd-sysv,dbus,ca-certificates"
started=$SECONDS
checks_failed=0
checks_passed=0
nspawn_pid=

check_pass() {
    echo "  ok   $1"
    checks_passed=$((checks_passed + 1))
}
check_fail() {
    echo "  FAIL $1"
    shift
    [ $# -gt 0 ] && printf '       %s\n' "$@"
    checks_failed=$((checks_failed + 1))
}
expect_equal() {
    if [ "$2" == "$3" ]; then check_pass "$1"; else check_fail "$1" "expected: $2" "actual:   $3"; fi
}
expect_contains() {
    if [[ "$3" == *"$2"* ]]; then check_pass "$1"; else check_fail "$1" "expected to contain: $2" "actual: ${3:0:600}"; fi
}
elapsed() { echo "$((SECONDS - $1))s"; }
die() {
    echo "test-install: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, systemd-nspawn)"
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "test-install: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "cannot install ${missing[*]}"
fi

# The mirror this machine's apt uses (deb822 .sources or one-line sources.list).
mirror_find() { # SUFFIX: /debian or /debian-security
    { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{for (i = 2; i <= NF; i++) print $i}'
      grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'; } |
        grep -E "$1/?\$" | head -n 1
}
MIRROR=${MIRROR:-$(mirror_find /debian)}
SECURITY_MIRROR=${SECURITY_MIRROR:-$(mirror_find /debian-security)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}

mkdir -p "$cache/apt-archives/partial" "$cache/apt-lists/partial"
# One run at a time: a second would delete the root the first has booted.
exec 9>"$cache/lock"
flock -n 9 || die "another make test-install runs (lock: $cache/lock)"
: >"$log"
echo "test-install: log in $log"

# The cached base: what a Proxmox "debian-12-standard" template has that matters here (systemd,
# no compiler).
phase=$SECONDS
if [ "$(cat "$cache/base/.nebenkosten-base" 2>/dev/null)" != "$base_recipe" ]; then
    rm -rf "$cache/base" "$cache/base.tmp"
    echo "test-install: debootstrap Debian 12 from $MIRROR (once; cached in var/test-install/base)"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates bookworm \
        "$cache/base.tmp" "$MIRROR" >>"$log" 2>&1 || die "debootstrap failed; see $log"
    echo "$base_recipe" >"$cache/base.tmp/.nebenkosten-base"
    mv "$cache/base.tmp" "$cache/base"
fi
rm -rf "$root"
cp -a "$cache/base" "$root"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -f "$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
echo nebenkosten-test >"$root/etc/hostname"
# Keep the .debs apt downloads (the cache is bind-mounted over /var/cache/apt/archives).
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/01keep-debs"
# No package script may start a service in the chroot (InfluxDB's would listen on the host).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

# A clean copy of the checkout: tracked and new files, not what .gitignore names (build output,
# var/, node_modules, secrets/*.env); without git metadata (an unpacked archive) every file but
# those. TEST_INSTALL_IGNORE: glob patterns of paths to leave out as well.
mkdir -p "$root/opt/nebenkosten"
source_files() {
    if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$repo" ls-files -z --cached --others --exclude-standard
    else
        (cd "$repo" && find . \( -name .git -o -path ./var -o -path './build*' -o -name node_modules \) \
            -prune -o \( -type f -o -type l \) ! -name '*.env' -printf '%P\0')
    fi
}
(cd "$repo" && set -f && source_files |
    while IFS= read -r -d '' file; do
        [ -e "$file" ] || continue
        for pattern in ${TEST_INSTALL_IGNORE:-}; do
            # shellcheck disable=SC2254
            case $file in $pattern) continue 2 ;; esac
        done
        printf '%s\0' "$file"
    done |
    tar --null -T - -cf -) | tar -xf - -C "$root/opt/nebenkosten" || die "cannot copy the checkout"
echo "== root ready ($(elapsed "$phase"): $(du -sh "$root" | cut -f1))"

# In a private mount namespace: the chroot's /proc, /sys, /dev and the apt caches.
chroot_run() { # COMMAND...: runs COMMAND in the chroot (host network)
    unshare --mount --propagation private -- bash -c '
        root=$1 cache=$2; shift 2
        mount -t proc proc "$root/proc" && mount -t sysfs -o ro sysfs "$root/sys" &&
            mount --bind /dev "$root/dev" && mount --bind /dev/pts "$root/dev/pts" &&
            mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives" &&
            mount --bind "$cache/apt-lists" "$root/var/lib/apt/lists" || exit 99
        exec chroot "$root" "$@"' chroot-run "$root" "$cache" "$@"
}

echo "== phase 1: make install-relay in a chroot (no init system)"
phase=$SECONDS
chroot_run /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 WITH_INFLUXDB=1 \
    bash -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null &&
        cd /opt/nebenkosten && make install-relay' >"$cache/phase1.out" 2>&1
status=$?
cat "$cache/phase1.out" >>"$log"
install_time=$(elapsed "$phase")
expect_equal "make install-relay succeeds in a fresh Debian 12 root ($install_time)" 0 "$status"
[ "$status" -eq 0 ] || tail -n 30 "$cache/phase1.out"
expect_contains "... and says that systemd is not running to start the service" \
    "systemd is not running here" "$(cat "$cache/phase1.out")"
for path in /usr/local/bin/meter-relay /usr/local/bin/meter-batch /etc/nebenkosten/config.yaml \
    /usr/local/lib/systemd/system/meter-relay.service /etc/logrotate.d/nebenkosten; do
    [ -e "$root$path" ] && check_pass "installed: $path" || check_fail "installed: $path"
done
expect_equal "secrets directory: mode 700, owned by nebenkosten" "700 nebenkosten" \
    "$(chroot "$root" stat -c '%a %U' /etc/nebenkosten/secrets 2>&1)"
expect_equal "state directory owned by nebenkosten" "nebenkosten" \
    "$(chroot "$root" stat -c '%U' /var/lib/nebenkosten/spool 2>&1)"

# The relay by hand, as the service user, in a network namespace of its own (only lo): it
# listens on the installed configuration's :8087 without touching the host's ports.
phase=$SECONDS
unshare --mount --net --propagation private -- bash -c '
    root=$1
    ip link set lo up || exit 99
    mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" || exit 99
    chroot "$root" setpriv --reuid=nebenkosten --regid=nebenkosten --init-groups \
        /usr/local/bin/meter-relay run \
        -c /etc/nebenkosten/config.yaml 2>"$root/tmp/relay.log" &
    relay=$!
    for _ in $(seq 1 100); do
        curl -fs -o /dev/null http://127.0.0.1:8087/health && break
        sleep 0.1
    done
    echo "health $(curl -s -o /tmp/health.$$ -w "%{http_code}" http://127.0.0.1:8087/health) $(cat /tmp/health.$$)"
    rm -f /tmp/health.$$
    echo "write $(curl -s -o /dev/null -w "%{http_code}" --data-binary \
        "kWh,entity_id=haupt_strom,domain=input_number value=12345.6 1732665600" \
        "http://127.0.0.1:8087/write?db=lampfi&precision=s")"
    kill -TERM "$relay"
    wait "$relay"
    echo "exit $?"
' chroot-relay "$root" >"$cache/phase1-relay.out" 2>&1
relay_out=$(cat "$cache/phase1-relay.out")
cat "$cache/phase1-relay.out" "$root/tmp/relay.log" >>"$log" 2>/dev/null
expect_contains "the relay started by hand answers /health: 200, pass" 'health 200 {"name":"influxdb","message":"ready for queries and writes","status":"pass"' "$relay_out"
expect_contains "/health names the build" '"build":{"program":"meter-relay","version":"'"$(cat "$repo/VERSION")"'"' "$relay_out"
expect_contains "it takes a write (204)" "write 204" "$relay_out"
expect_contains "SIGTERM: it exits 0" "exit 0" "$relay_out"
spool_owner=$(find "$root/var/lib/nebenkosten/spool" -maxdepth 1 -type f -printf '%U\n' | sort -u | tr '\n' ' ')
expect_equal "the spool in /var/lib/nebenkosten belongs to nebenkosten" "$(chroot "$root" id -u nebenkosten) " "$spool_owner"
[ "$checks_failed" -eq 0 ] || tail -n 20 "$root/tmp/relay.log"
echo "   (relay by hand: $(elapsed "$phase"))"

echo "== phase 2: the same root booted with systemd as PID 1 (systemd-nspawn, like an LXC)"
phase=$SECONDS
rm -f "$root/usr/sbin/policy-rc.d"
# No network but its own loopback: every package is there since phase 1, and InfluxDB and the
# relay listen on the container's 127.0.0.1:8086 and :8087.
systemd-nspawn --quiet --directory="$root" --boot --private-network --register=no --keep-unit \
    --machine=nebenkosten-test >"$cache/nspawn.out" 2>&1 </dev/null &
nspawn_pid=$!
cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid" 2>/dev/null # the container's systemd powers off
        for _ in $(seq 1 300); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn_pid" 2>/dev/null
        wait "$nspawn_pid" 2>/dev/null
    fi
    # The container's init, should it have outlived systemd-nspawn.
    [ -z "$container_pid" ] || kill -KILL "$container_pid" 2>/dev/null
    nspawn_pid=
}
container_pid=
trap cleanup EXIT
# The container's systemd (PID 1 inside), not the short-lived helper systemd-nspawn forks first:
# taking that one's PID made every nsenter below fail now and then, and the boot check with it.
for _ in $(seq 1 300); do
    container_pid=$(pgrep -P "$nspawn_pid" -x systemd | head -n 1)
    [ -n "$container_pid" ] && break
    sleep 0.1
done
inside() { # COMMAND...: runs COMMAND in the container (all its namespaces)
    nsenter --target "$container_pid" --all -- /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}
state=
for _ in $(seq 1 300); do
    state=$(inside systemctl is-system-running 2>/dev/null)
    [ "$state" = running ] || [ "$state" = degraded ] && break
    sleep 0.2
done
if [ "$state" != running ] && [ "$state" != degraded ]; then
    check_fail "the container boots" "state: $state" "$(tail -n 20 "$cache/nspawn.out")"
    echo "test-install: $checks_passed passed, $checks_failed failed"
    exit 1
fi
check_pass "the root boots with systemd ($state, $(elapsed "$phase"))"

phase=$SECONDS
built_before=$(stat -c %Y "$root/opt/nebenkosten/build/release/bin/meter-relay")
inside bash -c 'cd /opt/nebenkosten && WITH_INFLUXDB=1 make install-relay' >"$cache/phase2.out" 2>&1
status=$?
cat "$cache/phase2.out" >>"$log"
rerun_time=$(elapsed "$phase")
expect_equal "make install-relay again, now with systemd ($rerun_time)" 0 "$status"
[ "$status" -eq 0 ] || tail -n 30 "$cache/phase2.out"
phase2_out=$(cat "$cache/phase2.out")
expect_contains "... installs no package the second time" "packages: all present" "$phase2_out"
expect_equal "... and rebuilds nothing" "$built_before" "$(stat -c %Y "$root/opt/nebenkosten/build/release/bin/meter-relay")"
expect_contains "... and reports the relay healthy" "healthy at http://127.0.0.1:8087/health" "$phase2_out"
expect_equal "meter-relay.service is enabled and active" "enabled active" \
    "$(inside systemctl is-enabled meter-relay.service) $(inside systemctl is-active meter-relay.service)"
expect_equal "InfluxDB runs" "active" "$(inside systemctl is-active influxdb.service)"

# The service as systemd runs it: the user, Type=notify, the sandbox in the kernel's view.
main_pid=$(inside systemctl show -p MainPID --value meter-relay.service)
expect_equal "it runs as nebenkosten" "nebenkosten" "$(inside stat -c %U "/proc/$main_pid")"
expect_equal "Type=notify: systemd got READY=1 with a status" "notify accepting writes" \
    "$(inside systemctl show -p Type --value meter-relay.service) $(inside systemctl show -p StatusText --value meter-relay.service)"
status_file=$(inside cat "/proc/$main_pid/status")
expect_contains "NoNewPrivileges is in force" "NoNewPrivs:	1" "$status_file"
expect_contains "no capabilities in the bounding set" "CapBnd:	0000000000000000" "$status_file"
expect_contains "a seccomp filter is in force" "Seccomp:	2" "$status_file"
expect_equal "ProtectSystem=strict: /usr is read-only for it" "read-only" \
    "$(inside nsenter --target "$main_pid" --mount -- sh -c 'touch /usr/local/bin/x 2>/dev/null && echo writable || echo read-only')"

health=$(inside curl -s -w ' %{http_code}' http://127.0.0.1:8087/health)
expect_contains "/health answers 200 under systemd" '"status":"pass"' "$health"
write=$(inside curl -s -o /dev/null -w '%{http_code}' --data-binary \
    'kWh,entity_id=haupt_strom,domain=input_number value=12346.5 1732752000' \
    'http://127.0.0.1:8087/write?db=lampfi&precision=s')
expect_equal "a write through the relay: 204" 204 "$write"
found=
for _ in $(seq 1 100); do
    found=$(inside curl -sG http://127.0.0.1:8086/query --data-urlencode db=lampfi \
        --data-urlencode 'q=SELECT value FROM kWh WHERE entity_id = '"'haupt_strom'"' AND time = 1732752000s')
    [[ "$found" == *12346.5* ]] && break
    sleep 0.2
done
expect_contains "... reaches InfluxDB" "12346.5" "$found"

# systemctl reload with a broken file: refused, the relay keeps running with the old one.
inside cp /etc/nebenkosten/config.yaml /etc/nebenkosten/config.yaml.good
inside sed -i 's/^  auth: none .*/  auth: sometimes/' /etc/nebenkosten/config.yaml
inside systemctl reload meter-relay.service >/dev/null 2>&1
expect_equal "systemctl reload refuses a broken config.yaml" "1 active" \
    "$? $(inside systemctl is-active meter-relay.service)"
inside cp /etc/nebenkosten/config.yaml.good /etc/nebenkosten/config.yaml
inside systemctl reload meter-relay.service
expect_equal "systemctl reload with the good file" "0 active" "$? $(inside systemctl is-active meter-relay.service)"

# The reconcile timer's service (run now instead of at 02:00), as the nebenkosten user.
inside systemctl start meter-batch-reconcile.service >/dev/null 2>&1
expect_equal "meter-batch-reconcile.service runs and succeeds" "success" \
    "$(inside systemctl show -p Result --value meter-batch-reconcile.service)"
[ "$checks_failed" -eq 0 ] || inside journalctl -u meter-batch-reconcile.service -n 15 --no-pager

inside systemctl stop meter-relay.service
expect_equal "systemctl stop: drained and stopped, no failure" "inactive success" \
    "$(inside systemctl is-active meter-relay.service) $(inside systemctl show -p Result --value meter-relay.service)"
[ "$checks_failed" -eq 0 ] || inside journalctl -u meter-relay.service -n 30 --no-pager

phase=$SECONDS
inside bash -c 'cd /opt/nebenkosten && make install-relay' >"$cache/phase3.out" 2>&1
expect_equal "a third make install-relay starts the stopped relay again ($(elapsed "$phase"))" "0 active" \
    "$? $(inside systemctl is-active meter-relay.service)"
cat "$cache/phase3.out" >>"$log"

cleanup
trap - EXIT
# The root is kept for a look when something failed (var/test-install/root), else removed.
[ "$checks_failed" -ne 0 ] || rm -rf "$root"
total=$(elapsed "$started")
echo "test-install: first install-relay $install_time, second $rerun_time, all $total"
echo "test-install: $checks_passed passed, $checks_failed failed"
[ "$checks_failed" -eq 0 ]
