#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/clock.h"
#include "config/log.h"

/* 2026-11-26T17:56:21.123Z */
#define LOG_TEST_NOW_NS (INT64_C(1795715781) * 1000000000 + 123456789)

struct log_test {
    char directory[64];
    char path[128];
    struct clock_fake fake;
    struct clock clock;
};

static void log_test_setup(struct log_test *test)
{
    snprintf(test->directory, sizeof test->directory, "/tmp/nebenkosten-log-XXXXXX");
    cr_assert_not_null(mkdtemp(test->directory));
    snprintf(test->path, sizeof test->path, "%s/relay.log", test->directory);
    test->fake = (struct clock_fake){.realtime_ns = LOG_TEST_NOW_NS, .monotonic_ns = 0};
    test->clock = clock_fake_make(&test->fake);
}

static struct logger *log_test_open(struct log_test *test, enum log_level level,
                                    enum log_format format, uint64_t max_bytes, int backup_count)
{
    struct log_options options = {.level = level,
                                  .format = format,
                                  .file = test->path,
                                  .max_bytes = max_bytes,
                                  .backup_count = backup_count};
    char error[512] = "";
    struct logger *logger = log_open(&options, &test->clock, error, sizeof error);
    cr_assert_not_null(logger, "%s", error);
    return logger;
}

/* The file's content (owned by the caller), or NULL when it does not exist. */
static char *log_test_read(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    char *content = calloc(1, 65536);
    cr_assert_not_null(content);
    size_t length = fread(content, 1, 65535, file);
    content[length] = '\0';
    cr_assert_eq(fclose(file), 0);
    return content;
}

static void log_test_expect_file(const char *path, const char *expected)
{
    char *content = log_test_read(path);
    cr_assert_not_null(content, "%s missing", path);
    cr_assert_str_eq(content, expected);
    free(content);
}

static void log_test_remove(struct log_test *test, const char *suffix)
{
    char path[160];
    snprintf(path, sizeof path, "%s%s", test->path, suffix);
    unlink(path);
}

static void log_test_teardown(struct log_test *test)
{
    const char *suffixes[] = {"", ".1", ".2", ".3", ".old"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        log_test_remove(test, suffixes[i]);
    cr_assert_eq(rmdir(test->directory), 0);
}

Test(log_json, line_content_with_the_fake_clock)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_DEBUG, LOG_FORMAT_JSON, 0, 0);
    struct log_field fields[] = {LOG_STRING("meter", "haupt_strom"), LOG_INTEGER("count", 42),
                                 LOG_NUMBER("value", 1.5),
                                 LOG_INTEGER("time_ns", INT64_C(1795715781123456789))};
    log_write(logger, LOG_LEVEL_INFO, "meter read", fields, 4);
    clock_fake_advance(&test.fake, 1000000000);
    log_write(logger, LOG_LEVEL_ERROR, "say \"hi\"\nnext", NULL, 0);
    log_close(logger);
    log_test_expect_file(test.path,
                         "{\"ts\":\"2026-11-26T17:56:21.123Z\",\"level\":\"info\",\"msg\":\"meter "
                         "read\",\"meter\":\"haupt_strom\",\"count\":42,\"value\":1.5,"
                         "\"time_ns\":1795715781123456789}\n"
                         "{\"ts\":\"2026-11-26T17:56:22.123Z\",\"level\":\"error\",\"msg\":\"say "
                         "\\\"hi\\\"\\nnext\"}\n");
    log_test_teardown(&test);
}

Test(log_json, variadic_api_and_special_numbers)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_DEBUG, LOG_FORMAT_JSON, 0, 0);
    log_warning(logger, "odd values", LOG_NUMBER("nan", NAN), LOG_NUMBER("tenth", 0.1),
                LOG_STRING("none", NULL), LOG_INTEGER("negative", -7));
    log_debug(logger, "no fields");
    log_close(logger);
    log_test_expect_file(
        test.path, "{\"ts\":\"2026-11-26T17:56:21.123Z\",\"level\":\"warning\",\"msg\":"
                   "\"odd values\",\"nan\":null,\"tenth\":0.1,\"none\":null,\"negative\":-7}\n"
                   "{\"ts\":\"2026-11-26T17:56:21.123Z\",\"level\":\"debug\",\"msg\":\"no "
                   "fields\"}\n");
    log_test_teardown(&test);
}

Test(log_text, key_value_lines)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, 0, 0);
    log_warning(logger, "upstream slow", LOG_STRING("upstream", "a"), LOG_INTEGER("lag", 3),
                LOG_STRING("note", "two words"), LOG_STRING("quote", "say \"x\""),
                LOG_STRING("empty", ""), LOG_NUMBER("ratio", 0.25));
    log_info(logger, "multi\nline");
    log_close(logger);
    log_test_expect_file(test.path,
                         "2026-11-26T17:56:21.123Z WARNING upstream slow upstream=a lag=3 "
                         "note=\"two words\" quote=\"say \\\"x\\\"\" empty=\"\" ratio=0.25\n"
                         "2026-11-26T17:56:21.123Z INFO multi\\nline\n");
    log_test_teardown(&test);
}

/* A client's bytes reach the log (the route of a request, its Content-Encoding): bytes that are
 * not UTF-8 must leave each JSON line valid UTF-8 JSON (journalctl shows a line that is not as
 * "[blob data]", and strict parsers refuse it), and must not reach a terminal raw in text lines,
 * nor may C1 controls (U+009B is a CSI to a terminal). */
Test(log_json, bytes_that_are_not_utf8_are_replaced)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_DEBUG, LOG_FORMAT_JSON, 0, 0);
    log_warning(logger, "bad \xff", LOG_STRING("route", "/a\xfe\xc3/\xc3\xa4\xe2\x82\xac"),
                LOG_STRING("overlong", "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xf0\x9f\x98\x80"),
                LOG_STRING("cut", "x\xe2\x82"));
    log_close(logger);
    log_test_expect_file(
        test.path, "{\"ts\":\"2026-11-26T17:56:21.123Z\",\"level\":\"warning\",\"msg\":\"bad "
                   "\xef\xbf\xbd\",\"route\":\"/a\xef\xbf\xbd\xef\xbf\xbd/\xc3\xa4\xe2\x82\xac\","
                   "\"overlong\":\"\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xf0\x9f\x98\x80\","
                   "\"cut\":\"x\xef\xbf\xbd\xef\xbf\xbd\"}\n");
    log_test_teardown(&test);
}

Test(log_text, bytes_that_are_not_utf8_and_c1_controls_are_escaped)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, 0, 0);
    log_warning(logger, "bad \xff", LOG_STRING("route", "/a\xfe/\xc3\xa4"),
                LOG_STRING("csi", "\xc2\x9b"
                                  "31m"),
                LOG_STRING("fine", "\xe2\x82\xac"));
    log_close(logger);
    log_test_expect_file(test.path, "2026-11-26T17:56:21.123Z WARNING bad \\xff "
                                    "route=\"/a\\xfe/\xc3\xa4\" csi=\"\\xc2\\x9b31m\" "
                                    "fine=\xe2\x82\xac\n");
    log_test_teardown(&test);
}

Test(log_level, filter_drops_lower_levels)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_WARNING, LOG_FORMAT_TEXT, 0, 0);
    log_debug(logger, "d");
    log_info(logger, "i");
    log_warning(logger, "w");
    log_error(logger, "e");
    log_close(logger);
    log_test_expect_file(test.path, "2026-11-26T17:56:21.123Z WARNING w\n"
                                    "2026-11-26T17:56:21.123Z ERROR e\n");
    log_test_teardown(&test);
}

Test(log_level, parse_and_name)
{
    enum log_level level = LOG_LEVEL_DEBUG;
    cr_assert_eq(log_level_parse("INFO", &level), 0);
    cr_assert_eq(level, LOG_LEVEL_INFO);
    cr_assert_eq(log_level_parse("warn", &level), 0);
    cr_assert_eq(level, LOG_LEVEL_WARNING);
    cr_assert_eq(log_level_parse("Error", &level), 0);
    cr_assert_eq(level, LOG_LEVEL_ERROR);
    cr_assert_eq(log_level_parse("debug", &level), 0);
    cr_assert_eq(level, LOG_LEVEL_DEBUG);
    cr_assert_eq(log_level_parse("verbose", &level), -1);
    cr_assert_eq(level, LOG_LEVEL_DEBUG);
    cr_assert_str_eq(log_level_name(LOG_LEVEL_WARNING), "warning");
    cr_assert_str_eq(log_level_name(LOG_LEVEL_DEBUG), "debug");
}

Test(log_rotation, keeps_file_and_two_backups)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 100, 2);
    for (int i = 0; i < 10; i++)
        log_info(logger, "line", LOG_INTEGER("n", i));
    log_close(logger);
    /* 39-byte lines, two per 100-byte file: 8,9 in file; 6,7 in .1; 4,5 in .2; 0-3 dropped. */
    log_test_expect_file(test.path, "2026-11-26T17:56:21.123Z INFO line n=8\n"
                                    "2026-11-26T17:56:21.123Z INFO line n=9\n");
    char path[160];
    snprintf(path, sizeof path, "%s.1", test.path);
    log_test_expect_file(path, "2026-11-26T17:56:21.123Z INFO line n=6\n"
                               "2026-11-26T17:56:21.123Z INFO line n=7\n");
    snprintf(path, sizeof path, "%s.2", test.path);
    log_test_expect_file(path, "2026-11-26T17:56:21.123Z INFO line n=4\n"
                               "2026-11-26T17:56:21.123Z INFO line n=5\n");
    snprintf(path, sizeof path, "%s.3", test.path);
    cr_assert_eq(access(path, F_OK), -1, "%s exists", path);
    log_test_teardown(&test);
}

Test(log_rotation, no_backups_starts_afresh)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 100, 0);
    for (int i = 0; i < 5; i++)
        log_info(logger, "line", LOG_INTEGER("n", i));
    log_close(logger);
    log_test_expect_file(test.path, "2026-11-26T17:56:21.123Z INFO line n=4\n");
    char path[160];
    snprintf(path, sizeof path, "%s.1", test.path);
    cr_assert_eq(access(path, F_OK), -1);
    log_test_teardown(&test);
}

Test(log_rotation, existing_file_size_counts)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 100, 1);
    log_info(logger, "line", LOG_INTEGER("n", 0));
    log_info(logger, "line", LOG_INTEGER("n", 1));
    log_close(logger);
    /* A restarted process appends and knows the file already holds 78 bytes. */
    logger = log_test_open(&test, LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 100, 1);
    log_info(logger, "line", LOG_INTEGER("n", 2));
    log_close(logger);
    log_test_expect_file(test.path, "2026-11-26T17:56:21.123Z INFO line n=2\n");
    char path[160];
    snprintf(path, sizeof path, "%s.1", test.path);
    log_test_expect_file(path, "2026-11-26T17:56:21.123Z INFO line n=0\n"
                               "2026-11-26T17:56:21.123Z INFO line n=1\n");
    log_test_teardown(&test);
}

Test(log_reopen, writes_to_the_new_file_after_logrotate)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 0, 0);
    log_info(logger, "before");
    char moved[160];
    snprintf(moved, sizeof moved, "%s.old", test.path);
    cr_assert_eq(rename(test.path, moved), 0);
    cr_assert_eq(log_reopen(logger), 0);
    log_info(logger, "after");
    log_close(logger);
    log_test_expect_file(moved, "2026-11-26T17:56:21.123Z INFO before\n");
    log_test_expect_file(test.path, "2026-11-26T17:56:21.123Z INFO after\n");
    log_test_teardown(&test);
}

/* meter-batch runs (spawned by the relay's scheduler or systemd's timers) log to the relay's
 * logging.file and rotate it too: the relay's next line must go to the new file, not to the
 * renamed one, and rotation must count what both wrote. */
Test(log_rotation, follows_a_rotation_by_another_process)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *relay = log_test_open(&test, LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 100, 2);
    struct logger *batch = log_test_open(&test, LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 100, 2);
    log_info(relay, "line", LOG_INTEGER("n", 0));
    log_info(batch, "line", LOG_INTEGER("n", 1));
    log_info(batch, "line", LOG_INTEGER("n", 2)); /* rotates: 0, 1 -> .1 */
    log_info(relay, "line", LOG_INTEGER("n", 3));
    log_info(relay, "line", LOG_INTEGER("n", 4)); /* 2, 3 -> .1, the first to .2 */
    log_close(relay);
    log_close(batch);
    log_test_expect_file(test.path, "2026-11-26T17:56:21.123Z INFO line n=4\n");
    char path[160];
    snprintf(path, sizeof path, "%s.1", test.path);
    log_test_expect_file(path, "2026-11-26T17:56:21.123Z INFO line n=2\n"
                               "2026-11-26T17:56:21.123Z INFO line n=3\n");
    snprintf(path, sizeof path, "%s.2", test.path);
    log_test_expect_file(path, "2026-11-26T17:56:21.123Z INFO line n=0\n"
                               "2026-11-26T17:56:21.123Z INFO line n=1\n");
    log_test_teardown(&test);
}

Test(log_reopen, a_deleted_file_is_created_again)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 0, 0);
    log_info(logger, "before");
    cr_assert_eq(unlink(test.path), 0);
    log_info(logger, "after");
    log_close(logger);
    log_test_expect_file(test.path, "2026-11-26T17:56:21.123Z INFO after\n");
    log_test_teardown(&test);
}

Test(log_reopen, failure_keeps_the_old_handle)
{
    struct log_test test;
    log_test_setup(&test);
    struct logger *logger = log_test_open(&test, LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 0, 0);
    char moved[160];
    snprintf(moved, sizeof moved, "%s.old", test.path);
    cr_assert_eq(rename(test.path, moved), 0);
    /* A directory where the log file should be: the reopen fails, even for root. */
    cr_assert_eq(mkdir(test.path, 0700), 0);
    cr_assert_eq(log_reopen(logger), -1);
    log_info(logger, "kept");
    log_close(logger);
    cr_assert_eq(rmdir(test.path), 0);
    log_test_expect_file(moved, "2026-11-26T17:56:21.123Z INFO kept\n");
    log_test_teardown(&test);
}

Test(log_open, missing_directory_is_an_error)
{
    struct log_options options = {.level = LOG_LEVEL_INFO,
                                  .format = LOG_FORMAT_JSON,
                                  .file = "/tmp/nebenkosten-no-such-dir/relay.log"};
    char error[512] = "";
    struct clock clock = clock_system();
    cr_assert_null(log_open(&options, &clock, error, sizeof error));
    cr_assert_str_eq(error, "cannot open log file /tmp/nebenkosten-no-such-dir/relay.log: No such "
                            "file or directory (check logging.file: its directory must exist and "
                            "be writable)");
}

Test(log_stderr, logger_without_file_and_null_logger, .init = cr_redirect_stderr)
{
    struct clock_fake fake = {.realtime_ns = LOG_TEST_NOW_NS};
    struct clock clock = clock_fake_make(&fake);
    struct log_options options = {.level = LOG_LEVEL_INFO, .format = LOG_FORMAT_TEXT, .file = ""};
    char error[256] = "";
    struct logger *logger = log_open(&options, &clock, error, sizeof error);
    cr_assert_not_null(logger, "%s", error);
    log_info(logger, "to stderr");
    cr_assert_eq(log_reopen(logger), 0);
    log_close(logger);
    log_debug(NULL, "early", LOG_STRING("phase", "startup"));
    /* Closing our end of the pipe lets the read below see its end. */
    cr_assert_eq(fclose(stderr), 0);
    FILE *captured = cr_get_redirected_stderr();
    char buffer[1024] = "";
    size_t length = fread(buffer, 1, sizeof buffer - 1, captured);
    buffer[length] = '\0';
    cr_assert_not_null(strstr(buffer, "2026-11-26T17:56:21.123Z INFO to stderr\n{\"ts\":\""), "%s",
                       buffer);
    cr_assert_not_null(strstr(buffer, "\"level\":\"debug\",\"msg\":\"early\",\"phase\":"
                                      "\"startup\"}\n"),
                       "%s", buffer);
}
