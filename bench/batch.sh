#!/usr/bin/env bash
# Batch reconciler benchmark: wall time and peak RSS of `meter-batch reconcile --readings --out`
# (CSV in, CSV out: no InfluxDB) in the default mode and with --compat reference, on
# - main: fixtures/reference/main (26 meters, 12,366 readings, --today 2024-12-31);
# - main x100: main's meters replicated 100 times with the suffixes _001.._100 (masters and virtual
#   meters reference the replicated ids, patterns are replicated too), each replica's readings
#   shifted by (k - 1) x 37 s and scaled by 1 + (k - 1) x 0.0002: 2,600 meters, 1,236,600 readings.
#
#   bench/batch.sh [RUNS of main, default 20]     # BIN_DIR=... for other binaries
#
# Wall time: hyperfine (3 warm-up runs; x100: 1 warm-up and 3 runs), else a loop of date +%s%N.
# Peak RSS: the largest maximum resident set size of 3 runs (GNU time's %M). Bars: main <= 100 ms
# and <= 20 MB (20,000,000 bytes) peak RSS; x100 <= 10 s. Needs `make all`; builds nothing.
set -euo pipefail

repo_dir=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}
BIN_DIR=${BIN_DIR:-$repo_dir/build/release/bin}
SHARED_DIR=${SHARED_DIR:-${NEBENKOSTEN_SHARED:-$repo_dir/../shared}}
meter_batch=$BIN_DIR/meter-batch
fixture=$SHARED_DIR/fixtures/reference/main
copies=100

if [ ! -x "$meter_batch" ]; then
    echo "batch: $meter_batch not found; run 'make all' first" >&2
    exit 1
fi
if "$meter_batch" reconcile --help 2>&1 | grep -q 'unknown command "reconcile"'; then
    echo "batch: meter-batch reconcile not available ($meter_batch has no reconcile command)" >&2
    exit 1
fi
if [ ! -f "$fixture/input/readings.csv" ]; then
    echo "batch: $fixture not found; set SHARED_DIR to the directory holding fixtures/" >&2
    exit 1
fi
if [ ! -x /usr/bin/time ]; then
    echo "batch: /usr/bin/time (GNU time) not found; apt-get install time" >&2
    exit 1
fi
mkdir -p "$repo_dir/build"
work_dir=$(mktemp -d "$repo_dir/build/bench-batch.XXXXXX") # the real disk, not a tmpfs
trap 'rm -rf "$work_dir"' EXIT

# main x100. The YAML files are rewritten line by line: an id is renamed where it stands alone on a
# line as a list item, a key (a pattern, a unit conversion) or the value of meter_id or base_meter,
# so descriptions stay as they are.
replicate() {
    local out=$work_dir/x100
    mkdir -p "$out"
    cp "$fixture/config/config.yaml" "$out/config.yaml"
    local rename='
        function rename(line, k,    prefix, token, colon) {
            if (!match(line, /[A-Za-z0-9_]+:?$/))
                return line
            prefix = substr(line, 1, RSTART - 1)
            token = substr(line, RSTART)
            colon = sub(/:$/, "", token)
            if (!(token in ids) || prefix !~ /^ *(- )?((meter_id|base_meter): )?$/)
                return line
            return prefix token sprintf("_%03d", k) (colon ? ":" : "")
        }
        FNR == NR { if ($1 == "-" && $2 == "meter_id:") ids[$3] = 1; next }
        !started && $0 ~ /^(meters|patterns):/ { print; started = 1; next }
        !started { print; next }
        { body[++lines] = $0 }
        END {
            for (k = 1; k <= copies; k++)
                for (i = 1; i <= lines; i++)
                    print rename(body[i], k)
        }'
    awk -v copies="$copies" "$rename" "$fixture/config/meters.yaml" \
        "$fixture/config/meters.yaml" >"$out/meters.yaml"
    awk -v copies="$copies" "$rename" "$fixture/config/meters.yaml" \
        "$fixture/config/seasonal_patterns.yaml" >"$out/seasonal_patterns.yaml"
    # Readings: grouped by meter as in the fixture (id_001 .. id_100 after each other, so the file
    # stays sorted by meter id), each replica shifted and scaled.
    awk -F, -v copies="$copies" '
        function days_from_civil(y, m, d,    era, yoe, doy) {
            y -= m <= 2
            era = int(y / 400)
            yoe = y - era * 400
            doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
            return era * 146097 + yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy - 719468
        }
        function civil_from_days(z,    era, doe, yoe, doy, mp, d, m) {
            z += 719468
            era = int(z / 146097)
            doe = z - era * 146097
            yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
            doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
            mp = int((5 * doy + 2) / 153)
            d = doy - int((153 * mp + 2) / 5) + 1
            m = mp + (mp < 10 ? 3 : -9)
            return sprintf("%04d-%02d-%02d", yoe + era * 400 + (m <= 2), m, d)
        }
        function flush(    k, i, t, day, second, f) {
            for (k = 1; k <= copies; k++)
                for (i = 1; i <= n; i++) {
                    t = seconds[i] + (k - 1) * 37
                    day = int(t / 86400)
                    second = t - day * 86400
                    if (!(day in dates))
                        dates[day] = civil_from_days(day)
                    f = "%s_%03d,%sT%02d:%02d:%02dZ,%." decimals[i] "f\n"
                    printf f, id, k, dates[day], int(second / 3600), int(second / 60) % 60,
                        second % 60, values[i] * (1 + (k - 1) * 0.0002)
                }
            n = 0
        }
        NR == 1 { print; next }
        $1 != id { flush(); id = $1 }
        {
            n++
            day = days_from_civil(substr($2, 1, 4) + 0, substr($2, 6, 2) + 0, substr($2, 9, 2) + 0)
            seconds[n] = day * 86400 + substr($2, 12, 2) * 3600 + substr($2, 15, 2) * 60 \
                         + substr($2, 18, 2)
            values[n] = $3 + 0
            decimals[n] = index($3, ".") ? length($3) - index($3, ".") : 0
        }
        END { flush() }' "$fixture/input/readings.csv" >"$out/readings.csv"
}

# case_measure NAME CONFIG READINGS MODE RUNS WARMUP: prints one table row.
case_measure() {
    local name=$1 config=$2 readings=$3 mode=$4 count=$5 warmup=$6
    local out=$work_dir/out-$name-$mode
    local command=("$meter_batch" reconcile -c "$config" --readings "$readings" --today 2024-12-31
        --out "$out")
    [ "$mode" = reference ] && command+=(--compat reference)
    mkdir -p "$out"
    "${command[@]}" >"$work_dir/log" 2>&1 || {
        echo "batch: ${command[*]} failed:" >&2
        tail -n 20 "$work_dir/log" >&2
        exit 1
    }
    local mean stddev min
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup "$warmup" --runs "$count" --export-csv "$work_dir/times.csv" \
            "${command[*]}" >/dev/null 2>&1
        read -r mean stddev min < <(awk -F, 'NR == 2 { print $2, $3, $7 }' "$work_dir/times.csv")
    else
        local times=()
        for ((i = 0; i < warmup; i++)); do "${command[@]}" >/dev/null 2>&1; done
        for ((i = 0; i < count; i++)); do
            local start end
            start=$(date +%s%N)
            "${command[@]}" >/dev/null 2>&1
            end=$(date +%s%N)
            times+=($(((end - start) / 1000)))
        done
        read -r mean stddev min < <(printf '%s\n' "${times[@]}" | awk '
            { sum += $1; sq += $1 * $1; if (NR == 1 || $1 < low) low = $1 }
            END { m = sum / NR; v = NR > 1 ? (sq - NR * m * m) / (NR - 1) : 0
                  printf "%.6f %.6f %.6f\n", m / 1e6, (v > 0 ? sqrt(v) : 0) / 1e6, low / 1e6 }')
    fi
    local rss=0 kib
    for _ in 1 2 3; do
        kib=$(/usr/bin/time -f '%M' "${command[@]}" 2>&1 >/dev/null | tail -n 1)
        [ "$kib" -gt "$rss" ] && rss=$kib
    done
    local meters readings_count
    meters=$(tail -n +2 "$readings" | cut -d, -f1 | uniq | wc -l)
    readings_count=$(($(wc -l <"$readings") - 1))
    awk -v name="$name" -v mode="$mode" -v meters="$meters" -v readings="$readings_count" \
        -v mean="$mean" -v sd="$stddev" -v min="$min" -v rss="$rss" -v runs="$count" 'BEGIN {
        wall_bar = name == "main" ? 0.1 : 10
        verdict = mean <= wall_bar ? "ok" : "over"
        if (name == "main")
            verdict = verdict ", RSS " (rss * 1024 <= 20000000 ? "ok" : "over")
        printf "| %s | %d | %d | %s | %.1f ms ± %.1f (%d runs) | %.1f ms | %.1f MiB | %s |\n",
            name, meters, readings, mode, mean * 1000, sd * 1000, runs, min * 1000, rss / 1024,
            verdict
    }'
}

replicate
echo "meter-batch reconcile --out: $meter_batch ($(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "| scenario | meters with readings | readings | mode | wall (mean ± sd) | min | peak RSS | bars |"
echo "|----------|---------------------:|---------:|------|-----------------:|----:|---------:|------|"
for mode in default reference; do
    case_measure main "$fixture/config/config.yaml" "$fixture/input/readings.csv" "$mode" \
        "$runs" 3
done
for mode in default reference; do
    case_measure x100 "$work_dir/x100/config.yaml" "$work_dir/x100/readings.csv" "$mode" 3 1
done
echo
echo "bars: main <= 100 ms wall (mean) and <= 20 MB peak RSS; x100 <= 10 s wall (mean)"
