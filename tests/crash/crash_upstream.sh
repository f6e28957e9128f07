# shellcheck shell=bash
# Helpers for the crash tests with a real InfluxDB upstream (outage.sh, kill_upstream.sh); sourced
# after tests/integration/{lib,relay_helpers,servers,upstream_helpers}.sh and crash_helpers.sh.
#
#   crash_upstream_config DIR PORT [SPOOL_YAML]
#                           relay config listening on 127.0.0.1:PORT (fixed, so the writer's
#                           retries reach every restart) with InfluxDB ($influxdb_url) as the v1
#                           upstream "influxdb", retrying at most every second
#   crash_backlog_wait SECONDS
#                           waits until the relay reports backlog 0 for "influxdb"; one check
#   crash_influxdb_compare ACK_LOG
#                           every point in ACK_LOG (load_writer.mjs's "writer n" ids) is in
#                           InfluxDB's database crash: count and checksum per writer, the missing
#                           ids listed; one series per writer, none duplicated

crash_upstream_config() {
    local dir=$1 port=$2
    # A small free-space floor: the test must not depend on how full the machine's /tmp is.
    # shellcheck disable=SC2154 # set by influxdb_start
    relay_config_write "$dir" "    min_free_bytes: 32MiB${3:+
$3}
  upstreams:
    - name: influxdb
      url: $influxdb_url
      api: v1
      backoff_initial: 100ms
      backoff_max: 1s
      pause_retry: 1s
      request_timeout: 10s"
    sed -i "s/^  listen: 127.0.0.1:0$/  listen: 127.0.0.1:$port/" "$dir/config.yaml"
    expect_status "config with InfluxDB as upstream, listening on $port" 0 \
        "$BIN_DIR/meter-relay" check-config -c "$dir/config.yaml"
}

crash_backlog_wait() {
    local started=$SECONDS
    # shellcheck disable=SC2034 # read by eventually
    eventually_deadline=$((SECONDS + $1))
    eventually "backlog drained (records and bytes 0, state ok) within $1 s" "0 0 1" \
        metric_row influxdb backlog_records backlog_bytes state
    echo "  drain wait:             $((SECONDS - started)) s"
}

# The writer retries a request with the same ids until it is acknowledged, so each writer's
# acknowledged ids are 1..max; its timestamps are unique, so InfluxDB holds each id once however
# often it was re-sent, and count(n) = max, sum(n) = max(max+1)/2 prove that every one arrived.
crash_influxdb_compare() {
    local ack_log=$1 writer max distinct answer found found_total=0 acked_total=0 writers=0
    while read -r writer; do
        max=$(awk -v w="$writer" '$1 == w && $2 > m { m = $2 } END { print m + 0 }' "$ack_log")
        distinct=$(awk -v w="$writer" '$1 == w { print $2 }' "$ack_log" | sort -u | wc -l)
        expect_equal "writer $writer: acknowledged ids are 1..$max" "$max" "$distinct"
        answer=$(influxdb_query crash "SELECT count(n), sum(n) FROM crash WHERE writer = '$writer' AND n <= $max")
        answer=$(sed -n 's/.*"values":\[\[0,\([0-9]*\),\([0-9]*\)\]\].*/\1 \2/p' <<<"$answer")
        expect_equal "writer $writer: InfluxDB holds all $max acknowledged points (count, checksum)" \
            "$max $((max * (max + 1) / 2))" "${answer:-none}"
        found=${answer%% *}
        if [ "${found:-0}" != "$max" ]; then
            # shellcheck disable=SC2154 # set by lib.sh
            influxdb_query crash "SELECT n FROM crash WHERE writer = '$writer' AND n <= $max" |
                grep -o ',[0-9]*\]' | tr -d ',]' | sort >"$work_dir/influxdb.ids"
            echo "       first missing ids of writer $writer:" \
                "$(seq 1 "$max" | sort | comm -23 - "$work_dir/influxdb.ids" | sort -n | head -n 10 | tr '\n' ' ')"
        fi
        acked_total=$((acked_total + max))
        found_total=$((found_total + ${found:-0}))
        writers=$((writers + 1))
    done < <(cut -d' ' -f1 "$ack_log" | sort -un)
    echo "  points acknowledged:    $acked_total"
    echo "  of them in InfluxDB:    $found_total"
    if [ "$acked_total" -gt 0 ]; then check_pass "writer got acknowledgements"; else
        check_fail "writer got acknowledgements" "$(cat "$work_dir/writer.out" "$work_dir/writer.err")"
    fi
    expect_equal "one series per writer, no duplicates from re-sent batches" \
        "$(for writer in $(seq 1 "$writers"); do echo "crash,writer=$writer"; done | LC_ALL=C sort | tr '\n' ' ')" \
        "$(influxdb_query crash 'SHOW SERIES' | grep -o 'crash,writer=[0-9]*' | tr '\n' ' ')"
}
