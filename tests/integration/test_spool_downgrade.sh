#!/usr/bin/env bash
# A package rolled back: the spool's segments and a cursor were written by a newer meter-relay
# (spool format version 2). This one cannot read them, so it must not start on them: no segment
# quarantined, cut or deleted, no cursor reset, the relay and `spool-check --fix` exit non-zero
# with a message naming the file and both versions. Once the newer relay's files are back in a
# format this one reads (here: the headers set back to version 1), every acknowledged point is
# still there.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/relay_helpers.sh"
unset RELAY_TOKENS RELAY_USERS

# set_version VERSION FILE...: rewrites the spool format version of segment headers (offset 8)
# or of every cursor slot (offsets 4 and 2052) with a valid CRC-32C, as that version writes them.
set_version() {
    python3 - "$@" <<'PY'
import struct, sys

def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

version = int(sys.argv[1])
for path in sys.argv[2:]:
    with open(path, "r+b") as f:
        data = bytearray(f.read(4096))
        if path.endswith(".seg"):
            data[8:12] = struct.pack("<I", version)
            data[60:64] = struct.pack("<I", crc32c(bytes(data[:60])))
            f.seek(0)
            f.write(data[:64])
        else:
            for at in (0, 2048):
                if data[at:at + 4] == struct.pack("<I", 0x55434B4E):
                    data[at + 4:at + 8] = struct.pack("<I", version)
                    data[at + 28:at + 32] = struct.pack("<I", crc32c(bytes(data[at:at + 28])))
            f.seek(0)
            f.write(data)
PY
}

dir=$work_dir/downgrade
relay_config_write "$dir" "    segment_bytes: 64KiB"
if relay_start "$dir"; then
    for k in 1 2 3; do
        http_request "write$k" "$relay_url/write?db=d" --data-binary "dg,k=$k n=${k}i $k"
        expect_equal "write $k acknowledged" 204 "$http_code"
    done
    relay_stop
    expect_equal "clean exit" 0 "$relay_exit_status"
else
    check_fail "relay starts"
fi
spool=$dir/spool
segments=("$spool"/seg/*.seg)
set_version 2 "${segments[@]}"
set_version 2 "$spool/cursor/influxdb.cur"
before=$(cd "$spool" && md5sum seg/* cursor/*)

"$BIN_DIR/meter-relay" run -c "$dir/config.yaml" >"$work_dir/run.out" 2>"$work_dir/run.err" &
pid=$!
for attempt in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    check_fail "the relay started on a newer relay's spool"
    kill -TERM "$pid"
fi
wait "$pid"
status=$?
expect_equal "the relay refuses to start" 1 "$status"
log=$(cat "$work_dir/run.err")
expect_contains "names the file" "$spool/" "$log"
expect_contains "names the version found" "version 2" "$log"
expect_contains "names the version it reads" "reads spool format version 1" "$log"

"$BIN_DIR/meter-relay" spool-check --fix "$spool" >"$work_dir/fix.out" 2>&1
expect_equal "spool-check --fix refuses" 3 "$?"
"$BIN_DIR/meter-relay" spool-check "$spool" >"$work_dir/check.out" 2>&1
expect_equal "spool-check reports problems" 1 "$?"
expect_contains "spool-check says why" "written by a newer meter-relay" "$(cat "$work_dir/check.out")"

expect_equal "nothing quarantined" 0 "$(ls "$spool/quarantine" | wc -l)"
expect_equal "no segment or cursor changed, moved or deleted" "$before" \
    "$(cd "$spool" && md5sum seg/* cursor/*)"

# The newer relay's files, readable again: the three acknowledged points are all there.
set_version 1 "${segments[@]}" "$spool/cursor/influxdb.cur"
"$BIN_DIR/meter-relay" spool-dump "$spool" >"$work_dir/dump.out" 2>&1
expect_equal "spool-dump reads the spool" 0 "$?"
expect_equal "every acknowledged point is kept" 3 "$(grep -c '^dg,k=' "$work_dir/dump.out")"
if relay_start "$dir"; then
    relay_stop
    expect_equal "the relay starts on it again" 0 "$relay_exit_status"
else
    check_fail "the relay starts on the spool in its own format"
fi
finish
