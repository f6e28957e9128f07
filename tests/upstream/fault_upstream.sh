# Bash wrappers around tests/upstream/fault_upstream.mjs for integration tests (sourced). Entry
# and record formats are described at the top of fault_upstream.mjs.
#
#   fault_upstream_start DIR       starts it (log in DIR/fault_upstream.log), waits until it
#                                  listens; sets fault_upstream_url, fault_upstream_pid.
#                                  Call it in the test's own shell, not in $(...): the server
#                                  exits when the process that started it is gone.
#   fault_upstream_stop            SIGTERM, waits; sets fault_upstream_exit_status
#   fault_upstream_script JSON     appends a JSON array of entries to the script
#   fault_upstream_default JSON    sets the answer used when the script is empty
#   fault_upstream_clear           drops the script and the records
#   fault_upstream_requests        prints the records (JSON array)
#   fault_upstream_lines           prints the lines stored by 2xx answers (JSON array)

fault_upstream_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fault_upstream_start() {
    local dir=$1 log=$1/fault_upstream.log
    mkdir -p "$dir"
    node "$fault_upstream_dir/fault_upstream.mjs" >"$log" 2>&1 &
    fault_upstream_pid=$!
    fault_upstream_url=""
    for _ in $(seq 1 100); do
        fault_upstream_url=$(sed -n 's/^listening \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$log")
        [ -n "$fault_upstream_url" ] && return 0
        kill -0 "$fault_upstream_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "fault upstream did not start:" >&2
    cat "$log" >&2
    fault_upstream_stop
    return 1
}

fault_upstream_stop() {
    [ -n "${fault_upstream_pid:-}" ] || return 0
    kill -TERM "$fault_upstream_pid" 2>/dev/null
    wait "$fault_upstream_pid"
    # shellcheck disable=SC2034 # read by the sourcing test
    fault_upstream_exit_status=$?
    fault_upstream_pid=""
}

# fault_upstream_control METHOD PATH [JSON]: fails (non-zero, message on stderr) on a non-2xx answer.
fault_upstream_control() {
    local method=$1 path=$2 data=()
    [ $# -gt 2 ] && data=(--data-binary "$3")
    curl -sS --fail-with-body -X "$method" -H 'Content-Type: application/json' "${data[@]}" \
        "$fault_upstream_url/_control/$path"
}

fault_upstream_script() { fault_upstream_control POST script "$1"; }
fault_upstream_default() { fault_upstream_control POST default "$1"; }
fault_upstream_clear() { fault_upstream_control POST clear; }
fault_upstream_requests() { fault_upstream_control GET requests; }
fault_upstream_lines() { fault_upstream_control GET lines; }
