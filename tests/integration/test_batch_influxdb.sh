#!/usr/bin/env bash
# meter-batch reconcile end to end with a real InfluxDB 1.x (issue 6): the main fixture scenario's
# 12,366 readings written to lampfi as Home Assistant writes them; reconcile reads them back
# through InfluxQL and
#   - with --out reproduces the reference's series (batch_compare.mjs: within 1e-9, flags), so the
#     history read from InfluxDB is the same as the CSV file;
#   - without --out writes every series to lampfi_processed directly (no relay listening), and
#     batch_influx_compare.mjs finds each point of the --out files there and nothing else;
#   - a second run writes identical points (same count, same values);
#   - a run deletes the meter_anomaly points of judged days it did not flag, and no others;
#   - through a running relay (relay.listen answers): the points are spooled, delivered to
#     InfluxDB and equal; the stream's baselines file is written and re-seeds the stream;
#   - the relay's job API runs the real meter-batch reconcile and keeps its report;
#   - wipe-processed refuses without --yes and deletes the processed measurements with it.
#   - a relay that refuses meter-batch's token: the error names RELAY_TOKENS and relay.env.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/servers.sh"

here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_DIR:-${NEBENKOSTEN_SHARED:-$here/../../../shared}}
scenario=$shared/fixtures/reference/main
unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; influxdb_stop; rm -rf "$work_dir"' EXIT

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
for database in lampfi lampfi_processed; do
    expect_status "influxdb: CREATE DATABASE $database" 0 influxdb_create_database "$database"
done

# The readings as Home Assistant line protocol, 1000 lines a request.
counts=$(node "$here/stream_readings.mjs" reference "$scenario" "$work_dir/requests" 1000)
written=0
for request in "$work_dir"/requests/*.lp; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "@$request" \
        "$influxdb_url/write?db=lampfi&precision=ns")
    [ "$code" = 204 ] && written=$((written + 1))
done
expect_equal "the scenario's readings are in lampfi ($counts)" "${counts% *}" "$written"

# The batch's configuration: the scenario's meters and patterns, InfluxDB as the server, the relay
# at a fixed free port (nobody listens there yet).
relay_port=$(port_free_pick "${influxdb_url##*:}")
dir=$work_dir/batch
relay_config_write "$dir" "  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      backoff_initial: 100ms
      backoff_max: 1s" "  enabled: true
  checkpoint_interval: 1s"
sed -i "s|url: http://127.0.0.1:9|url: $influxdb_url|; s|listen: 127.0.0.1:0|listen: 127.0.0.1:$relay_port|" \
    "$dir/config.yaml"
printf 'workflows:\n  analytics:\n    start_year: 2020\ngas_conversion:\n  energy_content: 11.504\n  z_factor: 0.8885\n' \
    >>"$dir/config.yaml"
cp "$scenario/config/meters.yaml" "$scenario/config/seasonal_patterns.yaml" "$dir/"
batch() { "$BIN_DIR/meter-batch" "$@" >>"$work_dir/batch.log" 2>&1; }

expect_status "reconcile --out from InfluxDB" 0 batch reconcile --compat reference \
    -c "$dir/config.yaml" --today 2024-12-31 --out "$work_dir/out" --report "$work_dir/out.json"
if node "$here/batch_compare.mjs" "$scenario/output" "$work_dir/out" >"$work_dir/compare"; then
    check_pass "the history read from InfluxDB gives the reference's series"
else
    check_fail "the history read from InfluxDB gives the reference's series" "$(cat "$work_dir/compare")"
fi
source_line=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
    console.log(r.source, r.totals.readings)' "$work_dir/out.json")
expect_equal "the report names the source" "influxdb:$influxdb_url lampfi 12366" "$source_line"

expected_points=$(cat "$work_dir"/out/{daily,master_daily,monthly,master_monthly,consumption,virtual,anomalies}.csv |
    grep -vc '^meter_id,')
compare_influx() { node "$here/batch_influx_compare.mjs" "$influxdb_url" lampfi_processed "$work_dir/out"; }
count_points() {
    influxdb_query lampfi_processed 'SELECT count(value) FROM /meter_.*/' |
        node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () =>
            console.log(JSON.parse(s).results[0].series.map(x => x.name + "=" + x.values[0][1]).join(" ")))'
}

expect_status "reconcile to InfluxDB (no relay: directly)" 0 batch reconcile --compat reference \
    -c "$dir/config.yaml" --today 2024-12-31 --report "$work_dir/first.json"
destination=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
    console.log(r.destination, r.totals.points_written === Number(process.argv[2]))' \
    "$work_dir/first.json" "$expected_points")
expect_equal "the report names the destination" "influxdb:$influxdb_url lampfi_processed true" "$destination"
result=$(compare_influx)
expect_equal "every point of the --out files is in lampfi_processed, nothing else" "points $expected_points" "$result"
first_counts=$(count_points)

expect_status "a second run" 0 batch reconcile --compat reference -c "$dir/config.yaml" \
    --today 2024-12-31
expect_equal "a second run leaves the same points" "$first_counts" "$(count_points)"
expect_equal "... with the same values" "points $expected_points" "$(compare_influx)"

# Anomaly flags the run no longer raises (a stream flag or an earlier night's): one on a day
# within a judged meter's series that the run did not flag is deleted (haupt_strom's series runs
# 2024-11-27 .. 2024-12-31, too short for the vote); one after its series (a day the stream closed
# after the history was read) and one of a meter the run does not know stay.
anomaly_fields='value=5,z_score=4,iqr_lower=0,iqr_upper=1,anomaly_count=2i'
curl -s -o /dev/null --data-binary "meter_anomaly,meter_id=haupt_strom $anomaly_fields 1733788800000000000
meter_anomaly,meter_id=haupt_strom $anomaly_fields 1736035200000000000
meter_anomaly,meter_id=nicht_konfiguriert $anomaly_fields 1733788800000000000" \
    "$influxdb_url/write?db=lampfi_processed&precision=ns"
anomaly_times() {
    influxdb_query lampfi_processed "SELECT value FROM meter_anomaly WHERE meter_id = '$1'" |
        node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
            const series = JSON.parse(s).results[0].series || [];
            console.log(series.flatMap(x => x.values.map(v => v[0])).join(" ") || "none"); })'
}
expect_equal "a stale flag was written" "1733788800000000000 1736035200000000000" "$(anomaly_times haupt_strom)"
expect_status "a third run" 0 batch reconcile --compat reference -c "$dir/config.yaml" \
    --today 2024-12-31 --report "$work_dir/third.json"
expect_equal "the flag of a judged day the run did not flag is deleted, the later one stays" \
    "1736035200000000000" "$(anomaly_times haupt_strom)"
expect_equal "a meter the run does not know keeps its flag" "1733788800000000000" \
    "$(anomaly_times nicht_konfiguriert)"
deleted=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).totals.anomaly_flags_deleted)' \
    "$work_dir/third.json")
expect_equal "the report counts the deleted flag" 1 "$deleted"
curl -s -o /dev/null -XPOST "$influxdb_url/query?db=lampfi_processed" --data-urlencode \
    "q=DELETE FROM meter_anomaly WHERE meter_id = 'nicht_konfiguriert'; DELETE FROM meter_anomaly WHERE meter_id = 'haupt_strom'"
expect_equal "the run's own flags are all there" "points $expected_points" "$(compare_influx)"

# Through the relay: it spools the points and delivers them; the baselines file re-seeds the
# stream at its next checkpoint.
expect_status "wipe-processed without --yes refuses" 2 batch wipe-processed -c "$dir/config.yaml"
# An event the stream wrote: reconcile never writes events, so the wipe keeps them unless asked.
curl -s -o /dev/null --data-binary 'meter_event,meter_id=haupt_strom,kind=replacement value=25,detail="drop" 1733788800000000000' \
    "$influxdb_url/write?db=lampfi_processed&precision=ns"
expect_status "wipe-processed --yes" 0 batch wipe-processed --yes -c "$dir/config.yaml"
# InfluxDB 1.6 may still list a dropped measurement whose series spanned many shards in SHOW
# MEASUREMENTS (its in-memory index); its points are gone, which is what counts.
expect_equal "the processed points are gone" '{"results":[{"statement_id":0}]}' \
    "$(influxdb_query lampfi_processed 'SELECT count(*) FROM /meter_(interpolated|consumption|anomaly).*/')"
expect_contains "the stream's events stay" '"values":[[0,1]]' \
    "$(influxdb_query lampfi_processed 'SELECT count(value) FROM meter_event')"
expect_status "wipe-processed --yes --events" 0 batch wipe-processed --yes --events -c "$dir/config.yaml"
expect_equal "... deletes them too" '{"results":[{"statement_id":0}]}' \
    "$(influxdb_query lampfi_processed 'SELECT count(*) FROM /meter_.*/')"
if relay_start "$dir"; then
    expect_status "reconcile through the relay" 0 batch reconcile --compat reference \
        -c "$dir/config.yaml" --today 2024-12-31 --report "$work_dir/relay.json"
    destination=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).destination)' \
        "$work_dir/relay.json")
    expect_equal "the report says the points went through the relay" \
        "relay:http://127.0.0.1:$relay_port lampfi_processed" "$destination"
    deadline=$((SECONDS + 30))
    while [ "$(compare_influx 2>/dev/null)" != "points $expected_points" ] && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.5
    done
    expect_equal "the relay delivered every point" "points $expected_points" "$(compare_influx)"
    meters=$(node -e 'console.log(Object.keys(JSON.parse(require("fs").readFileSync(process.argv[1])).meters).length)' \
        "$dir/spool/stream/baselines.json")
    expect_equal "baselines written for the stream's meters" 22 "$meters"
    deadline=$((SECONDS + 20))
    until grep -q '"msg":"detector baselines re-seeded"' "$relay_log" || [ "$SECONDS" -ge "$deadline" ]; do
        sleep 0.2
    done
    if grep -q '"msg":"detector baselines re-seeded"' "$relay_log"; then
        check_pass "the relay re-seeded the stream from the baselines file"
    else
        check_fail "the relay re-seeded the stream from the baselines file" "$(tail -5 "$relay_log")"
    fi
    # The relay's scheduler runs the real meter-batch (beside meter-relay) as a job.
    http_request job -XPOST "$relay_url/api/v1/jobs/reconcile"
    expect_equal "POST /api/v1/jobs/reconcile starts a run" 202 "$http_code"
    deadline=$((SECONDS + 60))
    job=""
    while [ "$SECONDS" -lt "$deadline" ]; do
        job=$(curl -s "$relay_url/api/v1/jobs" | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
            const run = JSON.parse(s).runs[0]; console.log(run.status, run.trigger, run.report ? run.report.status : "none",
            run.report && run.report.totals.points_written > 0); })')
        [[ "$job" == running* ]] || break
        sleep 0.5
    done
    expect_equal "the job ran meter-batch reconcile and kept its report" "succeeded manual succeeded true" "$job"
    relay_stop
else
    check_fail "meter-relay starts"
fi

# A relay with relay.auth: token that refuses meter-batch's token (relay.env changed, the relay not
# reloaded): the error says what to fix, not INFLUX_TOKEN in a secrets file it never names.
auth_dir=$work_dir/auth
relay_config_write "$auth_dir" "  auth: token"
printf 'meters:\n  - meter_id: m1\n    type: physical\n    output_unit: kWh\n    installation_date: 2024-01-01\n' \
    >"$auth_dir/meters.yaml"
printf 'meter_id,timestamp,value\nm1,2024-01-01T00:00:00Z,1\nm1,2024-01-05T00:00:00Z,5\n' \
    >"$auth_dir/readings.csv"
printf 'RELAY_TOKENS=token-the-relay-knows\n' >"$auth_dir/secrets/relay.env"
chmod 600 "$auth_dir/secrets/relay.env"
if relay_start "$auth_dir"; then
    sed -i "s|listen: 127.0.0.1:0|listen: 127.0.0.1:${relay_url##*:}|" "$auth_dir/config.yaml"
    printf 'RELAY_TOKENS=token-not-reloaded\n' >"$auth_dir/secrets/relay.env"
    expect_status "reconcile through a relay that refuses its token fails" 1 batch reconcile \
        -c "$auth_dir/config.yaml" --readings "$auth_dir/readings.csv" --today 2024-01-10
    refusal=$(grep '"msg":"reconcile failed"' "$work_dir/batch.log" | tail -n 1)
    expect_contains "the error names the relay's tokens and their file" \
        "HTTP 401: authorization failed (the relay refused the first of RELAY_TOKENS in $auth_dir/secrets/relay.env" \
        "$refusal"
    if [[ "$refusal" == *INFLUX_TOKEN* ]]; then
        check_fail "the error does not send the user to INFLUX_TOKEN" "$refusal"
    else
        check_pass "the error does not send the user to INFLUX_TOKEN"
    fi
    relay_stop
else
    check_fail "meter-relay with relay.auth: token starts"
fi
[ "$checks_failed" -eq 0 ] || tail -n 20 "$work_dir/batch.log"
finish
