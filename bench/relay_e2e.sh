#!/usr/bin/env bash
# End-to-end benchmark: wrk writes to InfluxDB 1.x directly, then through meter-relay into the
# same InfluxDB, then through the relay into a null sink (the relay's own ceiling).
#
#   bench/relay_e2e.sh [SECONDS per case, default 10]
#
# RELAY_E2E_CASES (an extended regular expression over "TARGET CASE CONNECTIONS", default all)
# picks cases, e.g. RELAY_E2E_CASES='single'. Expects a release build with the benchmark tools
# (`make all benchmarks`); builds nothing.
#
# For each case (5000-line Telegraf-like batches on 16 connections; single meter lines on 64):
# - direct:  wrk -> influxd; lines/s acknowledged by InfluxDB (204).
# - relay:   wrk -> meter-relay (sync: always, spool on the real disk) -> influxd. "acked" is what
#            the relay acknowledged while wrk ran; "delivered" is every acknowledged line divided
#            by the time until the relay's upstream backlog was empty again (wrk's run plus the
#            drain), read from the relay's /metrics; this is the end-to-end figure.
# - null:    the same with a null sink (answers 204 to everything) instead of influxd.
# Every server runs on 127.0.0.1 on free ports, with its data under build/; all are stopped.
set -euo pipefail

repo_dir=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-10}
BIN_DIR=${BIN_DIR:-$repo_dir/build/release/bin}
lua_dir=$repo_dir/bench/relay_ingest
batch_lines=5000

for tool in wrk gzip curl influxd; do
    command -v "$tool" >/dev/null || { echo "relay_e2e: $tool is not installed" >&2; exit 1; }
done
for binary in meter-relay null-sink; do
    if [ ! -x "$BIN_DIR/$binary" ]; then
        echo "relay_e2e: $BIN_DIR/$binary not found; run 'make all benchmarks' first" >&2
        exit 1
    fi
done

mkdir -p "$repo_dir/build"
# lib.sh makes its work directory under TMPDIR: keep spool and databases on the real disk.
export TMPDIR=$repo_dir/build
# shellcheck source=../tests/integration/lib.sh
source "$repo_dir/tests/integration/lib.sh"
# shellcheck source=../tests/integration/relay_helpers.sh
source "$repo_dir/tests/integration/relay_helpers.sh"
# shellcheck source=../tests/integration/servers.sh
source "$repo_dir/tests/integration/servers.sh"
set +u # the sourced helpers turn -u on and check their own variables

sink_pid=
cleanup() {
    relay_stop >/dev/null 2>&1 || true
    influxdb_stop >/dev/null 2>&1 || true
    if [ -n "$sink_pid" ]; then
        kill -TERM "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
    fi
    rm -rf "$work_dir"
}
trap cleanup EXIT

# Every request writes new points, as Telegraf's batches do: 32 bodies with the same series,
# each 100 000 s later than the one before, sent in turn.
batch_files=""
for batch in $(seq 0 31); do
    awk -v lines="$batch_lines" -v batch="$batch" -f "$lua_dir/telegraf_batch.awk" \
        >"$work_dir/batch-$batch.lp"
    batch_files+="${batch_files:+,}$work_dir/batch-$batch.lp"
done

# wrk_run URL CONNECTIONS LUA [ARGS...]: runs wrk; sets requests, duration_us, p99_us and fails
# the run on any answer with an error status (InfluxDB and the relay answer a write with 204 or
# an error) or any socket error.
wrk_run() {
    local url=$1 connections=$2 lua=$3
    shift 3
    local output result status_errors socket_errors
    output=$(RELAY_INGEST_LUA_DIR=$lua_dir wrk -t1 -c"$connections" -d"${duration}s" --timeout 60s --latency \
        -s "$lua_dir/$lua" "$url" -- "$@")
    result=$(grep '^RESULT ' <<<"$output") || { echo "$output" >&2; exit 1; }
    eval "$(sed 's/^RESULT //; s/ /\n/g' <<<"$result" | sed 's/^\([a-z0-9_]*\)=\(.*\)$/\1='"'"'\2'"'"'/')"
    if [ "$status_errors" != 0 ] || [ "$socket_errors" != 0 ]; then
        echo "relay_e2e: $status_errors answers with an error status, $socket_errors socket errors" >&2
        exit 1
    fi
}

# metric NAME: the value of an upstream metric of the running relay.
metric() {
    curl -s "$relay_url/metrics" | sed -n "s/^$1{upstream=\"bench\"} \([0-9]*\)$/\1/p"
}

# through_relay UPSTREAM_URL CONNECTIONS LINES_PER_REQUEST LUA [ARGS...]: prints acked and
# delivered lines/s of one run through a fresh relay.
through_relay() {
    local upstream_url=$1 connections=$2 lines=$3 lua=$4
    shift 4
    local dir=$work_dir/relay
    rm -rf "$dir"
    relay_config_write "$dir" "    max_bytes: 32GiB
  upstreams:
    - name: bench
      url: $upstream_url
      api: v1${RELAY_E2E_UPSTREAM_YAML:+
$RELAY_E2E_UPSTREAM_YAML}"
    relay_start "$dir"
    local started ended drained backlog
    started=$(date +%s%N)
    wrk_run "$relay_url" "$connections" "$lua" "$@"
    ended=$(date +%s%N)
    local sent_at_end
    sent_at_end=$(metric nebenkosten_upstream_sent_lines_total)
    # Drained: every line the relay accepted (also of requests whose answer wrk no longer waited
    # for at its end) was delivered. One /metrics read every 0.2 s: on two cores, polling faster
    # (three curls every 50 ms did) took about 30 % of a core from InfluxDB while it drained.
    local sent accepted
    while :; do
        read -r accepted sent backlog < <(curl -s "$relay_url/metrics" | awk '
            $1 == "nebenkosten_lines_accepted_total" { accepted = $2 }
            $1 == "nebenkosten_upstream_sent_lines_total{upstream=\"bench\"}" { sent = $2 }
            $1 == "nebenkosten_upstream_backlog_records{upstream=\"bench\"}" { backlog = $2 }
            END { print accepted, sent, backlog }')
        [ "$backlog" = 0 ] && [ "$sent" = "$accepted" ] && break
        if [ $(($(date +%s%N) - ended)) -gt 600000000000 ]; then
            echo "relay_e2e: the backlog did not drain within 10 minutes" >&2
            exit 1
        fi
        sleep 0.2
    done
    drained=$(date +%s%N)
    relay_stop
    awk -v acked=$((requests * lines)) -v sent="$sent" -v at_end="$sent_at_end" \
        -v run="$duration_us" -v total=$(((drained - started) / 1000)) \
        -v drain=$(((drained - ended) / 1000)) -v p99="$p99_us" 'BEGIN {
        rate = drain > 100000 ? sprintf("%.0f", (sent - at_end) / (drain / 1e6)) : "-"
        printf "%.0f %.0f %s %.2f", acked / (run / 1e6), sent / (total / 1e6), rate, p99 / 1000
    }'
}

printf 'meter-relay: %s\n' "$BIN_DIR/meter-relay"
printf 'machine: nproc %s, %s, kernel %s, %s; %ss a case\n' "$(nproc)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$(uname -r)" \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$duration"
printf 'load average before: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| case         |   c | target           | acked lines/s | delivered lines/s | drain lines/s | p99 ms  |\n'
printf '|--------------|----:|------------------|--------------:|------------------:|--------------:|--------:|\n'

# row CASE CONNECTIONS TARGET ACKED DELIVERED DRAIN P99
row() {
    printf '| %-12s | %3d | %-16s | %13s | %17s | %13s | %7s |\n' "$@"
}

# run_case NAME CONNECTIONS LINES_PER_REQUEST LUA [ARGS...]
run_case() {
    local name=$1 connections=$2 lines=$3 lua=$4
    shift 4
    local figures
    if [[ "direct $name $connections" =~ ${RELAY_E2E_CASES:-.} ]]; then
        influxdb_start "$work_dir/influx-direct"
        influxdb_create_database bench >/dev/null
        influxdb_create_database home_assistant >/dev/null
        wrk_run "$influxdb_url" "$connections" "$lua" "$@"
        figures=$(awk -v n="$((requests * lines))" -v us="$duration_us" -v p99="$p99_us" \
            'BEGIN { printf "%.0f %.0f - %.2f", n / (us / 1e6), n / (us / 1e6), p99 / 1000 }')
        row "$name" "$connections" "InfluxDB direct" $figures
        # What InfluxDB takes from one writer at a time: the relay sends one batch at a time.
        wrk_run "$influxdb_url" 1 "$lua" "$@"
        figures=$(awk -v n="$((requests * lines))" -v us="$duration_us" -v p99="$p99_us" \
            'BEGIN { printf "%.0f %.0f - %.2f", n / (us / 1e6), n / (us / 1e6), p99 / 1000 }')
        row "$name" 1 "InfluxDB direct" $figures
        influxdb_stop
        rm -rf "$work_dir/influx-direct"
    fi
    if [[ "relay $name $connections" =~ ${RELAY_E2E_CASES:-.} ]]; then
        influxdb_start "$work_dir/influx-relay"
        influxdb_create_database bench >/dev/null
        influxdb_create_database home_assistant >/dev/null
        figures=$(through_relay "$influxdb_url" "$connections" "$lines" "$lua" "$@")
        influxdb_stop
        rm -rf "$work_dir/influx-relay"
        row "$name" "$connections" "relay->InfluxDB" $figures
    fi
    if [[ "null $name $connections" =~ ${RELAY_E2E_CASES:-.} ]]; then
        "$BIN_DIR/null-sink" 0 >"$work_dir/sink.out" &
        sink_pid=$!
        local port=""
        for _ in $(seq 1 50); do
            port=$(sed -n 's/^listening 127.0.0.1:\([0-9]*\)$/\1/p' "$work_dir/sink.out")
            [ -n "$port" ] && break
            sleep 0.1
        done
        figures=$(through_relay "http://127.0.0.1:$port" "$connections" "$lines" "$lua" "$@")
        kill -TERM "$sink_pid"
        wait "$sink_pid"
        sink_pid=
        row "$name" "$connections" "relay->null sink" $figures
    fi
}

run_case "batch plain" 16 "$batch_lines" batch.lua "$batch_files"
run_case "single line" 64 1 single.lua
printf '\nload average after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
