#!/usr/bin/env bash
# The HTTP ingest of meter-relay against the real binary: /write and /api/v2/write per
# spec/wire.md (status codes, JSON errors, headers, gzip, chunked, limits), auth, the status
# endpoints, SIGTERM, and that the acknowledged lines are in the spool afterwards.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD

dir=$work_dir/relay
relay_config_write "$dir" "  max_body_bytes: 1MiB"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
trap 'relay_stop; rm -rf "$work_dir"' EXIT

# Good writes, v1 and v2; the client's request id is echoed.
http_request v1 -XPOST "$relay_url/write?db=home&rp=autogen&precision=s" \
    -H 'X-Request-Id: test-request-1' --data-binary $'power,room=kitchen watts=12.5 1700000000\n'
expect_equal "v1 write: 204" 204 "$http_code"
expect_equal "v1 write: empty body" "" "$http_body"
expect_contains "X-Influxdb-Version" "X-Influxdb-Version: 1.8.10" "$http_headers"
expect_contains "X-Influxdb-Build" "X-Influxdb-Build: OSS" "$http_headers"
expect_contains "Request-Id echoes the client's" "Request-Id: test-request-1" "$http_headers"
expect_contains "X-Request-Id echoes the client's" "X-Request-Id: test-request-1" "$http_headers"

http_request v2 -XPOST "$relay_url/api/v2/write?org=home&bucket=lampfi/autogen&precision=ms" \
    -H 'Authorization: Token ignored' --data-binary 'power,room=hall watts=3i 1700000000123'
expect_equal "v2 write: 204" 204 "$http_code"
generated=$(sed -n 's/^X-Request-Id: //p' <<<"$http_headers")
expect_equal "a generated request id is a UUID" 36 "${#generated}"

# gzip and chunked bodies.
printf 'gas value=1.25 1700000001000000000\ngas value=1.5 1700000002000000000\n' | gzip -c >"$work_dir/body.gz"
http_request gzip -XPOST "$relay_url/write?db=home" -H 'Content-Encoding: gzip' \
    --data-binary @"$work_dir/body.gz"
expect_equal "gzip write: 204" 204 "$http_code"
printf 'water value=7 1700000003000000000\n' >"$work_dir/chunked.txt"
http_request chunked -XPOST "$relay_url/write?db=home" -H 'Transfer-Encoding: chunked' \
    --data-binary @"$work_dir/chunked.txt"
expect_equal "chunked write: 204" 204 "$http_code"

# Start-up probes: an empty body (spec/wire.md), and Home Assistant's, whose influxdb client
# writes an empty list of points as "\n" (test_deploy_homeassistant drives that client).
http_request empty -XPOST "$relay_url/write?db=home" --data-binary ''
expect_equal "empty body: 204" 204 "$http_code"
http_request newline -XPOST "$relay_url/write?db=home" --data-binary $'\n'
expect_equal "a body of one newline: 204" 204 "$http_code"

# Client errors: nothing is accepted.
http_request nodb -XPOST "$relay_url/write" --data-binary 'm v=1'
expect_equal "missing db: 400" 400 "$http_code"
expect_equal "missing db: JSON error" '{"error":"database is required"}' "$http_body"
expect_contains "errors are JSON" "Content-Type: application/json" "$http_headers"
# InfluxDB 1.x repeats every error but a 401 in X-Influxdb-Error; influxdb-java's reactive
# client and aioinflux build their exception from that header alone.
expect_contains "missing db: X-Influxdb-Error" "X-Influxdb-Error: database is required" "$http_headers"
http_request precision -XPOST "$relay_url/write?db=home&precision=fortnight" --data-binary 'm v=1'
expect_equal "bad precision: 400" 400 "$http_code"
expect_contains "bad precision: names it" 'invalid precision \"fortnight\"' "$http_body"
expect_contains "bad precision: X-Influxdb-Error" 'X-Influxdb-Error: invalid precision "fortnight"' "$http_headers"
http_request allbad -XPOST "$relay_url/write?db=home" --data-binary $'m v=\nm'
expect_equal "all lines bad: 400" 400 "$http_code"
expect_contains "all lines bad: parse message" "{\"error\":\"unable to parse 'm v=': " "$http_body"
http_request partial -XPOST "$relay_url/write?db=home" \
    --data-binary $'elec value=100 1700000004000000000\nelec value=oops 1700000005000000000\n'
expect_equal "partial write: 400" 400 "$http_code"
expect_contains "partial write: message" "partial write: unable to parse 'elec value=oops" "$http_body"
expect_contains "partial write: dropped count" 'dropped=1"}' "$http_body"
expect_contains "partial write: X-Influxdb-Error" "X-Influxdb-Error: partial write: unable to parse" "$http_headers"
http_request partial2 -XPOST "$relay_url/api/v2/write?bucket=b" \
    --data-binary $'elec value=1 1700000006000000000\nelec value=x\n'
expect_equal "v2 partial write: 400" 400 "$http_code"
expect_contains "v2 partial write: code invalid" '{"code":"invalid","message":"partial write: ' "$http_body"
expect_contains "v2 partial write: line" '"line":2}' "$http_body"
expect_contains "v2 partial write: X-Platform-Error-Code" "X-Platform-Error-Code: invalid" "$http_headers"
http_request nobucket -XPOST "$relay_url/api/v2/write?org=home" --data-binary 'm v=1'
expect_equal "v2 missing bucket: 404" 404 "$http_code"
expect_equal "v2 missing bucket: body" '{"code":"not found","message":"bucket not found"}' "$http_body"
# Query strings as InfluxDB (Go's url.ParseQuery) reads them: empty pieces are skipped, a key
# without "=" is empty.
http_request lenient1 -XPOST "$relay_url/write?db=home&&precision=s" --data-binary 'q v=1 1700000000'
expect_equal "a query with an empty piece: 204" 204 "$http_code"
http_request lenient2 -XPOST "$relay_url/write?db=home&verbose" --data-binary 'q v=2 1700000000000000000'
expect_equal "a query with a key without a value: 204" 204 "$http_code"
# A parameter that decodes to a NUL byte is refused: the decoded copy ended there, so
# db=home%00evil was spooled for database home. InfluxDB 1.6.7 answers 404 database not found:
# "home\x00evil" (no database name holds a NUL); nothing must reach another database.
http_request nul_db -XPOST "$relay_url/write?db=home%00evil" --data-binary 'nul v=1 1700000000000000000'
expect_equal "db with an encoded NUL: 400, nothing accepted" 400 "$http_code"
expect_equal "db with an encoded NUL: says why" \
    '{"error":"cannot parse the query string: a parameter holds a NUL byte (%00)"}' "$http_body"
http_request nul_bucket -XPOST "$relay_url/api/v2/write?bucket=home%00evil" \
    --data-binary 'nul v=2 1700000000000000000'
expect_equal "v2 bucket with an encoded NUL: 400, nothing accepted" 400 "$http_code"
# A v2 write refused before its headers are complete still gets a v2 error.
http_request v2_431 -XPOST "$relay_url/api/v2/write?bucket=b" \
    -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' a)" --data-binary 'q v=1'
expect_equal "v2 headers too large: 431" 431 "$http_code"
expect_contains "v2 headers too large: a v2 error body" '{"code":"invalid","message":' "$http_body"
expect_contains "v2 headers too large: X-Platform-Error-Code" "X-Platform-Error-Code: invalid" \
    "$http_headers"

# Every error answer is logged once, as a warning with route, status, reason, client address
# and request id; at most 10 such lines a second, the ones held back counted in the next line.
# log_lines PATTERN: the relay's log lines that contain PATTERN, waiting up to 5 s for one (the
# line is written just after the answer went out).
log_lines() {
    local attempt
    for attempt in $(seq 1 50); do
        grep -F -- "$1" "$relay_log" && return 0
        sleep 0.1
    done
    return 0
}
# The log keeps at most 10 error lines a second, and the refusals above may have used them up:
# the checks of single log lines start in a fresh second.
sleep 1.1
http_request logged -XPOST "$relay_url/write?db=home" -H 'X-Request-Id: bad-line-7' \
    --data-binary 'm value=oops 1'
logged=$(log_lines '"request_id":"bad-line-7"')
expect_equal "an error answer: one log line" 1 "$(grep -c . <<<"$logged")"
expect_contains "its log line: a warning with route and status" \
    '"level":"warning","msg":"request rejected","route":"/write","status":400,' "$logged"
expect_contains "its log line: the reason" "\"error\":\"unable to parse 'm value=oops 1': " "$logged"
expect_contains "its log line: the client" '"client":"127.0.0.1:' "$logged"
# A client's bytes that are not UTF-8 (here in the path) reach the log line; it must stay valid
# UTF-8 JSON (journalctl shows a line that is not only as "[blob data]", strict parsers refuse it).
python3 - "${relay_url#http://}" <<'PY'
import socket, sys
host, port = sys.argv[1].split(':')
with socket.create_connection((host, int(port))) as s:
    s.sendall(b'GET /nope\xff\xfe HTTP/1.1\r\nHost: relay\r\nX-Request-Id: not-utf8\r\n'
              b'Connection: close\r\n\r\n')
    while s.recv(4096):
        pass
PY
log_lines '"request_id":"not-utf8"' >/dev/null
logged=$(grep -aF '"request_id":"not-utf8"' "$relay_log") # -a: grep calls a non-UTF-8 file binary
expect_contains "a path that is not UTF-8: logged" '"status":404' "$logged"
expect_status "a path that is not UTF-8: the log line is UTF-8 JSON" 0 python3 -c '
import json, sys
json.loads(sys.argv[1].encode("utf-8", "surrogateescape").decode("utf-8"))' "$logged"
rejected_before=$(grep -c '"msg":"request rejected"' "$relay_log")
burst=()
for _ in $(seq 1 40); do burst+=("$relay_url/write"); done
curl -s -XPOST --data-binary 'm v=1' "${burst[@]}" >/dev/null
sleep 1.1
http_request after_burst -XPOST "$relay_url/write" -H 'X-Request-Id: after-burst' \
    --data-binary 'm v=1'
log_lines '"request_id":"after-burst"' >/dev/null
burst_lines=$(grep '"msg":"request rejected"' "$relay_log" | tail -n +$((rejected_before + 1)))
burst_logged=$(grep -c . <<<"$burst_lines")
burst_held_back=$(grep -o '"not_logged_before":[0-9]*' <<<"$burst_lines" | cut -d: -f2 |
    awk '{ sum += $1 } END { print sum + 0 }')
expect_equal "41 error answers: each logged or counted as held back" 41 \
    $((burst_logged + burst_held_back))
if [ "$burst_logged" -le 21 ]; then
    check_pass "41 error answers in about a second: at most 10 lines a second ($burst_logged)"
else
    check_fail "41 error answers in about a second: at most 10 lines a second ($burst_logged)"
fi

# Size limits: the raw body and the decoded gzip body (a bomb: 100 MiB of zeros ≈ 100 KiB).
head -c $((1024 * 1024 + 100)) /dev/zero | tr '\0' '#' >"$work_dir/large.txt"
http_request large -XPOST "$relay_url/write?db=home" --data-binary @"$work_dir/large.txt"
expect_equal "oversized body: 413" 413 "$http_code"
expect_equal "oversized body: JSON" '{"error":"Request Entity Too Large"}' "$http_body"
expect_contains "oversized body: X-Influxdb-Error" "X-Influxdb-Error: Request Entity Too Large" "$http_headers"
head -c $((100 * 1024 * 1024)) /dev/zero | gzip -c >"$work_dir/bomb.gz"
http_request bomb -XPOST "$relay_url/write?db=home" -H 'Content-Encoding: gzip' \
    --data-binary @"$work_dir/bomb.gz"
expect_equal "gzip bomb: 413" 413 "$http_code"
head -c 40 "$work_dir/body.gz" >"$work_dir/broken.gz"
http_request broken -XPOST "$relay_url/write?db=home" -H 'Content-Encoding: gzip' \
    --data-binary @"$work_dir/broken.gz"
expect_equal "broken gzip: 400" 400 "$http_code"
expect_contains "broken gzip: JSON" '{"error":"gzip body is truncated' "$http_body"

# Status endpoints, unknown paths, methods.
http_request ping "$relay_url/ping"
expect_equal "/ping: 204" 204 "$http_code"
http_request pinghead -I "$relay_url/ping"
expect_equal "HEAD /ping: 204" 204 "$http_code"
http_request verbose "$relay_url/ping?verbose=true"
expect_equal "/ping?verbose=true: 200" 200 "$http_code"
expect_equal "/ping?verbose=true: version" '{"version":"1.8.10"}' "$http_body"
http_request health "$relay_url/health"
expect_equal "/health: 200" 200 "$http_code"
expect_contains "/health: pass" '{"name":"influxdb","message":"ready for queries and writes","status":"pass","checks":[{"name":"spool","status":"pass"' "$http_body"
http_request ready "$relay_url/ready"
expect_equal "/ready: 200" 200 "$http_code"
expect_contains "/ready: status" '{"status":"ready","started":"' "$http_body"
http_request unknown "$relay_url/nowhere"
expect_equal "unknown path: 404" 404 "$http_code"
expect_equal "unknown path: JSON" '{"error":"not found"}' "$http_body"
http_request method "$relay_url/write?db=home"
expect_equal "GET /write: 405" 405 "$http_code"
# A tab or form feed in the request target (http-parser lets those two through; Go's net/http,
# InfluxDB's server, refuses them): 400, not a 502 that blames the query upstream, and no write
# to a database whose name holds one.
# raw_status REQUEST: sends REQUEST (Python bytes escapes) on a new connection, prints the status.
raw_status() {
    python3 - "${relay_url#http://}" "$1" <<'PY'
import socket, sys
host, port = sys.argv[1].split(':')
with socket.create_connection((host, int(port)), timeout=10) as s:
    s.sendall(sys.argv[2].encode().decode('unicode_escape').encode('latin-1'))
    print(s.recv(4096).split(b' ')[1].decode())
PY
}
expect_equal "a tab in a /query target: 400" 400 \
    "$(raw_status 'GET /query?q=SHOW\tMEASUREMENTS&db=home HTTP/1.1\r\nHost: relay\r\n\r\n')"
expect_equal "a form feed in a /write target: 400" 400 \
    "$(raw_status 'POST /write?db=ho\fme HTTP/1.1\r\nHost: relay\r\nContent-Length: 6\r\n\r\nm v=1\n')"
# CORS as InfluxDB answers it: a preflight gets 200, a request with an Origin gets it back.
http_request preflight -X OPTIONS -H 'Origin: http://grafana.example:3000' \
    -H 'Access-Control-Request-Method: POST' "$relay_url/query"
expect_equal "CORS preflight: 200" 200 "$http_code"
expect_contains "CORS preflight: the origin allowed" \
    "Access-Control-Allow-Origin: http://grafana.example:3000" "$http_headers"
expect_contains "CORS preflight: Authorization allowed" \
    "Access-Control-Allow-Headers: Accept, Accept-Encoding, Authorization," "$http_headers"
http_request cors_ping -H 'Origin: http://grafana.example:3000' "$relay_url/ping"
expect_equal "ping with an Origin: 204" 204 "$http_code"
expect_contains "ping with an Origin: allowed" \
    "Access-Control-Allow-Origin: http://grafana.example:3000" "$http_headers"
http_request no_origin "$relay_url/ping"
if grep -q 'Access-Control' <<<"$http_headers"; then
    check_fail "no Origin: no CORS headers" "$http_headers"
else
    check_pass "no Origin: no CORS headers"
fi

relay_stop
expect_equal "SIGTERM: exit status 0" 0 "$relay_exit_status"

# Durability: exactly the accepted lines are in the spool, timestamps in ns.
expected='power,room=kitchen watts=12.5 1700000000000000000
power,room=hall watts=3i 1700000000123000000
gas value=1.25 1700000001000000000
gas value=1.5 1700000002000000000
water value=7 1700000003000000000
elec value=100 1700000004000000000
elec value=1 1700000006000000000
q v=1 1700000000000000000
q v=2 1700000000000000000'
if [ -x "$BIN_DIR/meter-relay" ] && "$BIN_DIR/meter-relay" spool-dump --help >/dev/null 2>&1; then
    "$BIN_DIR/meter-relay" spool-dump "$dir/spool" >"$work_dir/dump.txt" 2>&1
    expect_equal "spool holds every acknowledged line" "$expected" "$(grep -v '^#' "$work_dir/dump.txt")"
    expect_contains "v1 routing kept" "db=home rp=autogen" "$(cat "$work_dir/dump.txt")"
    expect_contains "v2 bucket=db/rp routing" "db=lampfi rp=autogen bucket=lampfi/autogen org=home" \
        "$(cat "$work_dir/dump.txt")"
else
    echo "  skip spool-dump is not available"
fi

# Auth: token mode.
auth_dir=$work_dir/token
relay_config_write "$auth_dir" "  auth: token"
printf 'RELAY_TOKENS=s3cret-token,other\n' >"$auth_dir/secrets/relay.env"
chmod 600 "$auth_dir/secrets/relay.env"
if relay_start "$auth_dir"; then
    http_request t1 -XPOST "$relay_url/write?db=home" --data-binary 'm v=1'
    expect_equal "token auth: no credentials 401" 401 "$http_code"
    expect_contains "token auth: WWW-Authenticate" 'WWW-Authenticate: Basic realm="InfluxDB"' "$http_headers"
    expect_equal "token auth: a 401 has no X-Influxdb-Error (as InfluxDB 1.x)" "" \
        "$(grep -i '^X-Influxdb-Error' <<<"$http_headers")"
    http_request t2 -XPOST "$relay_url/write?db=home" -H 'Authorization: Token wrong' --data-binary 'm v=1'
    expect_equal "token auth: wrong token 401" 401 "$http_code"
    http_request t3 -XPOST "$relay_url/write?db=home" -H 'Authorization: Token s3cret-token' --data-binary 'm v=1'
    expect_equal "token auth: right token 204" 204 "$http_code"
    http_request t4 -XPOST "$relay_url/api/v2/write?bucket=b" -H 'Authorization: Bearer other' --data-binary 'm v=1'
    expect_equal "token auth: v2 Bearer 204" 204 "$http_code"
    http_request t5 -XPOST "$relay_url/api/v2/write?bucket=b" -H 'Authorization: Token nope' --data-binary 'm v=1'
    expect_equal "token auth: v2 wrong 401" 401 "$http_code"
    expect_equal "token auth: v2 body" '{"code":"unauthorized","message":"unauthorized access"}' "$http_body"
    http_request t6 -XPOST "$relay_url/write?db=home&u=any&p=s3cret-token" --data-binary 'm v=1'
    expect_equal "token auth: v1 p=token 204" 204 "$http_code"
    http_request t7 "$relay_url/ping"
    expect_equal "token auth: /ping needs none" 204 "$http_code"
    # Without credentials, a write that announces 32 MiB and sends nothing: refused at its headers.
    # Read first, its body would hold relay.max_inflight_bytes, and every other client's write
    # would wait until the read timeout cut it off (30 s), again at each reconnect.
    exec {hog}<>"/dev/tcp/127.0.0.1/${relay_url##*:}"
    printf 'POST /write?db=home HTTP/1.1\r\nHost: relay\r\nContent-Length: 33554432\r\n\r\n' >&"$hog"
    hog_status=""
    IFS= read -r -t 3 hog_status <&"$hog" || true
    expect_equal "token auth: an announced body without credentials is refused at once" \
        "HTTP/1.1 401 Unauthorized" "${hog_status%$'\r'}"
    start_ms=$(date +%s%3N)
    http_request t8 -m 10 -XPOST "$relay_url/write?db=home" -H 'Authorization: Token s3cret-token' \
        --data-binary 'm v=8'
    expect_equal "token auth: meanwhile a client with credentials gets 204 within 2 s" "204 yes" \
        "$http_code $([ $(($(date +%s%3N) - start_ms)) -lt 2000 ] && echo yes)"
    exec {hog}<&-
    relay_stop
    expect_equal "token relay: exit status 0" 0 "$relay_exit_status"
else
    check_fail "token relay starts"
fi

# Auth: basic mode.
basic_dir=$work_dir/basic
relay_config_write "$basic_dir" "  auth: basic"
printf 'RELAY_USERS=telegraf:pa:ss,ha:other\n' >"$basic_dir/secrets/relay.env"
chmod 600 "$basic_dir/secrets/relay.env"
if relay_start "$basic_dir"; then
    http_request b1 -XPOST "$relay_url/write?db=home&u=telegraf&p=pa:ss" --data-binary 'm v=1'
    expect_equal "basic auth: v1 u/p 204" 204 "$http_code"
    http_request b2 -XPOST "$relay_url/write?db=home&u=telegraf&p=wrong" --data-binary 'm v=1'
    expect_equal "basic auth: v1 wrong p 401" 401 "$http_code"
    http_request b3 -XPOST "$relay_url/write?db=home" -u 'ha:other' --data-binary 'm v=1'
    expect_equal "basic auth: Basic header 204" 204 "$http_code"
    http_request b4 -XPOST "$relay_url/write?db=home" -u 'ha:wrong' --data-binary 'm v=1'
    expect_equal "basic auth: wrong Basic 401" 401 "$http_code"
    http_request b5 -XPOST "$relay_url/write?db=home" -H 'Authorization: Token telegraf:pa:ss' --data-binary 'm v=1'
    expect_equal "basic auth: Token user:pass 204" 204 "$http_code"
    relay_stop
    expect_equal "basic relay: exit status 0" 0 "$relay_exit_status"
else
    check_fail "basic relay starts"
fi

# relay.base_path prefixes every route.
base_dir=$work_dir/base
relay_config_write "$base_dir" "  base_path: /influx"
relay_base_path=/influx
if relay_start "$base_dir"; then
    http_request p1 -XPOST "$relay_url/influx/write?db=home" --data-binary 'm v=1 1'
    expect_equal "base path: /influx/write 204" 204 "$http_code"
    http_request p2 -XPOST "$relay_url/write?db=home" --data-binary 'm v=1 1'
    expect_equal "base path: /write without it 404" 404 "$http_code"
    http_request p3 "$relay_url/influxping"
    expect_equal "base path: must end at a slash" 404 "$http_code"
    relay_stop
    expect_equal "base path relay: exit status 0" 0 "$relay_exit_status"
else
    check_fail "base path relay starts"
fi
relay_base_path=

# A bad configuration: check-config's errors, exit 1.
bad_dir=$work_dir/bad
relay_config_write "$bad_dir" "  max_body_bytes: lots"
expect_status "bad config: exit 1" 1 "$BIN_DIR/meter-relay" run -c "$bad_dir/config.yaml"
expect_contains "bad config: file:line:col" "$bad_dir/config.yaml:" "$(cat "$work_dir/last.err")"

finish
