#!/usr/bin/env bash
# meter-batch tibber end to end (issue 7): a real InfluxDB 1.x and the fake Tibber GraphQL server
# (tests/tibber/fake_tibber.mjs) on 127.0.0.1, tibber.api_url pointing at it. After each run the
# points in InfluxDB are compared exactly with what the fake served (tests/tibber/tibber_check.mjs):
#   - a normal 48 h run (one page; its wall time is the bar: at most 1 s), a second run that writes
#     nothing (no write request reaches InfluxDB), the next hour written alone;
#   - a null hour in the middle (the register waits; energy goes on) that settles a run later;
#     the current hour (null) never written;
#   - a revised hour: the energy point is overwritten, the register never counts it twice;
#   - the October DST day in Europe/Berlin (25 hourly nodes, 25 prices) and the March one (23
#     nodes; quarter-hourly prices: 92 for that day);
#   - catch-up after 100 days: 4 pages with cursors, none above 744; capped by max_lookback_hours:
#     the register refuses the gap (exit 1) while energy is written; capped by the request budget
#     (30 pages), retries counted against it (40 requests at most);
#   - errors: errors[] with HTTP 200, 401 and UNAUTHENTICATED (the message names the secrets
#     file), 429 + Retry-After, 500, slow, hanging and truncated answers, garbage JSON, no home, a
#     home without subscription, two homes, tibber disabled, a usage error;
#   - two subscribed homes: tibber.home_id picks the household's on every page;
#   - through a running relay, and run by the relay's job runner; the Flux (v2) path against the
#     InfluxDB 2 query stand-in.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/servers.sh"

here=$(cd "$(dirname "$0")" && pwd)
repo=${REPO_DIR:-$here/../..}
fake=$repo/tests/tibber/fake_tibber.mjs
checker=$repo/tests/tibber/tibber_check.mjs
meter=haupt_strom
unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD TIBBER_API_TOKEN
fake_pid=
stub_pid=
process_stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
trap 'process_stop "$fake_pid"; process_stop "$stub_pid"; relay_stop; influxdb_stop; rm -rf "$work_dir"' EXIT

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi

# The fake prints its URL once it listens.
node "$fake" >"$work_dir/fake.log" 2>&1 &
fake_pid=$!
fake_url=
for _ in $(seq 100); do
    fake_url=$(sed -n 's/^listening \(http:[^ ]*\)$/\1/p' "$work_dir/fake.log")
    [ -n "$fake_url" ] && break
    sleep 0.05
done
if [ -z "$fake_url" ]; then
    check_fail "the fake Tibber server starts" "$(cat "$work_dir/fake.log")"
    finish
    exit
fi

fake_post() { curl -fsS -XPOST "$fake_url/_control/$1" -d "$2" >/dev/null; }
fake_scenario() { fake_post scenario "$1"; }
fake_requests() { curl -fsS "$fake_url/_control/requests"; }
# fake_request_count: the API requests the fake received since the last scenario or clear.
fake_request_count() { fake_requests | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).length))'; }

# time_ns ISO: nanoseconds since the epoch.
time_ns() { echo "$(date -u -d "$1" +%s)000000000"; }
influx_write() { curl -fsS -XPOST "$influxdb_url/write?db=$1&precision=ns" --data-binary "$2"; }
influx_scalar() {
    influxdb_query "$1" "$2" | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        const r = JSON.parse(s).results[0]; console.log(r.series ? r.series[0].values[0][1] : 0); })'
}
write_requests() { grep -c 'POST /write' "$influxdb_dir/http.log"; }

# case_setup NAME [TIBBER_YAML]: database NAME and $work_dir/NAME/config.yaml for it; the token in
# secrets/tibber.env. Sets dir, db.
case_setup() {
    db=$1
    dir=$work_dir/$1
    mkdir -p "$dir/secrets"
    chmod 700 "$dir/secrets"
    printf 'TIBBER_API_TOKEN=test-token\n' >"$dir/secrets/tibber.env"
    chmod 600 "$dir/secrets/tibber.env"
    : >"$dir/meters.yaml"
    : >"$dir/seasonal_patterns.yaml"
    cat >"$dir/config.yaml" <<YAML
influxdb:
  url: $influxdb_url
  bucket_raw: $db
  bucket_processed: ${db}_processed
  timeout: 10
  retry_attempts: 1
secrets_dir: secrets
meters_config: meters.yaml
seasonal_patterns_config: seasonal_patterns.yaml
logging:
  level: info
  format: json
relay:
  listen: 127.0.0.1:$(port_free_pick "${influxdb_url##*:}")
  spool:
    dir: spool
stream:
  enabled: false
tibber:
  enabled: true
  api_url: $fake_url/v1-beta/gql
  meter_id: $meter
${2:-}
YAML
    influxdb_create_database "$db"
    run_number=0
}

# tibber_run [ARGS...]: meter-batch tibber on the case's config, --direct unless ARGS hold
# --relay; the report in $report, the output appended to $dir/batch.log, the status in
# $run_status, the wall time in $run_ms.
tibber_run() {
    run_number=$((run_number + 1))
    report=$dir/report-$run_number.json
    local direct=--direct
    if [ "${1:-}" = --relay ]; then
        direct=
        shift
    fi
    local start end
    start=$(date +%s%N)
    "$BIN_DIR/meter-batch" tibber -c "$dir/config.yaml" $direct --report "$report" "$@" \
        >"$dir/run-$run_number.log" 2>&1
    run_status=$?
    end=$(date +%s%N)
    run_ms=$(((end - start) / 1000000))
    cat "$dir/run-$run_number.log" >>"$dir/batch.log"
}
# report_get EXPRESSION: a JavaScript expression over the report `r`.
report_get() { node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(eval(process.argv[2]))' "$report" "$1"; }
check_run() { node "$checker" "$@" --influx "$influxdb_url" --db "$db" --meter "$meter" --fake "$fake_url"; }
expect_run() {
    local description=$1 expected=$2
    if [ "$run_status" -eq "$expected" ]; then check_pass "$description"; else
        check_fail "$description" "expected exit status $expected, got $run_status" \
            "$(tail -n 5 "$dir/run-$run_number.log")"
    fi
}

echo "-- a normal run: 48 hours, one page"
case_setup normal
fake_scenario '{"now": "2025-01-15T10:20:00Z"}'
influx_write normal "kWh,entity_id=$meter,domain=input_number value=1000.5 $(time_ns 2025-01-14T00:00:00Z)"
tibber_run --now 2025-01-15T10:20:00Z
expect_run "the run succeeds" 0
normal_ms=$run_ms
echo "  (wall time of the normal 48 h run: $normal_ms ms)"
if [ "$normal_ms" -le 1000 ]; then check_pass "a normal run takes at most 1 s ($normal_ms ms)"; else
    check_fail "a normal run takes at most 1 s" "it took $normal_ms ms"; fi
expect_equal "report: 48 fetched, 47+48+33 written, 1 pending, lookback 48" \
    "48 128 1 0 48 1 succeeded" \
    "$(report_get '[r.summary.fetched, r.summary.written, r.summary.pending, r.summary.skipped, r.summary.lookback_hours, r.requests.tibber, r.status].join(" ")')"
expect_equal "every settled hour is an energy point, the current hour is not" "energy ok 47" \
    "$(check_run energy --from 2025-01-13T11:00:00Z)"
expect_equal "the register runs on from the anchor" \
    "register ok 33 last=2025-01-15T09:00:00.000Z=$(report_get r.register.last.value)" \
    "$(check_run register --anchor-time 2025-01-14T00:00:00Z --anchor-value 1000.5)"
expect_equal "today's and tomorrow's prices" "prices ok 48" "$(check_run prices)"
writes_before=$(write_requests)
tibber_run --now 2025-01-15T10:20:00Z
expect_run "a second run succeeds" 0
expect_equal "a second run writes nothing" "0 47 0" \
    "$(report_get '[r.summary.written, r.summary.skipped, r.prices.changed].join(" ")')"
expect_equal "... and sends InfluxDB no write at all" "$writes_before" "$(write_requests)"
fake_scenario '{"now": "2025-01-15T11:20:00Z"}'
tibber_run --now 2025-01-15T11:20:00Z
expect_equal "an hour later: the new hour alone (energy and register)" "0 2 1 1 0" \
    "$run_status $(report_get '[r.summary.written, r.written.energy, r.written.kWh, r.written.electricity_price].join(" ")')"
expect_equal "... continuing the register" "register ok 34" \
    "$(check_run register --anchor-time 2025-01-14T00:00:00Z --anchor-value 1000.5 | cut -d' ' -f1-3)"
expect_equal "the counts in InfluxDB" "energy=48 kWh=35 electricity_price=48" \
    "$(check_run count)"

echo "-- a null hour in the middle, then settled"
case_setup pending
fake_scenario '{"now": "2025-02-10T12:10:00Z", "nulls": ["2025-02-10T03:00:00Z"]}'
influx_write pending "kWh,entity_id=$meter,domain=input_number value=500 $(time_ns 2025-02-09T00:00:00Z)"
tibber_run --now 2025-02-10T12:10:00Z
expect_run "the run succeeds" 0
expect_equal "the register waits at the null hour; 2 hours pending (it and the current one)" \
    "waiting 2025-02-10T03:00:00Z 26 2 46" \
    "$(report_get '[r.register.status, r.register.stopped_at, r.register.points, r.summary.pending, r.written.energy].join(" ")')"
expect_equal "energy: every settled hour, before and after the null one" "energy ok 46" \
    "$(check_run energy --from 2025-02-08T13:00:00Z)"
expect_equal "register: up to the hour before the null one" "register ok 26" \
    "$(check_run register --anchor-time 2025-02-09T00:00:00Z --anchor-value 500 | cut -d' ' -f1-3)"
fake_scenario '{"now": "2025-02-10T12:10:00Z"}'
tibber_run --now 2025-02-10T12:10:00Z
expect_equal "settled a run later: its energy point and the register from there on" \
    "0 1 9 advanced 1 46" \
    "$run_status $(report_get '[r.written.energy, r.written.kWh, r.register.status, r.summary.pending, r.summary.skipped].join(" ")')"
expect_equal "energy complete" "energy ok 47" "$(check_run energy --from 2025-02-08T13:00:00Z)"
expect_equal "the register counts every hour once" "register ok 35" \
    "$(check_run register --anchor-time 2025-02-09T00:00:00Z --anchor-value 500 | cut -d' ' -f1-3)"

echo "-- a revised hour"
case_setup revised
fake_scenario '{"now": "2025-03-05T08:30:00Z"}'
influx_write revised "kWh,entity_id=$meter,domain=input_number value=200.25 $(time_ns 2025-03-04T00:00:00Z)"
tibber_run --now 2025-03-05T08:30:00Z
expect_run "the first run succeeds" 0
revised_hour=2025-03-04T10:00:00Z
original=$(curl -fsS "$fake_url/_control/nodes" | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () =>
    console.log(JSON.parse(s).find(n => n.from_ms === Date.parse(process.argv[1])).consumption))' "$revised_hour")
fake_scenario '{"now": "2025-03-05T08:30:00Z", "overrides": {"2025-03-04T10:00:00Z": {"consumption": 2.5, "cost": 0.75}}}'
tibber_run --now 2025-03-05T08:30:00Z
expect_equal "the revised hour: its energy point rewritten, the register not recounted" \
    "0 1 0 1 1 up_to_date" \
    "$run_status $(report_get '[r.written.energy, r.written.kWh, r.consumption.revised, r.register.revised_counted, r.register.status].join(" ")')"
expect_equal "the energy point has the revised values" "energy ok 47" \
    "$(check_run energy --from 2025-03-03T09:00:00Z)"
expect_equal "the register kept what it counted" "register ok 31" \
    "$(check_run register --anchor-time 2025-03-04T00:00:00Z --anchor-value 200.25 --booked "$revised_hour=$original" | cut -d' ' -f1-3)"
if grep -q '"msg":"Tibber revised hours the register had already counted' "$dir/batch.log"; then
    check_pass "the revision of a counted hour is logged"
else
    check_fail "the revision of a counted hour is logged" "$(tail -n 5 "$dir/batch.log")"
fi
fake_scenario '{"now": "2025-03-05T10:30:00Z", "overrides": {"2025-03-04T10:00:00Z": {"consumption": 2.5, "cost": 0.75}}}'
tibber_run --now 2025-03-05T10:30:00Z
expect_equal "later hours continue from the register as stored" "register ok 33" \
    "$(check_run register --anchor-time 2025-03-04T00:00:00Z --anchor-value 200.25 --booked "$revised_hour=$original" | cut -d' ' -f1-3)"
tibber_run --now 2025-03-05T10:30:00Z
expect_equal "... and a run after that writes nothing" "0 0" "$run_status $(report_get r.summary.written)"

echo "-- the October DST day in Europe/Berlin (25 hours)"
case_setup october
fake_scenario '{"now": "2024-10-26T14:00:00Z", "zone": "Europe/Berlin"}'
influx_write october "kWh,entity_id=$meter,domain=input_number value=3000 $(time_ns 2024-10-25T00:00:00Z)"
tibber_run --now 2024-10-26T14:00:00Z
expect_run "the day before: the run succeeds" 0
expect_equal "prices of today (24) and of the DST day (25), hourly" "prices ok 49 60" \
    "$(check_run prices) $(report_get r.prices.interval_minutes)"
expect_equal "the DST day has 25 prices" 25 \
    "$(influx_scalar october "SELECT count(total) FROM electricity_price WHERE time >= '2024-10-26T22:00:00Z' AND time < '2024-10-27T23:00:00Z'")"
fake_scenario '{"now": "2024-10-28T06:30:00Z", "zone": "Europe/Berlin"}'
tibber_run --now 2024-10-28T06:30:00Z
expect_run "the day after: the run succeeds" 0
expect_equal "the DST day has 25 energy points" 25 \
    "$(influx_scalar october "SELECT count(consumption) FROM energy WHERE time >= '2024-10-26T22:00:00Z' AND time < '2024-10-27T23:00:00Z'")"
expect_equal "the repeated local 02:00 is two hours: 00:00Z and 01:00Z" 2 \
    "$(influx_scalar october "SELECT count(consumption) FROM energy WHERE time >= '2024-10-27T00:00:00Z' AND time <= '2024-10-27T01:00:00Z'")"
expect_equal "energy across both runs" "energy ok 87" "$(check_run energy --from 2024-10-24T15:00:00Z)"
expect_equal "the register across the DST day" "register ok 77" \
    "$(check_run register --anchor-time 2024-10-25T00:00:00Z --anchor-value 3000 | cut -d' ' -f1-3)"

echo "-- the March DST day in Europe/Berlin (23 hours), quarter-hourly prices"
case_setup march
fake_scenario '{"now": "2025-03-29T14:00:00Z", "zone": "Europe/Berlin", "quarter_hourly": true}'
influx_write march "kWh,entity_id=$meter,domain=input_number value=4321.125 $(time_ns 2025-03-28T00:00:00Z)"
tibber_run --now 2025-03-29T14:00:00Z
expect_run "the day before: the run succeeds" 0
expect_equal "quarter-hourly prices: 96 today, 92 on the DST day" "prices ok 188 15" \
    "$(check_run prices) $(report_get r.prices.interval_minutes)"
expect_equal "the DST day has 92 quarter-hour prices" 92 \
    "$(influx_scalar march "SELECT count(total) FROM electricity_price WHERE time >= '2025-03-29T23:00:00Z' AND time < '2025-03-30T22:00:00Z'")"
fake_scenario '{"now": "2025-03-31T06:30:00Z", "zone": "Europe/Berlin", "quarter_hourly": true}'
tibber_run --now 2025-03-31T06:30:00Z
expect_run "the day after: the run succeeds" 0
expect_equal "the DST day has 23 energy points" 23 \
    "$(influx_scalar march "SELECT count(consumption) FROM energy WHERE time >= '2025-03-29T23:00:00Z' AND time < '2025-03-30T22:00:00Z'")"
expect_equal "energy across both runs" "energy ok 87" "$(check_run energy --from 2025-03-27T15:00:00Z)"
expect_equal "the register across the DST day" "register ok 77" \
    "$(check_run register --anchor-time 2025-03-28T00:00:00Z --anchor-value 4321.125 | cut -d' ' -f1-3)"

echo "-- catch-up after 100 days: 4 pages with cursors"
catch_up_seed() {
    influx_write "$1" "kWh,entity_id=$meter,domain=input_number value=7000 $(time_ns 2025-02-20T00:00:00Z)
energy,entity_id=$meter,domain=sensor consumption=0.5 $(time_ns 2025-02-20T00:00:00Z)"
}
catch_up_scenario='{"now": "2025-06-01T12:00:00Z", "history_start": "2025-01-01T00:00:00Z"}'
case_setup catchup "  max_lookback_hours: 3000"
fake_scenario "$catch_up_scenario"
catch_up_seed catchup
tibber_run --now 2025-06-01T12:00:00Z
expect_run "the run succeeds" 0
expect_equal "lookback: 2436 hours since the newest points + 48, in 4 pages" "2484 4 true false 4" \
    "$(report_get '[r.lookback.hours, r.lookback.pages, r.lookback.catch_up, r.lookback.capped, r.requests.tibber].join(" ")')"
expect_equal "the pages: 744, 744, 744, 252 hours, each before the first hour of the last" \
    "first:744 page:744:ok page:744:ok page:252:ok" \
    "$(fake_requests | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        const hour = 3600000, out = [];
        let oldest = null; /* the first hour of the page before */
        for (const r of JSON.parse(s)) {
            let mark = "";
            if (r.kind === "first") {
                oldest = Date.parse("2025-06-01T12:00:00Z") - (r.last - 1) * hour;
            } else {
                const before = Date.parse(Buffer.from(r.before, "base64").toString());
                mark = before === oldest ? ":ok" : ":before-" + new Date(before).toISOString();
                oldest = before - r.last * hour;
            }
            out.push(r.kind + ":" + r.last + mark);
        }
        console.log(out.join(" ")); })')"
first_hour=$(report_get r.consumption.first_hour)
expect_equal "energy: every hour of the 4 pages (the old point of 2025-02-20 revised)" "energy ok 2483 1" \
    "$(check_run energy --from "$first_hour") $(report_get r.consumption.revised)"
expect_equal "the register: every hour after the anchor, once" "register ok 2435" \
    "$(check_run register --anchor-time 2025-02-20T00:00:00Z --anchor-value 7000 | cut -d' ' -f1-3)"
tibber_run --now 2025-06-01T12:00:00Z
expect_equal "a second run: back to 48 hours, 1 request, nothing written" "0 48 1 0" \
    "$run_status $(report_get '[r.lookback.hours, r.requests.tibber, r.summary.written].join(" ")')"

echo "-- catch-up capped by max_lookback_hours: no register across the gap"
case_setup capped
fake_scenario "$catch_up_scenario"
catch_up_seed capped
tibber_run --now 2025-06-01T12:00:00Z
expect_run "the run fails" 1
expect_equal "energy and prices written, no register point" "719 48 0 gap true register_gap" \
    "$(report_get '[r.written.energy, r.written.electricity_price, r.written.kWh, r.register.status, r.lookback.capped, r.error_kind].join(" ")')"
expect_contains "the error says what to do" "raise tibber.max_lookback_hours to 2484" "$(report_get r.error)"
expect_equal "only the seeded kWh reading is stored" "energy=720 kWh=1 electricity_price=48" "$(check_run count)"

echo "-- catch-up capped by the request budget"
case_setup budget "  max_lookback_hours: 87600"
fake_scenario '{"now": "2025-06-01T12:00:00Z", "history_start": "2021-06-01T00:00:00Z"}'
influx_write budget "kWh,entity_id=$meter,domain=input_number value=10 $(time_ns 2022-01-01T00:00:00Z)"
tibber_run --now 2025-06-01T12:00:00Z
expect_run "the run fails (the register cannot bridge the gap)" 1
expect_equal "30 pages of at most 744 hours: 22320 hours, 30 requests" "22320 30 30 true" \
    "$(report_get '[r.lookback.hours, r.lookback.pages, r.requests.tibber, r.lookback.capped].join(" ")')"
expect_equal "no request above 744 hours, none refused" "30 744 0" \
    "$(fake_requests | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        const r = JSON.parse(s); console.log(r.length, Math.max(...r.map(x => x.last)), r.filter(x => x.status !== 200).length); })')"

# Every page failing once with 503 before it answers: the retries draw on the same budget, which
# ends the run after 40 requests whatever is left.
fake_scenario '{"now": "2025-06-01T12:00:00Z", "history_start": "2021-06-01T00:00:00Z"}'
fake_post script "$(node -e 'const s = []; for (let i = 0; i < 30; i++) s.push({action: "answer", status: 503, body: "busy"}, {action: "real"});
    console.log(JSON.stringify(s))')"
tibber_run --now 2025-06-01T12:00:00Z
expect_equal "retries count against the budget: the run stops after 40 requests" "1 40 budget" \
    "$run_status $(fake_request_count) $(report_get r.error_kind)"
expect_contains "... saying so" "the run's budget of 40 requests to Tibber is spent" "$(report_get r.error)"

echo "-- errors"
case_setup errors
fake_scenario '{"now": "2025-01-15T10:20:00Z"}'
influx_write errors "kWh,entity_id=$meter,domain=input_number value=1 $(time_ns 2025-01-14T00:00:00Z)"
# expect_failure DESCRIPTION REQUESTS KIND ERROR_TEXT [RUN ARGS...]: the run fails, after REQUESTS
# requests to the fake, with KIND as the report's error_kind and ERROR_TEXT in its error and in the
# log's "tibber failed" line.
expect_failure() {
    local description=$1 requests=$2 kind=$3 text=$4
    shift 4
    fake_post clear '{}'
    tibber_run --now 2025-01-15T10:20:00Z "$@"
    expect_run "$description: exit status 1" 1
    expect_equal "$description: $requests request(s)" "$requests" "$(fake_request_count)"
    expect_equal "$description: error_kind" "$kind" "$(report_get r.error_kind)"
    expect_contains "$description: the report says why" "$text" "$(report_get r.error)"
    if grep '"msg":"tibber failed"' "$dir/run-$run_number.log" | grep -qF -- "$text"; then
        check_pass "$description: one log line says why"
    else
        check_fail "$description: one log line says why" "$(tail -n 3 "$dir/run-$run_number.log")"
    fi
}
fake_post script '[{"action": "answer", "status": 200, "body": {"errors": [{"message": "Something went wrong on our side", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}], "data": null}}]'
expect_failure "errors[] with HTTP 200" 1 graphql_error "Something went wrong on our side (code INTERNAL_SERVER_ERROR)"
fake_scenario '{"now": "2025-01-15T10:20:00Z", "token": "another-token"}'
expect_failure "401 UNAUTHENTICATED" 1 unauthenticated "put a valid TIBBER_API_TOKEN in $dir/secrets/tibber.env"
expect_contains "401: Tibber's message" "Tibber refused the token (HTTP 401: Context creation failed: invalid token)" \
    "$(report_get r.error)"
fake_scenario '{"now": "2025-01-15T10:20:00Z", "token": "another-token", "auth_status": 200}'
expect_failure "UNAUTHENTICATED with HTTP 200" 1 unauthenticated "(code UNAUTHENTICATED): put a valid TIBBER_API_TOKEN in $dir/secrets/tibber.env"
if grep -q test-token "$dir/batch.log" "$dir"/report-*.json; then
    check_fail "the token never appears in the log or the reports"
else
    check_pass "the token never appears in the log or the reports"
fi
fake_scenario '{"now": "2025-01-15T10:20:00Z"}'
fake_post script '[{"action": "answer", "status": 500, "body": {"errors": [{"message": "upstream timeout"}]}, "repeat": -1}]'
expect_failure "500 every time" 4 http "HTTP 500 from Tibber: upstream timeout (the last of several attempts)"
fake_post script '[{"action": "answer", "status": 200, "body": "<html><body>502 Bad Gateway</body></html>"}]'
expect_failure "garbage instead of JSON" 1 malformed "Tibber's answer is not JSON"
fake_post script '[{"action": "hang", "repeat": -1}]'
expect_failure "no answer at all" 4 transport "no complete answer from Tibber in time" --timeout 0.3
fake_post script '[{"action": "truncate", "repeat": -1}]'
expect_failure "answers cut short" 4 transport "Tibber's answer was cut short"
fake_post script '[{"action": "answer", "status": 429, "headers": {"Retry-After": "3600"}, "body": {"errors": [{"message": "Too many requests"}]}}]'
expect_failure "429 asking for an hour" 1 http "Tibber asks to wait 3600 s"
fake_scenario '{"now": "2025-01-15T10:20:00Z", "homes": "none"}'
expect_failure "an account without a home" 1 no_home "the Tibber account has no home"
fake_scenario '{"now": "2025-01-15T10:20:00Z", "homes": "no_subscription"}'
expect_failure "a home without a subscription" 1 no_subscription "has no current subscription"
expect_equal "failed runs wrote nothing" "energy=0 kWh=1 electricity_price=0" "$(check_run count)"

fake_scenario '{"now": "2025-01-15T10:20:00Z"}'
fake_post script '[{"action": "answer", "status": 429, "headers": {"Retry-After": "1"}, "body": {"errors": [{"message": "Too many requests"}]}}]'
tibber_run --now 2025-01-15T10:20:00Z
expect_equal "429 with Retry-After: 1: retried after it, then done" "0 2 true" \
    "$run_status $(fake_request_count) $([ "$run_ms" -ge 1000 ] && echo true || echo "false ($run_ms ms)")"
fake_post clear '{}'
fake_post script '[{"action": "answer", "status": 503, "body": "busy", "repeat": 2}]'
tibber_run --now 2025-01-15T10:20:00Z
expect_equal "503 twice: retried with backoff, then done" "0 3" "$run_status $(fake_request_count)"
fake_post clear '{}'
fake_post script '[{"action": "real", "delay_ms": 1500}]'
tibber_run --now 2025-01-15T10:20:00Z --timeout 1
expect_equal "an answer slower than --timeout: retried, then done" "0 2" "$run_status $(fake_request_count)"
fake_post clear '{}'
fake_post script '[{"action": "real", "delay_ms": 700}]'
tibber_run --now 2025-01-15T10:20:00Z
expect_equal "a slow answer within the timeout: done" "0 1" "$run_status $(fake_request_count)"
fake_post clear '{}'
fake_post script '[{"action": "truncate"}]'
tibber_run --now 2025-01-15T10:20:00Z
expect_equal "an answer cut short once: retried, then done" "0 2" "$run_status $(fake_request_count)"
fake_scenario '{"now": "2025-01-15T10:20:00Z", "homes": "two"}'
tibber_run --now 2025-01-15T10:20:00Z
expect_equal "two homes, the first without subscription: the second is used" \
    "0 96a14971-525a-4420-aae9-e5aedaa129ff" "$run_status $(report_get r.home_id)"
expect_equal "the successful runs wrote everything once" "energy ok 47" "$(check_run energy --from 2025-01-13T11:00:00Z)"
fake_scenario '{"now": "2025-01-15T10:20:00Z", "homes": "no_consumption"}'
tibber_run --now 2025-01-15T10:20:00Z
expect_equal "a home whose consumption is null: prices only, and a warning" "0 0 1" \
    "$run_status $(report_get r.summary.fetched) $(grep -c 'Tibber has no consumption for the home' "$dir/run-$run_number.log")"

sed -i 's/^  enabled: true$/  enabled: false/' "$dir/config.yaml"
tibber_run --now 2025-01-15T10:20:00Z
expect_run "tibber.enabled false: the run fails" 1
expect_contains "... saying what to set" "tibber.enabled is not true in $dir/config.yaml: set it to true" "$(report_get r.error)"
expect_equal "... a configuration error" configuration "$(report_get r.error_kind)"
expect_status "an unknown option is a usage error" 2 "$BIN_DIR/meter-batch" tibber --bogus
expect_contains "... with the usage" "usage: meter-batch [-c FILE] tibber" "$(cat "$work_dir/last.err")"
expect_status "--now must be a time" 2 "$BIN_DIR/meter-batch" tibber --now yesterday
expect_status "--help" 0 "$BIN_DIR/meter-batch" tibber --help

echo "-- two homes with a subscription: tibber.home_id"
# A heat pump's meter is a Tibber home of its own, and Tibber may list it first: its hours (1 kWh
# more each in the fake) must not be written as the household's.
home_id=96a14971-525a-4420-aae9-e5aedaa129ff
case_setup homes "  home_id: $home_id
  max_lookback_hours: 2000"
fake_scenario '{"now": "2025-01-15T10:20:00Z", "homes": "two_subscribed"}'
influx_write homes "kWh,entity_id=$meter,domain=input_number value=1000.5 $(time_ns 2024-12-01T00:00:00Z)"
tibber_run --now 2025-01-15T10:20:00Z
expect_equal "the home of tibber.home_id is used though listed second, on every page" \
    "0 $home_id 2 2" \
    "$run_status $(report_get '[r.home_id, r.lookback.pages, r.requests.tibber].join(" ")')"
expect_equal "... its hours are written" "energy ok 1138" \
    "$(check_run energy --from 2024-11-29T00:00:00Z)"
expect_equal "... and counted by the register" "register ok 1089" \
    "$(check_run register --anchor-time 2024-12-01T00:00:00Z --anchor-value 1000.5 | cut -d' ' -f1-3)"
sed -i "s/^  home_id: .*/  home_id: no-such-home/" "$dir/config.yaml"
tibber_run --now 2025-01-15T10:20:00Z
expect_equal "a tibber.home_id the account does not have: the run fails, naming the homes" \
    "1 no_home" "$run_status $(report_get r.error_kind)"
expect_contains "... saying which" \
    "tibber.home_id no-such-home is not a home of the Tibber account (its homes: 68e6938b-91a6-4199-a0d4-f24c22be87bb, $home_id)" \
    "$(report_get r.error)"
case_setup homes_first
fake_scenario '{"now": "2025-01-15T10:20:00Z", "homes": "two_subscribed"}'
tibber_run --now 2025-01-15T10:20:00Z
expect_equal "without tibber.home_id: the first subscribed home, and a warning to set it" \
    "0 68e6938b-91a6-4199-a0d4-f24c22be87bb 1" \
    "$run_status $(report_get r.home_id) $(grep -c '"level":"warning".*set tibber.home_id' "$dir/run-$run_number.log")"

echo "-- through a running relay"
case_setup relay
fake_scenario '{"now": "2025-01-15T10:20:00Z"}'
influx_write relay "kWh,entity_id=$meter,domain=input_number value=1000.5 $(time_ns 2025-01-14T00:00:00Z)"
if relay_start "$dir"; then
    tibber_run --relay --now 2025-01-15T10:20:00Z
    expect_equal "the points go through the relay" "0 relay:$relay_url relay 128" \
        "$run_status $(report_get '[r.destination, r.summary.written].join(" ")')"
    deadline=$((SECONDS + 30))
    until [ "$(check_run count)" = "energy=47 kWh=34 electricity_price=48" ] || [ "$SECONDS" -ge "$deadline" ]; do
        sleep 0.2
    done
    expect_equal "the relay delivered them to the raw bucket" "energy=47 kWh=34 electricity_price=48" \
        "$(check_run count)"
    expect_equal "... exactly" "energy ok 47 register ok 33" \
        "$(check_run energy --from 2025-01-13T11:00:00Z) $(check_run register --anchor-time 2025-01-14T00:00:00Z --anchor-value 1000.5 | cut -d' ' -f1-3)"
    # The relay's job runner starts the real meter-batch tibber (beside meter-relay, on the real
    # clock: catch-up capped at 720 hours, which still reach the fake's hours: the 672 energy
    # hours before the first run's 48 are new, the rest is stored) and keeps its report.
    http_request job -XPOST "$relay_url/api/v1/jobs/tibber"
    expect_equal "POST /api/v1/jobs/tibber starts a run" 202 "$http_code"
    deadline=$((SECONDS + 60))
    job=""
    while [ "$SECONDS" -lt "$deadline" ]; do
        job=$(curl -s "$relay_url/api/v1/jobs" | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
            const run = JSON.parse(s).runs[0]; console.log(run.status, run.trigger, run.report ? run.report.status : "none",
            run.report ? run.report.summary.written : "none", run.report ? run.report.lookback.hours : "none"); })')
        [[ "$job" == running* ]] || break
        sleep 0.2
    done
    expect_equal "the job ran meter-batch tibber and kept its report" \
        "succeeded manual succeeded 672 720" "$job"
    relay_stop
else
    check_fail "meter-relay starts"
fi

echo "-- InfluxDB 2.x (Flux), against the query stand-in, --dry-run"
node "$here/influxdb2_query_stub.mjs" >"$work_dir/stub.log" 2>&1 &
stub_pid=$!
stub_url=
for _ in $(seq 100); do
    stub_url=$(sed -n 's/^listening \(http:[^ ]*\)$/\1/p' "$work_dir/stub.log")
    [ -n "$stub_url" ] && break
    sleep 0.05
done
if [ -n "$stub_url" ]; then
    case_setup flux
    sed -i "s|^  url: $influxdb_url\$|  url: $stub_url\n  api: v2\n  org: home|" "$dir/config.yaml"
    printf 'INFLUX_TOKEN=flux-token\n' >"$dir/secrets/influxdb.env"
    chmod 600 "$dir/secrets/influxdb.env"
    fake_scenario '{"now": "2025-01-15T10:20:00Z"}'
    node "$repo/tests/tibber/flux_answers.mjs" "$fake_url" "$dir"
    curl -fsS -XPOST "$stub_url/_control/queue" --data-binary "[{\"body_file\": \"$dir/newest.csv\"},
        {\"body_file\": \"$dir/window.csv\"}]" >/dev/null
    tibber_run --now 2025-01-15T10:20:00Z --dry-run
    expect_run "the dry run succeeds" 0
    expect_equal "newest points and anchor read from the Flux answer" \
        "2025-01-15T08:00:00Z 2025-01-14T00:00:00Z 1000.5 33" \
        "$(report_get '[r.lookback.newest_energy, r.lookback.newest_register, r.register.anchor.value, r.register.points].join(" ")')"
    expect_equal "the stored hours and price compared: 2 and 1 unchanged, nothing written" \
        "2 45 1 47 0 dry-run: nothing written" \
        "$(report_get '[r.consumption.unchanged, r.consumption.new, r.prices.unchanged, r.prices.changed, r.summary.written, r.destination].join(" ")')"
    expect_equal "two Flux queries, the token as Token" "2 Token flux-token" \
        "$(curl -fsS "$stub_url/_control/requests" | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
            const r = JSON.parse(s); console.log(r.length, r[0].headers.authorization); })')"
    expect_contains "the window query spans the fetched hours and prices" \
        'range(start: time(v: 1736766000000000000), stop: time(v: 1737064800000000001))' \
        "$(curl -fsS "$stub_url/_control/requests" | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () =>
            console.log(JSON.parse(s)[1].body.query))')"
else
    check_fail "the InfluxDB 2 query stand-in starts" "$(cat "$work_dir/stub.log")"
fi

[ "$checks_failed" -eq 0 ] || tail -n 20 "$dir/batch.log"
finish
