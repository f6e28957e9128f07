#!/usr/bin/env bash
# A corrupt segment in the middle of the spool does not stop the relay: recovery moves it to
# quarantine/, the relay starts and accepts writes, and /health reports the spool degraded
# (check status "warn", HTTP 200) until the operator has looked at it.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/relay_helpers.sh"
unset RELAY_TOKENS RELAY_USERS

dir=$work_dir/quarantine
relay_config_write "$dir" "    segment_bytes: 64KiB
    max_bytes: 16MiB"
if relay_start "$dir"; then
    # 16 records of 20 KB: four to a 64 KiB segment.
    for k in $(seq 1 16); do
        awk -v k="$k" 'BEGIN { for (i = 0; i < 500; i++) printf "q,k=%d,i=%d n=%di\n", k, i, i }' \
            >"$work_dir/body"
        curl -s -o /dev/null --data-binary @"$work_dir/body" "$relay_url/write?db=d"
    done
    http_request healthy "$relay_url/health"
    expect_contains "a sound spool passes" '"name":"spool","status":"pass"' "$http_body"
    relay_stop
    segments=("$dir"/spool/seg/*.seg)
    expect_equal "several segments written" true "$([ ${#segments[@]} -ge 4 ] && echo true)"
    # Flip a byte inside the first record of the second segment.
    printf 'X' | dd of="${segments[1]}" bs=1 seek=100 conv=notrunc status=none
    if relay_start "$dir"; then
        http_request degraded "$relay_url/health"
        expect_equal "/health still 200: writes are accepted" 200 "$http_code"
        expect_contains "the spool check warns" '"name":"spool","status":"warn"' "$http_body"
        expect_contains "the message says what happened" \
            '1 corrupt segment(s) moved to quarantine/ at start' "$http_body"
        http_request write "$relay_url/write?db=d" --data-binary 'q,k=after n=1i'
        expect_equal "writes are accepted" 204 "$http_code"
        relay_stop
        expect_equal "clean exit" 0 "$relay_exit_status"
        expect_equal "the segment is in quarantine" 1 "$(ls "$dir/spool/quarantine" | wc -l)"
    else
        check_fail "relay starts with a corrupt middle segment"
    fi
else
    check_fail "relay starts"
fi
finish
