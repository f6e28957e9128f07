/* Daily series: numpy.interp's arithmetic, the reference's seasonal forward fill against its
 * trace, the seasonal clock, and the default mode's rules on hand-computed meters (readings kept
 * exact, long gaps spread by the pattern, transient zeros and resets without spikes, meters
 * without installation date, extrapolation that never invents consumption). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "batch/daily_series.h"
#include "batch/seasonal.h"
#include "config/tz.h"

#define NS_PER_DAY (86400LL * 1000000000LL)
#define NS_PER_HOUR (3600LL * 1000000000LL)

static int64_t day_of(int year, int month, int day)
{
    return tz_days_from_civil(year, month, day);
}

static int64_t at(int year, int month, int day, int hour)
{
    return day_of(year, month, day) * NS_PER_DAY + hour * NS_PER_HOUR;
}

static void assert_close(double ours, double expected, double tolerance)
{
    cr_assert(fabs(ours - expected) <= tolerance * fmax(1.0, fabs(expected)),
              "%.17g, expected %.17g", ours, expected);
}

/* A heating pattern: winter months 15 %, summer 1 %, sum 100. */
static const double heating[12] = {15, 14, 12, 8, 4, 1, 1, 1, 4, 8, 14, 18};

struct meter_fixture {
    struct batch_meter_readings readings;
    struct batch_reading items[32];
    struct config_meter meter;
};

static void fixture_init(struct meter_fixture *fixture, const int64_t *t, const double *values,
                         size_t count)
{
    memset(fixture, 0, sizeof *fixture);
    for (size_t i = 0; i < count; i++)
        fixture->items[i] = (struct batch_reading){t[i], values[i]};
    fixture->readings = (struct batch_meter_readings){
        .meter_id = "m", .readings = fixture->items, .count = count, .capacity = count};
    fixture->meter = (struct config_meter){.meter_id = "m",
                                           .type = CONFIG_METER_PHYSICAL,
                                           .output_unit = "kWh",
                                           .installation_date = CONFIG_DATE_UNSET,
                                           .deinstallation_date = CONFIG_DATE_UNSET};
}

static struct batch_daily_series build(struct meter_fixture *fixture, const double *pattern,
                                       enum config_compat compat, int64_t start_day,
                                       int64_t end_day)
{
    struct stream_calendar calendar = stream_calendar_utc();
    struct batch_daily_settings settings = {
        .compat = compat, .start_day = start_day, .end_day = end_day, .calendar = &calendar};
    struct batch_daily_series series;
    cr_assert_eq(
        batch_daily_series_build(&fixture->meter, pattern, &fixture->readings, &settings, &series),
        0);
    return series;
}

static double value_on(const struct batch_daily_series *series, int64_t day)
{
    for (size_t i = 0; i < series->count; i++)
        if (series->days[i] == day)
            return series->values[i];
    cr_assert_fail("day %lld not in the series", (long long)day);
    return NAN;
}

Test(rows, interpolation_is_numpy_interp)
{
    struct batch_rows rows = {0};
    cr_assert_eq(batch_rows_append(&rows, 10 * NS_PER_DAY, 100.0), 0);
    cr_assert_eq(batch_rows_append(&rows, 12 * NS_PER_DAY + 12 * NS_PER_HOUR, 110.0), 0);
    cr_assert_eq(batch_rows_prepend(&rows, 9 * NS_PER_DAY, 99.0), 0);
    int64_t grid[] = {8 * NS_PER_DAY,  9 * NS_PER_DAY,  10 * NS_PER_DAY,
                      11 * NS_PER_DAY, 12 * NS_PER_DAY, 13 * NS_PER_DAY};
    double out[6];
    batch_rows_interpolate(&rows, grid, 6, out);
    cr_assert_eq(out[0], 99.0, "before the first row: its value");
    cr_assert_eq(out[1], 99.0);
    cr_assert_eq(out[2], 100.0);
    /* The slope over 2.5 days, applied as numpy does: slope * (x - x0) + y0. */
    double slope =
        10.0 / ((double)(12 * NS_PER_DAY + 12 * NS_PER_HOUR) - (double)(10 * NS_PER_DAY));
    cr_assert_eq(out[3], slope * ((double)(11 * NS_PER_DAY) - (double)(10 * NS_PER_DAY)) + 100.0);
    assert_close(out[4], 108.0, 1e-12);
    cr_assert_eq(out[5], 110.0, "after the last row: its value");
    batch_rows_free(&rows);
}

/* edge_rate_methods' rate_sklearn in the reference's trace: 24.700009012597402 from
 * 2024-02-20T00:00Z (40.0) to 2024-04-01: February's 10 points get 12.0 / 32.6 of it, March's 31
 * get 12.5 / 32.6, April's 1 gets 8.1 / 32.6; the total is reached at the last point. */
Test(seasonal, reference_distribution_matches_the_trace)
{
    static const double pattern[12] = {15.1, 12.0, 12.5, 8.1, 3.5,  3.2,
                                       2.7,  3.6,  5.2,  8.4, 12.2, 14.5};
    struct batch_rows rows = {0};
    size_t points;
    double total = 24.700009012597402;
    cr_assert_eq(batch_seasonal_distribute_reference(at(2024, 2, 20, 0), at(2024, 4, 1, 0), total,
                                                     40.0, pattern, &rows, &points),
                 0);
    cr_assert_eq(points, 42);
    assert_close(rows.values[1] - rows.values[0], total * 12.0 / 32.6 / 10, 1e-12);
    assert_close(rows.values[11] - rows.values[10], total * 12.5 / 32.6 / 31, 1e-12);
    assert_close(rows.values[41] - rows.values[40], total * 8.1 / 32.6, 1e-12);
    cr_assert_eq(rows.t_ns[41], at(2024, 4, 1, 0));
    assert_close(rows.values[41], 64.70000901259739, 1e-14);
    batch_rows_free(&rows);
}

Test(seasonal, the_clock_runs_a_year_in_a_year)
{
    assert_close(batch_seasonal_clock_days(heating, at(2023, 1, 1, 0), at(2024, 1, 1, 0)), 365.2425,
                 1e-12);
    assert_close(batch_seasonal_clock_days(heating, at(2024, 1, 1, 0), at(2025, 1, 1, 0)), 365.2425,
                 1e-12);
    /* January 2024 is 15 % of a year; half of it is half of that. */
    assert_close(batch_seasonal_clock_days(heating, at(2024, 1, 1, 0), at(2024, 1, 16, 12)),
                 0.15 * 365.2425 / 2, 1e-12);
    assert_close(batch_seasonal_clock_days(heating, at(2024, 1, 16, 12), at(2024, 1, 1, 0)),
                 -0.15 * 365.2425 / 2, 1e-12);
    assert_close(batch_seasonal_clock_days(NULL, at(2024, 1, 1, 0), at(2024, 1, 3, 12)), 2.5,
                 1e-15);
}

/* Two readings a winter and a summer month apart: the register is exact at both, and the
 * consumption between them follows the pattern (a January day uses 15/31 : 1/30 of a June day). */
Test(daily_default, long_gaps_follow_the_pattern_and_keep_both_readings)
{
    struct meter_fixture fixture;
    int64_t t[] = {at(2024, 1, 1, 0), at(2024, 7, 1, 0)};
    double v[] = {1000.0, 1540.0};
    fixture_init(&fixture, t, v, 2);
    struct batch_daily_series series =
        build(&fixture, heating, CONFIG_COMPAT_NONE, day_of(2024, 1, 1), day_of(2024, 7, 1));
    cr_assert_str_eq(series.status, "ok");
    cr_assert_eq(series.count, 183);
    cr_assert_eq(value_on(&series, day_of(2024, 1, 1)), 1000.0);
    assert_close(value_on(&series, day_of(2024, 7, 1)), 1540.0, 1e-12);
    double january =
        value_on(&series, day_of(2024, 1, 11)) - value_on(&series, day_of(2024, 1, 10));
    double june = value_on(&series, day_of(2024, 6, 11)) - value_on(&series, day_of(2024, 6, 10));
    assert_close(january / june, (15.0 / 31) / (1.0 / 30), 1e-9);
    /* January to June is 54 % of the year's pattern: January takes 15/54 of the 540. */
    assert_close(value_on(&series, day_of(2024, 2, 1)), 1000.0 + 540.0 * 15 / 54, 1e-9);
    cr_assert_eq(series.seasonal_gap_count, 1);
    batch_daily_series_free(&series);

    /* The reference mode fills the same gap linearly. */
    fixture.meter.installation_date = day_of(2024, 1, 1);
    series =
        build(&fixture, heating, CONFIG_COMPAT_REFERENCE, day_of(2024, 1, 1), day_of(2024, 7, 1));
    assert_close(value_on(&series, day_of(2024, 2, 1)), 1000.0 + 540.0 * 31 / 182, 1e-9);
    batch_daily_series_free(&series);
}

/* A transient 0 (Home Assistant's classic) and a reset: the register never books the drop. */
Test(daily_default, a_transient_zero_and_a_reset_book_nothing)
{
    struct meter_fixture fixture;
    int64_t t[] = {at(2024, 1, 1, 6), at(2024, 1, 2, 6), at(2024, 1, 3, 6),
                   at(2024, 1, 4, 6), at(2024, 1, 5, 6), at(2024, 1, 6, 6)};
    double v[] = {500.0, 510.0, 0.0, 530.0, 2.0, 12.0};
    fixture_init(&fixture, t, v, 6);
    struct batch_daily_series series =
        build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2024, 1, 1), day_of(2024, 1, 7));
    cr_assert_eq(series.glitch_count, 1);
    cr_assert_eq(series.reset_count + series.replacement_count, 1);
    /* No installation date: the series starts at the first midnight after the first reading. */
    cr_assert_eq(series.days[0], day_of(2024, 1, 2));
    for (size_t i = 1; i < series.count; i++) {
        double day = series.values[i] - series.values[i - 1];
        cr_assert(day >= 0.0 && day <= 20.0 + 1e-9, "day %zu books %g", i, day);
    }
    /* After the reset at 2.0 the register continues from 530: 12.0 reads as 540. */
    cr_assert_eq(series.register_readings.values[series.register_readings.count - 1], 540.0);
    batch_daily_series_free(&series);
}

/* A hand-read meter's typo, corrected minutes later and read on weekly: the typo leaves the
 * register (no replacement booking 12 238 m³), and the days around it follow the true readings. */
Test(daily_default, a_corrected_typo_books_nothing)
{
    struct meter_fixture fixture;
    int64_t t[] = {at(2024, 1, 1, 18), at(2024, 1, 8, 18), at(2024, 1, 15, 18),
                   at(2024, 1, 15, 18) + 7 * 60 * 1000000000LL, at(2024, 1, 22, 18)};
    double v[] = {1350.0, 1357.0, 13595.0, 1359.5, 1366.0};
    fixture_init(&fixture, t, v, 5);
    struct batch_daily_series series =
        build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2024, 1, 1), day_of(2024, 1, 23));
    cr_assert_eq(series.glitch_count, 1);
    cr_assert_eq(series.reset_count + series.replacement_count, 0);
    cr_assert_eq(series.register_readings.count, 4, "the typo is no register reading");
    for (size_t i = 1; i < series.count; i++) {
        double day = series.values[i] - series.values[i - 1];
        cr_assert(day >= 0.0 && day <= 2.0, "day %zu books %g", i, day);
    }
    cr_assert_eq(series.register_readings.values[series.register_readings.count - 1], 1366.0);
    batch_daily_series_free(&series);
}

/* A typo within 10 % (1359.5 typed as 1395.5): the weekly readings after it go on from the true
 * level, not held back until the meter passes the typo, three months later. */
Test(daily_default, a_small_typo_holds_nothing_back)
{
    struct meter_fixture fixture;
    int64_t t[] = {at(2024, 1, 1, 18), at(2024, 1, 8, 18), at(2024, 1, 15, 18), at(2024, 1, 22, 18),
                   at(2024, 1, 29, 18)};
    double v[] = {1350.0, 1357.0, 1395.5, 1366.0, 1373.0};
    fixture_init(&fixture, t, v, 5);
    struct batch_daily_series series =
        build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2024, 1, 1), day_of(2024, 1, 30));
    cr_assert_eq(series.glitch_count, 1);
    cr_assert_eq(series.dip_count, 0);
    cr_assert_eq(series.register_readings.count, 4, "the typo is no register reading");
    for (size_t i = 1; i < series.count; i++) {
        double day = series.values[i] - series.values[i - 1];
        cr_assert(day >= 0.3 && day <= 2.0, "day %zu books %g", i, day);
    }
    batch_daily_series_free(&series);
}

/* Extrapolation: a single reading extends unchanged (the reference would put 0 at the
 * installation date and book the whole register); a rate extrapolates back but never below 0. */
Test(daily_default, extrapolation_never_invents_consumption)
{
    struct meter_fixture fixture;
    int64_t one[] = {at(2024, 3, 10, 12)};
    double value[] = {500.0};
    fixture_init(&fixture, one, value, 1);
    fixture.meter.installation_date = day_of(2024, 3, 1);
    struct batch_daily_series series =
        build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2024, 1, 1), day_of(2024, 3, 20));
    cr_assert_eq(series.count, 20);
    for (size_t i = 0; i < series.count; i++)
        cr_assert_eq(series.values[i], 500.0);
    batch_daily_series_free(&series);

    series =
        build(&fixture, NULL, CONFIG_COMPAT_REFERENCE, day_of(2024, 1, 1), day_of(2024, 3, 20));
    cr_assert_eq(series.values[0], 0.0, "the reference's shortcut 4");
    batch_daily_series_free(&series);

    int64_t t[] = {at(2024, 3, 2, 0), at(2024, 3, 4, 0), at(2024, 3, 6, 0)};
    double v[] = {10.0, 30.0, 50.0};
    fixture_init(&fixture, t, v, 3);
    fixture.meter.installation_date = day_of(2024, 2, 20);
    series = build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2024, 1, 1), day_of(2024, 3, 8));
    cr_assert_eq(series.days[0], day_of(2024, 2, 20));
    cr_assert_eq(series.backward_days, 11);
    cr_assert_eq(value_on(&series, day_of(2024, 3, 1)), 0.0, "10/day back from 10: 0 a day before");
    cr_assert_eq(value_on(&series, day_of(2024, 2, 20)), 0.0);
    assert_close(value_on(&series, day_of(2024, 3, 8)), 70.0, 1e-9);
    cr_assert_eq(series.forward_days, 2);
    batch_daily_series_free(&series);
}

Test(daily_default, removal_and_the_analysis_period_bound_the_grid)
{
    struct meter_fixture fixture;
    int64_t t[] = {at(2023, 6, 1, 0), at(2023, 7, 1, 0)};
    double v[] = {1.0, 31.0};
    fixture_init(&fixture, t, v, 2);
    fixture.meter.installation_date = day_of(2023, 1, 1);
    fixture.meter.deinstallation_date = day_of(2023, 12, 1);
    struct batch_daily_series series =
        build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2024, 1, 1), day_of(2024, 3, 1));
    cr_assert_eq(series.count, 0);
    cr_assert_str_eq(series.status,
                     "no day of the analysis period between installation and removal");
    batch_daily_series_free(&series);

    fixture.meter.type = CONFIG_METER_MASTER;
    series = build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2023, 1, 1), day_of(2024, 3, 1));
    cr_assert_eq(series.count, 0);
    batch_daily_series_free(&series);
}

/* A meter removed on Nov 26 at 09:00 after its last reading: the series ends at the midnight
 * after, on that reading, so the morning's 4.5 units are not lost between it and its successor.
 * Without a reading on the removal day it holds the day's start: no time of removal, no guess. */
Test(daily_default, the_removal_day_ends_on_the_last_reading)
{
    struct meter_fixture fixture;
    int64_t t[] = {at(2024, 11, 20, 0), at(2024, 11, 26, 9)};
    double v[] = {100.0, 160.0 + 4.5};
    fixture_init(&fixture, t, v, 2);
    fixture.meter.installation_date = day_of(2024, 1, 1);
    fixture.meter.deinstallation_date = day_of(2024, 11, 26);
    struct batch_daily_series series =
        build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2024, 11, 1), day_of(2024, 12, 31));
    cr_assert_eq(series.days[series.count - 1], day_of(2024, 11, 27));
    assert_close(value_on(&series, day_of(2024, 11, 26)), 100.0 + 6 * 24 * 64.5 / 153, 1e-12);
    cr_assert_eq(value_on(&series, day_of(2024, 11, 27)), 164.5, "the last reading, not more");
    cr_assert_eq(series.forward_days, 0, "held, not extrapolated");
    batch_daily_series_free(&series);

    fixture.items[1].t_ns = at(2024, 11, 25, 12); /* the last reading a day and a half before */
    series = build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2024, 11, 1), day_of(2024, 12, 31));
    cr_assert_eq(series.days[series.count - 1], day_of(2024, 11, 27));
    cr_assert_eq(value_on(&series, day_of(2024, 11, 27)), value_on(&series, day_of(2024, 11, 26)),
                 "no reading on the removal day: held");
    cr_assert_eq(series.forward_days, 1, "Nov 26 is extrapolated, Nov 27 held");
    batch_daily_series_free(&series);
}

/* An installation_date after 2262-04-11 (the configuration takes dates to 9999-12-31): no day
 * of the analysis period, in both modes, without an overflow on the way. */
Test(daily_series, an_installation_after_2262_has_no_day)
{
    struct meter_fixture fixture;
    int64_t t[] = {at(2024, 1, 5, 12), at(2024, 1, 20, 12)};
    double v[] = {10.0, 25.0};
    fixture_init(&fixture, t, v, 2);
    fixture.meter.installation_date = day_of(2999, 12, 31);
    for (int compat = CONFIG_COMPAT_NONE; compat <= CONFIG_COMPAT_REFERENCE; compat++) {
        struct batch_daily_series series = build(&fixture, NULL, (enum config_compat)compat,
                                                 day_of(2024, 1, 1), day_of(2024, 3, 1));
        cr_expect_eq(series.count, 0, "compat %d: %zu days", compat, series.count);
        batch_daily_series_free(&series);
    }
}

/* analytics.timezone: the grid is the zone's midnights, so the day of the spring change lasts 23
 * hours and its consumption is 23/24 of a full day's at a steady rate. */
Test(daily_default, days_follow_the_time_zone)
{
    char error[256];
    struct tz_zone *zone = tz_zone_load("Europe/Berlin", error, sizeof error);
    cr_assert_not_null(zone, "%s", error);
    struct stream_calendar calendar = stream_calendar_zone(zone);
    struct meter_fixture fixture;
    int64_t t[] = {at(2024, 3, 28, 0), at(2024, 4, 3, 0)};
    double v[] = {0.0, 144.0}; /* 1 per hour */
    fixture_init(&fixture, t, v, 2);
    fixture.meter.installation_date = day_of(2024, 3, 29);
    struct batch_daily_settings settings = {.compat = CONFIG_COMPAT_NONE,
                                            .start_day = day_of(2024, 1, 1),
                                            .end_day = day_of(2024, 4, 2),
                                            .calendar = &calendar};
    struct batch_daily_series series;
    cr_assert_eq(
        batch_daily_series_build(&fixture.meter, NULL, &fixture.readings, &settings, &series), 0);
    cr_assert_eq(series.count, 5);
    cr_assert_eq(series.t_ns[0], at(2024, 3, 28, 23), "CET midnight of March 29");
    cr_assert_eq(series.t_ns[3], at(2024, 3, 31, 22), "CEST midnight of April 1");
    assert_close(series.values[3] - series.values[2], 23.0, 1e-9);
    assert_close(series.values[4] - series.values[3], 24.0, 1e-9);
    batch_daily_series_free(&series);
    tz_zone_free(zone);
}

/* A long gap after a fast week: the rate at the gap's start continues the week's (a monotone
 * cubic), so the first day of the gap books more than the gap's average and the last less, and
 * both readings stay exact; no day is negative. */
Test(daily_default, a_long_gap_continues_the_rate_around_it)
{
    struct meter_fixture fixture;
    int64_t t[] = {at(2024, 5, 1, 0), at(2024, 5, 8, 0), at(2024, 6, 7, 0), at(2024, 6, 14, 0)};
    double v[] = {0.0, 70.0, 130.0, 137.0}; /* 10 a day, then 2 a day over 30 days, then 1 */
    fixture_init(&fixture, t, v, 4);
    fixture.meter.installation_date = day_of(2024, 5, 1);
    struct batch_daily_series series =
        build(&fixture, NULL, CONFIG_COMPAT_NONE, day_of(2024, 1, 1), day_of(2024, 6, 14));
    double first = value_on(&series, day_of(2024, 5, 9)) - value_on(&series, day_of(2024, 5, 8));
    double last = value_on(&series, day_of(2024, 6, 7)) - value_on(&series, day_of(2024, 6, 6));
    cr_assert_gt(first, 2.0, "%g", first);
    cr_assert_lt(last, 2.0, "%g", last);
    cr_assert_eq(value_on(&series, day_of(2024, 5, 8)), 70.0);
    cr_assert_eq(value_on(&series, day_of(2024, 6, 7)), 130.0);
    for (size_t i = 1; i < series.count; i++)
        cr_assert_geq(series.values[i], series.values[i - 1], "day %zu", i);
    batch_daily_series_free(&series);
}

/* A reading at InfluxDB's first instant (1677: a client's broken clock) and readings of today are
 * more than INT64_MAX ns apart. Interpolating, extrapolating forward and estimating the rate
 * across them must not overflow (UBSan stopped meter-batch at daily_series.c), in both modes,
 * with and without a pattern; the days between today's readings stay exact. */
Test(daily_series, readings_more_than_292_years_apart_do_not_overflow)
{
    struct meter_fixture fixture;
    int64_t t[] = {-INT64_C(9223372036854775806), at(2024, 6, 1, 0), at(2024, 6, 3, 0)};
    double v[] = {1.0, 100.0, 104.0};
    for (size_t count = 2; count <= 3; count++) {
        for (int compat = CONFIG_COMPAT_NONE; compat <= CONFIG_COMPAT_REFERENCE; compat++) {
            for (int patterned = 0; patterned <= 1; patterned++) {
                fixture_init(&fixture, t, v, count);
                fixture.meter.installation_date = day_of(2024, 5, 30);
                struct batch_daily_series series =
                    build(&fixture, patterned ? heating : NULL, (enum config_compat)compat,
                          day_of(2024, 1, 1), day_of(2024, 6, 20));
                cr_expect_eq(series.count, 22, "%zu readings, compat %d: %zu days", count, compat,
                             series.count);
                cr_expect_eq(value_on(&series, day_of(2024, 6, 1)), 100.0);
                if (count == 3)
                    cr_expect_eq(value_on(&series, day_of(2024, 6, 2)), 102.0);
                for (size_t i = 0; i < series.count; i++)
                    cr_expect(isfinite(series.values[i]) && series.values[i] >= 99.0,
                              "%zu readings, compat %d, pattern %d: day %zu is %.17g", count,
                              compat, patterned, i, series.values[i]);
                batch_daily_series_free(&series);
            }
        }
    }
}
