# shellcheck shell=bash
# Real upstream servers for integration, crash and bench tests (sourced after lib.sh): Debian's
# influxd 1.6.7 and victoria-metrics 1.79.5, each on 127.0.0.1 on free ports picked here, with
# its data, configuration and logs in a directory the caller passes. Start functions wait up to
# 30 s for the server to answer (on failure: an error and the tail of its log on stderr, status 1,
# nothing left running); stop functions are idempotent, send SIGTERM and wait for the exit.
#
#   port_free_pick [TAKEN...]       prints a free 127.0.0.1 port, not one of TAKEN
#   influxdb_start DIR              sets influxdb_url, influxdb_pid (also influxdb_rpc_port)
#   influxdb_stop
#   influxdb_restart                same DIR, ports and data; works after influxdb_stop, so an
#                                   outage test can stop, wait, and bring it back on the same URL
#   influxdb_query DB INFLUXQL      prints the JSON of GET /query, times as epoch nanoseconds
#   influxdb_create_database NAME
#   victoria_start DIR              sets victoria_url, victoria_pid
#   victoria_stop
#   victoria_flush                  makes everything written so far visible to searches
#   victoria_export MATCH           flushes, then prints the JSON lines of /api/v1/export
#
# Call the start functions directly, not in $(...) or a pipeline: they set variables, and the
# server must be a child of the test's shell so that the stop functions can reap it.
# Logs: DIR/influxd.log, DIR/http.log (InfluxDB's access log: every request the relay sent),
# DIR/victoria-metrics.log.
#
# How VictoriaMetrics 1.79.5 stores line protocol (observed with this package, and asserted by
# test_servers.sh):
# - Every field becomes its own series named MEASUREMENT_FIELD, also when there is only one
#   field (`gas value=7.25` -> gas_value); tags become labels.
# - v1 /write?db=D adds the label db="D" (first, before the tags; labels are not sorted in the
#   export); rp= is ignored; without db= there is no db label.
# - v2 /api/v2/write?org=O&bucket=B ignores org and bucket: no label at all, so a v2 write and a
#   v1 write without db= of the same line land in the same series. A db=D query argument on the
#   v2 endpoint does add db="D".
# - precision= is honoured on both endpoints (default ns). Export timestamps are milliseconds, the
#   sub-millisecond part truncated (-influxTrimTimestamp=1ms): 1700000000123999999 ns exports as
#   1700000000123.
# - Integer and float fields export as plain numbers (230i -> 230), true -> 1, and a string field
#   becomes a series whose value is 0.
# - Timestamps before 1970 are dropped with a warning in the log; the write still answers 204.
# - Written points become searchable only after an in-memory flush, about 1-2 s later; this version
#   has no flag to shorten that, only /internal/force_flush (victoria_flush), which
#   victoria_export calls first.

# process_running PID: true while PID exists and is not a zombie (an exited child that has not
# been reaped still answers kill -0).
process_running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat:0:1}" != Z ]
}

# server_process_stop NAME PID: SIGTERM, then waits up to 30 s before SIGKILL.
server_process_stop() {
    local name=$1 pid=$2 deadline=$((SECONDS + 30))
    kill -TERM "$pid" 2>/dev/null || return 0
    while process_running "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if process_running "$pid"; then
        echo "$name (pid $pid) did not exit within 30 s of SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# port_listened_by PORT PID: whether PID holds the socket listening on 127.0.0.1:PORT. In
# /proc/net/tcp the local address is hex in host byte order (127.0.0.1 on x86: 0100007F), state
# 0A is LISTEN, the 10th column the socket's inode, which PID's open files name.
port_listened_by() {
    local inode
    inode=$(awk -v address="$(printf '0100007F:%04X' "$1")" \
        '$2 == address && $4 == "0A" { print $10 }' /proc/net/tcp)
    [ -n "$inode" ] && find "/proc/$2/fd" -lname "socket:\[$inode\]" 2>/dev/null | grep -q .
}

# server_answer_wait NAME PID PORT PATH LOG: waits up to 30 s for http://127.0.0.1:PORT/PATH to
# answer 2xx from PID: after a lost race for the port, another server may answer there. On
# failure the server is stopped and the tail of LOG shown.
server_answer_wait() {
    local name=$1 pid=$2 port=$3 url=http://127.0.0.1:$3/$4 log=$5 deadline=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$deadline" ]; do
        curl -fs -o /dev/null -m 1 "$url" && port_listened_by "$port" "$pid" && return 0
        if ! process_running "$pid"; then
            wait "$pid" 2>/dev/null
            echo "$name exited before answering $url; last lines of $log:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "$name did not answer $url within 30 s; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    server_process_stop "$name" "$pid"
    return 1
}

# Picked at random below the kernel's ephemeral range: parallel test runs rarely collide, and no
# outgoing connection can hold the port while an outage test keeps InfluxDB down.
port_free_pick() {
    local ephemeral_low port
    read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range
    [ "$ephemeral_low" -gt 21000 ] || ephemeral_low=30000
    for _ in $(seq 100); do
        port=$((20000 + RANDOM % (ephemeral_low - 20000)))
        [[ " $* " == *" $port "* ]] && continue
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || {
            echo "$port"
            return 0
        }
    done
    echo "port_free_pick: no free port in 100 tries between 20000 and $ephemeral_low" >&2
    return 1
}

# server_not_started NAME PID: the variables hold one server per kind; a second start would
# orphan the first.
server_not_started() {
    [ -z "$2" ] && return 0
    echo "$1 (pid $2) started here still runs; stop it first" >&2
    return 1
}

influxdb_start() {
    server_not_started influxd "${influxdb_pid:-}" || return 1
    mkdir -p "$1" && influxdb_dir=$(cd "$1" && pwd) || return 1
    local http_port
    http_port=$(port_free_pick) && influxdb_rpc_port=$(port_free_pick "$http_port") || return 1
    influxdb_url=http://127.0.0.1:$http_port
    # influxd also listens on an RPC port (backup/restore, default 8088) that must not collide
    # between tests either. Debian's build knows reporting-enabled (default false), not upstream's
    # reporting-disabled, which it would silently ignore. No _internal database: it would write
    # every 10 s and show up in SHOW DATABASES.
    cat >"$influxdb_dir/influxdb.conf" <<CONF
reporting-enabled = false
bind-address = "127.0.0.1:$influxdb_rpc_port"
[meta]
  dir = "$influxdb_dir/meta"
[data]
  dir = "$influxdb_dir/data"
  wal-dir = "$influxdb_dir/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$http_port"
  auth-enabled = false
  log-enabled = true
  access-log-path = "$influxdb_dir/http.log"
CONF
    influxdb_process_start
}

influxdb_process_start() {
    local log=$influxdb_dir/influxd.log
    influxd -config "$influxdb_dir/influxdb.conf" >>"$log" 2>&1 &
    influxdb_pid=$!
    if ! server_answer_wait influxd "$influxdb_pid" "${influxdb_url##*:}" ping "$log"; then
        influxdb_pid=
        return 1
    fi
}

influxdb_stop() {
    [ -n "${influxdb_pid:-}" ] || return 0
    server_process_stop influxd "$influxdb_pid"
    influxdb_pid=
}

influxdb_restart() {
    [ -n "${influxdb_dir:-}" ] || {
        echo "influxdb_restart: no influxdb_start before" >&2
        return 1
    }
    influxdb_stop
    influxdb_process_start
}

influxdb_query() {
    curl -fsSG "$influxdb_url/query" --data-urlencode "db=$1" --data-urlencode epoch=ns \
        --data-urlencode "q=$2"
}

# CREATE needs POST in InfluxDB 1.x; errors come back as 200 with an "error" in the JSON.
influxdb_create_database() {
    local answer
    answer=$(curl -fsS -XPOST "$influxdb_url/query" --data-urlencode "q=CREATE DATABASE \"$1\"") ||
        return 1
    [[ "$answer" != *'"error"'* ]] || {
        echo "influxdb_create_database $1: $answer" >&2
        return 1
    }
}

# -retentionPeriod 100y keeps old test timestamps (the default, 1 month, would drop them);
# -search.disableCache keeps query results from going stale when old points are backfilled.
victoria_start() {
    server_not_started victoria-metrics "${victoria_pid:-}" || return 1
    mkdir -p "$1" && victoria_dir=$(cd "$1" && pwd) || return 1
    local port
    port=$(port_free_pick) || return 1
    victoria_url=http://127.0.0.1:$port
    victoria-metrics -storageDataPath "$victoria_dir/data" -httpListenAddr "127.0.0.1:$port" \
        -retentionPeriod 100y -search.disableCache >>"$victoria_dir/victoria-metrics.log" 2>&1 &
    victoria_pid=$!
    if ! server_answer_wait victoria-metrics "$victoria_pid" "$port" health \
        "$victoria_dir/victoria-metrics.log"; then
        victoria_pid=
        return 1
    fi
}

victoria_stop() {
    [ -n "${victoria_pid:-}" ] || return 0
    server_process_stop victoria-metrics "$victoria_pid"
    victoria_pid=
}

victoria_flush() {
    curl -fsS -o /dev/null "$victoria_url/internal/force_flush"
}

# victoria_export MATCH: MATCH is a series selector, e.g. 'power_watts{db="home"}'.
victoria_export() {
    victoria_flush && curl -fsSG "$victoria_url/api/v1/export" --data-urlencode "match[]=$1"
}
