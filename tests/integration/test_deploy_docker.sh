#!/usr/bin/env bash
# deploy/docker, as far as this machine can check it without a container engine:
#   - docker-compose.yml passes `docker compose config` where the compose plugin exists, else
#     Debian's docker-compose 1.29 (`docker-compose config`: the Compose Specification schema,
#     unknown keys are errors), with and without the grafana profile; a broken copy fails;
#     every file it mounts and its build context and Dockerfile exist;
#   - the relay's config.yaml for compose passes meter-relay check-config; Grafana's datasource
#     file for compose is deploy/grafana's with the compose address;
#   - the Dockerfile: two stages, Debian 12 slim runtime, non-root USER, HEALTHCHECK on /health,
#     volumes for state and secrets; every package it installs exists in Debian 12, and the
#     runtime packages provide every shared library meter-relay and meter-batch link against.
# Building and running the image needs a Docker engine (none here): not checked.
source "$(dirname "$0")/lib.sh"

docker_dir=$REPO_DIR/deploy/docker
compose_file=$docker_dir/docker-compose.yml
unset GIT_COMMIT INFLUX_USERNAME INFLUX_PASSWORD RELAY_TOKENS RELAY_USERS TIBBER_API_TOKEN \
    GRAFANA_ADMIN_PASSWORD

compose=()
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose=(docker-compose)
fi
if [ "${#compose[@]}" -eq 0 ]; then
    check_fail "a compose implementation is installed (Debian: docker-compose)"
else
    echo "  (validating with: ${compose[*]} $("${compose[@]}" version --short 2>/dev/null || true))"
    expect_status "${compose[*]} config: valid" 0 "${compose[@]}" -f "$compose_file" config -q
    services=$("${compose[@]}" -f "$compose_file" config --services 2>&1 | sort | tr '\n' ' ')
    expect_equal "services: relay, influxdb (grafana behind its profile)" "grafana influxdb relay " "$services"
    "${compose[@]}" -f "$compose_file" config >"$work_dir/compose.out" 2>&1
    resolved=$(cat "$work_dir/compose.out")
    expect_contains "the relay is built from the repository" "context: $REPO_DIR" "$resolved"
    expect_contains "... with deploy/docker/Dockerfile" "dockerfile: deploy/docker/Dockerfile" "$resolved"
    # The credentials deploy/docker/config.yaml says may come from the environment reach the
    # relay's container (relay.auth token reads RELAY_TOKENS, basic RELAY_USERS).
    relay_environment=$(env INFLUX_USERNAME=env-user INFLUX_PASSWORD=env-password \
        RELAY_TOKENS=env-token RELAY_USERS=env-user:env-password TIBBER_API_TOKEN=env-tibber \
        "${compose[@]}" -f "$compose_file" config 2>&1 |
        awk '/^  relay:/{relay=1; next} /^  [a-z]/{relay=0} relay && /^    environment:/{env=1; next}
             relay && env && /^      [A-Z_]+:/{print $1 $2; next} {env=0}' | sort | tr '\n' ' ')
    expect_equal "the relay gets every credential variable from the environment" \
        "INFLUX_PASSWORD:env-password INFLUX_USERNAME:env-user RELAY_TOKENS:env-token RELAY_USERS:env-user:env-password TIBBER_API_TOKEN:env-tibber " \
        "$relay_environment"
    [ -f "$REPO_DIR/deploy/docker/Dockerfile" ] && check_pass "the Dockerfile exists" || check_fail "the Dockerfile exists"
    # Every bind-mounted host path exists.
    missing=""
    for path in $(grep -oE -- "- $REPO_DIR/[^:]+" "$work_dir/compose.out" | sed 's/^- //'); do
        [ -e "$path" ] || missing+=" $path"
    done
    expect_equal "every file compose mounts exists" "" "$missing"
    # A service with an unknown key is refused: the validation can fail.
    sed 's/^    restart: unless-stopped$/    restarts: unless-stopped/' "$compose_file" >"$docker_dir/.broken-compose.yml"
    "${compose[@]}" -f "$docker_dir/.broken-compose.yml" config -q >"$work_dir/broken.out" 2>&1
    broken_status=$?
    rm -f "$docker_dir/.broken-compose.yml"
    [ "$broken_status" -ne 0 ] && check_pass "a compose file with an unknown key is refused" ||
        check_fail "a compose file with an unknown key is refused" "$(cat "$work_dir/broken.out")"
fi

# The relay's configuration for compose, with the image's example meters beside it.
mkdir -p "$work_dir/etc/secrets"
chmod 700 "$work_dir/etc/secrets"
cp "$docker_dir/config.yaml" "$REPO_DIR/config/meters.yaml" "$REPO_DIR/config/seasonal_patterns.yaml" "$work_dir/etc/"
if "$BIN_DIR/meter-relay" check-config -c "$work_dir/etc/config.yaml" >"$work_dir/check.out" 2>&1; then
    check_pass "deploy/docker/config.yaml passes meter-relay check-config"
else
    check_fail "deploy/docker/config.yaml passes meter-relay check-config" "$(head -n 5 "$work_dir/check.out")"
fi
expect_contains "... forwarding to the compose network's InfluxDB" "url: http://influxdb:8086" "$(cat "$work_dir/check.out")"
expect_contains "... listening on every interface" "listen: :8087" "$(cat "$work_dir/check.out")"
expect_equal "grafana-datasources.yaml is deploy/grafana's datasources with the relay's compose address" "" \
    "$(diff <(sed '1,5d; s#http://127.0.0.1:8087#http://relay:8087#' "$REPO_DIR/deploy/grafana/provisioning/datasources/nebenkosten.yaml") \
        <(sed '1,2d' "$docker_dir/grafana-datasources.yaml"))"

# The Dockerfile.
dockerfile=$(cat "$docker_dir/Dockerfile")
expect_equal "two stages: a Debian 12 build stage and a Debian 12 slim runtime" \
    "DEBIAN_IMAGE=debian:12 DEBIAN_SLIM_IMAGE=debian:12-slim|\${DEBIAN_IMAGE} AS build|\${DEBIAN_SLIM_IMAGE}" \
    "$(sed -n 's/^ARG \(DEBIAN_[A-Z_]*=\)/\1/p' "$docker_dir/Dockerfile" | tr '\n' ' ' | sed 's/ $//')|$(sed -n 's/^FROM //p' "$docker_dir/Dockerfile" | tr '\n' '|' | sed 's/|$//')"
expect_equal "runs as the non-root user nebenkosten" "nebenkosten:nebenkosten" "$(sed -n 's/^USER //p' "$docker_dir/Dockerfile")"
expect_contains "HEALTHCHECK on /health" "CMD curl -fsS -o /dev/null http://127.0.0.1:8087/health" "$dockerfile"
expect_contains "volumes for state and secrets" 'VOLUME ["/var/lib/nebenkosten", "/etc/nebenkosten/secrets"]' "$dockerfile"
# The packages of each apt-get install line.
packages_of() { # STAGE_NUMBER (1 = build, 2 = runtime)
    awk -v stage="$1" '/^FROM /{n++} n == stage' "$docker_dir/Dockerfile" |
        sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep -o 'apt-get install -y --no-install-recommends[^&]*' |
        sed 's/apt-get install -y --no-install-recommends//'
}
build_packages=$(packages_of 1)
runtime_packages=$(packages_of 2)
unknown=""
for package in $build_packages $runtime_packages; do
    apt-cache show --no-all-versions "$package" >/dev/null 2>&1 || unknown+=" $package"
done
expect_equal "every package the Dockerfile installs exists in Debian 12" "" "$unknown"
# Shared libraries of the programs (the sanitizer runtime of a test build aside; jemalloc is in
# release builds) -> the Debian packages that ship them.
needed=""
unmapped=""
for program in meter-relay meter-batch; do
    for library in $(ldd "$BIN_DIR/$program" | awk '$3 ~ /^\// { print $3 }'); do
        case $library in *libasan* | *libubsan*) continue ;; esac
        package=""
        # dpkg knows a file by the path its package installed it at (/lib or /usr/lib).
        for path in "$library" "$(readlink -f "$library")" "/usr${library#/usr}" "${library#/usr}"; do
            package=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)
            [ -n "$package" ] && break
        done
        [ -n "$package" ] || unmapped+=" $library"
        needed+=" $package"
    done
done
expect_equal "every library the programs link against belongs to a Debian package" "" "$unmapped"
needed=$(printf '%s\n' $needed libjemalloc2 | sort -u)
essential=$(dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' $needed 2>/dev/null | awk '$2 == "yes" || $3 == "required" { print $1 }')
uncovered=""
for package in $needed; do
    [[ " $runtime_packages " == *" $package "* ]] && continue
    [[ $'\n'"$essential"$'\n' == *$'\n'"$package"$'\n'* ]] && continue
    # Dependencies of a listed package come along (libcurl4 brings libnghttp2, libssl, ...).
    covered=0
    for listed in $runtime_packages; do
        apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "$listed" 2>/dev/null | grep -qx "  Depends: $package" && {
            covered=1
            break
        }
        apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "$listed" 2>/dev/null | grep -qx "$package" && {
            covered=1
            break
        }
    done
    [ "$covered" -eq 1 ] || uncovered+=" $package"
done
expect_equal "the runtime stage's packages provide every library the programs link against" "" "$uncovered"
echo "  (not checked here: docker build and docker run; no Docker engine runs on this machine)"
finish
