#!/usr/bin/env bash
# The job scheduler of meter-relay (relay/scheduler.h): POST /api/v1/jobs/<job> starts a run (202,
# 409 while it runs), GET /api/v1/jobs lists runs with their report, a failed run shows in
# /health and /metrics, a cron schedule fires, a missed run is caught up once at start, so is a
# scheduled run the relay's stop cut off, a run past its timeout is stopped, SIGTERM of the relay
# interrupts a running job, relay.auth applies.
#
# meter-batch is played by a script that keeps its contract (-c FILE <job> --report FILE: writes
# the report atomically, exits 0 or 1); files beside the relay's config.yaml say how long it
# sleeps (<job>.sleep), how it exits (<job>.exit) and whether it ignores SIGTERM
# (<job>.ignore_term). The relays run side by side, so the minute the cron test waits for is
# spent on the others.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/relay_helpers.sh"
unset RELAY_TOKENS RELAY_USERS

relay_names=()
cleanup() {
    local name pid_variable
    for name in "${relay_names[@]}"; do
        pid_variable=pid_$name
        [ -n "${!pid_variable:-}" ] && kill -KILL "${!pid_variable}" 2>/dev/null
    done
    rm -rf "$work_dir"
}
trap cleanup EXIT

fake_batch=$work_dir/fake-meter-batch
cat >"$fake_batch" <<'SCRIPT'
#!/usr/bin/env bash
config="" command="" report=""
while [ $# -gt 0 ]; do
    case $1 in
    -c) config=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    reconcile | tibber) command=$1; shift ;;
    *) echo "fake meter-batch: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$command" ] && [ -n "$report" ] && [ -n "$config" ] || { echo "usage" >&2; exit 2; }
control=$(dirname "$config")
echo "$command|$config|$report" >>"$control/calls"
sleep_seconds=$(cat "$control/$command.sleep" 2>/dev/null || echo 0)
exit_status=$(cat "$control/$command.exit" 2>/dev/null || echo 0)
echo "fake meter-batch $command: starting as $$"
echo "fake meter-batch $command: a line on stderr" >&2
if [ -e "$control/$command.ignore_term" ]; then
    trap '' TERM
else
    trap 'echo "fake meter-batch: SIGTERM" >&2; exit 143' TERM
fi
sleep "$sleep_seconds" &
wait $!
printf '{"command":"%s","summary":{"meters":3,"exit_status":%s}}\n' "$command" "$exit_status" \
    >"$report.tmp" && mv "$report.tmp" "$report"
exit "$exit_status"
SCRIPT
chmod +x "$fake_batch"

# jobs_config_write DIR RELAY_EXTRA WORKFLOWS: a relay config with workflows (indented YAML under
# workflows:) and the fake meter-batch; tibber.env holds a token so tibber.enabled can be turned on.
jobs_config_write() {
    local dir=$1
    relay_config_write "$dir" "$2"
    cat >>"$dir/config.yaml" <<YAML
workflows:
  batch_program: $fake_batch
$3
YAML
    printf 'TIBBER_API_TOKEN=test-token\n' >"$dir/secrets/tibber.env"
    chmod 600 "$dir/secrets/tibber.env"
}

# named_start NAME DIR: relay_start, remembering pid_NAME, url_NAME and log_NAME.
named_start() {
    local name=$1
    relay_start "$2" || return 1
    relay_names+=("$name")
    printf -v "pid_$name" '%s' "$relay_pid"
    printf -v "url_$name" '%s' "$relay_url"
    printf -v "log_$name" '%s' "$relay_log"
    relay_pid=
}

# named_stop NAME: SIGTERM, wait; sets stop_status and stop_seconds.
named_stop() {
    local pid_variable=pid_$1 started=$SECONDS
    [ -n "${!pid_variable:-}" ] || return 0
    kill -TERM "${!pid_variable}"
    wait "${!pid_variable}"
    stop_status=$?
    stop_seconds=$((SECONDS - started))
    printf -v "pid_$1" '%s' ""
}

# alive PID: the process exists and is not a zombie (an orphan's reaper may take its time).
alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null)
    [ -n "$state" ] && [[ "$state" != Z* ]]
}

# json FILE EXPRESSION: evaluates a JavaScript expression over the JSON in FILE as `v`.
json() {
    node -e '
const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const r = new Function("v", "return " + process.argv[2])(v);
console.log(r !== null && typeof r === "object" ? JSON.stringify(r) : String(r));' "$1" "$2"
}

# runs_wait URL JS_CONDITION [SECONDS] [CURL_ARGS...]: polls GET URL/api/v1/jobs until the
# condition over v holds (body in $work_dir/runs.body); status 1 when it never does.
runs_wait() {
    local url=$1 condition=$2 deadline=$((SECONDS + ${3:-10}))
    shift 3
    while :; do
        curl -s "$@" -o "$work_dir/runs.body" "$url/api/v1/jobs"
        [ "$(json "$work_dir/runs.body" "$condition" 2>/dev/null)" = true ] && return 0
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# ---- A: a schedule of "* * * * *" (checked at the end, after the other relays ran) ----
dir_a=$work_dir/schedule
jobs_config_write "$dir_a" "" '  analytics:
    schedule: "* * * * *"'
named_start a "$dir_a" || check_fail "relay A starts" "$(cat "$dir_a/relay.log")"
started_a=$(date +%s)
# F, beside A: a last run recorded years ahead (a clock that was wrong, or set back since) must
# not hold the schedule until then.
dir_f=$work_dir/future_fire
jobs_config_write "$dir_f" "" '  analytics:
    schedule: "* * * * *"'
mkdir -p "$dir_f/spool/jobs"
printf '{"reconcile":{"last_fire":"2031-01-01T00:00:00Z"}}\n' >"$dir_f/spool/jobs/state.json"
named_start f "$dir_f" || check_fail "relay F starts" "$(cat "$dir_f/relay.log")"
started_f=$(date +%s)

# ---- B: manual runs, conflicts, reports, failures, timeouts, auth ----
dir_b=$work_dir/manual
jobs_config_write "$dir_b" "  auth: token" '  analytics:
    schedule: "0 0 1 1 *"
  tibber_sync:
    schedule: "0 0 1 1 *"
    timeout: 1s'
printf 'tibber:\n  enabled: true\n' >>"$dir_b/config.yaml"
printf 'RELAY_TOKENS=jobs-token\n' >"$dir_b/secrets/relay.env"
chmod 600 "$dir_b/secrets/relay.env"
auth=(-H "Authorization: Token jobs-token")
if named_start b "$dir_b"; then
    http_request unauthorized -X POST "$url_b/api/v1/jobs/reconcile"
    expect_equal "POST without a token is refused" 401 "$http_code"
    http_request unauthorized_list "$url_b/api/v1/jobs"
    expect_equal "GET without a token is refused" "401 authorization failed" \
        "$http_code $(json "$work_dir/unauthorized_list.body" v.error)"
    expect_equal "a refused POST starts nothing" "" "$(cat "$dir_b/calls" 2>/dev/null)"

    # The tibber run outlives its 1 s timeout and ignores SIGTERM: SIGKILL 10 s later.
    echo 30 >"$dir_b/tibber.sleep"
    : >"$dir_b/tibber.ignore_term"
    http_request tibber "${auth[@]}" -X POST "$url_b/api/v1/jobs/tibber"
    expect_equal "POST tibber with a token starts a run" 202 "$http_code"
    tibber_id=$(json "$work_dir/tibber.body" v.id)

    echo 2 >"$dir_b/reconcile.sleep"
    http_request started "${auth[@]}" -X POST "$url_b/api/v1/jobs/reconcile"
    expect_equal "POST starts a run: 202" 202 "$http_code"
    run_id=$(json "$work_dir/started.body" v.id)
    expect_equal "the answer is the run" "reconcile manual running null" \
        "$(json "$work_dir/started.body" '[v.job, v.trigger, v.status, v.finished].map(String).join(" ")')"
    expect_contains "its id names the job" "reconcile-" "$run_id"
    expect_contains "Location points at the run" "Location: /api/v1/jobs/$run_id" "$http_headers"

    http_request again "${auth[@]}" -X POST "$url_b/api/v1/jobs/reconcile"
    expect_equal "a second POST while it runs: 409" 409 "$http_code"
    expect_contains "the 409 names the running run" "$run_id" "$http_body"

    http_request wrong_method "${auth[@]}" "$url_b/api/v1/jobs/reconcile"
    expect_equal "GET on a job: 405, Allow: POST" "405 Allow: POST" \
        "$http_code $(grep -o 'Allow: POST' <<<"$http_headers")"
    http_request unknown "${auth[@]}" -X POST "$url_b/api/v1/jobs/nightly"
    expect_equal "an unknown job: 404" 404 "$http_code"

    if runs_wait "$url_b" "v.runs.some(r => r.id === '$run_id' && r.status !== 'running')" 10 \
        "${auth[@]}"; then
        expect_equal "GET lists the finished run with its report" \
            "succeeded 0 null 3 true true" \
            "$(json "$work_dir/runs.body" "(r => [r.status, r.exit_code, r.signal,
                r.report.summary.meters, r.duration_ms >= 2000, r.finished > r.started].map(String).join(' '))
                (v.runs.find(r => r.id === '$run_id'))")"
    else
        check_fail "the reconcile run finishes" "$(cat "$work_dir/runs.body")"
    fi
    expect_equal "runs are listed newest first" "$run_id $tibber_id" \
        "$(json "$work_dir/runs.body" "v.runs.map(r => r.id).join(' ')")"
    expect_equal "meter-batch got -c <config> reconcile --report <run dir>/<id>.json" \
        "reconcile|$dir_b/config.yaml|$dir_b/spool/jobs/$run_id.json" \
        "$(grep '^reconcile' "$dir_b/calls")"

    http_request one "${auth[@]}" "$url_b/api/v1/jobs/$run_id"
    expect_equal "GET of one run: 200" 200 "$http_code"
    log_text=$(json "$work_dir/one.body" v.log)
    expect_contains "its log has the child's stdout" "fake meter-batch reconcile: starting" "$log_text"
    expect_contains "its log has the child's stderr" "reconcile: a line on stderr" "$log_text"
    expect_contains "its log starts with the command line" \
        "$fake_batch -c $dir_b/config.yaml reconcile --report" "$log_text"
    http_request missing "${auth[@]}" "$url_b/api/v1/jobs/reconcile-20000101T000000Z"
    expect_equal "an unknown run: 404" 404 "$http_code"

    # A failing run: status failed, /health warns, /metrics counts it.
    echo 0 >"$dir_b/reconcile.sleep"
    echo 1 >"$dir_b/reconcile.exit"
    http_request failing "${auth[@]}" -X POST "$url_b/api/v1/jobs/reconcile"
    failing_id=$(json "$work_dir/failing.body" v.id)
    if runs_wait "$url_b" "v.runs.some(r => r.id === '$failing_id' && r.status !== 'running')" \
        10 "${auth[@]}"; then
        expect_equal "a run exiting 1 is failed, with its report" "failed 1 1" \
            "$(json "$work_dir/runs.body" "(r => [r.status, r.exit_code, r.report.summary.exit_status]
                .join(' '))(v.runs.find(r => r.id === '$failing_id'))")"
    else
        check_fail "the failing run finishes" "$(cat "$work_dir/runs.body")"
    fi
    http_request health "$url_b/health"
    expect_equal "/health: the jobs check warns" warn \
        "$(json "$work_dir/health.body" "v.checks.find(c => c.name === 'jobs').status")"
    expect_contains "/health says which run failed" \
        "the last reconcile run failed with exit code 1 (GET /api/v1/jobs/$failing_id" \
        "$(json "$work_dir/health.body" "v.checks.find(c => c.name === 'jobs').message")"
    expect_equal "/health stays 200 (ingest is fine)" 200 "$http_code"
    metrics=$(curl -s "$url_b/metrics")
    expect_contains "/metrics counts the failed run" \
        'nebenkosten_job_runs_total{job="reconcile",status="failed"} 1' "$metrics"
    expect_contains "/metrics counts the successful run" \
        'nebenkosten_job_runs_total{job="reconcile",status="succeeded"} 1' "$metrics"
    expect_contains "/metrics: tibber is running" 'nebenkosten_job_running{job="tibber"} 1' "$metrics"
    success=$(sed -n 's/^nebenkosten_job_last_success_timestamp_seconds{job="reconcile"} \([0-9]*\).*/\1/p' <<<"$metrics")
    expect_equal "/metrics: the last success is recent" true \
        "$([ -n "$success" ] && [ $(($(date +%s) - success)) -lt 60 ] && echo true || echo false)"
    expect_contains "/metrics: the last duration" \
        'nebenkosten_job_last_duration_seconds{job="reconcile"} 0.' "$metrics"
else
    check_fail "relay B starts"
fi

# ---- C: a missed run is caught up once at start; SIGHUP enables tibber ----
dir_c=$work_dir/catch_up
jobs_config_write "$dir_c" "" '  analytics:
    schedule: "0 2 * * *"'
mkdir -p "$dir_c/spool/jobs"
printf '{"reconcile":{"last_fire":"2020-01-01T02:00:00Z"}}\n' >"$dir_c/spool/jobs/state.json"
if named_start c "$dir_c"; then
    if runs_wait "$url_c" "v.runs.some(r => r.status === 'succeeded')" 10; then
        sleep 1.5
        curl -s -o "$work_dir/runs.body" "$url_c/api/v1/jobs"
        expect_equal "one catch-up run right after the start, however many were missed" \
            "1 reconcile catch-up succeeded" \
            "$(json "$work_dir/runs.body" "[v.runs.length, v.runs[0].job, v.runs[0].trigger,
                v.runs[0].status].join(' ')")"
    else
        check_fail "a catch-up run starts" "$(cat "$work_dir/runs.body")" "$(tail -n 5 "$log_c")"
    fi
    expect_contains "the catch-up is logged" "missed a scheduled run while the relay was down" \
        "$(cat "$log_c")"
    expect_equal "state.json records the catch-up" "$(date -u +%Y)" \
        "$(json "$dir_c/spool/jobs/state.json" 'v.reconcile.last_fire.slice(0, 4)')"

    http_request disabled -X POST "$url_c/api/v1/jobs/tibber"
    expect_equal "tibber disabled: 404 saying so" "404 tibber.enabled is false" \
        "$http_code $(grep -o 'tibber.enabled is false' "$work_dir/disabled.body")"
    printf 'tibber:\n  enabled: true\n' >>"$dir_c/config.yaml"
    kill -HUP "$pid_c"
    for attempt in $(seq 1 50); do
        grep -q '"msg":"configuration reloaded"' "$log_c" && break
        sleep 0.1
    done
    http_request enabled -X POST "$url_c/api/v1/jobs/tibber"
    expect_equal "after SIGHUP with tibber.enabled: POST tibber starts a run" "202 tibber" \
        "$http_code $(json "$work_dir/enabled.body" v.job)"
    runs_wait "$url_c" "v.runs.every(r => r.status !== 'running')" 10 ||
        check_fail "the tibber run ends"

    # A restart owes nothing: no second catch-up, and the history is still there.
    named_stop c
    named_start c "$dir_c" || check_fail "relay C restarts"
    sleep 1.5
    curl -s -o "$work_dir/runs.body" "$url_c/api/v1/jobs"
    expect_equal "after a restart: no new run, both earlier ones listed" \
        "2 tibber,reconcile catch-up" \
        "$(json "$work_dir/runs.body" "[v.runs.length, v.runs.map(r => r.job).join(','),
            v.runs[1].trigger].join(' ')")"
    named_stop c
else
    check_fail "relay C starts"
fi

# ---- E: a scheduled run the relay's stop cut off is run again once at the next start ----
# (as anacron, which records a job as done when it ends: a restart during the night's reconcile
# must not lose the night; the run recomputes everything, so running it again is safe.)
dir_e=$work_dir/interrupted
jobs_config_write "$dir_e" "" '  analytics:
    schedule: "0 2 * * *"'
mkdir -p "$dir_e/spool/jobs"
printf '{"reconcile":{"last_fire":"2020-01-01T02:00:00Z"}}\n' >"$dir_e/spool/jobs/state.json"
echo 30 >"$dir_e/reconcile.sleep"
if named_start e "$dir_e"; then
    runs_wait "$url_e" "v.runs.some(r => r.status === 'running')" 10 ||
        check_fail "the catch-up run starts" "$(cat "$work_dir/runs.body")"
    cut_id=$(json "$work_dir/runs.body" 'v.runs[0].id')
    for attempt in $(seq 1 50); do
        grep -q starting "$dir_e/spool/jobs/$cut_id.log" 2>/dev/null && break
        sleep 0.1
    done
    named_stop e
    expect_equal "the scheduled (catch-up) run is cut off by the stop" "interrupted catch-up" \
        "$(json "$dir_e/spool/jobs/$cut_id.run.json" '[v.status, v.trigger].join(" ")')"
    echo 0 >"$dir_e/reconcile.sleep"
    named_start e "$dir_e" || check_fail "relay E restarts"
    if runs_wait "$url_e" "v.runs.length === 2 && v.runs[0].status === 'succeeded'" 10; then
        expect_equal "after the restart the cut-off run is caught up once" \
            "reconcile catch-up succeeded interrupted" \
            "$(json "$work_dir/runs.body" "[v.runs[0].job, v.runs[0].trigger, v.runs[0].status,
                v.runs[1].status].join(' ')")"
    else
        check_fail "the cut-off run is caught up after the restart" "$(cat "$work_dir/runs.body")" \
            "$(tail -n 5 "$log_e")"
    fi
    expect_contains "the catch-up of the cut-off run is logged" \
        "the latest scheduled run was cut off when the relay stopped" "$(cat "$log_e")"
    # It succeeded: the next start owes nothing.
    named_stop e
    named_start e "$dir_e" || check_fail "relay E starts a third time"
    sleep 1.5
    curl -s -o "$work_dir/runs.body" "$url_e/api/v1/jobs"
    expect_equal "a run that ended is not caught up again" 2 \
        "$(json "$work_dir/runs.body" 'v.runs.length')"
    named_stop e
else
    check_fail "relay E starts"
fi

# ---- D: SIGTERM of the relay while a job runs; a relay that dies takes its job along ----
dir_d=$work_dir/shutdown
jobs_config_write "$dir_d" "" ""
echo 30 >"$dir_d/reconcile.sleep"
if named_start d "$dir_d"; then
    http_request long -X POST "$url_d/api/v1/jobs/reconcile"
    long_id=$(json "$work_dir/long.body" v.id)
    child=$(json "$work_dir/long.body" v.pid)
    for attempt in $(seq 1 50); do
        grep -q starting "$dir_d/spool/jobs/$long_id.log" 2>/dev/null && break
        sleep 0.1
    done
    named_stop d
    expect_equal "SIGTERM with a job running: clean exit within 10 s" "0 true" \
        "$stop_status $([ "$stop_seconds" -le 10 ] && echo true || echo false)"
    expect_equal "the child got SIGTERM and is gone" gone \
        "$(alive "$child" && echo running || echo gone)"
    expect_equal "the run is recorded as interrupted" "interrupted 143" \
        "$(json "$dir_d/spool/jobs/$long_id.run.json" '[v.status, v.exit_code].join(" ")')"
    expect_contains "the child's log shows the SIGTERM" "fake meter-batch: SIGTERM" \
        "$(cat "$dir_d/spool/jobs/$long_id.log")"

    named_start d "$dir_d" || check_fail "relay D restarts"
    http_request listed "$url_d/api/v1/jobs/$long_id"
    expect_equal "after a restart the interrupted run is listed" "200 interrupted" \
        "$http_code $(json "$work_dir/listed.body" v.status)"
    http_request orphan -X POST "$url_d/api/v1/jobs/reconcile"
    orphan_id=$(json "$work_dir/orphan.body" v.id)
    orphan_pid=$(json "$work_dir/orphan.body" v.pid)
    for attempt in $(seq 1 50); do
        grep -q starting "$dir_d/spool/jobs/$orphan_id.log" 2>/dev/null && break
        sleep 0.1
    done
    kill -KILL "$pid_d"
    wait "$pid_d" 2>/dev/null
    pid_d=
    for attempt in $(seq 1 30); do
        alive "$orphan_pid" || break
        sleep 0.1
    done
    expect_equal "a relay killed with SIGKILL: its child gets SIGTERM from the kernel" gone \
        "$(alive "$orphan_pid" && echo running || echo gone)"
    named_start d "$dir_d" || check_fail "relay D starts after SIGKILL"
    http_request orphan_listed "$url_d/api/v1/jobs/$orphan_id"
    expect_equal "the run the dead relay left is interrupted" "200 interrupted" \
        "$http_code $(json "$work_dir/orphan_listed.body" v.status)"
    named_stop d
else
    check_fail "relay D starts"
fi

# ---- B again: the tibber run timed out, SIGTERM ignored, SIGKILL after 10 s ----
if [ -n "${pid_b:-}" ]; then
    if runs_wait "$url_b" "v.runs.some(r => r.id === '$tibber_id' && r.status !== 'running')" \
        20 "${auth[@]}"; then
        expect_equal "a run past its timeout is timed_out, killed by SIGKILL" \
            "timed_out SIGKILL null" \
            "$(json "$work_dir/runs.body" "(r => [r.status, r.signal, r.exit_code].map(String).join(' '))
                (v.runs.find(r => r.id === '$tibber_id'))")"
        duration=$(json "$work_dir/runs.body" "v.runs.find(r => r.id === '$tibber_id').duration_ms")
        expect_equal "SIGKILL came 10 s after the 1 s timeout" true \
            "$([ "$duration" -ge 10900 ] && [ "$duration" -lt 14000 ] && echo true || echo false)"
    else
        check_fail "the tibber run is stopped" "$(cat "$work_dir/runs.body")"
    fi
    expect_contains "the timeout is logged" "ran past its timeout" "$(cat "$log_b")"
    expect_contains "/metrics counts the timed-out run" \
        'nebenkosten_job_runs_total{job="tibber",status="timed_out"} 1' "$(curl -s "$url_b/metrics")"
    named_stop b
    expect_equal "relay B stops cleanly" 0 "$stop_status"
fi

# ---- A: the schedule fired within a minute of the start, at a whole minute ----
if [ -n "${pid_a:-}" ]; then
    wait_seconds=$((started_a + 65 - $(date +%s)))
    if runs_wait "$url_a" "v.runs.some(r => r.trigger === 'schedule' && r.status === 'succeeded')" \
        "$wait_seconds"; then
        expect_equal "the cron schedule started a run at second 0 of a minute" "reconcile :00" \
            "$(json "$work_dir/runs.body" "(r => r.job + ' :' + r.id.slice(-3, -1))
                (v.runs.find(r => r.trigger === 'schedule'))")"
        expect_equal "the next fire is the next whole minute" true \
            "$(json "$work_dir/runs.body" "(s => s.expression === '* * * * *' &&
                s.next.endsWith(':00.000Z') && Date.parse(s.next) > Date.now() &&
                Date.parse(s.next) <= Date.now() + 60000)(v.schedules.find(s => s.job === 'reconcile'))")"
        expect_equal "no catch-up on a first start" 0 \
            "$(json "$work_dir/runs.body" "v.runs.filter(r => r.trigger === 'catch-up').length")"
    else
        check_fail "the cron schedule fires within a minute" "$(cat "$work_dir/runs.body")" \
            "$(tail -n 5 "$log_a")"
    fi
    expect_equal "/health of A passes the jobs check" pass \
        "$(curl -s "$url_a/health" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).checks.find(c=>c.name==="jobs").status))')"
    named_stop a
    expect_equal "relay A stops cleanly" 0 "$stop_status"
fi

# ---- F: a recorded run in the future is forgotten; the schedule runs on ----
if [ -n "${pid_f:-}" ]; then
    expect_contains "F: the future record is logged" "last run is recorded in the future" \
        "$(cat "$log_f")"
    # Its own minute: F may have started just after the minute A's schedule fired in.
    if runs_wait "$url_f" "v.runs.some(r => r.trigger === 'schedule' && r.status === 'succeeded')" \
        $((started_f + 65 - $(date +%s))); then
        expect_equal "F: after its run the next fire is the next whole minute, not 2031" true \
            "$(json "$work_dir/runs.body" "(s => Date.parse(s.next) > Date.now() &&
                Date.parse(s.next) <= Date.now() + 60000)(v.schedules.find(s => s.job === 'reconcile'))")"
    else
        check_fail "F: the schedule fires" "$(cat "$work_dir/runs.body")" "$(tail -n 5 "$log_f")"
    fi
    expect_equal "F: state.json no longer holds 2031" "$(date -u +%Y)" \
        "$(json "$dir_f/spool/jobs/state.json" 'v.reconcile.last_fire.slice(0, 4)')"
    named_stop f
    expect_equal "relay F stops cleanly" 0 "$stop_status"
fi

finish
