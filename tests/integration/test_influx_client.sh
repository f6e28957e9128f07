#!/usr/bin/env bash
# The blocking InfluxDB client meter-batch uses (relay/influx_client.h) and the history reader
# (batch/history.h), through the test program influx-client-driver
# (tests/integration/influx_client_driver.c):
# - a real InfluxDB 1.x: ~6000 points from influx_client_data.mjs (readings of 7 meters under
#   three reading rules, integer and float values, a meter across two measurements, rewritten
#   timestamps, a point two rules match, and points that must not count: another domain, no id
#   tag, no value field, strings, booleans) written with the client's batching writer (gzip, v1
#   /write), read back with batch_history_read (InfluxQL, chunked answers) and compared exactly,
#   every nanosecond and value; since_ns; the counts; a 25000-reading meter over several chunks;
#   a query long enough to go as POST; InfluxDB's own error texts for queries and writes
# - the same data written through a running meter-relay (its v1 /write), read back from InfluxDB
# - the requests on the wire and the retries (Retry-After, backoff, giving up, no retry on 4xx,
#   connection refused) against the fault-injecting fake tests/upstream/fault_upstream.mjs
# - the Flux path (and meter-batch's anomaly flag cleanup's /api/v2/delete) against
#   influxdb2_query_stub.mjs, a STAND-IN for InfluxDB 2.x (none can run
#   here): the queries sent, annotated CSV answers cut into small pieces, the error table, JSON
#   error bodies, a retried 503
#   DELIVERY_WAIT  seconds the relay gets to deliver everything (default 30)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/servers.sh"
source "$(dirname "$0")/upstream_helpers.sh"
source "$(dirname "$0")/../upstream/fault_upstream.sh"

here=$(cd "$(dirname "$0")" && pwd)
driver=$BIN_DIR/influx-client-driver
unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
stub_pid=
trap 'relay_stop; influxdb_stop; fault_upstream_stop; [ -n "$stub_pid" ] && kill "$stub_pid" 2>/dev/null; rm -rf "$work_dir"' EXIT
delivery_wait=${DELIVERY_WAIT:-30}

if [ ! -x "$driver" ]; then
    check_fail "influx-client-driver is built" "not found: $driver (make unit-tests builds it)"
    finish
    exit
fi

# client_config DIR URL [API] [BUCKET] [MORE_INFLUXDB_YAML]: DIR/config.yaml for the driver, with
# the three reading rules of influx_client_data.mjs; credentials in DIR/secrets/influxdb.env.
client_config() {
    local dir=$1 url=$2 api=${3:-v1} bucket=${4:-lampfi} more=${5:-}
    mkdir -p "$dir/secrets"
    chmod 700 "$dir/secrets"
    cat >"$dir/config.yaml" <<YAML
influxdb:
  url: $url
  api: $api
  bucket_raw: $bucket
  timeout: 10s
  retry_attempts: 2
$more
secrets_dir: secrets
meters_config: meters.yaml
seasonal_patterns_config: seasonal_patterns.yaml
logging:
  level: info
  format: json
stream:
  enabled: false
  readings:
    - tags: {domain: input_number}
    - measurement: "zähler_[ab]*"
      tags: {source: "it's \"ok\""}
      id_tag: meter id
      field: reading
    - measurement: status
      id_tag: entity_id
      field: text
YAML
    : >"$dir/meters.yaml"
    : >"$dir/seasonal_patterns.yaml"
}

# secrets DIR LINES: DIR/secrets/influxdb.env
secrets() {
    printf '%s\n' "$2" >"$1/secrets/influxdb.env"
    chmod 600 "$1/secrets/influxdb.env"
}

# history NAME DIR [SINCE]: runs the history reader; output in $work_dir/NAME.tsv, the counts line
# in history_counts, the exit status in history_status.
history() {
    local name=$1 dir=$2
    shift 2
    "$driver" -c "$dir/config.yaml" history "$@" >"$work_dir/$name.tsv" 2>"$work_dir/$name.err"
    history_status=$?
    history_counts=$(grep '^points=' "$work_dir/$name.err")
}

# compare DESCRIPTION EXPECTED ACTUAL: the readings are equal (node compares the values as numbers).
compare() {
    local result
    if result=$(node "$here/influx_client_data.mjs" compare "$2" "$3"); then
        check_pass "$1 ($result)"
    else
        check_fail "$1" "$result"
    fi
}

data=$work_dir/data
mkdir -p "$data"
if ! node "$here/influx_client_data.mjs" generate "$data"; then
    check_fail "influx_client_data.mjs generates the data"
    finish
    exit
fi
line_count=$(wc -l <"$data/lines.lp")
reading_count=$(wc -l <"$data/expected.tsv")
echo "  ($line_count points, $reading_count readings expected)"

echo "-- InfluxDB 1.x"
if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
for database in lampfi lampfi_relay lampfi_big; do
    expect_status "CREATE DATABASE $database" 0 influxdb_create_database "$database"
done

direct=$work_dir/direct
client_config "$direct" "$influxdb_url"
written=$("$driver" -c "$direct/config.yaml" write lampfi 500 <"$data/lines.lp" 2>"$work_dir/write.err")
expect_equal "write: every line in batches of 500, one request each" \
    "lines $line_count requests $(((line_count + 499) / 500))" \
    "$(sed 's/ bytes [0-9]*//' <<<"$written")"
expect_equal "write: InfluxDB logged one POST /write per batch" \
    "$(((line_count + 499) / 500))" \
    "$(grep -c 'POST /write?db=lampfi&precision=ns' "$work_dir/influxdb/http.log")"

history all "$direct"
expect_equal "history: exit status" 0 "$history_status"
compare "history: every reading, exact to the ns, as written" "$data/expected.tsv" "$work_dir/all.tsv"
expect_equal "history: counts (v1 leaves strings out of a field with numbers)" \
    "$(cat "$data/counts_v1.txt")" "$history_counts"
expect_contains "history: the HA rule's query as sent" \
    "\"query\":\"SELECT \\\"value\\\"::field FROM /.*/ WHERE \\\"domain\\\"::tag = 'input_number' GROUP BY \\\"entity_id\\\"\",\"points\":4005" \
    "$(cat "$work_dir/all.err")"
documents=$(curl -sG "$influxdb_url/query" --data-urlencode db=lampfi --data-urlencode chunked=true \
        --data-urlencode chunk_size=10000 \
        --data-urlencode "q=SELECT \"value\"::field FROM /.*/ WHERE \"domain\"::tag = 'input_number' GROUP BY \"entity_id\"" |
    grep -c '^{')
expect_equal "InfluxDB answers that query in one document per series (8)" 8 "$documents"

history since "$direct" "$(cat "$data/since.txt")"
expect_equal "history since: exit status" 0 "$history_status"
compare "history since: the readings from since_ns on" "$data/expected_since.tsv" "$work_dir/since.tsv"

# The first two readings of the meter with a quote and a space in its id, as InfluxQL rows: the
# tags as JSON, the time as RFC 3339 text to the ns, the value as cJSON prints it.
rows=$("$driver" -c "$direct/config.yaml" influxql lampfi \
    "SELECT \"value\" FROM \"W\" WHERE \"entity_id\" = 'o\\'brien küche' GROUP BY \"entity_id\" LIMIT 2" 2>&1)
expect_equal "influxql: rows with their series and RFC 3339 times" \
    "$(grep "^o'brien küche" "$data/expected.tsv" | head -n 2 | node -e '
for (const line of require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean)) {
  const [meter, t, value] = line.split("\t");
  const ns = BigInt(t), s = new Date(Number(ns / 1000000000n) * 1000).toISOString().slice(0, 19);
  const f = String(ns % 1000000000n).padStart(9, "0").replace(/0+$/, "");
  console.log(`W\t${JSON.stringify({ entity_id: meter })}\t[${JSON.stringify(f ? `${s}.${f}Z` : `${s}Z`)},${value}]`);
}')" "$rows"

# A query longer than a URL should be goes as a POST form.
condition="\"domain\" = 'input_number'"
for i in $(seq 1 150); do condition="$condition OR \"domain\" = 'unused_domain_$i'"; done
posts_before=$(grep -c 'POST /query' "$work_dir/influxdb/http.log")
long_rows=$("$driver" -c "$direct/config.yaml" influxql lampfi \
    "SELECT \"value\" FROM \"kWh\" WHERE \"entity_id\" = 'strom' AND ($condition)" | wc -l)
expect_equal "influxql: a 6 KiB query gives strom's kWh readings" \
    "$(grep -c '^strom	' "$data/expected.tsv")" "$((long_rows + 5))"
expect_equal "influxql: and went as POST" "$((posts_before + 1))" \
    "$(grep -c 'POST /query' "$work_dir/influxdb/http.log")"

expect_status "influxql: a missing database fails" 1 \
    "$driver" -c "$direct/config.yaml" influxql nope "SELECT * FROM x"
expect_contains "influxql: with InfluxDB's words" \
    "InfluxQL query \"SELECT * FROM x\" on $influxdb_url/query?db=nope: InfluxDB: database not found: nope" \
    "$(cat "$work_dir/last.err")"
expect_status "influxql: a syntax error fails" 1 \
    "$driver" -c "$direct/config.yaml" influxql lampfi "SELECT FROM"
expect_contains "influxql: with the status and InfluxDB's words" \
    "HTTP 400: error parsing query: found FROM, expected identifier" "$(cat "$work_dir/last.err")"
expect_status "write: a missing database fails" 1 \
    "$driver" -c "$direct/config.yaml" write nope <<<'x v=1'
expect_contains "write: with InfluxDB's words" \
    "POST $influxdb_url/write?db=nope&precision=ns: HTTP 404: database not found: \"nope\"" \
    "$(cat "$work_dir/last.err")"
expect_status "write: a bad line fails" 1 \
    "$driver" -c "$direct/config.yaml" write lampfi <<<'bad line'
expect_contains "write: with InfluxDB's reason, not retried" \
    "HTTP 400: unable to parse 'bad line': invalid field format" "$(cat "$work_dir/last.err")"
expect_equal "write: one request for it" "lines 0 bytes 0 requests 1" "$(cat "$work_dir/last.out")"

# 25000 readings of one meter: three chunks of 10000 rows.
big=$work_dir/big
client_config "$big" "$influxdb_url" v1 lampfi_big
node -e '
const fs = require("fs"), lines = [], expected = [];
for (let i = 0; i < 25000; i++) {
  const t = 1700000000000000000n + BigInt(i) * 60000000007n, value = `${i}.${String(i % 1000).padStart(3, "0")}`;
  lines.push(`kWh,domain=input_number,entity_id=big value=${value} ${t}`);
  expected.push(`big\t${t}\t${value}`);
}
fs.writeFileSync(process.argv[1], lines.join("\n") + "\n");
fs.writeFileSync(process.argv[2], expected.join("\n") + "\n");' "$work_dir/big.lp" "$work_dir/big_expected.tsv"
"$driver" -c "$big/config.yaml" write lampfi_big >/dev/null <"$work_dir/big.lp"
started=$(date +%s%N)
history big "$big"
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
compare "history: 25000 readings of one meter" "$work_dir/big_expected.tsv" "$work_dir/big.tsv"
echo "  (read 25000 readings in ${elapsed_ms} ms, process start included)"
chunks=$(curl -sG "$influxdb_url/query" --data-urlencode db=lampfi_big --data-urlencode chunked=true \
    --data-urlencode chunk_size=10000 --data-urlencode 'q=SELECT "value" FROM /.*/ GROUP BY "entity_id"' |
    grep -c '^{')
expect_equal "InfluxDB sends that meter in 3 chunks" 3 "$chunks"

echo "-- through meter-relay"
relay_dir=$work_dir/relay
relay_config_write "$relay_dir" "  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      backoff_initial: 100ms
      backoff_max: 1s
      pause_retry: 1s"
if relay_start "$relay_dir"; then
    via_relay=$work_dir/via_relay
    client_config "$via_relay" "$relay_url" v1 lampfi_relay
    written=$("$driver" -c "$via_relay/config.yaml" write lampfi_relay 1000 <"$data/lines.lp" 2>&1)
    expect_equal "relay: accepts every line" \
        "lines $line_count requests $(((line_count + 999) / 1000))" \
        "$(sed 's/ bytes [0-9]*//' <<<"$written")"
    relay_read=$work_dir/relay_read
    client_config "$relay_read" "$influxdb_url" v1 lampfi_relay
    deadline=$((SECONDS + delivery_wait))
    # Until every point is there: the readings and the counts (strings arrive in their own time).
    while :; do
        history relay "$relay_read"
        node "$here/influx_client_data.mjs" compare "$data/expected.tsv" "$work_dir/relay.tsv" \
            >/dev/null && [ "$history_counts" == "$(cat "$data/counts_v1.txt")" ] && break
        [ "$SECONDS" -lt "$deadline" ] || break
        sleep 0.5
    done
    compare "relay: what it delivered reads back as written" "$data/expected.tsv" "$work_dir/relay.tsv"
    expect_equal "relay: the same counts" "$(cat "$data/counts_v1.txt")" "$history_counts"
    relay_stop
else
    check_fail "meter-relay starts"
fi
influxdb_stop

echo "-- requests and retries (fault_upstream.mjs)"
if fault_upstream_start "$work_dir/fake"; then
    # requests_summary: one line per recorded request: status path query authorization
    # content-encoding expect body (decoded)
    requests_summary() {
        fault_upstream_requests | json_eval 'd.map((r) => [r.status, r.path, JSON.stringify(r.query),
            r.headers.authorization, r.headers["content-encoding"], r.headers.expect ?? "no-expect",
            JSON.stringify(r.body)].join(" ")).join("\n")'
    }
    # gaps_within MS...: the pauses between consecutive requests are the given ones (at least
    # MS - 50, less than MS + 400: a sanitizer build on a busy machine is slow to reconnect);
    # prints "ok" or the pauses.
    gaps_within() {
        fault_upstream_requests | json_eval "(() => {
            const want = [$(IFS=,; echo "$*")];
            const gaps = d.slice(1).map((r, i) => Math.round(r.time_ms - d[i].ended_ms));
            return gaps.length === want.length && gaps.every((g, i) => g >= want[i] - 50 && g < want[i] + 400)
                ? 'ok' : 'pauses ' + gaps.join(' ');
        })()"
    }
    lines=$'kWh,domain=input_number,entity_id=strom value=1 1700000000000000000\nkWh,domain=input_number,entity_id=strom value=2 1700000000000000001'
    fake=$work_dir/fake_v1
    client_config "$fake" "$fault_upstream_url"
    secrets "$fake" "INFLUX_TOKEN=t0k3n-v1"

    fault_upstream_clear >/dev/null
    fault_upstream_script '[{"status":503,"headers":{"Retry-After":"1"},"body":{"error":"overloaded"}},
        {"status":500,"body":{"error":"internal"}}]' >/dev/null
    expect_status "503 with Retry-After, then 500, then 204: written" 0 \
        "$driver" -c "$fake/config.yaml" write lampfi <<<"$lines"
    expect_equal "three requests counted" "lines 2 bytes $(printf '%s\n' "$lines" | wc -c) requests 3" \
        "$(cat "$work_dir/last.out")"
    body='"kWh,domain=input_number,entity_id=strom value=1 1700000000000000000\nkWh,domain=input_number,entity_id=strom value=2 1700000000000000001\n"'
    expect_equal "the same gzip request each time: v1 path, precision ns, token, no Expect" \
        "503 /write {\"db\":\"lampfi\",\"precision\":\"ns\"} Token t0k3n-v1 gzip no-expect $body
500 /write {\"db\":\"lampfi\",\"precision\":\"ns\"} Token t0k3n-v1 gzip no-expect $body
204 /write {\"db\":\"lampfi\",\"precision\":\"ns\"} Token t0k3n-v1 gzip no-expect $body" \
        "$(requests_summary)"
    expect_equal "waits: Retry-After 1 s, then the second backoff step (1 s)" ok "$(gaps_within 1000 1000)"
    expect_equal "each retry logged" 2 "$(grep -c '"msg":"InfluxDB request failed; retrying"' "$work_dir/last.err")"

    fault_upstream_clear >/dev/null
    fault_upstream_script '[{"status":503,"body":{"error":"overloaded"},"repeat":3}]' >/dev/null
    expect_status "503 three times with retry_attempts 2: fails" 1 \
        "$driver" -c "$fake/config.yaml" write lampfi <<<"$lines"
    expect_contains "saying so, with InfluxDB's words" \
        "POST $fault_upstream_url/write?db=lampfi&precision=ns: HTTP 503: overloaded (after 3 attempts)" \
        "$(cat "$work_dir/last.err")"
    expect_equal "backoff without Retry-After: 0.5 s, 1 s" ok "$(gaps_within 500 1000)"

    for status in 400 401 404 413; do
        fault_upstream_clear >/dev/null
        fault_upstream_script "[{\"status\":$status,\"body\":{\"error\":\"status $status\"}}]" >/dev/null
        expect_status "$status: fails" 1 "$driver" -c "$fake/config.yaml" write lampfi <<<"$lines"
        expect_equal "$status: not retried" 1 "$(fault_upstream_requests | json_eval 'd.length')"
    done
    expect_contains "413: InfluxDB's words" "HTTP 413: status 413" "$(cat "$work_dir/last.err")"
    fault_upstream_clear >/dev/null
    fault_upstream_script '[{"status":401,"body":{"error":"authorization failed"}}]' >/dev/null
    "$driver" -c "$fake/config.yaml" write lampfi <<<"$lines" 2>"$work_dir/denied.err" >/dev/null
    expect_contains "401: names what to check" \
        "HTTP 401: authorization failed (check INFLUX_TOKEN, or INFLUX_USERNAME and INFLUX_PASSWORD, in the secrets file influxdb.env)" \
        "$(cat "$work_dir/denied.err")"

    fake_basic=$work_dir/fake_basic
    client_config "$fake_basic" "$fault_upstream_url"
    secrets "$fake_basic" $'INFLUX_USERNAME=meter\nINFLUX_PASSWORD="p:ss w0rd"'
    fault_upstream_clear >/dev/null
    expect_status "v1 with user and password: written" 0 \
        "$driver" -c "$fake_basic/config.yaml" write lampfi <<<"$lines"
    expect_equal "as Basic auth" "Basic $(printf 'meter:p:ss w0rd' | base64)" \
        "$(fault_upstream_requests | json_eval 'd[0].headers.authorization')"

    fake_v2=$work_dir/fake_v2
    client_config "$fake_v2" "$fault_upstream_url" v2 lampfi "  org: my org"
    secrets "$fake_v2" "INFLUX_TOKEN=t0k3n-v2"
    fault_upstream_clear >/dev/null
    expect_status "v2: written" 0 "$driver" -c "$fake_v2/config.yaml" write lampfi <<<"$lines"
    expect_equal "v2: /api/v2/write with org, bucket, precision ns, token" \
        "204 /api/v2/write {\"org\":\"my org\",\"bucket\":\"lampfi\",\"precision\":\"ns\"} Token t0k3n-v2 gzip no-expect $body" \
        "$(requests_summary)"
    fault_upstream_stop
else
    check_fail "the fake upstream starts"
fi

closed=$work_dir/closed
client_config "$closed" "http://127.0.0.1:$(port_free_pick)"
started=$(date +%s%N)
expect_status "connection refused: fails" 1 "$driver" -c "$closed/config.yaml" write lampfi <<<'x v=1 1'
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
expect_contains "after 3 attempts" "(after 3 attempts)" "$(cat "$work_dir/last.err")"
if [ "$elapsed_ms" -ge 1500 ] && [ "$elapsed_ms" -lt 5000 ]; then
    check_pass "connection refused: retried after 0.5 s and 1 s ($elapsed_ms ms)"
else
    check_fail "connection refused: retried after 0.5 s and 1 s" "took $elapsed_ms ms"
fi

echo "-- Flux (influxdb2_query_stub.mjs: a stand-in, no InfluxDB 2.x runs here)"
node "$here/influxdb2_query_stub.mjs" >"$work_dir/stub.log" 2>&1 &
stub_pid=$!
stub_url=
for _ in $(seq 1 100); do
    stub_url=$(sed -n 's/^listening \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$work_dir/stub.log")
    [ -n "$stub_url" ] && break
    sleep 0.1
done
if [ -n "$stub_url" ]; then
    stub_queue() { curl -sS -f -XPOST --data-binary "$1" "$stub_url/_control/queue" >/dev/null; }
    stub_requests() { curl -sS -f "$stub_url/_control/requests"; }
    flux=$work_dir/flux
    client_config "$flux" "$stub_url" v2 lampfi "  org: my org"
    secrets "$flux" "INFLUX_TOKEN=t0k3n-v2"
    # The rules are queried last to first.
    stub_queue "[{\"body_file\":\"$data/flux_rule2.csv\"},{\"body_file\":\"$data/flux_rule1.csv\"},
        {\"body_file\":\"$data/flux_rule0.csv\"}]"
    history flux "$flux"
    expect_equal "flux history: exit status" 0 "$history_status"
    compare "flux history: every reading, from CSV cut into pieces of 1-61 bytes" \
        "$data/expected.tsv" "$work_dir/flux.tsv"
    expect_equal "flux history: counts (strings and booleans counted, rows without id filtered)" \
        "$(cat "$data/counts_v2.txt")" "$history_counts"
    expect_equal "flux: the HA rule's query" \
        'from(bucket: "lampfi")
  |> range(start: time(v: -9223372036854775806), stop: time(v: 9223372036854775806))
  |> filter(fn: (r) => r["domain"] == "input_number" and r._field == "value" and exists r["entity_id"])
  |> keep(columns: ["_time", "_value", "entity_id"])' \
        "$(stub_requests | json_eval 'd[2].body.query')"
    expect_equal "flux: rule B's filter, quoted" \
        'r._measurement =~ /^zähler_[ab].*$/ and r["source"] == "it'"'"'s \"ok\"" and r._field == "reading" and exists r["meter id"])' \
        "$(stub_requests | json_eval 'd[1].body.query.split("filter(fn: (r) => ")[1].split("\n")[0]')"
    expect_equal "flux: POST /api/v2/query?org=, JSON body with the annotations, CSV accepted, token" \
        '/api/v2/query {"org":"my org"} application/json application/csv Token t0k3n-v2 ["datatype","group","default"] true' \
        "$(stub_requests | json_eval '[d[0].path, JSON.stringify(d[0].query), d[0].headers["content-type"],
            d[0].headers.accept, d[0].headers.authorization, JSON.stringify(d[0].body.dialect.annotations),
            d[0].body.dialect.header].join(" ")')"

    # The error table after the first table's records (HTTP 200, as InfluxDB sends a late error).
    awk 'BEGIN { RS = "\r\n\r\n" } NR == 1 { printf "%s\r\n\r\n", $0 }' "$data/flux_rule0.csv" \
        >"$work_dir/error.csv"
    printf '%s' $'#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n' \
        $',"runtime error: query exceeded memory limit, aborted",\r\n\r\n' >>"$work_dir/error.csv"
    stub_queue "[{\"body_file\":\"$data/flux_rule2.csv\"},{\"body_file\":\"$data/flux_rule1.csv\"},
        {\"body_file\":\"$work_dir/error.csv\"}]"
    history flux_error "$flux"
    expect_equal "flux: an error table fails the read" 1 "$history_status"
    expect_contains "flux: the query named on one line" \
        'Flux query "from(bucket: "lampfi") |> range(start: time(v: -9223372036854775806), stop: time(v: 9223372036854775..." on' \
        "$(cat "$work_dir/flux_error.err")"
    expect_contains "flux: with InfluxDB's text (the error)" \
        "on $stub_url/api/v2/query?org=my%20org: InfluxDB: runtime error: query exceeded memory limit, aborted" \
        "$(cat "$work_dir/flux_error.err")"

    stub_queue '[{"status":400,"body":"{\"code\":\"invalid\",\"message\":\"compilation failed: error at @1:1-1:5: undefined identifier frum\"}"}]'
    expect_status "flux: a 400 fails" 1 "$driver" -c "$flux/config.yaml" flux 'frum(bucket: "x")'
    expect_contains "flux: with the message of InfluxDB's JSON" \
        "HTTP 400: compilation failed: error at @1:1-1:5: undefined identifier frum" \
        "$(cat "$work_dir/last.err")"

    docs=$'#group,false,false,true,true,false,false,true,true,true,true\r\n#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string,string\r\n#default,_result,,,,,,,,,\r\n,result,table,_start,_stop,_time,_value,_field,_measurement,host,region\r\n,,0,2022-12-31T05:41:24Z,2023-01-31T05:41:24.001Z,2023-01-01T00:00:00Z,15.43,mem,m,A,east\r\n\r\n#group,false,false,true,true,true,true,false,false,true,true\r\n#datatype,string,long,string,string,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,string,string,string\r\n#default,_result,,,,,,,,,\r\n,result,table,_field,_measurement,_start,_stop,_time,_value,host,region\r\n,,3,mem_level,m,2022-12-31T05:41:24Z,2023-01-31T05:41:24.001Z,2023-01-01T00:00:00Z,ok,A,east\r\n\r\n'
    stub_queue "[{\"status\":503,\"headers\":{\"Retry-After\":\"1\"},\"body\":\"{\\\"code\\\":\\\"unavailable\\\",\\\"message\\\":\\\"busy\\\"}\"},
        {\"body\":$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$docs"),\"piece\":7}]"
    requests_before=$(stub_requests | json_eval 'd.length')
    records=$("$driver" -c "$flux/config.yaml" flux 'from(bucket: "x") |> range(start: -1h)' 2>"$work_dir/docs.err")
    expect_equal "flux: 503 retried, then the documentation's two-block answer as records" \
        "0	result:string=_result	table:long=0	_start:dateTime:RFC3339=2022-12-31T05:41:24Z	_stop:dateTime:RFC3339=2023-01-31T05:41:24.001Z	_time:dateTime:RFC3339=2023-01-01T00:00:00Z	_value:double=15.43	_field:string=mem	_measurement:string=m	host:string=A	region:string=east
1	result:string=_result	table:long=3	_field:string=mem_level	_measurement:string=m	_start:dateTime:RFC3339=2022-12-31T05:41:24Z	_stop:dateTime:RFC3339=2023-01-31T05:41:24.001Z	_time:dateTime:RFC3339=2023-01-01T00:00:00Z	_value:string=ok	host:string=A	region:string=east" \
        "$records"
    expect_equal "flux: two requests for it" "$((requests_before + 2))" "$(stub_requests | json_eval 'd.length')"

    # meter-batch's removal of the anomaly flags a run no longer raises, on v2: the flags read with
    # Flux, the stale one (a judged day, not flagged) deleted with /api/v2/delete over that instant.
    flags=$'#datatype,string,long,dateTime:RFC3339,string\r\n#group,false,false,false,true\r\n#default,_result,,,\r\n,result,table,_time,meter_id\r\n,,0,2024-12-01T00:00:00Z,m\r\n,,0,2024-12-02T00:00:00Z,m\r\n,,0,2024-12-05T00:00:00Z,m\r\n,,1,2024-12-01T00:00:00Z,other\r\n\r\n'
    stub_queue "[{\"body\":$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$flags")}]"
    requests_before=$(stub_requests | json_eval 'd.length')
    deleted=$("$driver" -c "$flux/config.yaml" anomaly-cleanup m 1733011200000000000 \
        1733097600000000000 1733184000000000000 flagged 1733097600000000000 2>"$work_dir/cleanup.err")
    expect_equal "anomaly cleanup: one stale flag deleted" "deleted 1" "$deleted"
    expect_equal "anomaly cleanup: the flags' Flux query" \
        'from(bucket: "lampfi_processed")
  |> range(start: time(v: -9223372036854775806), stop: time(v: 9223372036854775806))
  |> filter(fn: (r) => r._measurement == "meter_anomaly" and r._field == "value")
  |> keep(columns: ["_time", "meter_id"])' \
        "$(stub_requests | json_eval "d[$requests_before].body.query")"
    expect_equal "anomaly cleanup: one POST /api/v2/delete for that meter and instant" \
        '1 /api/v2/delete {"org":"my org","bucket":"lampfi_processed"} Token t0k3n-v2 {"start":"2024-12-01T00:00:00.000000000Z","stop":"2024-12-01T00:00:00.000000000Z","predicate":"_measurement=\"meter_anomaly\" AND meter_id=\"m\""}' \
        "$(stub_requests | json_eval "[d.length - $requests_before - 1, d[$requests_before + 1].path,
            JSON.stringify(d[$requests_before + 1].query), d[$requests_before + 1].headers.authorization,
            JSON.stringify(d[$requests_before + 1].body)].join(' ')")"
    stub_queue '[{"status":400,"body":"{\"code\":\"invalid\",\"message\":\"bucket \\\"lampfi_processed\\\" not found\"}"}]'
    expect_status "anomaly cleanup: a failed read fails it" 1 "$driver" -c "$flux/config.yaml" \
        anomaly-cleanup m 1733011200000000000
    expect_contains "anomaly cleanup: with InfluxDB's words" 'bucket "lampfi_processed" not found' \
        "$(cat "$work_dir/last.err")"
else
    check_fail "the InfluxDB 2.x stand-in starts" "$(cat "$work_dir/stub.log")"
fi
kill "$stub_pid" 2>/dev/null
wait "$stub_pid" 2>/dev/null
stub_pid=

finish
