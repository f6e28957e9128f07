#!/usr/bin/env bash
# deploy/telegraf/telegraf.conf against the relay and a real InfluxDB 1.x. Telegraf is not in
# Debian 12, so the file is parsed with a real TOML parser (Python's tomllib), checked for what
# matters (both outputs at the relay, gzip on), and Telegraf's requests are reproduced from its
# output plugins' code with exactly the configured values:
#   outputs.influxdb:    POST /query with the form q=CREATE DATABASE "telegraf" (200 and a JSON
#                        body without "error", or Telegraf logs a warning), then
#                        POST /write?db=telegraf, Content-Encoding: gzip, 204 expected;
#   outputs.influxdb_v2: POST /api/v2/write?bucket=telegraf&org=home, Authorization: Token,
#                        Content-Encoding: gzip, 204 expected.
# The relay fans the CREATE DATABASE out to InfluxDB, and both writes arrive there.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/servers.sh"
unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; influxdb_stop; rm -rf "$work_dir"' EXIT

example=$REPO_DIR/deploy/telegraf/telegraf.conf
toml_json() { python3 -c 'import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], "rb"))))' "$1"; }
# The v2 output is commented out in the example (one output at a time); uncommented as a user would.
sed '/^# \[\[outputs.influxdb_v2\]\]/,/^$/ s/^# //' "$example" >"$work_dir/telegraf-v2.conf"
if ! v1=$(toml_json "$example" 2>&1) || ! v2=$(toml_json "$work_dir/telegraf-v2.conf" 2>&1); then
    check_fail "telegraf.conf is valid TOML (as it is, and with outputs.influxdb_v2 uncommented)" "$v1" "$v2"
    finish
    exit
fi
check_pass "telegraf.conf is valid TOML (as it is, and with outputs.influxdb_v2 uncommented)"
summary() { # JSON
    node -e 'const c = JSON.parse(process.argv[1]); const o = c.outputs;
        const f = (x) => x ? `${x.urls.join(",")} ${x.content_encoding} ${x.database ?? ""}${x.bucket ?? ""} ${x.organization ?? ""}`.trim() : "none";
        console.log(`influxdb=[${(o.influxdb || []).map(f)}] influxdb_v2=[${(o.influxdb_v2 || []).map(f)}] prometheus=${c.inputs.prometheus[0].urls} v${c.inputs.prometheus[0].metric_version}`)' "$1"
}
expect_equal "as shipped: outputs.influxdb at the relay, gzip; the relay's /metrics scraped" \
    "influxdb=[http://127.0.0.1:8087 gzip telegraf] influxdb_v2=[] prometheus=http://127.0.0.1:8087/metrics v2" "$(summary "$v1")"
expect_equal "uncommented: outputs.influxdb_v2 at the relay too, gzip, org and bucket" \
    "influxdb=[http://127.0.0.1:8087 gzip telegraf] influxdb_v2=[http://127.0.0.1:8087 gzip telegraf home] prometheus=http://127.0.0.1:8087/metrics v2" \
    "$(summary "$v2")"
value() { node -e 'const c = JSON.parse(process.argv[1]); console.log(eval("c." + process.argv[2]))' "$v2" "$1"; }
database=$(value 'outputs.influxdb[0].database')
bucket=$(value 'outputs.influxdb_v2[0].bucket')
org=$(value 'outputs.influxdb_v2[0].organization')
token=$(value 'outputs.influxdb_v2[0].token')
skip_creation=$(value 'outputs.influxdb[0].skip_database_creation')

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
dir=$work_dir/relay
relay_config_write "$dir" "  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      backoff_initial: 100ms
  query_upstream: influxdb"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
# The configured URL with the relay's test port in place of 8087.
url=$(value 'outputs.influxdb[0].urls[0]')
url=${url%:8087}:${relay_url##*:}
agent='Telegraf/1.30.0 Go/1.22.1'

# outputs.influxdb Connect(): CREATE DATABASE unless skip_database_creation.
expect_equal "skip_database_creation is false: Telegraf creates its database" false "$skip_creation"
http_request create -XPOST -H "User-Agent: $agent" -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-urlencode "q=CREATE DATABASE \"$database\"" "$url/query"
expect_equal "CREATE DATABASE: 200" 200 "$http_code"
if node -e 'const b = JSON.parse(process.argv[1]); process.exit(b.results && !b.results.some(r => r.error) ? 0 : 1)' "$http_body"; then
    check_pass "... with a JSON body without error (what Telegraf checks)"
else
    check_fail "... with a JSON body without error (what Telegraf checks)" "$http_body"
fi
databases=""
for _ in $(seq 1 50); do
    databases=$(influxdb_query "" 'SHOW DATABASES')
    [[ "$databases" == *"\"$database\""* ]] && break
    sleep 0.1
done
expect_contains "the relay passed CREATE DATABASE on to InfluxDB" "\"$database\"" "$databases"

now=$(($(date +%s) * 1000000000))
printf 'cpu,cpu=cpu-total,host=nas usage_idle=97.5,usage_system=1.25,usage_user=1.25 %s\nmem,host=nas available=3221225472i,used_percent=25.5 %s\n' \
    "$((now - 20000000000))" "$((now - 20000000000))" | gzip -c >"$work_dir/v1.lp.gz"
http_request v1 -XPOST -H "User-Agent: $agent" -H 'Content-Type: text/plain; charset=utf-8' \
    -H 'Content-Encoding: gzip' --data-binary "@$work_dir/v1.lp.gz" "$url/write?db=$database"
expect_equal "outputs.influxdb: gzip write answers 204" 204 "$http_code"

printf 'cpu,cpu=cpu-total,host=nas usage_idle=96.5,usage_system=2,usage_user=1.5 %s\n' \
    "$((now - 10000000000))" | gzip -c >"$work_dir/v2.lp.gz"
http_request v2 -XPOST -H "User-Agent: $agent" -H 'Content-Type: text/plain; charset=utf-8' \
    -H 'Content-Encoding: gzip' -H "Authorization: Token $token" --data-binary "@$work_dir/v2.lp.gz" \
    "$url/api/v2/write?bucket=$bucket&org=$org"
expect_equal "outputs.influxdb_v2: gzip write answers 204" 204 "$http_code"

stored=""
for _ in $(seq 1 100); do
    stored=$(influxdb_query "$database" 'SELECT usage_idle FROM cpu' |
        node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
            const r = JSON.parse(s).results[0]; console.log(r.series ? r.series[0].values.map(v => v[1]).join(" ") : "none"); })')
    [ "$stored" = "97.5 96.5" ] && break
    sleep 0.1
done
expect_equal "both writes reach InfluxDB's $database database (v2's bucket is the database)" "97.5 96.5" "$stored"
expect_equal "... and the integer field stays an integer" 3221225472 \
    "$(influxdb_query "$database" 'SELECT available FROM mem' |
        node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).results[0].series[0].values[0][1]))')"
relay_stop
expect_equal "the relay stops cleanly" 0 "$relay_exit_status"
finish
