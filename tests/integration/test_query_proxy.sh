#!/usr/bin/env bash
# GET|POST /query statements the relay does not answer itself, passed through to the query
# upstream (spec/wire.md), and CREATE DATABASE repeated on the v1 upstreams:
#   against a real InfluxDB 1.x: GET and POST form, epoch=ns, chunked=true, gzip, HTTP/1.0, a bad
#     query (InfluxDB's 400 and X-Influxdb-Error), SHOW MEASUREMENTS, a multi-statement mix with
#     CREATE DATABASE, each answer byte-identical to asking InfluxDB directly; CREATE DATABASE via
#     the relay lands in InfluxDB; a 200k-point result streams byte-identically while the relay's
#     peak RSS stays bounded for a slow reader; clients hanging up mid-answer; InfluxDB stopped
#     -> 502 with a JSON error
#   against a fake upstream (node, records what it gets): the client's credentials, Accept and
#     Accept-Encoding and the raw query string and form body passed on unchanged, the upstream's
#     token when the client sends none (a v2 query upstream), a 403 to CREATE DATABASE logged as
#     a warning, no CREATE DATABASE to v2 upstreams, an upstream that stays silent -> 504
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/servers.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/upstream_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
fake_pid=""
trap 'relay_stop; influxdb_stop; fake_stop; rm -rf "$work_dir"' EXIT

# The fake query upstream: records every /query (method, raw query string, body, the headers the
# relay may pass on) and answers 403 to CREATE DATABASE, nothing at all to a q containing SLEEP,
# and a fixed result otherwise. GET /_requests returns the records. It exits when its parent does.
fake_start() {
    cat >"$work_dir/fake.mjs" <<'JS'
import { createServer } from 'node:http';
const records = [];
const passed = ['authorization', 'accept', 'accept-encoding', 'content-type', 'expect'];
const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const url = new URL(request.url, 'http://127.0.0.1');
    if (url.pathname === '/_requests') {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(records));
      return;
    }
    if (url.pathname !== '/query') {
      response.writeHead(url.pathname === '/ping' ? 204 : 404);
      response.end();
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(passed.filter((n) => n in request.headers).map((n) => [n, request.headers[n]]));
    records.push({ method: request.method, query: url.search, body, headers });
    const form = request.headers['content-type'] === 'application/x-www-form-urlencoded' ? new URLSearchParams(body) : null;
    const q = form?.get('q') ?? url.searchParams.get('q') ?? '';
    if (q.includes('SLEEP')) return;
    if (q.startsWith('CREATE DATABASE')) {
      response.writeHead(403, { 'Content-Type': 'application/json' });
      response.end('{"error":"requires admin privilege"}');
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json', 'X-Influxdb-Version': 'fake-1.0', 'X-Other': 'x' });
    response.end('{"results":[{"statement_id":0,"series":[{"name":"fake"}]}]}\n');
  });
});
const parent = process.ppid;
setInterval(() => process.ppid !== parent && process.exit(0), 500).unref();
process.on('SIGTERM', () => process.exit(0));
server.listen(0, '127.0.0.1', () => console.log(`listening http://127.0.0.1:${server.address().port}`));
JS
    node "$work_dir/fake.mjs" >"$work_dir/fake.log" 2>&1 &
    fake_pid=$!
    for _ in $(seq 1 100); do
        fake_url=$(sed -n 's/^listening \(http:.*\)$/\1/p' "$work_dir/fake.log")
        [ -n "$fake_url" ] && return 0
        sleep 0.1
    done
    cat "$work_dir/fake.log" >&2
    return 1
}

fake_stop() {
    [ -n "$fake_pid" ] || return 0
    kill -TERM "$fake_pid" 2>/dev/null
    wait "$fake_pid" 2>/dev/null
    fake_pid=""
}

# fake_last EXPRESSION: EXPRESSION over r, the fake's last record.
fake_last() { curl -s "$fake_url/_requests" | json_eval "((r) => $1)(d[d.length - 1])"; }
fake_count() { curl -s "$fake_url/_requests" | json_eval 'd.length'; }

# direct NAME CURL_ARGS...: the same request to InfluxDB itself, as http_request does for the relay.
direct() {
    local name=$1
    shift
    curl -s -o "$work_dir/$name.direct" -D "$work_dir/$name.direct_headers" "$@"
}

# header NAME FILE: the value of header NAME in a curl -D file (first one).
header() { tr -d '\r' <"$2" | sed -n "s/^$1: //Ip" | head -n 1; }

# relay_peak_kib: the relay's peak resident set since the last relay_peak_reset, in KiB.
relay_peak_kib() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$relay_pid/status"; }
relay_peak_reset() { echo 5 >"/proc/$relay_pid/clear_refs"; }

# log_line START TEXT: prints "yes" when a line of the relay's log contains START (e.g. the level
# and the start of the message) and TEXT.
log_line() { grep -F "$1" "$relay_log" | grep -qF "$2" && echo yes; }

# expect_same_file DESCRIPTION FILE EXPECTED_FILE
expect_same_file() {
    if cmp -s "$2" "$3"; then check_pass "$1"; else
        check_fail "$1" "$(stat -c %s "$2") bytes, expected $(stat -c %s "$3"): $(cmp "$2" "$3" 2>&1)"
    fi
}

influxdb_databases() { influxdb_query "" 'SHOW DATABASES' | json_eval 'd.results[0].series[0].values'; }

if ! influxdb_start "$work_dir/influxdb" || ! fake_start; then
    check_fail "InfluxDB and the fake upstream start"
    finish
    exit
fi

# ---- a relay whose query upstream is InfluxDB; the fake is a second v1 upstream ----
dir=$work_dir/relay
relay_config_write "$dir" "  upstreams:
    - name: local
      url: $influxdb_url
    - name: fake
      url: $fake_url
  query_upstream: local"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi

influxdb_create_database meters
curl -s -XPOST "$influxdb_url/write?db=meters" --data-binary $'power,meter=a value=1.5 1700000000000000000
power,meter=b value=2,note="x y" 1700000001000000000
gas,meter=c value=7i 1700000002000000000'

select_args=(--data-urlencode db=meters --data-urlencode epoch=ns
    --data-urlencode 'q=SELECT * FROM power')
http_request get -G "$relay_url/query" "${select_args[@]}"
direct get -G "$influxdb_url/query" "${select_args[@]}"
expect_equal "GET SELECT: 200" 200 "$http_code"
expect_equal "GET SELECT: InfluxDB's body" \
    '{"results":[{"statement_id":0,"series":[{"name":"power","columns":["time","meter","note","value"],"values":[[1700000000000000000,"a",null,1.5],[1700000001000000000,"b","x y",2]]}]}]}' \
    "$http_body"
expect_equal "GET SELECT: as asked directly" "$(cat "$work_dir/get.direct")" "$http_body"
expect_equal "GET SELECT: Content-Type" application/json "$(header Content-Type "$work_dir/get.headers")"
expect_equal "GET SELECT: InfluxDB's X-Influxdb-Version, not the relay's" \
    "$(header X-Influxdb-Version "$work_dir/get.direct_headers")" \
    "$(header X-Influxdb-Version "$work_dir/get.headers")"
expect_equal "GET SELECT: one X-Influxdb-Version" 1 "$(grep -ci '^X-Influxdb-Version:' "$work_dir/get.headers")"
expect_contains "GET SELECT: streamed (chunked)" "Transfer-Encoding: chunked" "$http_headers"

http_request post -XPOST "$relay_url/query" "${select_args[@]}"
expect_equal "POST form SELECT: 200" 200 "$http_code"
expect_equal "POST form SELECT: same body" "$(cat "$work_dir/get.direct")" "$http_body"

# Grafana's raw InfluxQL editor keeps the line breaks of a query written over several lines.
multiline_args=(--data-urlencode db=meters --data-urlencode epoch=ns
    --data-urlencode $'q=SELECT *\nFROM power')
http_request multiline_get -G "$relay_url/query" "${multiline_args[@]}"
expect_equal "GET SELECT over two lines: 200 and InfluxDB's body" \
    "200 $(cat "$work_dir/get.direct")" "$http_code $http_body"
http_request multiline_post -XPOST "$relay_url/query" "${multiline_args[@]}"
expect_equal "POST form SELECT over two lines: 200 and InfluxDB's body" \
    "200 $(cat "$work_dir/get.direct")" "$http_code $http_body"
http_request multiline_local -XPOST "$relay_url/query" --data-urlencode $'q=SHOW DATABASES;\nSHOW DATABASES'
expect_equal "SHOW DATABASES twice, over two lines: answered by the relay" \
    "200 [0,1]" "$http_code $(json_eval 'JSON.stringify(d.results.map((r) => r.statement_id))' <"$work_dir/multiline_local.body")"

chunked_args=(--data-urlencode db=meters --data-urlencode chunked=true --data-urlencode chunk_size=1
    --data-urlencode 'q=SELECT value FROM power')
http_request chunked -G "$relay_url/query" "${chunked_args[@]}"
direct chunked -G "$influxdb_url/query" "${chunked_args[@]}"
expect_equal "chunked=true: 200" 200 "$http_code"
expect_equal "chunked=true: two partial results, as asked directly" \
    $'{"results":[{"statement_id":0,"series":[{"name":"power","columns":["time","value"],"values":[["2023-11-14T22:13:20Z",1.5]],"partial":true}],"partial":true}]}\n{"results":[{"statement_id":0,"series":[{"name":"power","columns":["time","value"],"values":[["2023-11-14T22:13:21Z",2]]}]}]}' \
    "$http_body"
expect_same_file "chunked=true: byte-identical" "$work_dir/chunked.body" "$work_dir/chunked.direct"

bad_args=(--data-urlencode db=meters --data-urlencode 'q=SELEC * FROM power')
http_request bad -G "$relay_url/query" "${bad_args[@]}"
direct bad -G "$influxdb_url/query" "${bad_args[@]}"
expect_equal "bad query: InfluxDB's 400" 400 "$http_code"
expect_equal "bad query: InfluxDB's error" \
    '{"error":"error parsing query: found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1"}' \
    "$http_body"
expect_equal "bad query: X-Influxdb-Error passed on" \
    "$(header X-Influxdb-Error "$work_dir/bad.direct_headers")" "$(header X-Influxdb-Error "$work_dir/bad.headers")"

http_request measurements -G "$relay_url/query" --data-urlencode db=meters --data-urlencode 'q=SHOW MEASUREMENTS'
expect_equal "SHOW MEASUREMENTS: 200" 200 "$http_code"
expect_equal "SHOW MEASUREMENTS: InfluxDB's answer" \
    '{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["gas"],["power"]]}]}]}' \
    "$http_body"

curl -s -o "$work_dir/gzip.body" -D "$work_dir/gzip.headers" -H 'Accept-Encoding: gzip' \
    -G "$relay_url/query" --data-urlencode db=meters --data-urlencode 'q=SHOW MEASUREMENTS'
expect_equal "Accept-Encoding gzip: Content-Encoding passed back" gzip \
    "$(header Content-Encoding "$work_dir/gzip.headers")"
expect_equal "Accept-Encoding gzip: the gzipped answer" "$(cat "$work_dir/measurements.body")" \
    "$(gzip -dc "$work_dir/gzip.body")"

http_request http10 -0 -H 'Connection: keep-alive' -G "$relay_url/query" --data-urlencode db=meters \
    --data-urlencode 'q=SHOW MEASUREMENTS'
expect_equal "HTTP/1.0 keep-alive client: the whole answer, ended by closing" \
    "$(cat "$work_dir/measurements.body")" "$http_body"

# A mix with a statement the relay does not answer goes to InfluxDB as a whole.
http_request mix -XPOST "$relay_url/query" --data-urlencode db=meters \
    --data-urlencode 'q=CREATE DATABASE mixed; SHOW MEASUREMENTS'
expect_equal "CREATE DATABASE + SHOW MEASUREMENTS: 200" 200 "$http_code"
expect_equal "CREATE DATABASE + SHOW MEASUREMENTS: InfluxDB's two results" \
    '{"results":[{"statement_id":0},{"statement_id":1,"series":[{"name":"measurements","columns":["name"],"values":[["gas"],["power"]]}]}]}' \
    "$http_body"

# CREATE DATABASE alone: answered by the relay, repeated on both v1 upstreams.
http_request create -XPOST "$relay_url/query" --data-urlencode 'q=CREATE DATABASE "new \"one\""'
expect_equal "CREATE DATABASE: 200" 200 "$http_code"
expect_equal "CREATE DATABASE: the relay's answer" '{"results":[{"statement_id":0}]}' "$http_body"
eventually_deadline=$((SECONDS + 10))
eventually "CREATE DATABASE: created on InfluxDB (and the mix's too)" \
    '[["meters"],["mixed"],["new \"one\""]]' \
    influxdb_databases
eventually "CREATE DATABASE: InfluxDB's outcome logged" yes \
    log_line '"level":"info","msg":"database created on upstream"' '"upstream":"local"'
eventually "CREATE DATABASE: the fake's 403 logged as a warning" yes \
    log_line '"level":"warning","msg":"upstream refuses CREATE DATABASE' '"upstream":"fake"'
expect_equal "CREATE DATABASE: the fake got it as a POST form" \
    'POST q=CREATE+DATABASE+%22new+%5C%22one%5C%22%22' \
    "$(fake_last 'r.method + " " + r.body.replace(/%20/g, "+")')"

# ---- a large result: streamed, byte-identical, without holding it in memory ----
awk 'BEGIN { for (i = 0; i < 200000; i++)
    printf "reading,meter=m%d value=%d.%03d,count=%di,state=\"ok-%d\" %d000000000\n", i % 50, i, i % 1000, i, i % 7, 1700000000 + i }' \
    >"$work_dir/big.lp"
big_written=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$influxdb_url/write?db=meters" --data-binary @"$work_dir/big.lp")
expect_equal "200k points written to InfluxDB" 204 "$big_written"
big_args=(--data-urlencode db=meters --data-urlencode epoch=ns --data-urlencode 'q=SELECT * FROM reading')
direct big -G "$influxdb_url/query" "${big_args[@]}"
big_bytes=$(stat -c %s "$work_dir/big.direct")

http_request big_fast -G "$relay_url/query" "${big_args[@]}"
expect_same_file "200k points, fast reader: byte-identical" "$work_dir/big_fast.body" "$work_dir/big.direct"

# Clients hanging up in the middle of the answer cancel the transfer; the relay carries on.
for _ in 1 2 3; do
    curl -s -o /dev/null --limit-rate 200k -m 1 -G "$relay_url/query" "${big_args[@]}"
done
http_request after_hangups -G "$relay_url/query" "${select_args[@]}"
expect_equal "after three clients hung up mid-answer: the next query is answered" \
    "$(cat "$work_dir/get.direct")" "$http_body"

relay_stop
expect_equal "relay: exit status 0" 0 "$relay_exit_status"
expect_equal "relay: no sanitizer report" 0 "$(grep -c Sanitizer "$relay_log")"

# ---- the relay's memory while a slow client reads the large result ----
# ASan's quarantine keeps every freed chunk, so the peak RSS of a sanitizer build would follow the
# bytes passed through rather than what is held at once; this relay runs without it.
dir=$work_dir/relay_memory
relay_config_write "$dir" "  upstreams:
    - name: local
      url: $influxdb_url"
if ! ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0 relay_start "$dir"; then
    check_fail "meter-relay for the memory check starts"
    finish
    exit
fi
http_request warm_up -G "$relay_url/query" "${select_args[@]}"
# A reader at 4 MB/s: without backpressure the relay would hold most of the result.
relay_peak_reset
peak_before=$(relay_peak_kib)
http_request big_slow --limit-rate 4M -G "$relay_url/query" "${big_args[@]}"
peak_after=$(relay_peak_kib)
expect_same_file "200k points, slow reader: byte-identical ($big_bytes bytes)" \
    "$work_dir/big_slow.body" "$work_dir/big.direct"
peak_growth=$((peak_after - peak_before))
if [ "$big_bytes" -gt $((8 * 1024 * 1024)) ] && [ "$peak_growth" -lt 6144 ]; then
    check_pass "slow reader: peak RSS grew by $peak_growth KiB for a $((big_bytes / 1024)) KiB result"
else
    check_fail "slow reader: peak RSS grows by less than 6 MiB for a result over 8 MiB" \
        "grew by $peak_growth KiB (from $peak_before) for $((big_bytes / 1024)) KiB"
fi

# InfluxDB gone.
influxdb_stop
http_request down -G "$relay_url/query" "${select_args[@]}"
expect_equal "InfluxDB stopped: 502" 502 "$http_code"
expect_contains "InfluxDB stopped: JSON error naming the upstream" \
    '{"error":"query upstream local unreachable: Failed to connect to 127.0.0.1 port' "$http_body"
expect_equal "InfluxDB stopped: Content-Type" application/json "$(header Content-Type "$work_dir/down.headers")"
relay_stop
expect_equal "memory relay: exit status 0" 0 "$relay_exit_status"
expect_equal "memory relay: no sanitizer report" 0 "$(grep -c Sanitizer "$relay_log")"

# ---- a v2 query upstream (the fake) with a token; silence cut by request_timeout ----
dir=$work_dir/relay_v2
relay_config_write "$dir" "  upstreams:
    - name: cloud
      url: $fake_url
      api: v2
      org: home
      credentials: cloud.env
      request_timeout: 1s"
printf 'INFLUX_TOKEN=upstream-token\n' >"$dir/secrets/cloud.env"
chmod 600 "$dir/secrets/cloud.env"
if ! relay_start "$dir"; then
    check_fail "meter-relay with a v2 query upstream starts"
    finish
    exit
fi

http_request v2 -G "$relay_url/query" -H 'Accept: application/json' \
    --data-urlencode db=meters --data-urlencode 'q=SELECT "x" FROM y'
expect_equal "v2 upstream: its status" 200 "$http_code"
expect_equal "v2 upstream: its body" '{"results":[{"statement_id":0,"series":[{"name":"fake"}]}]}' "$http_body"
expect_equal "v2 upstream: its X-Influxdb-Version" fake-1.0 "$(header X-Influxdb-Version "$work_dir/v2.headers")"
expect_equal "v2 upstream: other headers stay behind" "" "$(header X-Other "$work_dir/v2.headers")"
expect_equal "no client credentials: the upstream's token, the raw query string, Accept" \
    'GET ?db=meters&q=SELECT+%22x%22+FROM+y {"authorization":"Token upstream-token","accept":"application/json"}' \
    "$(fake_last 'r.method + " " + r.query + " " + JSON.stringify(r.headers)')"

# From a web page (Origin: a browser's cross-site request): the relay's token stays home, or any
# page opened on the LAN could query the upstream with it.
http_request v2_origin -XPOST "$relay_url/query" -H 'Origin: https://evil.example' \
    --data-urlencode 'q=DROP DATABASE meters'
expect_equal "with Origin and no credentials: passed on without the relay's token" \
    'POST q=DROP+DATABASE+meters {"accept":"*/*","content-type":"application/x-www-form-urlencoded"}' \
    "$(fake_last 'r.method + " " + r.body + " " + JSON.stringify(r.headers)')"
http_request v2_origin_auth -G "$relay_url/query" -H 'Origin: https://grafana.example' \
    -H 'Authorization: Token client-token' --data-urlencode 'q=SHOW MEASUREMENTS'
expect_equal "with Origin and the client's own token: that token passed on" \
    '{"authorization":"Token client-token","accept":"*/*"}' "$(fake_last 'JSON.stringify(r.headers)')"

http_request v2_auth -G "$relay_url/query" -H 'Authorization: Token client-token' \
    -H 'Accept-Encoding: gzip' --data-urlencode 'q=SHOW RETENTION POLICIES ON meters'
expect_equal "client's Authorization and Accept-Encoding passed on unchanged" \
    '{"authorization":"Token client-token","accept":"*/*","accept-encoding":"gzip"}' \
    "$(fake_last 'JSON.stringify(r.headers)')"

http_request v2_up -G "$relay_url/query" --data-urlencode u=reader --data-urlencode p=secret \
    --data-urlencode 'q=SHOW MEASUREMENTS'
expect_equal "u/p in the query string: passed on, no token added" \
    '?u=reader&p=secret&q=SHOW+MEASUREMENTS {"accept":"*/*"}' \
    "$(fake_last 'r.query + " " + JSON.stringify(r.headers)')"

http_request v2_form -XPOST "$relay_url/query?db=meters" --data-urlencode u=reader \
    --data-urlencode p=secret --data-urlencode 'q=SHOW SERIES' --data-urlencode 'params={"a":1}'
expect_equal "POST form with u/p: body and query string passed on, no token added" \
    'POST ?db=meters u=reader&p=secret&q=SHOW+SERIES&params=%7B%22a%22%3A1%7D {"accept":"*/*","content-type":"application/x-www-form-urlencoded"}' \
    "$(fake_last 'r.method + " " + r.query + " " + r.body + " " + JSON.stringify(r.headers)')"

requests_before=$(fake_count)
http_request v2_create -XPOST "$relay_url/query" --data-urlencode 'q=CREATE DATABASE only_local'
expect_equal "CREATE DATABASE with only a v2 upstream: 200" 200 "$http_code"
sleep 0.5
expect_equal "CREATE DATABASE is not sent to a v2 upstream" "$requests_before" "$(fake_count)"

started=$SECONDS
http_request silent -G "$relay_url/query" --data-urlencode 'q=SELECT SLEEP FROM y'
expect_equal "silent upstream: 504 after request_timeout" 504 "$http_code"
expect_contains "silent upstream: JSON error" '{"error":"query upstream cloud timed out: ' "$http_body"
if [ $((SECONDS - started)) -le 5 ]; then check_pass "silent upstream: cut within 5 s"; else
    check_fail "silent upstream: cut within 5 s" "took $((SECONDS - started)) s"
fi

# A client that gives up before the answer starts: the late 504 goes nowhere, harmlessly.
curl -s -o /dev/null -m 0.3 -G "$relay_url/query" --data-urlencode 'q=SELECT SLEEP FROM y'
sleep 2
http_request v2_after -G "$relay_url/query" --data-urlencode 'q=SHOW MEASUREMENTS'
expect_equal "after a client gave up early: the next query is answered" 200 "$http_code"

relay_stop
expect_equal "v2 relay: exit status 0" 0 "$relay_exit_status"
expect_equal "v2 relay: no sanitizer report" 0 "$(grep -c Sanitizer "$relay_log")"
finish
