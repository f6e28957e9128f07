/* The line-protocol parser: one pass over the caller's buffer, one point (or one error) per call.
 * The grammar and every rule are described in relay/lineproto.h. */
#include "relay/lineproto.h"
#include "relay/lineproto_internal.h"

#include <stdlib.h>

/* clang-format off */
#define LINEPROTO_CLASS_OF(c) ((uint8_t)( \
    (((c) == ',' || (c) == ' ' || (c) == '\\' || (c) < 0x20 || (c) >= 0x7F) \
        ? LINEPROTO_CLASS_MEASUREMENT_STOP : 0) | \
    (((c) == ',' || (c) == ' ' || (c) == '\\' || (c) == '=' || (c) < 0x20 || (c) >= 0x7F) \
        ? LINEPROTO_CLASS_KEY_STOP : 0) | \
    (((c) == '"' || (c) == '\\' || (c) == '\n' || (c) >= 0x80) ? LINEPROTO_CLASS_STRING_STOP : 0) | \
    (((c) == ',' || (c) == ' ' || (c) == '\r' || (c) == '\n') ? LINEPROTO_CLASS_VALUE_END : 0) | \
    (((c) < 0x20 || (c) == 0x7F) ? LINEPROTO_CLASS_CONTROL : 0) | \
    (((c) == ' ' || (c) == '\r' || (c) == '\n' || (c) == '#') ? LINEPROTO_CLASS_LINE_SKIP : 0)))
#define LINEPROTO_CLASS_ROW(b) \
    LINEPROTO_CLASS_OF(b), LINEPROTO_CLASS_OF(b + 1), LINEPROTO_CLASS_OF(b + 2), \
    LINEPROTO_CLASS_OF(b + 3), LINEPROTO_CLASS_OF(b + 4), LINEPROTO_CLASS_OF(b + 5), \
    LINEPROTO_CLASS_OF(b + 6), LINEPROTO_CLASS_OF(b + 7), LINEPROTO_CLASS_OF(b + 8), \
    LINEPROTO_CLASS_OF(b + 9), LINEPROTO_CLASS_OF(b + 10), LINEPROTO_CLASS_OF(b + 11), \
    LINEPROTO_CLASS_OF(b + 12), LINEPROTO_CLASS_OF(b + 13), LINEPROTO_CLASS_OF(b + 14), \
    LINEPROTO_CLASS_OF(b + 15)
const uint8_t lineproto_byte_class[256] = {
    LINEPROTO_CLASS_ROW(0x00), LINEPROTO_CLASS_ROW(0x10), LINEPROTO_CLASS_ROW(0x20),
    LINEPROTO_CLASS_ROW(0x30), LINEPROTO_CLASS_ROW(0x40), LINEPROTO_CLASS_ROW(0x50),
    LINEPROTO_CLASS_ROW(0x60), LINEPROTO_CLASS_ROW(0x70), LINEPROTO_CLASS_ROW(0x80),
    LINEPROTO_CLASS_ROW(0x90), LINEPROTO_CLASS_ROW(0xA0), LINEPROTO_CLASS_ROW(0xB0),
    LINEPROTO_CLASS_ROW(0xC0), LINEPROTO_CLASS_ROW(0xD0), LINEPROTO_CLASS_ROW(0xE0),
    LINEPROTO_CLASS_ROW(0xF0),
};
/* clang-format on */

/* Up to this many tags (or fields), duplicates are found by comparing every pair; above, tags by
 * sorting and fields by hashing. */
#define LINEPROTO_PAIRWISE_TAG_LIMIT 12

struct lineproto_parser *lineproto_parser_create(void)
{
    struct lineproto_parser *parser = calloc(1, sizeof *parser);
    if (!parser)
        return NULL;
    parser->tag_capacity = 16;
    parser->field_capacity = 64;
    parser->tags = malloc(parser->tag_capacity * sizeof *parser->tags);
    parser->fields = malloc(parser->field_capacity * sizeof *parser->fields);
    if (!parser->tags || !parser->fields) {
        lineproto_parser_destroy(parser);
        return NULL;
    }
    lineproto_parser_start(parser, "", 0, LINEPROTO_PRECISION_NANOSECOND);
    return parser;
}

void lineproto_parser_destroy(struct lineproto_parser *parser)
{
    if (!parser)
        return;
    free(parser->tags);
    free(parser->fields);
    free(parser->sorted_keys);
    free(parser->field_slots);
    free(parser);
}

void lineproto_parser_start(struct lineproto_parser *parser, const char *data, size_t length,
                            enum lineproto_precision precision)
{
    if (!data || length == 0) { /* an empty body may come as NULL: no arithmetic on it */
        data = "";
        length = 0;
    }
    parser->cursor = data;
    parser->end = data + length;
    parser->line_number = 1;
    parser->precision = precision;
    parser->unit = lineproto_precision_nanoseconds(precision);
}

/* Doubles *capacity of the array at *items (element_size bytes each). Returns 0 or -1. */
static int lineproto_array_grow(void **items, size_t *capacity, size_t element_size)
{
    size_t grown = *capacity * 2;
    if (grown < *capacity || grown > SIZE_MAX / element_size)
        return -1;
    void *resized = realloc(*items, grown * element_size);
    if (!resized)
        return -1;
    *items = resized;
    *capacity = grown;
    return 0;
}

/* Scans a name (measurement when !key; tag key, tag value or field key when key) starting at p.
 * Returns the position of the byte that ended it (a separator, CR, LF or end) and sets *escaped
 * when it holds an escape; returns NULL and sets *bad at a control character or invalid UTF-8. */
LINEPROTO_INLINE const char *lineproto_name_take(const char *p, const char *end, bool key,
                                                 bool *escaped, const char **bad)
{
    for (;;) {
        p = lineproto_name_scan(p, end, key);
        if (p == end)
            return p;
        unsigned char c = (unsigned char)*p;
        if (c == ',' || c == ' ' || c == '=') /* '=' stops key scans only */
            return p;
        if (c == '\\') {
            if (p + 1 < end && (p[1] == ',' || p[1] == ' ' || (key && p[1] == '='))) {
                *escaped = true;
                p += 2;
            } else {
                p++; /* a backslash before anything else is a literal backslash */
            }
            continue;
        }
        if (c >= 0x80) {
            size_t length = utf8_sequence_length(p, end);
            if (length == 0)
                break;
            p += length;
            continue;
        }
        if (c == '\n' || c == '\r')
            return p;
        break; /* another control character */
    }
    *bad = p;
    return NULL;
}

static bool lineproto_is_line_end(const char *p, const char *end)
{
    return p == end || *p == '\n' || *p == '\r';
}

static bool lineproto_tag_key_reserved(struct lineproto_slice key)
{
    switch (key.length) {
    case 4:
        return memcmp(key.data, "time", 4) == 0;
    case 6:
        return memcmp(key.data, "_field", 6) == 0;
    case 12:
        return memcmp(key.data, "_measurement", 12) == 0;
    default:
        return false;
    }
}

static int lineproto_slice_compare(const void *left, const void *right)
{
    const struct lineproto_slice *a = left, *b = right;
    if (a->length != b->length)
        return a->length < b->length ? -1 : 1;
    return memcmp(a->data, b->data, a->length);
}

/* Finds a tag key that occurs twice (keys compared as written: unescaping is one-to-one).
 * Returns 1 and sets *duplicate, 0 when all differ, -1 when out of memory. */
static int lineproto_tag_duplicate_find(struct lineproto_parser *parser, size_t count,
                                        struct lineproto_slice *duplicate)
{
    const struct lineproto_tag *tags = parser->tags;
    if (count <= LINEPROTO_PAIRWISE_TAG_LIMIT) {
        for (size_t i = 1; i < count; i++)
            for (size_t j = 0; j < i; j++)
                if (tags[i].key.length == tags[j].key.length &&
                    memcmp(tags[i].key.data, tags[j].key.data, tags[i].key.length) == 0) {
                    *duplicate = tags[i].key;
                    return 1;
                }
        return 0;
    }
    while (parser->sorted_key_capacity < count) {
        size_t capacity = parser->sorted_key_capacity ? parser->sorted_key_capacity * 2 : 64;
        struct lineproto_slice *keys = realloc(parser->sorted_keys, capacity * sizeof *keys);
        if (!keys)
            return -1;
        parser->sorted_keys = keys;
        parser->sorted_key_capacity = capacity;
    }
    for (size_t i = 0; i < count; i++)
        parser->sorted_keys[i] = tags[i].key;
    qsort(parser->sorted_keys, count, sizeof *parser->sorted_keys, lineproto_slice_compare);
    for (size_t i = 1; i < count; i++)
        if (lineproto_slice_compare(&parser->sorted_keys[i - 1], &parser->sorted_keys[i]) == 0) {
            *duplicate = parser->sorted_keys[i];
            return 1;
        }
    return 0;
}

static const char *lineproto_type_name(enum lineproto_value_type type)
{
    static const char *const names[] = {"float", "integer", "unsigned integer", "string",
                                        "boolean"};
    return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "?";
}

/* A hash of a key from its length and its first and last eight bytes: enough to tell apart
 * the keys of one line (equal hashes are compared in full), without reading every byte. */
static uint64_t lineproto_key_hash(const char *data, size_t length)
{
    uint64_t head = 0, tail = 0;
    if (length >= 8) {
        memcpy(&head, data, 8);
        memcpy(&tail, data + length - 8, 8);
    } else {
        memcpy(&head, data, length);
    }
    /* MurmurHash3's finalizer: the bytes that tell keys apart are often the last ones, which
     * are the word's high bits, and the table is indexed by the low bits. */
    uint64_t hash = head ^ (tail * 0x9e3779b97f4a7c15u) ^ length;
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdu;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53u;
    return hash ^ (hash >> 33);
}

static bool lineproto_field_key_is_time(const struct lineproto_field *field)
{
    return field->key.length == 4 && memcmp(field->key.data, "time", 4) == 0;
}

/* Finds a field key written twice with different types (keys compared as written: unescaping is
 * one-to-one). InfluxDB keeps the last of duplicate fields of one type, but refuses a point with
 * two types for one field, and every other point of the same write with it. It drops fields named
 * "time" before that check, so with has_time_fields those are left out. Returns 1 and sets
 * *earlier and *later (indexes, in input order), 0 when there is none, -1 when out of memory. */
static int lineproto_field_conflict_find(struct lineproto_parser *parser, size_t count,
                                         bool has_time_fields, size_t *earlier, size_t *later)
{
    const struct lineproto_field *fields = parser->fields;
    /* Fields of one type cannot conflict: Telegraf's lines mostly, checked in one pass. */
    size_t first_other = 1;
    while (first_other < count && fields[first_other].type == fields[0].type)
        first_other++;
    if (first_other == count)
        return 0;
    if (count <= LINEPROTO_PAIRWISE_TAG_LIMIT) {
        for (size_t i = 1; i < count; i++) {
            if (has_time_fields && lineproto_field_key_is_time(&fields[i]))
                continue; /* an earlier field of the same key is a "time" field too */
            for (size_t j = 0; j < i; j++)
                if (fields[i].type != fields[j].type &&
                    fields[i].key.length == fields[j].key.length &&
                    memcmp(fields[i].key.data, fields[j].key.data, fields[i].key.length) == 0) {
                    *earlier = j;
                    *later = i;
                    return 1;
                }
        }
        return 0;
    }
    /* Wide lines: an open-addressed table of field indexes (+1; 0 is free), at most half full,
     * so each field costs one hash and a probe or two instead of a sort. */
    size_t capacity = 64;
    while (capacity < 2 * count)
        capacity *= 2;
    if (parser->field_slot_capacity < capacity) {
        uint32_t *slots = realloc(parser->field_slots, capacity * sizeof *slots);
        if (!slots)
            return -1;
        parser->field_slots = slots;
        parser->field_slot_capacity = capacity;
    }
    uint32_t *slots = parser->field_slots;
    memset(slots, 0, capacity * sizeof *slots);
    size_t mask = capacity - 1;
    for (size_t i = 0; i < count; i++) {
        if (has_time_fields && lineproto_field_key_is_time(&fields[i]))
            continue;
        const struct lineproto_slice *key = &fields[i].key;
        size_t at = (size_t)lineproto_key_hash(key->data, key->length) & mask;
        for (; slots[at] != 0; at = (at + 1) & mask) {
            size_t j = slots[at] - 1;
            if (fields[j].key.length != key->length ||
                memcmp(fields[j].key.data, key->data, key->length) != 0)
                continue;
            /* Every earlier field of this key has the type of the one kept here. */
            if (fields[j].type != fields[i].type) {
                *earlier = j;
                *later = i;
                return 1;
            }
            break;
        }
        if (slots[at] == 0)
            slots[at] = (uint32_t)(i + 1);
    }
    return 0;
}

static bool lineproto_boolean_parse(const char *p, size_t length, bool *value)
{
    switch (length) {
    case 1:
        *value = *p == 't' || *p == 'T';
        return *p == 't' || *p == 'T' || *p == 'f' || *p == 'F';
    case 4:
        *value = true;
        return memcmp(p, "true", 4) == 0 || memcmp(p, "True", 4) == 0 || memcmp(p, "TRUE", 4) == 0;
    case 5:
        *value = false;
        return memcmp(p, "false", 5) == 0 || memcmp(p, "False", 5) == 0 ||
               memcmp(p, "FALSE", 5) == 0;
    default:
        return false;
    }
}

enum lineproto_status lineproto_parser_next(struct lineproto_parser *parser,
                                            struct lineproto_point *point,
                                            struct lineproto_error *error)
{
    const char *p = parser->cursor;
    const char *const end = parser->end;
    char found[16];
    char quoted[LINEPROTO_QUOTE_SIZE];

    /* Blank lines, comment lines and leading spaces. */
    while (p < end && (lineproto_byte_class[(unsigned char)*p] & LINEPROTO_CLASS_LINE_SKIP)) {
        if (*p == ' ') {
            p++;
        } else if (*p == '\n') {
            p++;
            parser->line_number++;
        } else if (*p == '\r') {
            if (p + 1 < end && p[1] != '\n')
                break; /* a lone CR: the measurement check below reports it */
            p++;
        } else { /* '#' */
            const char *newline = memchr(p, '\n', (size_t)(end - p));
            p = newline ? newline : end;
        }
    }
    if (p == end) {
        parser->cursor = p;
        return LINEPROTO_END;
    }
    const char *const line_start = p;
    const char *bad = NULL;

    /* Measurement. */
    bool escaped = false;
    p = lineproto_name_take(p, end, false, &escaped, &bad);
    if ((!p && bad == line_start && (unsigned char)*bad < 0x80) || (p == line_start && *p == '\r'))
        return lineproto_reject(parser, error, line_start, line_start,
                                "invalid character 0x%02X at the start of the line: expected a "
                                "measurement name",
                                (unsigned char)*line_start);
    if (!p)
        return lineproto_name_reject(parser, error, line_start, "measurement", line_start, bad);
    if (p == line_start)
        return lineproto_reject(parser, error, line_start, p, "missing measurement name before %s",
                                lineproto_byte_describe(found, p, end));
    point->measurement.data = line_start;
    point->measurement.length = (size_t)(p - line_start);
    point->measurement_escaped = escaped;

    /* Tags. */
    size_t tag_count = 0;
    while (p < end && *p == ',') {
        p++;
        const char *key = p;
        escaped = false;
        p = lineproto_name_take(p, end, true, &escaped, &bad);
        if (!p)
            return lineproto_name_reject(parser, error, line_start, "tag key", key, bad);
        if (p == key) {
            if (p < end && (*p == '=' || *p == ','))
                return lineproto_reject(parser, error, line_start, p, "empty tag key before %s",
                                        lineproto_byte_describe(found, p, end));
            return lineproto_reject(parser, error, line_start, p,
                                    "expected a tag key after ',', found %s",
                                    lineproto_byte_describe(found, p, end));
        }
        if (p == end || *p != '=') {
            lineproto_quote(quoted, sizeof quoted, key, (size_t)(p - key), LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, p,
                                    "expected '=' after tag key %s, found %s", quoted,
                                    lineproto_byte_describe(found, p, end));
        }
        const char *key_end = p;
        const char *value = ++p;
        p = lineproto_name_take(p, end, true, &escaped, &bad);
        if (!p)
            return lineproto_name_reject(parser, error, line_start, "tag value", value, bad);
        if (p == value) {
            lineproto_quote(quoted, sizeof quoted, key, (size_t)(key_end - key),
                            LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, p, "missing value for tag key %s",
                                    quoted);
        }
        if (p < end && *p == '=') {
            lineproto_quote(quoted, sizeof quoted, key, (size_t)(key_end - key),
                            LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, p,
                                    "unexpected '=' in the value of tag key %s (write it as "
                                    "\\= if it belongs to the value)",
                                    quoted);
        }
        if (tag_count == parser->tag_capacity &&
            lineproto_array_grow((void **)&parser->tags, &parser->tag_capacity,
                                 sizeof *parser->tags) != 0)
            goto out_of_memory;
        struct lineproto_tag *tag = &parser->tags[tag_count++];
        tag->key.data = key;
        tag->key.length = (size_t)(key_end - key);
        tag->value.data = value;
        tag->value.length = (size_t)(p - value);
        tag->escaped = escaped;
        if (lineproto_tag_key_reserved(tag->key)) {
            lineproto_quote(quoted, sizeof quoted, key, tag->key.length, LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, key,
                                    "tag key %s is reserved by InfluxDB: rename the tag", quoted);
        }
    }
    size_t series_key_length = (size_t)(p - line_start);
    if (series_key_length > LINEPROTO_MAX_KEY_LENGTH)
        return lineproto_reject(parser, error, line_start, p,
                                "series key (measurement and tags) is %zu bytes long: at most "
                                "%d are allowed",
                                series_key_length, LINEPROTO_MAX_KEY_LENGTH);
    if (tag_count > 1) {
        struct lineproto_slice duplicate;
        int found_duplicate = lineproto_tag_duplicate_find(parser, tag_count, &duplicate);
        if (found_duplicate < 0)
            goto out_of_memory;
        if (found_duplicate > 0) {
            lineproto_quote(quoted, sizeof quoted, duplicate.data, duplicate.length,
                            LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, duplicate.data,
                                    "duplicate tag key %s", quoted);
        }
    }
    point->series_key.data = line_start;
    point->series_key.length = series_key_length;

    /* The space (or spaces) between tags and fields. */
    if (p == end || *p != ' ') {
        if (p < end && *p == '\r' && p + 1 < end && p[1] != '\n')
            return lineproto_reject(parser, error, line_start, p,
                                    "carriage return not followed by a newline");
        if (lineproto_is_line_end(p, end))
            return lineproto_reject(parser, error, line_start, p,
                                    "missing fields: expected a space and at least one field "
                                    "(key=value) after the measurement and tags");
        return lineproto_reject(parser, error, line_start, p, "unexpected %s after the tags",
                                lineproto_byte_describe(found, p, end));
    }
    while (p < end && *p == ' ')
        p++;
    if (lineproto_is_line_end(p, end))
        return lineproto_reject(parser, error, line_start, p,
                                "missing fields: expected at least one field (key=value) after "
                                "the measurement and tags");

    /* Fields. */
    size_t field_count = 0;
    size_t string_newlines = 0;
    const char *time_key = NULL; /* the first field named "time" */
    size_t time_fields = 0;
    for (;;) {
        const char *key = p;
        escaped = false;
        p = lineproto_name_take(p, end, true, &escaped, &bad);
        if (!p)
            return lineproto_name_reject(parser, error, line_start, "field key", key, bad);
        if (p == key) {
            if (p < end && (*p == '=' || *p == ','))
                return lineproto_reject(parser, error, line_start, p, "empty field key before %s",
                                        lineproto_byte_describe(found, p, end));
            return lineproto_reject(parser, error, line_start, p,
                                    "expected a field key after ',', found %s",
                                    lineproto_byte_describe(found, p, end));
        }
        if (p == end || *p != '=') {
            lineproto_quote(quoted, sizeof quoted, key, (size_t)(p - key), LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, p,
                                    "expected '=' after field key %s, found %s", quoted,
                                    lineproto_byte_describe(found, p, end));
        }
        if (field_count == parser->field_capacity &&
            lineproto_array_grow((void **)&parser->fields, &parser->field_capacity,
                                 sizeof *parser->fields) != 0)
            goto out_of_memory;
        struct lineproto_field *field = &parser->fields[field_count++];
        field->key.data = key;
        field->key.length = (size_t)(p - key);
        field->key_escaped = escaped;
        field->value_escaped = false;
        /* InfluxDB drops a field named "time" and keeps the point when it has other fields
         * (Telegraf's libvirt input writes one); only a point of "time" fields alone is refused. */
        if (lineproto_field_key_is_time(field)) {
            time_key = time_key ? time_key : key;
            time_fields++;
        }
        size_t stored_key_length =
            series_key_length + LINEPROTO_FIELD_SEPARATOR_LENGTH + field->key.length;
        if (stored_key_length > LINEPROTO_MAX_KEY_LENGTH) {
            lineproto_quote(quoted, sizeof quoted, key, field->key.length, LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, key,
                                    "series key and field key %s make a key of %zu bytes "
                                    "(InfluxDB stores %d more between them): at most %d are "
                                    "allowed",
                                    quoted, stored_key_length, LINEPROTO_FIELD_SEPARATOR_LENGTH,
                                    LINEPROTO_MAX_KEY_LENGTH);
        }
        const char *value = ++p;
        if (p == end || (lineproto_byte_class[(unsigned char)*p] & LINEPROTO_CLASS_VALUE_END)) {
            lineproto_quote(quoted, sizeof quoted, key, field->key.length, LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, p, "missing value for field %s",
                                    quoted);
        }
        char first = *p;
        if (first == '"') {
            p++;
            for (;;) {
                p = lineproto_string_scan(p, end);
                if (p == end) {
                    lineproto_quote(quoted, sizeof quoted, key, field->key.length,
                                    LINEPROTO_QUOTE_LIMIT);
                    return lineproto_reject(parser, error, line_start, value,
                                            "unterminated string value for field %s: missing "
                                            "closing '\"'",
                                            quoted);
                }
                char c = *p;
                if (c == '"')
                    break;
                if (c == '\\') {
                    if (p + 1 < end && (p[1] == '"' || p[1] == '\\')) {
                        field->value_escaped = true;
                        p += 2;
                    } else {
                        p++;
                    }
                } else if (c == '\n') {
                    string_newlines++; /* part of the value: the point spans several lines */
                    p++;
                } else {
                    size_t length = utf8_sequence_length(p, end);
                    if (length == 0) {
                        lineproto_quote(quoted, sizeof quoted, key, field->key.length,
                                        LINEPROTO_QUOTE_LIMIT);
                        return lineproto_reject(parser, error, line_start, p,
                                                "invalid UTF-8 (byte 0x%02X) in the string value "
                                                "of field %s",
                                                (unsigned char)*p, quoted);
                    }
                    p += length;
                }
            }
            field->type = LINEPROTO_VALUE_STRING;
            field->value.data = value + 1;
            field->value.length = (size_t)(p - value - 1);
            p++;
            if (p < end && !(lineproto_byte_class[(unsigned char)*p] & LINEPROTO_CLASS_VALUE_END)) {
                lineproto_quote(quoted, sizeof quoted, key, field->key.length,
                                LINEPROTO_QUOTE_LIMIT);
                return lineproto_reject(parser, error, line_start, p,
                                        "unexpected %s after the string value of field %s: "
                                        "expected ',' or a space",
                                        lineproto_byte_describe(found, p, end), quoted);
            }
        } else {
            enum lineproto_number_status status = LINEPROTO_NUMBER_SYNTAX;
            if (lineproto_is_digit(first) || first == '-' || first == '.') {
                p = lineproto_number_parse(value, end, field, &status);
            } else if (first == 't' || first == 'T' || first == 'f' || first == 'F') {
                p = lineproto_value_scan(p, end);
                field->type = LINEPROTO_VALUE_BOOLEAN;
                field->value.data = value;
                field->value.length = (size_t)(p - value);
                if (lineproto_boolean_parse(value, field->value.length, &field->as.boolean))
                    status = LINEPROTO_NUMBER_OK;
            }
            if (status != LINEPROTO_NUMBER_OK)
                return lineproto_value_reject(parser, error, line_start, field, value,
                                              lineproto_value_scan(value, end), status);
        }
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        break;
    }
    const char *fields_end = p;
    if (time_fields == field_count)
        return lineproto_reject(parser, error, line_start, time_key,
                                "invalid field key \"time\": it is reserved for the timestamp; "
                                "rename the field");
    if (field_count > 1) {
        size_t earlier, later;
        int found_conflict =
            lineproto_field_conflict_find(parser, field_count, time_fields > 0, &earlier, &later);
        if (found_conflict < 0)
            goto out_of_memory;
        if (found_conflict > 0) {
            const struct lineproto_field *field = &parser->fields[later];
            lineproto_quote(quoted, sizeof quoted, field->key.data, field->key.length,
                            LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, field->key.data,
                                    "field %s is written twice with different types (%s, then "
                                    "%s): InfluxDB refuses the point",
                                    quoted, lineproto_type_name(parser->fields[earlier].type),
                                    lineproto_type_name(field->type));
        }
    }

    /* Timestamp. */
    while (p < end && *p == ' ')
        p++;
    const char *time_start = p;
    if (p < end && *p != '\n' && *p != '\r') {
        enum lineproto_number_status status;
        p = lineproto_time_parse(parser, time_start, end, &point->time, &status);
        if (status != LINEPROTO_NUMBER_OK) {
            /* The whole token for the message: a ',' does not end it. */
            p = time_start;
            while (p < end && *p != ' ' && *p != '\n' && *p != '\r')
                p++;
            lineproto_quote(quoted, sizeof quoted, time_start, (size_t)(p - time_start),
                            LINEPROTO_QUOTE_LIMIT);
            if (status == LINEPROTO_NUMBER_RANGE)
                return lineproto_reject(parser, error, line_start, time_start,
                                        "timestamp %s (in %s) is out of range: it must lie "
                                        "within -9223372036854775806 and 9223372036854775806 ns",
                                        quoted, lineproto_unit_name(parser->precision));
            return lineproto_reject(parser, error, line_start, time_start,
                                    "invalid timestamp %s: expected an integer number of %s "
                                    "(digits with an optional leading '-')",
                                    quoted, lineproto_unit_name(parser->precision));
        }
        point->has_time = true;
        point->time_text.data = time_start;
        point->time_text.length = (size_t)(p - time_start);
        const char *time_end = p;
        while (p < end && *p == ' ')
            p++;
        if (p < end && *p != '\n' && !(*p == '\r' && (p + 1 == end || p[1] == '\n'))) {
            if (*p == '\r')
                return lineproto_reject(parser, error, line_start, p,
                                        "carriage return not followed by a newline");
            const char *extra_end = memchr(p, '\n', (size_t)(end - p));
            extra_end = extra_end ? extra_end : end;
            lineproto_quote(quoted, sizeof quoted, p, (size_t)(extra_end - p),
                            LINEPROTO_QUOTE_LIMIT);
            return lineproto_reject(parser, error, line_start, p,
                                    "unexpected text %s after the timestamp", quoted);
        }
        point->line.length = (size_t)(time_end - line_start);
    } else {
        if (p < end && *p == '\r' && p + 1 < end && p[1] != '\n')
            return lineproto_reject(parser, error, line_start, p,
                                    "carriage return not followed by a newline");
        point->has_time = false;
        point->time = 0;
        point->time_text.data = time_start;
        point->time_text.length = 0;
        point->line.length = (size_t)(fields_end - line_start);
    }
    point->line_number = parser->line_number;
    point->line.data = line_start;
    point->body.data = line_start;
    point->body.length = (size_t)(fields_end - line_start);
    point->tags = parser->tags;
    point->tag_count = tag_count;
    point->fields = parser->fields;
    point->field_count = field_count;

    /* Past the line end. */
    parser->line_number += string_newlines;
    if (p < end && *p == '\r')
        p++;
    if (p < end) { /* '\n' */
        p++;
        parser->line_number++;
    }
    parser->cursor = p;
    return LINEPROTO_POINT;

out_of_memory:
    parser->cursor = end;
    return LINEPROTO_NO_MEMORY;
}
