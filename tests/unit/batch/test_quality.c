/* The quality report's figures against the reference's quality.csv (fixtures/reference). */
#include <criterion/criterion.h>
#include <math.h>

#include "batch/quality.h"
#include "batch/reconcile.h"
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

/* The default mode's days extrapolated backward and forward are the series' own: a meter
 * installed on Jan 10 with a reading before (Jan 1) and after (Jan 20) is interpolated on every
 * day of its grid, and a meter read twice on Jan 5 only (no installation_date: its grid starts on
 * Jan 6) is extrapolated forward on every day, Jan 6 to 20. */
Test(quality, default_extrapolated_days_are_the_series_own)
{
    int64_t jan1 = tz_days_from_civil(2024, 1, 1);
    struct config_meter meters[2] = {
        {.meter_id = "installed_later",
         .type = CONFIG_METER_PHYSICAL,
         .output_unit = "kWh",
         .installation_date = jan1 + 9,
         .deinstallation_date = CONFIG_DATE_UNSET},
        {.meter_id = "read_one_day",
         .type = CONFIG_METER_PHYSICAL,
         .output_unit = "kWh",
         .installation_date = CONFIG_DATE_UNSET,
         .deinstallation_date = CONFIG_DATE_UNSET},
    };
    struct config config = {.meters = meters, .meter_count = 2};
    config.workflows.analytics.start_year = 2024;
    struct batch_readings readings = {0};
    cr_assert_eq(batch_readings_add(&readings, "installed_later", 15, jan1 * NS_PER_DAY, 0.0), 0);
    cr_assert_eq(
        batch_readings_add(&readings, "installed_later", 15, (jan1 + 19) * NS_PER_DAY, 19.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "read_one_day", 12,
                                    (jan1 + 4) * NS_PER_DAY + 1 * NS_PER_HOUR, 10.0),
                 0);
    cr_assert_eq(batch_readings_add(&readings, "read_one_day", 12,
                                    (jan1 + 4) * NS_PER_DAY + 23 * NS_PER_HOUR, 20.0),
                 0);
    batch_readings_finish(&readings);
    struct stream_calendar calendar = stream_calendar_utc();
    struct batch_reconcile_options options = {
        .compat = CONFIG_COMPAT_NONE, .today_day = jan1 + 19, .calendar = &calendar};
    struct batch_reconcile_result result;
    cr_assert_eq(batch_reconcile_compute(&config, &readings, &options, &result), 0);
    cr_assert_eq(result.physical_count, 2);

    const struct batch_physical_result *installed =
        batch_reconcile_physical_find(&result, "installed_later");
    cr_assert_eq(installed->daily.count, 11);
    struct batch_quality quality;
    batch_quality_compute(installed, batch_readings_find(&readings, "installed_later"),
                          CONFIG_COMPAT_NONE, result.start_day, result.end_day, &quality);
    cr_expect_eq(installed->build.backward_days, 0);
    cr_expect_eq(quality.backward_days, 0, "backward_days %zu, the series extrapolated none",
                 quality.backward_days);
    cr_expect_eq(quality.forward_days, 0, "forward_days %zu", quality.forward_days);

    const struct batch_physical_result *one_day =
        batch_reconcile_physical_find(&result, "read_one_day");
    cr_assert_eq(one_day->daily.count, 15);
    batch_quality_compute(one_day, batch_readings_find(&readings, "read_one_day"),
                          CONFIG_COMPAT_NONE, result.start_day, result.end_day, &quality);
    cr_expect_eq(one_day->build.forward_days, 15);
    cr_expect_eq(quality.backward_days, 0, "backward_days %zu", quality.backward_days);
    cr_expect_eq(quality.forward_days, 15, "forward_days %zu, the series extrapolated 15",
                 quality.forward_days);
    batch_reconcile_result_free(&result);
    batch_readings_free(&readings);
}

/* edge_unconfigured's not_in_config: readings but no series (no installation_date). The
 * reference's validation.json passes it with 0 points checked; only a series that misses every
 * reading's midnight fails ("No matching timestamps"). */
Test(quality, compat_validation_passes_a_meter_without_series)
{
    struct batch_reading raw[] = {{at(2024, 1, 2, 10), 5.0}, {at(2024, 1, 9, 10), 12.0}};
    struct batch_meter_readings readings = {
        .meter_id = "not_in_config", .readings = raw, .count = 2, .capacity = 2};
    struct batch_physical_result physical = {.meter_id = "not_in_config"};
    struct batch_validation validation;
    batch_validation_compute(&physical, &readings, CONFIG_COMPAT_REFERENCE,
                             tz_days_from_civil(2024, 1, 1), &validation);
    cr_expect(validation.passed);
    cr_expect_eq(validation.checked, 0);

    int64_t days[] = {at(2024, 1, 3, 0), at(2024, 1, 4, 0)};
    double values[] = {6.0, 7.0};
    physical.daily = (struct batch_series){
        .meter_id = "not_in_config", .count = 2, .capacity = 2, .t_ns = days, .values = values};
    batch_validation_compute(&physical, &readings, CONFIG_COMPAT_REFERENCE,
                             tz_days_from_civil(2024, 1, 1), &validation);
    cr_expect_not(validation.passed, "no reading on a midnight of the series");
}
