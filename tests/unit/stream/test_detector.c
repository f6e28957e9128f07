/* The online detectors against hand-computed values, and through a meter. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "stream/detector.h"
#include "stream_test.h"

#define CLOSE(actual, expected)                                                                    \
    cr_expect(fabs((actual) - (expected)) <= 1e-9 * fmax(1.0, fabs(expected)),                     \
              #actual ": %.17g, expected %.17g", (double)(actual), (double)(expected))

Test(stream_detector, welford_gives_mean_and_sample_std)
{
    static const double data[] = {2, 4, 4, 4, 5, 5, 7, 9};
    struct stream_welford welford = {0};
    cr_expect_eq(stream_welford_std(&welford), 0.0);
    for (size_t i = 0; i < 8; i++)
        stream_welford_add(&welford, data[i]);
    cr_expect_eq(welford.count, 8);
    CLOSE(welford.mean, 5.0);
    CLOSE(welford.m2, 32.0);
    CLOSE(stream_welford_std(&welford), sqrt(32.0 / 7.0));
}

/* 60 days alternating 10 and 12: mean 11, M2 60, std sqrt(60/59); the window holds 10 and 12 15
 * times each. */
static void feed_alternating(struct stream_detector *detector, int days)
{
    struct stream_detector_verdict verdict;
    for (int i = 0; i < days; i++) {
        stream_detector_day_close(detector, i % 2 ? 12.0 : 10.0, 0.0, &verdict);
        cr_assert_not(verdict.anomaly, "day %d of a steady meter flagged", i);
    }
}

Test(stream_detector, flags_a_far_day_with_the_hand_computed_scores)
{
    struct stream_detector detector = {0};
    feed_alternating(&detector, 60);
    struct stream_detector_summary before;
    stream_detector_summarize(&detector, &before);
    cr_assert(before.warm);
    CLOSE(before.mean, 11.0);
    CLOSE(before.std, sqrt(60.0 / 59.0));
    CLOSE(before.window_mean, 11.0);
    struct stream_detector learned = detector;

    struct stream_detector_verdict verdict;
    stream_detector_day_close(&detector, 30.0, 0.0, &verdict);
    cr_assert(verdict.scored);
    cr_assert(verdict.anomaly);
    cr_expect_eq(verdict.anomaly_count, 3, "z, IQR and window agree");
    CLOSE(verdict.z_score, (30.0 - 11.0) / sqrt(60.0 / 59.0));
    CLOSE(verdict.iqr_lower, before.q1 - 1.5 * (before.q3 - before.q1));
    CLOSE(verdict.iqr_upper, before.q3 + 1.5 * (before.q3 - before.q1));
    cr_expect(before.q1 >= 10.0 && before.q3 <= 12.0 && before.q3 > before.q1,
              "quartiles of 10/12 data: %g %g", before.q1, before.q3);
    /* The window: days 31..59 (12 fifteen times, 10 fourteen times) and the day itself. */
    double mean = 350.0 / 30.0;
    double squares =
        15 * (12 - mean) * (12 - mean) + 14 * (10 - mean) * (10 - mean) + (30 - mean) * (30 - mean);
    CLOSE(verdict.window_z, (30.0 - mean) / sqrt(squares / 29.0));
    cr_expect_eq(verdict.seasonal_z, 0.0, "no pattern, no seasonal score");

    /* Flagged: nothing learned, only the day count and the window moved. */
    cr_expect_eq(memcmp(&detector.level, &learned.level, sizeof learned.level), 0);
    cr_expect_eq(memcmp(&detector.q1, &learned.q1, sizeof learned.q1), 0);
    cr_expect_eq(memcmp(&detector.q3, &learned.q3, sizeof learned.q3), 0);
    cr_expect_eq(detector.day_count, 61);
    cr_expect_eq(detector.window_count, 30);
    cr_expect_eq(detector.flagged_run, 1);
}

Test(stream_detector, a_near_day_is_not_flagged_and_is_learned)
{
    struct stream_detector detector = {0};
    feed_alternating(&detector, 60);
    struct stream_detector_verdict verdict;
    stream_detector_day_close(&detector, 12.5, 0.0, &verdict);
    cr_assert(verdict.scored);
    cr_expect_not(verdict.anomaly);
    CLOSE(verdict.z_score, 1.5 / sqrt(60.0 / 59.0));
    cr_expect_eq(detector.level.count, 61);
    CLOSE(detector.level.mean, (60 * 11.0 + 12.5) / 61);
    cr_expect_eq(detector.flagged_run, 0);
}

Test(stream_detector, zero_days_are_neither_scored_nor_learned)
{
    struct stream_detector detector = {0};
    feed_alternating(&detector, 60);
    struct stream_detector_verdict verdict;
    stream_detector_day_close(&detector, 0.0, 0.0, &verdict);
    cr_expect_not(verdict.scored);
    cr_expect_not(verdict.anomaly);
    cr_expect_eq(detector.level.count, 60);
    cr_expect_eq(detector.day_count, 61);
    uint32_t run, days_before, zeros_before;
    stream_detector_zero_run(&detector, &run, &days_before, &zeros_before);
    cr_expect_eq(run, 1);
    cr_expect_eq(days_before, 29);
    cr_expect_eq(zeros_before, 0);
}

Test(stream_detector, nothing_is_flagged_during_the_warm_up)
{
    struct stream_detector detector = {0};
    struct stream_detector_verdict verdict;
    feed_alternating(&detector, 58);
    stream_detector_day_close(&detector, 1000.0, 0.0, &verdict);
    cr_expect_not(verdict.scored, "59 days are not enough");
    cr_expect_not(verdict.anomaly);

    /* 60 days, but only 29 of them consumed. */
    struct stream_detector sparse = {0};
    for (int i = 0; i < 59; i++)
        stream_detector_day_close(&sparse, i < 31 ? 0.0 : 10.0 + i % 3, 0.0, &verdict);
    stream_detector_day_close(&sparse, 1000.0, 0.0, &verdict);
    cr_expect_eq(sparse.day_count, 60);
    cr_expect_not(verdict.scored, "29 learned non-zero days are not enough");
}

Test(stream_detector, a_day_far_below_is_an_ordinary_day)
{
    struct stream_detector detector = {0};
    feed_alternating(&detector, 60);
    struct stream_detector_verdict verdict;
    stream_detector_day_close(&detector, 1.0, 0.0, &verdict);
    cr_assert(verdict.scored);
    CLOSE(verdict.z_score, -10.0 / sqrt(60.0 / 59.0));
    cr_expect_lt(verdict.window_z, -3.0, "far below the window too: %g", verdict.window_z);
    cr_expect_not(verdict.anomaly, "only days above the normal are flagged");
    cr_expect_eq(verdict.anomaly_count, 0);
    cr_expect_eq(detector.level.count, 61, "learned like any other day");
    cr_expect_eq(detector.flagged_run, 0);
}

/* 60 days of 10/12, then a step to 30/31. */
Test(stream_detector, a_step_is_flagged_until_the_window_has_taken_it_in)
{
    struct stream_detector detector = {0};
    feed_alternating(&detector, 60);
    struct stream_detector_verdict verdict;
    stream_detector_day_close(&detector, 30.0, 0.0, &verdict);
    cr_expect(verdict.anomaly);
    stream_detector_day_close(&detector, 31.0, 0.0, &verdict);
    cr_expect(verdict.anomaly);
    cr_expect_eq(detector.flagged_run, 2);

    /* The window: days 33..59 (fourteen 12s, thirteen 10s) and 30, 31, 30. */
    double mean = (14 * 12.0 + 13 * 10.0 + 91.0) / 30;
    double squares = 14 * (12 - mean) * (12 - mean) + 13 * (10 - mean) * (10 - mean) +
                     2 * (30 - mean) * (30 - mean) + (31 - mean) * (31 - mean);
    stream_detector_day_close(&detector, 30.0, 0.0, &verdict);
    CLOSE(verdict.window_z, (30.0 - mean) / sqrt(squares / 29.0));
    cr_expect_lt(verdict.window_z, 3.0);
    CLOSE(verdict.z_score, 19.0 / sqrt(60.0 / 59.0));
    cr_expect_eq(verdict.anomaly_count, 2, "global z and the IQR fence still agree");
    cr_expect_not(verdict.anomaly, "the recent days have got used to the new level");
    cr_expect_eq(detector.level.count, 61, "learned");
    cr_expect_eq(detector.flagged_run, 0);
}

Test(stream_detector, seven_flagged_days_in_a_row_are_a_new_normal)
{
    struct stream_detector detector = {0};
    feed_alternating(&detector, 60);
    struct stream_detector_verdict verdict;
    /* A climb that keeps outrunning the window: 30, 60, 120, ..., 1920. */
    for (int i = 0; i < STREAM_DETECTOR_SHIFT_DAYS; i++) {
        stream_detector_day_close(&detector, 30.0 * (1 << i), 0.0, &verdict);
        cr_assert(verdict.anomaly, "climbing day %d not flagged (window z %g)", i,
                  verdict.window_z);
        cr_expect_eq(verdict.restart, i == STREAM_DETECTOR_SHIFT_DAYS - 1);
    }
    /* Learned again from the window: days 37..59 (twelve 12s, eleven 10s) and the seven climbing
     * days (sum 30 x (2^7 - 1), squares 900 x (4^7 - 1) / 3). */
    double mean = (12 * 12.0 + 11 * 10.0 + 30.0 * 127) / 30;
    double std = sqrt((12 * 144.0 + 11 * 100.0 + 900.0 * 5461 - 30 * mean * mean) / 29);
    cr_expect_eq(detector.level.count, 30);
    CLOSE(detector.level.mean, mean);
    CLOSE(stream_welford_std(&detector.level), std);
    cr_expect_eq(detector.q1.count, 30);
    cr_expect_eq(detector.flagged_run, 0);
    stream_detector_day_close(&detector, 100.0, 0.0, &verdict);
    cr_expect(verdict.scored, "still warm");
    CLOSE(verdict.z_score, (100.0 - mean) / std);
    cr_expect_not(verdict.anomaly);
    cr_expect_eq(detector.level.count, 31);
}

Test(stream_detector, seasonal_factor_is_the_month_share_over_its_days)
{
    static const double percentages[12] = {15.5, 14, 12, 8, 4, 0, 2, 2, 4, 8, 14.5, 16};
    struct stream_calendar utc = stream_calendar_utc();
    /* Stamped Jan 2nd and Feb 1st: days of January; Mar 1st 2024: February 29th. */
    CLOSE(stream_detector_seasonal_factor(percentages, &utc, test_utc_ns(2024, 1, 2, 0)),
          0.155 * 365.2425 / 31);
    CLOSE(stream_detector_seasonal_factor(percentages, &utc, test_utc_ns(2024, 2, 1, 0)),
          0.155 * 365.2425 / 31);
    CLOSE(stream_detector_seasonal_factor(percentages, &utc, test_utc_ns(2024, 3, 1, 0)),
          0.14 * 365.2425 / 29);
    CLOSE(stream_detector_seasonal_factor(percentages, &utc, test_utc_ns(2023, 3, 1, 0)),
          0.14 * 365.2425 / 28);
    CLOSE(stream_detector_seasonal_factor(percentages, &utc, test_utc_ns(2024, 6, 15, 0)),
          STREAM_DETECTOR_SEASONAL_MIN_FACTOR);
    cr_expect_eq(stream_detector_seasonal_factor(NULL, &utc, test_utc_ns(2024, 6, 15, 0)), 0.0);
}

/* A heating meter read at every midnight: 10 x the month's factor x (1 +- 30 % weather), for 600
 * days from 2023-01-01. On 2024-01-20 a cold snap uses 1.5 x a normal January day; on 2024-07-20
 * the meter uses that same amount. */
static void heating_run(const double *pattern, struct test_emissions *out, double *snap_value)
{
    static const double reference[12] = {16, 14, 12, 8, 4, 2, 2, 2, 4, 8, 12, 16};
    struct stream_calendar utc = stream_calendar_utc();
    const struct stream_meter_context context = {.calendar = &utc, .seasonal_percentages = pattern};
    struct stream_meter meter = {0};
    double register_value = 1000.0;
    int64_t snap = test_utc_ns(2024, 1, 21, 0), summer = test_utc_ns(2024, 7, 21, 0);
    *snap_value = 1.5 * 10 * stream_detector_seasonal_factor(reference, &utc, snap);
    for (int i = 0; i < 600; i++) {
        int64_t midnight = test_utc_ns(2023, 1, 1, 0) + i * TEST_DAY_NS;
        double day = 10 * stream_detector_seasonal_factor(reference, &utc, midnight) *
                     (1 + 0.3 * sin(i * 2.3));
        if (midnight == snap || midnight == summer)
            day = *snap_value;
        register_value += i ? day : 0.0;
        stream_meter_reading_apply(&meter, &context, midnight, register_value,
                                   test_emissions_collect, out);
    }
}

Test(stream_detector, a_winter_cold_snap_is_expected_the_same_day_in_summer_is_not)
{
    static const double pattern[12] = {16, 14, 12, 8, 4, 2, 2, 2, 4, 8, 12, 16};
    struct test_emissions out = {0};
    double snap_value;
    heating_run(pattern, &out, &snap_value);
    cr_expect_null(test_anomaly_find(&out, test_utc_ns(2024, 1, 21, 0)), "cold snap flagged");
    const struct stream_emission *summer = test_anomaly_find(&out, test_utc_ns(2024, 7, 21, 0));
    cr_assert_not_null(summer, "the winter amount in July was not flagged");
    CLOSE(summer->value, snap_value);
    cr_expect_geq(summer->anomaly_count, 2, "the seasonal score and the window agree");
    cr_expect_eq(test_kind_count(&out, STREAM_EMISSION_ANOMALY), 1, "an ordinary day was flagged");
    free(out.items);
}

Test(stream_detector, a_meter_emits_the_anomaly_with_its_days_consumption)
{
    struct stream_calendar utc = stream_calendar_utc();
    const struct stream_meter_context context = {.calendar = &utc};
    struct stream_meter meter = {0};
    struct test_emissions out = {0};
    double register_value = 0.0;
    /* 70 days of 10/12 (the first is the meter's first day), then a day of 40. */
    for (int i = 0; i <= 71; i++) {
        register_value += i == 0 ? 0.0 : i == 71 ? 40.0 : i % 2 ? 12.0 : 10.0;
        stream_meter_reading_apply(&meter, &context, test_utc_ns(2024, 1, 1, 0) + i * TEST_DAY_NS,
                                   register_value, test_emissions_collect, &out);
    }
    int64_t stamp = test_utc_ns(2024, 1, 1, 0) + 71 * TEST_DAY_NS;
    cr_assert_eq(test_kind_count(&out, STREAM_EMISSION_ANOMALY), 1);
    const struct stream_emission *anomaly = &out.items[out.count - 1];
    cr_assert_eq(anomaly->kind, STREAM_EMISSION_ANOMALY, "the anomaly follows its day");
    cr_expect_eq(anomaly->timestamp_ns, stamp);
    CLOSE(anomaly->value, 40.0);
    cr_expect_eq(out.items[out.count - 2].kind, STREAM_EMISSION_CONSUMPTION);
    cr_expect_eq(out.items[out.count - 2].timestamp_ns, stamp);
    CLOSE(anomaly->z_score, (40.0 - 11.0) / sqrt(70.0 / 69.0));
    cr_expect_eq(anomaly->anomaly_count, 3);
    cr_expect_eq(meter.anomaly_count, 1);
    cr_expect_eq(meter.detector.day_count, 71, "the meter's first day is not fed");
    free(out.items);
}

Test(stream_detector, plausible_max_is_the_larger_of_the_upper_fence_and_three_std)
{
    struct stream_detector detector = {0};
    feed_alternating(&detector, 59);
    cr_expect_eq(stream_detector_plausible_max(&detector), 0.0, "not warm after 59 days");

    /* 10/12: the fence (about 12 + 1.5 x 2) is above 11 + 3 x 1.008. */
    detector = (struct stream_detector){0};
    feed_alternating(&detector, 60);
    struct stream_detector_summary summary;
    stream_detector_summarize(&detector, &summary);
    cr_assert_gt(summary.iqr_upper, 11.0 + 3 * sqrt(60.0 / 59.0));
    CLOSE(stream_detector_plausible_max(&detector), summary.iqr_upper);

    /* 54 days of 10 and every 10th day 20: the quartiles are 10, the std sqrt(540 / 59). */
    detector = (struct stream_detector){0};
    struct stream_detector_verdict verdict;
    for (int i = 0; i < 60; i++)
        stream_detector_day_close(&detector, i % 10 == 9 ? 20.0 : 10.0, 0.0, &verdict);
    stream_detector_summarize(&detector, &summary);
    cr_assert_lt(summary.iqr_upper, 11.0 + 3 * sqrt(540.0 / 59.0));
    CLOSE(stream_detector_plausible_max(&detector), 11.0 + 3 * sqrt(540.0 / 59.0));
}
