#!/usr/bin/env bash
# meter-relay parse: line protocol in, one JSON object per point or rejected line out.
source "$(dirname "$0")/lib.sh"
relay="$BIN_DIR/meter-relay"

# json_get JSON_LINES EXPRESSION: evaluates EXPRESSION over `lines` (the parsed JSON objects).
json_get() {
    node -e 'const lines = require("fs").readFileSync(0, "utf8").trim().split("\n")
                 .filter((l) => l !== "").map((l) => JSON.parse(l));
             const value = eval(process.argv[1]);
             process.stdout.write(typeof value === "string" ? value : JSON.stringify(value));' \
        "$2" <<<"$1"
}

good='cpu,host=server\ 1,region=eu usage=1.5,count=-3i,total=7u,note="say \"hi\"",up=true 1600000000000000000
# a comment

meter,id=main value=12345.678'
output=$(printf '%s\n' "$good" | "$relay" parse)
status=$?
expect_equal "all good lines: exit status 0" 0 "$status"
expect_equal "one JSON object per point" 2 "$(json_get "$output" 'lines.length')"
expect_equal "measurement" cpu "$(json_get "$output" 'lines[0].measurement')"
expect_equal "tags in input order, unescaped" '[["host","server 1"],["region","eu"]]' \
    "$(json_get "$output" 'lines[0].tags')"
expect_equal "typed fields in input order" \
    '[["usage",{"type":"float","value":1.5}],["count",{"type":"int","value":-3}],["total",{"type":"uint","value":7}],["note",{"type":"string","value":"say \"hi\""}],["up",{"type":"bool","value":true}]]' \
    "$(json_get "$output" 'lines[0].fields')"
expect_equal "time beyond 2^53 is a string" '"1600000000000000000"' \
    "$(json_get "$output" 'JSON.stringify(lines[0].time)')"
expect_equal "missing time is null" null "$(json_get "$output" 'JSON.stringify(lines[1].time)')"
expect_equal "shortest float" 12345.678 "$(json_get "$output" 'lines[1].fields[0][1].value')"

printf '%s\n' "$good" >"$work_dir/good.lp"
from_file=$("$relay" parse "$work_dir/good.lp")
expect_equal "file input gives the same output as stdin" "$output" "$from_file"
expect_equal "- reads stdin" "$output" "$(printf '%s\n' "$good" | "$relay" parse -)"
expect_equal "-c FILE is accepted and ignored" "$output" \
    "$("$relay" -c /nonexistent/config.yaml parse "$work_dir/good.lp")"

mixed=$'a f=1 1\r\nbad\nb f=12x\nc,t=1,t=2 f=1\nd f=2 2'
output=$(printf '%s' "$mixed" | "$relay" parse)
status=$?
expect_equal "a rejected line: exit status 1" 1 "$status"
expect_equal "points and errors in input order" 5 "$(json_get "$output" 'lines.length')"
expect_equal "error object for line 2" \
    '{"line":2,"error":"unable to parse '"'"'bad'"'"': missing fields: expected a space and at least one field (key=value) after the measurement and tags"}' \
    "$(json_get "$output" 'JSON.stringify(lines[1])')"
expect_contains "invalid field value reason" \
    'invalid field value \"12x\" for field \"f\": expected a number' \
    "$(json_get "$output" 'JSON.stringify(lines[2].error)')"
expect_equal "duplicate tag on line 4" 4 "$(json_get "$output" 'lines[3].line')"
expect_equal "good line after bad ones" d "$(json_get "$output" 'lines[4].measurement')"

output=$(printf 'm f=1 1600000000\n' | "$relay" parse --precision s)
expect_equal "--precision s scales to ns" '"1600000000000000000"' \
    "$(json_get "$output" 'JSON.stringify(lines[0].time)')"
output=$(printf 'm f=1 5\n' | "$relay" parse --precision=ms)
expect_equal "--precision=ms" 5000000 "$(json_get "$output" 'lines[0].time')"
output=$(printf 'm f=1 9223372037\n' | "$relay" parse --precision h)
expect_contains "time overflow after scaling" 'is out of range' "$output"

output=$(printf 'm i=9223372036854775807i,j=-42i,u=18446744073709551615u,s="a\\\\b\x01",f=-0.1e-2\n' |
    "$relay" parse)
expect_equal "big integers as strings, small as numbers" \
    '["9223372036854775807",-42,"18446744073709551615"]' \
    "$(json_get "$output" '[lines[0].fields[0][1].value, lines[0].fields[1][1].value, lines[0].fields[2][1].value]')"
expect_equal "string unescaped, control byte kept" '"a\\b\u0001"' \
    "$(json_get "$output" 'JSON.stringify(lines[0].fields[3][1].value)')"
expect_equal "float value" -0.001 "$(json_get "$output" 'lines[0].fields[4][1].value')"

output=$(printf 'm\xff f=1\n' | "$relay" parse)
expect_equal "invalid UTF-8 is reported as valid JSON" 1 "$(json_get "$output" 'lines[0].line')"
expect_contains "invalid UTF-8 reason" 'invalid UTF-8 (byte 0xFF)' "$output"

expect_status "empty input: exit status 0" 0 "$relay" parse /dev/null
expect_status "unknown option: exit status 2" 2 "$relay" parse --bogus
expect_contains "unknown option prints usage on stderr" "usage: meter-relay parse" \
    "$(cat "$work_dir/last.err")"
expect_status "bad precision: exit status 2" 2 "$relay" parse --precision d
expect_status "two files: exit status 2" 2 "$relay" parse "$work_dir/good.lp" "$work_dir/good.lp"
expect_status "--help: exit status 0" 0 "$relay" parse --help
expect_contains "--help prints the usage" "--precision P" "$(cat "$work_dir/last.out")"
expect_status "missing file: exit status 1" 1 "$relay" parse "$work_dir/missing.lp"
expect_contains "missing file is named" "missing.lp" "$(cat "$work_dir/last.err")"

finish
