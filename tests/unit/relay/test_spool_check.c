/* spool_check: the offline report, read-only without fix, recovery with fix, refused when locked.
 */
#include "test_spool_support.h"

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
    cr_assert_eq(pread(fd, &last_byte, 1, (off_t)tail.bytes - 20), 1);
    cr_assert_eq(close(fd), 0);
    cr_assert_eq(last_byte, 0, "the torn record is gone");

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
    cr_assert(strstr(text, "in use by a running meter-relay") != NULL, "%s", text);
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
