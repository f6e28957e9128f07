#!/usr/bin/env bash
# make test-docker-image: builds deploy/docker/Dockerfile with podman (no Docker engine here) and
# checks what the image would do. No registry is reachable, so both base images are the Debian 12
# root that make test-install caches (debootstrap minbase; bigger than debian:12-slim, so this
# does not prove the slim stage's package list complete: test_deploy_docker.sh checks that
# against the programs' libraries). This machine's sandbox refuses container rlimits, so the
# image is not started by a container runtime: its root file system is mounted and the entrypoint
# runs there as the image's USER, in a network namespace of its own, the way the runtime would
# start it. Checked: the build, the image's user, health check, volumes, port and command; the
# programs' version; /health; the HEALTHCHECK command itself; a write; SIGTERM's clean exit.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TEST_INSTALL_CACHE:-$repo/var/test-install}
base_image=localhost/nebenkosten-test-debian:12
image=localhost/nebenkosten-test:latest
checks_passed=0
checks_failed=0
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
expect_equal() { if [ "$2" == "$3" ]; then check_pass "$1"; else check_fail "$1" "expected: $2" "actual:   $3"; fi; }
expect_contains() { if [[ "$3" == *"$2"* ]]; then check_pass "$1"; else check_fail "$1" "expected to contain: $2" "actual: ${3:0:400}"; fi; }
die() {
    echo "test-docker-image: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root"
if ! command -v podman >/dev/null; then
    echo "test-docker-image: installing podman"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman uidmap >/dev/null ||
        die "cannot install podman"
fi
[ -f "$cache/base/.nebenkosten-base" ] || die "no Debian 12 root in $cache/base: run make test-install first"

work=$(mktemp -d)
cleanup() {
    podman image unmount "$image" >/dev/null 2>&1
    podman rmi -f "$image" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

started=$SECONDS
if ! podman image exists "$base_image" ||
    [ "$cache/base/.nebenkosten-base" -nt "$cache/base-image.stamp" ]; then
    tar -C "$cache/base" -c . | podman import - "$base_image" >/dev/null || die "podman import failed"
    touch "$cache/base-image.stamp"
fi

# The build context: a clean copy of the checkout (what .gitignore names left out).
mkdir -p "$work/context"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
    tar --null -T - -cf -) | tar -xf - -C "$work/context"
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if podman build --format docker --pull=never --network host -f deploy/docker/Dockerfile \
    --build-arg DEBIAN_IMAGE="$base_image" --build-arg DEBIAN_SLIM_IMAGE="$base_image" \
    --build-arg GIT_COMMIT="$commit" -t "$image" "$work/context" >"$work/build.log" 2>&1; then
    check_pass "podman build -f deploy/docker/Dockerfile ($((SECONDS - started))s)"
else
    check_fail "podman build -f deploy/docker/Dockerfile" "$(tail -n 20 "$work/build.log")"
    echo "test-docker-image: $checks_passed passed, $checks_failed failed"
    exit 1
fi

inspect() { podman image inspect "$image" --format "$1"; }
user=$(inspect '{{.Config.User}}')
healthcheck=$(inspect '{{json .Config.Healthcheck.Test}}')
volumes=$(inspect '{{json .Config.Volumes}}')
ports=$(inspect '{{json .Config.ExposedPorts}}')
command=$(inspect '{{json .Config.Entrypoint}} {{json .Config.Cmd}}')
expect_equal "USER: the unprivileged nebenkosten" "nebenkosten:nebenkosten" "$user"
expect_equal "HEALTHCHECK asks /health" '["CMD-SHELL","curl -fsS -o /dev/null http://127.0.0.1:8087/health || exit 1"]' "$healthcheck"
expect_equal "volumes for state and secrets" '{"/etc/nebenkosten/secrets":{},"/var/lib/nebenkosten":{}}' "$volumes"
expect_equal "port 8087" '{"8087/tcp":{}}' "$ports"
expect_equal "entrypoint and command" '["/usr/bin/meter-relay"] ["run","-c","/etc/nebenkosten/config.yaml"]' "$command"

root=$(podman image mount "$image") || die "podman image mount failed"
uid=$(chroot "$root" id -u nebenkosten)
expect_equal "the user nebenkosten is uid 10001" 10001 "$uid"
expect_equal "meter-relay --version names the commit built" "meter-relay $(cat "$repo/VERSION") (commit $commit)" \
    "$(chroot "$root" /usr/bin/meter-relay --version 2>&1)"
expect_equal "meter-batch runs (its libraries are in the image)" 0 \
    "$(chroot "$root" /usr/bin/meter-batch --help >/dev/null 2>&1; echo $?)"

# The entrypoint as the runtime starts it: USER, the volumes writable (tmpfs here), own network.
shell_healthcheck=$(node -e 'console.log(JSON.parse(process.argv[1])[1])' "$healthcheck" 2>/dev/null ||
    echo 'curl -fsS -o /dev/null http://127.0.0.1:8087/health || exit 1')
unshare --mount --net --propagation private -- bash -c '
    root=$1 healthcheck=$2 log=$3
    ip link set lo up || exit 99
    mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" &&
        mount -t tmpfs -o mode=0750,uid=10001,gid=10001 tmpfs "$root/var/lib/nebenkosten" || exit 99
    chroot "$root" setpriv --reuid=10001 --regid=10001 --clear-groups \
        /usr/bin/meter-relay run -c /etc/nebenkosten/config.yaml 2>"$log" &
    relay=$!
    for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:8087/health && break; sleep 0.1; done
    echo "health $(curl -s http://127.0.0.1:8087/health)"
    chroot "$root" setpriv --reuid=10001 --regid=10001 --clear-groups sh -c "$healthcheck"
    echo "healthcheck $?"
    echo "write $(curl -s -o /dev/null -w "%{http_code}" --data-binary \
        "kWh,entity_id=haupt_strom,domain=input_number value=1 1732665600" \
        "http://127.0.0.1:8087/write?db=lampfi&precision=s")"
    kill -TERM "$relay"
    wait "$relay"
    echo "exit $?"
' run-image "$root" "$shell_healthcheck" "$work/relay.log" >"$work/run.out" 2>&1
run=$(cat "$work/run.out")
expect_contains "the entrypoint answers /health: pass" '"status":"pass"' "$run"
expect_contains "... with the build" "\"build\":{\"program\":\"meter-relay\",\"version\":\"$(cat "$repo/VERSION")\",\"commit\":\"$commit\"}" "$run"
expect_contains "the HEALTHCHECK command succeeds inside the image" "healthcheck 0" "$run"
expect_contains "a write: 204" "write 204" "$run"
expect_contains "SIGTERM (docker stop): exit status 0" "exit 0" "$run"
[ "$checks_failed" -eq 0 ] || tail -n 20 "$work/relay.log"
echo "test-docker-image: $((SECONDS - started))s"
echo "test-docker-image: $checks_passed passed, $checks_failed failed"
[ "$checks_failed" -eq 0 ]
