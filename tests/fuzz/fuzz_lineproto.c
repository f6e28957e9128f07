/* libFuzzer target for the line-protocol codec: parses and normalises the input in several
 * precisions and checks what must always hold:
 * - every slice lies inside the input, names are non-empty, every point has a field, times lie
 *   within the allowed range, floats convert to finite numbers, unescaping never grows a slice;
 * - errors point into the input, with a line number, a column and a reason;
 * - the normaliser accepts exactly the points the parser returned and rejects exactly its errors;
 * - the normalised output parses in ns without any error into the same points (same elements as
 *   written, the same times), and normalising it again reproduces it byte for byte. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/lineproto.h"

#define FUZZ_RECEIVE_TIME 1600000000123456789LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_lineproto: invariant broken: %s\n", what);
        abort();
    }
}

static void fuzz_slice_check(struct lineproto_slice slice, const char *data, size_t size)
{
    fuzz_require(slice.data >= data && slice.data + slice.length <= data + size,
                 "slice inside the input");
}

static uint64_t fuzz_hash(uint64_t hash, const void *bytes, size_t length)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ p[i]) * 1099511628211u;
    return (hash ^ length) * 1099511628211u;
}

/* A digest of what a point says (elements as written and types), without its time. */
static uint64_t fuzz_point_digest(const struct lineproto_point *point)
{
    uint64_t hash = 14695981039346656037u;
    hash = fuzz_hash(hash, point->measurement.data, point->measurement.length);
    for (size_t i = 0; i < point->tag_count; i++) {
        hash = fuzz_hash(hash, point->tags[i].key.data, point->tags[i].key.length);
        hash = fuzz_hash(hash, point->tags[i].value.data, point->tags[i].value.length);
    }
    for (size_t i = 0; i < point->field_count; i++) {
        const struct lineproto_field *field = &point->fields[i];
        hash = fuzz_hash(hash, field->key.data, field->key.length);
        hash = fuzz_hash(hash, field->value.data, field->value.length);
        hash = fuzz_hash(hash, &field->type, sizeof field->type);
    }
    return hash;
}

static void fuzz_unescape_check(enum lineproto_element element, struct lineproto_slice slice,
                                char *scratch)
{
    size_t length = lineproto_unescape(element, slice, scratch);
    fuzz_require(length <= slice.length, "unescaping never grows");
}

static void fuzz_point_check(const struct lineproto_point *point, const char *data, size_t size,
                             char *scratch)
{
    fuzz_slice_check(point->line, data, size);
    fuzz_slice_check(point->body, data, size);
    fuzz_slice_check(point->measurement, data, size);
    fuzz_slice_check(point->series_key, data, size);
    fuzz_require(point->measurement.length > 0, "measurement not empty");
    fuzz_require(point->field_count > 0, "at least one field");
    fuzz_require(point->series_key.length <= LINEPROTO_MAX_KEY_LENGTH, "series key limit");
    fuzz_require(point->body.length <= point->line.length, "body within line");
    fuzz_unescape_check(LINEPROTO_ELEMENT_MEASUREMENT, point->measurement, scratch);
    for (size_t i = 0; i < point->tag_count; i++) {
        fuzz_slice_check(point->tags[i].key, data, size);
        fuzz_slice_check(point->tags[i].value, data, size);
        fuzz_require(point->tags[i].key.length > 0 && point->tags[i].value.length > 0,
                     "tag key and value not empty");
        fuzz_unescape_check(LINEPROTO_ELEMENT_TAG_KEY, point->tags[i].key, scratch);
        fuzz_unescape_check(LINEPROTO_ELEMENT_TAG_VALUE, point->tags[i].value, scratch);
    }
    for (size_t i = 0; i < point->field_count; i++) {
        const struct lineproto_field *field = &point->fields[i];
        fuzz_slice_check(field->key, data, size);
        fuzz_slice_check(field->value, data, size);
        fuzz_require(field->key.length > 0, "field key not empty");
        fuzz_require(point->series_key.length + LINEPROTO_FIELD_SEPARATOR_LENGTH +
                             field->key.length <=
                         LINEPROTO_MAX_KEY_LENGTH,
                     "series key plus field key limit");
        fuzz_unescape_check(LINEPROTO_ELEMENT_FIELD_KEY, field->key, scratch);
        if (field->type == LINEPROTO_VALUE_STRING)
            fuzz_unescape_check(LINEPROTO_ELEMENT_STRING, field->value, scratch);
        if (field->type == LINEPROTO_VALUE_FLOAT) {
            double value = NAN;
            fuzz_require(lineproto_field_float(field, &value) == 0, "float converts");
            fuzz_require(isfinite(value), "float is finite");
        }
    }
    if (point->has_time) {
        fuzz_slice_check(point->time_text, data, size);
        fuzz_require(point->time >= LINEPROTO_TIME_MIN && point->time <= LINEPROTO_TIME_MAX,
                     "time within range");
    } else {
        fuzz_require(point->time_text.length == 0, "no time text without time");
    }
}

static void fuzz_error_check(const struct lineproto_error *error, const char *data, size_t size)
{
    fuzz_slice_check(error->line, data, size);
    fuzz_require(error->line_number >= 1 && error->column >= 1, "error position");
    fuzz_require(error->reason[0] != '\0', "error reason");
    char message[64];
    size_t length = lineproto_error_message(error, message, sizeof message);
    fuzz_require(length < sizeof message && strlen(message) == length, "message fits");
}

struct fuzz_digest {
    uint64_t hash;
    int64_t time;
};

static void fuzz_precision_run(struct lineproto_parser *parser, const char *data, size_t size,
                               enum lineproto_precision precision, char *scratch)
{
    struct fuzz_digest *digests = NULL;
    size_t points = 0, errors = 0, capacity = 0;
    struct lineproto_point point;
    struct lineproto_error error;
    size_t last_line = 0;
    lineproto_parser_start(parser, data, size, precision);
    for (;;) {
        enum lineproto_status status = lineproto_parser_next(parser, &point, &error);
        if (status == LINEPROTO_END)
            break;
        fuzz_require(status != LINEPROTO_NO_MEMORY, "memory");
        if (status == LINEPROTO_INVALID) {
            fuzz_error_check(&error, data, size);
            fuzz_require(error.line_number > last_line, "line numbers increase");
            last_line = error.line_number;
            errors++;
            continue;
        }
        fuzz_point_check(&point, data, size, scratch);
        fuzz_require(point.line_number > last_line, "line numbers increase");
        last_line = point.line_number;
        if (points == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            digests = realloc(digests, capacity * sizeof *digests);
            fuzz_require(digests != NULL, "memory");
        }
        digests[points].hash = fuzz_point_digest(&point);
        digests[points].time =
            point.has_time ? point.time : lineproto_time_truncate(FUZZ_RECEIVE_TIME, precision);
        points++;
    }

    struct buffer normalised = BUFFER_INITIALIZER, again = BUFFER_INITIALIZER;
    struct lineproto_normalise_result result;
    fuzz_require(lineproto_normalise(parser, data, size, precision, FUZZ_RECEIVE_TIME, &normalised,
                                     &result) == 0,
                 "normalise");
    fuzz_require(result.accepted == points && result.rejected == errors, "normalise counts");
    fuzz_require(result.has_error == (errors > 0), "normalise first error");

    size_t index = 0;
    lineproto_parser_start(parser, normalised.data, normalised.length,
                           LINEPROTO_PRECISION_NANOSECOND);
    for (;;) {
        enum lineproto_status status = lineproto_parser_next(parser, &point, &error);
        if (status == LINEPROTO_END)
            break;
        fuzz_require(status == LINEPROTO_POINT, "normalised output parses");
        fuzz_require(index < points, "same number of points");
        fuzz_require(point.has_time, "normalised point has a time");
        fuzz_require(fuzz_point_digest(&point) == digests[index].hash, "same point");
        fuzz_require(point.time == digests[index].time, "same time");
        index++;
    }
    fuzz_require(index == points, "same number of points");
    fuzz_require(lineproto_normalise(parser, normalised.data, normalised.length,
                                     LINEPROTO_PRECISION_NANOSECOND, 0, &again, &result) == 0,
                 "normalise again");
    fuzz_require(
        again.length == normalised.length &&
            (again.length == 0 || memcmp(again.data, normalised.data, normalised.length) == 0),
        "normalised output is a fixed point");
    buffer_release(&normalised);
    buffer_release(&again);
    free(digests);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum lineproto_precision precisions[] = {
        LINEPROTO_PRECISION_NANOSECOND, LINEPROTO_PRECISION_SECOND, LINEPROTO_PRECISION_HOUR};
    /* An exactly sized copy: reads past the end are caught by ASan. */
    char *copy = malloc(size ? size : 1);
    char *scratch = malloc(size ? size : 1);
    struct lineproto_parser *parser = lineproto_parser_create();
    fuzz_require(copy && scratch && parser, "memory");
    if (size > 0)
        memcpy(copy, data, size);
    for (size_t i = 0; i < sizeof precisions / sizeof precisions[0]; i++)
        fuzz_precision_run(parser, copy, size, precisions[i], scratch);
    lineproto_parser_destroy(parser);
    free(scratch);
    free(copy);
    return 0;
}
