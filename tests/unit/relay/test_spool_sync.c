/* The sync thread: commits started on the loop finish through the eventfd, appends go on while
 * an fdatasync is in flight, a failed fdatasync is fatal, and roll-over and flush wait for the
 * job in flight. */
#include <poll.h>

#include "test_spool_support.h"

static char *directory;
static struct fault_io fault;
static struct spool_io io;

static void sync_setup(void)
{
    directory = temp_dir_make();
    io = fault_io_make(&fault);
}

static void sync_teardown(void)
{
    temp_dir_remove(directory);
    directory = NULL;
}

TestSuite(spool_sync, .init = sync_setup, .fini = sync_teardown);

/* Waits (at most 5 s) for the eventfd and collects the commit. */
static int commit_wait(struct spool *spool, int event_fd, uint64_t *committed)
{
    struct pollfd poll_fd = {.fd = event_fd, .events = POLLIN};
    cr_assert_eq(poll(&poll_fd, 1, 5000), 1, "the sync thread reports back");
    return spool_commit_complete(spool, committed);
}

Test(spool_sync, commit_finishes_through_the_event_fd)
{
    struct spool_options options = test_options(directory, &io);
    struct spool *spool = test_spool_open(&options, NULL);
    int event_fd = spool_sync_thread_start(spool);
    cr_assert_geq(event_fd, 0);
    cr_assert_eq(spool_sync_thread_start(spool), event_fd, "started once");

    uint64_t committed = 99;
    cr_assert_eq(spool_commit_start(spool, &committed), 1, "nothing to sync finishes at once");
    cr_assert_eq(committed, 0);

    test_append(spool, 1);
    test_append(spool, 2);
    int syncs = fault.fdatasync_calls;
    cr_assert_eq(spool_commit_start(spool, &committed), 0, "in flight");
    cr_assert_eq(spool_committed_sequence(spool), 0, "not committed before the fdatasync");
    test_append(spool, 3); /* appends go on meanwhile */
    cr_assert_eq(spool_commit_start(spool, &committed), 0, "one job at a time");
    cr_assert_eq(commit_wait(spool, event_fd, &committed), 0);
    cr_assert_eq(committed, 2, "the job covers what was written before it started");
    cr_assert_eq(spool_durable_sequence(spool), 2);
    cr_assert_eq(fault.fdatasync_calls, syncs + 1);
    cr_assert_eq(spool_commit_complete(spool, &committed), -EAGAIN, "collected once");

    cr_assert_eq(spool_commit_start(spool, &committed), 0);
    cr_assert_eq(commit_wait(spool, event_fd, &committed), 0);
    cr_assert_eq(committed, 3);

    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "check", &cursor), 0);
    cr_assert_eq(test_read_all(cursor, 1), 3);
    spool_close(spool);
}

Test(spool_sync, failed_fdatasync_is_fatal)
{
    struct spool_options options = test_options(directory, &io);
    struct spool *spool = test_spool_open(&options, NULL);
    int event_fd = spool_sync_thread_start(spool);
    cr_assert_geq(event_fd, 0);
    test_append(spool, 1);
    fault.fdatasync_countdown = 1;
    uint64_t committed = 0;
    cr_assert_eq(spool_commit_start(spool, &committed), 0);
    cr_assert_eq(commit_wait(spool, event_fd, &committed), -EIO);
    cr_assert(spool_has_failed(spool));
    cr_assert_eq(spool_committed_sequence(spool), 0, "nothing was acknowledged");
    cr_assert_eq(spool_commit_start(spool, &committed), -EIO);
    spool_close(spool);
}

/* A flush (shutdown) and a segment roll-over take over the job in flight instead of racing it;
 * the eventfd that fires afterwards has nothing left to collect. */
Test(spool_sync, flush_and_roll_over_wait_for_the_job_in_flight)
{
    struct spool_options options = test_options(directory, &io);
    struct spool *spool = test_spool_open(&options, NULL);
    int event_fd = spool_sync_thread_start(spool);
    cr_assert_geq(event_fd, 0);
    test_append(spool, 1);
    uint64_t committed = 0;
    cr_assert_eq(spool_commit_start(spool, &committed), 0);
    test_append(spool, 2);
    cr_assert_eq(spool_flush(spool, &committed), 0);
    cr_assert_eq(committed, 2);
    cr_assert_eq(spool_commit_complete(spool, &committed), -EAGAIN);

    /* segment_bytes is 4096 in the tests: these appends roll over while jobs are in flight. */
    uint64_t segments = spool_segment_count(spool);
    for (uint64_t n = 3; n <= 80; n++) {
        test_append(spool, n);
        if (spool_commit_start(spool, &committed) == 0 && n % 3 == 0)
            cr_assert_eq(commit_wait(spool, event_fd, &committed), 0);
    }
    cr_assert_gt(spool_segment_count(spool), segments);
    cr_assert_eq(spool_flush(spool, &committed), 0);
    cr_assert_eq(committed, 80);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "check", &cursor), 0);
    cr_assert_eq(test_read_all(cursor, 1), 80);
    spool_close(spool);
}

/* Appends records first .. last and commits them through the sync thread. */
static void append_and_commit(struct spool *spool, int event_fd, uint64_t first, uint64_t last)
{
    for (uint64_t n = first; n <= last; n++)
        test_append(spool, n);
    uint64_t committed = 0;
    cr_assert_eq(spool_commit_start(spool, &committed), 0);
    cr_assert_eq(commit_wait(spool, event_fd, &committed), 0);
    cr_assert_eq(committed, last);
}

static uint64_t active_bytes(const struct spool *spool)
{
    return spool->segments[spool->segment_count - 1].bytes;
}

Test(spool_sync, small_commits_write_zeros_ahead_of_the_records)
{
    const uint64_t mib = 1024 * 1024;
    struct spool_options options = test_options(directory, &io);
    options.segment_bytes = 8 * mib;
    struct spool *spool = test_spool_open(&options, NULL);
    int event_fd = spool_sync_thread_start(spool);
    cr_assert_geq(event_fd, 0);

    int calls = fault.pwritev_calls;
    append_and_commit(spool, event_fd, 1, 1);
    cr_assert_eq(fault.pwritev_calls, calls + 2, "the record, then zeros");
    cr_assert_eq((uint64_t)fault.pwritev_last_offset, active_bytes(spool), "right behind it");
    cr_assert_eq(spool->written_until, mib, "1 MiB, ending on a block boundary");

    /* Refilled when less than 256 KiB is left ahead, from where the zeros ended. */
    uint64_t n = 2;
    while (spool->written_until == mib) {
        cr_assert_lt(active_bytes(spool), mib - 200 * 1024, "not refilled before");
        calls = fault.pwritev_calls;
        append_and_commit(spool, event_fd, n, n + 199);
        n += 200;
    }
    cr_assert_geq(active_bytes(spool), mib - 256 * 1024);
    cr_assert_eq(fault.pwritev_calls, calls + 201, "the records, then zeros");
    cr_assert_eq((uint64_t)fault.pwritev_last_offset, mib);
    cr_assert_eq(spool->written_until, 2 * mib);

    /* A commit over 64 KiB gets none, even when it passes the zeros: its own bytes are most of
     * the disk's work. */
    calls = fault.pwritev_calls;
    append_and_commit(spool, event_fd, n, n + 19999);
    n += 20000;
    cr_assert_gt(active_bytes(spool), 2 * mib);
    cr_assert_eq(fault.pwritev_calls, calls + 20000, "only the records");

    /* Zeros the disk refuses fail nothing: the commit stands and the segment gets no more. */
    fault.pwritev_countdown = 2;
    fault.pwritev_errno = EIO;
    append_and_commit(spool, event_fd, n, n);
    n++;
    cr_assert(!spool_has_failed(spool));
    cr_assert_eq(spool->written_until, options.segment_bytes);
    calls = fault.pwritev_calls;
    append_and_commit(spool, event_fd, n, n);
    cr_assert_eq(fault.pwritev_calls, calls + 1);
    spool_close(spool);

    spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "check", &cursor), 0);
    cr_assert_eq(test_read_all(cursor, 1), n, "every record, after the zeros too");
    spool_close(spool);
}

Test(spool_sync, only_for_sync_always)
{
    struct spool_options options = test_options(directory, &io);
    options.sync_mode = CONFIG_SYNC_NONE;
    struct spool *spool = test_spool_open(&options, NULL);
    cr_assert_eq(spool_sync_thread_start(spool), -ENOTSUP);
    test_append(spool, 1);
    uint64_t committed = 0;
    cr_assert_eq(spool_commit_start(spool, &committed), 1, "commits synchronously");
    cr_assert_eq(committed, 1);
    spool_close(spool);
}
