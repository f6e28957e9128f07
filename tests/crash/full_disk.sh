#!/usr/bin/env bash
# Full disk (spec/spool.md, write path step 5 and "Backpressure"): the spool lives on a small
# tmpfs; under load the disk is filled, writes must get 503 with Retry-After, nothing acknowledged
# before or after may be lost, and once space is freed writes are accepted again.
# Needs to mount a tmpfs (root); where that is impossible the test is skipped, not failed.
#   BIN_DIR   directory holding meter-relay (required)
crash_dir=$(cd "$(dirname "$0")" && pwd)
source "$crash_dir/../integration/lib.sh"
source "$crash_dir/../integration/relay_helpers.sh"
source "$crash_dir/crash_helpers.sh"

dir=$work_dir/relay
disk=$dir/spool
ack_log=$work_dir/acks.log
writer_pid=
mounted=

cleanup() {
    [ -n "${writer_pid:-}" ] && kill -KILL "$writer_pid" 2>/dev/null
    [ -n "${relay_pid:-}" ] && kill -KILL "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
    [ -n "$mounted" ] && umount "$disk"
    rm -rf "$work_dir"
}
trap cleanup EXIT

mkdir -p "$disk"
# 48 MiB: the relay's 16 MiB reserve file, two 1 MiB segments and room to fill.
if ! mount -t tmpfs -o size=48m tmpfs "$disk" 2>"$work_dir/mount.err"; then
    echo "  SKIP full-disk test: cannot mount a tmpfs here ($(head -n 1 "$work_dir/mount.err"))"
    exit 0
fi
mounted=yes

relay_config_write "$dir" "    segment_bytes: 1MiB
    min_free_bytes: 1MiB"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts with its spool on a 48 MiB tmpfs"
    finish
    exit
fi
crash_writer_start "$relay_url" "$ack_log" 4
sleep 1

# probe_write N: one point of writer 0, recorded in the ack log when it got 204; sets probe_code.
probe_write() {
    probe_code=$(curl -s -o /dev/null -D "$work_dir/probe.headers" -w '%{http_code}' -XPOST \
        "$relay_url/write?db=crash&precision=ns" --data-binary "crash,writer=0 n=$1i $((1700000000000000000 + $1))")
    [ "$probe_code" = 204 ] && echo "0 $1" >>"$ack_log"
    return 0
}

# dd stops with ENOSPC when the tmpfs is full: that is the point.
dd if=/dev/zero of="$disk/filler" bs=64k 2>/dev/null
probe=0
for _ in $(seq 1 50); do
    probe=$((probe + 1))
    probe_write "$probe"
    [ "$probe_code" = 503 ] && break
    sleep 0.1
done
expect_equal "a write to the full disk gets 503" 503 "$probe_code"
expect_contains "the 503 carries Retry-After" "Retry-After:" "$(tr -d '\r' <"$work_dir/probe.headers")"
# The writer keeps retrying against the full disk for a while.
sleep 1
probe=$((probe + 1))
probe_write "$probe"
expect_equal "the disk still full: 503" 503 "$probe_code"

rm -f "$disk/filler"
for _ in $(seq 1 50); do
    probe=$((probe + 1))
    probe_write "$probe"
    [ "$probe_code" = 204 ] && break
    sleep 0.1
done
expect_equal "space freed: writes are accepted again" 204 "$probe_code"
acked_before_resume=$(wc -l <"$ack_log")
sleep 1
crash_writer_stop
acked_after_resume=$(wc -l <"$ack_log")
if [ "$acked_after_resume" -gt "$acked_before_resume" ]; then check_pass "the writer's retries succeed after the disk is freed"; else
    check_fail "the writer's retries succeed after the disk is freed" \
        "acknowledged points: $acked_before_resume when space returned, $acked_after_resume at the end"
fi
echo "  503 answers seen by the writer: ${writer_stat_status_503:-?}"
if [ "${writer_stat_status_503:-0}" -gt 0 ]; then check_pass "the writer saw 503 while the disk was full"; else
    check_fail "the writer saw 503 while the disk was full"
fi
relay_stop
expect_equal "relay exits 0 on SIGTERM" 0 "$relay_exit_status"
crash_spool_compare "$ack_log" "$disk"
grep '"level":"error"' "$relay_log" | head -n 3 | sed 's/^/  relay log: /'
finish
