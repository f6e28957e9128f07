#include "stream/reading_match.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

struct rule_tag {
    char *key;
    size_t key_length;
    char *value;
    size_t value_length;
};

struct rule {
    char *measurement; /* NULL: any ("*") */
    struct rule_tag *tags;
    size_t tag_count;
    char *id_tag;
    size_t id_tag_length;
    char *field;
    size_t field_length;
};

struct stream_reading_rules {
    struct rule *rules;
    size_t count;
};

void stream_reading_rules_free(struct stream_reading_rules *rules)
{
    if (!rules)
        return;
    for (size_t i = 0; i < rules->count; i++) {
        struct rule *rule = &rules->rules[i];
        free(rule->measurement);
        for (size_t j = 0; j < rule->tag_count; j++) {
            free(rule->tags[j].key);
            free(rule->tags[j].value);
        }
        free(rule->tags);
        free(rule->id_tag);
        free(rule->field);
    }
    free(rules->rules);
    free(rules);
}

static char *text_copy(const char *text, size_t *length)
{
    *length = strlen(text);
    return strdup(text);
}

struct stream_reading_rules *stream_reading_rules_create(const struct config_stream *config)
{
    struct stream_reading_rules *rules = calloc(1, sizeof *rules);
    if (!rules)
        return NULL;
    rules->rules = calloc(config->reading_count ? config->reading_count : 1, sizeof *rules->rules);
    if (!rules->rules)
        goto failure;
    for (size_t i = 0; i < config->reading_count; i++) {
        const struct config_reading_rule *source = &config->readings[i];
        struct rule *rule = &rules->rules[i];
        rules->count++;
        if (source->measurement && strcmp(source->measurement, "*") != 0 &&
            !(rule->measurement = strdup(source->measurement)))
            goto failure;
        if (source->tag_count && !(rule->tags = calloc(source->tag_count, sizeof *rule->tags)))
            goto failure;
        for (size_t j = 0; j < source->tag_count; j++) {
            rule->tag_count++;
            rule->tags[j].key = text_copy(source->tags[j].key, &rule->tags[j].key_length);
            rule->tags[j].value = text_copy(source->tags[j].value, &rule->tags[j].value_length);
            if (!rule->tags[j].key || !rule->tags[j].value)
                goto failure;
        }
        rule->id_tag = text_copy(source->id_tag, &rule->id_tag_length);
        rule->field = text_copy(source->field, &rule->field_length);
        if (!rule->id_tag || !rule->field)
            goto failure;
    }
    return rules;
failure:
    stream_reading_rules_free(rules);
    return NULL;
}

/* Unescapes slice into scratch (cleared first) unless it holds no escape. Returns the text to
 * compare, or NULL when out of memory. */
static const char *slice_unescaped(enum lineproto_element element, struct lineproto_slice slice,
                                   bool escaped, struct buffer *scratch, size_t *length)
{
    if (!escaped) {
        *length = slice.length;
        return slice.data;
    }
    buffer_clear(scratch);
    if (buffer_reserve(scratch, slice.length + 1) != 0)
        return NULL;
    *length = lineproto_unescape(element, slice, scratch->data);
    return scratch->data;
}

static bool slice_equals(enum lineproto_element element, struct lineproto_slice slice, bool escaped,
                         const char *text, size_t text_length, struct buffer *scratch)
{
    size_t length;
    const char *unescaped = slice_unescaped(element, slice, escaped, scratch, &length);
    return unescaped && length == text_length && memcmp(unescaped, text, length) == 0;
}

static bool measurement_matches(const struct rule *rule, const struct lineproto_point *point,
                                struct buffer *scratch)
{
    if (!rule->measurement)
        return true;
    buffer_clear(scratch);
    if (buffer_reserve(scratch, point->measurement.length + 1) != 0)
        return false;
    size_t length =
        point->measurement_escaped
            ? lineproto_unescape(LINEPROTO_ELEMENT_MEASUREMENT, point->measurement, scratch->data)
            : point->measurement.length;
    if (!point->measurement_escaped)
        memcpy(scratch->data, point->measurement.data, length);
    scratch->data[length] = '\0';
    return fnmatch(rule->measurement, scratch->data, 0) == 0;
}

static const struct lineproto_tag *tag_find(const struct lineproto_point *point, const char *key,
                                            size_t key_length, struct buffer *scratch)
{
    for (size_t i = 0; i < point->tag_count; i++) {
        const struct lineproto_tag *tag = &point->tags[i];
        if (slice_equals(LINEPROTO_ELEMENT_TAG_KEY, tag->key, tag->escaped, key, key_length,
                         scratch))
            return tag;
    }
    return NULL;
}

static bool rule_tags_match(const struct rule *rule, const struct lineproto_point *point,
                            struct buffer *scratch)
{
    for (size_t i = 0; i < rule->tag_count; i++) {
        const struct lineproto_tag *tag =
            tag_find(point, rule->tags[i].key, rule->tags[i].key_length, scratch);
        if (!tag || !slice_equals(LINEPROTO_ELEMENT_TAG_VALUE, tag->value, tag->escaped,
                                  rule->tags[i].value, rule->tags[i].value_length, scratch))
            return false;
    }
    return true;
}

/* The last field named key: InfluxDB keeps the last of duplicate fields. */
static const struct lineproto_field *field_find(const struct lineproto_point *point,
                                                const char *key, size_t key_length,
                                                struct buffer *scratch)
{
    for (size_t i = point->field_count; i-- > 0;) {
        const struct lineproto_field *field = &point->fields[i];
        if (slice_equals(LINEPROTO_ELEMENT_FIELD_KEY, field->key, field->key_escaped, key,
                         key_length, scratch))
            return field;
    }
    return NULL;
}

static bool field_number(const struct lineproto_field *field, double *value)
{
    switch (field->type) {
    case LINEPROTO_VALUE_FLOAT:
        return lineproto_field_float(field, value) == 0;
    case LINEPROTO_VALUE_INTEGER:
        *value = (double)field->as.integer;
        return true;
    case LINEPROTO_VALUE_UNSIGNED:
        *value = (double)field->as.unsigned_integer;
        return true;
    case LINEPROTO_VALUE_STRING:
    case LINEPROTO_VALUE_BOOLEAN:
        break;
    }
    return false;
}

bool stream_reading_match(const struct stream_reading_rules *rules,
                          const struct lineproto_point *point, struct buffer *scratch,
                          struct stream_reading *reading, enum stream_reading_miss *miss)
{
    *miss = STREAM_READING_MISS_NONE;
    for (size_t i = 0; i < rules->count; i++) {
        const struct rule *rule = &rules->rules[i];
        if (!rule_tags_match(rule, point, scratch) || !measurement_matches(rule, point, scratch))
            continue;
        const struct lineproto_tag *id =
            tag_find(point, rule->id_tag, rule->id_tag_length, scratch);
        if (!id) {
            *miss = STREAM_READING_MISS_NO_ID;
            continue;
        }
        const struct lineproto_field *field =
            field_find(point, rule->field, rule->field_length, scratch);
        if (!field) {
            *miss = STREAM_READING_MISS_NO_FIELD;
            continue;
        }
        if (!field_number(field, &reading->value)) {
            *miss = STREAM_READING_MISS_NOT_NUMBER;
            continue;
        }
        size_t length;
        buffer_clear(scratch);
        const char *text =
            slice_unescaped(LINEPROTO_ELEMENT_TAG_VALUE, id->value, id->escaped, scratch, &length);
        if (!text)
            return false;
        reading->meter_id = text;
        reading->meter_id_length = length;
        reading->t_ns = point->time;
        *miss = STREAM_READING_MISS_NONE;
        return true;
    }
    return false;
}
