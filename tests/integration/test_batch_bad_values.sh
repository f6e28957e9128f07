#!/usr/bin/env bash
# meter-batch reconcile with values in the raw bucket that are not numbers: a reading rule that
# names one measurement gets InfluxDB's strings and booleans back (a device that writes
# value="12.5"; Flux on v2 returns them too; a glob over several measurements makes InfluxDB 1.x
# keep only the floats); the batch leaves them out, and says so, naming the meter, how many and
# the first time, instead of dropping the meter's readings (or the whole meter) without a word.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/servers.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'influxdb_stop; rm -rf "$work_dir"' EXIT

if ! influxdb_start "$work_dir/influxdb"; then
    check_fail "influxd starts"
    finish
    exit
fi
for database in raw processed; do
    expect_status "influxdb: CREATE DATABASE $database" 0 influxdb_create_database "$database"
done

# "zahl" reads numbers; "text" only strings (in a measurement of its own, so InfluxDB keeps the
# type); "gemischt" numbers and one boolean in a later shard.
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'zaehler,entity_id=zahl value=10 1704067200000000000
zaehler,entity_id=zahl value=20 1706745600000000000
zaehler,entity_id=zahl value=30 1709251200000000000
zaehler,entity_id=gemischt value=1 1704067200000000000
zaehler,entity_id=gemischt value=2 1706745600000000000' "$influxdb_url/write?db=raw&precision=ns")
expect_equal "the numbers are written" 204 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'zaehler_text,entity_id=text value="12.5" 1704067200000000000
zaehler_text,entity_id=text value="13.5" 1706745600000000000' "$influxdb_url/write?db=raw&precision=ns")
expect_equal "the strings are written" 204 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'zaehler_bool,entity_id=gemischt value=true 1709251200000000000' \
    "$influxdb_url/write?db=raw&precision=ns")
expect_equal "the boolean is written" 204 "$code"

dir=$work_dir/batch
mkdir -p "$dir/secrets"
chmod 700 "$dir/secrets"
cat >"$dir/config.yaml" <<YAML
influxdb:
  url: $influxdb_url
  bucket_raw: raw
  bucket_processed: processed
secrets_dir: secrets
meters_config: meters.yaml
seasonal_patterns_config: seasonal_patterns.yaml
logging:
  level: info
  format: json
relay:
  spool:
    dir: spool
stream:
  enabled: false
  readings:
    - measurement: zaehler
      id_tag: entity_id
      field: value
    - measurement: zaehler_text
      id_tag: entity_id
      field: value
    - measurement: zaehler_bool
      id_tag: entity_id
      field: value
workflows:
  analytics:
    start_year: 2024
YAML
: >"$dir/meters.yaml"
: >"$dir/seasonal_patterns.yaml"
log=$work_dir/batch.log
batch() { "$BIN_DIR/meter-batch" "$@" 2>"$log"; }
expect_status "reconcile" 0 batch reconcile -c "$dir/config.yaml" --today 2024-03-31 --direct
warnings() {
    node -e 'for (const line of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) {
        if (!line.startsWith("{")) continue;
        const r = JSON.parse(line);
        if (r.level === "warning" && r.meter === process.argv[2])
            console.log(r.msg.split(" ").slice(0, 5).join(" "), r.values, r.first); }' "$log" "$1"
}
expect_equal "a meter with only strings is named, with their count and first time" \
    "values that are not numbers 2 2024-01-01T00:00:00Z" "$(warnings text)"
expect_equal "a meter with a boolean among numbers is named" \
    "values that are not numbers 1 2024-03-01T00:00:00Z" "$(warnings gemischt)"
expect_equal "a meter with numbers only is not" "" "$(warnings zahl)"
[ "$checks_failed" -eq 0 ] || grep -v "^warning" "$log" | tail -n 20
finish
