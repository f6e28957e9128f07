/* seasonal_patterns.yaml: twelve non-negative numbers per meter, scaled to sum to 100. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "test_config_support.h"

static struct config *load_patterns(const char *meters_yaml, const char *patterns_yaml,
                                    struct config_diagnostics *diagnostics)
{
    struct config *config = NULL;
    int status = test_config_load("", meters_yaml, patterns_yaml, &config, diagnostics);
    char *errors = test_messages_join(diagnostics->errors, diagnostics->error_count);
    cr_assert_eq(status, 0, "errors:\n%s", errors);
    free(errors);
    return config;
}

Test(patterns, values_summing_to_100_are_kept)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = load_patterns(
        NULL,
        "patterns:\n  water:\n    monthly_percentages: [8, 7.5, 8, 8, 8.5, 9, 9.5, 9.5, 8.5, "
        "8, 7.5, 8]\n    description: garden\n",
        &diagnostics);
    cr_expect_eq(diagnostics.warning_count, 0);
    const struct config_pattern *water = config_pattern_find(config, "water");
    cr_assert_not_null(water);
    cr_assert_eq(water->month_count, 12);
    cr_expect_eq(water->monthly_percentages[1], 7.5);
    cr_expect_eq(water->monthly_percentages[7], 9.5);
    cr_expect_eq(water->raw_sum, 100.0);
    cr_expect_str_eq(water->description, "garden");
    cr_expect_null(config_pattern_find(config, "gas"));
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(patterns, sums_off_by_more_than_half_a_percent_warn_and_are_scaled)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = load_patterns(
        NULL,
        "patterns:\n  a:\n    monthly_percentages: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, "
        "10, 10]\n  b:\n    monthly_percentages: [8.4, 8.3, 8.3, 8.3, 8.3, 8.4, 8.3, 8.3, "
        "8.3, 8.4, 8.4, 8.4]\n",
        &diagnostics);
    cr_assert_eq(diagnostics.warning_count, 1);
    cr_expect_str_eq(diagnostics.warnings[0],
                     "seasonal_patterns.yaml:3:26: patterns.a.monthly_percentages: sums to 120, "
                     "not 100; the values are scaled to sum to 100");
    const struct config_pattern *a = config_pattern_find(config, "a");
    cr_expect_eq(a->raw_sum, 120.0);
    cr_expect_eq(a->raw_percentages[5], 10.0);
    cr_expect(fabs(a->monthly_percentages[5] - 100.0 / 12.0) < 1e-12);
    const struct config_pattern *b = config_pattern_find(config, "b");
    cr_expect(fabs(b->raw_sum - 100.1) < 1e-9, "within 0.5 of 100: no warning");
    cr_expect(fabs(b->monthly_percentages[0] - 8.4 * 100.0 / 100.1) < 1e-12);
    double sum = 0;
    for (size_t m = 0; m < 12; m++)
        sum += b->monthly_percentages[m];
    cr_expect(fabs(sum - 100.0) < 1e-9);
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(patterns, exactly_twelve_non_negative_numbers)
{
    TEST_EXPECT_ONLY_ERROR("", NULL,
                           "patterns:\n  a:\n    monthly_percentages: [1, 2, 3, 4, 5, 6, 7, 8, 9, "
                           "10, 11]\n",
                           "seasonal_patterns.yaml:3:26: patterns.a.monthly_percentages: has 11 "
                           "values; expected 12 (January to December)");
    TEST_EXPECT_ONLY_ERROR("", NULL,
                           "patterns:\n  a:\n    monthly_percentages: [1, 2, 3, 4, 5, 6, 7, 8, 9, "
                           "10, 11, 12, 13]\n",
                           "seasonal_patterns.yaml:3:26: patterns.a.monthly_percentages: has 13 "
                           "values; expected 12 (January to December)");
    TEST_EXPECT_ONLY_ERROR("", NULL,
                           "patterns:\n  a:\n    monthly_percentages: [10, -2, 10, 10, 10, 10, 10, "
                           "10, 10, 10, 10, 12]\n",
                           "seasonal_patterns.yaml:3:31: patterns.a.monthly_percentages[1]: \"-2\" "
                           "is less than 0");
    TEST_EXPECT_ONLY_ERROR("", NULL,
                           "patterns:\n  a:\n    monthly_percentages: [10, ten, 10, 10, 10, 10, "
                           "10, 10, 10, 10, 10, 0]\n",
                           "seasonal_patterns.yaml:3:31: patterns.a.monthly_percentages[1]: "
                           "\"ten\" is not a number");
    TEST_EXPECT_ONLY_ERROR("", NULL,
                           "patterns:\n  a:\n    monthly_percentages: [0, 0, 0, 0, 0, 0, 0, 0, 0, "
                           "0, 0, 0]\n",
                           "seasonal_patterns.yaml:3:26: patterns.a.monthly_percentages: sums to "
                           "0; at least one month needs a share");
    TEST_EXPECT_ONLY_ERROR("", NULL, "patterns:\n  a:\n    description: x\n",
                           "seasonal_patterns.yaml:3:5: patterns.a.monthly_percentages: missing; "
                           "expected a sequence");
    TEST_EXPECT_ONLY_ERROR("", NULL, "patterns:\n  a:\n    monthly_percentages: 100\n",
                           "seasonal_patterns.yaml:3:26: patterns.a.monthly_percentages: found "
                           "\"100\"; expected a sequence");
    TEST_EXPECT_ONLY_ERROR("", NULL, "patterns: [a, b]\n",
                           "seasonal_patterns.yaml:1:11: patterns: found a sequence; expected a "
                           "mapping");
    TEST_EXPECT_ONLY_ERROR("", NULL,
                           "patterns:\n  a: {monthly_percentages: [9, 9, 9, 9, 8, 8, 8, 8, 8, 8, "
                           "8, 8], descripton: x}\n",
                           "seasonal_patterns.yaml:2:66: patterns.a.descripton: unknown key; did "
                           "you mean \"description\"?");
}

Test(patterns, patterns_of_unknown_meters_warn_when_meters_are_configured)
{
    const char *patterns = "patterns:\n  ghost: {monthly_percentages: [10, 10, 10, 10, 5, 5, 5, "
                           "5, 10, 10, 10, 10]}\n";
    struct config_diagnostics diagnostics = {0};
    struct config *config = load_patterns(NULL, patterns, &diagnostics);
    cr_expect_eq(diagnostics.warning_count, 0, "no meters: any id may come from the data");
    config_free(config);
    config_diagnostics_free(&diagnostics);
    config = load_patterns("meters:\n- {meter_id: real, type: physical, output_unit: kWh, "
                           "installation_date: '2024-01-01'}\n",
                           patterns, &diagnostics);
    cr_assert_eq(diagnostics.warning_count, 1);
    cr_expect_str_eq(diagnostics.warnings[0], "seasonal_patterns.yaml:2:10: patterns.ghost: no "
                                              "meter \"ghost\" in the meters file; the pattern is "
                                              "not used");
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(patterns, anchors_and_merged_duplicates)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = load_patterns(
        NULL,
        "patterns:\n  a: &p\n    monthly_percentages: [9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 8]\n"
        "  b: *p\n",
        &diagnostics);
    cr_assert_eq(config->pattern_count, 2);
    cr_expect_str_eq(config->patterns[1].meter_id, "b");
    cr_expect_eq(config->patterns[1].monthly_percentages[0], 9.0);
    cr_expect_eq(config->patterns[1].monthly_percentages[11], 8.0);
    config_free(config);
    config_diagnostics_free(&diagnostics);
    TEST_EXPECT_ONLY_ERROR(
        "", NULL,
        "patterns:\n  a: {monthly_percentages: [9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 8, "
        "8]}\n  a: {monthly_percentages: [9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 8]}\n",
        "seasonal_patterns.yaml:3:3: patterns.a: duplicate key");
}
