#!/usr/bin/env bash
# GET|POST /query (CREATE DATABASE and SHOW DATABASES answered by the relay, the rest passed to
# the query upstream, here one that cannot be reached) and GET /metrics against the real
# meter-relay. The pass-through itself: test_query_proxy.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD

dir=$work_dir/relay
relay_config_write "$dir"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
trap 'relay_stop; rm -rf "$work_dir"' EXIT

# CREATE DATABASE via GET (bare name, WITH clause ignored) and via a POSTed form body.
http_request create_get -G "$relay_url/query" \
    --data-urlencode 'q=create database home_meters WITH DURATION 30d NAME "weekly"'
expect_equal "CREATE DATABASE via GET: 200" 200 "$http_code"
expect_equal "CREATE DATABASE via GET: body" '{"results":[{"statement_id":0}]}' "$http_body"
expect_contains "CREATE DATABASE: JSON" "Content-Type: application/json" "$http_headers"

http_request create_post -XPOST "$relay_url/query" --data-urlencode 'q=CREATE DATABASE "my db"'
expect_equal "CREATE DATABASE via POST form: 200" 200 "$http_code"
expect_equal "CREATE DATABASE via POST form: body" '{"results":[{"statement_id":0}]}' "$http_body"

# Creating a configured or an existing one again lists it once.
http_request create_again -XPOST "$relay_url/query?q=CREATE+DATABASE+lampfi"
expect_equal "CREATE DATABASE with q in the POST URL: 200" 200 "$http_code"

http_request show "$relay_url/query?q=SHOW%20DATABASES"
expect_equal "SHOW DATABASES: 200" 200 "$http_code"
expect_equal "SHOW DATABASES: configured buckets, then created ones" \
    '{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["lampfi"],["lampfi_processed"],["home_meters"],["my db"]]}]}]}' \
    "$http_body"

http_request two -XPOST "$relay_url/query" --data-urlencode 'q=CREATE DATABASE x; show databases;'
expect_equal "two statements: 200" 200 "$http_code"
expect_equal "two statements: one result each" \
    '{"results":[{"statement_id":0},{"statement_id":1,"series":[{"name":"databases","columns":["name"],"values":[["lampfi"],["lampfi_processed"],["home_meters"],["my db"],["x"]]}]}]}' \
    "$http_body"

# Names InfluxDB refuses are refused, as influxd 1.6.7 answers them: a database is a directory
# (meta.ValidName: no '/' or '\\', not "." or "..", printable characters only), so "invalid name" on
# the statement, or "not executed" when more statements follow (its executor stops there and sends
# that under the same statement id); an escape InfluxQL does not know is a parse error, and \n is a
# line break, not an 'n'. None of them is listed afterwards (nor sent to a v1 upstream, which
# would have created "aqb" and "tnz").
http_request bad_names -XPOST "$relay_url/query" --data-urlencode 'q=CREATE DATABASE "a/b"'
expect_equal "CREATE DATABASE with '/': InfluxDB's answer" \
    '200 {"results":[{"statement_id":0,"error":"invalid name"}]}' "$http_code $http_body"
for name in '"x\\y"' '".."' '"t\nz"' $'"tab\tx"' $'"nb\u00a0sp"' $'"c1\u0085x"'; do
    http_request bad_name -XPOST "$relay_url/query" --data-urlencode "q=CREATE DATABASE $name"
    expect_equal "CREATE DATABASE $name: InfluxDB's answer" \
        '200 {"results":[{"statement_id":0,"error":"invalid name"}]}' "$http_code $http_body"
done
http_request bad_then_good -XPOST "$relay_url/query" \
    --data-urlencode 'q=CREATE DATABASE "ok1"; CREATE DATABASE "x/y"; CREATE DATABASE "ok2"'
expect_equal "CREATE DATABASE: statements after an invalid name are not executed" \
    '200 {"results":[{"statement_id":0},{"statement_id":1,"error":"not executed"}]}' \
    "$http_code $http_body"
http_request bad_escape -XPOST "$relay_url/query" --data-urlencode 'q=CREATE DATABASE "a\qb"'
expect_equal "CREATE DATABASE with an escape InfluxQL does not know: 400" 400 "$http_code"
expect_contains "CREATE DATABASE with an unknown escape: says where" 'found \\qb\", expected' "$http_body"
http_request show_after "$relay_url/query?q=SHOW%20DATABASES"
expect_equal "SHOW DATABASES: no refused name listed, the one before the failing statement is" \
    '{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["lampfi"],["lampfi_processed"],["home_meters"],["my db"],["x"],["ok1"]]}]}]}' \
    "$http_body"

# Accept: application/csv or text/csv gets CSV, as InfluxDB 1.x answers (checked against influxd
# 1.6.7 and 1.8's response writer): a header per statement with series, a line per database, a
# blank line between statements, fields quoted as Go's encoding/csv quotes them; a CREATE
# DATABASE alone is an empty body.
http_request create_csv -H 'Accept: application/csv' -G "$relay_url/query" \
    --data-urlencode 'q=CREATE DATABASE "a,b"'
expect_equal "CREATE DATABASE with Accept: application/csv: 200, empty body" "200 0" \
    "$http_code $(wc -c <"$work_dir/create_csv.body")"
expect_contains "CREATE DATABASE: CSV" "Content-Type: application/csv" "$http_headers"
http_request show_csv -H 'Accept: application/csv' -G "$relay_url/query" \
    --data-urlencode 'q=SHOW DATABASES; CREATE DATABASE x; SHOW DATABASES'
databases_csv=$'databases,,lampfi\ndatabases,,lampfi_processed\ndatabases,,home_meters\ndatabases,,my db\ndatabases,,x\ndatabases,,ok1\ndatabases,,"a,b"\n'
expect_equal "SHOW DATABASES with Accept: application/csv: CSV as InfluxDB writes it" \
    "200 name,tags,name"$'\n'"${databases_csv}"$'\n'"name,tags,name"$'\n'"${databases_csv}." \
    "$http_code $(cat "$work_dir/show_csv.body"; echo .)"
expect_contains "SHOW DATABASES: Content-Type application/csv" "Content-Type: application/csv" \
    "$http_headers"
http_request show_text_csv -H 'Accept: application/json;q=0.5, text/csv' \
    "$relay_url/query?q=SHOW+DATABASES"
expect_equal "Accept preferring text/csv: text/csv" "200 name,tags,name" \
    "$http_code $(head -n 1 "$work_dir/show_text_csv.body")"
expect_contains "Accept preferring text/csv: Content-Type" "Content-Type: text/csv" "$http_headers"
http_request show_json -H 'Accept: application/json, application/csv' \
    "$relay_url/query?q=SHOW+DATABASES"
expect_contains "Accept preferring JSON: JSON" '{"results":[{"statement_id":0,"series":[' \
    "$http_body"

# Everything else goes to the query upstream: the default one at influxdb.url, where nothing
# listens.
http_request select -G "$relay_url/query" --data-urlencode 'q=SELECT * FROM power'
expect_equal "SELECT: 502" 502 "$http_code"
expect_contains "SELECT: says which upstream failed" \
    '{"error":"query upstream influxdb unreachable: Failed to connect to 127.0.0.1 port 9 ' "$http_body"

http_request missing "$relay_url/query"
expect_equal "missing q: 400" 400 "$http_code"
expect_equal "missing q: body" '{"error":"missing required parameter \"q\""}' "$http_body"

http_request bad_name -G "$relay_url/query" --data-urlencode 'q=CREATE DATABASE 1x'
expect_equal "CREATE DATABASE with a bad name: 400" 400 "$http_code"
expect_contains "bad name: what was found" 'found 1x, expected a database name' "$http_body"
# What was found is shown as the parse errors show names: a byte that is not UTF-8 as \xFF, so the
# error stays UTF-8 JSON (Python's json refuses it otherwise).
http_request bad_byte -XPOST "$relay_url/query?q=CREATE%20DATABASE%20a%22b%22%FF"
expect_equal "CREATE DATABASE with a byte that is not UTF-8: 400, UTF-8 JSON" \
    '400 error parsing query: found "b"\xFF, expected WITH or ; at char 18' \
    "$http_code $(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))["error"])' \
        "$work_dir/bad_byte.body" 2>&1 | tail -n 1)"

http_request put -XPUT "$relay_url/query?q=SHOW+DATABASES"
expect_equal "PUT /query: 405" 405 "$http_code"

# Metrics after two writes.
http_request w1 -XPOST "$relay_url/write?db=home" --data-binary $'power value=1 1700000000000000000\npower value=2 1700000001000000000\n'
expect_equal "write 1: 204" 204 "$http_code"
http_request w2 -XPOST "$relay_url/write?db=home" --data-binary 'gas value=3 1700000002000000000'
expect_equal "write 2: 204" 204 "$http_code"

http_request metrics "$relay_url/metrics"
expect_equal "/metrics: 200" 200 "$http_code"
expect_contains "/metrics: Prometheus content type" "Content-Type: text/plain; version=0.0.4" "$http_headers"
expect_contains "/metrics: writes counted by route and code" \
    'nebenkosten_http_requests_total{route="/write",code="204"} 2' "$http_body"
expect_contains "/metrics: queries counted" \
    'nebenkosten_http_requests_total{route="/query",code="502"} 1' "$http_body"
expect_contains "/metrics: lines accepted" $'\nnebenkosten_lines_accepted_total 3\n' "$http_body"
expect_contains "/metrics: committed sequence" $'\nnebenkosten_spool_committed_sequence 2\n' "$http_body"
expect_contains "/metrics: sync mode" 'nebenkosten_spool_sync_mode{mode="always"} 1' "$http_body"
expect_contains "/metrics: HELP and TYPE" \
    $'# HELP nebenkosten_spool_bytes Bytes of all spool segments.\n# TYPE nebenkosten_spool_bytes gauge' \
    "$http_body"
fsync_count=$(sed -n 's/^nebenkosten_spool_fsync_seconds_count //p' <<<"$http_body")
if [ -n "$fsync_count" ] && [ "$fsync_count" -ge 1 ]; then
    check_pass "/metrics: fsync histogram count >= 1 ($fsync_count)"
else
    check_fail "/metrics: fsync histogram count >= 1" "actual: '$fsync_count'"
fi
expect_contains "/metrics: commit size histogram" 'nebenkosten_spool_commit_records_bucket{le="+Inf"}' "$http_body"

relay_stop
expect_equal "relay: exit status 0" 0 "$relay_exit_status"

# Auth as for /write v1.
auth_dir=$work_dir/token
relay_config_write "$auth_dir" "  auth: token"
printf 'RELAY_TOKENS=s3cret-token\n' >"$auth_dir/secrets/relay.env"
chmod 600 "$auth_dir/secrets/relay.env"
if relay_start "$auth_dir"; then
    http_request a1 "$relay_url/query?q=SHOW+DATABASES"
    expect_equal "auth: no credentials 401" 401 "$http_code"
    expect_equal "auth: body" '{"error":"authorization failed"}' "$http_body"
    http_request a2 "$relay_url/query?q=SHOW+DATABASES" -H 'Authorization: Token s3cret-token'
    expect_equal "auth: Token 200" 200 "$http_code"
    http_request a3 -XPOST "$relay_url/query" --data-urlencode 'q=SHOW DATABASES' \
        --data-urlencode 'u=any' --data-urlencode 'p=s3cret-token'
    expect_equal "auth: u/p in the form body 200" 200 "$http_code"
    http_request a4 "$relay_url/query?q=SHOW+DATABASES" -u 'any:wrong'
    expect_equal "auth: wrong Basic 401" 401 "$http_code"
    # A client without credentials in its headers or URL that announces a large body (to /query,
    # where u and p may come in a form, or to any other route) and sends nothing: refused before
    # the body, at once. Read first, the body would hold relay.max_inflight_bytes, and every
    # other client's write would wait until the read timeout cut it off (30 s).
    for route in "query" "ping" "api/v1/jobs/reconcile" "nowhere"; do
        exec {hog}<>"/dev/tcp/127.0.0.1/${relay_url##*:}"
        printf 'POST /%s HTTP/1.1\r\nHost: relay\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 33554432\r\n\r\n' \
            "$route" >&"$hog"
        hog_status=""
        IFS= read -r -t 3 hog_status <&"$hog" || true
        expect_equal "auth: POST /$route announcing 32 MiB without credentials is refused at once" \
            "HTTP/1.1 413 Payload Too Large" "${hog_status%$'\r'}"
        exec {hog}<&-
    done
    exec {hog}<>"/dev/tcp/127.0.0.1/${relay_url##*:}"
    printf 'POST /query HTTP/1.1\r\nHost: relay\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 65536\r\n\r\n' >&"$hog"
    start_ms=$(date +%s%3N)
    http_request a5 -m 10 -XPOST "$relay_url/write?db=home" -H 'Authorization: Token s3cret-token' \
        --data-binary 'm v=5'
    expect_equal "auth: beside a small form body still arriving, a write with credentials gets 204 at once" \
        "204 yes" "$http_code $([ $(($(date +%s%3N) - start_ms)) -lt 2000 ] && echo yes)"
    exec {hog}<&-
    long_query="SHOW DATABASES$(printf '%*s' 100000 '')"
    http_request a6 -XPOST "$relay_url/query" -H 'Authorization: Token s3cret-token' \
        --data-urlencode "q=$long_query"
    expect_equal "auth: a form of 100 KB with the credentials in the header 200" 200 "$http_code"
    relay_stop
    expect_equal "token relay: exit status 0" 0 "$relay_exit_status"
else
    check_fail "token relay starts"
fi
finish
