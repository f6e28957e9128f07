/* Fault injection through the I/O seam: short writes, ENOSPC, EIO, fsync failures; admission;
 * sync modes. Each test states which sequence numbers are committed and durable afterwards. */
#include "test_spool_support.h"

static char *directory;
static struct fault_io fault;
static struct spool_io io;
static struct clock_fake fake_time;
static struct clock fake_clock;

static void faults_setup(void)
{
    directory = temp_dir_make();
    io = fault_io_make(&fault);
    fake_time =
        (struct clock_fake){.realtime_ns = 1700000000000000000LL, .monotonic_ns = 5000000000LL};
    fake_clock = clock_fake_make(&fake_time);
}

static void faults_teardown(void)
{
    temp_dir_remove(directory);
    directory = NULL;
}

TestSuite(spool_faults, .init = faults_setup, .fini = faults_teardown);

static struct spool_options fault_options(void)
{
    struct spool_options options = test_options(directory, &io);
    options.segment_bytes = 1 << 20;
    options.min_free_bytes = 1000;
    options.clock = &fake_clock;
    fault.use_free_bytes = 1;
    fault.free_bytes = 1 << 30;
    return options;
}

/* Reopens the directory with the real I/O and checks records 1..count are there, in order. */
static void expect_on_disk(uint64_t count)
{
    struct spool_options options = test_options(directory, NULL);
    options.segment_bytes = 1 << 20;
    struct spool_recovery_report report;
    struct spool *spool = test_spool_open(&options, &report);
    cr_assert_eq(report.records, count);
    cr_assert_eq(report.truncated_bytes, 0);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "verify", &cursor), 0);
    cr_assert_eq(test_read_all(cursor, 1), count);
    spool_close(spool);
}

static void disk_full_then_space_returns(int write_errno)
{
    struct spool_options options = fault_options();
    struct spool *spool = test_spool_open(&options, NULL);
    test_append(spool, 1);
    test_append(spool, 2);
    test_commit(spool, 2);
    uint64_t size = spool_size_bytes(spool);
    char segment[4096], reserve[4096];
    snprintf(segment, sizeof segment, "%s/seg/%020d.seg", directory, 1);
    snprintf(reserve, sizeof reserve, "%s/reserve", directory);
    uint64_t data_size = spool->segments[0].bytes;
    cr_assert(path_exists(reserve));

    fault.pwritev_countdown = 1;
    fault.pwritev_errno = write_errno;
    fault.free_bytes = 0;
    char payload[64];
    size_t length = test_payload(payload, 3);
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -ENOSPC);
    cr_assert(spool_is_read_only(spool));
    cr_assert_eq(file_size(segment), data_size, "the partial record is cut off");
    cr_assert_eq(spool_size_bytes(spool), size);
    cr_assert_not(path_exists(reserve), "the reserve is given up for recovery room");
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -EROFS);
    test_commit(spool, 2);
    cr_assert_eq(spool_durable_sequence(spool), 2);

    /* Still full a second later: stays read-only. */
    clock_fake_advance(&fake_time, 1500000000LL);
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -EROFS);
    cr_assert_eq(spool_read_only_retry(spool), -EROFS);
    /* Space returns: the next append after the cache expires leaves read-only by itself. */
    fault.free_bytes = 1 << 30;
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -EROFS,
                 "the free-space reading is cached for a second");
    clock_fake_advance(&fake_time, 1500000000LL);
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), 0);
    cr_assert_eq(sequence, 3);
    cr_assert_not(spool_is_read_only(spool));
    cr_assert(path_exists(reserve));
    test_commit(spool, 3);
    cr_assert_eq(spool_durable_sequence(spool), 3);
    spool_close(spool);
    expect_on_disk(3);
}

Test(spool_faults, short_write_truncates_and_goes_read_only)
{
    disk_full_then_space_returns(0);
}

Test(spool_faults, enospc_truncates_and_goes_read_only)
{
    disk_full_then_space_returns(ENOSPC);
}

Test(spool_faults, read_only_retry_leaves_when_space_returns)
{
    struct spool_options options = fault_options();
    struct spool *spool = test_spool_open(&options, NULL);
    test_append(spool, 1);
    fault.pwritev_countdown = 1;
    fault.pwritev_errno = ENOSPC;
    char payload[64];
    size_t length = test_payload(payload, 2);
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -ENOSPC);
    cr_assert_eq(spool_read_only_retry(spool), 0, "1 GiB free: writable at once");
    cr_assert_eq(test_append(spool, 2), 2);
    test_commit(spool, 2);
    spool_close(spool);
    expect_on_disk(2);
}

Test(spool_faults, eio_on_write_is_fatal_and_keeps_committed_records)
{
    struct spool_options options = fault_options();
    struct spool *spool = test_spool_open(&options, NULL);
    test_append(spool, 1);
    test_append(spool, 2);
    test_commit(spool, 2);
    fault.pwritev_countdown = 1;
    fault.pwritev_errno = EIO;
    char payload[64];
    size_t length = test_payload(payload, 3);
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -EIO);
    cr_assert(spool_has_failed(spool));
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -EIO);
    uint64_t committed = 99;
    cr_assert_eq(spool_commit(spool, &committed), -EIO);
    cr_assert_eq(committed, 99, "a failed commit reports nothing");
    cr_assert_eq(spool_committed_sequence(spool), 2);
    cr_assert_eq(spool_durable_sequence(spool), 2);
    spool_close(spool);
    expect_on_disk(2);
}

Test(spool_faults, fsync_failure_is_fatal_and_acknowledges_nothing_new)
{
    struct spool_options options = fault_options();
    struct spool *spool = test_spool_open(&options, NULL);
    test_append(spool, 1);
    test_append(spool, 2);
    test_commit(spool, 2);
    test_append(spool, 3);
    test_append(spool, 4);
    fault.fdatasync_countdown = 1;
    uint64_t committed = 0;
    cr_assert_eq(spool_commit(spool, &committed), -EIO);
    cr_assert_eq(committed, 0);
    cr_assert(spool_has_failed(spool));
    cr_assert_eq(spool_committed_sequence(spool), 2, "3 and 4 are never acknowledged");
    cr_assert_eq(spool_durable_sequence(spool), 2);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "a", &cursor), -EIO);
    spool_close(spool);
    /* The page cache still had 3 and 4, so the restart finds them: re-sending is harmless. */
    expect_on_disk(4);
}

Test(spool_faults, admission_at_max_bytes)
{
    struct spool_options options = fault_options();
    struct spool *spool = test_spool_open(&options, NULL);
    uint64_t empty = spool_size_bytes(spool);
    cr_assert_eq(empty, 2 * SPOOL_SEGMENT_HEADER_SIZE);
    test_append(spool, 1);
    uint64_t record = spool_size_bytes(spool) - empty;
    cr_assert_eq(record % 8, 0);
    spool_close(spool);

    temp_dir_remove(directory);
    directory = temp_dir_make();
    options = fault_options();
    options.max_bytes = empty + 3 * record;
    spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 3; n++)
        cr_assert_eq(test_append(spool, n), n);
    char payload[64];
    size_t length = test_payload(payload, 4);
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -ENOBUFS);
    cr_assert_eq(spool_size_bytes(spool), empty + 3 * record);
    cr_assert_not(spool_is_read_only(spool));
    cr_assert_str_eq(spool_error_reason(-ENOBUFS),
                     "spool is full (spool.max_bytes reached); waiting for delivery");
    test_commit(spool, 3);
    spool_close(spool);
}

/* A record that cannot fit in max_bytes even when every record is delivered is refused as too
 * large (413), not as "full; waiting for delivery" (503): the client would retry it for ever. */
Test(spool_faults, record_larger_than_max_bytes)
{
    struct spool_options options = fault_options();
    options.max_bytes = 64 * 1024;
    struct spool *spool = test_spool_open(&options, NULL);
    uint64_t empty = spool_size_bytes(spool);
    size_t length = (size_t)options.max_bytes;
    char *payload = malloc(length);
    cr_assert_not_null(payload);
    memset(payload, 'x', length);
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -EMSGSIZE,
                 "an empty spool of max_bytes can never hold it");
    cr_assert_eq(spool_size_bytes(spool), empty);
    /* One that fits the empty spool is taken. */
    length = (size_t)(options.max_bytes - empty - 1024);
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), 0);
    free(payload);
    test_commit(spool, sequence);
    spool_close(spool);
}

Test(spool_faults, admission_at_the_free_space_floor)
{
    struct spool_options options = fault_options();
    struct spool *spool = test_spool_open(&options, NULL);
    fault.free_bytes = 1000 + 1000; /* floor 1000 */
    clock_fake_advance(&fake_time, 2000000000LL);
    uint64_t sequence = 0;
    struct spool_routing routing = test_routing();
    char payload[64];
    size_t length = test_payload(payload, 1);
    uint64_t appended = 0;
    int result;
    while ((result = spool_append(spool, &routing, payload, length, &sequence)) == 0)
        appended++;
    cr_assert_eq(result, -ENOSPC);
    /* ~1000 bytes above the floor, 64 bytes a record, counted against the cached reading. */
    cr_assert_eq(appended, 1000 / 64);
    cr_assert_not(spool_is_read_only(spool), "a floor refusal is admission, not a full disk");
    spool_close(spool);
}

Test(spool_faults, interval_mode_syncs_at_most_once_per_interval)
{
    struct spool_options options = fault_options();
    options.sync_mode = CONFIG_SYNC_INTERVAL;
    options.sync_interval_ms = 100;
    struct spool *spool = test_spool_open(&options, NULL);
    int syncs = fault.fdatasync_calls;
    test_append(spool, 1);
    test_commit(spool, 1);
    cr_assert_eq(spool_durable_sequence(spool), 0);
    cr_assert_eq(fault.fdatasync_calls, syncs);
    clock_fake_advance(&fake_time, 50000000LL);
    test_append(spool, 2);
    test_commit(spool, 2);
    cr_assert_eq(spool_durable_sequence(spool), 0);
    clock_fake_advance(&fake_time, 60000000LL);
    test_commit(spool, 2);
    cr_assert_eq(spool_durable_sequence(spool), 2);
    cr_assert_eq(fault.fdatasync_calls, syncs + 1);
    spool_close(spool);
}

Test(spool_faults, none_mode_never_syncs_until_flush)
{
    struct spool_options options = fault_options();
    options.sync_mode = CONFIG_SYNC_NONE;
    struct spool *spool = test_spool_open(&options, NULL);
    int syncs = fault.fdatasync_calls;
    test_append(spool, 1);
    test_commit(spool, 1);
    clock_fake_advance(&fake_time, 10000000000LL);
    test_commit(spool, 1);
    cr_assert_eq(fault.fdatasync_calls, syncs);
    cr_assert_eq(spool_durable_sequence(spool), 0);
    uint64_t committed = 0;
    cr_assert_eq(spool_flush(spool, &committed), 0);
    cr_assert_eq(committed, 1);
    cr_assert_eq(spool_durable_sequence(spool), 1);
    cr_assert_eq(fault.fdatasync_calls, syncs + 1);
    spool_close(spool);
}

Test(spool_faults, always_mode_one_fdatasync_per_commit)
{
    struct spool_options options = fault_options();
    struct spool *spool = test_spool_open(&options, NULL);
    int syncs = fault.fdatasync_calls;
    for (uint64_t n = 1; n <= 50; n++)
        test_append(spool, n);
    test_commit(spool, 50);
    cr_assert_eq(fault.fdatasync_calls, syncs + 1);
    test_commit(spool, 50);
    cr_assert_eq(fault.fdatasync_calls, syncs + 1, "nothing new: no fdatasync");
    cr_assert_eq(spool_durable_sequence(spool), 50);
    spool_close(spool);
}

/* A seam that knows which files (by inode) were written after their last fdatasync or fsync. */
struct unsynced_io {
    struct spool_io real;
    ino_t inodes[64];
    bool dirty[64];
    size_t count;
};

static bool *unsynced_slot(struct unsynced_io *unsynced, int fd)
{
    struct stat status;
    cr_assert_eq(fstat(fd, &status), 0);
    for (size_t i = 0; i < unsynced->count; i++)
        if (unsynced->inodes[i] == status.st_ino)
            return &unsynced->dirty[i];
    cr_assert_lt(unsynced->count, 64);
    unsynced->inodes[unsynced->count] = status.st_ino;
    unsynced->dirty[unsynced->count] = false;
    return &unsynced->dirty[unsynced->count++];
}

static ssize_t unsynced_pwritev(void *context, int fd, const struct iovec *iov, int count,
                                off_t offset)
{
    struct unsynced_io *unsynced = context;
    ssize_t result = unsynced->real.pwritev(NULL, fd, iov, count, offset);
    if (result > 0)
        *unsynced_slot(unsynced, fd) = true;
    return result;
}

static int unsynced_fdatasync(void *context, int fd)
{
    struct unsynced_io *unsynced = context;
    *unsynced_slot(unsynced, fd) = false;
    return unsynced->real.fdatasync(NULL, fd);
}

static int unsynced_fsync(void *context, int fd)
{
    struct unsynced_io *unsynced = context;
    *unsynced_slot(unsynced, fd) = false;
    return unsynced->real.fsync(NULL, fd);
}

/* sync: none closes full segments without an fdatasync; spool_flush (the shutdown) calls every
 * record durable, so it must sync those segments too, not only the active one. */
Test(spool_faults, flush_with_sync_none_syncs_the_segments_closed_unsynced)
{
    static struct unsynced_io unsynced;
    memset(&unsynced, 0, sizeof unsynced);
    unsynced.real = spool_io_system();
    struct spool_io seam = unsynced.real;
    seam.pwritev = unsynced_pwritev;
    seam.fdatasync = unsynced_fdatasync;
    seam.fsync = unsynced_fsync;
    seam.context = &unsynced;
    struct spool_options options = test_options(directory, &seam);
    options.sync_mode = CONFIG_SYNC_NONE;
    struct spool *spool = test_spool_open(&options, NULL);
    uint64_t n = 1;
    while (spool->segment_count < 3)
        test_append(spool, n++);
    cr_assert_eq(spool_commit(spool, NULL), 0);
    size_t written = 0;
    for (size_t i = 0; i < unsynced.count; i++)
        written += unsynced.dirty[i];
    cr_assert_geq(written, 3, "three segments written and not synced before the flush: %zu",
                  written);
    uint64_t flushed = 0;
    cr_assert_eq(spool_flush(spool, &flushed), 0);
    cr_assert_eq(flushed, n - 1);
    cr_assert_eq(spool_durable_sequence(spool), n - 1);
    for (size_t i = 0; i < unsynced.count; i++)
        cr_expect(!unsynced.dirty[i], "file %zu (inode %lu) was written and never synced", i,
                  (unsigned long)unsynced.inodes[i]);
    spool_close(spool);
}

/* The first line of the log file at path holding message into line (empty when none). */
static void log_line_copy(const char *path, const char *message, char *line, size_t size)
{
    FILE *file = fopen(path, "r");
    char *text = calloc(1, 1 << 16);
    cr_assert_not_null(text);
    if (file) {
        size_t length = fread(text, 1, (1 << 16) - 1, file);
        text[length] = '\0';
        fclose(file);
    }
    line[0] = '\0';
    const char *found = strstr(text, message);
    if (found)
        snprintf(line, size, "%.*s", (int)strcspn(found, "\n"), found);
    free(text);
}

/* A logger writing to <directory>/relay.log, whose path goes to path (4096 bytes). */
static struct logger *test_logger_open(char *path)
{
    snprintf(path, 4096, "%s/relay.log", directory);
    struct log_options log_options = {.level = LOG_LEVEL_INFO, .file = path};
    char error[512] = "";
    struct logger *logger = log_open(&log_options, NULL, error, sizeof error);
    cr_assert_not_null(logger, "%s", error);
    return logger;
}

/* A segment that cannot be created for want of descriptors (EMFILE) must say so: the operator
 * raises LimitNOFILE, which "Input/output error" would never make them do. */
Test(spool_faults, segment_creation_failure_names_its_cause_at_open)
{
    struct spool_options options = fault_options();
    fault.open_fail_errno = EMFILE;
    fault.open_fail_flags = O_CREAT;
    fault.open_fail_suffix = ".seg";
    struct spool *spool = NULL;
    char error[512] = "";
    int result = spool_open(&options, &spool, NULL, error, sizeof error);
    cr_assert_neq(result, 0);
    cr_assert_null(spool);
    cr_assert(strstr(error, strerror(EMFILE)) != NULL, "the error names EMFILE: %s", error);
    cr_assert(strstr(error, strerror(EIO)) == NULL, "not EIO: %s", error);
}

Test(spool_faults, segment_creation_failure_names_its_cause_when_the_relay_stops)
{
    char log_path[4096];
    struct logger *logger = test_logger_open(log_path);
    struct spool_options options = fault_options();
    options.segment_bytes = 4096;
    options.logger = logger;
    struct spool *spool = test_spool_open(&options, NULL);
    fault.open_fail_errno = EMFILE;
    fault.open_fail_flags = O_CREAT;
    fault.open_fail_suffix = ".seg";
    /* The pre-created segment becomes the active one; creating its successor fails. */
    uint64_t n = 1;
    while (spool->segment_count < 2)
        test_append(spool, n++);
    cr_assert_eq(spool_commit(spool, NULL), -EIO);
    cr_assert(spool_has_failed(spool));
    spool_close(spool);
    log_close(logger);
    char line[1024];
    log_line_copy(log_path, "cannot pre-create the next spool segment", line, sizeof line);
    cr_assert_neq(line[0], '\0', "the fatal line is logged");
    cr_assert(strstr(line, strerror(EMFILE)) != NULL, "the fatal line names EMFILE: %s", line);
}

/* A directory that cannot be opened for its fsync (EMFILE) after delivered segments were deleted
 * fails the spool: the log must say why, or the operator only ever sees "spool I/O error". */
Test(spool_faults, directory_sync_failure_names_its_cause)
{
    char log_path[4096];
    struct logger *logger = test_logger_open(log_path);
    struct spool_options options = fault_options();
    options.segment_bytes = 4096;
    options.logger = logger;
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "upstream", &cursor), 0);
    uint64_t n = 1;
    while (spool->segment_count < 2)
        test_append(spool, n++);
    test_commit(spool, n - 1);
    cr_assert_eq(test_read_all(cursor, 1), n - 1);
    spool_cursor_acknowledge(cursor, n - 1);
    cr_assert_eq(spool_cursor_store(cursor), 0);
    fault.open_fail_errno = EMFILE;
    fault.open_fail_flags = O_DIRECTORY;
    fault.open_fail_suffix = "/seg";
    size_t released = 0;
    cr_assert_eq(spool_segments_release(spool, &released), -EIO);
    cr_assert_eq(released, 1, "the first segment was deleted before the directory fsync");
    cr_assert(spool_has_failed(spool));
    spool_close(spool);
    log_close(logger);
    char line[1024];
    log_line_copy(log_path, "fsync of a spool directory failed", line, sizeof line);
    cr_assert(strstr(line, strerror(EMFILE)) != NULL, "the log names EMFILE: [%s]", line);
}

/* The reserve file that cannot be created says why, at open and when the spool leaves read-only
 * ingestion (where the relay stops). */
Test(spool_faults, reserve_creation_failure_names_its_cause_at_open)
{
    struct spool_options options = fault_options();
    fault.open_fail_errno = EMFILE;
    fault.open_fail_flags = O_CREAT;
    fault.open_fail_suffix = "/reserve";
    struct spool *spool = NULL;
    char error[512] = "";
    cr_assert_neq(spool_open(&options, &spool, NULL, error, sizeof error), 0);
    cr_assert_null(spool);
    cr_assert(strstr(error, strerror(EMFILE)) != NULL, "the error names EMFILE: %s", error);
}

Test(spool_faults, reserve_creation_failure_names_its_cause_when_leaving_read_only)
{
    char log_path[4096];
    struct logger *logger = test_logger_open(log_path);
    struct spool_options options = fault_options();
    options.logger = logger;
    struct spool *spool = test_spool_open(&options, NULL);
    test_append(spool, 1);
    fault.pwritev_countdown = 1;
    fault.pwritev_errno = ENOSPC;
    char payload[64];
    size_t length = test_payload(payload, 2);
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    cr_assert_eq(spool_append(spool, &routing, payload, length, &sequence), -ENOSPC);
    cr_assert(spool_is_read_only(spool));
    fault.open_fail_errno = EMFILE;
    fault.open_fail_flags = O_CREAT;
    fault.open_fail_suffix = "/reserve";
    cr_assert_eq(spool_read_only_retry(spool), -EIO);
    cr_assert(spool_has_failed(spool));
    spool_close(spool);
    log_close(logger);
    char line[1024];
    log_line_copy(log_path, "cannot recreate the spool reserve file", line, sizeof line);
    cr_assert(strstr(line, strerror(EMFILE)) != NULL, "the log names EMFILE: [%s]", line);
}

/* close() of a full segment that reports an error has still released the descriptor: the spool
 * must not close that number again at shutdown, when it may be a client's socket by then. */
Test(spool_faults, failed_close_of_a_full_segment_is_not_closed_twice)
{
    struct spool_options options = fault_options();
    options.segment_bytes = 4096;
    struct spool *spool = test_spool_open(&options, NULL);
    uint64_t n = 1;
    char payload[64];
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    int result = 0;
    fault.close_fail_armed = 1;
    fault.close_fail_fd = spool->active_fd;
    while (spool->segment_count < 2 && result == 0) {
        size_t length = test_payload(payload, n);
        result = spool_append(spool, &routing, payload, length, &sequence);
        n++;
    }
    cr_assert_eq(result, -EIO, "the failed close of the full segment fails the spool");
    cr_assert(spool_has_failed(spool));
    spool_close(spool);
    cr_assert_eq(fault.close_ebadf_count, 0, "a descriptor was closed twice");
}

/* A cursor file the relay may not open (left owned by root by a run as root: EACCES) says so in
 * the error that stops the start, which is all an operator sees on the terminal. */
Test(spool_faults, cursor_open_failure_names_its_cause)
{
    struct spool_options options = fault_options();
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "upstream", &cursor), 0);
    spool_close(spool);

    fault.open_fail_errno = EACCES;
    fault.open_fail_flags = O_RDWR;
    fault.open_fail_suffix = "/upstream.cur";
    char error[512] = "";
    spool = NULL;
    cr_assert_neq(spool_open(&options, &spool, NULL, error, sizeof error), 0);
    cr_assert(strstr(error, strerror(EACCES)) != NULL, "the error names EACCES: %s", error);

    fault.open_fail_errno = 0;
    spool = test_spool_open(&options, NULL);
    fault.open_fail_errno = EMFILE;
    fault.open_fail_flags = O_RDWR | O_CREAT;
    fault.open_fail_suffix = "/stream.cur";
    cr_assert_eq(spool_cursor_open(spool, "stream", &cursor), -EMFILE);
    spool_close(spool);
}

/* A new cursor file whose directory cannot be opened for the fsync that makes it durable
 * (EMFILE): the error names that, not EIO. */
Test(spool_faults, cursor_creation_directory_sync_failure_names_its_cause)
{
    struct spool_options options = fault_options();
    struct spool *spool = test_spool_open(&options, NULL);
    fault.open_fail_errno = EMFILE;
    fault.open_fail_flags = O_DIRECTORY;
    fault.open_fail_suffix = "/cursor";
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "upstream", &cursor), -EMFILE);
    fault.open_fail_errno = 0;
    cr_assert_eq(spool_cursor_open(spool, "upstream", &cursor), 0, "a later attempt works");
    spool_close(spool);
}

static void failed_count(void *argument)
{
    ++*(int *)argument;
}

/* A cursor store that fails (the forwarder's each second, on an idle relay) fails the spool with
 * no commit to report it: the owner is told, once, so the relay stops instead of running on. */
Test(spool_faults, the_owner_is_told_once_when_a_cursor_store_fails_the_spool)
{
    int told = 0;
    struct spool_options options = fault_options();
    options.failed = failed_count;
    options.failed_argument = &told;
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "upstream", &cursor), 0);
    test_append(spool, 1);
    test_commit(spool, 1);
    cr_assert_eq(test_read_all(cursor, 1), 1);
    spool_cursor_acknowledge(cursor, 1);
    cr_assert_eq(spool_cursor_store(cursor), 0);
    cr_assert_eq(told, 0, "nothing failed yet");
    test_append(spool, 2);
    test_commit(spool, 2);
    cr_assert_eq(test_read_all(cursor, 2), 1);
    spool_cursor_acknowledge(cursor, 2);
    fault.fdatasync_countdown = 1;
    cr_assert_eq(spool_cursor_store(cursor), -EIO);
    cr_assert(spool_has_failed(spool));
    cr_assert_eq(told, 1);
    cr_assert_eq(spool_cursor_store(cursor), -EIO);
    cr_assert_eq(spool_commit(spool, NULL), -EIO);
    cr_assert_eq(told, 1, "told once, not at every failure after");
    spool_close(spool);
}
