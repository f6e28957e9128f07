#!/usr/bin/env bash
# meter-relay dlq list/show/drop/replay against the real binary, on a spool a real relay wrote.
#
# The dead letters come from a small writer below that follows the file format documented in
# relay/dead_letter.h (segment header, data record, answer record, CRC-32C), not from the C
# writer: until the forwarder exists nothing in the binary writes them, a test-only hook in the
# binary would ship in production, and an independent writer checks that the documented format is
# the one the binary reads. The C writer is covered byte for byte by tests/unit/relay's
# dead_letter suites. Once the forwarder lands, entries made by a relay whose upstream answers 400
# (tests/upstream/fault_upstream.mjs) belong here too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/relay_helpers.sh"
relay="$BIN_DIR/meter-relay"

unset RELAY_TOKENS RELAY_USERS INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD

# dead_letter_write SPOOL_DIR JSON: writes one dead letter as relay/dead_letter.h describes it.
# JSON: {upstream, first, last, status, lines, answer (text) or answer_hex, db, rp, time_ns}.
dead_letter_write() {
    # shellcheck disable=SC2016 # JavaScript template literals, not shell
    node --input-type=module -e '
import { mkdirSync, writeFileSync } from "node:fs";
const [dir, specText] = process.argv.slice(1);
const spec = JSON.parse(specText);
const table = Array.from({ length: 256 }, (_, n) => {
    for (let k = 0; k < 8; k++) n = n & 1 ? (n >>> 1) ^ 0x82f63b78 : n >>> 1;
    return n >>> 0;
});
const crc32c = (bytes) => {
    let crc = 0xffffffff;
    for (const byte of bytes) crc = table[(crc ^ byte) & 255] ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
};
const salt = 0x5a17c0de;
const header = Buffer.alloc(64);
header.write("NKSPOOL\0", 0, "latin1");
header.writeUInt32LE(1, 8);
header.writeUInt32LE(64, 12);
header.writeBigUInt64LE(BigInt(spec.first), 16);
header.writeBigInt64LE(BigInt(spec.time_ns), 24);
header.writeBigUInt64LE(BigInt(spec.first), 32);
header.writeUInt32LE(salt, 40);
header.writeUInt32LE(crc32c(header.subarray(0, 60)), 60);
const field = (text) => {
    const bytes = Buffer.from(text);
    const length = Buffer.alloc(2);
    length.writeUInt16LE(bytes.length);
    return [length, bytes];
};
const meta = Buffer.concat([Buffer.from([1]), ...field(spec.db), ...field(spec.rp), ...field(""),
    ...field(""), Buffer.from([0])]);
const record = (type, sequence, metaBytes, payload) => {
    const head = Buffer.alloc(24);
    const length = 24 + metaBytes.length + payload.length;
    head.writeUInt32LE(length, 0);
    head[4] = type;
    head.writeUInt16LE(metaBytes.length, 6);
    head.writeBigUInt64LE(BigInt(sequence), 8);
    head.writeUInt32LE(salt, 16);
    head.writeUInt32LE(crc32c(Buffer.concat([head, metaBytes, payload])), 20);
    return Buffer.concat([head, metaBytes, payload, Buffer.alloc((8 - (length % 8)) % 8)]);
};
const answer = { upstream: spec.upstream, status: spec.status, first_sequence: spec.first,
    last_sequence: spec.last, line_count: spec.lines.split("\n").length - 1,
    time: new Date(Number(BigInt(spec.time_ns) / 1000000n)).toISOString() };
if (spec.answer_hex !== undefined) answer.answer_hex = spec.answer_hex;
else answer.answer = spec.answer;
answer.answer_bytes = spec.answer_hex !== undefined ? spec.answer_hex.length / 2
    : Buffer.byteLength(spec.answer);
mkdirSync(`${dir}/dlq/${spec.upstream}`, { recursive: true });
writeFileSync(`${dir}/dlq/${spec.upstream}/${String(spec.first).padStart(20, "0")}.dlq`,
    Buffer.concat([header, record(1, spec.first, meta, Buffer.from(spec.lines)),
        record(2, spec.last, Buffer.alloc(0), Buffer.from(JSON.stringify(answer)))]));
' "$1" "$2"
}

dir=$work_dir/relay
spool=$dir/spool
# Segments smaller than the default: replay must not write the default size's (64 MiB) ones.
# The upstreams of the dead letters below (unreachable: only their cursors matter here).
relay_config_write "$dir" "    segment_bytes: 256KiB
  upstreams:
    - name: influx-a
      url: http://127.0.0.1:9
    - name: vm-b
      url: http://127.0.0.1:9
      api: v2
      org: home
      credentials: vm.env"
printf 'INFLUX_TOKEN=vm-token\n' >"$dir/secrets/vm.env"
chmod 600 "$dir/secrets/vm.env"
if ! relay_start "$dir"; then
    check_fail "meter-relay starts"
    finish
    exit
fi
trap 'relay_stop; rm -rf "$work_dir"' EXIT

# Three acknowledged records (sequences 1..3); the dead letters below stand for batches of them.
for value in 1 2 3; do
    http_request "write$value" -XPOST "$relay_url/write?db=home&rp=autogen" \
        --data-binary "power,meter=main value=$value 170000000${value}000000000"
    expect_equal "write $value: 204" 204 "$http_code"
done

conflict='partial write: field type conflict: input field "value" on measurement "power" is type integer, already exists as type float dropped=2'
dead_letter_write "$spool" '{"upstream":"influx-a","first":1,"last":2,"status":400,
    "lines":"power,meter=main value=1i 1700000001000000000\npower,meter=main value=2i 1700000002000000000\n",
    "answer":'"$(node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$conflict")"',
    "db":"home","rp":"autogen","time_ns":"1714564800123000000"}'
dead_letter_write "$spool" '{"upstream":"influx-a","first":3,"last":3,"status":413,
    "lines":"power,meter=main value=3 1700000003000000000\n",
    "answer_hex":"00ff0a3c68746d6c3e","db":"home","rp":"","time_ns":"1714564801000000000"}'
dead_letter_write "$spool" '{"upstream":"vm-b","first":1,"last":2,"status":422,
    "lines":"power,meter=main value=1 1700000001000000000\n","answer":"unable to parse",
    "db":"home","rp":"autogen","time_ns":"1714564802000000000"}'
dead_letter_write "$spool" '{"upstream":"vm-b","first":9,"last":9,"status":400,
    "lines":"x v=1 1\n","answer":"bad","db":"home","rp":"","time_ns":"1714564803000000000"}'
# A flipped byte in the lines of vm-b/9: its CRC no longer matches.
printf 'X' | dd of="$spool/dlq/vm-b/00000000000000000009.dlq" bs=1 seek=104 conv=notrunc 2>/dev/null

output=$("$relay" dlq list "$spool" 2>"$work_dir/list.err")
expect_equal "list with a damaged entry: exit status 1" 1 "$?"
expect_equal "list: one line per readable entry, by upstream then sequence" \
    "influx-a/1 upstream=influx-a status=400 lines=2 seq=1..2 time=2024-05-01T12:00:00.123000000Z answer=${conflict:0:120}...
influx-a/3 upstream=influx-a status=413 lines=1 seq=3..3 time=2024-05-01T12:00:01.000000000Z answer=\\x00\\xFF\\x0A<html>
vm-b/1 upstream=vm-b status=422 lines=1 seq=1..2 time=2024-05-01T12:00:02.000000000Z answer=unable to parse" \
    "$output"
expect_contains "list: the damaged entry is named on stderr" \
    "meter-relay dlq list: dead letter $spool/dlq/vm-b/00000000000000000009.dlq is damaged: the data record" \
    "$(cat "$work_dir/list.err")"
output=$("$relay" dlq list --upstream influx-a "$spool")
expect_equal "list --upstream: exit status 0" 0 "$?"
expect_equal "list --upstream: only that upstream" "influx-a/1 influx-a/3" \
    "$(cut -d' ' -f1 <<<"$output" | paste -sd' ')"

"$relay" dlq show "$spool" influx-a/1 >"$work_dir/show.out"
expect_equal "show: exit status 0" 0 "$?"
expect_equal "show: routing line and the lines exactly" \
    "$(printf '# seq=1..2 db=home rp=autogen bucket= org= consumers=*\npower,meter=main value=1i 1700000001000000000\npower,meter=main value=2i 1700000002000000000\n' | od -c)" \
    "$(od -c <"$work_dir/show.out")"
"$relay" dlq show --answer "$spool" influx-a/3 >"$work_dir/answer.out"
expect_equal "show --answer: the answer byte for byte" "00ff0a3c68746d6c3e" \
    "$(od -An -tx1 "$work_dir/answer.out" | tr -d ' \n')"
expect_equal "show --answer of a text answer" "$conflict" "$("$relay" dlq show --answer "$spool" influx-a/1)"
expect_status "show of a damaged entry: exit status 1" 1 "$relay" dlq show "$spool" vm-b/9
expect_status "show of a missing entry: exit status 3" 3 "$relay" dlq show "$spool" vm-b/5
expect_contains "show of a missing entry says so" "no dead letter vm-b/5" "$(cat "$work_dir/last.err")"

expect_status "replay while the relay runs: exit status 3" 3 "$relay" dlq replay "$spool" influx-a/1
expect_contains "replay while the relay runs: stop it first" \
    "is locked by a running meter-relay; stop the relay first" "$(cat "$work_dir/last.err")"
expect_equal "replay while the relay runs: the entry stays" "influx-a/1 upstream=influx-a" \
    "$("$relay" dlq list "$spool" 2>/dev/null | head -n 1 | cut -d' ' -f1-2)"

relay_stop
expect_equal "relay stops cleanly" 0 "$relay_exit_status"

# An upstream that is gone (removed or renamed; its cursor deleted as the relay's warning
# suggests): every cursor would step over a record addressed to it, and the segment holding it
# would be deleted, so its dead letters stay.
dead_letter_write "$spool" '{"upstream":"gone","first":2,"last":2,"status":400,
    "lines":"power,meter=main value=2 1700000002000000000\n","answer":"bad",
    "db":"home","rp":"","time_ns":"1714564804000000000"}'
expect_status "replay for an upstream without a cursor: exit status 3" 3 "$relay" dlq replay "$spool" gone/2
expect_contains "replay for an upstream without a cursor: says why" \
    "gone/2 is kept: the spool has no cursor of upstream gone" "$(cat "$work_dir/last.err")"
expect_equal "replay for an upstream without a cursor: nothing appended" "" \
    "$("$relay" spool-dump --from 4 "$spool")"
expect_status "its dead letter is still there" 0 "$relay" dlq show "$spool" gone/2
expect_status "and can be dropped" 0 "$relay" dlq drop "$spool" gone/2

# The same entry named three times (and spelt two ways) is replayed once: a second copy in the
# spool would be sent twice.
output=$("$relay" dlq replay "$spool" influx-a/1 influx-a/01 influx-a/1)
expect_equal "replay: exit status 0" 0 "$?"
expect_equal "replay: names the new record" "replayed influx-a/1 as seq=4" "$output"
expect_equal "replay: the lines are one new record for influx-a only" \
    "# seq=4 db=home rp=autogen bucket= org= consumers=influx-a
power,meter=main value=1i 1700000001000000000
power,meter=main value=2i 1700000002000000000" \
    "$("$relay" spool-dump --from 4 "$spool")"
expect_equal "replay: the entry is gone" "influx-a/3 vm-b/1" \
    "$("$relay" dlq list "$spool" 2>/dev/null | cut -d' ' -f1 | paste -sd' ')"

expect_status "drop of a damaged entry: exit status 0" 0 "$relay" dlq drop "$spool" vm-b/9
expect_equal "drop: says what it dropped" "dropped vm-b/9" "$(cat "$work_dir/last.out")"
expect_status "drop of a missing entry: exit status 3" 3 "$relay" dlq drop "$spool" vm-b/9
expect_status "drop --all --upstream vm-b: exit status 0" 0 "$relay" dlq drop --all --upstream vm-b "$spool"
expect_equal "drop --all --upstream: only that upstream's" "dropped vm-b/1" "$(cat "$work_dir/last.out")"

output=$("$relay" dlq replay --all "$spool")
expect_equal "replay --all: exit status 0" 0 "$?"
expect_equal "replay --all: the rest" "replayed influx-a/3 as seq=5" "$output"
expect_equal "replay --all: routed to influx-a only, rp kept empty" \
    "# seq=5 db=home rp= bucket= org= consumers=influx-a" \
    "$("$relay" spool-dump --from 5 "$spool" | head -n 1)"
expect_equal "nothing left" "" "$("$relay" dlq list "$spool")"
expect_status "the spool is clean after the replays" 0 "$relay" spool-check "$spool"
expect_equal "replay wrote no segment beyond relay.spool.segment_bytes" "" \
    "$(find "$spool/seg" -name '*.seg' -size +256k)"

expect_status "drop without IDs or --all: exit status 2" 2 "$relay" dlq drop "$spool"
expect_status "drop with IDs and --all: exit status 2" 2 "$relay" dlq drop --all "$spool" influx-a/1
expect_status "--upstream with IDs: exit status 2" 2 "$relay" dlq replay --upstream a "$spool" a/1
expect_status "a malformed ID: exit status 2" 2 "$relay" dlq show "$spool" influx-a
expect_contains "a malformed ID is named" 'expected an ID UPSTREAM/SEQ as dlq list prints it: "influx-a"' \
    "$(cat "$work_dir/last.err")"
expect_status "an unknown action: exit status 2" 2 "$relay" dlq purge "$spool"
expect_status "a missing DIR: exit status 3" 3 "$relay" dlq list "$work_dir/nowhere"
expect_status "a directory that is no spool: exit status 3" 3 "$relay" dlq list "$work_dir"
expect_contains "a directory that is no spool: says so" "holds no seg/ directory: not a spool" \
    "$(cat "$work_dir/last.err")"
expect_status "dlq replay --help: exit status 0" 0 "$relay" dlq replay --help
expect_contains "dlq replay --help describes it" "usage: meter-relay dlq replay DIR ID..." \
    "$(cat "$work_dir/last.out")"
expect_contains "dlq is in meter-relay's command list" "dlq " "$("$relay" --help)"


# Bytes a client wrote (a string value, a database name) may hold escape sequences; on the
# operator's terminal spool-dump and `dlq show` show them as \xNN instead of sending them (this
# OSC 52 one would write the clipboard); redirected, the output stays byte for byte. script(1)
# gives the command a terminal (its output has CRLF line ends).
on_terminal() { script -qec "$(printf '%q ' "$@")" /dev/null | tr -d '\r'; }
escapes_dir=$work_dir/escapes
relay_config_write "$escapes_dir"
if relay_start "$escapes_dir"; then
    http_request osc52 -XPOST "$relay_url/write?db=home%1B%5B2J" \
        --data-binary $'note,meter=main text="\e]52;c;cm0gLXJmIH4=\a \xc2\x9b1m Zähler" 1700000001000000000'
    expect_equal "a string value with escape sequences: 204" 204 "$http_code"
    relay_stop
    dumped=$(on_terminal "$relay" spool-dump "$escapes_dir/spool")
    expect_equal "spool-dump on a terminal: control characters shown as \\xNN, UTF-8 text kept" \
        '# seq=1 db=home\x1B[2J rp= bucket= org= consumers=*
note,meter=main text="\x1B]52;c;cm0gLXJmIH4=\x07 \xC2\x9B1m Zähler" 1700000001000000000' "$dumped"
    expect_equal "spool-dump redirected: byte for byte" \
        "$(printf '# seq=1 db=home\e[2J rp= bucket= org= consumers=*\nnote,meter=main text="\e]52;c;cm0gLXJmIH4=\a \xc2\x9b1m Zähler" 1700000001000000000\n' | od -c)" \
        "$("$relay" spool-dump "$escapes_dir/spool" | od -c)"
    dead_letter_write "$escapes_dir/spool" '{"upstream":"influx-a","first":1,"last":1,"status":400,
        "lines":"note s=\"\u001b[31mred\" 1\n","answer":"bad \u001b[5m","db":"home","rp":"","time_ns":"1714564800000000000"}'
    expect_equal "dlq show on a terminal: the lines' control characters shown" \
        '# seq=1..1 db=home rp= bucket= org= consumers=*
note s="\x1B[31mred" 1' "$(on_terminal "$relay" dlq show "$escapes_dir/spool" influx-a/1)"
    expect_equal "dlq show --answer on a terminal: the answer's shown too" 'bad \x1B[5m' \
        "$(on_terminal "$relay" dlq show --answer "$escapes_dir/spool" influx-a/1)"
else
    check_fail "meter-relay starts on a second spool"
fi

finish
