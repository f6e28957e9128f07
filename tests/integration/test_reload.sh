#!/usr/bin/env bash
# SIGHUP: the relay reloads config.yaml and the secrets it names without dropping a connection;
# a broken file changes nothing; settings read only at start are reported as waiting for a
# restart; the log file is reopened (logrotate's move-then-signal).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/relay_helpers.sh"
source "$here/upstream_helpers.sh"
source "$here/../upstream/fault_upstream.sh"
trap 'relay_stop; fault_upstream_stop; rm -rf "$work_dir"' EXIT
unset RELAY_TOKENS RELAY_USERS

line='kWh,entity_id=haupt_strom value=1 1700000000000000000'

# write_status TOKEN: the status of one write with that token.
write_status() {
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token $1" \
        --data-binary "$line" "$relay_url/api/v2/write?org=o&bucket=b"
}

# log_wait PATTERN: waits (at most 5 s) for a relay log line matching PATTERN.
log_wait() {
    local attempt
    for attempt in $(seq 1 50); do
        grep -q "$1" "$relay_log" && return 0
        sleep 0.1
    done
    return 1
}

dir=$work_dir/reload
relay_config_write "$dir" "  auth: token"
printf 'RELAY_TOKENS=first-token\n' >"$dir/secrets/relay.env"
chmod 600 "$dir/secrets/relay.env"
if relay_start "$dir"; then
    expect_equal "the first token writes" 204 "$(write_status first-token)"
    expect_equal "the second token is unknown yet" 401 "$(write_status second-token)"

    printf 'RELAY_TOKENS=second-token\n' >"$dir/secrets/relay.env"
    kill -HUP "$relay_pid"
    log_wait '"msg":"configuration reloaded"' || check_fail "reload logged" "$(tail -n 5 "$relay_log")"
    expect_equal "after SIGHUP the new token writes" 204 "$(write_status second-token)"
    expect_equal "after SIGHUP the old token is refused" 401 "$(write_status first-token)"

    cp "$dir/config.yaml" "$dir/config.good"
    printf 'relay:\n  auth: sometimes\n' >"$dir/config.yaml"
    kill -HUP "$relay_pid"
    log_wait 'configuration reload failed' ||
        check_fail "a broken file is reported" "$(tail -n 5 "$relay_log")"
    expect_contains "the report names the file and line" "config.yaml:2:" \
        "$(grep 'configuration reload failed' "$relay_log")"
    expect_equal "a broken file changes nothing" 204 "$(write_status second-token)"
    # configuration_check FIELD: that field of /health's configuration check.
    configuration_check() {
        curl -s "$relay_url/health" | json_eval "d.checks.find((c) => c.name === 'configuration')?.$1"
    }
    expect_equal "/health warns of the failed reload" warn "$(configuration_check status)"
    expect_contains "... naming its error and that the previous configuration runs on" \
        "failed: $dir/config.yaml:2:" "$(configuration_check message)"
    expect_equal "/metrics: the last reload did not succeed" 0 \
        "$(relay_metric nebenkosten_config_last_reload_successful)"

    sed 's/listen: 127.0.0.1:0/listen: 127.0.0.1:1/' "$dir/config.good" >"$dir/config.yaml"
    kill -HUP "$relay_pid"
    log_wait '"key":"relay.listen"' ||
        check_fail "a changed listen address waits for a restart" "$(tail -n 5 "$relay_log")"
    expect_equal "still listening where it started" 204 "$(write_status second-token)"
    expect_equal "a good reload clears the warning" pass "$(configuration_check status)"
    expect_equal "/metrics: the last reload succeeded" 1 \
        "$(relay_metric nebenkosten_config_last_reload_successful)"

    # The spool takes its sync mode at start: /metrics shows the mode it runs, not the file's.
    sed 's|^    dir: spool$|    dir: spool\n    sync: none|' "$dir/config.good" >"$dir/config.yaml"
    kill -HUP "$relay_pid"
    log_wait '"key":"relay.spool.sync"' ||
        check_fail "a changed sync mode waits for a restart" "$(tail -n 5 "$relay_log")"
    expect_contains "/metrics shows the sync mode the spool runs" \
        'nebenkosten_spool_sync_mode{mode="always"} 1' "$(curl -s "$relay_url/metrics" | grep '^nebenkosten_spool_sync_mode')"
    expect_equal "... and so does /health" always \
        "$(curl -s "$relay_url/health" | json_eval "d.checks.find((c) => c.name === 'spool').sync")"

    # The logger takes its rotation settings at start too: a change is reported, not ignored.
    sed 's|^  format: json$|  format: json\n  max_bytes: 1MiB\n  backup_count: 3|' "$dir/config.good" \
        >"$dir/config.yaml"
    kill -HUP "$relay_pid"
    if log_wait '"key":"logging"'; then
        check_pass "changed log rotation settings wait for a restart"
    else
        check_fail "changed log rotation settings wait for a restart" "$(tail -n 3 "$relay_log")"
    fi
    # That file has the sync mode of the start again: nothing waits for a restart there now
    # (compared with the previous reload, it read as changed back and was reported again).
    expect_equal "a setting changed back to the running value is not reported" 1 \
        "$(grep -c '"key":"relay.spool.sync"' "$relay_log")"

    # The forwarder takes its upstreams at start: a changed list is reported, not half-applied.
    sed 's|^  auth: token$|  auth: token\n  upstreams:\n    - name: added\n      url: http://127.0.0.1:9|' \
        "$dir/config.good" >"$dir/config.yaml"
    kill -HUP "$relay_pid"
    log_wait '"key":"relay.upstreams"' ||
        check_fail "a changed upstream list waits for a restart" "$(tail -n 5 "$relay_log")"
    # So does a changed setting of an upstream.
    sed 's|^      url: http://127.0.0.1:9$|      url: http://127.0.0.1:9\n      batch_wait: 5s|' \
        "$dir/config.yaml" >"$dir/config.next"
    mv "$dir/config.next" "$dir/config.yaml"
    kill -HUP "$relay_pid"
    for _ in $(seq 1 50); do
        [ "$(grep -c '"key":"relay.upstreams"' "$relay_log")" -ge 2 ] && break
        sleep 0.1
    done
    expect_equal "a changed upstream setting waits for a restart" 2 \
        "$(grep -c '"key":"relay.upstreams"' "$relay_log")"

    relay_stop
    expect_equal "clean exit after reloads" 0 "$relay_exit_status"
else
    check_fail "relay starts"
fi

# /query asks the upstream the forwarder runs with: a reload that points the upstream elsewhere
# waits for the restart there too (it answered from the new URL with the new credentials).
dir=$work_dir/query
if fault_upstream_start "$dir/fake"; then
    relay_config_write "$dir"
    sed -i "s|^  url: http://127.0.0.1:9$|  url: $fault_upstream_url|" "$dir/config.yaml"
    if relay_start "$dir"; then
        query_answer() { curl -s "$relay_url/query?q=SHOW+MEASUREMENTS&db=d"; }
        expect_contains "/query reaches the upstream" "fault upstream: no route /query" \
            "$(query_answer)"
        sed -i "s|^  url: $fault_upstream_url$|  url: http://127.0.0.1:9|" "$dir/config.yaml"
        kill -HUP "$relay_pid"
        log_wait '"key":"relay.upstreams"' ||
            check_fail "a changed upstream URL waits for a restart" "$(tail -n 5 "$relay_log")"
        expect_contains "after the reload /query still asks the running upstream" \
            "fault upstream: no route /query" "$(query_answer)"
        relay_stop
    else
        check_fail "relay starts with the fake upstream"
    fi
    fault_upstream_stop
else
    check_fail "fault upstream starts"
fi

# The stream processor copies its reading rules, limits and seasonal patterns at start: a change
# to any of them is reported as waiting for a restart (a new meter's leak check or a new device's
# rule does not silently stay off after the reload).
dir=$work_dir/stream
relay_stream_config_write "$dir"
printf 'patterns:\n  strom:\n    monthly_percentages: [9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 8, 9]\n' \
    >"$dir/seasonal_patterns.yaml"
if relay_start "$dir"; then
    # stream_change KEY SED_EXPRESSION [FILE]: edits FILE (config.yaml), reloads, and expects KEY
    # reported as waiting for a restart.
    stream_change() {
        sed -i "$2" "$dir/${3:-config.yaml}"
        kill -HUP "$relay_pid"
        log_wait "\"key\":\"$1\"" ||
            check_fail "a changed $1 waits for a restart" "$(tail -n 3 "$relay_log")"
        [ "$(grep -c "\"key\":\"$1\"" "$relay_log")" = 1 ] && check_pass "a changed $1 waits for a restart"
    }
    stream_change stream.limits \
        's|^  enabled: true$|  enabled: true\n  limits:\n    wasser:\n      leak_check: true|'
    stream_change stream.default_limits \
        's|^  enabled: true$|  enabled: true\n  default_limits:\n    stuck_days: 5|'
    stream_change stream.readings \
        's|^  enabled: true$|  enabled: true\n  readings:\n    - measurement: "*"\n      tags: {domain: sensor}\n      id_tag: entity_id\n      field: value|'
    stream_change seasonal_patterns \
        's|^patterns:$|patterns:\n  wasser:\n    monthly_percentages: [8, 8, 8, 8, 8, 9, 9, 9, 8, 8, 8, 9]|' \
        seasonal_patterns.yaml
    relay_stop
    expect_equal "clean exit after the stream's reloads" 0 "$relay_exit_status"
else
    check_fail "relay starts with the stream"
fi

# Log reopen: the relay logs to a file, logrotate moves it away and sends SIGHUP.
dir=$work_dir/logfile
relay_config_write "$dir"
sed -i "s|  format: json|  format: json\n  file: $dir/relay-file.log|" "$dir/config.yaml"
relay_log_file=$dir/relay-file.log
"$BIN_DIR/meter-relay" run -c "$dir/config.yaml" 2>"$dir/stderr.log" &
file_pid=$!
for attempt in $(seq 1 50); do
    grep -q '"msg":"listening"' "$relay_log_file" 2>/dev/null && break
    sleep 0.1
done
mv "$relay_log_file" "$relay_log_file.1"
kill -HUP "$file_pid"
for attempt in $(seq 1 50); do
    grep -q 'configuration reloaded' "$relay_log_file" 2>/dev/null && break
    sleep 0.1
done
expect_contains "after SIGHUP the relay writes to a new log file" "configuration reloaded" \
    "$(cat "$relay_log_file" 2>/dev/null)"
kill -TERM "$file_pid"
wait "$file_pid"
expect_equal "clean exit" 0 "$?"

finish
