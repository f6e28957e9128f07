#!/usr/bin/env bash
# The wall clock steps while meter-relay runs: a Raspberry Pi or a container without a battery
# boots at a saved time or at 1970 until NTP steps it forward, an admin sets it back. Durations the
# relay reports (its uptime, the stream's checkpoint age, a running job's duration, how long the
# oldest unsent record has waited) must not move with the step, as a real step does not move
# CLOCK_MONOTONIC. libfaketime steps the relay's CLOCK_REALTIME through a timestamp file and leaves
# its monotonic clock alone (DONT_FAKE_MONOTONIC=1).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/upstream_helpers.sh" # json_eval, eventually
source "$(dirname "$0")/../upstream/fault_upstream.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; fault_upstream_stop; rm -rf "$work_dir"' EXIT

faketime_library=""
for candidate in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
    [ -e "$candidate" ] && faketime_library=$candidate && break
done
if [ -z "$faketime_library" ]; then
    echo "  skip libfaketime is not installed (Debian package faketime; make deps installs it)"
    exit 0
fi

step_file=$work_dir/clock_offset
echo "+0" >"$step_file"
# The clock steps when the file changes (FAKETIME_NO_CACHE: read on every call); ASan accepts a
# preloaded library ahead of its runtime only when told.
relay_start_stepped() {
    LD_PRELOAD=$faketime_library FAKETIME_TIMESTAMP_FILE=$step_file FAKETIME_NO_CACHE=1 \
        DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
        relay_start "$1"
}
# within DESCRIPTION VALUE: passes when 1 <= VALUE < 60 (seconds since a start or the checkpoint).
within() {
    expect_equal "$1 (1 to 60 s): $2" yes "$(awk -v a="$2" 'BEGIN { print (a >= 1 && a < 60) ? "yes" : "no" }')"
}
# Seconds of Go's duration text ("1h2m3.5s", "0.25s").
duration_seconds() {
    node -e 'const m = /^(?:(\d+)h)?(?:(\d+)m)?([\d.]+)s$/.exec(process.argv[1]);
        console.log(m ? (+(m[1] || 0)) * 3600 + (+(m[2] || 0)) * 60 + +m[3] : -1)' "$1"
}
fault_upstream_requests_statuses() { fault_upstream_requests | json_eval 'd.map((r) => r.status).join("\n")'; }
ready_up() { curl -s "$relay_url/ready" | json_eval d.up; }
metric() { curl -s "$relay_url/metrics" | sed -n "s/^$1 //p"; }

dir=$work_dir/relay
relay_stream_config_write "$dir" "" "  checkpoint_interval: 200ms"
if ! relay_start_stepped "$dir"; then
    check_fail "meter-relay starts under libfaketime" "$(tail -n 5 "$relay_log")"
    finish
    exit
fi
now=$(date +%s)
[ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary \
    "kWh,domain=input_number,entity_id=strom value=100 $now" "$relay_url/write?db=lampfi&precision=s")" = 204 ] ||
    check_fail "a reading is accepted"
relay_stream_wait 1 || check_fail "the stream read the reading"
for attempt in $(seq 1 50); do
    [ "$(metric nebenkosten_stream_checkpoints_total)" = 1 ] && break
    sleep 0.1
done
expect_equal "one checkpoint written" 1 "$(metric nebenkosten_stream_checkpoints_total)"
sleep 1

# The reading waits for the default upstream (nothing listens there): its age is the time since.
oldest_unsent() { metric 'nebenkosten_upstream_oldest_unsent_seconds{upstream="influxdb"}'; }

# Set back by two hours (an admin, or NTP correcting a clock that ran ahead).
echo "-2h" >"$step_file"
within "set back 2 h: the oldest unsent record's age still counts from its write" "$(oldest_unsent)"
within "set back 2 h: the checkpoint age still counts from the checkpoint" \
    "$(metric nebenkosten_stream_checkpoint_age_seconds)"
up=$(duration_seconds "$(ready_up)")
within "set back 2 h: /ready's up is the time since the start" "$up"

# Stepped forward by two days (NTP after a boot at the last saved time).
echo "+2d" >"$step_file"
within "stepped forward 2 d: the oldest unsent record's age ignores the step" "$(oldest_unsent)"
within "stepped forward 2 d: the checkpoint age ignores the step" \
    "$(metric nebenkosten_stream_checkpoint_age_seconds)"
up=$(duration_seconds "$(ready_up)")
within "stepped forward 2 d: /ready's up ignores the step" "$up"
relay_stop
expect_equal "relay exits 0" 0 "$relay_exit_status"

# A running batch job's duration, while the clock is set back and stepped forward: the finished
# run's counts on the monotonic clock, the running one's must too.
fake_batch=$work_dir/fake-meter-batch
printf '#!/usr/bin/env bash\ntrap "exit 143" TERM\nsleep 30 &\nwait $!\n' >"$fake_batch"
chmod +x "$fake_batch"
echo "+0" >"$step_file"
dir=$work_dir/jobs
relay_config_write "$dir"
printf 'workflows:\n  batch_program: %s\n' "$fake_batch" >>"$dir/config.yaml"
if ! relay_start_stepped "$dir"; then
    check_fail "meter-relay starts with a fake meter-batch" "$(tail -n 5 "$relay_log")"
    finish
    exit
fi
expect_equal "a reconcile run starts" 202 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$relay_url/api/v1/jobs/reconcile")"
running_seconds() {
    curl -s "$relay_url/api/v1/jobs" |
        json_eval 'd.runs.filter((r) => r.status === "running").map((r) => r.duration_ms / 1000).join(" ")'
}
sleep 1
echo "-2h" >"$step_file"
within "set back 2 h: the running run's duration_ms counts from its start" "$(running_seconds)"
echo "+2d" >"$step_file"
within "stepped forward 2 d: the running run's duration_ms ignores the step" "$(running_seconds)"
relay_stop
expect_equal "relay exits 0" 0 "$relay_exit_status"

# The nightly schedule across a boot at a saved time 3 days back: the recorded fire is forgotten
# (3 days ahead), NTP steps the clock forward, the missed fires come out as one run at once. That
# run dealt with every fire up to then: a restart must not catch it up again.
printf '#!/usr/bin/env bash\necho "$*" >>%q\n' "$work_dir/batch_calls" >"$fake_batch"
dir=$work_dir/schedule
relay_config_write "$dir"
printf 'workflows:\n  batch_program: %s\n' "$fake_batch" >>"$dir/config.yaml"
batch_calls() { grep -c reconcile "$work_dir/batch_calls" 2>/dev/null || echo 0; }
echo "+0" >"$step_file"
relay_start_stepped "$dir" && relay_stop # records the schedule's state
echo "-3d" >"$step_file"
if ! relay_start_stepped "$dir"; then
    check_fail "meter-relay starts 3 days back" "$(tail -n 5 "$relay_log")"
    finish
    exit
fi
echo "+0" >"$step_file"
for attempt in $(seq 1 75); do # the timers wake at least once a minute
    [ "$(batch_calls)" = 0 ] || break
    sleep 1
done
sleep 1
expect_equal "stepped forward 3 d: the missed nightly run starts once" 1 "$(batch_calls)"
relay_stop
relay_start_stepped "$dir" || check_fail "meter-relay starts again"
sleep 3
expect_equal "restarted after that run: nothing to catch up" 1 "$(batch_calls)"
relay_stop
expect_equal "relay exits 0" 0 "$relay_exit_status"

# A Retry-After that is an HTTP-date, to a relay whose clock is two days behind (booted at the
# last saved time, NTP not through yet): the date is the upstream's clock, so the wait is counted
# from the answer's Date, not from the relay's clock (which made it the 24 h maximum).
if ! fault_upstream_start "$work_dir/fake"; then
    check_fail "the fake upstream starts"
    finish
    exit
fi
echo "-2d" >"$step_file"
dir=$work_dir/behind
relay_config_write "$dir" "  upstreams:
    - name: fake
      url: $fault_upstream_url
      api: v1
      backoff_initial: 100ms
      backoff_max: 500ms"
if ! relay_start_stepped "$dir"; then
    check_fail "meter-relay starts with its clock 2 days behind" "$(tail -n 5 "$relay_log")"
    finish
    exit
fi
retry_date=$(LC_ALL=C TZ=GMT date -d '+2 seconds' '+%a, %d %b %Y %H:%M:%S GMT')
fault_upstream_script "[{\"status\":503,\"headers\":{\"Retry-After\":\"$retry_date\"},
    \"body\":{\"error\":\"unavailable\"}}]" >/dev/null
expect_equal "clock 2 d behind: a write is accepted" 204 "$(curl -s -o /dev/null -w '%{http_code}' \
    --data-binary 'dated n=1i 1700000000000000001' "$relay_url/write?db=a")"
eventually_deadline=$((SECONDS + 15))
eventually "clock 2 d behind: 503 with a Retry-After 2 s ahead, then delivered within 15 s" \
    $'503\n204' fault_upstream_requests_statuses
relay_stop
expect_equal "relay exits 0" 0 "$relay_exit_status"
finish
