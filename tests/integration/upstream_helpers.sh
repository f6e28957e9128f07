# shellcheck shell=bash
# Helpers for the upstream delivery tests (sourced after lib.sh and relay_helpers.sh).
#
#   eventually DESCRIPTION EXPECTED COMMAND...
#                            reruns COMMAND until it prints EXPECTED, at most until SECONDS
#                            reaches $eventually_deadline; then one check line. The deadline is
#                            shared by a group of checks, so a relay that delivers nothing fails
#                            the whole group within one wait instead of one wait per check.
#   relay_metric SERIES      prints the value of SERIES in the relay's /metrics, or "absent";
#                            SERIES as the relay writes it: name{label="value",...}
#   relay_upstream_metrics NAME
#                            prints the delivery metrics of upstream NAME, one "series value"
#                            per line (the set the contract names), for one comparison
#   metric_row UPSTREAM NAME...
#                            the values of nebenkosten_upstream_NAME{upstream="UPSTREAM"} on one
#                            line; NAME "state" stands for the ok state (1 when ok)
#   spool_timestamp DIR HEAD prints the timestamp the relay gave the spooled line "HEAD <ts>"
#   json_eval EXPRESSION     evaluates a JavaScript expression over `d`, the JSON on stdin;
#                            prints strings as they are, everything else as JSON
#   influxdb_execute STATEMENT
#                            runs an InfluxQL statement that changes InfluxDB (POST /query)

eventually_deadline=0

eventually() {
    local description=$1 expected=$2 actual
    shift 2
    while :; do
        actual=$("$@" 2>&1)
        [ "$actual" == "$expected" ] && break
        [ "$SECONDS" -lt "$eventually_deadline" ] || break
        sleep 0.25
    done
    if [ "$actual" == "$expected" ]; then check_pass "$description"; else
        check_fail "$description" "not so when the wait ended" "expected: $expected" \
            "actual:   $actual"
    fi
}

relay_metric() {
    # shellcheck disable=SC2154 # set by relay_start
    curl -s "$relay_url/metrics" |
        awk -v series="$1" '$1 == series { print $2; found = 1 } END { if (!found) print "absent" }'
}

relay_upstream_metrics() {
    local name=$1 series state
    for state in ok backoff paused; do
        series="nebenkosten_upstream_state{upstream=\"$name\",state=\"$state\"}"
        echo "$series $(relay_metric "$series")"
    done
    for series in sent_records_total sent_lines_total retries_total dead_lettered_records_total \
        backlog_records backlog_bytes oldest_unsent_seconds; do
        series="nebenkosten_upstream_$series{upstream=\"$name\"}"
        echo "$series $(relay_metric "$series")"
    done
}

metric_row() {
    local upstream=$1 name values=()
    shift
    for name in "$@"; do
        if [ "$name" = state ]; then
            values+=("$(relay_metric "nebenkosten_upstream_state{upstream=\"$upstream\",state=\"ok\"}")")
        else
            values+=("$(relay_metric "nebenkosten_upstream_$name{upstream=\"$upstream\"}")")
        fi
    done
    echo "${values[*]}"
}

spool_timestamp() {
    "$BIN_DIR/meter-relay" spool-dump "$1/spool" 2>/dev/null |
        awk -v head="$2" 'index($0, head " ") == 1 && !found { print substr($0, length(head) + 2); found = 1 }'
}

json_eval() {
    # shellcheck disable=SC2016 # a JavaScript template literal
    node -e '
const text = require("fs").readFileSync(0, "utf8");
let d;
try {
  d = JSON.parse(text);
} catch {
  console.log(`not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  process.exit(0);
}
const value = new Function("d", `return (${process.argv[1]});`)(d);
console.log(typeof value === "string" ? value : JSON.stringify(value));' "$1"
}

# Errors come back as 200 with an "error" in the JSON, so the answer is checked too.
influxdb_execute() {
    local answer
    # shellcheck disable=SC2154 # set by influxdb_start
    answer=$(curl -fsS -XPOST "$influxdb_url/query" --data-urlencode "q=$1") || return 1
    [[ "$answer" != *'"error"'* ]] || {
        echo "influxdb_execute $1: $answer" >&2
        return 1
    }
}
