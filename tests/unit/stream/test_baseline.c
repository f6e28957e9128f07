/* Baselines from a day series, the baseline file's round trip and its errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stream/baseline.h"
#include "stream_test.h"

static char directory[64];

static void directory_make(void)
{
    snprintf(directory, sizeof directory, "/tmp/nebenkosten-baseline-XXXXXX");
    cr_assert_not_null(mkdtemp(directory));
}

static void directory_remove(void)
{
    static const char *const names[] = {"baselines.json", "bad.json"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", directory, names[i]);
        unlink(path);
    }
    rmdir(directory);
}

TestSuite(stream_baseline, .init = directory_make, .fini = directory_remove);

static void file_write(const char *path, const char *text)
{
    FILE *stream = fopen(path, "w");
    cr_assert_not_null(stream);
    cr_assert_geq(fputs(text, stream), 0);
    cr_assert_eq(fclose(stream), 0);
}

/* 100 days of 10/12/14 with day 50 at 0 and day 60 flagged by the batch. */
#define DAYS 100
static void series_make(int64_t *midnights, double *consumption, bool *flagged)
{
    for (int i = 0; i < DAYS; i++) {
        midnights[i] = test_utc_ns(2024, 1, 2, 0) + i * TEST_DAY_NS;
        consumption[i] = i == 50 ? 0.0 : i == 60 ? 90.0 : 10.0 + 2 * (i % 3);
        flagged[i] = i == 60;
    }
}

Test(stream_baseline, computes_exact_statistics_of_the_learned_days)
{
    int64_t midnights[DAYS];
    double consumption[DAYS];
    bool flagged[DAYS];
    series_make(midnights, consumption, flagged);
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_baseline baseline;
    char error[256] = "";
    cr_assert_eq(stream_baseline_compute(&baseline, midnights, consumption, flagged, DAYS, NULL,
                                         &utc, error, sizeof error),
                 0, "%s", error);
    const struct stream_detector *detector = &baseline.detector;
    /* Learned: 98 days (not the zero, not the flagged one): 33 x 10, 32 x 12, 33 x 14 after
     * removing day 50 (a 14) and day 60 (a 10). */
    int tens = 0, twelves = 0, fourteens = 0;
    for (int i = 0; i < DAYS; i++)
        if (i != 50 && i != 60)
            *(i % 3 == 0 ? &tens : i % 3 == 1 ? &twelves : &fourteens) += 1;
    cr_assert_eq(tens + twelves + fourteens, 98);
    double mean = (10.0 * tens + 12.0 * twelves + 14.0 * fourteens) / 98;
    double m2 = tens * (10 - mean) * (10 - mean) + twelves * (12 - mean) * (12 - mean) +
                fourteens * (14 - mean) * (14 - mean);
    cr_expect_eq(detector->level.count, 98);
    cr_expect(fabs(detector->level.mean - mean) < 1e-12);
    cr_expect(fabs(detector->level.m2 - m2) < 1e-9);
    cr_expect_eq(detector->seasonal.count, 0, "no pattern");
    cr_expect_eq(detector->day_count, DAYS);
    cr_expect_eq(detector->flagged_run, 0, "learned days came after the flagged one");
    /* Quartiles of 33 tens, 32 twelves, 32 fourteens: ranks 24.25 and 72.75 (0-based). */
    cr_expect_eq(stream_quantile_value(&detector->q1, 0.25), 10.0);
    cr_expect_eq(stream_quantile_value(&detector->q3, 0.75), 14.0);
    cr_expect_eq(detector->q1.count, 98);
    for (int i = 1; i < STREAM_QUANTILE_MARKERS; i++)
        cr_expect_gt(detector->q1.positions[i], detector->q1.positions[i - 1]);
    cr_expect_eq(detector->q1.positions[0], 1);
    cr_expect_eq(detector->q1.positions[4], 98);
    /* The window: the last 30 days, oldest first from slot 0. */
    cr_expect_eq(detector->window_count, 30);
    cr_expect_eq(detector->window_next, 0);
    for (int i = 0; i < 30; i++)
        cr_expect_eq(detector->window[i], consumption[70 + i]);
}

Test(stream_baseline, agrees_with_the_online_detector_on_the_same_days)
{
    int64_t midnights[DAYS];
    double consumption[DAYS];
    bool flagged[DAYS];
    series_make(midnights, consumption, flagged);
    struct stream_detector online = {0};
    struct stream_detector_verdict verdict;
    for (int i = 0; i < DAYS; i++) {
        stream_detector_day_close(&online, consumption[i], 0.0, &verdict);
        cr_assert_eq(verdict.anomaly, flagged[i], "day %d", i);
    }
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_baseline baseline;
    char error[256];
    cr_assert_eq(stream_baseline_compute(&baseline, midnights, consumption, flagged, DAYS, NULL,
                                         &utc, error, sizeof error),
                 0);
    cr_expect_eq(online.level.count, baseline.detector.level.count);
    cr_expect(fabs(online.level.mean - baseline.detector.level.mean) < 1e-12);
    cr_expect(fabs(online.level.m2 - baseline.detector.level.m2) < 1e-9);
    cr_expect_eq(online.day_count, baseline.detector.day_count);
    struct stream_detector_summary a, b;
    stream_detector_summarize(&online, &a);
    stream_detector_summarize(&baseline.detector, &b);
    cr_expect(fabs(a.window_mean - b.window_mean) < 1e-12 &&
              fabs(a.window_std - b.window_std) < 1e-12);
}

static void count_meters(const char *meter_id, const struct stream_baseline *baseline,
                         void *argument)
{
    (void)meter_id;
    (void)baseline;
    (*(int *)argument)++;
}

struct loaded {
    char ids[4][32];
    struct stream_baseline baselines[4];
    int count;
};

static void keep_meters(const char *meter_id, const struct stream_baseline *baseline,
                        void *argument)
{
    struct loaded *loaded = argument;
    cr_assert_lt(loaded->count, 4);
    snprintf(loaded->ids[loaded->count], sizeof loaded->ids[0], "%s", meter_id);
    loaded->baselines[loaded->count++] = *baseline;
}

Test(stream_baseline, file_round_trip_is_exact)
{
    int64_t midnights[DAYS];
    double consumption[DAYS];
    bool flagged[DAYS];
    series_make(midnights, consumption, flagged);
    static const double pattern[12] = {16, 14, 12, 8, 4, 2, 2, 2, 4, 8, 12, 16};
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_baseline full, short_one = {0}, online = {0};
    char error[256] = "";
    cr_assert_eq(stream_baseline_compute(&full, midnights, consumption, flagged, DAYS, pattern,
                                         &utc, error, sizeof error),
                 0);
    cr_expect_eq(full.detector.seasonal.count, 98);
    cr_assert_eq(stream_baseline_compute(&short_one, midnights, consumption, NULL, 3, NULL, &utc,
                                         error, sizeof error),
                 0);
    cr_expect_eq(short_one.detector.q3.count, 3);
    /* Nineteen digits: a JSON number would lose the last ones. */
    full.has_register = true;
    full.register_reading_ns = 1733011200123456789;
    full.register_offset = 12034.5 + 1.0 / 3;
    /* An online state whose ring has wrapped (window_next in the middle) and runs P². */
    struct stream_detector_verdict verdict;
    for (int i = 0; i < 47; i++)
        stream_detector_day_close(&online.detector, 1.0 / 3 + i % 7, 0.0, &verdict);
    const struct stream_baseline_entry entries[] = {
        {"haupt_wasser", &full}, {"neu \"zähler\"", &short_one}, {"online", &online}};
    char path[128];
    snprintf(path, sizeof path, "%s/baselines.json", directory);
    cr_assert_eq(stream_baseline_write(path, entries, 3, error, sizeof error), 0, "%s", error);
    cr_expect_neq(access(path, F_OK), -1);

    struct loaded loaded = {0};
    cr_assert_eq(stream_baseline_file_load(path, keep_meters, &loaded, error, sizeof error), 3,
                 "%s", error);
    cr_assert_eq(loaded.count, 3);
    cr_expect_str_eq(loaded.ids[0], "haupt_wasser");
    cr_expect_str_eq(loaded.ids[1], "neu \"zähler\"");
    cr_expect_eq(memcmp(&loaded.baselines[0], &full, sizeof full), 0, "not exact");
    cr_expect_eq(memcmp(&loaded.baselines[1], &short_one, sizeof short_one), 0, "not exact");
    /* The ring comes back oldest first from slot 0: the same days in the same order. */
    struct stream_detector_summary a, b;
    stream_detector_summarize(&online.detector, &a);
    stream_detector_summarize(&loaded.baselines[2].detector, &b);
    cr_expect_eq(a.window_mean, b.window_mean);
    cr_expect_eq(
        memcmp(&online.detector.q1, &loaded.baselines[2].detector.q1, sizeof online.detector.q1),
        0);
    stream_detector_day_close(&online.detector, 5.0, 0.0, &verdict);
    stream_detector_day_close(&loaded.baselines[2].detector, 5.0, 0.0, &verdict);
    stream_detector_summarize(&online.detector, &a);
    stream_detector_summarize(&loaded.baselines[2].detector, &b);
    cr_expect_eq(a.window_mean, b.window_mean, "the next day replaces the same oldest day");

    /* Applying replaces the detector and the spike_rate limit it implies, nothing else. */
    struct stream_meter meter = {.offset = 12.5, .reading_count = 7};
    cr_expect_not(stream_meter_baseline_apply(&meter, &loaded.baselines[0]), "no reading yet");
    cr_expect_eq(memcmp(&meter.detector, &full.detector, sizeof full.detector), 0);
    cr_expect_eq(meter.rate_limit, 20.0, "the upper IQR fence 14 + 1.5 x (14 - 10): %g",
                 meter.rate_limit);
    cr_expect_eq(meter.offset, 12.5);
    cr_expect_eq(meter.reading_count, 7);
}

/* Loads text from a file and expects failure with a message containing each of the fragments. */
static void expect_rejected(const char *text, const char *fragment)
{
    char path[128], error[512] = "";
    snprintf(path, sizeof path, "%s/bad.json", directory);
    file_write(path, text);
    int delivered = 0;
    cr_expect_eq(stream_baseline_file_load(path, count_meters, &delivered, error, sizeof error), -1,
                 "accepted: %s", text);
    cr_expect_eq(delivered, 0, "a meter was delivered from a bad file");
    cr_expect(strstr(error, path) && strstr(error, fragment),
              "message \"%s\" lacks the file or \"%s\"", error, fragment);
}

#define GOOD_METER                                                                                 \
    "{\"days\":3,\"flagged_run\":0,\"level\":{\"count\":2,\"mean\":5,\"m2\":2},"                   \
    "\"seasonal\":{\"count\":0,\"mean\":0,\"m2\":0},"                                              \
    "\"q1\":{\"count\":2,\"heights\":[4,6],\"positions\":[]},"                                     \
    "\"q3\":{\"count\":2,\"heights\":[4,6],\"positions\":[]},\"window\":[0,4,6]}"

Test(stream_baseline, bad_files_are_refused_with_the_file_and_the_place)
{
    expect_rejected("{\"version\":1,\"meters\":{\"a\":" GOOD_METER ",}", "not valid JSON (line 1");
    expect_rejected("{\"version\":1,\n \"meters\": [}", "not valid JSON (line 2");
    /* A newer meter-batch's file (a downgrade): the message names the version found too. */
    expect_rejected("{\"version\":2,\"meters\":{}}", "version: 2, expected 1");
    expect_rejected("{\"meters\":{}}", "version: missing, expected 1");
    expect_rejected("{\"version\":1,\"meters\":[]}", "meters: expected an object");
    expect_rejected("{\"version\":1,\"meters\":{\"ok\":" GOOD_METER ",\"wasser\":{\"days\":3}}}",
                    "meters.wasser: flagged_run: missing");
    expect_rejected("{\"version\":1,\"meters\":{\"wasser\":{\"days\":-1}}}",
                    "meters.wasser: days: expected a whole number");
    expect_rejected("{\"version\":1,\"meters\":{\"wasser\":{\"days\":3,\"flagged_run\":0,"
                    "\"level\":{\"count\":2,\"mean\":5,\"m2\":-1}}}}",
                    "meters.wasser.level: m2");
    expect_rejected("{\"version\":1,\"meters\":{\"wasser\":{\"days\":9,\"flagged_run\":0,"
                    "\"level\":{\"count\":6,\"mean\":5,\"m2\":2},"
                    "\"seasonal\":{\"count\":0,\"mean\":0,\"m2\":0},"
                    "\"q1\":{\"count\":6,\"heights\":[1,2,3,4,5],\"positions\":[1,2,2,4,6]}}}}",
                    "meters.wasser.q1: positions");
    expect_rejected("{\"version\":1,\"meters\":{\"wasser\":{\"days\":9,\"flagged_run\":0,"
                    "\"level\":{\"count\":6,\"mean\":5,\"m2\":2},"
                    "\"seasonal\":{\"count\":0,\"mean\":0,\"m2\":0},"
                    "\"q1\":{\"count\":5,\"heights\":[1,2,3,4,5],\"positions\":[1,2,3,4,5]}}}}",
                    "meters.wasser.q1: count: 5, but level.count is 6");
    expect_rejected("{\"version\":1,\"meters\":{\"wasser\":{\"days\":2,\"flagged_run\":0,"
                    "\"level\":{\"count\":2,\"mean\":5,\"m2\":2},"
                    "\"seasonal\":{\"count\":0,\"mean\":0,\"m2\":0},"
                    "\"q1\":{\"count\":2,\"heights\":[4,6],\"positions\":[]},"
                    "\"q3\":{\"count\":2,\"heights\":[4,6],\"positions\":[]},\"window\":[1,2,3]}}}",
                    "meters.wasser.window");

    char path[128], error[512] = "";
    snprintf(path, sizeof path, "%s/missing.json", directory);
    int delivered = 0;
    cr_expect_eq(stream_baseline_file_load(path, count_meters, &delivered, error, sizeof error),
                 -1);
    cr_expect(strstr(error, path) && strstr(error, "No such file"), "message: %s", error);

    snprintf(path, sizeof path, "%s/bad.json", directory);
    file_write(path, "{\"version\":1,\"meters\":{\"a\":" GOOD_METER ",\"b\":" GOOD_METER "}}");
    cr_expect_eq(stream_baseline_file_load(path, count_meters, &delivered, error, sizeof error), 2,
                 "%s", error);
    cr_expect_eq(delivered, 2);
}

Test(stream_baseline, write_failure_names_the_file)
{
    char path[160], error[512] = "";
    snprintf(path, sizeof path, "%s/no/such/dir/baselines.json", directory);
    cr_expect_eq(stream_baseline_write(path, NULL, 0, error, sizeof error), -1);
    cr_expect(strstr(error, "baselines.json.tmp") && strstr(error, "No such file"), "message: %s",
              error);
}

static void ignore_emission(const struct stream_emission *emission, void *argument)
{
    (void)emission, (void)argument;
}

struct emissions_seen {
    double values[8];
    size_t count;
};

static void keep_emission(const struct stream_emission *emission, void *argument)
{
    struct emissions_seen *seen = argument;
    cr_assert_lt(seen->count, 8);
    seen->values[seen->count++] = emission->value;
}

/* The stream began its register at its own first reading; the batch knows the resets before it.
 * The batch's offset is taken where it is sound, and consumption is unchanged by it. */
Test(stream_baseline, the_register_offset_is_taken_from_the_batch_where_sound)
{
    struct stream_calendar utc = stream_calendar_utc();
    const struct stream_meter_context context = {.calendar = &utc};
    const int64_t day = 86400LL * 1000000000LL, noon = 1704110400LL * 1000000000LL; /* 2024-01-01 */
    struct stream_meter meter = {0};
    stream_meter_reading_apply(&meter, &context, noon, 5.0, ignore_emission, NULL);
    stream_meter_reading_apply(&meter, &context, noon + day, 15.0, ignore_emission, NULL);
    stream_meter_reading_apply(&meter, &context, noon + 2 * day, 25.0, ignore_emission, NULL);
    struct stream_baseline batch = {
        .has_register = true, .register_reading_ns = noon + day, .register_offset = 1005.0};

    /* The stream has read the batch's last reading and booked no reset: taken. */
    struct stream_meter taken = meter;
    cr_assert(stream_meter_baseline_apply(&taken, &batch));
    cr_expect_eq(taken.offset, 1005.0);
    cr_expect_eq(taken.last_value, 1030.0);
    cr_expect_eq(taken.daily_value, meter.daily_value + 1005.0);
    cr_expect_eq(taken.last_raw, 25.0);
    struct emissions_seen seen = {0};
    stream_meter_reading_apply(&taken, &context, noon + 3 * day, 35.0, keep_emission, &seen);
    cr_assert_eq(seen.count, 2, "the midnight's daily and consumption");
    cr_expect_eq(seen.values[0], 1035.0, "the register at midnight, in the batch's terms");
    cr_expect_eq(seen.values[1], 10.0, "the day's consumption, unchanged");
    cr_expect_not(stream_meter_baseline_apply(&taken, &batch), "the same offset: nothing to do");

    /* The stream has not read the batch's last reading yet: it will book its resets itself. */
    struct stream_meter behind = meter;
    batch.register_reading_ns = noon + 3 * day;
    cr_expect_not(stream_meter_baseline_apply(&behind, &batch));
    cr_expect_eq(behind.offset, 0.0);
    batch.register_reading_ns = noon + day;

    /* The stream booked a reset after the batch's last reading: the batch's offset predates it. */
    struct stream_meter reset = meter;
    stream_meter_reading_apply(&reset, &context, noon + 3 * day, 1.0, ignore_emission, NULL);
    stream_meter_reading_apply(&reset, &context, noon + 4 * day, 2.0, ignore_emission, NULL);
    cr_assert_eq(reset.reset_count, 1);
    cr_expect_eq(reset.offset_t, noon + 3 * day);
    double offset = reset.offset;
    cr_expect_not(stream_meter_baseline_apply(&reset, &batch));
    cr_expect_eq(reset.offset, offset);

    /* No register in the file (an older meter-batch): only the detector. */
    struct stream_meter plain = meter;
    batch.has_register = false;
    cr_expect_not(stream_meter_baseline_apply(&plain, &batch));
    cr_expect_eq(plain.offset, 0.0);
}

/* A meter the batch knows and the stream has not seen: its first reading after the batch's last
 * one starts from the batch's register and detector; an older one only from the detector. */
Test(stream_baseline, a_new_meter_starts_from_the_batch)
{
    struct stream_calendar utc = stream_calendar_utc();
    const struct stream_meter_context context = {.calendar = &utc};
    const int64_t day = 86400LL * 1000000000LL, noon = 1704110400LL * 1000000000LL; /* 2024-01-01 */
    struct stream_baseline batch = {
        .has_register = true,
        .register_reading_ns = noon + day,
        .register_offset = 525.0,
        .detector = {.day_count = 40, .level = {.count = 40, .mean = 9}}};
    struct stream_meter fresh = {0};
    cr_assert(stream_meter_baseline_seed(&fresh, &batch, noon + 2 * day));
    stream_meter_reading_apply(&fresh, &context, noon + 2 * day, 25.0, ignore_emission, NULL);
    cr_expect_eq(fresh.last_value, 550.0);
    cr_expect_eq(fresh.detector.level.count, 40);
    struct emissions_seen seen = {0};
    stream_meter_reading_apply(&fresh, &context, noon + 3 * day, 35.0, keep_emission, &seen);
    cr_expect_eq(seen.values[0], 555.0, "the register at midnight, in the batch's terms");
    cr_expect_not(stream_meter_baseline_apply(&fresh, &batch), "the re-seed finds it in step");

    struct stream_meter older = {0};
    cr_expect_not(stream_meter_baseline_seed(&older, &batch, noon));
    cr_expect_eq(older.offset, 0.0);
    cr_expect_eq(older.detector.level.count, 40);
}

/* Two meter-batch runs at once (the relay's nightly job and a cron entry at the same minute) both
 * write the baselines file: each must succeed and leave a whole file, not rename the other's
 * temporary file away from under it (which failed the slower run with "No such file"). */
Test(stream_baseline, two_writers_at_once_both_succeed)
{
    int64_t midnights[DAYS];
    double consumption[DAYS];
    bool flagged[DAYS];
    series_make(midnights, consumption, flagged);
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_baseline baseline;
    char error[512] = "";
    cr_assert_eq(stream_baseline_compute(&baseline, midnights, consumption, flagged, DAYS, NULL,
                                         &utc, error, sizeof error),
                 0);
    const struct stream_baseline_entry entries[] = {{"a", &baseline}, {"b", &baseline}};
    char path[128];
    snprintf(path, sizeof path, "%s/baselines.json", directory);
    enum { ROUNDS = 300 };
    pid_t child = fork();
    cr_assert_neq(child, -1);
    int failures = 0;
    /* The child writes one meter, the parent two: a mixed file would not load. */
    size_t count = child == 0 ? 1 : 2;
    for (int i = 0; i < ROUNDS; i++)
        if (stream_baseline_write(path, entries, count, error, sizeof error) != 0)
            failures++;
    if (child == 0)
        _exit(failures > 255 ? 255 : failures);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's writes failed %d times",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    cr_expect_eq(failures, 0, "the parent's writes failed %d times: %s", failures, error);
    int delivered = 0;
    int loaded = stream_baseline_file_load(path, count_meters, &delivered, error, sizeof error);
    cr_expect(loaded == 1 || loaded == 2, "the file left is whole: %d (%s)", loaded, error);
}
