# Helpers for tests that run meter-relay (sourced after lib.sh). The relay listens on a free
# 127.0.0.1 port it picks itself (listen port 0); the port is read from its "listening" log line.
#
#   relay_config_write DIR [EXTRA_RELAY_YAML] [STREAM_YAML]
#                                               writes DIR/config.yaml (spool in DIR/spool);
#                                               the stream processor is off unless STREAM_YAML
#                                               (indented YAML under stream:) says otherwise
#   relay_start DIR                             starts it, waits for /ping (under
#                                               $relay_base_path when set); sets relay_pid, relay_url
#   relay_stop                                  SIGTERM, waits; sets relay_exit_status
#   relay_stream_config_write DIR [EXTRA_RELAY_YAML] [STREAM_YAML]
#                                               relay_config_write with the stream processor on
#                                               (STREAM_YAML: more keys under stream:), UTC days
#   relay_stream_wait [READINGS]                waits up to $stream_wait_seconds (60) until the
#                                               stream has read every committed record (and applied
#                                               READINGS readings since the start); status 1 if not

# relay_config_write DIR [EXTRA] [STREAM]: EXTRA is indented YAML placed under relay: (e.g.
# "  auth: token"), STREAM the same under stream: (e.g. "  enabled: true"). Most tests keep the
# stream off: its derived records would show up in their spool dumps and upstreams.
relay_config_write() {
    local dir=$1 extra=${2:-} stream=${3:-  enabled: false}
    mkdir -p "$dir/secrets"
    chmod 700 "$dir/secrets"
    cat >"$dir/config.yaml" <<YAML
influxdb:
  url: http://127.0.0.1:9
secrets_dir: secrets
meters_config: meters.yaml
seasonal_patterns_config: seasonal_patterns.yaml
logging:
  level: info
  format: json
relay:
  listen: 127.0.0.1:0
  spool:
    dir: spool
$extra
stream:
$stream
YAML
    : >"$dir/meters.yaml"
    : >"$dir/seasonal_patterns.yaml"
}

relay_start() {
    local dir=$1
    relay_log=$dir/relay.log
    : >"$relay_log" # the background job creates it only once it runs; sed reads it at once
    "$BIN_DIR/meter-relay" run -c "$dir/config.yaml" 2>"$relay_log" &
    relay_pid=$!
    local port="" attempt
    # Up to 30 s: a sanitizer build starting while other tests' servers fsync can take seconds.
    for attempt in $(seq 1 300); do
        port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$relay_log" | head -n 1)
        [ -n "$port" ] && break
        kill -0 "$relay_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "meter-relay did not start:" >&2
        cat "$relay_log" >&2
        return 1
    fi
    relay_url=http://127.0.0.1:$port
    for attempt in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$relay_url${relay_base_path:-}/ping")" = 204 ] &&
            return 0
        sleep 0.1
    done
    echo "meter-relay does not answer /ping at $relay_url" >&2
    return 1
}

relay_stop() {
    relay_exit_status=none
    [ -n "${relay_pid:-}" ] || return 0
    kill -TERM "$relay_pid" 2>/dev/null
    wait "$relay_pid"
    relay_exit_status=$?
    relay_pid=
}

# http_request NAME CURL_ARGS...: runs curl; sets http_code, and the body and headers in
# $work_dir/NAME.body / NAME.headers (also as http_body, http_headers).
http_request() {
    local name=$1
    shift
    http_code=$(curl -s -o "$work_dir/$name.body" -D "$work_dir/$name.headers" -w '%{http_code}' "$@")
    http_body=$(cat "$work_dir/$name.body")
    http_headers=$(tr -d '\r' <"$work_dir/$name.headers")
}

relay_stream_config_write() {
    local dir=$1 extra=${2:-} stream=${3:-}
    relay_config_write "$dir" "$extra" "  enabled: true${stream:+
$stream}"
    printf 'analytics:\n  timezone: UTC\n' >>"$dir/config.yaml"
}

relay_stream_wait() {
    local readings=${1:-} deadline=$((SECONDS + ${stream_wait_seconds:-60})) metrics
    while :; do
        metrics=$(curl -s "$relay_url/metrics")
        if [[ "$metrics" == *$'\nnebenkosten_stream_backlog_records 0\n'* ]] &&
            { [ -z "$readings" ] ||
                [[ "$metrics" == *$'\nnebenkosten_stream_readings_total '"$readings"$'\n'* ]]; }; then
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}
