#!/usr/bin/env bash
# `make install-relay`: everything a Debian 12 machine (a Proxmox LXC, a NAS, a VM) needs to run
# meter-relay from this checkout, in one idempotent step:
#   1. the Debian packages to build and run it (only those missing);
#   2. a release build (make);
#   3. the system user "nebenkosten" (no login, home /var/lib/nebenkosten);
#   4. make install-files (PREFIX=/usr/local; an existing /etc/nebenkosten/config.yaml is kept);
#   5. with systemd running: enable meter-relay.service, start it (restart it when the programs
#      or the unit changed) and wait until /health answers.
# Run it again after `git pull` to update: only what changed is redone.
#
# Variables: PREFIX (/usr/local), RELAY_LISTEN (":8087", for a first install only),
# WITH_INFLUXDB=1 (also Debian's InfluxDB 1.x on 127.0.0.1:8086 with the relay's databases),
# JOBS (parallel compile jobs, default: the number of cores).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
PREFIX=${PREFIX:-/usr/local}
RELAY_USER=nebenkosten
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
config=/etc/nebenkosten/config.yaml
unit=meter-relay.service

say() { echo "install-relay: $*"; }
die() {
    echo "install-relay: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (sudo make install-relay): it installs packages, a user and a service"
[ -r /etc/os-release ] && . /etc/os-release
[ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ] ||
    say "warning: made for Debian 12, this is ${PRETTY_NAME:-an unknown system}; going on"

# 1. Packages: the build (compiler, headers) and the runtime (the libraries come with the
# -dev packages; curl for the health check).
packages=(gcc make pkg-config libc6-dev libevent-dev libhttp-parser-dev libcurl4-openssl-dev
    libcjson-dev libyaml-dev libjemalloc-dev zlib1g-dev ca-certificates curl)
[ "${WITH_INFLUXDB:-0}" != 1 ] || packages+=(influxdb influxdb-client)
missing=()
for package in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)" = "install ok installed" ] ||
        missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "packages: all present"
fi

# 2. Build (release, jemalloc). A checkout without git metadata (a tarball) names no commit.
say "building (make -j$JOBS)"
make -s -j"$JOBS" all

# 3. The service user.
if ! id -u "$RELAY_USER" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/nebenkosten --no-create-home \
        --shell /usr/sbin/nologin --comment "nebenkosten meter-relay" "$RELAY_USER"
    say "created the system user $RELAY_USER"
fi

# 4. Install; remember what ran before, to restart only on a change.
fingerprint() {
    { cat "$PREFIX/bin/meter-relay" "$PREFIX/bin/meter-batch" \
        "$PREFIX/lib/systemd/system/$unit" 2>/dev/null || true; } | cksum
}
before=$(fingerprint)
make -s install-files PREFIX="$PREFIX"
after=$(fingerprint)

# The address /health is asked at: relay.listen of the effective configuration.
listen=$("$PREFIX/bin/meter-relay" check-config -c "$config" 2>/dev/null |
    sed -n "s/^  listen: *['\"]\{0,1\}\([^'\"]*\).*/\1/p" | head -n 1)
[ -n "$listen" ] || die "$config has errors: $PREFIX/bin/meter-relay check-config -c $config shows them"
health_url=http://$listen/health
[[ "$listen" == :* ]] && health_url=http://127.0.0.1$listen/health
[[ "$listen" == 0.0.0.0:* ]] && health_url=http://127.0.0.1:${listen##*:}/health

# WITH_INFLUXDB=1: Debian's influxd listens on :8086 (its package starts it under systemd);
# create the raw and processed databases the configuration names.
influxdb_databases_create() {
    local database answer
    for _ in $(seq 1 60); do curl -fs -o /dev/null http://127.0.0.1:8086/ping && break; sleep 1; done
    for key in bucket_raw bucket_processed; do
        database=$("$PREFIX/bin/meter-relay" check-config -c "$config" 2>/dev/null |
            sed -n "s/^  $key: *['\"]\{0,1\}\([^'\"]*\).*/\1/p" | head -n 1)
        [ -n "$database" ] || continue
        answer=$(curl -fsS -XPOST http://127.0.0.1:8086/query --data-urlencode "q=CREATE DATABASE \"$database\"") ||
            die "InfluxDB does not answer on 127.0.0.1:8086 (systemctl status influxdb)"
        say "InfluxDB database $database ready"
    done
}

# 5. The service.
if [ -d /run/systemd/system ]; then
    [ "${WITH_INFLUXDB:-0}" != 1 ] || {
        systemctl enable --now influxdb.service >/dev/null 2>&1 || true
        influxdb_databases_create
    }
    systemctl daemon-reload
    systemctl enable "$unit" >/dev/null 2>&1
    if systemctl is-active --quiet "$unit" && [ "$before" != "$after" ]; then
        say "programs or unit changed: restarting $unit"
        systemctl restart "$unit"
    else
        systemctl start "$unit"
    fi
    for _ in $(seq 1 60); do
        curl -fs -o /dev/null "$health_url" && break
        sleep 1
    done
    if ! curl -fsS "$health_url" >/dev/null; then
        systemctl status --no-pager "$unit" >&2 || true
        journalctl -u "$unit" -n 20 --no-pager >&2 || true
        die "$unit does not answer $health_url (see above)"
    fi
    say "meter-relay runs ($("$PREFIX/bin/meter-relay" --version)), healthy at $health_url"
    say "logs: journalctl -u $unit; configuration: $config (then: systemctl reload $unit)"
else
    # A chroot, a container without an init system, a build stage: everything is installed, the
    # service cannot be started here.
    say "systemd is not running here (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown)):"
    say "  the unit is installed but not started. Start the relay by hand with"
    say "  runuser -u $RELAY_USER -- $PREFIX/bin/meter-relay run -c $config"
    say "  and check it with: curl $health_url"
fi
