/* Every configuration of the reference pipeline's fixtures loads unchanged, with the meters and
 * patterns it describes. Tests run with the repository as the working directory; the shared
 * directory is ../shared unless NEBENKOSTEN_SHARED says otherwise. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "config/tz.h"
#include "test_config_support.h"

static const char *shared_directory(void)
{
    const char *shared = getenv("NEBENKOSTEN_SHARED");
    return shared && shared[0] ? shared : "../shared";
}

static struct config *fixture_load(const char *scenario, struct config_diagnostics *diagnostics)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/reference/%s/config/config.yaml", shared_directory(),
             scenario);
    struct config *config = NULL;
    int status = config_load(path, &config, diagnostics);
    char *errors = test_messages_join(diagnostics->errors, diagnostics->error_count);
    cr_assert_eq(status, 0, "%s does not load:\n%s", path, errors);
    free(errors);
    return config;
}

static int64_t day(int year, int month, int day_of_month)
{
    return tz_days_from_civil(year, month, day_of_month);
}

Test(config_fixtures, every_reference_configuration_loads_without_errors)
{
    char directory[1024];
    snprintf(directory, sizeof directory, "%s/fixtures/reference", shared_directory());
    DIR *scenarios = opendir(directory);
    cr_assert_not_null(scenarios, "cannot open %s (set NEBENKOSTEN_SHARED)", directory);
    size_t loaded = 0;
    struct dirent *entry;
    while ((entry = readdir(scenarios))) {
        char path[2048];
        struct stat status;
        snprintf(path, sizeof path, "%s/%s/config/config.yaml", directory, entry->d_name);
        if (entry->d_name[0] == '.' || stat(path, &status) != 0)
            continue;
        struct config_diagnostics diagnostics = {0};
        struct config *config = fixture_load(entry->d_name, &diagnostics);
        cr_expect_gt(config->meter_count, 0, "%s: no meters", entry->d_name);
        cr_expect_eq(config->gas_conversion.energy_content, 11.504);
        cr_expect_eq(config->gas_conversion.z_factor, 0.8885);
        /* Only pattern sums may be worth a warning in these files. */
        for (size_t i = 0; i < diagnostics.warning_count; i++)
            cr_expect(strstr(diagnostics.warnings[i], "not 100; the values are scaled") != NULL,
                      "%s: unexpected warning %s", entry->d_name, diagnostics.warnings[i]);
        config_free(config);
        config_diagnostics_free(&diagnostics);
        loaded++;
    }
    closedir(scenarios);
    cr_expect_geq(loaded, 13, "only %zu fixture configurations found", loaded);
}

Test(config_fixtures, main_meters_match_the_file)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = fixture_load("main", &diagnostics);
    cr_expect_eq(config->workflows.analytics.start_year, 2020);
    cr_expect_eq(config->meter_count, 26);
    cr_expect_eq(config->pattern_count, 16);

    const struct config_meter *total = config_meter_find(config, "strom_total");
    cr_assert_not_null(total);
    cr_expect_eq(total->type, CONFIG_METER_MASTER);
    cr_expect_str_eq(total->output_unit, "kWh");
    cr_expect_str_eq(total->description, "Total electricity consumption across all periods");
    cr_assert_eq(total->period_count, 2);
    cr_expect_eq(total->periods[0].start_date, day(2020, 1, 1));
    cr_expect_eq(total->periods[0].end_date, day(2024, 11, 26));
    cr_expect_eq(total->periods[0].composition_type, CONFIG_COMPOSITION_SUM);
    cr_assert_eq(total->periods[0].source_meter_count, 2);
    cr_expect_str_eq(total->periods[0].source_meters[0], "strom_1LOG0007013695_NT");
    cr_expect_str_eq(total->periods[0].source_meters[1], "strom_1LOG0007013695_HT");
    cr_expect_str_eq(total->periods[0].source_unit, "kWh");
    cr_expect_not(total->periods[0].apply_offset_from_previous_period);
    cr_expect_eq(total->periods[1].start_date, day(2024, 11, 27));
    cr_expect_eq(total->periods[1].end_date, CONFIG_DATE_OPEN_END);
    cr_expect_eq(total->periods[1].composition_type, CONFIG_COMPOSITION_SINGLE);
    cr_expect_str_eq(total->periods[1].source_meters[0], "haupt_strom");
    cr_expect(total->periods[1].apply_offset_from_previous_period);

    const struct config_meter *fireplace = config_meter_find(config, "eg_kalfire");
    cr_assert_not_null(fireplace);
    cr_expect_eq(fireplace->type, CONFIG_METER_VIRTUAL);
    cr_expect_eq(fireplace->calculation_type, CONFIG_CALCULATION_SUBTRACTION);
    cr_expect_str_eq(fireplace->base_meter, "gas_total");
    cr_assert_eq(fireplace->subtract_meter_count, 1);
    cr_expect_str_eq(fireplace->subtract_meters[0], "gastherme_gesamt");
    cr_assert_eq(fireplace->conversion_count, 1);
    cr_expect_str_eq(fireplace->conversions[0].meter_id, "gastherme_gesamt");
    cr_expect_str_eq(fireplace->conversions[0].from_unit, "kWh");
    cr_expect_str_eq(fireplace->conversions[0].to_unit, "m³");
    double factor = 0;
    cr_expect_eq(config_unit_factor(config, "kWh", "m³", &factor), 0);
    cr_expect(fabs(factor - 1.0 / (11.504 * 0.8885)) < 1e-15);

    const struct config_meter *general = config_meter_find(config, "strom_allgemein");
    cr_assert_not_null(general);
    cr_expect_eq(general->subtract_meter_count, 3);
    cr_expect_str_eq(general->subtract_meters[2], "og2_strom");
    cr_expect_eq(general->conversion_count, 0);

    const struct config_meter *old_gas = config_meter_find(config, "gas_zahler_alt");
    cr_assert_not_null(old_gas);
    cr_expect_eq(old_gas->type, CONFIG_METER_PHYSICAL);
    cr_expect_str_eq(old_gas->output_unit, "m³");
    cr_expect_eq(old_gas->installation_date, day(2020, 6, 1));
    cr_expect_eq(old_gas->deinstallation_date, day(2024, 11, 12));
    const struct config_meter *heat = config_meter_find(config, "og2_heat");
    cr_assert_not_null(heat);
    cr_expect_str_eq(heat->output_unit, "MWh");
    cr_expect_eq(heat->installation_date, day(2022, 1, 9));
    cr_expect_eq(heat->deinstallation_date, CONFIG_DATE_UNSET);
    cr_expect_str_eq(config->meters[25].meter_id, "solarspeicher");
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(config_fixtures, main_patterns_are_normalised_with_warnings)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = fixture_load("main", &diagnostics);
    const struct config_pattern *gas = config_pattern_find(config, "gas_total");
    cr_assert_not_null(gas);
    cr_assert_eq(gas->month_count, 12);
    cr_expect(fabs(gas->raw_sum - 101.0) < 1e-9, "raw sum %.17g", gas->raw_sum);
    cr_expect_eq(gas->raw_percentages[0], 15.1);
    cr_expect_eq(gas->raw_percentages[11], 14.5);
    cr_expect(fabs(gas->monthly_percentages[0] - 15.1 * 100.0 / 101.0) < 1e-12);
    cr_expect(fabs(gas->monthly_percentages[6] - 2.7 * 100.0 / 101.0) < 1e-12);
    double sum = 0;
    for (size_t m = 0; m < 12; m++)
        sum += gas->monthly_percentages[m];
    cr_expect(fabs(sum - 100.0) < 1e-9);
    cr_expect_str_eq(gas->description, "Total gas - high in winter (heating), low in summer");

    const struct config_pattern *ground = config_pattern_find(config, "eg_strom");
    cr_assert_not_null(ground);
    cr_expect_eq(ground->monthly_percentages[0], 12.5); /* sums to 100: kept as written */
    cr_expect_eq(ground->monthly_percentages[7], 5.0);
    const struct config_pattern *water = config_pattern_find(config, "gastherme_warmwasser");
    cr_assert_not_null(water);
    cr_expect_eq(water->monthly_percentages[4], 7.0); /* written as integers */
    const struct config_pattern *solar = config_pattern_find(config, "solarspeicher");
    cr_assert_not_null(solar);
    cr_expect(fabs(solar->raw_sum - 100.1) < 1e-9); /* within 0.5: scaled without a warning */
    cr_expect(fabs(solar->monthly_percentages[6] - 13.5 * 100.0 / 100.1) < 1e-12);

    cr_assert_eq(diagnostics.warning_count, 4);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "%s/fixtures/reference/main/config/seasonal_patterns.yaml:19:5: "
             "patterns.gas_total.monthly_percentages: sums to 101, not 100; the values are "
             "scaled to sum to 100",
             shared_directory());
    cr_expect_str_eq(diagnostics.warnings[0], expected);
    cr_expect(strstr(diagnostics.warnings[3], "patterns.gas_zahler_alt.monthly_percentages"));
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(config_fixtures, aliases_share_the_anchored_values)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = fixture_load("edge_rate_methods", &diagnostics);
    const struct config_pattern *three = config_pattern_find(config, "rate_three");
    const struct config_pattern *sklearn = config_pattern_find(config, "rate_sklearn");
    cr_assert_not_null(three);
    cr_assert_not_null(sklearn);
    cr_assert_eq(sklearn->month_count, 12);
    for (size_t m = 0; m < 12; m++)
        cr_expect_eq(three->monthly_percentages[m], sklearn->monthly_percentages[m]);
    cr_expect_eq(sklearn->raw_percentages[3], 8.1);
    cr_expect_eq(diagnostics.warning_count, 2); /* both sum to 101 */
    cr_expect_eq(config->meter_count, 4);
    cr_expect_eq(config->workflows.analytics.start_year, 2024);
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(config_fixtures, edge_scenarios_have_their_dates_and_masters)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = fixture_load("edge_deinstalled", &diagnostics);
    const struct config_meter *before = config_meter_find(config, "deinst_before_start");
    cr_assert_not_null(before);
    cr_expect_eq(before->installation_date, day(2023, 1, 1));
    cr_expect_eq(before->deinstallation_date, day(2023, 12, 1));
    cr_expect_eq(config->pattern_count, 1);
    config_free(config);
    config_diagnostics_free(&diagnostics);

    struct config_diagnostics more = {0};
    config = fixture_load("edge_unconfigured", &more);
    const struct config_meter *master = config_meter_find(config, "master_missing_source");
    cr_assert_not_null(master);
    cr_expect_eq(master->type, CONFIG_METER_MASTER);
    cr_assert_eq(master->period_count, 1);
    cr_expect_str_eq(master->periods[0].source_meters[0], "configured_no_data");
    cr_expect_eq(master->periods[0].end_date, CONFIG_DATE_OPEN_END);
    cr_expect_eq(config->pattern_count, 0); /* patterns: {} */
    cr_expect_eq(more.warning_count, 0);
    config_free(config);
    config_diagnostics_free(&more);
}

Test(config_fixtures, open_end_date_constant_is_9999_12_31)
{
    cr_expect_eq(CONFIG_DATE_OPEN_END, day(9999, 12, 31));
}
