#!/usr/bin/env bash
# README.md's "Metrics" section names every family a running relay serves on /metrics (upstreams,
# spool, stream processor and jobs all on), and every family it names is served, so an operator
# building alerts or dashboards from the README finds each one and no name that does not exist.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; rm -rf "$work_dir"' EXIT

relay_stream_config_write "$work_dir/relay" "  upstreams:
    - name: local
      url: http://127.0.0.1:9"
if ! relay_start "$work_dir/relay"; then
    check_fail "the relay starts"
    finish
    exit
fi
curl -s -XPOST "$relay_url/write?db=lampfi&precision=s" \
    --data-binary 'kWh,entity_id=haupt_strom,domain=input_number value=12345.6 1732665600' >/dev/null
relay_stream_wait 1 || check_fail "the stream reads the reading"
metrics=$(curl -s "$relay_url/metrics")
served=$(sed -n 's/^# HELP \(nebenkosten_[a-z_]*\) .*/\1/p' <<<"$metrics" | sort -u)
expect_contains "/metrics serves the stream's families" "nebenkosten_stream_readings_total" "$served"
expect_contains "/metrics serves the jobs' families" "nebenkosten_job_running" "$served"

section=$(sed -n '/^## Metrics$/,/^## /p' "$REPO_DIR/README.md")
missing=""
for family in $served; do
    [[ "$section" == *"\`$family\`"* ]] || missing+=" $family"
done
expect_equal "README's Metrics section names every family /metrics serves" "" "$missing"

# jemalloc's families exist in the release build only (its allocator is not linked otherwise).
unknown=""
for family in $(grep -o '`nebenkosten_[a-z_]*`' <<<"$section" | tr -d '`' | sort -u); do
    case $family in nebenkosten_jemalloc_*) continue ;; esac
    grep -qx "$family" <<<"$served" || unknown+=" $family"
done
expect_equal "every family README's Metrics section names is served" "" "$unknown"
finish
