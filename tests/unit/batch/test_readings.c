/* The raw history container and the fixtures' CSV format: sorting, duplicates, timestamps with
 * offsets and fractions, and an error naming file and line for each kind of bad input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch/readings.h"

#define NS_PER_SECOND 1000000000LL

static char *file_write(const char *text)
{
    char *path = strdup("/tmp/nebenkosten-readings-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void csv_error_expect(const char *text, const char *expected)
{
    char *path = file_write(text);
    struct batch_readings readings = {0};
    char error[512] = "";
    cr_assert_eq(batch_readings_read_csv(path, &readings, error, sizeof error), -1);
    char wanted[600];
    snprintf(wanted, sizeof wanted, "%s:%s", path, expected);
    cr_assert(strncmp(error, wanted, strlen(wanted)) == 0, "error \"%s\", expected \"%s...\"",
              error, wanted);
    batch_readings_free(&readings);
    unlink(path);
    free(path);
}

Test(readings, csv_is_sorted_by_meter_and_time_and_keeps_the_last_duplicate)
{
    char *path = file_write("meter_id,timestamp,value\n"
                            "water,2024-01-02T00:00:00Z,2.5\n"
                            "gas,2024-01-03T12:00:00+01:00,7\n"
                            "water,2024-01-01T00:00:00Z,1\n"
                            "\n"
                            "water,2024-01-02T00:00:00Z,3.25\r\n"
                            "gas,1704067200000000000,5\n");
    struct batch_readings readings = {0};
    char error[256];
    cr_assert_eq(batch_readings_read_csv(path, &readings, error, sizeof error), 0, "%s", error);
    cr_assert_eq(readings.meter_count, 2);
    cr_assert_str_eq(readings.meters[0].meter_id, "gas");
    cr_assert_str_eq(readings.meters[1].meter_id, "water");
    const struct batch_meter_readings *gas = batch_readings_find(&readings, "gas");
    cr_assert_eq(gas->count, 2);
    cr_assert_eq(gas->readings[0].t_ns, 1704067200LL * NS_PER_SECOND);
    /* 12:00 at +01:00 is 11:00Z. */
    cr_assert_eq(gas->readings[1].t_ns, (1704067200LL + 2 * 86400 + 11 * 3600) * NS_PER_SECOND);
    const struct batch_meter_readings *water = batch_readings_find(&readings, "water");
    cr_assert_eq(water->count, 2);
    cr_assert_eq(water->readings[0].value, 1.0);
    cr_assert_eq(water->readings[1].value, 3.25, "the later duplicate wins");
    cr_assert_null(batch_readings_find(&readings, "heat"));
    batch_readings_free(&readings);
    unlink(path);
    free(path);
}

Test(readings, every_bad_line_is_named)
{
    csv_error_expect("", "1: empty file");
    csv_error_expect("id,time,value\n", "1: expected the header");
    csv_error_expect("meter_id,timestamp,value\nwater,2024-01-01T00:00:00Z\n",
                     "2: expected meter_id,timestamp,value");
    csv_error_expect("meter_id,timestamp,value\nwater,2024-13-01T00:00:00Z,1\n",
                     "2: timestamp \"2024-13-01T00:00:00Z\"");
    csv_error_expect("meter_id,timestamp,value\nwater,2024-02-30,1\n", "2: timestamp");
    csv_error_expect("meter_id,timestamp,value\nwater,2024-01-01T00:00:00Z,1\n"
                     "water,2024-01-02T00:00:00Z,12,5\n",
                     "3: value \"12,5\" is not a finite number");
    csv_error_expect("meter_id,timestamp,value\nwater,2024-01-01T00:00:00Z,nan\n",
                     "2: value \"nan\"");
    csv_error_expect("meter_id,timestamp,value\n,2024-01-01T00:00:00Z,1\n", "2: empty meter_id");
    /* Nineteen digits beyond int64's range: an error, not an overflow into some other instant. */
    csv_error_expect("meter_id,timestamp,value\nwater,9999999999999999999,1\n",
                     "2: timestamp \"9999999999999999999\"");
    csv_error_expect("meter_id,timestamp,value\nwater,-9999999999999999999,1\n",
                     "2: timestamp \"-9999999999999999999\"");
}

Test(readings, missing_file_names_it)
{
    struct batch_readings readings = {0};
    char error[256];
    cr_assert_eq(
        batch_readings_read_csv("/nonexistent/readings.csv", &readings, error, sizeof error), -1);
    cr_assert(strstr(error, "/nonexistent/readings.csv: cannot open") == error, "%s", error);
}

/* The text names years 0000-9999; int64 ns hold 1677-09-21 to 2262-04-11. Beyond that the
 * arithmetic overflowed (undefined; in practice a time wrapped into another century), e.g. for
 * a --to date of 2300-01-01, a CSV reading or a Tibber time from a broken answer. Found by
 * fuzz_tibber_response. */
Test(readings, timestamps_beyond_the_int64_ns_range_are_refused)
{
    static const char *const refused[] = {
        "1012-03-31T01:00:00.000+01:00",  "2300-01-01",
        "9999-12-31T23:59:59Z",           "0000-01-01",
        "2262-04-11T23:47:16.854775808Z", "1677-09-21T00:12:43.145224191Z",
        "2262-04-12T00:00:00+00:01"};
    int64_t t = 7;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_assert_eq(batch_timestamp_parse(refused[i], strlen(refused[i]), &t), -1, "%s",
                     refused[i]);
    cr_assert_eq(t, 7, "nothing stored");
    const char *latest = "2262-04-11T23:47:16.854775807Z";
    cr_assert_eq(batch_timestamp_parse(latest, strlen(latest), &t), 0);
    cr_assert_eq(t, INT64_MAX);
    const char *earliest = "1677-09-21T00:12:43.145224192Z";
    cr_assert_eq(batch_timestamp_parse(earliest, strlen(earliest), &t), 0);
    cr_assert_eq(t, INT64_MIN);
    cr_assert_eq(batch_timestamp_parse("1677-09-22", 10, &t), 0);
    cr_assert_eq(t, -9223286400LL * NS_PER_SECOND);
}

Test(readings, timestamps_parse_and_format)
{
    int64_t t;
    cr_assert_eq(batch_timestamp_parse("2024-03-31T01:30:00.25Z", 23, &t), 0);
    cr_assert_eq(t, 1711848600LL * NS_PER_SECOND + 250000000);
    cr_assert_eq(batch_timestamp_parse("2024-03-31T03:30:00-02:00", 25, &t), 0);
    cr_assert_eq(t, (1711848600LL + 4 * 3600) * NS_PER_SECOND);
    cr_assert_eq(batch_timestamp_parse("2024-03-31", 10, &t), 0);
    cr_assert_eq(t, 1711843200LL * NS_PER_SECOND);
    cr_assert_eq(batch_timestamp_parse("2024-03-31T01:30:00", 19, &t), -1, "no zone");
    cr_assert_eq(batch_timestamp_parse("2023-02-29", 10, &t), -1);
    char text[BATCH_TIMESTAMP_SIZE];
    batch_timestamp_format(1711848600LL * NS_PER_SECOND + 999999999, text);
    cr_assert_str_eq(text, "2024-03-31T01:30:00Z");
    batch_timestamp_format(-1, text);
    cr_assert_str_eq(text, "1969-12-31T23:59:59Z");
}

Test(readings, adding_refuses_empty_ids_and_non_finite_values)
{
    struct batch_readings readings = {0};
    cr_assert_eq(batch_readings_add(&readings, "", 0, 0, 1.0), -1);
    cr_assert_eq(batch_readings_add(&readings, "a", 1, 0, 1.0 / 0.0), -1);
    /* Many meters: the index grows and every reading lands with its meter. */
    for (int m = 0; m < 1000; m++) {
        char id[16];
        int length = snprintf(id, sizeof id, "meter%d", m);
        for (int i = 3; i > 0; i--)
            cr_assert_eq(batch_readings_add(&readings, id, (size_t)length, i, m + i), 0);
    }
    batch_readings_finish(&readings);
    cr_assert_eq(readings.meter_count, 1000);
    const struct batch_meter_readings *meter = batch_readings_find(&readings, "meter517");
    cr_assert_not_null(meter);
    cr_assert_eq(meter->count, 3);
    cr_assert_eq(meter->readings[0].t_ns, 1);
    cr_assert_eq(meter->readings[2].value, 520.0);
    batch_readings_free(&readings);
}

struct dropped_seen {
    char meters[4][16];
    size_t counts[4];
    int64_t firsts[4];
    size_t calls;
};

static void dropped_note(const struct batch_meter_readings *meter, size_t count, int64_t first_ns,
                         void *argument)
{
    struct dropped_seen *seen = argument;
    cr_assert_lt(seen->calls, 4);
    snprintf(seen->meters[seen->calls], sizeof seen->meters[0], "%s", meter->meter_id);
    seen->counts[seen->calls] = count;
    seen->firsts[seen->calls++] = first_ns;
}

Test(readings, readings_after_the_limit_are_left_out_and_named_per_meter)
{
    struct batch_readings readings = {0};
    /* Added out of order: the drop sorts first. */
    cr_assert_eq(batch_readings_add(&readings, "gas", 3, 30, 3.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "gas", 3, 10, 1.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "gas", 3, 20, 2.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "gas", 3, 25, 2.5), 0);
    cr_assert_eq(batch_readings_add(&readings, "strom", 5, 5, 1.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "wasser", 6, 99, 1.0), 0);
    struct dropped_seen seen = {0};
    cr_assert_eq(batch_readings_drop(&readings, BATCH_READINGS_AFTER, 20, dropped_note, &seen), 3);
    cr_assert_eq(seen.calls, 2);
    cr_expect_str_eq(seen.meters[0], "gas");
    cr_expect_eq(seen.counts[0], 2);
    cr_expect_eq(seen.firsts[0], 25);
    cr_expect_str_eq(seen.meters[1], "wasser");
    cr_expect_eq(seen.counts[1], 1);
    cr_expect_eq(seen.firsts[1], 99);
    const struct batch_meter_readings *gas = batch_readings_find(&readings, "gas");
    cr_assert_eq(gas->count, 2, "a reading at the limit stays");
    cr_expect_eq(gas->readings[1].t_ns, 20);
    cr_expect_eq(batch_readings_find(&readings, "strom")->count, 1);
    cr_expect_eq(batch_readings_find(&readings, "wasser")->count, 0);
    cr_assert_eq(batch_readings_drop(&readings, BATCH_READINGS_AFTER, 20, NULL, NULL), 0);
    batch_readings_free(&readings);
}

Test(readings, readings_before_the_limit_are_left_out_and_named_per_meter)
{
    struct batch_readings readings = {0};
    cr_assert_eq(batch_readings_add(&readings, "gas", 3, 30, 3.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "gas", 3, 5, 0.5), 0);
    cr_assert_eq(batch_readings_add(&readings, "gas", 3, 20, 2.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "gas", 3, 1, 0.1), 0);
    cr_assert_eq(batch_readings_add(&readings, "strom", 5, 50, 1.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "wasser", 6, 2, 1.0), 0);
    struct dropped_seen seen = {0};
    cr_assert_eq(batch_readings_drop(&readings, BATCH_READINGS_BEFORE, 20, dropped_note, &seen), 3);
    cr_assert_eq(seen.calls, 2);
    cr_expect_str_eq(seen.meters[0], "gas");
    cr_expect_eq(seen.counts[0], 2);
    cr_expect_eq(seen.firsts[0], 1, "the earliest of them");
    cr_expect_str_eq(seen.meters[1], "wasser");
    const struct batch_meter_readings *gas = batch_readings_find(&readings, "gas");
    cr_assert_eq(gas->count, 2, "a reading at the limit stays");
    cr_expect_eq(gas->readings[0].t_ns, 20);
    cr_expect_eq(gas->readings[0].value, 2.0);
    cr_expect_eq(gas->readings[1].t_ns, 30);
    cr_expect_eq(batch_readings_find(&readings, "strom")->count, 1);
    cr_expect_eq(batch_readings_find(&readings, "wasser")->count, 0);
    cr_assert_eq(batch_readings_drop(&readings, BATCH_READINGS_BEFORE, 20, NULL, NULL), 0);
    batch_readings_free(&readings);
}
