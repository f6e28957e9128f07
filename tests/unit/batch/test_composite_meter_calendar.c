/* Default-mode master meters in a time zone and with periods listed out of
 * order. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "batch/composite_meter.h"
#include "config/tz.h"
#include "stream/calendar.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

struct source_set {
    struct batch_series items[4];
    size_t count;
};

static const struct batch_series *source_lookup(const char *meter_id, void *argument)
{
    struct source_set *set = argument;
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->items[i].meter_id, meter_id) == 0)
            return &set->items[i];
    return NULL;
}

/* A daily series from 2024-11-01 + first_day on, at the midnights of zone (NULL: UTC). */
static void source_add(struct source_set *set, const struct tz_zone *zone, const char *meter_id,
                       int first_day, const double *values, size_t count)
{
    struct batch_series *series = &set->items[set->count++];
    *series = (struct batch_series){.meter_id = meter_id};
    for (size_t i = 0; i < count; i++) {
        int y, m, d;
        tz_civil_from_days(tz_days_from_civil(2024, 11, 1) + first_day + (int)i, &y, &m, &d);
        int64_t t = tz_zone_local_to_utc(zone, y, m, d, 0, 0, 0) * 1000000000LL;
        cr_assert_eq(batch_series_append(series, t, values[i]), 0);
    }
}

static void source_setup(struct source_set *set, const struct tz_zone *zone,
                         struct config_meter *master, struct config_period periods[2],
                         char *old_id[1], char *new_id[1], bool reversed)
{
    static const double old_values[] = {100, 110, 120, 130};
    static const double new_values[] = {0, 5, 15};
    source_add(set, zone, "gas_old", 0, old_values, 4);
    source_add(set, zone, "gas_new", 3, new_values, 3);
    old_id[0] = "gas_old";
    new_id[0] = "gas_new";
    struct config_period old_period = {.start_date = tz_days_from_civil(2024, 1, 1),
                                       .end_date = tz_days_from_civil(2024, 11, 4),
                                       .composition_type = CONFIG_COMPOSITION_SINGLE,
                                       .source_meters = old_id,
                                       .source_meter_count = 1};
    struct config_period new_period = {.start_date = tz_days_from_civil(2024, 11, 5),
                                       .end_date = CONFIG_DATE_OPEN_END,
                                       .composition_type = CONFIG_COMPOSITION_SINGLE,
                                       .source_meters = new_id,
                                       .source_meter_count = 1,
                                       .apply_offset_from_previous_period = true};
    periods[0] = reversed ? new_period : old_period;
    periods[1] = reversed ? old_period : new_period;
    *master = (struct config_meter){.meter_id = "gas_total",
                                    .type = CONFIG_METER_MASTER,
                                    .output_unit = "m³",
                                    .periods = periods,
                                    .period_count = 2};
}

/* The same replacement as test_composite_meter.c's, with days at Europe/Berlin midnights
 * (analytics.timezone: Europe/Berlin): the master must have the same 6 days and values. */
Test(composite_meter_calendar, default_master_in_a_time_zone_keeps_each_periods_first_day)
{
    char error[256];
    struct tz_zone *zone = tz_zone_load("Europe/Berlin", error, sizeof error);
    cr_assert_not_null(zone, "%s", error);
    struct stream_calendar calendar = stream_calendar_zone(zone);
    struct source_set set = {0};
    struct config_meter master;
    struct config_period periods[2];
    char *old_id[1], *new_id[1];
    source_setup(&set, zone, &master, periods, old_id, new_id, false);
    struct config config = {.gas_conversion = {.energy_content = 10.0, .z_factor = 1.0}};
    struct batch_series daily, monthly;
    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_NONE, source_lookup,
                                      source_lookup, &set, &calendar, NULL, &daily, &monthly),
                 0);
    static const double accurate[] = {100, 110, 120, 130, 135, 145};
    cr_expect_eq(daily.count, 6, "daily.count = %zu", daily.count);
    for (size_t i = 0; i < 6 && i < daily.count; i++) {
        int64_t expected = i < 4 ? set.items[0].t_ns[i] : set.items[1].t_ns[i - 3];
        cr_expect_eq(daily.t_ns[i], expected, "day %zu at the wrong instant", i);
        cr_expect_eq(daily.values[i], accurate[i], "day %zu: %g", i, daily.values[i]);
    }
    batch_series_free(&daily);
    batch_series_free(&monthly);
    for (size_t i = 0; i < set.count; i++)
        batch_series_free(&set.items[i]);
    tz_zone_free(zone);
}

/* Periods listed newest first (the configuration accepts any order; the reference sorts): the
 * default mode must give the same ascending series as with the periods in order. */
Test(composite_meter_calendar, default_master_with_periods_listed_newest_first)
{
    struct source_set set = {0};
    struct config_meter master;
    struct config_period periods[2];
    char *old_id[1], *new_id[1];
    source_setup(&set, NULL, &master, periods, old_id, new_id, true);
    struct config config = {.gas_conversion = {.energy_content = 10.0, .z_factor = 1.0}};
    struct batch_series daily, monthly;
    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_NONE, source_lookup,
                                      source_lookup, &set, NULL, NULL, &daily, &monthly),
                 0);
    static const double accurate[] = {100, 110, 120, 130, 135, 145};
    cr_assert_eq(daily.count, 6);
    for (size_t i = 0; i < 6; i++) {
        cr_expect_eq(daily.t_ns[i], (tz_days_from_civil(2024, 11, 1) + (int64_t)i) * NS_PER_DAY,
                     "day %zu at the wrong instant", i);
        cr_expect_eq(daily.values[i], accurate[i], "day %zu: %g", i, daily.values[i]);
    }
    cr_expect_eq(monthly.count, 1, "monthly.count = %zu", monthly.count);
    batch_series_free(&daily);
    batch_series_free(&monthly);
    for (size_t i = 0; i < set.count; i++)
        batch_series_free(&set.items[i]);
}
