/* Spool codecs: segment header, routing meta, records, cursor slots. */
#include "test_spool_support.h"
#include "relay/crc32c.h"

Test(spool_record, segment_header_round_trip_and_crc)
{
    struct spool_segment_header header = {
        .id = 42, .created_ns = 1700000000123456789LL, .first_sequence = 9001, .salt = 0xDEADBEEF};
    uint8_t bytes[SPOOL_SEGMENT_HEADER_SIZE];
    spool_segment_header_encode(&header, bytes);
    cr_assert_eq(memcmp(bytes, "NKSPOOL", 8), 0);
    struct spool_segment_header decoded;
    cr_assert_eq(spool_segment_header_decode(bytes, &decoded), 0);
    cr_assert_eq(decoded.id, 42);
    cr_assert_eq(decoded.created_ns, 1700000000123456789LL);
    cr_assert_eq(decoded.first_sequence, 9001);
    cr_assert_eq(decoded.salt, 0xDEADBEEFu);
    bytes[20] ^= 1;
    cr_assert_eq(spool_segment_header_decode(bytes, &decoded), -1);
}

Test(spool_record, record_round_trip_with_routing)
{
    struct spool_routing routing = {0};
    routing.db = (struct spool_slice){"home", 4};
    routing.rp = (struct spool_slice){"", 0};
    routing.bucket = (struct spool_slice){"raw", 3};
    routing.org = (struct spool_slice){"family", 6};
    routing.consumers[0] = (struct spool_slice){"influx-a", 8};
    routing.consumers[1] = (struct spool_slice){"stream", 6};
    routing.consumer_count = 2;
    const char payload[] = "power,meter=main value=1.5 1700000000000000000\n";
    size_t payload_length = sizeof payload - 1;

    struct buffer meta = BUFFER_INITIALIZER;
    cr_assert_eq(spool_meta_encode(&routing, &meta), 0);
    cr_assert_eq(meta.length, 1 + 2 + 4 + 2 + 0 + 2 + 3 + 2 + 6 + 1 + 1 + 8 + 1 + 6);

    uint8_t record[256];
    memset(record, 0xAA, sizeof record);
    spool_record_header_build(record, 77, 0x01020304, 0, meta.data, meta.length, payload,
                              payload_length);
    memcpy(record + SPOOL_RECORD_HEADER_SIZE, meta.data, meta.length);
    memcpy(record + SPOOL_RECORD_HEADER_SIZE + meta.length, payload, payload_length);
    size_t length = SPOOL_RECORD_HEADER_SIZE + meta.length + payload_length;
    size_t padded = (size_t)spool_record_padded(length);
    memset(record + length, 0, padded - length);
    cr_assert_eq(padded % 8, 0);
    cr_assert_eq(spool_get_u32(record), length);
    cr_assert_eq(record[4], SPOOL_RECORD_TYPE_DATA);
    cr_assert_eq(spool_get_u16(record + 6), meta.length);
    cr_assert_eq(spool_get_u64(record + 8), 77);
    cr_assert_eq(spool_get_u32(record + 16), 0x01020304u);

    struct spool_record_view view;
    size_t needed = 0;
    cr_assert_eq(spool_record_decode(record, padded, 0x01020304, &view, &needed), (int64_t)padded);
    cr_assert_eq(view.sequence, 77);
    cr_assert_eq(view.payload_length, payload_length);
    cr_assert_eq(memcmp(view.payload, payload, payload_length), 0);
    cr_assert_eq(view.routing.db.length, 4);
    cr_assert_eq(memcmp(view.routing.db.data, "home", 4), 0);
    cr_assert_eq(view.routing.rp.length, 0);
    cr_assert_eq(memcmp(view.routing.bucket.data, "raw", 3), 0);
    cr_assert_eq(memcmp(view.routing.org.data, "family", 6), 0);
    cr_assert_eq(view.routing.consumer_count, 2);
    cr_assert_eq(memcmp(view.routing.consumers[1].data, "stream", 6), 0);

    /* Too few bytes: asks for the padded size. */
    cr_assert_eq(spool_record_decode(record, padded - 1, 0x01020304, &view, &needed), 0);
    cr_assert_eq(needed, padded);
    /* Wrong salt (a stale record of an earlier file), any flipped bit: rejected. */
    cr_assert_eq(spool_record_decode(record, padded, 0x01020305, &view, &needed), -1);
    for (size_t bit = 0; bit < length * 8; bit += 7) {
        record[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_leq(spool_record_decode(record, padded, 0x01020304, &view, &needed), 0, "bit %zu",
                      bit);
        record[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    buffer_release(&meta);
}

/* The forwarder appends the metas of a whole backlog to one buffer: past 64 KiB of them each
 * encoding must still succeed (the limit is per record), or records are dropped on the way to
 * the upstream. */
Test(spool_record, meta_appends_after_64_kib)
{
    struct spool_routing routing = {0};
    routing.db = (struct spool_slice){"crash", 5};
    struct buffer metas = BUFFER_INITIALIZER;
    cr_assert_eq(spool_meta_encode(&routing, &metas), 0);
    size_t one = metas.length;
    size_t count = 2 * UINT16_MAX / one;
    for (size_t i = 1; i < count; i++)
        cr_assert_eq(spool_meta_encode(&routing, &metas), 0, "encoding %zu of %zu", i + 1, count);
    cr_assert_eq(metas.length, count * one);
    struct spool_routing decoded;
    cr_assert_eq(spool_meta_decode((const uint8_t *)metas.data + (count - 1) * one, one, &decoded),
                 0);
    cr_assert_eq(decoded.db.length, 5);
    cr_assert_eq(memcmp(decoded.db.data, "crash", 5), 0);
    buffer_release(&metas);
}

Test(spool_record, meta_limits)
{
    struct spool_routing routing = {0};
    struct buffer meta = BUFFER_INITIALIZER;
    routing.consumer_count = SPOOL_CONSUMERS_MAX + 1;
    cr_assert_eq(spool_meta_encode(&routing, &meta), -EINVAL);
    buffer_clear(&meta);
    routing.consumer_count = 1;
    char name[300];
    memset(name, 'x', sizeof name);
    routing.consumers[0] = (struct spool_slice){name, 256};
    cr_assert_eq(spool_meta_encode(&routing, &meta), -EINVAL);
    buffer_clear(&meta);
    routing.consumer_count = 0;
    routing.db = (struct spool_slice){name, 70000};
    cr_assert_eq(spool_meta_encode(&routing, &meta), -EMSGSIZE);
    /* Every field fits, the whole does not: refused, and nothing is left behind in the buffer. */
    static char big[20000];
    struct spool_slice big_field = {big, sizeof big};
    routing.db = routing.rp = routing.bucket = routing.org = big_field;
    cr_assert_eq(buffer_append(&meta, "kept", 4), 0);
    cr_assert_eq(spool_meta_encode(&routing, &meta), -EMSGSIZE);
    cr_assert_eq(meta.length, 4);
    buffer_release(&meta);
    uint8_t bad[] = {2, 0, 0};
    struct spool_routing decoded;
    cr_assert_eq(spool_meta_decode(bad, sizeof bad, &decoded), -1);
}

Test(spool_record, cursor_image_prefers_valid_slot_with_higher_sequence)
{
    uint8_t image[SPOOL_CURSOR_FILE_BYTES];
    memset(image, 0, sizeof image);
    uint64_t sequence = 0, generation = 0;
    cr_assert_eq(spool_cursor_image_decode(image, &sequence, &generation), -1);
    spool_cursor_slot_encode(image + SPOOL_CURSOR_SLOT_OFFSET, 100, 1);
    spool_cursor_slot_encode(image, 150, 2);
    cr_assert_eq(spool_cursor_image_decode(image, &sequence, &generation), 0);
    cr_assert_eq(sequence, 150);
    cr_assert_eq(generation, 2);
    /* The newer slot torn: the other one wins. */
    image[17] ^= 0x40;
    cr_assert_eq(spool_cursor_image_decode(image, &sequence, &generation), 0);
    cr_assert_eq(sequence, 100);
    cr_assert_eq(generation, 1);
}

/* A header or cursor slot is a newer relay's only with our magic, a higher version and a valid
 * CRC: garbage after the magic (the fuzz corpus's bad_header_data) or a flipped bit in a
 * version field is damage, which recovery handles as before, not a reason to refuse the spool. */
Test(spool_record, newer_version_needs_magic_and_crc)
{
    struct spool_segment_header header = {.id = 1, .created_ns = 1, .salt = 7};
    uint8_t bytes[SPOOL_SEGMENT_HEADER_SIZE];
    spool_segment_header_encode(&header, bytes);
    cr_assert_eq(spool_segment_header_newer_version(bytes), 0, "our own version");
    spool_put_u32(bytes + 8, 2);
    cr_assert_eq(spool_segment_header_newer_version(bytes), 0, "version 2 with a stale CRC");
    spool_put_u32(bytes + 60, crc32c_update(0, bytes, 60));
    cr_assert_eq(spool_segment_header_newer_version(bytes), 2);
    bytes[0] = 'X';
    spool_put_u32(bytes + 60, crc32c_update(0, bytes, 60));
    cr_assert_eq(spool_segment_header_newer_version(bytes), 0, "another magic");
    memset(bytes, 7, sizeof bytes);
    memcpy(bytes, "NKSPOOL", 8);
    cr_assert_eq(spool_segment_header_newer_version(bytes), 0, "garbage after the magic");

    uint8_t image[SPOOL_CURSOR_FILE_BYTES];
    memset(image, 0, sizeof image);
    spool_cursor_slot_encode(image, 5, 1);
    cr_assert_eq(spool_cursor_image_newer_version(image), 0, "our own version");
    spool_put_u32(image + 4, 3);
    cr_assert_eq(spool_cursor_image_newer_version(image), 0, "version 3 with a stale CRC");
    spool_put_u32(image + 28, crc32c_update(0, image, 28));
    cr_assert_eq(spool_cursor_image_newer_version(image), 3);
}
