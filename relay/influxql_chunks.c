/* Chunked InfluxQL answers: a byte-level scanner finds document boundaries, cJSON parses each
 * complete document, a walker hands out the rows. */
#include "relay/influxql_chunks.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/buffer.h"

/* One chunk holds chunk_size rows (the client asks for 10000: well under a MiB). A document far
 * larger means the server ignored chunked=true and sends the whole result at once. */
#define INFLUXQL_CHUNKS_MAX_DOCUMENT ((size_t)256 << 20)

struct influxql_chunks {
    influx_row_callback row;
    void *argument;
    struct buffer document; /* the bytes of an incomplete document */
    bool inside;            /* between a document's first '{' and its closing '}' */
    bool in_string;
    bool escaped; /* the previous byte in a string was a backslash */
    size_t depth;
    bool failed;
    int stop_value;
    size_t rows, documents;
};

struct influxql_chunks *influxql_chunks_create(influx_row_callback row, void *argument)
{
    struct influxql_chunks *chunks = calloc(1, sizeof *chunks);
    if (!chunks)
        return NULL;
    chunks->row = row;
    chunks->argument = argument;
    return chunks;
}

void influxql_chunks_destroy(struct influxql_chunks *chunks)
{
    if (!chunks)
        return;
    buffer_release(&chunks->document);
    free(chunks);
}

static int influxql_chunks_fail(struct influxql_chunks *chunks, char *error, size_t error_size,
                                const char *message, const char *detail)
{
    chunks->failed = true;
    snprintf(error, error_size, "%s%s", message, detail ? detail : "");
    return -1;
}

/* The "error" member of object as a string, or NULL. */
static const char *influxql_error_text(const cJSON *object)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, "error");
    if (!item)
        return NULL;
    return cJSON_IsString(item) && item->valuestring ? item->valuestring : "(not a string)";
}

static int influxql_series_walk(struct influxql_chunks *chunks, const cJSON *series, char *error,
                                size_t error_size)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(series, "name");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(series, "tags");
    const cJSON *columns = cJSON_GetObjectItemCaseSensitive(series, "columns");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(series, "values");
    if (!cJSON_IsArray(columns))
        return influxql_chunks_fail(chunks, error, error_size,
                                    "InfluxQL answer: a series without a \"columns\" array", NULL);
    if (!values)
        return 0; /* a series can come without rows (e.g. an empty SHOW result) */
    if (!cJSON_IsArray(values))
        return influxql_chunks_fail(chunks, error, error_size,
                                    "InfluxQL answer: \"values\" of a series is not an array",
                                    NULL);
    const char *measurement = cJSON_IsString(name) && name->valuestring ? name->valuestring : "";
    const cJSON *row_tags = cJSON_IsObject(tags) ? tags : NULL;
    const cJSON *row;
    cJSON_ArrayForEach(row, values)
    {
        if (!cJSON_IsArray(row))
            return influxql_chunks_fail(chunks, error, error_size,
                                        "InfluxQL answer: a row is not an array", NULL);
        chunks->rows++;
        int result = chunks->row(measurement, row_tags, columns, row, chunks->argument);
        if (result != 0) {
            chunks->stop_value = result;
            return influxql_chunks_fail(chunks, error, error_size,
                                        "the row callback stopped the query", NULL);
        }
    }
    return 0;
}

/* InfluxDB reports a failed query as {"error": ...} (a request it could not parse), a failed
 * statement as {"results": [{"statement_id": 0, "error": ...}]}; both end the stream. */
static int influxql_document_walk(struct influxql_chunks *chunks, const cJSON *root, char *error,
                                  size_t error_size)
{
    if (!cJSON_IsObject(root))
        return influxql_chunks_fail(chunks, error, error_size,
                                    "InfluxQL answer: a document is not a JSON object", NULL);
    const char *text = influxql_error_text(root);
    if (text)
        return influxql_chunks_fail(chunks, error, error_size, "InfluxDB: ", text);
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results");
    if (!cJSON_IsArray(results))
        return influxql_chunks_fail(chunks, error, error_size,
                                    "InfluxQL answer: no \"results\" array in a document", NULL);
    const cJSON *result;
    cJSON_ArrayForEach(result, results)
    {
        if ((text = influxql_error_text(result)) != NULL)
            return influxql_chunks_fail(chunks, error, error_size, "InfluxDB: ", text);
        const cJSON *series_list = cJSON_GetObjectItemCaseSensitive(result, "series");
        if (!series_list)
            continue;
        if (!cJSON_IsArray(series_list))
            return influxql_chunks_fail(chunks, error, error_size,
                                        "InfluxQL answer: \"series\" is not an array", NULL);
        const cJSON *series;
        cJSON_ArrayForEach(series, series_list)
        {
            if (influxql_series_walk(chunks, series, error, error_size) != 0)
                return -1;
        }
    }
    return 0;
}

static int influxql_document_handle(struct influxql_chunks *chunks, const char *text, size_t length,
                                    char *error, size_t error_size)
{
    chunks->documents++;
    cJSON *root = cJSON_ParseWithLength(text, length);
    if (!root) {
        /* cJSON_GetErrorPtr points into text when the syntax was wrong; NULL when out of memory
         * (a stale pointer from an earlier parse is ignored by the range check). */
        const char *at = cJSON_GetErrorPtr();
        if (at && at >= text && at <= text + length) {
            char detail[96];
            size_t offset = (size_t)(at - text),
                   shown = length - offset < 24 ? length - offset : 24;
            snprintf(detail, sizeof detail, " %zu at byte %zu: \"%.*s\"", chunks->documents, offset,
                     (int)shown, at);
            return influxql_chunks_fail(chunks, error, error_size,
                                        "InfluxQL answer: invalid JSON in document", detail);
        }
        return influxql_chunks_fail(chunks, error, error_size,
                                    "out of memory parsing an InfluxQL answer", NULL);
    }
    int result = influxql_document_walk(chunks, root, error, error_size);
    cJSON_Delete(root);
    return result;
}

/* Moves through data from *at while inside a document; returns true when the document's closing
 * bracket was passed (*at is then just after it). */
static bool influxql_document_scan(struct influxql_chunks *chunks, const char *data, size_t length,
                                   size_t *at)
{
    size_t i = *at;
    for (; i < length; i++) {
        char c = data[i];
        if (chunks->in_string) {
            if (chunks->escaped)
                chunks->escaped = false;
            else if (c == '\\')
                chunks->escaped = true;
            else if (c == '"')
                chunks->in_string = false;
            continue;
        }
        if (c == '"') {
            chunks->in_string = true;
        } else if (c == '{' || c == '[') {
            chunks->depth++;
        } else if ((c == '}' || c == ']') && --chunks->depth == 0) {
            *at = i + 1;
            return true;
        }
    }
    *at = i;
    return false;
}

int influxql_chunks_feed(struct influxql_chunks *chunks, const char *data, size_t length,
                         char *error, size_t error_size)
{
    if (chunks->failed)
        return influxql_chunks_fail(chunks, error, error_size,
                                    "InfluxQL answer: fed after a failure", NULL);
    size_t at = 0;
    while (at < length) {
        if (!chunks->inside) {
            char c = data[at];
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                at++;
                continue;
            }
            if (c != '{') {
                char detail[48];
                snprintf(detail, sizeof detail, " (found '%c' (0x%02x))", c >= ' ' ? c : '?',
                         (unsigned char)c);
                return influxql_chunks_fail(chunks, error, error_size,
                                            "InfluxQL answer: a document must start with '{'",
                                            detail);
            }
            chunks->inside = true;
            chunks->depth = 0;
        }
        size_t start = at;
        bool complete = influxql_document_scan(chunks, data, length, &at);
        if (complete && chunks->document.length == 0) {
            /* The whole document is in data: parse it in place, without a copy. */
            chunks->inside = false;
            if (influxql_document_handle(chunks, data + start, at - start, error, error_size) != 0)
                return -1;
            continue;
        }
        if (chunks->document.length + (at - start) > INFLUXQL_CHUNKS_MAX_DOCUMENT)
            return influxql_chunks_fail(
                chunks, error, error_size,
                "InfluxQL answer: one JSON document is over 256 MiB: the server does not send "
                "the result in chunks (chunked=true)",
                NULL);
        if (buffer_append(&chunks->document, data + start, at - start) != 0)
            return influxql_chunks_fail(chunks, error, error_size,
                                        "out of memory buffering an InfluxQL answer", NULL);
        if (complete) {
            chunks->inside = false;
            int result = influxql_document_handle(chunks, chunks->document.data,
                                                  chunks->document.length, error, error_size);
            buffer_clear(&chunks->document);
            if (result != 0)
                return -1;
        }
    }
    return 0;
}

int influxql_chunks_finish(struct influxql_chunks *chunks, char *error, size_t error_size)
{
    if (chunks->failed)
        return influxql_chunks_fail(chunks, error, error_size,
                                    "InfluxQL answer: finished after a failure", NULL);
    if (chunks->inside) {
        char detail[64];
        snprintf(detail, sizeof detail, " (%zu bytes of document %zu)", chunks->document.length,
                 chunks->documents + 1);
        return influxql_chunks_fail(chunks, error, error_size,
                                    "InfluxQL answer: the body ended inside a JSON document",
                                    detail);
    }
    return 0;
}

int influxql_chunks_stop_value(const struct influxql_chunks *chunks)
{
    return chunks->stop_value;
}

size_t influxql_chunks_rows(const struct influxql_chunks *chunks)
{
    return chunks->rows;
}

size_t influxql_chunks_documents(const struct influxql_chunks *chunks)
{
    return chunks->documents;
}

int influxql_column_index(const cJSON *columns, const char *name)
{
    int index = 0;
    const cJSON *column;
    cJSON_ArrayForEach(column, columns)
    {
        if (cJSON_IsString(column) && strcmp(column->valuestring, name) == 0)
            return index;
        index++;
    }
    return -1;
}
