/* Deferred appends (spool_append_deferred): the records of a loop pass go to the disk in one
 * write at the commit, in sequence order with the write-through ones, and a write that hits a
 * full disk loses only deferred records, which spool_dropped_take reports so that their requests
 * are answered 503 and never acknowledged. */
#include "test_spool_support.h"

static char *directory;
static struct fault_io fault;
static struct spool_io io;
static struct clock_fake fake_time;
static struct clock fake_clock;

static void deferred_setup(void)
{
    directory = temp_dir_make();
    io = fault_io_make(&fault);
    fake_time =
        (struct clock_fake){.realtime_ns = 1700000000000000000LL, .monotonic_ns = 5000000000LL};
    fake_clock = clock_fake_make(&fake_time);
}

static void deferred_teardown(void)
{
    temp_dir_remove(directory);
    directory = NULL;
}

TestSuite(spool_deferred, .init = deferred_setup, .fini = deferred_teardown);

static struct spool_options deferred_options(uint64_t segment_bytes)
{
    struct spool_options options = test_options(directory, &io);
    options.segment_bytes = segment_bytes;
    options.min_free_bytes = 1000;
    options.clock = &fake_clock;
    fault.use_free_bytes = 1;
    fault.free_bytes = 1 << 30;
    return options;
}

/* Defers record n and returns its sequence number (asserting success). */
static uint64_t deferred_append(struct spool *spool, uint64_t n)
{
    char payload[64];
    size_t length = test_payload(payload, n);
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    int result = spool_append_deferred(spool, &routing, payload, length, &sequence);
    cr_assert_eq(result, 0, "deferred append %" PRIu64 ": %d", n, result);
    return sequence;
}

/* Reopens the directory with the real I/O; returns how many records 1..count it holds in order
 * (the sequence of each is its payload's number). */
static uint64_t records_on_disk(uint64_t segment_bytes)
{
    struct spool_options options = test_options(directory, NULL);
    options.segment_bytes = segment_bytes;
    struct spool_recovery_report report;
    struct spool *spool = test_spool_open(&options, &report);
    cr_assert_eq(report.truncated_bytes, 0);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "verify", &cursor), 0);
    uint64_t count = test_read_all(cursor, 1);
    spool_close(spool);
    return count;
}

Test(spool_deferred, the_records_of_a_pass_are_written_in_one_write_at_the_commit)
{
    struct spool_options options = deferred_options(1 << 20);
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "reader", &cursor), 0);
    int writes_before = fault.pwritev_calls;
    for (uint64_t n = 1; n <= 100; n++)
        cr_assert_eq(deferred_append(spool, n), n);
    cr_assert_eq(fault.pwritev_calls, writes_before, "nothing written before the commit");
    cr_assert_eq(spool_appended_sequence(spool), 100);
    struct spool_record record;
    cr_assert_eq(spool_cursor_next(cursor, &record), 0, "uncommitted records are not read");

    test_commit(spool, 100);
    cr_assert_eq(fault.pwritev_calls, writes_before + 1, "one write for the whole pass");
    cr_assert_eq(spool_durable_sequence(spool), 100);
    cr_assert_eq(test_read_all(cursor, 1), 100);
    uint64_t first, last;
    cr_assert_not(spool_dropped_take(spool, &first, &last));
    spool_close(spool);
    cr_assert_eq(records_on_disk(1 << 20), 100);
}

Test(spool_deferred, a_write_through_append_writes_the_deferred_records_before_its_own)
{
    struct spool_options options = deferred_options(1 << 20);
    struct spool *spool = test_spool_open(&options, NULL);
    deferred_append(spool, 1);
    deferred_append(spool, 2);
    cr_assert_eq(test_append(spool, 3), 3);
    deferred_append(spool, 4);
    test_commit(spool, 4);
    spool_close(spool);
    cr_assert_eq(records_on_disk(1 << 20), 4);
}

Test(spool_deferred, a_large_record_is_written_at_once)
{
    struct spool_options options = deferred_options(1 << 20);
    struct spool *spool = test_spool_open(&options, NULL);
    size_t length = SPOOL_DEFERRED_RECORD_MAX;
    char *payload = malloc(length);
    cr_assert_not_null(payload);
    memset(payload, 'x', length - 1);
    payload[length - 1] = '\n';
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    int writes_before = fault.pwritev_calls;
    cr_assert_eq(spool_append_deferred(spool, &routing, payload, length, &sequence), 0);
    cr_assert_eq(fault.pwritev_calls, writes_before + 1);
    free(payload);
    spool_close(spool);
}

Test(spool_deferred, collected_records_are_written_once_they_reach_the_limit)
{
    struct spool_options options = deferred_options(8 << 20);
    struct spool *spool = test_spool_open(&options, NULL);
    int writes_before = fault.pwritev_calls;
    uint64_t n = 0;
    while (fault.pwritev_calls == writes_before) {
        deferred_append(spool, ++n);
        cr_assert_lt(n, 100000);
    }
    cr_assert_geq(n, SPOOL_DEFERRED_BYTES_MAX / 128,
                  "written only near the limit (records < 128 B)");
    cr_assert_eq(spool->deferred.length, 0);
    test_commit(spool, n);
    spool_close(spool);
    cr_assert_eq(records_on_disk(8 << 20), n);
}

Test(spool_deferred, deferred_records_roll_over_into_the_next_segment_in_order)
{
    struct spool_options options = deferred_options(4096);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 300; n++)
        deferred_append(spool, n);
    test_commit(spool, 300);
    cr_assert_gt(spool_segment_count(spool), 3);
    spool_close(spool);
    cr_assert_eq(records_on_disk(4096), 300);
}

Test(spool_deferred, a_clean_close_writes_what_was_deferred)
{
    struct spool_options options = deferred_options(1 << 20);
    struct spool *spool = test_spool_open(&options, NULL);
    deferred_append(spool, 1);
    deferred_append(spool, 2);
    spool_close(spool);
    cr_assert_eq(records_on_disk(1 << 20), 2);
}

Test(spool_deferred, a_full_disk_at_the_commit_loses_only_the_deferred_records_and_says_which)
{
    struct spool_options options = deferred_options(1 << 20);
    struct spool *spool = test_spool_open(&options, NULL);
    deferred_append(spool, 1);
    deferred_append(spool, 2);
    test_commit(spool, 2);
    deferred_append(spool, 3);
    deferred_append(spool, 4);
    deferred_append(spool, 5);
    fault.pwritev_countdown = 1;
    fault.pwritev_errno = 0; /* a short write: half of the three records reach the disk */
    fault.free_bytes = 0;
    uint64_t committed = 0;
    cr_assert_eq(spool_commit(spool, &committed), 0, "the written records still commit");
    uint64_t first = 0, last = 0;
    cr_assert(spool_dropped_take(spool, &first, &last));
    cr_assert_eq(first, 3);
    cr_assert_eq(last, 5);
    cr_assert_not(spool_dropped_take(spool, &first, &last), "reported once");
    cr_assert(spool_is_read_only(spool));
    cr_assert_eq(spool_durable_sequence(spool), committed);

    /* Space returns: the next record gets a new number in a new segment (sequence numbers are
     * never reused, and gap-free within a segment). */
    fault.free_bytes = 1 << 30;
    clock_fake_advance(&fake_time, 1500000000LL);
    cr_assert_eq(deferred_append(spool, 6), 6);
    test_commit(spool, 6);
    cr_assert_eq(spool_segment_count(spool), 3, "segments 1 and 2, and the pre-created 3");
    spool_close(spool);

    struct spool_options real = test_options(directory, NULL);
    real.segment_bytes = 1 << 20;
    struct spool_recovery_report report;
    spool = test_spool_open(&real, &report);
    cr_assert_eq(report.truncated_bytes, 0, "the partial write was cut off at once");
    cr_assert_eq(report.records, 3);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "verify", &cursor), 0);
    uint64_t expected[] = {1, 2, 6};
    struct spool_record record;
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(spool_cursor_next(cursor, &record), 1);
        cr_assert_eq(record.sequence, expected[i]);
        char payload[64];
        size_t length = test_payload(payload, expected[i]);
        cr_assert_eq(record.payload_length, length);
        cr_assert_eq(memcmp(record.payload, payload, length), 0);
    }
    cr_assert_eq(spool_cursor_next(cursor, &record), 0);
    spool_close(spool);
}

Test(spool_deferred, an_io_error_writing_deferred_records_is_fatal)
{
    struct spool_options options = deferred_options(1 << 20);
    struct spool *spool = test_spool_open(&options, NULL);
    deferred_append(spool, 1);
    test_commit(spool, 1);
    deferred_append(spool, 2);
    fault.pwritev_countdown = 1;
    fault.pwritev_errno = EIO;
    uint64_t committed = 0;
    cr_assert_eq(spool_commit(spool, &committed), -EIO);
    cr_assert(spool_has_failed(spool));
    cr_assert_eq(spool_committed_sequence(spool), 1, "2 is never acknowledged");
    spool_close(spool);
    cr_assert_eq(records_on_disk(1 << 20), 1);
}
