/* meters.yaml: the three meter types, their checks and the exact messages. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/tz.h"
#include "test_config_support.h"

#define PHYSICAL(id, unit)                                                                         \
    "- {meter_id: " id ", type: physical, output_unit: " unit ", installation_date: "              \
    "'2024-01-01'}\n"

static struct config *load_meters(const char *meters_yaml, struct config_diagnostics *diagnostics)
{
    struct config *config = NULL;
    int status = test_config_load("", meters_yaml, NULL, &config, diagnostics);
    char *errors = test_messages_join(diagnostics->errors, diagnostics->error_count);
    cr_assert_eq(status, 0, "errors:\n%s", errors);
    free(errors);
    return config;
}

Test(meters, types_load_with_their_keys)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = load_meters(
        "meters:\n" PHYSICAL("old", "m³") PHYSICAL("new", "m³")
            PHYSICAL("boiler", "kWh") "- meter_id: gas\n"
                                      "  type: master\n"
                                      "  output_unit: m³\n"
                                      "  periods:\n"
                                      "  - {start_date: '2020-01-01', end_date: '2023-12-31',\n"
                                      "     source_meters: [old]}\n"
                                      "  - start_date: 2024-01-01\n"
                                      "    source_meters: [new]\n"
                                      "    apply_offset_from_previous_period: true\n"
                                      "- meter_id: heating\n"
                                      "  type: virtual\n"
                                      "  output_unit: m³\n"
                                      "  base_meter: gas\n"
                                      "  subtract_meters: [boiler]\n"
                                      "  subtract_meter_conversions:\n"
                                      "    boiler: {from_unit: kWh, to_unit: m³}\n",
        &diagnostics);
    cr_expect_eq(diagnostics.warning_count, 0);
    cr_assert_eq(config->meter_count, 5);
    const struct config_meter *gas = config_meter_find(config, "gas");
    cr_assert_not_null(gas);
    cr_assert_eq(gas->period_count, 2);
    cr_expect_eq(gas->periods[0].end_date, tz_days_from_civil(2023, 12, 31));
    cr_expect_eq(gas->periods[0].composition_type, CONFIG_COMPOSITION_SINGLE);
    cr_expect_str_eq(gas->periods[0].source_unit, "m³", "defaults to the output_unit");
    cr_expect_eq(gas->periods[1].start_date, tz_days_from_civil(2024, 1, 1), "unquoted date");
    cr_expect_eq(gas->periods[1].end_date, CONFIG_DATE_OPEN_END, "end_date defaults to open");
    cr_expect(gas->periods[1].apply_offset_from_previous_period);
    cr_expect_null(gas->description);
    const struct config_meter *heating = config_meter_find(config, "heating");
    cr_assert_not_null(heating);
    cr_expect_eq(heating->calculation_type, CONFIG_CALCULATION_SUBTRACTION);
    cr_expect_str_eq(heating->conversions[0].meter_id, "boiler");
    cr_expect_str_eq(heating->conversions[0].to_unit, "m³");
    cr_expect_null(config_meter_find(config, "nothing"));
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(meters, physical_without_installation_date_warns)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config =
        load_meters("meters:\n- meter_id: w\n  type: physical\n  output_unit: m³\n", &diagnostics);
    cr_expect_eq(config->meters[0].installation_date, CONFIG_DATE_UNSET);
    cr_expect_eq(config->meters[0].deinstallation_date, CONFIG_DATE_UNSET);
    cr_assert_eq(diagnostics.warning_count, 1);
    cr_expect_str_eq(diagnostics.warnings[0], "meters.yaml:2:3: meters[0]: no installation_date; "
                                              "the meter starts at its first reading");
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(meters, dates_must_be_real_and_ordered)
{
    TEST_EXPECT_ONLY_ERROR("",
                           "meters:\n- {meter_id: a, type: physical, output_unit: kWh,\n"
                           "   installation_date: '2023-02-29'}\n",
                           NULL,
                           "meters.yaml:3:23: meters[0].installation_date: \"2023-02-29\" is not "
                           "a date; expected YYYY-MM-DD such as 2024-01-31");
    TEST_EXPECT_ONLY_ERROR("",
                           "meters:\n- meter_id: a\n  type: physical\n  output_unit: kWh\n"
                           "  installation_date: '2024-03-01'\n"
                           "  deinstallation_date: '2024-02-01'\n",
                           NULL,
                           "meters.yaml:6:24: meters[0].deinstallation_date: 2024-02-01 is before "
                           "installation_date 2024-03-01");
}

Test(meters, master_periods_are_ordered_and_do_not_overlap)
{
    const char *sources = "meters:\n" PHYSICAL("a", "kWh") PHYSICAL("b", "kWh");
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "%s- meter_id: m\n  type: master\n  output_unit: kWh\n  periods:\n"
             "  - {start_date: '2020-01-01', end_date: '2024-11-26', source_meters: [a]}\n"
             "  - {start_date: '2024-11-20', source_meters: [b]}\n",
             sources);
    TEST_EXPECT_ONLY_ERROR("", yaml, NULL,
                           "meters.yaml:9:5: meters[2].periods[1]: 2024-11-20..9999-12-31 overlaps "
                           "periods[0] (2020-01-01..2024-11-26); each day belongs to one period");
    snprintf(yaml, sizeof yaml,
             "%s- meter_id: m\n  type: master\n  output_unit: kWh\n  periods:\n"
             "  - {start_date: '2024-01-01', end_date: '2023-01-01', source_meters: [a]}\n",
             sources);
    TEST_EXPECT_ONLY_ERROR("", yaml, NULL,
                           "meters.yaml:8:42: meters[2].periods[0].end_date: 2023-01-01 is before "
                           "start_date 2024-01-01");
    snprintf(yaml, sizeof yaml,
             "%s- meter_id: m\n  type: master\n  output_unit: kWh\n  periods:\n"
             "  - {start_date: '2024-01-01', composition_type: single, source_meters: [a, b]}\n",
             sources);
    TEST_EXPECT_ONLY_ERROR("", yaml, NULL,
                           "meters.yaml:8:73: meters[2].periods[0].source_meters: has 2 meters; "
                           "composition_type single takes exactly one (use sum to add several)");
    snprintf(yaml, sizeof yaml,
             "%s- meter_id: m\n  type: master\n  output_unit: kWh\n  periods:\n"
             "  - {start_date: '2024-01-01', composition_type: average, source_meters: [a]}\n",
             sources);
    TEST_EXPECT_ONLY_ERROR("", yaml, NULL,
                           "meters.yaml:8:50: meters[2].periods[0].composition_type: \"average\" "
                           "is not one of single, sum");
    snprintf(yaml, sizeof yaml, "%s- {meter_id: m, type: master, output_unit: kWh}\n", sources);
    TEST_EXPECT_ONLY_ERROR("", yaml, NULL,
                           "meters.yaml:4:3: meters[2].periods: missing; expected a sequence");
    /* A date that does not parse is that one error: its period does not also overlap the others
     * with the open end it never asked for. */
    snprintf(yaml, sizeof yaml,
             "%s- meter_id: m\n  type: master\n  output_unit: kWh\n  periods:\n"
             "  - {start_date: '2024-01-01', end_date: '2024-04-01 12:00:00', source_meters: [a]}\n"
             "  - {start_date: '2024-04-02', source_meters: [b]}\n",
             sources);
    TEST_EXPECT_ONLY_ERROR("", yaml, NULL,
                           "meters.yaml:8:42: meters[2].periods[0].end_date: \"2024-04-01 "
                           "12:00:00\" is not a date; expected YYYY-MM-DD such as 2024-01-31");
}

/* A master's period takes its sources' values in source_unit (by default the master's unit): a
 * source counting in another unit is said, as it would be summed unconverted. */
Test(meters, a_source_in_another_unit_than_its_period_warns)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config =
        load_meters("meters:\n" PHYSICAL("gas", "m³")
                        PHYSICAL("power", "kWh") "- meter_id: energy\n"
                                                 "  type: master\n"
                                                 "  output_unit: kWh\n"
                                                 "  periods:\n"
                                                 "  - start_date: 2024-01-01\n"
                                                 "    composition_type: sum\n"
                                                 "    source_meters: [power, gas]\n",
                    &diagnostics);
    cr_assert_eq(diagnostics.warning_count, 1);
    cr_expect_str_eq(diagnostics.warnings[0],
                     "meters.yaml:8:5: meters[2].periods[0].source_unit: \"kWh\", but source meter "
                     "\"gas\" is in "
                     "\"m³\" (its output_unit): its values are taken as kWh, unconverted; set "
                     "source_unit: m³ to convert them");
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

/* The same unit under another name (m3 for m³) is no difference: nothing to warn about. */
Test(meters, a_source_in_the_same_unit_under_another_name_does_not_warn)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config =
        load_meters("meters:\n" PHYSICAL("gas_old", "m3")
                        PHYSICAL("gas_new", "m^3") "- meter_id: gas\n"
                                                   "  type: master\n"
                                                   "  output_unit: m³\n"
                                                   "  periods:\n"
                                                   "  - start_date: 2024-01-01\n"
                                                   "    composition_type: sum\n"
                                                   "    source_meters: [gas_old, gas_new]\n",
                    &diagnostics);
    cr_assert_not_null(config);
    cr_expect_eq(diagnostics.warning_count, 0, "first warning: %s",
                 diagnostics.warning_count ? diagnostics.warnings[0] : "");
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(meters, references_must_name_defined_meters)
{
    TEST_EXPECT_ONLY_ERROR(
        "",
        "meters:\n" PHYSICAL(
            "haupt_strom",
            "kWh") "- meter_id: total\n  type: master\n  output_unit: kWh\n  periods:\n"
                   "  - {start_date: '2024-01-01', source_meters: [haupt_strm]}\n",
        NULL,
        "meters.yaml:7:48: meters[1].periods[0].source_meters[0]: "
        "\"haupt_strm\" is not a meter defined in this file; did you mean "
        "\"haupt_strom\"?");
    TEST_EXPECT_ONLY_ERROR(
        "",
        "meters:\n" PHYSICAL(
            "a", "kWh") "- {meter_id: v, type: virtual, output_unit: kWh, base_meter: zzz,\n"
                        "   subtract_meters: [a]}\n",
        NULL,
        "meters.yaml:3:62: meters[1].base_meter: \"zzz\" is not a meter defined "
        "in this file");
    TEST_EXPECT_ONLY_ERROR(
        "",
        "meters:\n" PHYSICAL(
            "a", "kWh") "- {meter_id: v, type: virtual, output_unit: kWh, base_meter: a,\n"
                        "   subtract_meters: [v]}\n",
        NULL,
        "meters.yaml:4:22: meters[1].subtract_meters[0]: \"v\" is this meter "
        "itself; a meter cannot be computed from itself");
}

Test(meters, ids_are_unique_and_cycles_are_refused)
{
    TEST_EXPECT_ONLY_ERROR("", "meters:\n" PHYSICAL("a", "kWh") PHYSICAL("a", "kWh"), NULL,
                           "meters.yaml:3:14: meters[1].meter_id: \"a\" is already defined by "
                           "meters[0]; meter ids must be unique");
    TEST_EXPECT_ONLY_ERROR("",
                           "meters:\n"
                           "- {meter_id: x, type: virtual, output_unit: kWh, base_meter: y}\n"
                           "- {meter_id: y, type: virtual, output_unit: kWh, base_meter: z}\n"
                           "- {meter_id: z, type: virtual, output_unit: kWh, base_meter: x}\n",
                           NULL,
                           "meters.yaml:4:3: meters[2]: meters depend on each other in a cycle: "
                           "x -> y -> z -> x");
}

Test(meters, type_decides_the_keys)
{
    TEST_EXPECT_ONLY_ERROR("", "meters:\n- {meter_id: a, output_unit: kWh}\n", NULL,
                           "meters.yaml:2:3: meters[0].type: missing; expected one of physical, "
                           "master, virtual");
    TEST_EXPECT_ONLY_ERROR("", "meters:\n- {meter_id: a, type: heat, output_unit: kWh}\n", NULL,
                           "meters.yaml:2:23: meters[0].type: \"heat\" is not one of physical, "
                           "master, virtual");
    TEST_EXPECT_ONLY_ERROR("",
                           "meters:\n- meter_id: a\n  type: physical\n  output_unit: kWh\n"
                           "  installation_date: '2024-01-01'\n  base_meter: b\n",
                           NULL,
                           "meters.yaml:6:3: meters[0].base_meter: not a key of physical meters "
                           "(only of virtual meters)");
    TEST_EXPECT_ONLY_ERROR("",
                           "meters:\n- meter_id: a\n  type: physical\n  output_unit: kWh\n"
                           "  instalation_date: '2024-01-01'\n",
                           NULL,
                           "meters.yaml:5:3: meters[0].instalation_date: unknown key; did you "
                           "mean \"installation_date\"?");
    TEST_EXPECT_ONLY_ERROR("", "meters:\n- {meter_id: a, type: physical}\n", NULL,
                           "meters.yaml:2:3: meters[0].output_unit: missing; expected a string");
    TEST_EXPECT_ONLY_ERROR("", "meters:\n  meter_id: a\n", NULL,
                           "meters.yaml:2:3: meters: found a mapping; expected a sequence of "
                           "meters (- meter_id: ...)");
    TEST_EXPECT_ONLY_ERROR("", "meter:\n- {meter_id: a}\n", NULL,
                           "meters.yaml:1:1: meter: unknown key; did you mean \"meters\"?");
}

Test(meters, virtual_conversions_and_units)
{
    TEST_EXPECT_ONLY_ERROR(
        "",
        "meters:\n" PHYSICAL("gas", "m³")
            PHYSICAL("boiler", "kWh") "- meter_id: v\n  type: virtual\n  output_unit: m³\n"
                                      "  base_meter: gas\n  subtract_meters: [boiler]\n"
                                      "  subtract_meter_conversions:\n"
                                      "    boiler: {from_unit: kWh, to_unit: m³}\n"
                                      "    other: {from_unit: kWh, to_unit: m³}\n",
        NULL,
        "meters.yaml:11:5: meters[2].subtract_meter_conversions.other: "
        "\"other\" is not one of subtract_meters");
    TEST_EXPECT_ONLY_ERROR(
        "",
        "meters:\n" PHYSICAL("gas", "m³")
            PHYSICAL("boiler", "kWh") "- meter_id: v\n  type: virtual\n  output_unit: m³\n"
                                      "  base_meter: gas\n  subtract_meters: [boiler]\n"
                                      "  subtract_meter_conversions:\n"
                                      "    boiler: {from_unit: kWh, to_unit: °C}\n",
        NULL,
        "meters.yaml:10:13: meters[2].subtract_meter_conversions.boiler: cannot "
        "convert \"kWh\" to \"°C\" (convertible: Wh, kWh, MWh, GWh, m³, l; gas "
        "m³ and energy via gas_conversion)");
    TEST_EXPECT_ONLY_ERROR(
        "",
        "meters:\n" PHYSICAL(
            "a", "°C") "- meter_id: m\n  type: master\n  output_unit: kWh\n  periods:\n"
                       "  - {start_date: '2024-01-01', source_meters: [a], source_unit: °C}\n",
        NULL,
        "meters.yaml:7:65: meters[1].periods[0].source_unit: \"°C\" cannot be "
        "converted to the output_unit \"kWh\" (convertible: Wh, kWh, MWh, GWh, "
        "m³, l; gas m³ and energy via gas_conversion)");

    /* Gas m³ and kWh convert by gas_conversion (defaults apply): nothing to warn about in the
     * default mode; °C and kWh do not. */
    struct config_diagnostics diagnostics = {0};
    struct config *config = load_meters(
        "meters:\n" PHYSICAL("gas", "m³")
            PHYSICAL("boiler", "kWh") "- {meter_id: v, type: virtual, output_unit: m³,\n"
                                      "   base_meter: gas, subtract_meters: [boiler]}\n",
        &diagnostics);
    cr_expect_eq(diagnostics.warning_count, 0);
    config_free(config);
    config_diagnostics_free(&diagnostics);
    diagnostics = (struct config_diagnostics){0};
    config = load_meters("meters:\n" PHYSICAL("house", "kWh") PHYSICAL(
                             "garden", "°C") "- {meter_id: v, type: virtual, output_unit: kWh,\n"
                                             "   base_meter: house, subtract_meters: [garden]}\n",
                         &diagnostics);
    cr_assert_eq(diagnostics.warning_count, 1);
    cr_expect_str_eq(diagnostics.warnings[0],
                     "meters.yaml:5:41: meters[2].subtract_meters[0]: \"garden\" counts in °C, the "
                     "base meter in kWh, and there is no subtract_meter_conversions entry for it; "
                     "the units cannot be converted, so it is left out of the subtraction");
    config_free(config);
    config_diagnostics_free(&diagnostics);

    /* Units the table converts: the default mode converts them, nothing to warn about. */
    diagnostics = (struct config_diagnostics){0};
    config = load_meters(
        "meters:\n" PHYSICAL("house", "kWh")
            PHYSICAL("heat_pump", "Wh") "- {meter_id: v, type: virtual, output_unit: kWh,\n"
                                        "   base_meter: house, subtract_meters: [heat_pump]}\n",
        &diagnostics);
    cr_expect_eq(diagnostics.warning_count, 0);
    config_free(config);
    config_diagnostics_free(&diagnostics);

    /* The reference's mode subtracts whatever the values are. */
    diagnostics = (struct config_diagnostics){0};
    config = NULL;
    cr_assert_eq(test_config_load(
                     "analytics: {compat: reference}\n",
                     "meters:\n" PHYSICAL("house", "kWh") PHYSICAL(
                         "heat_pump", "Wh") "- {meter_id: v, type: virtual, output_unit: kWh,\n"
                                            "   base_meter: house, subtract_meters: [heat_pump]}\n",
                     NULL, &config, &diagnostics),
                 0);
    cr_assert_eq(diagnostics.warning_count, 1);
    cr_expect_str_eq(diagnostics.warnings[0],
                     "meters.yaml:5:41: meters[2].subtract_meters[0]: \"heat_pump\" counts in Wh, "
                     "the base meter in kWh, and there is no subtract_meter_conversions entry for "
                     "it; its values are subtracted unconverted (analytics.compat: reference)");
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(meters, aliases_and_flow_collections)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = load_meters("meters:\n"
                                        "- &base {meter_id: a, type: physical, output_unit: kWh,\n"
                                        "         installation_date: '2024-01-01'}\n"
                                        "- meter_id: s\n"
                                        "  type: master\n"
                                        "  output_unit: kWh\n"
                                        "  periods:\n"
                                        "  - start_date: '2024-01-01'\n"
                                        "    composition_type: sum\n"
                                        "    source_meters: &sources [a]\n"
                                        "- {meter_id: v, type: virtual, output_unit: kWh,\n"
                                        "   base_meter: s, subtract_meters: *sources}\n",
                                        &diagnostics);
    cr_assert_eq(config->meter_count, 3);
    cr_expect_eq(config->meters[1].periods[0].composition_type, CONFIG_COMPOSITION_SUM);
    cr_assert_eq(config->meters[2].subtract_meter_count, 1);
    cr_expect_str_eq(config->meters[2].subtract_meters[0], "a");
    config_free(config);
    config_diagnostics_free(&diagnostics);
    /* An alias of a whole meter repeats its id. */
    TEST_EXPECT_ONLY_ERROR("",
                           "meters:\n- &m {meter_id: a, type: physical, output_unit: kWh,\n"
                           "   installation_date: '2024-01-01'}\n- *m\n",
                           NULL,
                           "meters.yaml:2:17: meters[1].meter_id: \"a\" is already defined by "
                           "meters[0]; meter ids must be unique");
}

static char *write_file(const char *directory, const char *name, const char *text)
{
    char *path = NULL;
    cr_assert_geq(asprintf(&path, "%s/%s", directory, name), 0);
    FILE *file = fopen(path, "w");
    cr_assert_not_null(file);
    cr_assert_eq(fputs(text, file) >= 0, 1);
    cr_assert_eq(fclose(file), 0);
    return path;
}

Test(meters, files_are_found_next_to_config_yaml)
{
    char directory[] = "/tmp/nebenkosten-meters-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    char *meters = write_file(directory, "meters.yaml", "meters:\n" PHYSICAL("a", "kWh"));
    char *config_path = write_file(directory, "config.yaml", "");
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(config_load(config_path, &config, &diagnostics), 0);
    cr_expect_eq(config->meter_count, 1);
    cr_expect_eq(config->pattern_count, 0, "a missing default patterns file is no error");
    cr_expect_eq(diagnostics.note_count, 1);
    config_free(config);
    config_diagnostics_free(&diagnostics);

    /* A file named explicitly must exist. */
    char *named = write_file(directory, "config.yaml", "seasonal_patterns_config: p.yaml\n");
    cr_expect_eq(config_load(named, &config, &diagnostics), -1);
    cr_assert_eq(diagnostics.error_count, 1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s: seasonal_patterns_config: cannot read %s/p.yaml: No such file or directory",
             named, directory);
    /* The position is the key's value. */
    char located[600];
    snprintf(located, sizeof located,
             "%s:1:27: seasonal_patterns_config: cannot read %s/p.yaml: "
             "No such file or directory",
             named, directory);
    cr_expect_str_eq(diagnostics.errors[0], located);
    config_diagnostics_free(&diagnostics);

    /* Errors in the meters file name it as config.yaml's directory was given. */
    free(write_file(directory, "meters.yaml", "meters: 5\n"));
    free(write_file(directory, "config.yaml", ""));
    cr_expect_eq(config_load(config_path, &config, &diagnostics), -1);
    cr_assert_eq(diagnostics.error_count, 1);
    snprintf(expected, sizeof expected,
             "%s/meters.yaml:1:9: meters: found \"5\"; expected a sequence of meters (- "
             "meter_id: ...)",
             directory);
    cr_expect_str_eq(diagnostics.errors[0], expected);
    config_diagnostics_free(&diagnostics);
    unlink(meters);
    unlink(config_path);
    cr_expect_eq(rmdir(directory), 0);
    free(meters);
    free(config_path);
    free(named);
}
