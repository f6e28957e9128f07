#!/usr/bin/env bash
# meter-batch offline (--readings CSV in, --out CSV files out) with meter ids as Home Assistant
# users name them: a comma, double and single quotes, a backslash, '=', spaces, umlauts and an
# emoji. The CSV files are read back with Python's csv module (RFC 4180, as pandas and
# spreadsheets read them): every row has its three or twelve columns and the meter id intact, and
# the batch's own daily.csv reads back in as --readings.
source "$(dirname "$0")/lib.sh"

dir=$work_dir/batch
mkdir -p "$dir"
odd='zähler, "Keller" \ =1 🔥'
plain="sensor.o'brien ü m³"
cat >"$dir/config.yaml" <<'YAML'
influxdb:
  url: http://127.0.0.1:9
meters_config: meters.yaml
seasonal_patterns_config: seasonal_patterns.yaml
analytics:
  timezone: UTC
YAML
# YAML double quotes: \" and \\ are escapes.
cat >"$dir/meters.yaml" <<'YAML'
meters:
  - meter_id: "zähler, \"Keller\" \\ =1 🔥"
    type: physical
    output_unit: m³
    installation_date: '2024-01-01'
  - meter_id: "sensor.o'brien ü m³"
    type: physical
    output_unit: kWh
    installation_date: '2024-01-01'
YAML
: >"$dir/seasonal_patterns.yaml"
# RFC 4180: a field with a comma or a quote is quoted, a quote inside doubled.
{
    echo 'meter_id,timestamp,value'
    for day in 01 05 09 13 17; do
        echo "\"zähler, \"\"Keller\"\" \\ =1 🔥\",2024-01-${day}T12:00:00Z,$((10#$day * 2)).5"
        echo "$plain,2024-01-${day}T12:00:00Z,$((10#$day * 3))"
    done
} >"$dir/readings.csv"

batch() { "$BIN_DIR/meter-batch" "$@"; }
expect_status "reconcile reads the quoted meter ids" 0 batch reconcile -c "$dir/config.yaml" \
    --readings "$dir/readings.csv" --today 2024-01-20 --out "$work_dir/out" \
    --report "$work_dir/report.json"

# Per file: the distinct meter ids of its rows, and the rows whose column count is wrong.
csv_ids() {
    python3 -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
width = len(rows[0])
bad = [r for r in rows[1:] if len(r) != width]
print("|".join(sorted({r[0] for r in rows[1:]})), "bad:", len(bad))' "$1"
}
for file in daily consumption monthly; do
    answer=$(csv_ids "$work_dir/out/$file.csv")
    expect_contains "$file.csv: both meter ids intact" "$plain|$odd bad:" "$answer"
    expect_contains "$file.csv: every row has its columns" "bad: 0" "$answer"
done
expect_equal "the report names both meters" "sensor.o'brien ü m³|$odd" \
    "$(python3 -c 'import json, sys; print("|".join(m["meter_id"] for m in json.load(open(sys.argv[1]))["meters"]))' "$work_dir/report.json")"

# The batch's own output reads back in: daily.csv as readings gives the same daily values.
expect_status "daily.csv reads back as --readings" 0 batch reconcile -c "$dir/config.yaml" \
    --readings "$work_dir/out/daily.csv" --today 2024-01-20 --out "$work_dir/again"
# 2024-01-10 00:00 lies between 18.5 (01-09 12:00) and 26.5 (01-13 12:00): 18.5 + 8 x 12/96.
row='"zähler, ""Keller"" \ =1 🔥",2024-01-10T00:00:00Z,19.5'
expect_equal "daily.csv: the odd meter's row, quoted as RFC 4180 quotes it" "$row" \
    "$(grep -F '2024-01-10T' "$work_dir/out/daily.csv" | grep -F '🔥')"
expect_equal "the round trip gives the same row" "$row" \
    "$(grep -F '2024-01-10T' "$work_dir/again/daily.csv" | grep -F '🔥')"
finish
