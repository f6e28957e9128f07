/* Recovery at open: torn tails at every byte offset, corrupt middle segments, torn cursor slots,
 * the LOCK. */
#include "test_spool_support.h"
#include "relay/crc32c.h"

static char *directory;

static void recovery_setup(void)
{
    directory = temp_dir_make();
}

static void recovery_teardown(void)
{
    temp_dir_remove(directory);
    directory = NULL;
}

TestSuite(spool_recovery, .init = recovery_setup, .fini = recovery_teardown);

static void segment_file(char *out, size_t size, uint64_t id)
{
    snprintf(out, size, "%s/seg/%020" PRIu64 ".seg", directory, id);
}

static void file_write_all(const char *path, const void *bytes, size_t length)
{
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file);
    cr_assert_eq(fwrite(bytes, 1, length, file), length);
    cr_assert_eq(fclose(file), 0);
}

static void *file_read_all(const char *path, size_t *length)
{
    *length = (size_t)file_size(path);
    void *bytes = malloc(*length);
    FILE *file = fopen(path, "rb");
    cr_assert_not_null(file);
    cr_assert_eq(fread(bytes, 1, *length, file), *length);
    cr_assert_eq(fclose(file), 0);
    return bytes;
}

/* True when bytes [from, end of file) of path are all zero. */
static bool file_zero_after(const char *path, uint64_t from)
{
    size_t length;
    uint8_t *bytes = file_read_all(path, &length);
    bool zero = true;
    for (size_t i = (size_t)from; i < length && zero; i++)
        zero = bytes[i] == 0;
    free(bytes);
    return zero;
}

/* After a crash mid-write the last record may be cut anywhere (a segment that could not be
 * preallocated ends there), or followed by the zeros of its preallocation: every such tail is
 * dropped, the records before it survive, the segment is zero again after them, and appends
 * continue with its sequence. */
Test(spool_recovery, torn_tail_at_every_byte_offset)
{
    struct spool_options options = test_options(directory, NULL);
    options.segment_bytes = 1 << 20;
    struct spool *spool = test_spool_open(&options, NULL);
    test_append(spool, 1);
    test_append(spool, 2);
    test_commit(spool, 2);
    uint64_t record_start = spool->segments[0].bytes;
    test_append(spool, 3);
    test_commit(spool, 3);
    uint64_t record_end = spool->segments[0].bytes;
    spool_close(spool);

    char path[4096];
    segment_file(path, sizeof path, 1);
    size_t length;
    uint8_t *original = file_read_all(path, &length);
    cr_assert_eq(length, options.segment_bytes, "preallocated");
    cr_assert(file_zero_after(path, record_end));

    for (uint64_t cut = record_start; cut < record_end; cut++) {
        for (int zero_fill = 0; zero_fill < 2; zero_fill++) {
            uint8_t *damaged = malloc(length);
            memcpy(damaged, original, length);
            size_t damaged_length = zero_fill ? length : (size_t)cut;
            if (zero_fill) {
                memset(damaged + cut, 0, length - cut);
                if (memcmp(damaged, original, length) == 0) {
                    free(damaged); /* only the zero padding was "damaged" */
                    continue;
                }
            }
            file_write_all(path, damaged, damaged_length);
            free(damaged);

            /* What is reported as cut off: up to the last non-zero byte, in whole 8 bytes. */
            uint64_t data_end = cut;
            while (data_end > record_start && original[data_end - 1] == 0)
                data_end--;
            data_end = (data_end + 7) & ~(uint64_t)7;
            if (data_end > damaged_length)
                data_end = damaged_length;

            struct spool_recovery_report report;
            spool = test_spool_open(&options, &report);
            cr_assert_eq(report.records, 2, "cut %" PRIu64 " zero %d", cut, zero_fill);
            cr_assert_eq(report.truncated_bytes, data_end - record_start, "cut %" PRIu64, cut);
            cr_assert_eq(report.quarantined_segments, 0);
            cr_assert_eq(report.last_sequence, 2);
            cr_assert_eq(file_size(path), options.segment_bytes, "preallocated again");
            cr_assert(file_zero_after(path, record_start), "cut %" PRIu64, cut);
            struct spool_cursor *cursor;
            cr_assert_eq(spool_cursor_open(spool, "check", &cursor), 0);
            cr_assert_eq(test_read_all(cursor, 1), 2);
            cr_assert_eq(test_append(spool, 3), 3);
            test_commit(spool, 3);
            cr_assert_eq(test_read_all(cursor, 3), 1);
            spool_close(spool);
            file_write_all(path, original, length);
        }
    }
    free(original);
}

Test(spool_recovery, corrupt_middle_segment_is_quarantined)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 200; n++)
        test_append(spool, n);
    test_commit(spool, 200);
    cr_assert_geq(spool->segment_count, 4);
    struct spool_segment middle = spool->segments[1];
    uint64_t segments_before = spool->segment_count;
    spool_close(spool);

    char path[4096];
    segment_file(path, sizeof path, middle.id);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, 300), 1);
    byte ^= 0x10;
    cr_assert_eq(pwrite(fd, &byte, 1, 300), 1);
    cr_assert_eq(close(fd), 0);

    struct spool_recovery_report report;
    spool = test_spool_open(&options, &report);
    cr_assert_eq(report.quarantined_segments, 1);
    cr_assert_eq(report.truncated_bytes, 0);
    cr_assert_eq(report.records, 200 - (middle.last_sequence - middle.first_sequence + 1));
    cr_assert_eq(report.first_sequence, 1);
    cr_assert_eq(report.last_sequence, 200);
    cr_assert_eq(spool->segment_count, segments_before - 1);
    cr_assert_not(path_exists(path));
    char quarantined[4096];
    snprintf(quarantined, sizeof quarantined, "%s/quarantine/%020" PRIu64 ".seg", directory,
             middle.id);
    cr_assert(path_exists(quarantined));

    /* The reader steps from the segment before the quarantined one to the one after it. */
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "reader", &cursor), 0);
    struct spool_record record;
    uint64_t expected = 1, count = 0;
    while (spool_cursor_next(cursor, &record) == 1) {
        if (expected == middle.first_sequence)
            expected = middle.last_sequence + 1;
        cr_assert_eq(record.sequence, expected);
        char payload[64];
        size_t length = test_payload(payload, expected);
        cr_assert_eq(record.payload_length, length);
        cr_assert_eq(memcmp(record.payload, payload, length), 0);
        expected++;
        count++;
    }
    cr_assert_eq(count, report.records);
    cr_assert_eq(test_append(spool, 201), 201);
    spool_close(spool);
}

Test(spool_recovery, torn_cursor_slot_falls_back_to_the_other_slot)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 10; n++)
        test_append(spool, n);
    test_commit(spool, 10);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "upstream-a", &cursor), 0);
    spool_cursor_acknowledge(cursor, 4);
    cr_assert_eq(spool_cursor_store(cursor), 0); /* generation 1: slot 1 */
    spool_cursor_acknowledge(cursor, 8);
    cr_assert_eq(spool_cursor_store(cursor), 0); /* generation 2: slot 0 */
    cr_assert_eq(spool_cursor_durable(cursor), 8);
    spool_close(spool);

    char path[4096];
    snprintf(path, sizeof path, "%s/cursor/upstream-a.cur", directory);
    cr_assert_eq(file_size(path), SPOOL_CURSOR_FILE_BYTES);
    spool = test_spool_open(&options, NULL);
    cr_assert_eq(spool_cursor_open(spool, "upstream-a", &cursor), 0);
    cr_assert_eq(spool_cursor_acknowledged(cursor), 8);
    spool_close(spool);

    /* Tear the newer slot (slot 0, holding 8). */
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t garbage[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cr_assert_eq(pwrite(fd, garbage, sizeof garbage, 12), (ssize_t)sizeof garbage);
    cr_assert_eq(close(fd), 0);

    spool = test_spool_open(&options, NULL);
    cr_assert_eq(spool_cursor_open(spool, "upstream-a", &cursor), 0);
    cr_assert_eq(spool_cursor_acknowledged(cursor), 4);
    cr_assert_eq(test_read_all(cursor, 5), 6);
    /* The next store overwrites the torn slot and wins on the next load. */
    spool_cursor_acknowledge(cursor, 10);
    cr_assert_eq(spool_cursor_store(cursor), 0);
    spool_close(spool);
    spool = test_spool_open(&options, NULL);
    cr_assert_eq(spool_cursor_open(spool, "upstream-a", &cursor), 0);
    cr_assert_eq(spool_cursor_acknowledged(cursor), 10);
    spool_close(spool);
}

Test(spool_recovery, second_open_of_the_same_directory_is_refused)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *first = test_spool_open(&options, NULL);
    struct spool *second = NULL;
    char error[512] = "";
    cr_assert_eq(spool_open(&options, &second, NULL, error, sizeof error), -EWOULDBLOCK);
    cr_assert_null(second);
    cr_assert(strstr(error, "in use by another meter-relay") != NULL, "%s", error);
    cr_assert(strstr(error, directory) != NULL, "%s", error);
    spool_close(first);
    second = test_spool_open(&options, NULL);
    spool_close(second);
}

Test(spool_recovery, fresh_directory_layout)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool_recovery_report report;
    struct spool *spool = test_spool_open(&options, &report);
    cr_assert_eq(report.records, 0);
    cr_assert_eq(report.segments, 2);
    char path[4096];
    segment_file(path, sizeof path, 1);
    cr_assert_eq(file_size(path), options.segment_bytes, "preallocated to segment_bytes");
    segment_file(path, sizeof path, 2);
    cr_assert_eq(file_size(path), options.segment_bytes);
    snprintf(path, sizeof path, "%s/reserve", directory);
    cr_assert_eq(file_size(path), 4096);
    snprintf(path, sizeof path, "%s/quarantine", directory);
    cr_assert(path_exists(path));
    cr_assert_eq(test_append(spool, 1), 1);
    spool_close(spool);
}

/* A bad record followed by good ones in the newest segment is corruption, not a torn write: the
 * whole segment is copied to quarantine before the tail is cut, and no sequence number of the
 * cut-off records is ever used again. */
Test(spool_recovery, corruption_in_the_last_segment_keeps_a_quarantine_copy)
{
    struct spool_options options = test_options(directory, NULL);
    options.segment_bytes = 1 << 20;
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 5; n++)
        test_append(spool, n);
    test_commit(spool, 5);
    uint64_t record = (spool->segments[0].bytes - SPOOL_SEGMENT_HEADER_SIZE) / 5;
    uint64_t size = spool->segments[0].bytes;
    spool_close(spool);
    cr_assert_eq(record, 64);

    char path[4096];
    segment_file(path, sizeof path, 1);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t byte = 0x5A;
    cr_assert_eq(pwrite(fd, &byte, 1, (off_t)(SPOOL_SEGMENT_HEADER_SIZE + record + 40)), 1);
    cr_assert_eq(close(fd), 0);

    struct spool_recovery_report report;
    spool = test_spool_open(&options, &report);
    cr_assert_eq(report.records, 1);
    cr_assert_eq(report.quarantined_segments, 1);
    cr_assert_eq(report.truncated_bytes, 4 * record);
    char copy[4096];
    snprintf(copy, sizeof copy, "%s/quarantine/%020d.seg", directory, 1);
    cr_assert_eq(file_size(copy), size, "the whole segment is kept");
    cr_assert(file_zero_after(path, SPOOL_SEGMENT_HEADER_SIZE + record));
    cr_assert_eq(test_append(spool, 6), 6, "2..5 were seen, so they are not reused");
    cr_assert_eq(spool->segment_count, 2, "a sequence gap starts a new segment");
    test_commit(spool, 6);
    spool_close(spool);

    spool = test_spool_open(&options, &report);
    cr_assert_eq(report.records, 2);
    cr_assert_eq(report.truncated_bytes, 0);
    cr_assert_eq(report.quarantined_segments, 0);
    cr_assert_eq(report.last_sequence, 6);
    spool_close(spool);
}

/* With sync interval or none a consumer can store a cursor past what survives a power loss: new
 * records then continue after the cursor, or the consumer would skip them. */
Test(spool_recovery, sequence_continues_after_a_cursor_ahead_of_the_data)
{
    struct spool_options options = test_options(directory, NULL);
    options.segment_bytes = 1 << 20;
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 5; n++)
        test_append(spool, n);
    test_commit(spool, 5);
    uint64_t three = SPOOL_SEGMENT_HEADER_SIZE + 3 * 64;
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "up", &cursor), 0);
    cr_assert_eq(test_read_all(cursor, 1), 5);
    spool_cursor_acknowledge(cursor, 5);
    cr_assert_eq(spool_cursor_store(cursor), 0);
    spool_close(spool);
    char path[4096];
    segment_file(path, sizeof path, 1);
    cr_assert_eq(truncate(path, (off_t)three), 0); /* records 4 and 5 never reached the disk */

    spool = test_spool_open(&options, NULL);
    cr_assert_eq(spool_cursor_open(spool, "up", &cursor), 0);
    cr_assert_eq(test_append(spool, 6), 6);
    test_commit(spool, 6);
    cr_assert_eq(test_read_all(cursor, 6), 1, "the consumer gets the new record");
    spool_close(spool);
    struct spool_recovery_report report;
    spool = test_spool_open(&options, &report);
    cr_assert_eq(report.records, 4);
    cr_assert_eq(report.truncated_bytes, 0, "the gap is between segments, not inside one");
    spool_close(spool);
}

/* A segment rolls over when the next record does not fit, which can leave 8 or 16 zero bytes at
 * its end, less than a record header: that is a clean end, so the full segment is kept (an
 * earlier scan took it for a torn record and quarantined every record in it). */
Test(spool_recovery, full_segment_with_a_tail_shorter_than_a_record_header)
{
    for (uint64_t tail = 8; tail < SPOOL_RECORD_HEADER_SIZE; tail += 8) {
        char *dir = temp_dir_make();
        struct spool_options options = test_options(dir, NULL);
        struct spool *spool = test_spool_open(&options, NULL);
        uint64_t n = 1;
        while (options.segment_bytes - spool->segments[0].bytes > 200)
            test_append(spool, n++);
        struct spool_routing routing = test_routing();
        struct buffer meta = BUFFER_INITIALIZER;
        cr_assert_eq(spool_meta_encode(&routing, &meta), 0);
        uint64_t left = options.segment_bytes - spool->segments[0].bytes;
        char filler[256];
        size_t length = 1;
        while (spool_record_padded(SPOOL_RECORD_HEADER_SIZE + meta.length + length) != left - tail)
            length++;
        buffer_release(&meta);
        memset(filler, 'x', sizeof filler);
        uint64_t sequence;
        cr_assert_eq(spool_append(spool, &routing, filler, length, &sequence), 0);
        cr_assert_eq(options.segment_bytes - spool->segments[0].bytes, tail);
        uint64_t records = n;
        test_append(spool, n + 1); /* does not fit: the second segment */
        cr_assert_eq(spool->segment_count, 2);
        test_commit(spool, records + 1);
        spool_close(spool);

        struct spool_recovery_report report;
        spool = test_spool_open(&options, &report);
        cr_assert_eq(report.quarantined_segments, 0, "tail %" PRIu64, tail);
        cr_assert_eq(report.truncated_bytes, 0);
        cr_assert_eq(report.records, records + 1);
        struct spool_cursor *cursor;
        cr_assert_eq(spool_cursor_open(spool, "reader", &cursor), 0);
        struct spool_record record;
        uint64_t count = 0;
        int result;
        while ((result = spool_cursor_next(cursor, &record)) == 1)
            cr_assert_eq(record.sequence, ++count);
        cr_assert_eq(result, 0);
        cr_assert_eq(count, records + 1);
        spool_close(spool);
        temp_dir_remove(dir);
    }
}

/* Flips the bits of one byte of path (a disk error). */
static void byte_flip(const char *path, off_t offset)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, offset), 1);
    byte ^= 0x5A;
    cr_assert_eq(pwrite(fd, &byte, 1, offset), 1);
    cr_assert_eq(close(fd), 0);
}

/* Fills segment 1 until records go to segment 2, then puts `in_second` records into segment 2.
 * Returns the sequence of the first record in segment 2. */
static uint64_t two_segments(struct spool_options *options, uint64_t in_second, uint64_t *last)
{
    struct spool *spool = test_spool_open(options, NULL);
    uint64_t n = 1;
    while (spool->segment_count == 1)
        test_append(spool, n++);
    uint64_t first_second = n - 1;
    for (uint64_t i = 1; i < in_second; i++)
        test_append(spool, n++);
    test_commit(spool, n - 1);
    cr_assert_eq(spool->segment_count, 2);
    cr_assert_eq(spool->segments[1].first_sequence, first_second);
    *last = n - 1;
    spool_close(spool);
    return first_second;
}

/* Spools two segments (five records in the second, all acknowledged), flips the byte at offset of
 * the second, reopens: the second must be in quarantine/, not deleted. what names the damage. */
static void newest_segment_damage_check(off_t offset, const char *what)
{
    struct spool_options options = test_options(directory, NULL);
    uint64_t last;
    uint64_t first_second = two_segments(&options, 5, &last);
    char path[4096];
    segment_file(path, sizeof path, 2);
    byte_flip(path, offset);

    struct spool_recovery_report report;
    struct spool *spool = test_spool_open(&options, &report);
    spool_close(spool);
    char copy[4096];
    snprintf(copy, sizeof copy, "%s/quarantine/%020d.seg", directory, 2);
    cr_expect(path_exists(copy),
              "segment 2 held acknowledged records %" PRIu64 "..%" PRIu64
              " and %s; it is gone, not in quarantine/",
              first_second, last, what);
    cr_expect_eq(report.quarantined_segments, 1, "quarantined %" PRIu64,
                 report.quarantined_segments);
}

/* The newest segment's first record is corrupt, the (acknowledged) ones after it are good:
 * corruption, quarantined like a corrupt record further on; it used to be deleted as if it were
 * a torn first write after the tail. */
Test(spool_recovery, corrupt_first_record_of_newest_segment_is_not_deleted)
{
    newest_segment_damage_check(SPOOL_SEGMENT_HEADER_SIZE + 40, "a corrupt first record");
}

/* The newest segment's header is corrupt (it was synced at creation, so no torn write did that)
 * and acknowledged records follow it: quarantined, not deleted like an interrupted
 * pre-creation. */
Test(spool_recovery, corrupt_header_of_newest_segment_is_not_deleted)
{
    newest_segment_damage_check(30, "a corrupt header"); /* created_ns, under the header CRC */
}

/* A segment whose header names a first sequence (the format allows it; the relay writes 0) but
 * that holds no record yet: the first record appended after recovery must survive the next
 * recovery. The scan demands that the first record carries the header's first sequence, while
 * appends numbered on from the spool's own sequence, so the acknowledged record was cut off as
 * a torn tail at the next start. Found by fuzz_spool_segment. */
Test(spool_recovery, empty_segment_with_a_first_sequence_in_its_header_keeps_its_records)
{
    struct spool_options options = test_options(directory, NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/seg", directory);
    cr_assert_eq(mkdir(path, 0750), 0);
    uint8_t header[SPOOL_SEGMENT_HEADER_SIZE];
    spool_segment_header_encode(
        &(struct spool_segment_header){
            .id = 1, .created_ns = 1, .first_sequence = 4, .salt = 0x1234abcd},
        header);
    segment_file(path, sizeof path, 1);
    file_write_all(path, header, sizeof header);

    struct spool *spool = test_spool_open(&options, NULL);
    uint64_t sequence = test_append(spool, 1);
    test_commit(spool, sequence);
    spool_close(spool);

    struct spool_recovery_report report;
    spool = test_spool_open(&options, &report);
    cr_assert_eq(report.truncated_bytes, 0, "the committed record is not a torn tail");
    cr_assert_eq(report.records, 1);
    cr_assert_eq(report.last_sequence, sequence);
    spool_close(spool);
}

/* Rewrites the header of segment id as a relay with spool format version `version` would have
 * written it: the same fields, that version, a valid header CRC. */
static void segment_version_set(uint64_t id, uint32_t version)
{
    char path[4096];
    segment_file(path, sizeof path, id);
    test_segment_version_set(path, version);
}

/* A downgrade: every segment was written by a newer relay (spool format version 2). Its records
 * are acknowledged and undelivered; this relay cannot read them, so it must refuse to start with
 * a message naming the file and both versions, and leave every segment where and as it is. It
 * used to take each one for a corrupt header: the segments before the last holding records went
 * to quarantine/ ("its records are lost"), the rest were quarantined or deleted as interrupted
 * pre-creations, and the relay started on an empty spool. */
Test(spool_recovery, segment_of_a_newer_format_version_is_refused_and_left_alone)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 200; n++)
        test_append(spool, n);
    test_commit(spool, 200);
    size_t count = spool->segment_count;
    cr_assert_geq(count, 3);
    uint64_t ids[64];
    cr_assert_lt(count, 64);
    for (size_t i = 0; i < count; i++)
        ids[i] = spool->segments[i].id;
    uint64_t prepared = spool->has_prepared ? spool->prepared.id : 0;
    spool_close(spool);
    for (size_t i = 0; i < count; i++)
        segment_version_set(ids[i], SPOOL_FORMAT_VERSION + 1);
    if (prepared)
        segment_version_set(prepared, SPOOL_FORMAT_VERSION + 1);
    char path[4096];
    segment_file(path, sizeof path, ids[0]);
    size_t before_length;
    uint8_t *before = file_read_all(path, &before_length);

    spool = NULL;
    char error[1024] = "";
    struct spool_recovery_report report;
    int result = spool_open(&options, &spool, &report, error, sizeof error);
    cr_assert_neq(result, 0, "a spool of a newer format opened");
    cr_assert_null(spool);
    cr_assert_not_null(strstr(error, path), "names the file: %s", error);
    cr_assert_not_null(strstr(error, "version 2"), "names the version found: %s", error);
    cr_assert_not_null(strstr(error, "version 1"), "names the version understood: %s", error);
    for (size_t i = 0; i < count; i++) {
        segment_file(path, sizeof path, ids[i]);
        cr_assert(path_exists(path), "segment %" PRIu64 " was moved or deleted", ids[i]);
    }
    if (prepared) {
        segment_file(path, sizeof path, prepared);
        cr_assert(path_exists(path), "the pre-created segment was deleted");
    }
    char quarantined[4096];
    snprintf(quarantined, sizeof quarantined, "%s/quarantine/%020" PRIu64 ".seg", directory,
             ids[0]);
    cr_assert_not(path_exists(quarantined));
    segment_file(path, sizeof path, ids[0]);
    size_t after_length;
    uint8_t *after = file_read_all(path, &after_length);
    cr_assert_eq(after_length, before_length);
    cr_assert_eq(memcmp(after, before, before_length), 0, "the segment was changed");
    free(before);
    free(after);
}

/* A newer relay wrote one cursor slot (version 2, valid CRC, the higher generation): this relay
 * must not take it for a torn slot and fall back to the older one (re-sending what the newer one
 * delivered) or, with both slots of the newer version, to the oldest record: it refuses, naming
 * the file and both versions, and leaves the file as it is. */
Test(spool_recovery, cursor_slot_of_a_newer_format_version_is_refused)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 10; n++)
        test_append(spool, n);
    test_commit(spool, 10);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "upstream-a", &cursor), 0);
    spool_cursor_acknowledge(cursor, 4);
    cr_assert_eq(spool_cursor_store(cursor), 0); /* generation 1: slot 1 */
    spool_close(spool);

    /* The newer relay delivered up to 8 and stored it in slot 0 (generation 2). */
    char path[4096];
    snprintf(path, sizeof path, "%s/cursor/upstream-a.cur", directory);
    test_cursor_slot_version_write(path, 8, 2, SPOOL_FORMAT_VERSION + 1);
    size_t before_length;
    uint8_t *before = file_read_all(path, &before_length);

    spool = NULL;
    char error[1024] = "";
    int result = spool_open(&options, &spool, NULL, error, sizeof error);
    cr_assert_neq(result, 0, "a cursor of a newer format was used");
    cr_assert_null(spool);
    cr_assert_not_null(strstr(error, path), "names the file: %s", error);
    cr_assert_not_null(strstr(error, "version 2"), "names the version found: %s", error);
    cr_assert_not_null(strstr(error, "version 1"), "names the version understood: %s", error);
    size_t after_length;
    uint8_t *after = file_read_all(path, &after_length);
    cr_assert_eq(after_length, before_length);
    cr_assert_eq(memcmp(after, before, before_length), 0, "the cursor file was changed");
    free(before);
    free(after);
}
