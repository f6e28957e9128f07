#!/usr/bin/env bash
# deploy/grafana against a real InfluxDB 1.x filled the way a household's is: the main fixture
# scenario's readings written through the relay as Home Assistant writes them (the stream
# processor emits daily values and events), the nightly `meter-batch reconcile` on top, and the
# relay's /metrics as Telegraf's inputs.prometheus (metric_version 2) writes it, scraped three
# times while writes come in. Then every InfluxQL query of the dashboard (panels, the $meter
# variable, the event annotation) runs as Grafana sends it, through the relay's /query
# pass-through with the provisioned datasources, and must return rows.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/servers.sh"

here=$(cd "$(dirname "$0")" && pwd)
grafana=$REPO_DIR/deploy/grafana
shared=${SHARED_DIR:-${NEBENKOSTEN_SHARED:-$REPO_DIR/../shared}}
scenario=$shared/fixtures/reference/main
unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; influxdb_stop; rm -rf "$work_dir"' EXIT

yaml_json() { python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$1"; }

# The provisioning files themselves: valid YAML/JSON, pointing at the relay's default address,
# with the databases the relay's example configuration and the Telegraf example use.
yaml_json "$grafana/provisioning/datasources/nebenkosten.yaml" >"$work_dir/datasources.json" ||
    check_fail "datasources YAML parses"
yaml_json "$grafana/provisioning/dashboards/nebenkosten.yaml" >"$work_dir/providers.json" ||
    check_fail "dashboard provider YAML parses"
summary=$(node -e '
    const fs = require("fs");
    const ds = JSON.parse(fs.readFileSync(process.argv[1])).datasources;
    const dashboard = JSON.parse(fs.readFileSync(process.argv[2]));
    const uids = new Set(ds.map((d) => d.uid));
    const used = new Set(dashboard.panels.filter((p) => p.type !== "row").flatMap((p) => p.targets.map((t) => (t.datasource ?? p.datasource).uid)));
    console.log(ds.map((d) => `${d.uid}:${d.type}:${d.url}:${d.jsonData.dbName}`).join(" "),
        [...used].every((u) => uids.has(u)) ? "panels-use-provisioned" : "unknown-datasource");
' "$work_dir/datasources.json" "$grafana/dashboards/nebenkosten.json" 2>&1)
expect_equal "datasources: the relay's /query, processed bucket and telegraf database" \
    "nebenkosten:influxdb:http://127.0.0.1:8087:lampfi_processed nebenkosten-telegraf:influxdb:http://127.0.0.1:8087:telegraf panels-use-provisioned" \
    "$summary"
processed_default=$("$BIN_DIR/meter-relay" check-config -c "$REPO_DIR/config/config.yaml" 2>/dev/null |
    sed -n "s/^  bucket_processed: *['\"]\{0,1\}\([^'\"]*\).*/\1/p" | head -n 1)
expect_equal "... lampfi_processed is the example configuration's processed bucket" lampfi_processed "$processed_default"
expect_contains "... telegraf is the Telegraf example's database" 'database = "telegraf"' \
    "$(cat "$REPO_DIR/deploy/telegraf/telegraf.conf")"
expect_contains "... and the Telegraf example scrapes the relay for the health row" \
    'urls = ["http://127.0.0.1:8087/metrics"]' "$(sed -n '/^\[\[inputs.prometheus\]\]/,/^$/p' "$REPO_DIR/deploy/telegraf/telegraf.conf")"

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
for database in lampfi lampfi_processed telegraf; do
    expect_status "influxdb: CREATE DATABASE $database" 0 influxdb_create_database "$database"
done

# The relay at a fixed free port (meter-batch finds it at relay.listen), stream on, forwarding to
# InfluxDB and passing /query to it.
relay_port=$(port_free_pick "${influxdb_url##*:}")
dir=$work_dir/relay
relay_config_write "$dir" "  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      backoff_initial: 100ms
      backoff_max: 1s
  query_upstream: influxdb" "  enabled: true
  checkpoint_interval: 1s"
sed -i "s|url: http://127.0.0.1:9|url: $influxdb_url|; s|listen: 127.0.0.1:0|listen: 127.0.0.1:$relay_port|" \
    "$dir/config.yaml"
printf 'workflows:\n  analytics:\n    start_year: 2020\nanalytics:\n  timezone: UTC\n' >>"$dir/config.yaml"
cp "$scenario/config/meters.yaml" "$scenario/config/seasonal_patterns.yaml" "$dir/"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi

# upstream_drained: waits (60 s) until InfluxDB has every record the relay acknowledged.
upstream_drained() {
    local deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        curl -s "$relay_url/metrics" | grep -q '^nebenkosten_upstream_backlog_records{upstream="influxdb"} 0$' &&
            return 0
        sleep 0.2
    done
    return 1
}

# Telegraf scraping the relay: /metrics in inputs.prometheus' shape, written like outputs.influxdb
# does (gzip, db=telegraf), at the given time.
scrape() { # TIMESTAMP_NS
    curl -s "$relay_url/metrics" |
        node "$here/telegraf_prometheus.mjs" "http://127.0.0.1:8087/metrics" telegraf-host "$1" |
        gzip -c >"$work_dir/scrape.lp.gz"
    curl -s -o /dev/null -w '%{http_code}' -H 'Content-Encoding: gzip' \
        -H 'Content-Type: text/plain; charset=utf-8' --data-binary "@$work_dir/scrape.lp.gz" \
        "$relay_url/write?db=telegraf"
}
now_ns=$(($(date +%s) * 1000000000))
expect_equal "scrape 1 written" 204 "$(scrape $((now_ns - 120000000000)))"

# The readings as Home Assistant writes them, 1000 lines a request, through the relay.
counts=$(node "$here/stream_readings.mjs" reference "$scenario" "$work_dir/requests" 1000)
written=0
for request in "$work_dir"/requests/*.lp; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "@$request" \
        "$relay_url/write?db=lampfi&precision=ns")
    [ "$code" = 204 ] && written=$((written + 1))
done
expect_equal "the scenario's readings written through the relay ($counts)" "${counts% *}" "$written"
expect_equal "scrape 2 written" 204 "$(scrape $((now_ns - 60000000000)))"
relay_stream_wait || check_fail "the stream processor reads every reading"
upstream_drained || check_fail "the relay delivers the readings and the stream's points"

expect_status "meter-batch reconcile (through the relay)" 0 "$BIN_DIR/meter-batch" reconcile \
    --compat reference -c "$dir/config.yaml" --today 2024-12-31
upstream_drained || check_fail "the relay delivers the reconciled points"
expect_equal "scrape 3 written" 204 "$(scrape "$now_ns")"
upstream_drained || check_fail "the relay delivers the scrapes"

# Every query, as Grafana sends it. Meter panels over the scenario's years, health panels over the
# last 10 minutes.
if node "$here/grafana_queries.mjs" "$grafana/dashboards/nebenkosten.json" "$work_dir/datasources.json" \
    "$relay_url" 1577836800000 1735689599000 $(((now_ns / 1000000) - 600000)) $(((now_ns / 1000000) + 1000)) \
    >"$work_dir/queries.out" 2>&1; then
    check_pass "every dashboard query returns rows through the relay's /query"
else
    check_fail "every dashboard query returns rows through the relay's /query"
fi
sed 's/^/       /' "$work_dir/queries.out"
queries=$(grep -c ' rows$' "$work_dir/queries.out")
[ "$queries" -ge 14 ] && check_pass "$queries queries checked" || check_fail "all queries checked" "only $queries"
relay_stop
expect_equal "the relay stops cleanly" 0 "$relay_exit_status"
finish
