#!/usr/bin/env bash
# Every row of the answer classification in spec/spool.md against the fault-injecting fake
# InfluxDB (tests/upstream/fault_upstream.mjs), one fresh relay and spool per scenario:
#   2xx: wire format (v1 and v2 paths, routing, auth, gzip, no Expect, keep-alive), lines
#        byte-identical to the spool, in order, one request in flight
#   400, 422, and 5xx bodies saying "partial write" / "unable to parse" / "points beyond
#        retention policy": dead-lettered once, and the batch behind it arrives within the
#        poisoned batch's own round trip
#   a rejected batch the dead-letter directory cannot take: retried, shown as backing off
#   401, 403, 404: paused, retried every pause_retry, nothing skipped, delivered when fixed
#   413: the batch halved; a single record still 413 is dead-lettered
#   429, 503: Retry-After honoured; 500: exponential backoff with full jitter, no retry limit
#   hang: cut by request_timeout and retried; reset and a cut-off answer: retried
#   order kept through a mix of failures
#   a backlog of single-line records (5000 records a batch) delivered whole
#   batch_wait: a stream of one-line writes arrives as a few batches, a lone reading at once
#   several requests in flight: a rewrite waits for the write in flight, also the first one
#   oldest unsent age: from the commit of a record that finds the upstream idle; kept across a
#        restart
#   SCENARIO_WAIT  seconds each scenario gets for its deliveries (default 15)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
source "$(dirname "$0")/upstream_helpers.sh"
source "$(dirname "$0")/../upstream/fault_upstream.sh"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD
trap 'relay_stop; fault_upstream_stop; rm -rf "$work_dir"' EXIT
scenario_wait=${SCENARIO_WAIT:-15}
# Scheduling noise allowed on top of a specified delay: a sanitizer build on a busy 2-core machine
# reacts within tens of milliseconds, a wrong wait (a backoff step, a pause) is longer.
slack_ms=300

if ! fault_upstream_start "$work_dir/fake"; then
    check_fail "the fake upstream starts"
    finish
    exit
fi

# upstream_yaml NAME [KEY=VALUE...]: one relay.upstreams item pointing at the fake; short retry
# intervals unless KEY=VALUE overrides them.
upstream_yaml() {
    local name=$1 key
    shift
    local -A keys=([url]=$fault_upstream_url [api]=v1 [backoff_initial]=100ms [backoff_max]=1s
        [pause_retry]=1s)
    for key in "$@"; do keys[${key%%=*}]=${key#*=}; done
    printf '    - name: %s\n' "$name"
    for key in "${!keys[@]}"; do printf '      %s: %s\n' "$key" "${keys[$key]}"; done
}

# scenario_start NAME UPSTREAMS_YAML: stops the previous relay, clears the fake (script and
# records; default answer 204), starts a relay with a fresh spool and these upstreams, and
# starts the scenario's wait. The credentials files v1.env (user and password) and v2.env
# (token) are there for upstreams that name them.
scenario_start() {
    relay_stop
    scenario=$1
    echo "-- $scenario"
    if ! fault_upstream_clear >/dev/null || ! fault_upstream_default '{}' >/dev/null; then
        check_fail "$scenario: the fake upstream takes its script"
        return 1
    fi
    scenario_dir=$work_dir/$scenario
    relay_config_write "$scenario_dir" "  upstreams:
$2"
    printf 'INFLUX_USERNAME=relay-user\nINFLUX_PASSWORD=relay-pass\n' >"$scenario_dir/secrets/v1.env"
    printf 'INFLUX_TOKEN=relay-token\n' >"$scenario_dir/secrets/v2.env"
    chmod 600 "$scenario_dir/secrets/v1.env" "$scenario_dir/secrets/v2.env"
    writes_refused=0
    writes_total=0
    if ! relay_start "$scenario_dir"; then
        check_fail "$scenario: meter-relay starts"
        return 1
    fi
    eventually_deadline=$((SECONDS + scenario_wait))
}

# relay_write PATH BODY: one write to the relay; a refusal is reported by writes_check.
relay_write() {
    local code
    code=$(curl -s -o "$work_dir/write.body" -w '%{http_code}' -XPOST --data-binary "$2" "$relay_url$1")
    writes_total=$((writes_total + 1))
    if [ "$code" != 204 ]; then
        writes_refused=$((writes_refused + 1))
        echo "       write $1 answered $code: $(head -c 200 "$work_dir/write.body")"
    fi
}

writes_check() {
    expect_equal "$scenario: the relay accepted all $writes_total writes" 0 "$writes_refused"
}

# The fake's view, as text for one comparison each.
# fake_lines: the lines it stored (answered 2xx), in arrival order.
fake_lines() { fault_upstream_lines | json_eval 'd.join("\n")'; }
# fake_attempts: one row per request: answer (status, or the misbehaviour), line count, and the
# first line's measurement and tags.
fake_attempts() {
    # shellcheck disable=SC2016 # a JavaScript template literal
    fault_upstream_requests | json_eval 'd.map((r) => {
        const lines = (r.body ?? "").split("\n").filter((l) => l !== "");
        return `${r.status ?? r.action} ${lines.length} ${(lines[0] ?? "").split(" ")[0]}`;
    }).join("\n")'
}
fake_attempt_count() { fault_upstream_requests | json_eval 'd.length'; }
# fake_timing: one row per request: "arrival answered" in ms since the first arrival.
fake_timing() {
    # shellcheck disable=SC2016 # a JavaScript template literal
    fault_upstream_requests | json_eval 'd.map((r) =>
        `${Math.round(r.time_ms - d[0].time_ms)} ${r.ended_ms === null ? "open" : Math.round(r.ended_ms - d[0].time_ms)}`).join("\n")'
}
# fake_wait_requests N: waits (within the scenario's wait) until the fake has seen N requests.
fake_wait_requests() {
    while [ "$(fake_attempt_count)" -lt "$1" ] && [ "$SECONDS" -lt "$eventually_deadline" ]; do
        sleep 0.05
    done
    [ "$(fake_attempt_count)" -ge "$1" ]
}

# gap_check DESCRIPTION FROM TO MIN MAX: request TO (1-based) arrived between MIN and MAX ms
# after request FROM was answered.
gap_check() {
    local gap
    gap=$(fault_upstream_requests | json_eval "d[$3 - 1] && d[$2 - 1]?.ended_ms != null ? Math.round(d[$3 - 1].time_ms - d[$2 - 1].ended_ms) : 'none'")
    if [[ "$gap" =~ ^-?[0-9]+$ ]] && [ "$gap" -ge "$4" ] && [ "$gap" -le "$5" ]; then
        check_pass "$1 ($gap ms)"
    else
        check_fail "$1" "expected $4 to $5 ms between the answer to request $2 and request $3, got: $gap" \
            "requests (arrival answered, ms):" "$(fake_timing | tr '\n' ' ')"
    fi
}

# spool_lines: every line in the relay's spool, in sequence order.
spool_lines() { "$BIN_DIR/meter-relay" spool-dump "$scenario_dir/spool" | grep -v '^# seq='; }

# dlq_entries: one row per dead letter of the stopped relay's spool: upstream, status and line
# count from `dlq list`, then the lines from `dlq show`, joined by "|".
dlq_entries() {
    local id rest
    "$BIN_DIR/meter-relay" dlq list "$scenario_dir/spool" 2>&1 | while read -r id rest; do
        echo "$(cut -d' ' -f1-3 <<<"$rest") $("$BIN_DIR/meter-relay" dlq show "$scenario_dir/spool" "$id" 2>&1 |
            grep -v '^# seq=' | paste -sd'|')"
    done
}

metric_check() {
    eventually "$scenario: $1" "$2" relay_metric "$3"
}

# --- 2xx ---------------------------------------------------------------------------------------
scenario_start wire "$(upstream_yaml v1 credentials=v1.env)
$(upstream_yaml v2 api=v2 org=home-org credentials=v2.env gzip=false 'routing={garden: garden_bucket}')"
relay_write '/write?db=garden' 'wire,k=1 n=1i 1700000000000000001'
relay_write '/write?db=home&rp=rp1' $'wire,k=2 n=2i 1700000000000000002\nwire,k=2 n=22i 1700000000000000022'
relay_write '/api/v2/write?org=client-org&bucket=plain' 'wire,k=3 n=3i 1700000000000000003'
relay_write '/api/v2/write?org=client-org&bucket=cellar%2Fshort' 'wire,k=4 n=4i 1700000000000000004'
relay_write '/write?db=garden' 'wire,k=5,room=living\ room\,east note="say \"hi\"",n=5i 1700000000000000005'
relay_write '/write?db=garden' 'wire,k=6 n=6i'
writes_check
if ! fake_wait_requests 1; then
    check_fail "the relay forwards to the fake upstream" \
        "no request reached the fake within ${scenario_wait} s; every other scenario needs delivery, so the test stops here" \
        "relay log: $(tail -n 5 "$relay_log")"
    finish
    exit
fi
spooled=$(spool_lines)
expect_equal "wire: the spool holds the 7 lines" 7 "$(grep -c . <<<"$spooled")"
# wire_view PATH: per stored line "query line" for the requests on PATH, the query sorted.
wire_view() {
    fault_upstream_requests | json_eval "d.filter((r) => r.path === '$1' && r.stored).flatMap((r) => {
        const query = Object.keys(r.query).sort().map((k) => k + '=' + r.query[k]).join('&');
        return r.body.split('\n').filter((l) => l !== '').map((l) => query + ' ' + l);
    }).join('\n')"
}
# The spooled lines in order with the query each upstream must use for them.
v1_queries=('db=garden&precision=ns' 'db=home&precision=ns&rp=rp1' 'db=home&precision=ns&rp=rp1'
    'db=plain&precision=ns' 'db=cellar&precision=ns&rp=short' 'db=garden&precision=ns' 'db=garden&precision=ns')
v2_queries=('bucket=garden_bucket&org=home-org&precision=ns' 'bucket=home/rp1&org=home-org&precision=ns'
    'bucket=home/rp1&org=home-org&precision=ns' 'bucket=plain&org=home-org&precision=ns'
    'bucket=cellar/short&org=home-org&precision=ns' 'bucket=garden_bucket&org=home-org&precision=ns'
    'bucket=garden_bucket&org=home-org&precision=ns')
mapfile -t spooled_lines <<<"$spooled"
v1_expected=$(for i in "${!spooled_lines[@]}"; do echo "${v1_queries[$i]} ${spooled_lines[$i]}"; done)
v2_expected=$(for i in "${!spooled_lines[@]}"; do echo "${v2_queries[$i]} ${spooled_lines[$i]}"; done)
eventually "wire: v1 /write: db and rp per record, lines byte-identical to the spool, in order" \
    "$v1_expected" wire_view /write
eventually "wire: v2 /api/v2/write: org from the config, bucket by routing, else db[/rp]" \
    "$v2_expected" wire_view /api/v2/write
# wire_headers PATH: the distinct "content-encoding|expect|authorization|body ends in \n" of the
# requests on PATH: one row means the same on every request.
wire_headers() {
    fault_upstream_requests | json_eval "[...new Set(d.filter((r) => r.path === '$1').map((r) =>
        [r.headers['content-encoding'] ?? '-', JSON.stringify(r.headers.expect ?? null),
         r.headers.authorization ?? '-', r.body.endsWith('\n')].join('|')))].join('\n')"
}
# curl's empty "Expect:" removes the header: no 100-continue round trip before each batch.
expect_equal "wire: v1: gzip, no Expect, Basic auth, whole lines" \
    "gzip|null|Basic $(printf 'relay-user:relay-pass' | base64)|true" "$(wire_headers /write)"
expect_equal "wire: v2 (gzip: false): plain, no Expect, Token auth, whole lines" \
    "-|null|Token relay-token|true" "$(wire_headers /api/v2/write)"
# Both upstreams talk to the same server, so libcurl's connection cache may hand a kept-alive
# connection from one to the other: at most one connection per upstream, never one per request.
expect_equal "wire: keep-alive: at most 2 connections for $(fault_upstream_requests | json_eval d.length) requests" \
    true "$(fault_upstream_requests | json_eval 'new Set(d.map((r) => r.connection)).size <= 2')"
expect_equal "wire: one request in flight per upstream (none sent before the previous was answered)" \
    "0 0" "$(fault_upstream_requests | json_eval "['/write', '/api/v2/write'].map((path) => {
        const list = d.filter((r) => r.path === path);
        return list.filter((r, i) => i > 0 && (list[i - 1].ended_ms === null || r.time_ms < list[i - 1].ended_ms)).length;
    }).join(' ')")"
for upstream in v1 v2; do
    eventually "wire: /metrics $upstream: state ok, 6 records and 7 lines sent, backlog 0" "1 6 7 0 0" \
        metric_row "$upstream" state sent_records_total sent_lines_total backlog_records backlog_bytes
done

# --- database names as clients spell them ------------------------------------------------------
# Spaces, '&', '/', umlauts and an emoji reach both upstreams URL-encoded and whole; so does a
# name longer than 1 KiB (the spool keeps up to 64 KiB), which a v2 upstream once got cut to its
# first 1023 bytes: another bucket.
scenario_start names "$(upstream_yaml v1 credentials=v1.env)
$(upstream_yaml v2 api=v2 org=home-org credentials=v2.env gzip=false)"
long_name=$(printf 'd%.0s' $(seq 1 1100))
relay_write "/write?db=$long_name" 'names,k=1 n=1i 1700000000000000001'
relay_write '/write?db=Z%C3%A4hler%20%26%20%F0%9F%94%A5&rp=r%20p' 'names,k=2 n=2i 1700000000000000002'
relay_write '/api/v2/write?org=o&bucket=K%C3%BCche%2Fr%2Fp' 'names,k=3 n=3i 1700000000000000003'
writes_check
# names_view PATH: per stored line "query line", the query sorted, a long value as its length.
names_view() {
    fault_upstream_requests | json_eval "d.filter((r) => r.path === '$1' && r.stored).flatMap((r) => {
        const query = Object.keys(r.query).sort().map((k) => k + '=' +
            (r.query[k].length > 100 ? r.query[k].length + ' bytes of ' + r.query[k][0] : r.query[k])).join('&');
        return r.body.split('\\n').filter((l) => l !== '').map((l) => query + ' ' + l);
    }).join('\\n')"
}
eventually "names: v1: db and rp whole" "db=1100 bytes of d&precision=ns names,k=1 n=1i 1700000000000000001
db=Zähler & 🔥&precision=ns&rp=r p names,k=2 n=2i 1700000000000000002
db=Küche&precision=ns&rp=r/p names,k=3 n=3i 1700000000000000003" names_view /write
eventually "names: v2: the bucket whole" "bucket=1100 bytes of d&org=home-org&precision=ns names,k=1 n=1i 1700000000000000001
bucket=Zähler & 🔥/r p&org=home-org&precision=ns names,k=2 n=2i 1700000000000000002
bucket=Küche/r/p&org=home-org&precision=ns names,k=3 n=3i 1700000000000000003" names_view /api/v2/write

# --- 400, 422, rejecting bodies ----------------------------------------------------------------
# Each poisoned batch answers after 300 ms (its round trip); the batch behind it must follow
# within that plus slack, never after a backoff. A hold at the start lets every write queue up.
scenario_start poison "$(upstream_yaml fake backoff_initial=2s backoff_max=10s)"
poisons=('400|{"error":"bad request: invalid input"}'
    '422|{"code":"unprocessable entity","message":"failure writing points"}'
    '500|{"error":"partial write: field type conflict: input field \"n\" on measurement \"poison\" is type float, already exists as type integer dropped=1"}'
    '500|{"error":"unable to parse '"'"'poison k=4'"'"': invalid number"}'
    '500|{"error":"points beyond retention policy dropped=1"}'
    '500|{"error":"retention policy not found: autogn"}')
fault_upstream_script "[{\"match\":\"hold\",\"delay_ms\":1500}$(for i in "${!poisons[@]}"; do
    printf ',{"match":"poison,k=%d ","status":%s,"body":%s,"delay_ms":300}' \
        "$((i + 1))" "${poisons[$i]%%|*}" "${poisons[$i]#*|}"
done)]" >/dev/null
relay_write '/write?db=hold' 'hold n=0i 1700000000000000000'
fake_wait_requests 1
expected_attempts="204 1 hold"
expected_lines="hold n=0i 1700000000000000000"
for i in "${!poisons[@]}"; do
    k=$((i + 1))
    relay_write "/write?db=p$k" "poison,k=$k n=${k}i 170000000000000000$k"
    relay_write "/write?db=a$k" "after,k=$k n=${k}i 170000000000000000$k"
    expected_attempts+=$'\n'"${poisons[$i]%%|*} 1 poison,k=$k"$'\n'"204 1 after,k=$k"
    expected_lines+=$'\n'"after,k=$k n=${k}i 170000000000000000$k"
done
writes_check
eventually "poison: each poisoned batch sent once, each next batch delivered" "$expected_attempts" \
    fake_attempts
eventually "poison: the fake stored exactly the good batches, in order" "$expected_lines" fake_lines
for i in "${!poisons[@]}"; do
    gap_check "poison: batch after the ${poisons[$i]%%|*} ($(cut -c 1-40 <<<"${poisons[$i]#*|}")) follows its answer at once" \
        $((2 * i + 2)) $((2 * i + 3)) 0 "$slack_ms"
done
metric_check "dead-lettered records counted" "${#poisons[@]}" 'nebenkosten_upstream_dead_lettered_records_total{upstream="fake"}'
metric_check "state ok" 1 'nebenkosten_upstream_state{upstream="fake",state="ok"}'
metric_check "backlog 0" 0 'nebenkosten_upstream_backlog_records{upstream="fake"}'
relay_stop
expected_dlq=""
for i in "${!poisons[@]}"; do
    k=$((i + 1))
    expected_dlq+="upstream=fake status=${poisons[$i]%%|*} lines=1 poison,k=$k n=${k}i 170000000000000000$k"$'\n'
done
expect_equal "poison: dlq list/show: every rejected batch with upstream, status and lines" \
    "${expected_dlq%$'\n'}" "$(dlq_entries)"

# A batch dead-lettered after a backoff ends the backoff: with nothing behind it, /health and
# /metrics must not go on saying "backing off".
scenario_start poison-after-backoff "$(upstream_yaml fake backoff_initial=100ms backoff_max=200ms)"
fault_upstream_script '[{"status":500,"body":{"error":"internal error"}},
    {"status":400,"body":{"error":"bad request: invalid input"}}]' >/dev/null
relay_write '/write?db=a' 'rejected n=1i 1700000000000000001'
writes_check
eventually "poison-after-backoff: 500, then 400" $'500 1 rejected\n400 1 rejected' fake_attempts
metric_check "dead-lettered" 1 \
    'nebenkosten_upstream_dead_lettered_records_total{upstream="fake"}'
metric_check "state ok again" 1 'nebenkosten_upstream_state{upstream="fake",state="ok"}'

# A rejected batch the dead-letter directory cannot take (here spool/dlq is a file) is sent again
# until it can, and nothing behind it goes: /health and /metrics must say so, not "delivering".
scenario_start dlq-unwritable "$(upstream_yaml fake)"
: >"$scenario_dir/spool/dlq"
fault_upstream_script '[{"match":"rejected","status":400,"body":{"error":"bad request"},"repeat":-1}]' >/dev/null
relay_write '/write?db=a' 'rejected n=1i 1700000000000000001'
relay_write '/write?db=b' 'behind n=2i 1700000000000000002'
writes_check
fake_wait_requests 1
metric_check "/metrics: not ok while the batch cannot be dead-lettered" 0 \
    'nebenkosten_upstream_state{upstream="fake",state="ok"}'
health_message() {
    curl -s "$relay_url/health" | json_eval 'd.checks.find((c) => c.name === "upstream:fake").message'
}
eventually "dlq-unwritable: /health says why nothing moves" \
    "backing off: cannot store a batch the upstream rejected (HTTP 400) in the dead-letter directory; 2 records waiting" \
    eval 'health_message | sed "s/directory:.*;/directory;/"'
rm "$scenario_dir/spool/dlq"
metric_check "dead-lettered once the directory takes it" 1 \
    'nebenkosten_upstream_dead_lettered_records_total{upstream="fake"}'
eventually "dlq-unwritable: the batch behind it delivered" 'behind n=2i 1700000000000000002' fake_lines
metric_check "ok again" 1 'nebenkosten_upstream_state{upstream="fake",state="ok"}'

# --- 401, 403, 404 -----------------------------------------------------------------------------
for status in 401 403 404; do
    scenario_start "paused-$status" "$(upstream_yaml fake)"
    fault_upstream_script "[{\"status\":$status,\"body\":{\"error\":\"answer $status\"},\"repeat\":2}]" >/dev/null
    relay_write '/write?db=a' "paused,s=$status n=1i 1700000000000000001"
    relay_write '/write?db=b' "paused,s=$status n=2i 1700000000000000002"
    writes_check
    fake_wait_requests 1
    metric_check "/metrics shows the upstream paused" 1 \
        'nebenkosten_upstream_state{upstream="fake",state="paused"}'
    eventually "$scenario: the first batch retried until answered, never skipped" \
        "$status 1 paused,s=$status"$'\n'"$status 1 paused,s=$status"$'\n'"204 1 paused,s=$status"$'\n'"204 1 paused,s=$status" \
        fake_attempts
    eventually "$scenario: both delivered in order once fixed" \
        "paused,s=$status n=1i 1700000000000000001"$'\n'"paused,s=$status n=2i 1700000000000000002" fake_lines
    gap_check "$scenario: retried after pause_retry (1 s)" 1 2 $((1000 - slack_ms)) $((1000 + slack_ms))
    gap_check "$scenario: and again after pause_retry" 2 3 $((1000 - slack_ms)) $((1000 + slack_ms))
    metric_check "ok again" 1 'nebenkosten_upstream_state{upstream="fake",state="ok"}'
    metric_check "nothing dead-lettered" 0 'nebenkosten_upstream_dead_lettered_records_total{upstream="fake"}'
done

# --- 413 ---------------------------------------------------------------------------------------
# Eight one-line records queue behind a hold and go out as one batch: 413 twice halves it (8, 4
# lines). The "huge" record (three lines, not divisible) is first sent with the record behind it
# (4 lines), then alone (3 lines), then dead-lettered; the record behind it is delivered.
scenario_start too-large "$(upstream_yaml fake)"
# hold's answer waits until the eleven writes behind it are spooled, so the big records form one
# batch (1.5 s was too short once on a loaded machine: a batch of 7, then one of 1).
fault_upstream_script '[{"match":"hold","delay_ms":4000},
    {"match":"big,","status":413,"body":{"error":"Request Entity Too Large"},"repeat":2},
    {"match":"huge,","status":413,"body":{"error":"Request Entity Too Large"},"repeat":-1}]' >/dev/null
relay_write '/write?db=hold' 'hold n=0i 1700000000000000000'
fake_wait_requests 1
big_lines=""
for k in 1 2 3 4 5 6 7 8; do
    relay_write '/write?db=big' "big,k=$k n=${k}i 170000000000000000$k"
    big_lines+="big,k=$k n=${k}i 170000000000000000$k"$'\n'
done
relay_write '/write?db=h' $'huge,k=1 n=1i 1700000000000000001\nhuge,k=2 n=2i 1700000000000000002\nhuge,k=3 n=3i 1700000000000000003'
relay_write '/write?db=h' 'tail n=1i 1700000000000000009'
writes_check
eventually "too-large: all big records and the tail delivered once, in order; huge not" \
    "hold n=0i 1700000000000000000"$'\n'"${big_lines}tail n=1i 1700000000000000009" fake_lines
attempts=$(fake_attempts)
expect_equal "too-large: the 413 batch halved (8 lines, then 4)" $'413 8 big,k=1\n413 4 big,k=1' \
    "$(grep '^413 [0-9]* big,' <<<"$attempts")"
expect_equal "too-large: huge with the tail (4 lines), alone (3 lines), then never again" \
    $'413 4 huge,k=1\n413 3 huge,k=1\n204 1 tail' "$(grep -E 'huge,|tail' <<<"$attempts")"
metric_check "one record dead-lettered" 1 'nebenkosten_upstream_dead_lettered_records_total{upstream="fake"}'
relay_stop
expect_equal "too-large: dlq list/show: the huge record with its 413" \
    "upstream=fake status=413 lines=3 huge,k=1 n=1i 1700000000000000001|huge,k=2 n=2i 1700000000000000002|huge,k=3 n=3i 1700000000000000003" \
    "$(dlq_entries)"

# --- 429, 503 ----------------------------------------------------------------------------------
scenario_start retry-after "$(upstream_yaml fake)"
fault_upstream_script '[{"status":429,"headers":{"Retry-After":"2"},"body":{"error":"too many requests"}},
    {"status":503,"headers":{"Retry-After":"1"},"body":{"error":"unavailable"}},
    {"status":503,"body":{"error":"unavailable"}}]' >/dev/null
relay_write '/write?db=a' 'limited n=1i 1700000000000000001'
writes_check
fake_wait_requests 1
metric_check "/metrics shows backoff while waiting for Retry-After" 1 \
    'nebenkosten_upstream_state{upstream="fake",state="backoff"}'
eventually "retry-after: 429, 503, 503, then delivered" \
    $'429 1 limited\n503 1 limited\n503 1 limited\n204 1 limited' fake_attempts
gap_check "retry-after: 429 with Retry-After: 2 -> next attempt 2 s later" 1 2 1990 $((2000 + slack_ms))
gap_check "retry-after: 503 with Retry-After: 1 -> next attempt 1 s later" 2 3 990 $((1000 + slack_ms))
gap_check "retry-after: 503 without Retry-After -> backoff (at most backoff_max 1 s)" 3 4 0 $((1000 + slack_ms))
metric_check "three retries counted" 3 'nebenkosten_upstream_retries_total{upstream="fake"}'

# Retry-After may also be an HTTP-date (RFC 9110 10.2.3): the next attempt waits until then.
scenario_start retry-after-date "$(upstream_yaml fake backoff_initial=100ms backoff_max=500ms)"
retry_date=$(LC_ALL=C TZ=GMT date -d '+4 seconds' '+%a, %d %b %Y %H:%M:%S GMT')
fault_upstream_script "[{\"status\":503,\"headers\":{\"Retry-After\":\"$retry_date\"},
    \"body\":{\"error\":\"unavailable\"}}]" >/dev/null
relay_write '/write?db=a' 'dated n=1i 1700000000000000001'
writes_check
eventually "retry-after-date: 503, then delivered" $'503 1 dated\n204 1 dated' fake_attempts
# The date is 4 s ahead at a resolution of 1 s: at least 3 s.
gap_check "retry-after-date: 503 with Retry-After: <date 4 s ahead> -> next attempt then" 1 2 2900 \
    $((4000 + slack_ms))

# --- 500: exponential backoff, full jitter, no limit -------------------------------------------
# Attempt k waits a random time up to min(backoff_max, backoff_initial * 2^k).
scenario_start backoff "$(upstream_yaml fake backoff_initial=100ms backoff_max=400ms)"
fault_upstream_script '[{"status":500,"body":{"error":"internal error"},"repeat":8}]' >/dev/null
relay_write '/write?db=a' 'flaky n=1i 1700000000000000001'
writes_check
eventually "backoff: eight 500s, then delivered" \
    "$(printf '500 1 flaky\n%.0s' 1 2 3 4 5 6 7 8)"$'\n204 1 flaky' fake_attempts
for k in 0 1 2 3 4 5 6 7; do
    cap=$((100 << k))
    [ "$cap" -gt 400 ] && cap=400
    gap_check "backoff: retry $((k + 1)) within its cap of $cap ms" $((k + 1)) $((k + 2)) 0 $((cap + slack_ms))
done
total=$(fault_upstream_requests | json_eval 'd.length === 9 ? Math.round(d[8].time_ms - d[0].ended_ms) : "none"')
if [[ "$total" =~ ^[0-9]+$ ]] && [ "$total" -ge 100 ]; then
    check_pass "backoff: waits in between ($total ms for 8 retries)"
else
    check_fail "backoff: waits in between" "8 retries took $total ms; expected >= 100 (mean 1350)"
fi
metric_check "eight retries counted" 8 'nebenkosten_upstream_retries_total{upstream="fake"}'
state_logs=$(grep -c '"fake"' "$relay_log")
if [ "$state_logs" -lt 8 ]; then check_pass "backoff: state changes logged, not every retry ($state_logs lines)"; else
    check_fail "backoff: state changes logged, not every retry" \
        "$state_logs log lines name the upstream for 8 failed attempts"
fi

# --- hang, reset, cut-off answer ---------------------------------------------------------------
scenario_start hang "$(upstream_yaml fake request_timeout=1s)"
fault_upstream_script '[{"action":"hang"}]' >/dev/null
relay_write '/write?db=a' 'slow n=1i 1700000000000000001'
writes_check
eventually "hang: retried after the hung request, then delivered" $'hang 1 slow\n204 1 slow' fake_attempts
round_trip=$(fault_upstream_requests | json_eval 'd[0]?.ended_ms != null ? Math.round(d[0].ended_ms - d[0].time_ms) : "open"')
if [[ "$round_trip" =~ ^[0-9]+$ ]] && [ "$round_trip" -ge 900 ] && [ "$round_trip" -le $((1000 + slack_ms)) ]; then
    check_pass "hang: the relay gave up after request_timeout ($round_trip ms)"
else
    check_fail "hang: the relay gave up after request_timeout" "expected about 1000 ms, got: $round_trip"
fi
expect_equal "hang: the retry uses a new connection" different \
    "$(fault_upstream_requests | json_eval 'd.length < 2 ? "one request" : d[0].connection === d[1].connection ? "same" : "different"')"

scenario_start reset "$(upstream_yaml fake)"
fault_upstream_script '[{"action":"reset"},{"action":"close_after_headers","status":200}]' >/dev/null
relay_write '/write?db=a' 'dropped n=1i 1700000000000000001'
writes_check
eventually "reset: retried after a reset and after an answer cut short, then delivered" \
    $'reset 1 dropped\n200 1 dropped\n204 1 dropped' fake_attempts
eventually "reset: stored once" 'dropped n=1i 1700000000000000001' fake_lines

# --- order through failures --------------------------------------------------------------------
# 30 records in runs of one routing (so batches hold several records) while the fake fails every
# other request in a different way: what it stores is what was written, in order, once.
scenario_start order "$(upstream_yaml fake backoff_initial=50ms backoff_max=200ms)"
fault_upstream_script '[{"status":500},{},{"action":"reset"},{},{"status":503,"headers":{"Retry-After":"1"}},{},
    {"status":429},{},{"status":500},{"status":502},{}]' >/dev/null
written=""
for k in $(seq 1 30); do
    db=a
    [ "$k" -gt 10 ] && [ "$k" -le 20 ] && db=b
    line="order,run=$db n=${k}i $((1700000000000000000 + k))"
    relay_write "/write?db=$db" "$line"
    written+=$line$'\n'
done
writes_check
eventually "order: stored lines are the written ones, in order, once" "${written%$'\n'}" fake_lines
expect_equal "order: one request in flight at any time" 0 \
    "$(fault_upstream_requests | json_eval 'd.filter((r, i) => i > 0 && (d[i - 1].ended_ms === null || r.time_ms < d[i - 1].ended_ms)).length')"

# --- batches compressed ahead ------------------------------------------------------------------
# A slow upstream (150 ms an answer) and a backlog of small batches: the relay compresses the next
# batch while one is in flight, and a 500 and a 413 in between make it choose again. What arrives
# is still what was written, in order, once, one request at a time. The first answer takes 3 s,
# so the 40 writes are a backlog of full batches by then: a 413 on a batch that happened to hold
# one record (the writes racing the answers on a loaded machine) is dead-lettered, as it must be.
scenario_start ahead "$(upstream_yaml fake batch_lines=4 backoff_initial=50ms backoff_max=200ms)"
fault_upstream_default '{"delay_ms":150}' >/dev/null
fault_upstream_script '[{"delay_ms":3000},{"delay_ms":150},{"status":500},{"delay_ms":150},
    {"status":413},{"delay_ms":150}]' >/dev/null
written=""
for k in $(seq 1 40); do
    db=a
    [ $(((k - 1) / 7 % 2)) -eq 1 ] && db=b
    line="ahead,run=$db n=${k}i $((1700000000000000000 + k))"
    relay_write "/write?db=$db" "$line"
    written+=$line$'\n'
done
writes_check
eventually "ahead: stored lines are the written ones, in order, once" "${written%$'\n'}" fake_lines
expect_equal "ahead: one request in flight at any time" 0 \
    "$(fault_upstream_requests | json_eval 'd.filter((r, i) => i > 0 && (d[i - 1].ended_ms === null || r.time_ms < d[i - 1].ended_ms)).length')"

# --- a backlog of single-line records -----------------------------------------------------------
# Meter devices send one line per request, so after an outage a 5000-line batch is 5000 records.
# The forwarder once dropped one record each time the routing it buffered for them passed 64 KiB
# (about 3900 records of db=backlog): acknowledged points lost without a trace.
backlog_records=12000
scenario_start backlog "$(upstream_yaml fake)"
fault_upstream_default '{"status":503,"headers":{"Retry-After":"1"},"body":{"error":"down"}}' >/dev/null
# One curl, 32 connections at a time: one request per record, each acknowledged after its commit.
for n in $(seq 1 "$backlog_records"); do
    [ "$n" -gt 1 ] && echo next
    printf 'url = "%s/write?db=backlog"\ndata-binary = "backlog,meter=m%d n=%di %d"\n' \
        "$relay_url" $((n % 7)) "$n" $((1700000000000000000 + n))
    printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
done >"$work_dir/backlog.curl"
expect_equal "backlog: the relay acknowledged all $backlog_records single-line writes" \
    "$backlog_records 204" "$(curl -s --no-progress-meter -Z --parallel-max 32 -K "$work_dir/backlog.curl" |
        sort | uniq -c | awk '{ print $1, $2 }' | paste -sd' ')"
spooled=$(spool_lines)
expect_equal "backlog: the spool holds $backlog_records records" "$backlog_records" "$(grep -c . <<<"$spooled")"
fault_upstream_default '{}' >/dev/null
eventually_deadline=$((SECONDS + scenario_wait))
# "count checksum" of lines, so that a failure prints two short rows and the missing lines.
lines_digest() {
    local text
    text=$(cat)
    echo "$(grep -c . <<<"$text") $(md5sum <<<"$text" | cut -d' ' -f1)"
}
fake_digest() { fake_lines | tee "$work_dir/backlog.delivered" | lines_digest; }
eventually "backlog: every record delivered once, in spool order" \
    "$(lines_digest <<<"$spooled")" fake_digest
if ! diff -q <(echo "$spooled") "$work_dir/backlog.delivered" >/dev/null; then
    echo "       first lines of the spool missing upstream:" \
        "$(comm -23 <(sort <<<"$spooled") <(sort "$work_dir/backlog.delivered") | head -n 5 | paste -sd' ')"
fi
metric_check "/metrics shows $backlog_records records sent" "$backlog_records" \
    'nebenkosten_upstream_sent_records_total{upstream="fake"}'

# --- batch_wait ----------------------------------------------------------------------------------
# Meter readings one per request, every 100 ms, to an upstream that answers at once: the first
# finds the upstream idle and goes at once; each later batch waits until batch_wait (2 s here)
# has passed since the request before it, so 30 readings arrive as a few batches, not 30. A
# reading after a quiet spell goes at once again.
scenario_start batch-wait "$(upstream_yaml fake batch_wait=2s)"
written=""
for n in $(seq 1 30); do
    line="wait,meter=m n=${n}i $((1700000000000000000 + n))"
    relay_write '/write?db=wait' "$line"
    written+="${written:+$'\n'}$line"
    sleep 0.1
done
writes_check
eventually "batch-wait: every reading delivered once, in order" "$written" fake_lines
expect_equal "batch-wait: the first reading alone, at once; then a few large batches" "1 true" \
    "$(fault_upstream_requests | json_eval '`${d[0].body.split("\n").filter((l) => l).length} ${d.length <= 4}`')"
for ((i = 2; i <= $(fake_attempt_count); i++)); do
    gap=$(fault_upstream_requests | json_eval "Math.round(d[$i - 1].time_ms - d[$i - 2].time_ms)")
    if [ "$gap" -ge 1950 ]; then
        check_pass "batch-wait: request $i sent $gap ms after the one before (batch_wait 2 s)"
    else
        check_fail "batch-wait: request $i sent $gap ms after the one before, sooner than batch_wait (2 s)" \
            "requests (arrival answered, ms):" "$(fake_timing | tr '\n' ' ')"
    fi
done
sleep 2.2
requests_before=$(fake_attempt_count)
started_ns=$(date +%s%N)
relay_write '/write?db=wait' "wait,meter=m n=31i 1700000000000000031"
fake_wait_requests $((requests_before + 1))
waited_ms=$((($(date +%s%N) - started_ns) / 1000000))
if [ "$waited_ms" -lt 1000 ]; then
    check_pass "batch-wait: a reading after a quiet spell delivered at once ($waited_ms ms)"
else
    check_fail "batch-wait: a reading after a quiet spell took $waited_ms ms to reach the upstream" \
        "(less than 1000 ms expected: batch_wait counts from the request before)"
fi

# --- a rewrite of a point in flight ----------------------------------------------------------------
# With several requests allowed in flight, the batch sent while none was in flight carries its
# points' keys too, so a rewrite of its point waits for its answer. (It once carried the keys of
# an earlier batch, or none, and the rewrite went beside it and could land first.)
scenario_start rewrite "$(upstream_yaml fake requests_in_flight=2 batch_wait=0)"
fault_upstream_script '[{"delay_ms":1000}]' >/dev/null
relay_write '/write?db=a' 'rewrite,run=a n=1i 1700000000000000001'
fake_wait_requests 1
relay_write '/write?db=a' 'rewrite,run=a n=2i 1700000000000000001'
writes_check
eventually "rewrite: both writes stored, the rewrite last" \
    $'rewrite,run=a n=1i 1700000000000000001\nrewrite,run=a n=2i 1700000000000000001' fake_lines
gap_check "rewrite: sent only once the first write was answered" 1 2 0 "$slack_ms"

# InfluxDB sorts a point's tags and reads its timestamp as a number: the same point written with
# its tags in another order, or with a leading zero in its time, must wait for the first write too.
scenario_start rewrite-spelt "$(upstream_yaml fake requests_in_flight=2 batch_wait=0)"
fault_upstream_script '[{"delay_ms":1000}, {"delay_ms":1000}]' >/dev/null
relay_write '/write?db=a' 'rewrite,a=1,b=2 n=1i 1700000000000000001'
fake_wait_requests 1
relay_write '/write?db=a' 'rewrite,b=2,a=1 n=2i 1700000000000000001'
fake_wait_requests 2
relay_write '/write?db=a' 'rewrite,b=2,a=1 n=3i 01700000000000000001'
writes_check
eventually "rewrite-spelt: the three writes stored in order" \
    $'rewrite,a=1,b=2 n=1i 1700000000000000001\nrewrite,b=2,a=1 n=2i 1700000000000000001\nrewrite,b=2,a=1 n=3i 01700000000000000001' \
    fake_lines
gap_check "rewrite-spelt: tags in another order sent only once the first write was answered" \
    1 2 0 "$slack_ms"
gap_check "rewrite-spelt: a leading zero in the time sent only once the second was answered" \
    2 3 0 "$slack_ms"

# --- several batches in flight -----------------------------------------------------------------
# requests_in_flight: 3 against a slow upstream (1.5 s an answer, 150 ms for the scripted ones),
# batches of 4 lines, every sixth line a rewrite of the point written five lines before: batches
# without a point in common go out together, a batch that rewrites a point waits for the batch
# with the earlier write, and a 500 and a 413 in between send their batches again. Every line is
# stored once and every point ends with its last written value, as one request at a time would
# leave it.
scenario_start concurrent "$(upstream_yaml fake batch_lines=4 requests_in_flight=3 \
    backoff_initial=50ms backoff_max=200ms)"
# (The 413 waits for a late line in a batch of several records: a single record answered 413 is
# dead-lettered. With 150 ms answers a slot was sometimes free just as line 40 arrived, and it went
# alone; at 1.5 s an answer the three slots take at most 8 records a second, fewer than the
# writes bring, so the backlog grows and every batch after the first three holds 4 records.)
fault_upstream_default '{"delay_ms":1500}' >/dev/null
fault_upstream_script '[{"delay_ms":150},{"delay_ms":150},{"status":500,"delay_ms":100},
    {"delay_ms":150},{"status":413,"match":"n=40i"},{"delay_ms":150}]' >/dev/null
written=""
for k in $(seq 1 48); do
    time=$((1700000000000000000 + k))
    [ $((k % 6)) -eq 0 ] && time=$((time - 5))
    line="concurrent,run=a n=${k}i $time"
    relay_write "/write?db=a" "$line"
    written+=$line$'\n'
done
writes_check
# The value each timestamp ends with, taking lines in order (JSON array of lines in, text out).
last_values() {
    json_eval '(() => {
  const last = new Map();
  for (const line of d) { const words = line.split(" "); last.set(words[2], words[1]); }
  return [...last.entries()].sort().map((entry) => entry.join(" ")).join("\n");
})()'
}
sorted_lines() { fault_upstream_lines | json_eval '[...d].sort().join("\n")'; }
eventually "concurrent: every written line stored once" \
    "$(printf '%s' "$written" | LC_ALL=C sort)" sorted_lines
expect_equal "concurrent: every point has its last written value" \
    "$(printf '%s' "$written" | node -e 'console.log(JSON.stringify(require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean)))' | last_values)" \
    "$(fault_upstream_lines | last_values)"
# "overlapping in_flight_max": requests in flight at the same time that write a point in common,
# and the most requests in flight at once.
# shellcheck disable=SC2016 # JavaScript
in_flight=$(fault_upstream_requests | json_eval '(() => {
const points = (r) =>
  new Set(r.body.split("\n").filter(Boolean).map((l) => { const w = l.split(" "); return w[0] + " " + w[2]; }));
let overlapping = 0, most = 0;
d.forEach((r, i) => {
  let together = 1;
  for (const earlier of d.slice(0, i))
    if (earlier.ended_ms === null || r.time_ms < earlier.ended_ms) {
      together++;
      const theirs = points(earlier);
      if ([...points(r)].some((p) => theirs.has(p))) overlapping++;
    }
  most = Math.max(most, together);
});
return `${overlapping} ${most}`;
})()')
expect_equal "concurrent: no two requests in flight write the same point" 0 "${in_flight% *}"
if [ "${in_flight#* }" -lt 2 ] || [ "${in_flight#* }" -gt 3 ]; then
    check_fail "concurrent: 2 or 3 requests were in flight at once (most: ${in_flight#* })"
else
    check_pass "concurrent: ${in_flight#* } requests were in flight at once"
fi

# --- oldest unsent age -------------------------------------------------------------------------
# The age counts from when the oldest waiting record began to wait, also across a restart: a
# record that arrives at an upstream idle since its last delivery must not look as old as that
# idle time, nor the backlog of an outage look fresh after a restart, nor, after a restart, as
# old as the idle time before the outage (the cursor file's time is when the upstream last
# advanced, 10 s before this record came).
oldest_unsent() { relay_metric 'nebenkosten_upstream_oldest_unsent_seconds{upstream="fake"}'; }
# oldest_unsent_check DESCRIPTION MIN MAX: the age is within MIN..MAX seconds.
oldest_unsent_check() {
    local age
    age=$(oldest_unsent)
    if [[ "$age" =~ ^[0-9]+$ ]] && [ "$age" -ge "$2" ] && [ "$age" -le "$3" ]; then
        check_pass "$1 ($age s)"
    else
        check_fail "$1" "expected $2 to $3 s, got: $age"
    fi
}
scenario_start oldest-unsent "$(upstream_yaml fake backoff_initial=100ms backoff_max=200ms)"
relay_write '/write?db=a' 'idle n=1i 1700000000000000001'
eventually "oldest-unsent: the first record delivered" 'idle n=1i 1700000000000000001' fake_lines
sleep 10
fault_upstream_default '{"status":503,"body":{"error":"unavailable"}}' >/dev/null
relay_write '/write?db=a' 'waiting n=2i 1700000000000000002'
writes_check
fake_wait_requests 2
oldest_unsent_check "oldest-unsent: a record just written to an upstream idle for 10 s" 0 1
sleep 3
oldest_unsent_check "oldest-unsent: the record has waited 3 s" 2 5
relay_stop
relay_start "$scenario_dir" || check_fail "oldest-unsent: meter-relay starts again"
oldest_unsent_check "oldest-unsent: after a restart the backlog is still that old, not the idle time" 3 8
fault_upstream_default '{}' >/dev/null
eventually_deadline=$((SECONDS + scenario_wait)) # the waits above used up the scenario's
eventually "oldest-unsent: delivered once the upstream answers" \
    $'idle n=1i 1700000000000000001\nwaiting n=2i 1700000000000000002' fake_lines
metric_check "no backlog, age 0" 0 'nebenkosten_upstream_oldest_unsent_seconds{upstream="fake"}'

# With two requests in flight, a later batch delivered while the first still waits for its answer
# does not advance the upstream: the first record's age goes on counting.
scenario_start oldest-unsent-in-flight "$(upstream_yaml fake batch_lines=1 requests_in_flight=2 \
    batch_wait=0)"
fault_upstream_script '[{"match":"slow","delay_ms":8000}]' >/dev/null
relay_write '/write?db=a' 'slow n=1i 1700000000000000001'
fake_wait_requests 1
sleep 3
relay_write '/write?db=a' 'quick n=2i 1700000000000000002'
writes_check
metric_check "the later record delivered, the first not yet" 1 \
    'nebenkosten_upstream_sent_records_total{upstream="fake"}'
oldest_unsent_check "oldest-unsent-in-flight: the first record has still waited 3 s" 2 5
metric_check "both delivered" 2 'nebenkosten_upstream_sent_records_total{upstream="fake"}'

relay_stop
fault_upstream_stop
expect_equal "the fake upstream exits 0" 0 "$fault_upstream_exit_status"
finish
