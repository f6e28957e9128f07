#!/usr/bin/env bash
# Installs the Debian 12 packages nebenkosten needs to build, test and run, but only those that
# are missing, so it is cheap to call before every build (`make deps`, `make run`, CI).
set -euo pipefail

packages=(
    # build
    gcc make pkg-config libc6-dev
    libevent-dev libhttp-parser-dev libcurl4-openssl-dev libcjson-dev libyaml-dev libjemalloc-dev
    zlib1g-dev
    # tests, fuzzing, formatting (faketime: steps of the wall clock under a running relay)
    libcriterion-dev clang libclang-rt-14-dev clang-format valgrind curl tzdata faketime
    # real servers and load tools the tests drive
    influxdb victoria-metrics wrk hyperfine
    # deployment tests: TOML/YAML parsers for the example files, compose validation, systemd's
    # unit checks, and make test-install's Debian root booted with systemd-nspawn
    python3 python3-yaml docker-compose systemd debootstrap systemd-container
    # the influxdb Python client Home Assistant's influxdb integration (api_version 1) uses, for
    # test_deploy_homeassistant.sh (run with Debian's /usr/bin/python3, which sees it)
    python3-influxdb
)

# node and npm may come from elsewhere than Debian (e.g. a nodejs build in /usr/local); a working
# node is all the client tests need.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
fi

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: all Debian packages present"
    exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The influxdb package starts a system server on :8086 where an init system runs; tests never use
# it (they start their own servers on free ports), so keep package scripts from starting services.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    created_policy=1
fi
status=0
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
[ "$created_policy" -eq 0 ] || $sudo rm -f "$policy"
exit "$status"
