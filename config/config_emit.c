/* Printing by table through libyaml's emitter: every key with its effective value, in the syntax
 * the loader reads back. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"
#include "config/tz.h"
#include "config/units.h"

static int config_emit_event(yaml_emitter_t *emitter, yaml_event_t *event, int initialized)
{
    if (!initialized)
        return -1;
    return yaml_emitter_emit(emitter, event) ? 0 : -1;
}

static int config_emit_scalar(yaml_emitter_t *emitter, const char *text, yaml_scalar_style_t style)
{
    yaml_event_t event;
    int initialized = yaml_scalar_event_initialize(&event, NULL, NULL, (yaml_char_t *)text,
                                                   (int)strlen(text), 1, 1, style);
    return config_emit_event(emitter, &event, initialized);
}

int config_emit_plain(yaml_emitter_t *emitter, const char *text)
{
    return config_emit_scalar(emitter, text, YAML_PLAIN_SCALAR_STYLE);
}

/* Whether a plain scalar with this text would be read as something other than a string by YAML
 * tools (null, a boolean, a number, a date), so it must be quoted to stay a string. */
static bool config_text_looks_typed(const char *text)
{
    static const char *const words[] = {"",   "~",   "null", "true", "false", "yes", "no",
                                        "on", "off", "y",    "n",    ".inf",  ".nan"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasecmp(text, words[i]) == 0)
            return true;
    const char *position = text;
    if (*position == '-' || *position == '+' || *position == '.')
        position++;
    return isdigit((unsigned char)*position) != 0;
}

int config_emit_string(yaml_emitter_t *emitter, const char *text, bool force_quotes)
{
    bool quote = force_quotes || config_text_looks_typed(text);
    return config_emit_scalar(emitter, text,
                              quote ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

int config_emit_mapping_start(yaml_emitter_t *emitter, bool flow)
{
    yaml_event_t event;
    int initialized = yaml_mapping_start_event_initialize(
        &event, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
    return config_emit_event(emitter, &event, initialized);
}

int config_emit_mapping_end(yaml_emitter_t *emitter)
{
    yaml_event_t event;
    return config_emit_event(emitter, &event, yaml_mapping_end_event_initialize(&event));
}

int config_emit_sequence_start(yaml_emitter_t *emitter, bool flow)
{
    yaml_event_t event;
    int initialized = yaml_sequence_start_event_initialize(
        &event, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
    return config_emit_event(emitter, &event, initialized);
}

int config_emit_sequence_end(yaml_emitter_t *emitter)
{
    yaml_event_t event;
    return config_emit_event(emitter, &event, yaml_sequence_end_event_initialize(&event));
}

void config_number_format(double value, char *out, size_t out_size)
{
    /* The shortest text that reads back as the same double; fixed-point where that is readable,
     * always with a '.' or an exponent so a reader sees a number with a fraction. */
    double magnitude = fabs(value);
    bool fixed = magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e15);
    for (int precision = fixed ? 0 : 1; precision <= 17; precision++) {
        if (fixed)
            snprintf(out, out_size, "%.*f", precision, value);
        else
            snprintf(out, out_size, "%.*g", precision, value);
        if (strtod(out, NULL) == value)
            break;
    }
    if (isfinite(value) && !strpbrk(out, ".e") && strlen(out) + 3 < out_size)
        strcat(out, ".0");
}

void config_date_format(int64_t days, char *out, size_t out_size)
{
    int year, month, day;
    tz_civil_from_days(days, &year, &month, &day);
    snprintf(out, out_size, "%04d-%02d-%02d", year, month, day);
}

static int config_value_emit(yaml_emitter_t *emitter, const struct config_key *key,
                             const void *object);

static int config_item_emit(yaml_emitter_t *emitter, const struct config_table *table,
                            const void *item)
{
    if (table->scalar_items)
        return config_value_emit(emitter, &table->keys[0], item);
    return config_table_emit(emitter, table, item);
}

static int config_items_emit(yaml_emitter_t *emitter, const struct config_key *key,
                             const void *object)
{
    const char *items;
    size_t count;
    memcpy(&items, (const char *)object + key->offset, sizeof items);
    memcpy(&count, (const char *)object + key->count_offset, sizeof count);
    const struct config_table *table = key->table;
    bool is_map = key->kind == CONFIG_KIND_MAP;
    int status = is_map ? config_emit_mapping_start(emitter, count == 0)
                        : config_emit_sequence_start(emitter, count == 0);
    for (size_t i = 0; status == 0 && i < count; i++) {
        const char *item = items + i * table->object_size;
        if (is_map) {
            const char *name;
            memcpy(&name, item + table->name_offset, sizeof name);
            status = config_emit_string(emitter, name ? name : "", false);
        }
        if (status == 0)
            status = config_item_emit(emitter, table, item);
    }
    if (status != 0)
        return status;
    return is_map ? config_emit_mapping_end(emitter) : config_emit_sequence_end(emitter);
}

static int config_value_emit(yaml_emitter_t *emitter, const struct config_key *key,
                             const void *object)
{
    const void *field = (const char *)object + key->offset;
    char text[128];
    bool quoted = (key->flags & CONFIG_KEY_QUOTED) != 0;
    switch (key->kind) {
    case CONFIG_KIND_STRING:
    case CONFIG_KIND_PATH: {
        const char *value;
        memcpy(&value, field, sizeof value);
        if (!value)
            return config_emit_plain(emitter, "null");
        return config_emit_string(emitter, value, quoted);
    }
    case CONFIG_KIND_BOOL:
        return config_emit_plain(emitter, *(const bool *)field ? "true" : "false");
    case CONFIG_KIND_INTEGER: {
        int value;
        memcpy(&value, field, sizeof value);
        snprintf(text, sizeof text, "%d", value);
        return config_emit_plain(emitter, text);
    }
    case CONFIG_KIND_NUMBER: {
        double value;
        memcpy(&value, field, sizeof value);
        config_number_format(value, text, sizeof text);
        return config_emit_plain(emitter, text);
    }
    case CONFIG_KIND_SIZE: {
        uint64_t value;
        memcpy(&value, field, sizeof value);
        units_size_format(value, text, sizeof text);
        return config_emit_plain(emitter, text);
    }
    case CONFIG_KIND_DURATION: {
        int64_t value;
        memcpy(&value, field, sizeof value);
        units_duration_format(value * key->storage_unit_ns, text, sizeof text);
        return config_emit_plain(emitter, text);
    }
    case CONFIG_KIND_CHOICE: {
        int value;
        memcpy(&value, field, sizeof value);
        for (const struct config_choice *choice = key->choices; choice->name; choice++)
            if (choice->value == value)
                return config_emit_plain(emitter, choice->name);
        return config_emit_plain(emitter, "null");
    }
    case CONFIG_KIND_DATE: {
        int64_t days;
        memcpy(&days, field, sizeof days);
        if (days == CONFIG_DATE_UNSET)
            return config_emit_plain(emitter, "null");
        config_date_format(days, text, sizeof text);
        return config_emit_string(emitter, text, true);
    }
    case CONFIG_KIND_SCALAR: {
        char scalar[CONFIG_SCALAR_TEXT_MAX + 64]; /* a schedule's text, a listen host */
        key->scalar_type->format(field, scalar, sizeof scalar);
        return config_emit_string(emitter, scalar, quoted);
    }
    case CONFIG_KIND_SECTION:
        return config_table_emit(emitter, key->table, field);
    case CONFIG_KIND_LIST:
    case CONFIG_KIND_MAP:
        return config_items_emit(emitter, key, object);
    case CONFIG_KIND_HOOK:
        return key->hook->emit(emitter, object);
    }
    return -1;
}

int config_table_emit(yaml_emitter_t *emitter, const struct config_table *table, const void *object)
{
    if (config_emit_mapping_start(emitter, table->key_count == 0) != 0)
        return -1;
    for (size_t i = 0; i < table->key_count; i++) {
        if (config_emit_plain(emitter, table->keys[i].name) != 0 ||
            config_value_emit(emitter, &table->keys[i], object) != 0)
            return -1;
    }
    return config_emit_mapping_end(emitter);
}
