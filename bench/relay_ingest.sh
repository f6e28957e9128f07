#!/usr/bin/env bash
# Ingest benchmark of meter-relay: wrk against /write with the spool on the real disk.
#
#   bench/relay_ingest.sh [SECONDS per case, default 10]
#
# RELAY_INGEST_CASES (an extended regular expression, default all) picks cases by
# "SYNC NAME CONNECTIONS", e.g. RELAY_INGEST_CASES='always single line 64'.
#
# RELAY_INGEST_SPOOL_YAML adds lines to the relay's spool section, e.g.
# RELAY_INGEST_SPOOL_YAML='    commit_max_delay_us: 200'.
#
# RELAY_INGEST_STREAM=1 runs the relay with the stream processor on (off by default: the cases
# measure ingest; the single-line case's readings are Home Assistant meter readings, so this shows
# what the live analytics cost the write path).
#
# Expects a release build (`make all`: build/release/bin/meter-relay, jemalloc); builds nothing.
# Set METER_RELAY to bench another binary. For each spool.sync mode (always, none) and each
# case, a fresh relay on a free 127.0.0.1 port with an empty spool under build/ (never /tmp,
# which may be tmpfs) gets `wrk -t1 -c<N> -d<S>s --latency`; the table shows acknowledged lines/s
# and requests/s, p50/p99 latency, relay CPU (user+system seconds per wall second, from
# /proc/<pid>/stat) and the relay's peak RSS (VmHWM). Any answer other than 204 or any socket
# error fails the run.
set -euo pipefail

repo_dir=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-10}
relay_binary=${METER_RELAY:-$repo_dir/build/release/bin/meter-relay}
lua_dir=$repo_dir/bench/relay_ingest
batch_lines=5000

for tool in wrk gzip curl; do
    command -v "$tool" >/dev/null || { echo "relay_ingest: $tool is not installed" >&2; exit 1; }
done
if [ ! -x "$relay_binary" ]; then
    echo "relay_ingest: $relay_binary not found; run 'make all' first" >&2
    exit 1
fi

mkdir -p "$repo_dir/build"
work_dir=$(mktemp -d "$repo_dir/build/relay-ingest.XXXXXX")
relay_pid=
cleanup() {
    if [ -n "$relay_pid" ]; then
        kill -TERM "$relay_pid" 2>/dev/null || true
        wait "$relay_pid" 2>/dev/null || true
    fi
    rm -rf "$work_dir"
}
trap cleanup EXIT

awk -v lines="$batch_lines" -f "$lua_dir/telegraf_batch.awk" >"$work_dir/batch.lp"
gzip -6 -c "$work_dir/batch.lp" >"$work_dir/batch.lp.gz"
batch_bytes=$(wc -c <"$work_dir/batch.lp")
gzip_bytes=$(wc -c <"$work_dir/batch.lp.gz")

# The tests' relay helpers (relay_config_write, relay_start, relay_stop) run the relay here too:
# the upstream is a closed port, so the relay only spools.
BIN_DIR=$(dirname "$relay_binary")
# shellcheck source=../tests/integration/relay_helpers.sh
source "$repo_dir/tests/integration/relay_helpers.sh"

# CPU ticks (utime + stime) of a process: fields 14 and 15 of /proc/PID/stat, counted after the
# ")" that ends the command name (which may contain spaces).
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    # shellcheck disable=SC2086 # splitting the fields is the point
    set -- $stat
    echo $((${12} + ${13}))
}

ticks_per_second=$(getconf CLK_TCK)
failures=0
results=()

# run_case SYNC NAME CONNECTIONS LINES_PER_REQUEST LUA [LUA ARGUMENTS...]
run_case() {
    local sync=$1 name=$2 connections=$3 lines_per_request=$4 lua=$5
    shift 5
    [[ "$sync $name $connections" =~ ${RELAY_INGEST_CASES:-.} ]] || return 0
    local dir=$work_dir/case
    rm -rf "$dir"
    # The previous case's gigabytes are still being written back: let the disk settle, so this
    # case's fdatasyncs do not queue behind them.
    sync
    mkdir -p "$dir"
    relay_config_write "$dir" "    sync: $sync
    max_bytes: 32GiB${RELAY_INGEST_SPOOL_YAML:+
$RELAY_INGEST_SPOOL_YAML}" "  enabled: $([ "${RELAY_INGEST_STREAM:-0}" = 1 ] && echo true || echo false)"
    relay_start "$dir"
    local ticks_before ticks_after peak_kib output result
    ticks_before=$(cpu_ticks "$relay_pid")
    output=$(RELAY_INGEST_LUA_DIR=$lua_dir wrk -t1 -c"$connections" -d"${duration}s" --latency \
        -s "$lua_dir/$lua" "$relay_url" -- "$@")
    ticks_after=$(cpu_ticks "$relay_pid")
    peak_kib=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$relay_pid/status")
    # The relay counts its answers by route and status: any write answered with other than 204.
    local not_204
    not_204=$(curl -s "$relay_url/metrics" | awk '
        /^nebenkosten_http_requests_total\{route="\/write",/ && !/code="204"/ { sum += $2 }
        END { print sum + 0 }')
    relay_stop
    if [ "$relay_exit_status" != 0 ]; then
        echo "relay_ingest: meter-relay exited with $relay_exit_status" >&2
        exit 1
    fi
    result=$(grep '^RESULT ' <<<"$output") || {
        echo "relay_ingest: wrk printed no RESULT line:" >&2
        echo "$output" >&2
        exit 1
    }
    local requests duration_us p50_us p99_us status_errors socket_errors
    eval "$(sed 's/^RESULT //; s/ /\n/g' <<<"$result" | sed 's/^\([a-z0-9_]*\)=\(.*\)$/\1='"'"'\2'"'"'/')"
    if [ "$not_204" != 0 ] || [ "$status_errors" != 0 ] || [ "$socket_errors" != 0 ]; then
        echo "relay_ingest: $sync $name c=$connections: $not_204 writes answered with other than" \
            "204, $socket_errors socket errors; the relay's first answers to them:" >&2
        grep -m 3 '"status":[^2]' "$dir/relay.log" >&2 || true
        failures=$((failures + 1))
    fi
    results+=("$(awk -v sync="$sync" -v name="$name" -v c="$connections" -v n="$requests" \
        -v us="$duration_us" -v lines="$lines_per_request" -v p50="$p50_us" -v p99="$p99_us" \
        -v ticks=$((ticks_after - ticks_before)) -v hz="$ticks_per_second" -v kib="$peak_kib" \
        -v bad="$status_errors" 'BEGIN {
            seconds = us / 1e6
            ok = n - bad
            printf "| %-6s | %-12s | %3d | %11.0f | %8.0f | %7.2f | %7.2f | %8.2f | %7.1f |\n",
                sync, name, c, ok * lines / seconds, ok / seconds, p50 / 1000, p99 / 1000,
                ticks / hz / seconds, kib / 1024
        }')")
    printf '%s\n' "${results[-1]}"
}

printf 'meter-relay: %s\n' "$relay_binary"
printf 'machine: nproc %s, %s, kernel %s, %s\n' "$(nproc)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$(uname -r)" \
    "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf 'spool: %s (%s); batch: %d lines, %d bytes (%d bytes a line), gzip %d bytes; %ss a case\n' \
    "$work_dir" "$(findmnt -n -o FSTYPE -T "$work_dir")" "$batch_lines" "$batch_bytes" \
    $((batch_bytes / batch_lines)) "$gzip_bytes" "$duration"
printf 'load average before: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
header='| sync   | case         |   c |     lines/s |    req/s | p50 ms  | p99 ms  | CPU s/s  | RSS MiB |'
rule='|--------|--------------|----:|------------:|---------:|--------:|--------:|---------:|--------:|'
printf '%s\n%s\n' "$header" "$rule"
for sync in always none; do
    for connections in 16 64; do
        run_case "$sync" "batch plain" "$connections" "$batch_lines" batch.lua "$work_dir/batch.lp"
        run_case "$sync" "batch gzip" "$connections" "$batch_lines" batch.lua \
            "$work_dir/batch.lp.gz" gzip
        run_case "$sync" "single line" "$connections" 1 single.lua
    done
done
printf '\nload average after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$failures" != 0 ]; then
    echo "relay_ingest: $failures case(s) had answers other than 204 or socket errors" >&2
    exit 1
fi
