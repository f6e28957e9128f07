/* The anomaly vote on small series whose statistics are worked out by hand (the reference
 * agreement on the fixtures is in test_anomaly_vote_reference.c). */
#include <criterion/criterion.h>
#include <math.h>

#include "batch/anomaly_vote.h"

#define DAYS 60

static void expect_close(double ours, double expected, const char *what)
{
    cr_expect(fabs(ours - expected) <= 1e-12 * fabs(expected), "%s: %.17g, expected %.17g", what,
              ours, expected);
}

Test(anomaly_vote, too_short_or_too_few_nonzero_days_are_skipped_untouched)
{
    double values[DAYS];
    struct batch_anomaly_day days[DAYS];
    for (int i = 0; i < DAYS; i++)
        values[i] = 1.0;
    days[0].value = -7.0; /* a sentinel: skipped series leave days alone */
    struct batch_anomaly_summary summary;

    cr_assert_eq(batch_anomaly_vote_compute(values, DAYS - 1, days, &summary), 0);
    cr_expect_eq(summary.status, BATCH_ANOMALY_SKIPPED_FEW_DAYS);
    cr_expect_str_eq(batch_anomaly_status_name(summary.status), "skipped_lt_60_days");
    cr_expect_eq(summary.day_count, DAYS - 1);
    cr_expect_eq(summary.nonzero_count, DAYS - 1);

    for (int i = 29; i < DAYS; i++)
        values[i] = 0.0; /* 29 non-zero days */
    cr_assert_eq(batch_anomaly_vote_compute(values, DAYS, days, &summary), 0);
    cr_expect_eq(summary.status, BATCH_ANOMALY_SKIPPED_FEW_NONZERO);
    cr_expect_str_eq(batch_anomaly_status_name(summary.status), "skipped_lt_30_nonzero");
    cr_expect_eq(summary.nonzero_count, 29);
    cr_expect_eq(days[0].value, -7.0);

    values[29] = 1.0; /* 30 non-zero days qualify */
    cr_assert_eq(batch_anomaly_vote_compute(values, DAYS, days, &summary), 0);
    cr_expect_eq(summary.status, BATCH_ANOMALY_ANALYSED);
    cr_expect_str_eq(batch_anomaly_status_name(summary.status), "analysed");
}

/* A first day of 0 (the reference's consumption always starts so), 2 units every day, 32 on day
 * 30; a unit is 0.05, so that sums round. Non-zero days: 58 x 2 and one 32, mean 148/59, squared
 * deviations 58 (30/59)^2 + (1740/59)^2 = 3079800/3481, sample variance 3079800/201898. Quartiles
 * 2 and 2, so the fences are [2, 2]. */
Test(anomaly_vote, a_spike_and_the_first_zero_day_are_voted_as_the_reference_does)
{
    double values[DAYS];
    struct batch_anomaly_day days[DAYS];
    const double unit = 0.05;
    for (int i = 0; i < DAYS; i++)
        values[i] = 2 * unit;
    values[0] = 0.0;
    values[30] = 32 * unit;
    struct batch_anomaly_summary summary;
    cr_assert_eq(batch_anomaly_vote_compute(values, DAYS, days, &summary), 0);
    cr_assert_eq(summary.status, BATCH_ANOMALY_ANALYSED);
    cr_expect_eq(summary.nonzero_count, 59);
    double std = sqrt(3079800.0 / 201898.0);
    expect_close(summary.mean, 148.0 / 59.0 * unit, "mean");
    expect_close(summary.std, std * unit, "std");
    cr_expect_eq(summary.q1, 2 * unit);
    cr_expect_eq(summary.q3, 2 * unit);
    cr_expect_eq(summary.iqr_lower, 2 * unit);
    cr_expect_eq(summary.iqr_upper, 2 * unit);

    /* Day 30: z = (1740/59) / std; its window, days 15..44, holds 29 x 2 and 32: mean 3,
     * sample variance (29 x 1 + 29^2) / 29 = 30. */
    const struct batch_anomaly_day *spike = &days[30];
    expect_close(spike->z_score, 1740.0 / 59.0 / std, "z on day 30");
    expect_close(spike->rolling_mean, 3 * unit, "rolling mean on day 30");
    expect_close(spike->rolling_std, sqrt(30.0) * unit, "rolling std on day 30");
    expect_close(spike->rolling_z_score, 29.0 / sqrt(30.0), "rolling z on day 30");
    cr_expect(spike->anomaly_zscore && spike->anomaly_iqr && spike->anomaly_rolling);
    cr_expect_eq(spike->anomaly_count, 3);
    cr_expect(spike->is_anomaly);

    /* Day 0: z = -(148/59) / std (within 3), below the fences; its window is days 0..14 (15 days,
     * enough): 0 and 14 x 2, mean 28/15, sample variance (784 + 14 x 4) / 225 / 14 = 4/15. */
    const struct batch_anomaly_day *first = &days[0];
    expect_close(first->z_score, -148.0 / 59.0 / std, "z on day 0");
    expect_close(first->rolling_mean, 28.0 / 15.0 * unit, "rolling mean on day 0");
    expect_close(first->rolling_std, sqrt(4.0 / 15.0) * unit, "rolling std on day 0");
    expect_close(first->rolling_z_score, -28.0 / 15.0 / sqrt(4.0 / 15.0), "rolling z on day 0");
    cr_expect(!first->anomaly_zscore && first->anomaly_iqr && first->anomaly_rolling);
    cr_expect(first->is_anomaly);

    /* Days 46..59 see only 2s: pandas notices the run of equal values, so the mean is exactly
     * that value (whatever the rounded sums say), std exactly 0, z 0/0 = NaN, not a flag. */
    for (int i = 46; i < DAYS; i++) {
        cr_expect_eq(days[i].rolling_mean, 2 * unit, "day %d: %.17g", i, days[i].rolling_mean);
        cr_expect_eq(days[i].rolling_std, 0.0, "day %d", i);
        cr_expect(isnan(days[i].rolling_z_score), "day %d", i);
    }
    for (int i = 1; i < DAYS; i++) {
        if (i == 30)
            continue;
        expect_close(days[i].z_score, -30.0 / 59.0 / std, "z of a 2");
        cr_expect_eq(days[i].anomaly_count, 0, "day %d: %d flags", i, days[i].anomaly_count);
        cr_expect(!days[i].is_anomaly, "day %d", i);
    }
    cr_expect_eq(summary.zscore_count, 1);
    cr_expect_eq(summary.iqr_count, 2);
    cr_expect_eq(summary.rolling_count, 2);
    cr_expect_eq(summary.anomaly_count, 2);
}

/* Non-zero days 1..40 and 20 zero days: numpy's linear quartiles sit at indexes 39/4 = 9.75 and
 * 117/4 = 29.25 of the sorted values, i.e. 10.75 and 30.25; fences 10.75 - 29.25 and
 * 30.25 + 29.25. Mean 20.5, sample variance 40 x 41 / 12. */
Test(anomaly_vote, quartiles_interpolate_linearly_between_the_non_zero_values)
{
    double values[DAYS] = {0};
    struct batch_anomaly_day days[DAYS];
    for (int i = 0; i < 40; i++)
        values[DAYS - 1 - 3 * (i / 2) - i % 2] = (double)(i + 1); /* scattered, out of order */
    struct batch_anomaly_summary summary;
    cr_assert_eq(batch_anomaly_vote_compute(values, DAYS, days, &summary), 0);
    cr_assert_eq(summary.status, BATCH_ANOMALY_ANALYSED);
    cr_expect_eq(summary.nonzero_count, 40);
    expect_close(summary.q1, 10.75, "q1");
    expect_close(summary.q3, 30.25, "q3");
    expect_close(summary.iqr_lower, -18.5, "iqr_lower");
    expect_close(summary.iqr_upper, 59.5, "iqr_upper");
    expect_close(summary.mean, 20.5, "mean");
    expect_close(summary.std, sqrt(40.0 * 41.0 / 12.0), "std");
    cr_expect_eq(summary.iqr_count, 0);
}

/* All non-zero days equal: their std is exactly 0 and the reference writes z = 0 on every day
 * (no flag), while the fences [1.5, 1.5] still catch the zero day. */
Test(anomaly_vote, a_zero_std_gives_z_zero)
{
    double values[DAYS];
    struct batch_anomaly_day days[DAYS];
    for (int i = 0; i < DAYS; i++)
        values[i] = 1.5;
    values[0] = 0.0;
    struct batch_anomaly_summary summary;
    cr_assert_eq(batch_anomaly_vote_compute(values, DAYS, days, &summary), 0);
    cr_assert_eq(summary.status, BATCH_ANOMALY_ANALYSED);
    cr_expect_eq(summary.std, 0.0);
    for (int i = 0; i < DAYS; i++) {
        cr_expect_eq(days[i].z_score, 0.0, "day %d", i);
        cr_expect(!days[i].anomaly_zscore, "day %d", i);
        cr_expect_eq(days[i].anomaly_iqr, i == 0, "day %d", i);
    }
    cr_expect_eq(summary.zscore_count, 0);
    cr_expect_eq(summary.iqr_count, 1);
}
