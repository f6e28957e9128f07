/* meter-relay parse: checks line protocol the way the write endpoints do and prints one JSON
 * object per point ({"measurement","tags","fields","time"}) or per rejected line
 * ({"line","error"}). Exit status 0 when every line parsed, 1 otherwise, 2 for usage errors. */
#include "relay/commands.h"
#include "relay/lineproto.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers beyond this magnitude are printed as strings: JSON readers that use doubles (every
 * JavaScript one) would silently round them. */
#define PARSE_EXACT_INTEGER_LIMIT 9007199254740992u /* 2^53 */
#define PARSE_MESSAGE_SIZE 4096

static void parse_usage_print(FILE *out)
{
    fprintf(
        out,
        "usage: meter-relay parse [--precision P] [FILE|-]\n"
        "\n"
        "Checks line protocol as POST /write would and prints one JSON object per line:\n"
        "  {\"measurement\":..,\"tags\":[[k,v],..],\"fields\":[[k,{\"type\":..,\"value\":..}],..],"
        "\"time\":<ns or null>}\n"
        "  {\"line\":N,\"error\":\"unable to parse '<line>': <reason>\"}\n"
        "Names and strings are unescaped. Integers and times beyond 2^53 are JSON strings.\n"
        "\n"
        "options:\n"
        "  --precision P  unit of the timestamps: n, ns, u, us, µ, ms, s, m, h (default ns)\n"
        "  -c FILE        accepted for symmetry with other commands; not used\n"
        "  --help         this text\n"
        "FILE defaults to standard input (also written as -).\n"
        "Exit status: 0 every line parsed, 1 some line was rejected or input unreadable, "
        "2 usage error.\n");
}

/* Reads all of file (borrowed) into out. Returns 0 or -errno. */
static int parse_input_read(FILE *file, struct buffer *out)
{
    for (;;) {
        if (buffer_reserve(out, 65536) != 0)
            return -ENOMEM;
        size_t count = fread(out->data + out->length, 1, out->capacity - out->length, file);
        out->length += count;
        if (count == 0)
            return ferror(file) ? -EIO : 0;
    }
}

/* A JSON string of the bytes in text (borrowed; valid UTF-8, possibly with NUL bytes). Returns an
 * owned item or NULL. */
static cJSON *parse_json_string(const char *text, size_t length, struct buffer *scratch)
{
    buffer_clear(scratch);
    if (!memchr(text, '\0', length)) {
        if (buffer_append(scratch, text, length) != 0 || buffer_append(scratch, "", 1) != 0)
            return NULL;
        return cJSON_CreateString(scratch->data);
    }
    /* cJSON takes C strings: a value holding NUL is escaped here and inserted raw. */
    static const char hex[] = "0123456789abcdef";
    if (buffer_reserve(scratch, 6 * length + 3) != 0)
        return NULL;
    char *out = scratch->data;
    size_t written = 0;
    out[written++] = '"';
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            out[written++] = '\\';
            out[written++] = (char)c;
        } else if (c < 0x20) {
            memcpy(out + written, "\\u00", 4);
            out[written + 4] = hex[c >> 4];
            out[written + 5] = hex[c & 15];
            written += 6;
        } else {
            out[written++] = (char)c;
        }
    }
    out[written++] = '"';
    out[written] = '\0';
    return cJSON_CreateRaw(out);
}

/* An unescaped element as a JSON string. Returns an owned item or NULL. */
static cJSON *parse_json_element(enum lineproto_element element, struct lineproto_slice escaped,
                                 struct buffer *unescaped, struct buffer *scratch)
{
    buffer_clear(unescaped);
    if (buffer_reserve(unescaped, escaped.length + 1) != 0)
        return NULL;
    size_t length = lineproto_unescape(element, escaped, unescaped->data);
    return parse_json_string(unescaped->data, length, scratch);
}

/* An integer as a JSON number, or a string beyond 2^53. Returns an owned item or NULL. */
static cJSON *parse_json_integer(int64_t value, bool is_unsigned, uint64_t unsigned_value)
{
    char text[LINEPROTO_NUMBER_SIZE];
    bool exact;
    if (is_unsigned) {
        snprintf(text, sizeof text, "%llu", (unsigned long long)unsigned_value);
        exact = unsigned_value <= PARSE_EXACT_INTEGER_LIMIT;
    } else {
        lineproto_int64_format(value, text);
        exact = value <= (int64_t)PARSE_EXACT_INTEGER_LIMIT &&
                value >= -(int64_t)PARSE_EXACT_INTEGER_LIMIT;
    }
    return exact ? cJSON_CreateRaw(text) : cJSON_CreateString(text);
}

static cJSON *parse_json_value(const struct lineproto_field *field, struct buffer *unescaped,
                               struct buffer *scratch)
{
    cJSON *value = cJSON_CreateObject();
    if (!value)
        return NULL;
    cJSON *item = NULL;
    const char *type = "float";
    switch (field->type) {
    case LINEPROTO_VALUE_FLOAT: {
        double number;
        char text[LINEPROTO_NUMBER_SIZE];
        if (lineproto_field_float(field, &number) == 0) {
            lineproto_float_format(number, text);
            item = cJSON_CreateRaw(text);
        }
        break;
    }
    case LINEPROTO_VALUE_INTEGER:
        type = "int";
        item = parse_json_integer(field->as.integer, false, 0);
        break;
    case LINEPROTO_VALUE_UNSIGNED:
        type = "uint";
        item = parse_json_integer(0, true, field->as.unsigned_integer);
        break;
    case LINEPROTO_VALUE_STRING:
        type = "string";
        item = parse_json_element(LINEPROTO_ELEMENT_STRING, field->value, unescaped, scratch);
        break;
    case LINEPROTO_VALUE_BOOLEAN:
        type = "bool";
        item = cJSON_CreateBool(field->as.boolean);
        break;
    }
    if (!item || !cJSON_AddStringToObject(value, "type", type)) {
        cJSON_Delete(item);
        cJSON_Delete(value);
        return NULL;
    }
    cJSON_AddItemToObject(value, "value", item);
    return value;
}

/* Adds [key, value] to array (borrowed). Takes ownership of key and value. Returns 0 or -1. */
static int parse_json_pair_add(cJSON *array, cJSON *key, cJSON *value)
{
    cJSON *pair = cJSON_CreateArray();
    if (!pair || !key || !value) {
        cJSON_Delete(pair);
        cJSON_Delete(key);
        cJSON_Delete(value);
        return -1;
    }
    cJSON_AddItemToArray(pair, key);
    cJSON_AddItemToArray(pair, value);
    cJSON_AddItemToArray(array, pair);
    return 0;
}

/* The JSON object of one point. Returns an owned item or NULL when out of memory. */
static cJSON *parse_point_json(const struct lineproto_point *point, struct buffer *unescaped,
                               struct buffer *scratch)
{
    cJSON *object = cJSON_CreateObject();
    cJSON *tags = cJSON_CreateArray();
    cJSON *fields = cJSON_CreateArray();
    if (!object || !tags || !fields)
        goto fail;
    cJSON *measurement =
        parse_json_element(LINEPROTO_ELEMENT_MEASUREMENT, point->measurement, unescaped, scratch);
    if (!measurement)
        goto fail;
    cJSON_AddItemToObject(object, "measurement", measurement);
    for (size_t i = 0; i < point->tag_count; i++) {
        const struct lineproto_tag *tag = &point->tags[i];
        cJSON *key = parse_json_element(LINEPROTO_ELEMENT_TAG_KEY, tag->key, unescaped, scratch);
        cJSON *value =
            parse_json_element(LINEPROTO_ELEMENT_TAG_VALUE, tag->value, unescaped, scratch);
        if (parse_json_pair_add(tags, key, value) != 0)
            goto fail;
    }
    cJSON_AddItemToObject(object, "tags", tags);
    tags = NULL;
    for (size_t i = 0; i < point->field_count; i++) {
        const struct lineproto_field *field = &point->fields[i];
        cJSON *key =
            parse_json_element(LINEPROTO_ELEMENT_FIELD_KEY, field->key, unescaped, scratch);
        if (parse_json_pair_add(fields, key, parse_json_value(field, unescaped, scratch)) != 0)
            goto fail;
    }
    cJSON_AddItemToObject(object, "fields", fields);
    fields = NULL;
    cJSON *time = point->has_time ? parse_json_integer(point->time, false, 0) : cJSON_CreateNull();
    if (!time)
        goto fail;
    cJSON_AddItemToObject(object, "time", time);
    return object;
fail:
    cJSON_Delete(object);
    cJSON_Delete(tags);
    cJSON_Delete(fields);
    return NULL;
}

static cJSON *parse_error_json(const struct lineproto_error *error)
{
    char message[PARSE_MESSAGE_SIZE];
    lineproto_error_message(error, message, sizeof message);
    cJSON *object = cJSON_CreateObject();
    if (!object || !cJSON_AddNumberToObject(object, "line", (double)error->line_number) ||
        !cJSON_AddStringToObject(object, "error", message)) {
        cJSON_Delete(object);
        return NULL;
    }
    return object;
}

/* Prints item (owned; freed here) as one line. Returns 0 or -1. */
static int parse_json_print(cJSON *item)
{
    if (!item)
        return -1;
    char *text = cJSON_PrintUnformatted(item);
    cJSON_Delete(item);
    if (!text)
        return -1;
    int written = printf("%s\n", text);
    cJSON_free(text);
    return written < 0 ? -1 : 0;
}

int relay_command_parse(int argc, char **argv)
{
    enum lineproto_precision precision = LINEPROTO_PRECISION_NANOSECOND;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        const char *precision_text = NULL;
        if (strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0) {
            parse_usage_print(stdout);
            return 0;
        } else if (strcmp(argument, "-c") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "meter-relay parse: -c needs a configuration file\n\n");
                parse_usage_print(stderr);
                return 2;
            }
        } else if (strcmp(argument, "--precision") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "meter-relay parse: --precision needs a value\n\n");
                parse_usage_print(stderr);
                return 2;
            }
            precision_text = argv[i];
        } else if (strncmp(argument, "--precision=", 12) == 0) {
            precision_text = argument + 12;
        } else if (argument[0] == '-' && argument[1] != '\0') {
            fprintf(stderr, "meter-relay parse: unknown option \"%s\"\n\n", argument);
            parse_usage_print(stderr);
            return 2;
        } else if (path) {
            fprintf(stderr, "meter-relay parse: only one input file is read (got \"%s\" too)\n\n",
                    argument);
            parse_usage_print(stderr);
            return 2;
        } else {
            path = argument;
        }
        if (precision_text &&
            lineproto_precision_parse(precision_text, strlen(precision_text), &precision) != 0) {
            fprintf(stderr,
                    "meter-relay parse: invalid precision \"%s\": expected one of n, ns, u, us, "
                    "µ, ms, s, m, h\n",
                    precision_text);
            return 2;
        }
    }

    int status = 1;
    struct buffer input = BUFFER_INITIALIZER, unescaped = BUFFER_INITIALIZER,
                  scratch = BUFFER_INITIALIZER;
    struct lineproto_parser *parser = NULL;
    bool from_stdin = !path || strcmp(path, "-") == 0;
    FILE *file = from_stdin ? stdin : fopen(path, "rb");
    if (!file) {
        fprintf(stderr, "meter-relay parse: cannot open %s: %s\n", path, strerror(errno));
        goto cleanup;
    }
    int read_status = parse_input_read(file, &input);
    if (read_status != 0) {
        fprintf(stderr, "meter-relay parse: cannot read %s: %s\n",
                from_stdin ? "standard input" : path, strerror(-read_status));
        goto cleanup;
    }
    parser = lineproto_parser_create();
    if (!parser) {
        fprintf(stderr, "meter-relay parse: out of memory\n");
        goto cleanup;
    }
    lineproto_parser_start(parser, input.data, input.length, precision);
    bool rejected = false;
    struct lineproto_point point;
    struct lineproto_error error;
    for (;;) {
        enum lineproto_status parsed = lineproto_parser_next(parser, &point, &error);
        if (parsed == LINEPROTO_END)
            break;
        int printed = -1;
        if (parsed == LINEPROTO_POINT) {
            printed = parse_json_print(parse_point_json(&point, &unescaped, &scratch));
        } else if (parsed == LINEPROTO_INVALID) {
            rejected = true;
            printed = parse_json_print(parse_error_json(&error));
        }
        if (printed != 0) {
            fprintf(stderr, "meter-relay parse: out of memory or cannot write the output\n");
            goto cleanup;
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "meter-relay parse: cannot write the output: %s\n", strerror(errno));
        goto cleanup;
    }
    status = rejected ? 1 : 0;
cleanup:
    if (file && !from_stdin && fclose(file) != 0 && status == 0) {
        fprintf(stderr, "meter-relay parse: cannot close %s: %s\n", path, strerror(errno));
        status = 1;
    }
    lineproto_parser_destroy(parser);
    buffer_release(&input);
    buffer_release(&unescaped);
    buffer_release(&scratch);
    return status;
}
