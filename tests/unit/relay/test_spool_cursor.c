/* Segments and cursors: roll-over and pre-creation, committed-only reads, persistence, two
 * consumers at different speeds, segment deletion, targeted records. */
#include "test_spool_support.h"

static char *directory;

static void cursor_setup(void)
{
    directory = temp_dir_make();
}

static void cursor_teardown(void)
{
    temp_dir_remove(directory);
    directory = NULL;
}

TestSuite(spool_cursor, .init = cursor_setup, .fini = cursor_teardown);

static int segment_exists(uint64_t id)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seg/%020" PRIu64 ".seg", directory, id);
    return path_exists(path);
}

Test(spool_cursor, segments_roll_over_into_the_pre_created_one)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    cr_assert_eq(spool_segment_count(spool), 2);
    cr_assert(segment_exists(2), "the next segment exists before it is needed");
    uint64_t n = 0;
    while (spool->segment_count < 2)
        test_append(spool, ++n);
    /* The record that did not fit went to segment 2; segment 1 stayed within segment_bytes. */
    cr_assert_eq(spool->segments[0].id, 1);
    cr_assert_eq(spool->segments[1].id, 2);
    cr_assert_leq(spool->segments[0].bytes, 4096);
    cr_assert_gt(spool->segments[0].bytes + 64, 4096);
    cr_assert_eq(spool->segments[1].first_sequence, n);
    cr_assert_not(segment_exists(3));
    test_commit(spool, n);
    cr_assert(segment_exists(3), "commit pre-creates the next one");
    cr_assert_eq(spool_segment_count(spool), 3);
    for (uint64_t i = 0; i < 300; i++)
        test_append(spool, ++n);
    test_commit(spool, n);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "all", &cursor), 0);
    cr_assert_eq(test_read_all(cursor, 1), n);
    spool_close(spool);

    struct spool_recovery_report report;
    spool = test_spool_open(&options, &report);
    cr_assert_eq(report.records, n);
    cr_assert_eq(report.last_sequence, n);
    cr_assert_eq(report.truncated_bytes, 0);
    cr_assert_eq(test_append(spool, n + 1), n + 1);
    spool_close(spool);
}

Test(spool_cursor, yields_only_committed_records)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "stream", &cursor), 0);
    struct spool_record record;
    cr_assert_eq(spool_cursor_next(cursor, &record), 0);
    test_append(spool, 1);
    test_append(spool, 2);
    cr_assert_eq(spool_cursor_next(cursor, &record), 0, "appended but not committed");
    test_commit(spool, 2);
    cr_assert_eq(test_read_all(cursor, 1), 2);
    test_append(spool, 3);
    test_commit(spool, 3);
    cr_assert_eq(spool_cursor_next(cursor, &record), 1, "live tail of the same cursor");
    cr_assert_eq(record.sequence, 3);
    cr_assert_eq(record.routing.db.length, 4);
    cr_assert_eq(memcmp(record.routing.db.data, "home", 4), 0);
    cr_assert_eq(memcmp(record.routing.rp.data, "autogen", 7), 0);
    spool_close(spool);
}

Test(spool_cursor, names_and_double_open)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor, *other;
    cr_assert_eq(spool_cursor_open(spool, "../etc", &other), -EINVAL);
    cr_assert_eq(spool_cursor_open(spool, "", &other), -EINVAL);
    cr_assert_eq(spool_cursor_open(spool, ".hidden", &other), -EINVAL);
    cr_assert_eq(spool_cursor_open(spool, "influx_a-1.x", &cursor), 0);
    cr_assert_eq(spool_cursor_open(spool, "influx_a-1.x", &other), -EBUSY);
    spool_cursor_close(cursor);
    cr_assert_eq(spool_cursor_open(spool, "influx_a-1.x", &other), 0);
    spool_close(spool);
}

Test(spool_cursor, two_consumers_and_segment_deletion)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *fast, *slow;
    cr_assert_eq(spool_cursor_open(spool, "fast", &fast), 0);
    cr_assert_eq(spool_cursor_open(spool, "slow", &slow), 0);
    for (uint64_t n = 1; n <= 250; n++)
        test_append(spool, n);
    test_commit(spool, 250);
    cr_assert_geq(spool->segment_count, 4);
    struct spool_segment first = spool->segments[0], second = spool->segments[1];

    cr_assert_eq(test_read_all(fast, 1), 250);
    spool_cursor_acknowledge(fast, 250);
    cr_assert_eq(spool_cursor_store(fast), 0);
    size_t released = 99;
    cr_assert_eq(spool_segments_release(spool, &released), 0);
    cr_assert_eq(released, 0, "slow has not passed anything");
    cr_assert(segment_exists(first.id));

    /* slow reads into the middle of the second segment; only the first is behind it. */
    uint64_t middle = second.first_sequence + 2;
    struct spool_record record;
    for (uint64_t n = 1; n <= middle; n++) {
        cr_assert_eq(spool_cursor_next(slow, &record), 1);
        cr_assert_eq(record.sequence, n);
    }
    spool_cursor_acknowledge(slow, middle);
    cr_assert_eq(spool_segments_release(spool, &released), 0);
    cr_assert_eq(released, 0, "acknowledged is not durable until stored");
    cr_assert_eq(spool_cursor_store(slow), 0);
    uint64_t size = spool_size_bytes(spool);
    cr_assert_eq(spool_segments_release(spool, &released), 0);
    cr_assert_eq(released, 1);
    cr_assert_not(segment_exists(first.id));
    cr_assert(segment_exists(second.id));
    cr_assert_eq(spool_size_bytes(spool), size - first.bytes);
    spool_close(spool);

    struct spool_recovery_report report;
    spool = test_spool_open(&options, &report);
    cr_assert_eq(report.consumers, 2);
    cr_assert_eq(report.first_sequence, second.first_sequence);
    cr_assert_eq(report.last_sequence, 250);
    cr_assert_eq(spool_cursor_open(spool, "fast", &fast), 0);
    cr_assert_eq(spool_cursor_open(spool, "slow", &slow), 0);
    cr_assert_eq(spool_cursor_next(fast, &record), 0, "fast has delivered everything");
    cr_assert_eq(test_read_all(slow, middle + 1), 250 - middle);
    spool_cursor_acknowledge(slow, 250);
    cr_assert_eq(spool_cursor_store(slow), 0);
    cr_assert_eq(spool_segments_release(spool, &released), 0);
    cr_assert_geq(released, 2);
    cr_assert_eq(spool->segment_count, 1, "everything but the active segment is gone");
    cr_assert_eq(test_append(spool, 251), 251);
    spool_close(spool);
}

Test(spool_cursor, a_consumer_without_a_cursor_file_holds_every_segment)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 150; n++)
        test_append(spool, n);
    test_commit(spool, 150);
    size_t released = 99;
    cr_assert_eq(spool_segments_release(spool, &released), 0);
    cr_assert_eq(released, 0, "no consumer known yet: nothing is deleted");
    struct spool_cursor *late;
    cr_assert_eq(spool_cursor_open(spool, "late", &late), 0);
    cr_assert_eq(spool_segments_release(spool, &released), 0);
    cr_assert_eq(released, 0);
    cr_assert_eq(test_read_all(late, 1), 150);
    spool_close(spool);
}

Test(spool_cursor, records_for_other_consumers_are_stepped_over)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *a, *b;
    cr_assert_eq(spool_cursor_open(spool, "a", &a), 0);
    cr_assert_eq(spool_cursor_open(spool, "b", &b), 0);
    struct spool_routing routing = test_routing();
    uint64_t sequence;
    cr_assert_eq(spool_append(spool, &routing, "x v=1i 1\n", 9, &sequence), 0);
    routing.consumers[0] = (struct spool_slice){"b", 1};
    routing.consumer_count = 1;
    cr_assert_eq(spool_append(spool, &routing, "x v=2i 2\n", 9, &sequence), 0);
    cr_assert_eq(spool_append(spool, &routing, "x v=3i 3\n", 9, &sequence), 0);
    test_commit(spool, 3);

    struct spool_record record;
    cr_assert_eq(spool_cursor_next(a, &record), 1);
    cr_assert_eq(record.sequence, 1);
    cr_assert_eq(spool_cursor_next(a, &record), 0, "2 and 3 are for b only");
    cr_assert_eq(spool_cursor_acknowledged(a), 0, "1 is not acknowledged yet");
    spool_cursor_acknowledge(a, 1);
    cr_assert_eq(spool_cursor_acknowledged(a), 3, "acknowledging 1 covers 2 and 3 stepped over");

    cr_assert_eq(spool_cursor_next(b, &record), 1);
    cr_assert_eq(record.sequence, 1);
    cr_assert_eq(spool_cursor_next(b, &record), 1);
    cr_assert_eq(record.sequence, 2);
    cr_assert_eq(record.routing.consumer_count, 1);
    cr_assert_eq(memcmp(record.payload, "x v=2i 2\n", 9), 0);
    cr_assert_eq(spool_cursor_next(b, &record), 1);
    cr_assert_eq(record.sequence, 3);

    /* With everything acknowledged, later foreign records advance a's acknowledgement. */
    routing.consumers[0] = (struct spool_slice){"b", 1};
    cr_assert_eq(spool_append(spool, &routing, "x v=4i 4\n", 9, &sequence), 0);
    test_commit(spool, 4);
    cr_assert_eq(spool_cursor_next(a, &record), 0);
    cr_assert_eq(spool_cursor_acknowledged(a), 4);
    spool_close(spool);
}

Test(spool_cursor, record_flags_reach_readers_and_unknown_flags_are_refused)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "a", &cursor), 0);
    struct spool_routing routing = test_routing();
    uint64_t sequence;
    cr_assert_eq(spool_append(spool, &routing, "x v=1i 1\n", 9, &sequence), 0);
    cr_assert_eq(spool_append_flagged(spool, &routing,
                                      SPOOL_RECORD_FLAG_DERIVED | SPOOL_RECORD_FLAG_DERIVED_LAST,
                                      "y v=2i 2\n", 9, &sequence),
                 0);
    cr_assert_eq(spool_append_flagged(spool, &routing, 0x80, "z v=3i 3\n", 9, &sequence), -EINVAL);
    test_commit(spool, 2);

    struct spool_record record;
    cr_assert_eq(spool_cursor_next(cursor, &record), 1);
    cr_assert_eq(record.flags, 0);
    cr_assert_eq(spool_cursor_next(cursor, &record), 1);
    cr_assert_eq(record.sequence, 2);
    cr_assert_eq(record.flags, SPOOL_RECORD_FLAG_DERIVED | SPOOL_RECORD_FLAG_DERIVED_LAST);
    cr_assert_eq(spool_cursor_next(cursor, &record), 0);
    spool_close(spool);

    /* After a reopen (recovery re-checks every CRC) the flags are still there. */
    spool = test_spool_open(&options, NULL);
    cr_assert_eq(spool_cursor_open(spool, "b", &cursor), 0);
    cr_assert_eq(spool_cursor_next(cursor, &record), 1);
    cr_assert_eq(spool_cursor_next(cursor, &record), 1);
    cr_assert_eq(record.flags, SPOOL_RECORD_FLAG_DERIVED | SPOOL_RECORD_FLAG_DERIVED_LAST);
    spool_close(spool);
}

Test(spool_cursor, cursors_nobody_opened_are_reported_and_still_hold_segments)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "kept", &cursor), 0);
    cr_assert_eq(spool_cursor_open(spool, "removed_upstream", &cursor), 0);
    spool_close(spool);

    spool = test_spool_open(&options, NULL);
    cr_assert_eq(spool_cursor_open(spool, "kept", &cursor), 0);
    const char *names[4] = {NULL};
    cr_assert_eq(spool_unopened_consumers(spool, names, 4), 1);
    cr_assert_str_eq(names[0], "removed_upstream");
    cr_assert_eq(spool_unopened_consumers(spool, names, 0), 1, "the count without room");

    for (uint64_t n = 1; n <= 150; n++) /* several 4 KiB segments */
        test_append(spool, n);
    test_commit(spool, 150);
    cr_assert_eq(test_read_all(cursor, 1), 150);
    spool_cursor_acknowledge(cursor, 150);
    cr_assert_eq(spool_cursor_store(cursor), 0);
    size_t released = 99;
    cr_assert_eq(spool_segments_release(spool, &released), 0);
    cr_assert_eq(released, 0, "the unopened cursor still holds every segment");
    cr_assert_gt(spool_segment_count(spool), 2);
    spool_close(spool);
}

Test(spool_cursor, a_set_stored_time_is_read_after_reopening_and_keeps_the_position)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "up", &cursor), 0);
    test_append(spool, 1);
    test_append(spool, 2);
    test_commit(spool, 2);
    cr_assert_eq(test_read_all(cursor, 1), 2);
    spool_cursor_acknowledge(cursor, 1);
    cr_assert_eq(spool_cursor_store(cursor), 0);
    /* 2023-11-14T22:13:20.123456789Z: nothing a store made just now can have. */
    const int64_t waiting_since = 1700000000123456789;
    cr_assert_eq(spool_cursor_stored_ns_set(cursor, waiting_since), 0);
    cr_assert_eq(spool_cursor_stored_ns(cursor), waiting_since);
    cr_assert_eq(spool_cursor_stored_ns_set(cursor, 0), -EINVAL);
    spool_close(spool);

    spool = test_spool_open(&options, NULL);
    cr_assert_eq(spool_cursor_open(spool, "up", &cursor), 0);
    cr_assert_eq(spool_cursor_stored_ns(cursor), waiting_since, "the time survives a restart");
    cr_assert_eq(spool_cursor_acknowledged(cursor), 1, "the position is the stored one");
    spool_close(spool);
}
