#!/usr/bin/env bash
# meter-batch reconcile writing to a v2 server (issue 6): VictoriaMetrics' /api/v2/write (the only
# v2 write API that runs here) as influxdb.url with api v2, org and token; the offline history of
# the edge_two_readings scenario; every daily and consumption point arrives (VictoriaMetrics names
# each field's series MEASUREMENT_FIELD and keeps meter_id as a label; its export has ms timestamps
# and 12 significant digits, so values are compared at 12 digits).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/servers.sh"

here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_DIR:-${NEBENKOSTEN_SHARED:-$here/../../../shared}}
scenario=$shared/fixtures/reference/edge_two_readings
unset RELAY_TOKENS RELAY_USERS INFLUX_USERNAME INFLUX_PASSWORD
trap 'victoria_stop; rm -rf "$work_dir"' EXIT

if ! victoria_start "$work_dir/victoria"; then
    check_fail "victoria-metrics starts"
    finish
    exit
fi
dir=$work_dir/batch
mkdir -p "$dir/secrets"
chmod 700 "$dir/secrets"
printf 'INFLUX_TOKEN=batch-token\n' >"$dir/secrets/influxdb.env"
chmod 600 "$dir/secrets/influxdb.env"
cat >"$dir/config.yaml" <<YAML
influxdb:
  url: $victoria_url
  api: v2
  org: home
secrets_dir: secrets
meters_config: meters.yaml
seasonal_patterns_config: seasonal_patterns.yaml
workflows:
  analytics:
    start_year: 2024
relay:
  listen: 127.0.0.1:0
  spool:
    dir: spool
YAML
cp "$scenario/config/meters.yaml" "$scenario/config/seasonal_patterns.yaml" "$dir/"

expect_status "reconcile writes to the v2 server" 0 "$BIN_DIR/meter-batch" reconcile \
    -c "$dir/config.yaml" --readings "$scenario/input/readings.csv" --today 2024-04-01 \
    --report "$work_dir/report.json"
expect_status "the same run as CSV" 0 "$BIN_DIR/meter-batch" reconcile -c "$dir/config.yaml" \
    --readings "$scenario/input/readings.csv" --today 2024-04-01 --out "$work_dir/out"
destination=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).destination)' \
    "$work_dir/report.json")
expect_equal "the report names the v2 server" "influxdb:$victoria_url lampfi_processed" "$destination"

# meter_id,timestamp,value rows of a CSV file against VictoriaMetrics' export of one series: the
# same points, values within 1e-10 (the export keeps 12 significant digits).
series_compare() {
    local file=$1 series=$2 result
    victoria_export "$series" >"$work_dir/$series.json"
    result=$(node -e '
        const fs = require("fs");
        const rows = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").slice(1);
        const stored = new Map();
        for (const line of fs.readFileSync(process.argv[2], "utf8").trim().split("\n")) {
            const x = JSON.parse(line);
            x.timestamps.forEach((t, i) => stored.set(`${x.metric.meter_id} ${t}`, x.values[i]));
        }
        const problems = [];
        for (const row of rows) {
            const [meter, time, text] = row.split(",");
            const key = `${meter} ${Date.parse(time)}`, value = Number(text), got = stored.get(key);
            if (got === undefined) problems.push(`${key} missing`);
            else if (Math.abs(got - value) > 1e-10 * Math.max(1, Math.abs(value))) problems.push(`${key}: ${got}, expected ${value}`);
            stored.delete(key);
        }
        for (const key of stored.keys()) problems.push(`${key} not in the CSV file`);
        console.log(problems.length ? problems.slice(0, 5).join("; ") : `${rows.length} points`);
    ' "$work_dir/out/$file" "$work_dir/$series.json")
    if [[ "$result" =~ ^[0-9]+\ points$ ]] && [ "$result" != "0 points" ]; then
        check_pass "$series: $result as in $file"
    else
        check_fail "$series: the points of $file" "$result"
    fi
}
series_compare daily.csv meter_interpolated_daily_value
series_compare consumption.csv meter_consumption_value
finish
