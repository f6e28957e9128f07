/* meters.yaml: physical, master and virtual meters. Each type has its own key table; the checks
 * that need every meter (references, cycles, units) run after all are loaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"
#include "config/config_values.h"

#define METERS_MAX 4096

static const struct config_choice meters_type_choices[] = {{"physical", CONFIG_METER_PHYSICAL},
                                                           {"master", CONFIG_METER_MASTER},
                                                           {"virtual", CONFIG_METER_VIRTUAL},
                                                           {NULL, 0}};
static const struct config_choice meters_composition_choices[] = {
    {"single", CONFIG_COMPOSITION_SINGLE}, {"sum", CONFIG_COMPOSITION_SUM}, {NULL, 0}};
static const struct config_choice meters_calculation_choices[] = {
    {"subtraction", CONFIG_CALCULATION_SUBTRACTION}, {NULL, 0}};

#define FIELD(type, member) .offset = offsetof(type, member)

/* A list of meter ids: each item is one char *. */
static const struct config_key meters_id_keys[] = {
    {"meter_id", CONFIG_KIND_STRING, 0, NULL, CONFIG_KEY_REQUIRED, .check = config_meter_id_check},
};
static const struct config_table meters_id_table = {
    .keys = meters_id_keys, .key_count = 1, .object_size = sizeof(char *), .scalar_items = true};

static void meters_period_validate(struct config_loader *loader, void *object,
                                   const yaml_node_t *node, const char *path)
{
    const struct config_period *period = object;
    char child[CONFIG_PATH_SIZE], start[16], end[16];
    if (period->start_date != CONFIG_DATE_UNSET && period->end_date != CONFIG_DATE_UNSET &&
        period->end_date < period->start_date) {
        config_date_format(period->start_date, start, sizeof start);
        config_date_format(period->end_date, end, sizeof end);
        config_path_child(child, sizeof child, path, "end_date");
        config_report(loader, CONFIG_SEVERITY_ERROR, config_node_value(loader, node, "end_date"),
                      child, "%s is before start_date %s", end, start);
    }
    if (period->composition_type == CONFIG_COMPOSITION_SINGLE && period->source_meter_count > 1) {
        config_path_child(child, sizeof child, path, "source_meters");
        config_report(loader, CONFIG_SEVERITY_ERROR,
                      config_node_value(loader, node, "source_meters"), child,
                      "has %zu meters; composition_type single takes exactly one (use sum to add "
                      "several)",
                      period->source_meter_count);
    }
}

static const struct config_key meters_period_keys[] = {
    {"start_date", CONFIG_KIND_DATE, FIELD(struct config_period, start_date), NULL,
     CONFIG_KEY_REQUIRED},
    {"end_date", CONFIG_KIND_DATE, FIELD(struct config_period, end_date), "9999-12-31"},
    {"composition_type", CONFIG_KIND_CHOICE, FIELD(struct config_period, composition_type),
     "single", .choices = meters_composition_choices},
    {"source_meters", CONFIG_KIND_LIST, FIELD(struct config_period, source_meters), NULL,
     CONFIG_KEY_REQUIRED, .table = &meters_id_table,
     .count_offset = offsetof(struct config_period, source_meter_count), .max_items = 64},
    {"source_unit", CONFIG_KIND_STRING, FIELD(struct config_period, source_unit), NULL,
     CONFIG_KEY_NONEMPTY, .check = config_text_check},
    {"apply_offset_from_previous_period", CONFIG_KIND_BOOL,
     FIELD(struct config_period, apply_offset_from_previous_period), "false"},
};
static const struct config_table meters_period_table = {
    CONFIG_TABLE(meters_period_keys, struct config_period), .validate = meters_period_validate};

static const struct config_key meters_conversion_keys[] = {
    {"from_unit", CONFIG_KIND_STRING, FIELD(struct config_unit_conversion, from_unit), NULL,
     CONFIG_KEY_REQUIRED | CONFIG_KEY_NONEMPTY, .check = config_text_check},
    {"to_unit", CONFIG_KIND_STRING, FIELD(struct config_unit_conversion, to_unit), NULL,
     CONFIG_KEY_REQUIRED | CONFIG_KEY_NONEMPTY, .check = config_text_check},
};
static const struct config_table meters_conversion_table = {
    CONFIG_TABLE(meters_conversion_keys, struct config_unit_conversion), .named = true,
    .name_offset = offsetof(struct config_unit_conversion, meter_id)};

#define METERS_COMMON_KEYS                                                                         \
    {"meter_id", CONFIG_KIND_STRING,  FIELD(struct config_meter, meter_id),                        \
     NULL,       CONFIG_KEY_REQUIRED, .check = config_meter_id_check},                             \
        {"type", CONFIG_KIND_CHOICE,  FIELD(struct config_meter, type),                            \
         NULL,   CONFIG_KEY_REQUIRED, .choices = meters_type_choices},                             \
        {"output_unit",                                                                            \
         CONFIG_KIND_STRING,                                                                       \
         FIELD(struct config_meter, output_unit),                                                  \
         NULL,                                                                                     \
         CONFIG_KEY_REQUIRED | CONFIG_KEY_NONEMPTY,                                                \
         .check = config_text_check},                                                              \
    {                                                                                              \
        "description", CONFIG_KIND_STRING, FIELD(struct config_meter, description), NULL,          \
            .check = config_text_check                                                             \
    }

#define METERS_PHYSICAL_KEYS                                                                       \
    {"installation_date", CONFIG_KIND_DATE, FIELD(struct config_meter, installation_date)},        \
    {                                                                                              \
        "deinstallation_date", CONFIG_KIND_DATE, FIELD(struct config_meter, deinstallation_date)   \
    }

/* required: CONFIG_KEY_REQUIRED, or 0 in the table for meters of unknown type. */
#define METERS_MASTER_KEYS(required)                                                               \
    {                                                                                              \
        "periods", CONFIG_KIND_LIST, FIELD(struct config_meter, periods), NULL, (required),        \
            .table = &meters_period_table,                                                         \
            .count_offset = offsetof(struct config_meter, period_count), .max_items = 64           \
    }

#define METERS_VIRTUAL_KEYS(required)                                                              \
    {"calculation_type", CONFIG_KIND_CHOICE, FIELD(struct config_meter, calculation_type),         \
     "subtraction", .choices = meters_calculation_choices},                                        \
        {"base_meter", CONFIG_KIND_STRING, FIELD(struct config_meter, base_meter),                 \
         NULL,         (required),         .check = config_meter_id_check},                        \
        {"subtract_meters",                                                                        \
         CONFIG_KIND_LIST,                                                                         \
         FIELD(struct config_meter, subtract_meters),                                              \
         NULL,                                                                                     \
         .table = &meters_id_table,                                                                \
         .count_offset = offsetof(struct config_meter, subtract_meter_count),                      \
         .max_items = 64},                                                                         \
    {                                                                                              \
        "subtract_meter_conversions", CONFIG_KIND_MAP, FIELD(struct config_meter, conversions),    \
            NULL, .check = config_meter_id_check, .table = &meters_conversion_table,               \
                  .count_offset = offsetof(struct config_meter, conversion_count), .max_items = 64 \
    }

static const struct config_key meters_physical_keys[] = {METERS_COMMON_KEYS, METERS_PHYSICAL_KEYS};
static const struct config_key meters_master_keys[] = {METERS_COMMON_KEYS,
                                                       METERS_MASTER_KEYS(CONFIG_KEY_REQUIRED)};
static const struct config_key meters_virtual_keys[] = {METERS_COMMON_KEYS,
                                                        METERS_VIRTUAL_KEYS(CONFIG_KEY_REQUIRED)};
/* For a meter whose type is missing or wrong: every key is known, so only the type is reported. */
static const struct config_key meters_any_keys[] = {METERS_COMMON_KEYS, METERS_PHYSICAL_KEYS,
                                                    METERS_MASTER_KEYS(0), METERS_VIRTUAL_KEYS(0)};

static const char *meters_type_name(enum config_meter_type type)
{
    return meters_type_choices[type].name;
}

static const struct config_key *meters_key_find(const struct config_key *keys, size_t count,
                                                const char *name, size_t length)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(keys[i].name) == length && memcmp(keys[i].name, name, length) == 0)
            return &keys[i];
    return NULL;
}

/* "periods: not a key of physical meters (only of master meters)". */
static bool meters_unknown_explain(struct config_loader *loader, enum config_meter_type type,
                                   const char *key, size_t length, const yaml_node_t *key_node,
                                   const char *path)
{
    static const struct {
        const struct config_key *keys;
        size_t count;
        enum config_meter_type type;
    } variants[] = {
        {meters_physical_keys, sizeof meters_physical_keys / sizeof meters_physical_keys[0],
         CONFIG_METER_PHYSICAL},
        {meters_master_keys, sizeof meters_master_keys / sizeof meters_master_keys[0],
         CONFIG_METER_MASTER},
        {meters_virtual_keys, sizeof meters_virtual_keys / sizeof meters_virtual_keys[0],
         CONFIG_METER_VIRTUAL},
    };
    for (size_t i = 0; i < 3; i++) {
        const struct config_key *found =
            meters_key_find(variants[i].keys, variants[i].count, key, length);
        if (!found || variants[i].type == type)
            continue;
        char child[CONFIG_PATH_SIZE];
        config_path_child(child, sizeof child, path, found->name);
        config_report(loader, CONFIG_SEVERITY_ERROR, key_node, child,
                      "not a key of %s meters (only of %s meters)", meters_type_name(type),
                      meters_type_name(variants[i].type));
        return true;
    }
    return false;
}

static bool meters_physical_explain(struct config_loader *loader, const char *key, size_t length,
                                    const yaml_node_t *key_node, const char *path)
{
    return meters_unknown_explain(loader, CONFIG_METER_PHYSICAL, key, length, key_node, path);
}

static bool meters_master_explain(struct config_loader *loader, const char *key, size_t length,
                                  const yaml_node_t *key_node, const char *path)
{
    return meters_unknown_explain(loader, CONFIG_METER_MASTER, key, length, key_node, path);
}

static bool meters_virtual_explain(struct config_loader *loader, const char *key, size_t length,
                                   const yaml_node_t *key_node, const char *path)
{
    return meters_unknown_explain(loader, CONFIG_METER_VIRTUAL, key, length, key_node, path);
}

static void meters_physical_validate(struct config_loader *loader, void *object,
                                     const yaml_node_t *node, const char *path)
{
    const struct config_meter *meter = object;
    if (meter->installation_date == CONFIG_DATE_UNSET) {
        config_report(loader, CONFIG_SEVERITY_WARNING, node, path,
                      "no installation_date; the meter starts at its first reading");
    } else if (meter->deinstallation_date != CONFIG_DATE_UNSET &&
               meter->deinstallation_date < meter->installation_date) {
        char child[CONFIG_PATH_SIZE], installed[16], removed[16];
        config_path_child(child, sizeof child, path, "deinstallation_date");
        config_date_format(meter->installation_date, installed, sizeof installed);
        config_date_format(meter->deinstallation_date, removed, sizeof removed);
        config_report(loader, CONFIG_SEVERITY_ERROR,
                      config_node_value(loader, node, "deinstallation_date"), child,
                      "%s is before installation_date %s", removed, installed);
    }
}

/* Periods must not overlap: each starts after the previous one (by start date) ended. */
static void meters_master_validate(struct config_loader *loader, void *object,
                                   const yaml_node_t *node, const char *path)
{
    struct config_meter *meter = object;
    for (size_t i = 0; i < meter->period_count; i++) {
        struct config_period *period = &meter->periods[i];
        if (!period->source_unit && meter->output_unit) {
            period->source_unit = strdup(meter->output_unit);
            if (!period->source_unit)
                config_report_out_of_memory(loader);
        }
    }
    const yaml_node_t *periods = config_node_value(loader, node, "periods");
    for (size_t i = 0; i < meter->period_count; i++) {
        const struct config_period *later = &meter->periods[i];
        for (size_t j = 0; j < meter->period_count; j++) {
            const struct config_period *earlier = &meter->periods[j];
            if (i == j || earlier->start_date == CONFIG_DATE_UNSET ||
                later->start_date == CONFIG_DATE_UNSET || earlier->start_date > later->start_date ||
                (earlier->start_date == later->start_date && j > i) ||
                earlier->end_date < later->start_date || later->end_date < later->start_date ||
                earlier->end_date < earlier->start_date)
                continue;
            char child[CONFIG_PATH_SIZE], text[4][16];
            snprintf(child, sizeof child, "%s.periods[%zu]", path, i);
            config_date_format(later->start_date, text[0], sizeof text[0]);
            config_date_format(later->end_date, text[1], sizeof text[1]);
            config_date_format(earlier->start_date, text[2], sizeof text[2]);
            config_date_format(earlier->end_date, text[3], sizeof text[3]);
            const yaml_node_t *period_node =
                periods && periods->type == YAML_SEQUENCE_NODE &&
                        (size_t)(periods->data.sequence.items.top -
                                 periods->data.sequence.items.start) > i
                    ? yaml_document_get_node(loader->document,
                                             periods->data.sequence.items.start[i])
                    : node;
            config_report(loader, CONFIG_SEVERITY_ERROR, period_node, child,
                          "%s..%s overlaps periods[%zu] (%s..%s); each day belongs to one period",
                          text[0], text[1], j, text[2], text[3]);
            break;
        }
    }
}

static void meters_virtual_validate(struct config_loader *loader, void *object,
                                    const yaml_node_t *node, const char *path)
{
    const struct config_meter *meter = object;
    const yaml_node_t *conversions = config_node_value(loader, node, "subtract_meter_conversions");
    for (size_t i = 0; i < meter->conversion_count; i++) {
        const char *id = meter->conversions[i].meter_id;
        bool listed = false;
        for (size_t j = 0; j < meter->subtract_meter_count && !listed; j++)
            listed = meter->subtract_meters[j] && strcmp(meter->subtract_meters[j], id) == 0;
        if (listed)
            continue;
        char child[CONFIG_PATH_SIZE];
        snprintf(child, sizeof child, "%s.subtract_meter_conversions.%s", path, id);
        const yaml_node_t *where = conversions;
        if (conversions && conversions->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *pair = conversions->data.mapping.pairs.start;
                 pair < conversions->data.mapping.pairs.top; pair++) {
                yaml_node_t *key = yaml_document_get_node(loader->document, pair->key);
                if (key && key->type == YAML_SCALAR_NODE &&
                    strcmp((const char *)key->data.scalar.value, id) == 0)
                    where = key;
            }
        config_report(loader, CONFIG_SEVERITY_ERROR, where ? where : node, child,
                      "\"%s\" is not one of subtract_meters", id);
    }
}

static const struct config_table meters_physical_table = {
    CONFIG_TABLE(meters_physical_keys, struct config_meter), .validate = meters_physical_validate,
    .explain_unknown = meters_physical_explain};
static const struct config_table meters_master_table = {
    CONFIG_TABLE(meters_master_keys, struct config_meter), .validate = meters_master_validate,
    .explain_unknown = meters_master_explain};
static const struct config_table meters_virtual_table = {
    CONFIG_TABLE(meters_virtual_keys, struct config_meter), .validate = meters_virtual_validate,
    .explain_unknown = meters_virtual_explain};
static const struct config_table meters_any_table = {
    CONFIG_TABLE(meters_any_keys, struct config_meter)};

static const struct config_table *meters_table_of(enum config_meter_type type)
{
    switch (type) {
    case CONFIG_METER_MASTER:
        return &meters_master_table;
    case CONFIG_METER_VIRTUAL:
        return &meters_virtual_table;
    default:
        return &meters_physical_table;
    }
}

/* The table for a meter mapping: by its type, or the one that knows every key when the type is
 * missing or wrong (then loading reports the type). */
static const struct config_table *meters_table_select(const struct config_loader *loader,
                                                      const yaml_node_t *node)
{
    const yaml_node_t *type = config_node_value(loader, node, "type");
    if (!type || type->type != YAML_SCALAR_NODE)
        return &meters_any_table;
    for (const struct config_choice *choice = meters_type_choices; choice->name; choice++)
        if (strlen(choice->name) == type->data.scalar.length &&
            strncasecmp(choice->name, (const char *)type->data.scalar.value,
                        type->data.scalar.length) == 0)
            return meters_table_of((enum config_meter_type)choice->value);
    return &meters_any_table;
}

static void meters_list_load(struct config_loader *loader, yaml_node_t *node, void *object,
                             const char *path)
{
    struct config *config = object;
    if (!node)
        return;
    if (node->type != YAML_SEQUENCE_NODE) {
        char found[64];
        config_node_describe(node, found, sizeof found);
        config_report(loader, CONFIG_SEVERITY_ERROR, node, path,
                      "found %s; expected a sequence of meters (- meter_id: ...)", found);
        return;
    }
    size_t count = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (count > METERS_MAX) {
        config_report(loader, CONFIG_SEVERITY_ERROR, node, path,
                      "has %zu meters; at most %d are allowed", count, METERS_MAX);
        count = METERS_MAX;
    }
    if (count == 0)
        return;
    config->meters = calloc(count, sizeof *config->meters);
    if (!config->meters) {
        config_report_out_of_memory(loader);
        return;
    }
    config->meter_count = count;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item =
            yaml_document_get_node(loader->document, node->data.sequence.items.start[i]);
        char child[CONFIG_PATH_SIZE];
        config_path_index(child, sizeof child, path, i);
        config_table_load(loader, meters_table_select(loader, item), item, &config->meters[i],
                          child);
    }
}

static int meters_list_emit(yaml_emitter_t *emitter, const void *object)
{
    const struct config *config = object;
    if (config_emit_sequence_start(emitter, config->meter_count == 0) != 0)
        return -1;
    for (size_t i = 0; i < config->meter_count; i++)
        if (config_table_emit(emitter, meters_table_of(config->meters[i].type),
                              &config->meters[i]) != 0)
            return -1;
    return config_emit_sequence_end(emitter);
}

void config_meters_free(struct config_meter *meters, size_t count)
{
    for (size_t i = 0; meters && i < count; i++)
        config_table_free(&meters_any_table, &meters[i]);
    free(meters);
}

static void meters_list_free(void *object)
{
    struct config *config = object;
    config_meters_free(config->meters, config->meter_count);
    config->meters = NULL;
    config->meter_count = 0;
}

static const struct config_hook meters_list_hook = {
    .load = meters_list_load, .emit = meters_list_emit, .free = meters_list_free};

static const struct config_key meters_file_keys[] = {
    {"meters", CONFIG_KIND_HOOK, .hook = &meters_list_hook},
};
const struct config_table config_meters_file_table = {
    CONFIG_TABLE(meters_file_keys, struct config)};

void config_meters_load(struct config_loader *loader, yaml_node_t *root, struct config *config)
{
    config_table_load(loader, &config_meters_file_table, root, config, "");
}

int config_meters_emit(yaml_emitter_t *emitter, const struct config *config)
{
    return config_table_emit(emitter, &config_meters_file_table, config);
}

const struct config_meter *config_meter_find(const struct config *config, const char *meter_id)
{
    for (size_t i = 0; i < config->meter_count; i++)
        if (config->meters[i].meter_id && strcmp(config->meters[i].meter_id, meter_id) == 0)
            return &config->meters[i];
    return NULL;
}
