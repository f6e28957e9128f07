/* Annotated CSV: a byte-level state machine splits fields and rows (quoting, CRLF), a row handler
 * tells annotation, header and record rows apart and keeps each block's names, datatypes and
 * defaults. */
#include "relay/flux_csv.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/buffer.h"

/* A record of a few columns is some hundred bytes; this only stops a body without line ends (not
 * CSV at all) from taking all memory. */
#define FLUX_CSV_MAX_ROW ((size_t)64 << 20)

enum flux_csv_state {
    FLUX_CSV_FIELD_START,  /* nothing of the current field read yet */
    FLUX_CSV_UNQUOTED,     /* inside a field that did not start with a quote */
    FLUX_CSV_QUOTED,       /* inside a quoted field */
    FLUX_CSV_QUOTED_QUOTE, /* a quote inside a quoted field: "" or the field's end */
};

enum flux_csv_expect {
    FLUX_CSV_EXPECT_HEADER,  /* at the start and after an empty line or an annotation row */
    FLUX_CSV_EXPECT_RECORDS, /* after a header */
    FLUX_CSV_ERROR_TABLE,    /* after the header `error,reference` */
};

/* A row's fields copied out of the row buffer: the header, the #datatype and #default rows. */
struct flux_csv_list {
    struct buffer text; /* the fields, each NUL-terminated */
    const char **items; /* pointers into text, valid until the list is set again */
    size_t count, capacity;
};

struct flux_csv {
    influx_record_callback record;
    void *argument;
    /* The row being read: its fields NUL-terminated one after another in row. */
    enum flux_csv_state state;
    bool pending_cr; /* a '\r' outside quotes: a line end if '\n' follows */
    struct buffer row;
    size_t *offsets; /* where each complete field starts in row */
    size_t field_count, offset_capacity;
    size_t field_start;
    bool first_quoted; /* the row's first field was quoted (so it is no annotation) */
    /* The current block. */
    enum flux_csv_expect expect;
    struct flux_csv_list names, datatypes, defaults;
    bool skip_first; /* the header starts with the (empty) annotation column */
    const char **values, **blanks;
    size_t value_capacity;
    size_t blocks, rows, records;
    bool failed;
    int stop_value;
};

struct flux_csv *flux_csv_create(influx_record_callback record, void *argument)
{
    struct flux_csv *csv = calloc(1, sizeof *csv);
    if (!csv)
        return NULL;
    csv->record = record;
    csv->argument = argument;
    return csv;
}

static void flux_csv_list_release(struct flux_csv_list *list)
{
    buffer_release(&list->text);
    free(list->items);
}

void flux_csv_destroy(struct flux_csv *csv)
{
    if (!csv)
        return;
    buffer_release(&csv->row);
    free(csv->offsets);
    flux_csv_list_release(&csv->names);
    flux_csv_list_release(&csv->datatypes);
    flux_csv_list_release(&csv->defaults);
    free(csv->values);
    free(csv->blanks);
    free(csv);
}

static int flux_csv_fail(struct flux_csv *csv, char *error, size_t error_size, const char *format,
                         ...) __attribute__((format(printf, 4, 5)));
static int flux_csv_fail(struct flux_csv *csv, char *error, size_t error_size, const char *format,
                         ...)
{
    csv->failed = true;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, error_size, format, arguments);
    va_end(arguments);
    return -1;
}

static const char *flux_csv_field(const struct flux_csv *csv, size_t index)
{
    return csv->row.data + csv->offsets[index];
}

/* Copies the current row's fields from index skip on into list. Returns 0 or -1 (memory). */
static int flux_csv_list_set(struct flux_csv *csv, struct flux_csv_list *list, size_t skip)
{
    size_t count = csv->field_count > skip ? csv->field_count - skip : 0;
    buffer_clear(&list->text);
    if (count > list->capacity) {
        const char **items = realloc(list->items, count * sizeof *items);
        if (!items)
            return -1;
        list->items = items;
        list->capacity = count;
    }
    size_t start = count ? csv->offsets[skip] : 0;
    if (buffer_append(&list->text, csv->row.data + start, csv->row.length - start) != 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        list->items[i] = list->text.data + (csv->offsets[skip + i] - start);
    list->count = count;
    return 0;
}

/* Room for count values and count blank datatypes. */
static int flux_csv_values_reserve(struct flux_csv *csv, size_t count)
{
    if (count <= csv->value_capacity)
        return 0;
    const char **values = realloc(csv->values, count * sizeof *values);
    if (!values)
        return -1;
    csv->values = values;
    const char **blanks = realloc(csv->blanks, count * sizeof *blanks);
    if (!blanks)
        return -1;
    csv->blanks = blanks;
    for (size_t i = 0; i < count; i++)
        csv->blanks[i] = "";
    csv->value_capacity = count;
    return 0;
}

static int flux_csv_header_handle(struct flux_csv *csv, char *error, size_t error_size)
{
    csv->skip_first = csv->field_count > 1 && !csv->first_quoted && flux_csv_field(csv, 0)[0] == 0;
    if (flux_csv_list_set(csv, &csv->names, csv->skip_first ? 1 : 0) != 0 ||
        flux_csv_values_reserve(csv, csv->names.count) != 0)
        return flux_csv_fail(csv, error, error_size, "out of memory reading a Flux answer");
    const struct flux_csv_list *annotations[] = {&csv->datatypes, &csv->defaults};
    const char *annotation_names[] = {"#datatype", "#default"};
    for (size_t i = 0; i < 2; i++)
        if (annotations[i]->count && annotations[i]->count != csv->names.count)
            return flux_csv_fail(csv, error, error_size,
                                 "Flux answer, row %zu: the header has %zu columns, its %s row %zu",
                                 csv->rows, csv->names.count, annotation_names[i],
                                 annotations[i]->count);
    csv->blocks++;
    bool error_table = csv->names.count == 2 && strcmp(csv->names.items[0], "error") == 0 &&
                       strcmp(csv->names.items[1], "reference") == 0;
    csv->expect = error_table ? FLUX_CSV_ERROR_TABLE : FLUX_CSV_EXPECT_RECORDS;
    return 0;
}

static int flux_csv_record_handle(struct flux_csv *csv, char *error, size_t error_size)
{
    size_t skip = csv->skip_first ? 1 : 0; /* field_count >= 1 >= skip */
    size_t count = csv->field_count - skip;
    if (count != csv->names.count)
        return flux_csv_fail(csv, error, error_size,
                             "Flux answer, row %zu: %zu columns where the header has %zu",
                             csv->rows, count, csv->names.count);
    for (size_t i = 0; i < count; i++) {
        const char *value = flux_csv_field(csv, skip + i);
        if (value[0] == '\0' && csv->defaults.count)
            value = csv->defaults.items[i];
        csv->values[i] = value;
    }
    if (csv->expect == FLUX_CSV_ERROR_TABLE)
        return flux_csv_fail(csv, error, error_size, "InfluxDB: %s%s%s%s", csv->values[0],
                             csv->values[1][0] ? " (reference " : "", csv->values[1],
                             csv->values[1][0] ? ")" : "");
    struct flux_csv_record record = {
        .names = csv->names.items,
        .datatypes = csv->datatypes.count ? csv->datatypes.items : csv->blanks,
        .values = csv->values,
        .count = count,
        .block = csv->blocks - 1,
    };
    csv->records++;
    int result = csv->record(&record, csv->argument);
    if (result != 0) {
        csv->stop_value = result;
        return flux_csv_fail(csv, error, error_size, "the record callback stopped the query");
    }
    return 0;
}

/* A complete row: an empty line ends a block, '#' starts an annotation row, then comes the
 * header, then records. */
static int flux_csv_row_handle(struct flux_csv *csv, char *error, size_t error_size)
{
    csv->rows++;
    const char *first = flux_csv_field(csv, 0);
    if (csv->field_count == 1 && first[0] == '\0' && !csv->first_quoted) {
        csv->expect = FLUX_CSV_EXPECT_HEADER;
        csv->datatypes.count = 0;
        csv->defaults.count = 0;
        return 0;
    }
    if (first[0] == '#' && !csv->first_quoted) {
        if (csv->expect != FLUX_CSV_EXPECT_HEADER) {
            /* A new block without an empty line before it: its annotations replace the old. */
            csv->datatypes.count = 0;
            csv->defaults.count = 0;
            csv->expect = FLUX_CSV_EXPECT_HEADER;
        }
        struct flux_csv_list *list = strcmp(first, "#datatype") == 0  ? &csv->datatypes
                                     : strcmp(first, "#default") == 0 ? &csv->defaults
                                                                      : NULL;
        if (list && flux_csv_list_set(csv, list, 1) != 0)
            return flux_csv_fail(csv, error, error_size, "out of memory reading a Flux answer");
        return 0; /* #group and comments are not needed */
    }
    if (csv->expect == FLUX_CSV_EXPECT_HEADER)
        return flux_csv_header_handle(csv, error, error_size);
    return flux_csv_record_handle(csv, error, error_size);
}

static int flux_csv_field_end(struct flux_csv *csv)
{
    if (csv->field_count == csv->offset_capacity) {
        size_t capacity = csv->offset_capacity ? csv->offset_capacity * 2 : 16;
        size_t *offsets = realloc(csv->offsets, capacity * sizeof *offsets);
        if (!offsets)
            return -1;
        csv->offsets = offsets;
        csv->offset_capacity = capacity;
    }
    if (buffer_append(&csv->row, "", 1) != 0)
        return -1;
    csv->offsets[csv->field_count++] = csv->field_start;
    csv->field_start = csv->row.length;
    csv->state = FLUX_CSV_FIELD_START;
    return 0;
}

static int flux_csv_row_end(struct flux_csv *csv, char *error, size_t error_size)
{
    if (flux_csv_field_end(csv) != 0)
        return flux_csv_fail(csv, error, error_size, "out of memory reading a Flux answer");
    int result = flux_csv_row_handle(csv, error, error_size);
    buffer_clear(&csv->row);
    csv->field_count = 0;
    csv->field_start = 0;
    csv->first_quoted = false;
    return result;
}

static int flux_csv_append(struct flux_csv *csv, const char *data, size_t length, char *error,
                           size_t error_size)
{
    if (csv->row.length + length > FLUX_CSV_MAX_ROW)
        return flux_csv_fail(csv, error, error_size,
                             "Flux answer, row %zu: over 64 MiB without a line end: not CSV",
                             csv->rows + 1);
    if (buffer_append(&csv->row, data, length) != 0)
        return flux_csv_fail(csv, error, error_size, "out of memory reading a Flux answer");
    return 0;
}

/* The special byte c outside quotes (after the unquoted span before it was appended). */
static int flux_csv_delimiter(struct flux_csv *csv, char c, char *error, size_t error_size)
{
    switch (c) {
    case ',':
        if (flux_csv_field_end(csv) != 0)
            return flux_csv_fail(csv, error, error_size, "out of memory reading a Flux answer");
        return 0;
    case '\n':
        return flux_csv_row_end(csv, error, error_size);
    case '\r':
        csv->pending_cr = true;
        return 0;
    default: /* '"' */
        if (csv->state == FLUX_CSV_FIELD_START) {
            csv->state = FLUX_CSV_QUOTED;
            if (csv->field_count == 0)
                csv->first_quoted = true;
            return 0;
        }
        return flux_csv_fail(csv, error, error_size,
                             "Flux answer, row %zu, column %zu: a quote inside an unquoted field",
                             csv->rows + 1, csv->field_count + 1);
    }
}

int flux_csv_feed(struct flux_csv *csv, const char *data, size_t length, char *error,
                  size_t error_size)
{
    if (csv->failed)
        return flux_csv_fail(csv, error, error_size, "Flux answer: fed after a failure");
    size_t i = 0;
    while (i < length) {
        char c = data[i];
        if (csv->pending_cr) {
            csv->pending_cr = false;
            if (c == '\n') {
                i++;
                if (flux_csv_row_end(csv, error, error_size) != 0)
                    return -1;
                continue;
            }
            /* A lone '\r' is data (as Go's CSV reader keeps it); not after a closing quote. */
            if (csv->state == FLUX_CSV_QUOTED_QUOTE)
                return flux_csv_fail(csv, error, error_size,
                                     "Flux answer, row %zu: a carriage return after a closing "
                                     "quote",
                                     csv->rows + 1);
            if (flux_csv_append(csv, "\r", 1, error, error_size) != 0)
                return -1;
            csv->state = FLUX_CSV_UNQUOTED;
        }
        if (csv->state == FLUX_CSV_QUOTED) {
            const char *quote = memchr(data + i, '"', length - i);
            size_t end = quote ? (size_t)(quote - data) : length;
            if (flux_csv_append(csv, data + i, end - i, error, error_size) != 0)
                return -1;
            i = end;
            if (quote) {
                csv->state = FLUX_CSV_QUOTED_QUOTE;
                i++;
            }
            continue;
        }
        if (csv->state == FLUX_CSV_QUOTED_QUOTE) {
            if (c == '"') {
                if (flux_csv_append(csv, "\"", 1, error, error_size) != 0)
                    return -1;
                csv->state = FLUX_CSV_QUOTED;
                i++;
                continue;
            }
            if (c != ',' && c != '\n' && c != '\r')
                return flux_csv_fail(csv, error, error_size,
                                     "Flux answer, row %zu, column %zu: '%c' after a closing "
                                     "quote",
                                     csv->rows + 1, csv->field_count + 1, c);
            i++;
            if (flux_csv_delimiter(csv, c, error, error_size) != 0)
                return -1;
            continue;
        }
        /* Field start or unquoted: take the span up to the next special byte at once. */
        size_t end = i;
        while (end < length && data[end] != ',' && data[end] != '\n' && data[end] != '\r' &&
               data[end] != '"')
            end++;
        if (end > i) {
            if (flux_csv_append(csv, data + i, end - i, error, error_size) != 0)
                return -1;
            csv->state = FLUX_CSV_UNQUOTED;
            i = end;
        }
        if (i < length) {
            if (flux_csv_delimiter(csv, data[i], error, error_size) != 0)
                return -1;
            i++;
        }
    }
    return 0;
}

int flux_csv_finish(struct flux_csv *csv, char *error, size_t error_size)
{
    if (csv->failed)
        return flux_csv_fail(csv, error, error_size, "Flux answer: finished after a failure");
    if (csv->state == FLUX_CSV_QUOTED)
        return flux_csv_fail(csv, error, error_size,
                             "Flux answer: the body ended inside a quoted field (row %zu)",
                             csv->rows + 1);
    csv->pending_cr = false;
    if (csv->field_count > 0 || csv->row.length > 0 || csv->state != FLUX_CSV_FIELD_START)
        return flux_csv_row_end(csv, error, error_size);
    return 0;
}

int flux_csv_stop_value(const struct flux_csv *csv)
{
    return csv->stop_value;
}

size_t flux_csv_records(const struct flux_csv *csv)
{
    return csv->records;
}
