/* A master meter whose id also has raw readings of its own (e.g. an old Home
 * Assistant entity of that name) and a virtual meter based on it. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "batch/reconcile.h"
#include "batch/run_report.h"
#include "config/tz.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

Test(reconcile_lookup, virtual_meter_based_on_a_master_whose_id_also_has_readings)
{
    int64_t jan1 = tz_days_from_civil(2024, 1, 1);
    char *sources[] = {"a"};
    struct config_period period = {.start_date = jan1,
                                   .end_date = CONFIG_DATE_OPEN_END,
                                   .composition_type = CONFIG_COMPOSITION_SINGLE,
                                   .source_meters = sources,
                                   .source_meter_count = 1};
    struct config_meter meters[3] = {
        {.meter_id = "a",
         .type = CONFIG_METER_PHYSICAL,
         .output_unit = "kWh",
         .installation_date = jan1,
         .deinstallation_date = CONFIG_DATE_UNSET},
        {.meter_id = "house",
         .type = CONFIG_METER_MASTER,
         .output_unit = "kWh",
         .periods = &period,
         .period_count = 1},
        {.meter_id = "rest",
         .type = CONFIG_METER_VIRTUAL,
         .output_unit = "kWh",
         .base_meter = "house"},
    };
    struct config config = {.meters = meters, .meter_count = 3};
    config.workflows.analytics.start_year = 2024;
    struct batch_readings readings = {0};
    cr_assert_eq(batch_readings_add(&readings, "a", 1, jan1 * NS_PER_DAY, 0.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "a", 1, (jan1 + 9) * NS_PER_DAY, 90.0), 0);
    /* Two stray readings under the master's id. */
    cr_assert_eq(batch_readings_add(&readings, "house", 5, (jan1 + 2) * NS_PER_DAY, 7.0), 0);
    cr_assert_eq(batch_readings_add(&readings, "house", 5, (jan1 + 3) * NS_PER_DAY, 8.0), 0);
    batch_readings_finish(&readings);
    struct stream_calendar calendar = stream_calendar_utc();
    struct batch_reconcile_options options = {
        .compat = CONFIG_COMPAT_NONE, .today_day = jan1 + 9, .calendar = &calendar};
    struct batch_reconcile_result result;
    cr_assert_eq(batch_reconcile_compute(&config, &readings, &options, &result), 0);
    cr_assert_eq(result.master_count, 1);
    cr_assert_eq(result.masters[0].daily.count, 10, "the master has its 10 days");
    cr_assert_eq(result.virtual_count, 1);
    const struct batch_series *rest = &result.virtuals[0];
    cr_expect_eq(rest->count, 10, "rest has %zu days, expected the master's 10", rest->count);
    for (size_t i = 1; i < rest->count; i++)
        cr_expect(fabs(rest->values[i] - 10.0) < 1e-9, "day %zu: %g", i, rest->values[i]);

    /* The run report judges the master by its own consumption too, not by the empty one of the
     * physical entry of the same id (10 days: too few for the vote, not "no consumption"). */
    struct batch_run_summary summary = {.status = "succeeded", .compat = "none"};
    cJSON *report = batch_run_report_build(&summary, &result, &readings, CONFIG_COMPAT_NONE);
    cr_assert_not_null(report);
    const cJSON *meter_item;
    const char *master_status = NULL;
    cJSON_ArrayForEach(meter_item, cJSON_GetObjectItem(report, "meters"))
    {
        const cJSON *type = cJSON_GetObjectItem(meter_item, "type");
        if (strcmp(cJSON_GetObjectItem(meter_item, "meter_id")->valuestring, "house") == 0 &&
            strcmp(type->valuestring, "master") == 0)
            master_status = cJSON_GetObjectItem(meter_item, "anomaly_status")->valuestring;
    }
    cr_expect_str_eq(master_status, "skipped_lt_60_days");
    cJSON_Delete(report);
    batch_reconcile_result_free(&result);
    batch_readings_free(&readings);
}

/* A virtual meter based on another virtual meter (the configuration accepts it and checks such
 * chains for cycles), listed before it: rest = general - heat pump, general = house - flat. */
Test(reconcile_lookup, virtual_meter_based_on_a_virtual_meter)
{
    int64_t jan1 = tz_days_from_civil(2024, 1, 1);
    char *flat[] = {"flat"}, *heat_pump[] = {"heat_pump"};
    struct config_meter meters[5] = {
        {.meter_id = "rest",
         .type = CONFIG_METER_VIRTUAL,
         .output_unit = "kWh",
         .base_meter = "general",
         .subtract_meters = heat_pump,
         .subtract_meter_count = 1},
        {.meter_id = "general",
         .type = CONFIG_METER_VIRTUAL,
         .output_unit = "kWh",
         .base_meter = "house",
         .subtract_meters = flat,
         .subtract_meter_count = 1},
    };
    const char *physical[] = {"house", "flat", "heat_pump"};
    for (size_t i = 0; i < 3; i++)
        meters[2 + i] = (struct config_meter){.meter_id = (char *)physical[i],
                                              .type = CONFIG_METER_PHYSICAL,
                                              .output_unit = "kWh",
                                              .installation_date = jan1,
                                              .deinstallation_date = CONFIG_DATE_UNSET};
    struct config config = {.meters = meters, .meter_count = 5};
    config.workflows.analytics.start_year = 2024;
    struct batch_readings readings = {0};
    static const double per_day[] = {10.0, 3.0, 2.0}; /* house, flat, heat pump */
    for (size_t i = 0; i < 3; i++) {
        size_t length = strlen(physical[i]);
        cr_assert_eq(batch_readings_add(&readings, physical[i], length, jan1 * NS_PER_DAY, 0.0), 0);
        cr_assert_eq(batch_readings_add(&readings, physical[i], length, (jan1 + 9) * NS_PER_DAY,
                                        9 * per_day[i]),
                     0);
    }
    batch_readings_finish(&readings);
    struct stream_calendar calendar = stream_calendar_utc();
    struct batch_reconcile_options options = {
        .compat = CONFIG_COMPAT_NONE, .today_day = jan1 + 9, .calendar = &calendar};
    struct batch_reconcile_result result;
    cr_assert_eq(batch_reconcile_compute(&config, &readings, &options, &result), 0);
    cr_assert_eq(result.virtual_count, 2);
    /* In configuration order. */
    cr_assert_str_eq(result.virtuals[0].meter_id, "rest");
    cr_assert_str_eq(result.virtuals[1].meter_id, "general");
    const struct batch_series *general = &result.virtuals[1], *rest = &result.virtuals[0];
    cr_assert_eq(general->count, 10);
    for (size_t i = 1; i < general->count; i++)
        cr_expect(fabs(general->values[i] - 7.0) < 1e-9, "general day %zu: %g", i,
                  general->values[i]);
    cr_expect_eq(rest->count, 10, "rest has %zu days, expected general's 10", rest->count);
    for (size_t i = 1; i < rest->count; i++)
        cr_expect(fabs(rest->values[i] - 5.0) < 1e-9, "rest day %zu: %g", i, rest->values[i]);
    batch_reconcile_result_free(&result);
    batch_readings_free(&readings);
}

/* A master meter summing two master meters (each the high or low tariff register across its own
 * periods), listed before them: its register moves by both. */
Test(reconcile_lookup, master_meter_of_master_meters)
{
    int64_t jan1 = tz_days_from_civil(2024, 1, 1);
    char *tariffs[] = {"ht", "nt"}, *ht_meter[] = {"ht_meter"}, *nt_meter[] = {"nt_meter"};
    struct config_period total_period = {.start_date = jan1,
                                         .end_date = CONFIG_DATE_OPEN_END,
                                         .composition_type = CONFIG_COMPOSITION_SUM,
                                         .source_meters = tariffs,
                                         .source_meter_count = 2};
    struct config_period ht_period = {.start_date = jan1,
                                      .end_date = CONFIG_DATE_OPEN_END,
                                      .composition_type = CONFIG_COMPOSITION_SINGLE,
                                      .source_meters = ht_meter,
                                      .source_meter_count = 1};
    struct config_period nt_period = ht_period;
    nt_period.source_meters = nt_meter;
    struct config_meter meters[5] = {
        {.meter_id = "total",
         .type = CONFIG_METER_MASTER,
         .output_unit = "kWh",
         .periods = &total_period,
         .period_count = 1},
        {.meter_id = "ht",
         .type = CONFIG_METER_MASTER,
         .output_unit = "kWh",
         .periods = &ht_period,
         .period_count = 1},
        {.meter_id = "nt",
         .type = CONFIG_METER_MASTER,
         .output_unit = "kWh",
         .periods = &nt_period,
         .period_count = 1},
    };
    const char *physical[] = {"ht_meter", "nt_meter"};
    for (size_t i = 0; i < 2; i++)
        meters[3 + i] = (struct config_meter){.meter_id = (char *)physical[i],
                                              .type = CONFIG_METER_PHYSICAL,
                                              .output_unit = "kWh",
                                              .installation_date = jan1,
                                              .deinstallation_date = CONFIG_DATE_UNSET};
    struct config config = {.meters = meters, .meter_count = 5};
    config.workflows.analytics.start_year = 2024;
    struct batch_readings readings = {0};
    static const double per_day[] = {4.0, 1.0};
    for (size_t i = 0; i < 2; i++) {
        size_t length = strlen(physical[i]);
        cr_assert_eq(batch_readings_add(&readings, physical[i], length, jan1 * NS_PER_DAY, 100.0),
                     0);
        cr_assert_eq(batch_readings_add(&readings, physical[i], length, (jan1 + 9) * NS_PER_DAY,
                                        100.0 + 9 * per_day[i]),
                     0);
    }
    batch_readings_finish(&readings);
    struct stream_calendar calendar = stream_calendar_utc();
    struct batch_reconcile_options options = {
        .compat = CONFIG_COMPAT_NONE, .today_day = jan1 + 9, .calendar = &calendar};
    struct batch_reconcile_result result;
    cr_assert_eq(batch_reconcile_compute(&config, &readings, &options, &result), 0);
    cr_assert_eq(result.master_count, 3);
    cr_assert_str_eq(result.masters[0].config->meter_id, "total");
    const struct batch_series *total = &result.masters[0].daily;
    cr_expect_eq(total->count, 10, "total has %zu days, expected 10", total->count);
    for (size_t i = 0; i < total->count; i++)
        cr_expect(fabs(total->values[i] - (200.0 + 5.0 * (double)i)) < 1e-9, "day %zu: %g", i,
                  total->values[i]);
    cr_expect_eq(result.masters[0].monthly.count, 1);
    batch_reconcile_result_free(&result);
    batch_readings_free(&readings);
}

/* A meter read every midnight for 90 days, 10 kWh a day give or take 1: the first day's
 * consumption is 0 by definition. The reference's vote flags it (3 votes); the default mode does
 * not judge it, and judges the other days as before. */
Test(reconcile_anomalies, the_first_day_is_judged_only_in_compat_reference)
{
    int64_t jan1 = tz_days_from_civil(2024, 1, 1);
    struct config_meter meter = {.meter_id = "strom",
                                 .type = CONFIG_METER_PHYSICAL,
                                 .output_unit = "kWh",
                                 .installation_date = jan1,
                                 .deinstallation_date = CONFIG_DATE_UNSET};
    struct config config = {.meters = &meter, .meter_count = 1};
    config.workflows.analytics.start_year = 2024;
    struct batch_readings readings = {0};
    double value = 1000.0;
    for (int day = 0; day < 90; day++) {
        cr_assert_eq(batch_readings_add(&readings, "strom", 5, (jan1 + day) * NS_PER_DAY, value),
                     0);
        value += 10.0 + (day % 3) - 1.0;
    }
    batch_readings_finish(&readings);
    struct stream_calendar calendar = stream_calendar_utc();
    const enum config_compat modes[] = {CONFIG_COMPAT_REFERENCE, CONFIG_COMPAT_NONE};
    for (size_t m = 0; m < 2; m++) {
        struct batch_reconcile_options options = {
            .compat = modes[m], .today_day = jan1 + 89, .calendar = &calendar};
        struct batch_reconcile_result result;
        cr_assert_eq(batch_reconcile_compute(&config, &readings, &options, &result), 0);
        cr_assert_eq(result.anomaly_count, 1);
        const struct batch_anomaly_result *anomaly = &result.anomalies[0];
        cr_assert_eq(anomaly->summary.status, BATCH_ANOMALY_ANALYSED);
        bool first_flagged = anomaly->flag_count > 0 && anomaly->flags[0].index == 0;
        if (modes[m] == CONFIG_COMPAT_REFERENCE) {
            cr_expect(first_flagged, "compat reference flags the first day, as the reference");
            cr_expect_eq(anomaly->summary.day_count, 90);
        } else {
            cr_expect_not(first_flagged, "the default mode judged the first day's 0");
            cr_expect_eq(anomaly->summary.day_count, 89, "judged %zu days",
                         anomaly->summary.day_count);
            cr_expect_eq(anomaly->flag_count, 0, "%zu days flagged", anomaly->flag_count);
        }
        batch_reconcile_result_free(&result);
    }
    batch_readings_free(&readings);
}
