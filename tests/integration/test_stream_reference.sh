#!/usr/bin/env bash
# Reference agreement through the relay (issue 5): each scenario of fixtures/reference, its
# readings as Home Assistant line protocol written to a fresh relay (stream on, UTC days) in time
# order, a few hundred lines per request; once the stream has applied them all, the relay stops
# and the processed points in its spool are compared with the reference's daily.csv and
# consumption.csv by stream_reference.mjs (what is compared, and the decrease exception, is
# described there). One check line per scenario, with the counts compared.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"

here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_DIR:-${NEBENKOSTEN_SHARED:-$here/../../../shared}}
lines_per_request=300
trap 'relay_stop; rm -rf "$work_dir"' EXIT

# scenario_replay NAME: writes the scenario through a fresh relay and leaves its spool dump in
# $work_dir/NAME/dump. Returns 1 (with a check line) when that fails.
scenario_replay() {
    local name=$1 dir=$work_dir/$1 counts request code rejected=0
    counts=$(node "$here/stream_readings.mjs" reference "$shared/fixtures/reference/$name" \
        "$dir/requests" "$lines_per_request") || {
        check_fail "$name: readings converted"
        return 1
    }
    local readings=${counts#* }
    relay_stream_config_write "$dir"
    relay_start "$dir" || {
        check_fail "$name: meter-relay starts"
        return 1
    }
    for request in "$dir"/requests/*.lp; do
        code=$(curl -s -o "$dir/answer" -w '%{http_code}' --data-binary "@$request" \
            "$relay_url/write?db=lampfi")
        [ "$code" = 204 ] || {
            rejected=$((rejected + 1))
            echo "       $(basename "$request"): $code $(head -c 300 "$dir/answer")"
        }
    done
    if ! relay_stream_wait "$readings"; then
        check_fail "$name: the stream applies all $readings readings" \
            "$(curl -s "$relay_url/metrics" | grep -E '^nebenkosten_stream_(backlog_records|readings_total) ')"
        relay_stop
        return 1
    fi
    relay_stop
    if [ "$rejected" -ne 0 ] || [ "$relay_exit_status" -ne 0 ]; then
        check_fail "$name: every write answered 204 ($rejected did not), relay exits 0 ($relay_exit_status)"
        return 1
    fi
    "$BIN_DIR/meter-relay" spool-dump "$dir/spool" >"$dir/dump" 2>"$dir/dump.err" || {
        check_fail "$name: spool-dump" "$(head -c 400 "$dir/dump.err")"
        return 1
    }
}

scenarios=0
covered=0
for scenario_dir in "$shared"/fixtures/reference/*/; do
    name=$(basename "$scenario_dir")
    [ -f "$scenario_dir/input/readings.csv" ] || continue
    scenarios=$((scenarios + 1))
    scenario_replay "$name" || continue
    if report=$(node "$here/stream_reference.mjs" "$scenario_dir" "$work_dir/$name/dump" \
        lampfi_processed); then
        check_pass "$name: ${report%%$'\n'*}"
    else
        mapfile -t problems <<<"$report"
        check_fail "$name: ${problems[0]}" "${problems[@]:1}"
    fi
    [[ "$report" == *" days=0 "* ]] || covered=$((covered + 1))
    rm -rf "${work_dir:?}/$name"
done
# Every fixture scenario with meters of <= 100 readings and days between them (all but the
# dense ones and the single readings) takes part.
if [ "$covered" -ge 10 ]; then check_pass "$covered of $scenarios scenarios had days to compare"; else
    check_fail "scenarios with days to compare" "expected at least 10 of $scenarios, got $covered"
fi
finish
