#!/usr/bin/env bash
# `make run` / `make stop`: a local InfluxDB 1.x (Debian's influxd) with its data under var/, and
# meter-relay in front of it with the example configuration. Safe to run again: a server that is
# already up is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
var="$repo/var"
influx_dir="$var/influxdb"
pid_file="$influx_dir/influxd.pid"
relay_pid_file="$var/meter-relay.pid"
relay_log="$var/meter-relay.log"
bin="$repo/build/release/bin"

influx_port=8086
relay_port=8087

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

influx_answers() { # port: does an InfluxDB answer /ping there?
    curl -fsS -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/ping" 2>/dev/null | grep -q 204
}

influx_running() {
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

relay_running() {
    [ -f "$relay_pid_file" ] && kill -0 "$(cat "$relay_pid_file")" 2>/dev/null
}

stop() {
    if relay_running; then
        # SIGTERM: the relay stops accepting, syncs the spool and answers every waiting client.
        kill "$(cat "$relay_pid_file")"
        for _ in $(seq 100); do relay_running || break; sleep 0.1; done
        echo "stopped meter-relay (pid $(cat "$relay_pid_file"))"
    fi
    rm -f "$relay_pid_file"
    if influx_running; then
        kill "$(cat "$pid_file")"
        for _ in $(seq 50); do influx_running || break; sleep 0.1; done
        echo "stopped InfluxDB (pid $(cat "$pid_file"))"
    else
        echo "no InfluxDB started by make run is running"
    fi
    rm -f "$pid_file"
}

free_port_pick() {
    local port
    for port in $(seq 18086 18186); do
        port_is_free "$port" && port_is_free $((port + 1000)) && { echo "$port"; return; }
    done
    echo "run-local: no free port between 18086 and 18186" >&2
    exit 1
}

start_influxdb() {
    mkdir -p "$influx_dir"
    if influx_running; then
        influx_port=$(cat "$influx_dir/port")
        echo "InfluxDB already running (pid $(cat "$pid_file")) on 127.0.0.1:$influx_port"
        return
    fi
    if ! port_is_free 8086; then
        if influx_answers 8086; then
            # Most likely the system InfluxDB that Debian's package starts: use it, don't fight it.
            echo "an InfluxDB already answers on 127.0.0.1:8086; using it"
            influx_port=8086
            echo "$influx_port" >"$influx_dir/port"
            return
        fi
        influx_port=$(free_port_pick)
    fi
    local rpc_port=$((influx_port + 1000))
    cat >"$influx_dir/influxdb.conf" <<CONF
# Debian's influxd 1.6 reads reporting-enabled (it ignores the reporting-disabled of newer docs).
reporting-enabled = false
bind-address = "127.0.0.1:$rpc_port"
[meta]
  dir = "$influx_dir/meta"
[data]
  dir = "$influx_dir/data"
  wal-dir = "$influx_dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$influx_port"
  log-enabled = false
CONF
    echo "$influx_port" >"$influx_dir/port"
    nohup influxd -config "$influx_dir/influxdb.conf" >"$influx_dir/influxd.log" 2>&1 &
    echo $! >"$pid_file"
    for _ in $(seq 100); do
        influx_answers "$influx_port" && break
        influx_running || { echo "influxd exited; see $influx_dir/influxd.log" >&2; tail -5 "$influx_dir/influxd.log" >&2; exit 1; }
        sleep 0.1
    done
    influx_answers "$influx_port" || { echo "influxd did not answer within 10 s; see $influx_dir/influxd.log" >&2; exit 1; }
    echo "started InfluxDB $(influxd version | awk '{print $2}') on http://127.0.0.1:$influx_port (data in var/influxdb, log var/influxdb/influxd.log)"
}

# The example configuration, pointed at the InfluxDB above and with state under var/.
write_config() {
    local config="$var/config.yaml"
    sed -e "s#http://127.0.0.1:8086#http://127.0.0.1:$influx_port#g" \
        -e "s#listen: 127.0.0.1:8087#listen: 127.0.0.1:$relay_port#" \
        -e "s#^meters_config:.*#meters_config: $repo/config/meters.yaml#" \
        -e "s#^seasonal_patterns_config:.*#seasonal_patterns_config: $repo/config/seasonal_patterns.yaml#" \
        "$repo/config/config.yaml" >"$config"
    grep -q '^meters_config:' "$config" || echo "meters_config: $repo/config/meters.yaml" >>"$config"
    grep -q '^seasonal_patterns_config:' "$config" ||
        echo "seasonal_patterns_config: $repo/config/seasonal_patterns.yaml" >>"$config"
    grep -q '^secrets_dir:' "$config" || echo "secrets_dir: $repo/secrets" >>"$config"
    echo "$config"
}

start_relay() { # config listen
    local config=$1 listen=$2
    if relay_running; then
        echo "meter-relay already running (pid $(cat "$relay_pid_file")); \`make stop\` first to restart it"
        return
    fi
    nohup "$bin/meter-relay" run -c "$config" >>"$relay_log" 2>&1 &
    echo $! >"$relay_pid_file"
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$listen/ping")" = 204 ] && break
        relay_running || { echo "meter-relay exited; see var/meter-relay.log:" >&2; tail -5 "$relay_log" >&2; exit 1; }
        sleep 0.1
    done
    echo "started meter-relay on http://$listen (pid $(cat "$relay_pid_file"))"
}

start() {
    start_influxdb
    if ! relay_running && ! port_is_free "$relay_port"; then
        relay_port=$(free_port_pick)
        echo "port 8087 is taken; meter-relay will listen on $relay_port"
    fi
    local config
    config=$(write_config)
    echo "checking the configuration ($config):"
    if ! "$bin/meter-relay" check-config -c "$config" >"$var/check-config.out" 2>&1; then
        cat "$var/check-config.out" >&2
        echo "the configuration has errors (above); InfluxDB keeps running, \`make stop\` stops it" >&2
        exit 1
    fi
    echo "  configuration ok (effective configuration: var/check-config.out)"
    local listen database
    listen=$(sed -n "s/^  listen: *['\"]\{0,1\}\([^'\"]*\).*/\1/p" "$var/check-config.out" | head -n 1)
    # The raw and processed databases the configuration names, so writes work at once.
    for key in bucket_raw bucket_processed; do
        database=$(sed -n "s/^  $key: *['\"]\{0,1\}\([^'\"]*\).*/\1/p" "$var/check-config.out" | head -n 1)
        [ -n "$database" ] || continue
        curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$influx_port/query" \
            --data-urlencode "q=CREATE DATABASE \"$database\"" &&
            echo "  database $database ready"
    done
    start_relay "$config" "${listen:-127.0.0.1:8087}"
    echo
    echo "InfluxDB:    http://127.0.0.1:$influx_port"
    echo "meter-relay: http://${listen:-127.0.0.1:8087}   <- point Telegraf, Home Assistant and client"
    echo "             libraries here, and Grafana too (/query is passed through to InfluxDB)."
    echo "             Every write is durable in var/spool before its 204, then forwarded to"
    echo "             InfluxDB (log: var/meter-relay.log; per-upstream state: /metrics, /health)."
    echo "Stop with:   make stop"
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
