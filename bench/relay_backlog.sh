#!/usr/bin/env bash
# Backlog benchmark: the relay's memory while its upstream is down and it holds a large backlog
# on disk, and while it drains that backlog into a null sink once the upstream is back.
#
#   bench/relay_backlog.sh [GiB of backlog, default 5]
#
# wrk writes 5000-line Telegraf-like batches (16 connections) to a relay whose only upstream
# does not answer until the spool holds the given size; then the null sink (bench/tools) starts
# on the upstream's port and the relay drains. Prints the backlog, the relay's RSS with the
# upstream down and its peak RSS while draining, and the drain rate. Needs `make all benchmarks`.
set -euo pipefail

repo_dir=$(cd "$(dirname "$0")/.." && pwd)
gibibytes=${1:-5}
BIN_DIR=${BIN_DIR:-$repo_dir/build/release/bin}
lua_dir=$repo_dir/bench/relay_ingest
for binary in meter-relay null-sink; do
    if [ ! -x "$BIN_DIR/$binary" ]; then
        echo "relay_backlog: $BIN_DIR/$binary not found; run 'make all benchmarks' first" >&2
        exit 1
    fi
done

mkdir -p "$repo_dir/build"
export TMPDIR=$repo_dir/build # the spool goes on the real disk, not a tmpfs
# shellcheck source=../tests/integration/lib.sh
source "$repo_dir/tests/integration/lib.sh"
# shellcheck source=../tests/integration/relay_helpers.sh
source "$repo_dir/tests/integration/relay_helpers.sh"
# shellcheck source=../tests/integration/servers.sh
source "$repo_dir/tests/integration/servers.sh"
set +u

sink_pid=
wrk_pid=
cleanup() {
    [ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null
    relay_stop >/dev/null 2>&1 || true
    if [ -n "$sink_pid" ]; then
        kill -TERM "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
    fi
    rm -rf "$work_dir"
}
trap cleanup EXIT

awk -v lines=5000 -f "$lua_dir/telegraf_batch.awk" >"$work_dir/batch.lp"
sink_port=$(port_free_pick)
relay_config_write "$work_dir/relay" "    max_bytes: $((gibibytes + 2))GiB
  upstreams:
    - name: bench
      url: http://127.0.0.1:$sink_port
      api: v1
      backoff_initial: 100ms
      backoff_max: 1s"
relay_start "$work_dir/relay"

metric() { # NAME: a metric of the relay without labels, or of upstream "bench"
    curl -s "$relay_url/metrics" |
        sed -n "s/^$1\(\|{upstream=\"bench\"}\) \([0-9.e+]*\)$/\2/p" | head -n 1
}
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$relay_pid/status"; }

printf 'meter-relay: %s\nmachine: nproc %s, %s, %s\n' "$BIN_DIR/meter-relay" "$(nproc)" \
    "$(uname -r)" "$(date -u '+%Y-%m-%d %H:%M UTC')"
target=$((gibibytes * 1024 * 1024 * 1024))
RELAY_INGEST_LUA_DIR=$lua_dir wrk -t1 -c16 -d3600s --timeout 60s -s "$lua_dir/batch.lua" \
    "$relay_url" -- "$work_dir/batch.lp" >/dev/null &
wrk_pid=$!
filled_start=$(date +%s%N)
while :; do
    bytes=$(metric nebenkosten_spool_bytes)
    [ "${bytes%.*}" -ge "$target" ] && break
    kill -0 "$wrk_pid" 2>/dev/null || { echo "relay_backlog: wrk stopped" >&2; exit 1; }
    sleep 1
done
kill "$wrk_pid"
wait "$wrk_pid" 2>/dev/null || true
wrk_pid=
filled_ns=$(($(date +%s%N) - filled_start))
sleep 2 # let the last commits and a cursor store happen
backlog_records=$(metric nebenkosten_upstream_backlog_records)
backlog_bytes=$(metric nebenkosten_upstream_backlog_bytes)
rss_down=$(rss_kib)
printf 'backlog: %s records, %s bytes (%.1f GiB) written in %.0f s; upstream down\n' \
    "$backlog_records" "$backlog_bytes" "$(awk -v b="$backlog_bytes" 'BEGIN { print b / 2^30 }')" \
    "$(awk -v ns="$filled_ns" 'BEGIN { print ns / 1e9 }')"
printf 'relay RSS with the upstream down: %.1f MiB\n' "$(awk -v k="$rss_down" 'BEGIN { print k / 1024 }')"

"$BIN_DIR/null-sink" "$sink_port" >"$work_dir/sink.out" &
sink_pid=$!
drain_start=$(date +%s%N)
peak=0
while :; do
    rss=$(rss_kib)
    [ "$rss" -gt "$peak" ] && peak=$rss
    [ "$(metric nebenkosten_upstream_backlog_records)" = 0 ] && break
    sleep 0.5
done
drain_ns=$(($(date +%s%N) - drain_start))
lines=$(metric nebenkosten_upstream_sent_lines_total)
printf 'drained in %.1f s: %.0f lines/s, %.0f MB/s of line protocol\n' \
    "$(awk -v ns="$drain_ns" 'BEGIN { print ns / 1e9 }')" \
    "$(awk -v n="$lines" -v ns="$drain_ns" 'BEGIN { print n / (ns / 1e9) }')" \
    "$(awk -v b="$(metric nebenkosten_upstream_sent_bytes_total)" -v ns="$drain_ns" 'BEGIN { print b / 1e6 / (ns / 1e9) }')"
printf 'relay peak RSS while draining: %.1f MiB\n' "$(awk -v k="$peak" 'BEGIN { print k / 1024 }')"
sleep 2 # a cursor store, then the delivered segments are deleted
printf 'spool after the drain: %s segments\n' "$(metric nebenkosten_spool_segments)"
