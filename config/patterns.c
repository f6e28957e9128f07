/* seasonal_patterns.yaml: per meter twelve monthly percentages, normalised to sum 100. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/config_values.h"

#define PATTERNS_MONTHS 12
#define PATTERNS_SUM_TOLERANCE 0.5

static const struct config_key patterns_month_keys[] = {
    {"percentage", CONFIG_KIND_NUMBER, .offset = 0, .flags = CONFIG_KEY_REQUIRED},
};
static const struct config_table patterns_month_table = {.keys = patterns_month_keys,
                                                         .key_count = 1,
                                                         .object_size = sizeof(double),
                                                         .scalar_items = true};

/* Exactly 12 values; the sum is kept as written and the values scaled to 100. */
static void patterns_pattern_validate(struct config_loader *loader, void *object,
                                      const yaml_node_t *node, const char *path)
{
    struct config_pattern *pattern = object;
    char child[CONFIG_PATH_SIZE];
    config_path_child(child, sizeof child, path, "monthly_percentages");
    const yaml_node_t *values = config_node_value(loader, node, "monthly_percentages");
    if (config_node_is_null(values) || values->type != YAML_SEQUENCE_NODE)
        return; /* reported as missing or as not a sequence */
    if (pattern->month_count != PATTERNS_MONTHS) {
        config_report(loader, CONFIG_SEVERITY_ERROR, values ? values : node, child,
                      "has %zu values; expected 12 (January to December)", pattern->month_count);
        return;
    }
    double sum = 0;
    for (size_t m = 0; m < PATTERNS_MONTHS; m++) {
        pattern->raw_percentages[m] = pattern->monthly_percentages[m];
        sum += pattern->monthly_percentages[m];
    }
    pattern->raw_sum = sum;
    if (!(sum > 0)) {
        config_report(loader, CONFIG_SEVERITY_ERROR, values, child,
                      "sums to 0; at least one month needs a share");
        return;
    }
    if (fabs(sum - 100.0) > PATTERNS_SUM_TOLERANCE)
        config_report(loader, CONFIG_SEVERITY_WARNING, values, child,
                      "sums to %g, not 100; the values are scaled to sum to 100", sum);
    if (fabs(sum - 100.0) < 1e-9)
        return; /* already normalised: scaling would only add rounding noise */
    for (size_t m = 0; m < PATTERNS_MONTHS; m++)
        pattern->monthly_percentages[m] = pattern->monthly_percentages[m] * 100.0 / sum;
}

static const struct config_key patterns_pattern_keys[] = {
    {"monthly_percentages", CONFIG_KIND_LIST, offsetof(struct config_pattern, monthly_percentages),
     NULL, CONFIG_KEY_REQUIRED, .table = &patterns_month_table,
     .count_offset = offsetof(struct config_pattern, month_count), .max_items = 64},
    {"description", CONFIG_KIND_STRING, offsetof(struct config_pattern, description), NULL,
     .check = config_text_check},
};
static const struct config_table patterns_pattern_table = {
    CONFIG_TABLE(patterns_pattern_keys, struct config_pattern), .named = true,
    .name_offset = offsetof(struct config_pattern, meter_id),
    .validate = patterns_pattern_validate};

static const struct config_key patterns_file_keys[] = {
    {"patterns", CONFIG_KIND_MAP, offsetof(struct config, patterns), NULL,
     .check = config_meter_id_check, .table = &patterns_pattern_table,
     .count_offset = offsetof(struct config, pattern_count), .max_items = 4096},
};
const struct config_table config_patterns_file_table = {
    CONFIG_TABLE(patterns_file_keys, struct config)};

void config_patterns_load(struct config_loader *loader, yaml_node_t *root, struct config *config)
{
    config_table_load(loader, &config_patterns_file_table, root, config, "");
}

void config_patterns_check(struct config_loader *loader, const struct config *config)
{
    if (config->meter_count == 0)
        return; /* meters are discovered from the data; any id may come */
    for (size_t i = 0; i < config->pattern_count; i++) {
        const char *meter_id = config->patterns[i].meter_id;
        if (!meter_id || config_meter_find(config, meter_id))
            continue;
        char path[CONFIG_PATH_SIZE];
        config_path_child(path, sizeof path, "patterns", meter_id);
        config_report_path(loader, CONFIG_SEVERITY_WARNING, path,
                           "no meter \"%s\" in the meters file; the pattern is not used", meter_id);
    }
}

void config_patterns_free(struct config_pattern *patterns, size_t count)
{
    config_items_free(&patterns_pattern_table, patterns, count);
}

int config_patterns_emit(yaml_emitter_t *emitter, const struct config *config)
{
    return config_table_emit(emitter, &config_patterns_file_table, config);
}

const struct config_pattern *config_pattern_find(const struct config *config, const char *meter_id)
{
    for (size_t i = 0; i < config->pattern_count; i++)
        if (config->patterns[i].meter_id && strcmp(config->patterns[i].meter_id, meter_id) == 0)
            return &config->patterns[i];
    return NULL;
}
