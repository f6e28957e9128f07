#!/usr/bin/env bash
# Stream processor benchmark: readings per second from the spool to emitted points, on the
# relay's one loop, and the memory of the meters' state.
#
#   bench/stream.sh [METERS, default 100000] [READINGS PER METER, default 24]
#
# A relay with the stream off takes Home Assistant readings of METERS meters, one every 15
# minutes from 21:00 UTC on (so every meter crosses a midnight), in 5000-line requests in time
# order. Then a relay with the stream on starts on that spool and works off the backlog:
# readings/s = readings applied / the loop time the processor spent (its busy-seconds counter:
# spool reading, parsing, matching, meter rules, formatting and appending the processed points;
# one core, as the relay has one loop). Memory: the meter table's bytes per meter and the relay's
# RSS. Needs `make all`.
set -euo pipefail

repo_dir=$(cd "$(dirname "$0")/.." && pwd)
meters=${1:-100000}
readings=${2:-24}
BIN_DIR=${BIN_DIR:-$repo_dir/build/release/bin}
if [ ! -x "$BIN_DIR/meter-relay" ]; then
    echo "stream: $BIN_DIR/meter-relay not found; run 'make all' first" >&2
    exit 1
fi
mkdir -p "$repo_dir/build"
export TMPDIR=$repo_dir/build # the spool goes on the real disk, not a tmpfs
# shellcheck source=../tests/integration/lib.sh
source "$repo_dir/tests/integration/lib.sh"
# shellcheck source=../tests/integration/relay_helpers.sh
source "$repo_dir/tests/integration/relay_helpers.sh"
trap 'relay_stop >/dev/null 2>&1 || true; rm -rf "$work_dir"' EXIT

dir=$work_dir/relay
relay_config_write "$dir" "    max_bytes: 8GiB"
metric() { curl -s "$relay_url/metrics" | sed -n "s/^$1 \([0-9.e+]*\)$/\1/p"; }
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$relay_pid/status"; }

# 2023-11-14 21:00:00 UTC, then every 15 minutes; meter ids like Home Assistant's entity ids.
awk -v meters="$meters" -v readings="$readings" 'BEGIN {
    start = 1699995600
    for (r = 0; r < readings; r++)
        for (m = 0; m < meters; m++)
            printf "kWh,domain=input_number,entity_id=meter_%06d value=%.3f %d000000000\n",
                m, 1000 + m % 97 + r * 0.25 + (m % 7) * r * 0.01, start + r * 900
}' | split -l 5000 -a 5 - "$work_dir/batch."

relay_start "$dir"
for batch in "$work_dir"/batch.*; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "@$batch" "$relay_url/write?db=lampfi")
    [ "$code" = 204 ] || { echo "stream: a write got $code" >&2; exit 1; }
done
relay_stop

sed -i 's/^  enabled: false$/  enabled: true\n  checkpoint_interval: 2s/' "$dir/config.yaml"
relay_start "$dir"
while [ "$(metric nebenkosten_stream_backlog_records)" != 0 ]; do sleep 0.1; done
busy=$(metric nebenkosten_stream_busy_seconds_total)
# A checkpoint of the whole state after the backlog: the copy runs on the loop (requests wait for
# it), the writing and syncing on the checkpoint thread.
checkpoints=$(metric nebenkosten_stream_checkpoints_total)
while [ "$(metric nebenkosten_stream_checkpoints_total)" = "$checkpoints" ]; do sleep 0.1; done
checkpoint=$(metric nebenkosten_stream_checkpoint_duration_seconds)
checkpoint_copy=$(metric nebenkosten_stream_checkpoint_copy_seconds)
checkpoint_bytes=$(stat -c %s "$dir/spool/stream/checkpoint")
applied=$(metric nebenkosten_stream_readings_total)
emitted=$(metric nebenkosten_stream_points_emitted_total)
state_bytes=$(metric nebenkosten_stream_state_bytes)
rss=$(rss_kib)
awk -v applied="$applied" -v emitted="$emitted" -v seconds="$busy" -v checkpoint="$checkpoint" \
    -v checkpoint_bytes="$checkpoint_bytes" -v checkpoint_copy="$checkpoint_copy" \
    -v meters="$meters" -v state="$state_bytes" -v rss="$rss" 'BEGIN {
    printf "meters %d, readings %d, processed points %d\n", meters, applied, emitted
    printf "processor busy %.3f s\n", seconds
    printf "readings/s %.0f (one core)\n", applied / seconds
    printf "checkpoint %.1f MiB written in %.3f s, of which %.3f s on the loop (copying the state)\n",
        checkpoint_bytes / 1048576, checkpoint, checkpoint_copy
    printf "state bytes per meter %.0f (meter table), RSS %.1f MiB = %.0f bytes per meter\n",
        state / meters, rss / 1024, rss * 1024 / meters
}'
