/* spool_check: the offline report, read-only without fix, recovery with fix, refused when locked.
 */
#include <dirent.h>

#include "test_spool_support.h"
#include "relay/crc32c.h"
#include "relay/spool_reader.h"

static char *directory;

static void check_setup(void)
{
    directory = temp_dir_make();
}

static void check_teardown(void)
{
    temp_dir_remove(directory);
    directory = NULL;
}

TestSuite(spool_check, .init = check_setup, .fini = check_teardown);

/* Runs spool_check into a string (owned by the caller) and returns its result in *result. */
static char *check_run(bool fix, int *result)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    cr_assert_not_null(out);
    *result = spool_check(directory, fix, out);
    cr_assert_eq(fclose(out), 0);
    return text;
}

static void byte_flip(uint64_t id, off_t offset)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seg/%020" PRIu64 ".seg", directory, id);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, offset), 1);
    byte ^= 0x01;
    cr_assert_eq(pwrite(fd, &byte, 1, offset), 1);
    cr_assert_eq(close(fd), 0);
}

Test(spool_check, reports_without_changing_then_fixes)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 150; n++)
        test_append(spool, n);
    test_commit(spool, 150);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "up", &cursor), 0);
    spool_cursor_acknowledge(cursor, 7);
    cr_assert_eq(spool_cursor_store(cursor), 0);
    struct spool_segment middle = spool->segments[1];
    struct spool_segment tail = spool->segments[spool->segment_count - 1];
    spool_close(spool);
    byte_flip(middle.id, 200);
    byte_flip(tail.id, (off_t)tail.bytes - 20); /* inside the last record */

    int result;
    char *text = check_run(false, &result);
    cr_assert_eq(result, 1, "%s", text);
    cr_assert(strstr(text, "corrupt at offset") != NULL, "%s", text);
    cr_assert(strstr(text, "would be quarantined") != NULL, "%s", text);
    cr_assert(strstr(text, "torn tail at offset") != NULL, "%s", text);
    cr_assert(strstr(text, "cursor up: acknowledged 7") != NULL, "%s", text);
    cr_assert(strstr(text, "1 segments to quarantine") != NULL, "%s", text);
    free(text);
    char path[4096];
    snprintf(path, sizeof path, "%s/seg/%020" PRIu64 ".seg", directory, middle.id);
    cr_assert(path_exists(path), "the check alone moves nothing");
    snprintf(path, sizeof path, "%s/seg/%020" PRIu64 ".seg", directory, tail.id);
    uint8_t last_byte = 0;
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, &last_byte, 1, (off_t)tail.bytes - 20), 1);
    cr_assert_eq(close(fd), 0);
    cr_assert_neq(last_byte, 0, "the check alone truncates nothing");

    text = check_run(true, &result);
    cr_assert_eq(result, 1, "%s", text);
    cr_assert(strstr(text, "1 segments quarantined") != NULL, "%s", text);
    free(text);
    fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    last_byte = 1;
    /* Cut off (--fix preallocates nothing, so the file may end before it) or zero. */
    ssize_t got = pread(fd, &last_byte, 1, (off_t)tail.bytes - 20);
    cr_assert_eq(close(fd), 0);
    cr_assert(got == 0 || (got == 1 && last_byte == 0), "the torn record is gone");

    text = check_run(false, &result);
    cr_assert_eq(result, 0, "%s", text);
    cr_assert(strstr(text, "0 segments to quarantine, 0 bytes to truncate") != NULL, "%s", text);
    free(text);
}

Test(spool_check, refused_while_the_relay_holds_the_lock)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    int result;
    char *text = check_run(false, &result);
    cr_assert_eq(result, -EWOULDBLOCK);
    cr_assert_str_eq(text, "", "the command says why, once");
    free(text);
    text = check_run(true, &result);
    cr_assert_eq(result, -EWOULDBLOCK);
    cr_assert_str_eq(text, "", "the command says why, once");
    free(text);
    spool_close(spool);
}

Test(spool_check, missing_directory)
{
    char *missing = directory;
    directory = strdup("/nonexistent/spool-check-test");
    int result;
    char *text = check_run(false, &result);
    cr_assert_eq(result, -ENOENT, "%s", text);
    cr_assert(strstr(text, "/nonexistent/spool-check-test/seg") != NULL, "%s", text);
    free(text);
    free(directory);
    directory = missing;
}

/* A newest segment whose first record is corrupt with good records after it: the check says it
 * would be quarantined (as recovery does), not removed as an interrupted pre-creation. */
Test(spool_check, corrupt_first_record_of_the_newest_segment)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    uint64_t n = 1;
    while (spool->segment_count == 1)
        test_append(spool, n++);
    for (int i = 0; i < 4; i++)
        test_append(spool, n++);
    test_commit(spool, n - 1);
    uint64_t newest = spool->segments[1].id;
    spool_close(spool);
    byte_flip(newest, SPOOL_SEGMENT_HEADER_SIZE + 40); /* the payload of its first record */

    int result;
    char *text = check_run(false, &result);
    cr_assert_eq(result, 1, "%s", text);
    cr_assert(strstr(text, "corrupt after the tail: would be quarantined") != NULL, "%s", text);
    cr_assert(strstr(text, "1 segments to quarantine") != NULL, "%s", text);
    free(text);
}

/* The size of every file in seg/ is at most max. */
static void segment_files_expect_at_most(off_t max, const char *when)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seg", directory);
    DIR *listing = opendir(path);
    cr_assert_not_null(listing);
    struct dirent *entry;
    size_t files = 0;
    while ((entry = readdir(listing)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/seg/%s", directory, entry->d_name);
        struct stat status;
        cr_assert_eq(stat(path, &status), 0);
        cr_expect_leq(status.st_size, max, "%s: %s is %lld bytes", when, entry->d_name,
                      (long long)status.st_size);
        files++;
    }
    closedir(listing);
    cr_expect_gt(files, 0);
}

/* --fix does not know the relay's segment_bytes (it reads no configuration): it allocates
 * nothing, so a spool of small segments is not given 64 MiB ones (beyond its max_bytes, on a
 * disk sized for it); the relay sizes them again at its next start. */
Test(spool_check, fix_keeps_the_segment_size_of_the_relay)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    uint64_t n = 1;
    while (spool->segment_count < 3)
        test_append(spool, n++);
    test_commit(spool, n - 1);
    spool_close(spool);
    segment_files_expect_at_most((off_t)options.segment_bytes, "written by the relay");

    int result;
    char *text = check_run(true, &result);
    cr_assert_eq(result, 0, "%s", text);
    free(text);
    segment_files_expect_at_most((off_t)options.segment_bytes, "after spool-check --fix");

    struct spool_recovery_report report;
    spool = test_spool_open(&options, &report);
    cr_expect_eq(report.records, n - 1);
    cr_expect_eq(report.truncated_bytes, 0);
    test_append(spool, n);
    test_commit(spool, n);
    spool_close(spool);
    segment_files_expect_at_most((off_t)options.segment_bytes, "after the relay's next start");
}

/* dlq replay opens the spool offline too: its appends roll over at the size of the segment the
 * relay pre-created (its segment_bytes), not at the default 64 MiB. */
Test(spool_check, offline_appends_roll_over_where_the_relay_would)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    uint64_t n = 1;
    for (; n <= 5; n++)
        test_append(spool, n);
    test_commit(spool, n - 1);
    spool_close(spool);

    struct spool_options offline = {
        .dir = directory, .sync_mode = CONFIG_SYNC_ALWAYS, .offline = true};
    spool = test_spool_open(&offline, NULL);
    cr_expect_eq(spool->segment_bytes, options.segment_bytes);
    size_t segments = spool->segment_count;
    while (spool->segment_count < segments + 2)
        test_append(spool, n++);
    test_commit(spool, n - 1);
    spool_close(spool);
    segment_files_expect_at_most((off_t)options.segment_bytes, "after offline appends");
}

/* After recovery set a corrupt segment aside (at the relay's start or by --fix), the check of the
 * stopped spool is what the README and /health send the operator to: it must name the
 * quarantined file and the sequences no segment holds any more, not look like a clean spool. */
Test(spool_check, names_what_recovery_quarantined)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 150; n++)
        test_append(spool, n);
    test_commit(spool, 150);
    cr_assert_geq(spool->segment_count, 3, "enough segments for a middle one");
    struct spool_segment middle = spool->segments[1];
    spool_close(spool);
    byte_flip(middle.id, 200);

    int result;
    char *text = check_run(true, &result);
    cr_assert_eq(result, 1, "%s", text);
    free(text);

    text = check_run(false, &result);
    cr_assert_eq(result, 0, "recovery is done: nothing left to repair\n%s", text);
    char file[256];
    snprintf(file, sizeof file, "quarantined %020" PRIu64 ".seg: ", middle.id);
    cr_assert(strstr(text, file) != NULL, "names the quarantined file\n%s", text);
    char missing[128];
    snprintf(missing, sizeof missing, "missing: sequence %" PRIu64 "..%" PRIu64,
             middle.first_sequence, middle.last_sequence);
    cr_assert(strstr(text, missing) != NULL, "names the lost sequences (%s)\n%s", missing, text);
    free(text);
}

/* Rewrites segment id's header as a relay of the next spool format version would write it (that
 * version, a valid CRC); its path goes to path. */
static void segment_version_bump(uint64_t id, char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/seg/%020" PRIu64 ".seg", directory, id);
    test_segment_version_set(path, SPOOL_FORMAT_VERSION + 1);
}

/* A downgrade: a newer relay (spool format version 2) wrote a segment between two of this
 * version's. The check says so instead of "header invalid: would be quarantined", and --fix
 * refuses rather than moving the newer relay's undelivered records to quarantine/. */
Test(spool_check, segment_of_a_newer_format_version_is_reported_and_not_fixed)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 150; n++)
        test_append(spool, n);
    test_commit(spool, 150);
    struct spool_segment middle = spool->segments[1];
    spool_close(spool);
    char path[4096];
    segment_version_bump(middle.id, path, sizeof path);

    int result;
    char *text = check_run(false, &result);
    cr_assert_eq(result, 1, "%s", text);
    cr_assert(strstr(text, "written by a newer meter-relay (spool format version 2") != NULL, "%s",
              text);
    cr_assert(strstr(text, "would be quarantined") == NULL, "%s", text);
    cr_assert(strstr(text, "missing:") == NULL, "its records are there, only unread: %s", text);
    free(text);

    text = check_run(true, &result);
    cr_assert_eq(result, -EPROTO, "%s", text);
    cr_assert(strstr(text, path) != NULL, "names the file: %s", text);
    free(text);
    cr_assert(path_exists(path), "--fix moved the newer relay's segment");
    char quarantined[4096];
    snprintf(quarantined, sizeof quarantined, "%s/quarantine/%020" PRIu64 ".seg", directory,
             middle.id);
    cr_assert_not(path_exists(quarantined));
}

/* spool-dump's walk over a spool with a newer relay's segment in the middle: it skips that
 * segment's records and says why. It called the header "invalid" and told the operator that
 * spool-check --fix quarantines it, which --fix refuses (and must) for a newer format. */
Test(spool_check, dump_walk_names_a_segment_of_a_newer_format_version)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 150; n++)
        test_append(spool, n);
    test_commit(spool, 150);
    struct spool_segment middle = spool->segments[1];
    spool_close(spool);
    char path[4096];
    segment_version_bump(middle.id, path, sizeof path);

    struct spool_directory_reader *reader;
    char error[1024] = "";
    cr_assert_eq(spool_directory_reader_open(directory, 0, &reader, error, sizeof error), 0, "%s",
                 error);
    struct spool_record record;
    int result;
    uint64_t records = 0, damaged = 0;
    while ((result = spool_directory_reader_next(reader, &record, error, sizeof error)) != 0) {
        if (result == -EBADMSG) {
            damaged++;
            cr_assert(strstr(error, path) != NULL, "names the file: %s", error);
            cr_assert(strstr(error, "newer meter-relay (spool format version 2") != NULL, "%s",
                      error);
            cr_assert(strstr(error, "quarantine") == NULL, "%s", error);
            continue;
        }
        cr_assert_eq(result, 1, "%s", error);
        records++;
    }
    spool_directory_reader_close(reader);
    cr_assert_eq(damaged, 1);
    cr_assert_eq(records, 150 - (middle.last_sequence - middle.first_sequence + 1));
}

/* A newer relay wrote a cursor file: the relay and --fix refuse the spool, so the check must not
 * call it clean (exit 0), nor say "no valid slot (starts at the oldest record)". */
Test(spool_check, cursor_of_a_newer_format_version_is_not_clean)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 10; n++)
        test_append(spool, n);
    test_commit(spool, 10);
    struct spool_cursor *cursor;
    cr_assert_eq(spool_cursor_open(spool, "up", &cursor), 0);
    spool_cursor_acknowledge(cursor, 7);
    cr_assert_eq(spool_cursor_store(cursor), 0);
    spool_close(spool);
    char path[4096];
    snprintf(path, sizeof path, "%s/cursor/up.cur", directory);
    test_cursor_slot_version_write(path, 9, 2, SPOOL_FORMAT_VERSION + 1);

    int result;
    char *text = check_run(false, &result);
    cr_assert_eq(result, 1, "%s", text);
    cr_assert(strstr(text, "cursor up: written by a newer meter-relay (spool format version 2") !=
                  NULL,
              "%s", text);
    free(text);
    text = check_run(true, &result);
    cr_assert_eq(result, -EPROTO, "%s", text);
    cr_assert(strstr(text, path) != NULL, "names the file: %s", text);
    free(text);
}
