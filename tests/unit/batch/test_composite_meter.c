/* Master and virtual meters in both modes, and the monthly and consumption series, on
 * hand-computed meters: a gas meter replacement (the reference loses the boundary day's
 * consumption, the default mode keeps it), a summed source that starts later (the reference books
 * its whole register in one day), unit conversion, and subtraction clipped at 0. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "batch/composite_meter.h"
#include "config/tz.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

static int64_t midnight(int year, int month, int day)
{
    return tz_days_from_civil(year, month, day) * NS_PER_DAY;
}

/* A few named series the lookups find. */
struct series_set {
    struct batch_series items[4];
    size_t count;
};

static const struct batch_series *set_lookup(const char *meter_id, void *argument)
{
    struct series_set *set = argument;
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->items[i].meter_id, meter_id) == 0)
            return &set->items[i];
    return NULL;
}

/* Adds a daily series from 2024-11-01 + first_day on, one value per day. */
static void set_add(struct series_set *set, const char *meter_id, int first_day,
                    const double *values, size_t count)
{
    struct batch_series *series = &set->items[set->count++];
    *series = (struct batch_series){.meter_id = meter_id};
    for (size_t i = 0; i < count; i++)
        cr_assert_eq(batch_series_append(series,
                                         midnight(2024, 11, 1) + (first_day + (int)i) * NS_PER_DAY,
                                         values[i]),
                     0);
}

static void set_free(struct series_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        batch_series_free(&set->items[i]);
}

static struct config config_make(void)
{
    return (struct config){.gas_conversion = {.energy_content = 10.0, .z_factor = 1.0}};
}

/* gas_old read 100, 110, 120, 130 on Nov 1-4 and is replaced; gas_new reads 0, 5, 15 on Nov 4-6.
 * Periods: old until Nov 4, new from Nov 5, with the offset. */
static void replacement_setup(struct series_set *set, struct config_meter *master,
                              struct config_period periods[2], char *old_id[1], char *new_id[1])
{
    static const double old_values[] = {100, 110, 120, 130};
    static const double new_values[] = {0, 5, 15};
    set_add(set, "gas_old", 0, old_values, 4);
    set_add(set, "gas_new", 3, new_values, 3);
    old_id[0] = "gas_old";
    new_id[0] = "gas_new";
    periods[0] = (struct config_period){.start_date = tz_days_from_civil(2024, 1, 1),
                                        .end_date = tz_days_from_civil(2024, 11, 4),
                                        .composition_type = CONFIG_COMPOSITION_SINGLE,
                                        .source_meters = old_id,
                                        .source_meter_count = 1};
    periods[1] = (struct config_period){.start_date = tz_days_from_civil(2024, 11, 5),
                                        .end_date = CONFIG_DATE_OPEN_END,
                                        .composition_type = CONFIG_COMPOSITION_SINGLE,
                                        .source_meters = new_id,
                                        .source_meter_count = 1,
                                        .apply_offset_from_previous_period = true};
    *master = (struct config_meter){.meter_id = "gas_total",
                                    .type = CONFIG_METER_MASTER,
                                    .output_unit = "m³",
                                    .periods = periods,
                                    .period_count = 2};
}

Test(composite_meter, a_replacement_keeps_the_boundary_day_in_the_default_mode_only)
{
    struct series_set set = {0};
    struct config_meter master;
    struct config_period periods[2];
    char *old_id[1], *new_id[1];
    replacement_setup(&set, &master, periods, old_id, new_id);
    struct config config = config_make();
    struct batch_series daily, monthly, consumption;

    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_REFERENCE, set_lookup,
                                      set_lookup, &set, NULL, NULL, &daily, &monthly),
                 0);
    /* 100 110 120 130 | 5 15 shifted so that 5 -> 130: 130 140. */
    static const double reference[] = {100, 110, 120, 130, 130, 140};
    cr_assert_eq(daily.count, 6);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(daily.values[i], reference[i], "day %zu", i);
    batch_series_free(&daily);
    batch_series_free(&monthly);

    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_NONE, set_lookup, set_lookup,
                                      &set, NULL, NULL, &daily, &monthly),
                 0);
    /* Nov 5 books gas_new's 5 (0 -> 5 since Nov 4): 135, then 145. */
    static const double accurate[] = {100, 110, 120, 130, 135, 145};
    cr_assert_eq(daily.count, 6);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(daily.values[i], accurate[i], "day %zu", i);
    cr_assert_eq(monthly.count, 1);
    cr_assert_eq(monthly.t_ns[0], midnight(2024, 11, 30));
    cr_assert_eq(monthly.values[0], 145.0);
    cr_assert_eq(batch_series_consumption(&daily, &consumption), 0);
    static const double per_day[] = {0, 10, 10, 10, 5, 10};
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(consumption.values[i], per_day[i], "day %zu", i);
    batch_series_free(&consumption);
    batch_series_free(&daily);
    batch_series_free(&monthly);
    set_free(&set);
}

/* The new meter's period ends on 2999-12-31 instead of 9999-12-31 (any date to 9999 is a valid
 * end_date; int64 nanoseconds end in 2262): the same master as with the open end, in both modes,
 * not an overflow into an end before the start. */
Test(composite_meter, a_period_ending_after_2262_is_open_ended)
{
    struct series_set set = {0};
    struct config_meter master;
    struct config_period periods[2];
    char *old_id[1], *new_id[1];
    replacement_setup(&set, &master, periods, old_id, new_id);
    periods[1].end_date = tz_days_from_civil(2999, 12, 31);
    struct config config = config_make();
    struct batch_series daily, monthly;

    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_REFERENCE, set_lookup,
                                      set_lookup, &set, NULL, NULL, &daily, &monthly),
                 0);
    static const double reference[] = {100, 110, 120, 130, 130, 140};
    cr_assert_eq(daily.count, 6);
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq(daily.values[i], reference[i], "day %zu", i);
    batch_series_free(&daily);
    batch_series_free(&monthly);

    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_NONE, set_lookup, set_lookup,
                                      &set, NULL, NULL, &daily, &monthly),
                 0);
    static const double accurate[] = {100, 110, 120, 130, 135, 145};
    cr_assert_eq(daily.count, 6);
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq(daily.values[i], accurate[i], "day %zu", i);
    batch_series_free(&daily);
    batch_series_free(&monthly);
    set_free(&set);
}

Test(composite_meter, a_summed_source_that_starts_later)
{
    struct series_set set = {0};
    static const double high[] = {1000, 1010, 1020, 1030};
    static const double low[] = {500, 502};
    set_add(&set, "high", 0, high, 4);
    set_add(&set, "low", 2, low, 2);
    char *sources[] = {"high", "low"};
    struct config_period period = {.start_date = tz_days_from_civil(2024, 1, 1),
                                   .end_date = CONFIG_DATE_OPEN_END,
                                   .composition_type = CONFIG_COMPOSITION_SUM,
                                   .source_meters = sources,
                                   .source_meter_count = 2};
    struct config_meter master = {.meter_id = "total",
                                  .type = CONFIG_METER_MASTER,
                                  .output_unit = "kWh",
                                  .periods = &period,
                                  .period_count = 1};
    struct config config = config_make();
    struct batch_series daily, monthly;
    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_REFERENCE, set_lookup,
                                      set_lookup, &set, NULL, NULL, &daily, &monthly),
                 0);
    cr_assert_eq(daily.values[2] - daily.values[1], 510.0, "the reference books low's register");
    batch_series_free(&daily);
    batch_series_free(&monthly);
    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_NONE, set_lookup, set_lookup,
                                      &set, NULL, NULL, &daily, &monthly),
                 0);
    static const double accurate[] = {1000, 1010, 1020, 1032};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(daily.values[i], accurate[i], "day %zu", i);
    batch_series_free(&daily);
    batch_series_free(&monthly);
    set_free(&set);
}

/* The swap of the reference fixture main: the old meter removed on Nov 4 reads 134 at the
 * midnight after (its series ends on its last reading), the new one is installed on Nov 5 and has
 * no day before. The old meter's 4 units of Nov 4 are kept, not lost between the periods. */
Test(composite_meter, the_removal_day_of_the_old_meter_is_kept)
{
    struct series_set set = {0};
    struct config_meter master;
    struct config_period periods[2];
    char *old_id[1], *new_id[1];
    static const double old_values[] = {100, 110, 120, 130, 134};
    static const double new_values[] = {0, 10};
    set_add(&set, "gas_old", 0, old_values, 5);
    set_add(&set, "gas_new", 4, new_values, 2);
    /* replacement_setup's periods: old until Nov 4, new from Nov 5 with the offset. */
    struct series_set unused = {0};
    replacement_setup(&unused, &master, periods, old_id, new_id);
    set_free(&unused);
    struct config config = config_make();
    struct batch_series daily, monthly;
    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_NONE, set_lookup, set_lookup,
                                      &set, NULL, NULL, &daily, &monthly),
                 0);
    static const double accurate[] = {100, 110, 120, 130, 134, 144};
    cr_assert_eq(daily.count, 6);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(daily.values[i], accurate[i], "day %zu", i);
    batch_series_free(&daily);
    batch_series_free(&monthly);
    set_free(&set);
}

/* A meter in two periods in a row (the composition changes, the meter stays): its increase on
 * the first period's end day counts once, and the source joining adds its own. */
Test(composite_meter, a_source_in_two_periods_counts_its_boundary_day_once)
{
    struct series_set set = {0};
    static const double stays[] = {1000, 1010, 1020, 1030};
    static const double joins[] = {50, 52, 55, 60};
    set_add(&set, "stays", 0, stays, 4);
    set_add(&set, "joins", 0, joins, 4);
    char *first_sources[] = {"stays"}, *second_sources[] = {"stays", "joins"};
    struct config_period periods[2] = {
        {.start_date = tz_days_from_civil(2024, 1, 1),
         .end_date = tz_days_from_civil(2024, 11, 2),
         .composition_type = CONFIG_COMPOSITION_SUM,
         .source_meters = first_sources,
         .source_meter_count = 1},
        {.start_date = tz_days_from_civil(2024, 11, 3),
         .end_date = CONFIG_DATE_OPEN_END,
         .composition_type = CONFIG_COMPOSITION_SUM,
         .source_meters = second_sources,
         .source_meter_count = 2,
         .apply_offset_from_previous_period = true},
    };
    struct config_meter master = {.meter_id = "total",
                                  .type = CONFIG_METER_MASTER,
                                  .output_unit = "kWh",
                                  .periods = periods,
                                  .period_count = 2};
    struct config config = config_make();
    struct batch_series daily, monthly;
    cr_assert_eq(batch_master_compose(&config, &master, CONFIG_COMPAT_NONE, set_lookup, set_lookup,
                                      &set, NULL, NULL, &daily, &monthly),
                 0);
    /* Nov 3: stays' 10 of Nov 2 once, plus joins' 3; Nov 4: 10 + 5. */
    static const double accurate[] = {1000, 1010, 1023, 1038};
    cr_assert_eq(daily.count, 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(daily.values[i], accurate[i], "day %zu", i);
    batch_series_free(&daily);
    batch_series_free(&monthly);
    set_free(&set);
}

Test(composite_meter, virtual_meters_convert_subtract_and_clip)
{
    struct series_set set = {0};
    static const double gas[] = {0, 2, 3, 1};       /* m³ a day */
    static const double heating[] = {0, 10, 40, 5}; /* kWh a day, 10 kWh per m³ */
    set_add(&set, "gas_total", 0, gas, 4);
    set_add(&set, "heating", 0, heating, 4);
    char *subtract[] = {"heating"};
    struct config_unit_conversion conversion = {
        .meter_id = "heating", .from_unit = "kWh", .to_unit = "m³"};
    struct config_meter fireplace = {.meter_id = "fireplace",
                                     .type = CONFIG_METER_VIRTUAL,
                                     .output_unit = "m³",
                                     .base_meter = "gas_total",
                                     .subtract_meters = subtract,
                                     .subtract_meter_count = 1,
                                     .conversions = &conversion,
                                     .conversion_count = 1};
    struct config config = config_make();
    struct batch_series out;
    cr_assert_eq(batch_virtual_compose(&config, &fireplace, CONFIG_COMPAT_REFERENCE, set_lookup,
                                       &set, NULL, &out),
                 0);
    static const double expected[] = {0, 1, 0, 0.5};
    cr_assert_eq(out.count, 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert(fabs(out.values[i] - expected[i]) < 1e-12, "day %zu: %g", i, out.values[i]);
    batch_series_free(&out);

    /* Without a base meter there is no series. */
    fireplace.base_meter = "missing";
    cr_assert_eq(batch_virtual_compose(&config, &fireplace, CONFIG_COMPAT_NONE, set_lookup, &set,
                                       NULL, &out),
                 0);
    cr_assert_eq(out.count, 0);
    batch_series_free(&out);
    set_free(&set);
}

/* A virtual meter in kWh on a gas meter in m³ (10 kWh per m³), minus a heating meter in kWh
 * without a subtract_meter_conversions entry: the default mode gives kWh, the gas converted. */
Test(composite_meter, virtual_meter_in_another_unit_than_its_base_meter)
{
    struct series_set set = {0};
    static const double gas[] = {0, 2, 3, 1};       /* m³ a day */
    static const double heating[] = {0, 10, 40, 5}; /* kWh a day */
    set_add(&set, "gas_total", 0, gas, 4);
    set_add(&set, "heating", 0, heating, 4);
    char *subtract[] = {"heating"};
    struct config_meter meters[3] = {
        {.meter_id = "gas_total", .type = CONFIG_METER_MASTER, .output_unit = "m³"},
        {.meter_id = "heating", .type = CONFIG_METER_PHYSICAL, .output_unit = "kWh"},
        {.meter_id = "gas_rest_kwh",
         .type = CONFIG_METER_VIRTUAL,
         .output_unit = "kWh",
         .base_meter = "gas_total",
         .subtract_meters = subtract,
         .subtract_meter_count = 1},
    };
    struct config config = config_make();
    config.meters = meters;
    config.meter_count = 3;
    struct batch_series out;
    cr_assert_eq(batch_virtual_compose(&config, &meters[2], CONFIG_COMPAT_NONE, set_lookup, &set,
                                       NULL, &out),
                 0);
    static const double expected[] = {0, 10, 0, 5}; /* kWh: 10 x gas - heating, clipped */
    cr_assert_eq(out.count, 4);
    for (size_t i = 0; i < 4; i++)
        cr_expect(fabs(out.values[i] - expected[i]) < 1e-12, "day %zu: %g kWh, expected %g", i,
                  out.values[i], expected[i]);
    batch_series_free(&out);

    /* The same virtual meter in m³: the heating converted to m³, as before. */
    meters[2].output_unit = "m³";
    cr_assert_eq(batch_virtual_compose(&config, &meters[2], CONFIG_COMPAT_NONE, set_lookup, &set,
                                       NULL, &out),
                 0);
    static const double expected_m3[] = {0, 1, 0, 0.5};
    cr_assert_eq(out.count, 4);
    for (size_t i = 0; i < 4; i++)
        cr_expect(fabs(out.values[i] - expected_m3[i]) < 1e-12, "day %zu: %g m³, expected %g", i,
                  out.values[i], expected_m3[i]);
    batch_series_free(&out);
    set_free(&set);
}

Test(series, monthly_values_are_stamped_at_the_last_day_of_their_month)
{
    struct batch_series daily = {.meter_id = "m"}, monthly;
    for (int day = 0; day < 45; day++)
        cr_assert_eq(batch_series_append(&daily, midnight(2024, 1, 20) + day * NS_PER_DAY, day), 0);
    cr_assert_eq(batch_series_monthly(&daily, NULL, &monthly), 0);
    cr_assert_eq(monthly.count, 3);
    cr_assert_eq(monthly.t_ns[0], midnight(2024, 1, 31));
    cr_assert_eq(monthly.values[0], 11.0);
    cr_assert_eq(monthly.t_ns[1], midnight(2024, 2, 29));
    cr_assert_eq(monthly.values[1], 40.0);
    cr_assert_eq(monthly.t_ns[2], midnight(2024, 3, 31), "a partial month is stamped at its end");
    cr_assert_eq(monthly.values[2], 44.0);
    batch_series_free(&monthly);
    batch_series_free(&daily);
}
