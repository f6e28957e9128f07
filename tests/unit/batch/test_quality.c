/* The quality report's figures against the reference's quality.csv (fixtures/reference). */
#include <criterion/criterion.h>
#include <math.h>

#include "batch/quality.h"
#include "config/tz.h"

#define NS_PER_HOUR (3600LL * 1000000000LL)
#define NS_PER_DAY (24 * NS_PER_HOUR)

static int64_t at(int year, int month, int day, int hour)
{
    return tz_days_from_civil(year, month, day) * NS_PER_DAY + hour * NS_PER_HOUR;
}

/* edge_rate_methods' rate_median, read 2, 1, 38 and 1 days apart: the reference's largest and
 * mean gap are those of the gaps over a day (38.0 and 20.0 in its quality.csv), not of all. */
Test(quality, compat_gaps_are_the_reference_gaps_over_a_day)
{
    struct batch_reading raw[] = {
        {at(2024, 1, 10, 6), 5.0},  {at(2024, 1, 12, 6), 60.0}, {at(2024, 1, 13, 6), 61.0},
        {at(2024, 2, 20, 6), 61.5}, {at(2024, 2, 21, 6), 62.0},
    };
    struct batch_meter_readings readings = {
        .meter_id = "rate_median", .readings = raw, .count = 5, .capacity = 5};
    struct batch_physical_result physical = {.meter_id = "rate_median"};
    struct batch_quality quality;
    batch_quality_compute(&physical, &readings, CONFIG_COMPAT_REFERENCE,
                          tz_days_from_civil(2024, 1, 1), tz_days_from_civil(2024, 4, 1), &quality);
    cr_expect_eq(quality.reading_count, 5);
    cr_expect(fabs(quality.largest_gap_days - 38.0) < 1e-12, "largest gap %g",
              quality.largest_gap_days);
    cr_expect(fabs(quality.mean_gap_days - 20.0) < 1e-12, "mean gap %g", quality.mean_gap_days);
}

/* main's haupt_strom, read every hour: no gap over a day, so both are 0 in the reference's. */
Test(quality, compat_hourly_readings_have_no_gap)
{
    struct batch_reading raw[48];
    for (int i = 0; i < 48; i++)
        raw[i] = (struct batch_reading){at(2024, 11, 27, 0) + i * NS_PER_HOUR, 0.5 * i};
    struct batch_meter_readings readings = {
        .meter_id = "haupt_strom", .readings = raw, .count = 48, .capacity = 48};
    struct batch_physical_result physical = {.meter_id = "haupt_strom"};
    struct batch_quality quality;
    batch_quality_compute(&physical, &readings, CONFIG_COMPAT_REFERENCE,
                          tz_days_from_civil(2020, 1, 1), tz_days_from_civil(2024, 12, 31),
                          &quality);
    cr_expect_eq(quality.reading_count, 48);
    cr_expect_eq(quality.largest_gap_days, 0.0, "largest gap %g", quality.largest_gap_days);
    cr_expect_eq(quality.mean_gap_days, 0.0, "mean gap %g", quality.mean_gap_days);
}
