/* libFuzzer target for the chunked InfluxQL answer parser (InfluxDB 1.x /query?chunked=true):
 * the first input byte chooses a split size, the rest is the body. The body is parsed whole and
 * again fed in pieces of that size. What must always hold: no crash or out-of-bounds read, every
 * row comes with a columns array and a values array, an error has a message, and the split does
 * not change the rows, the documents nor the outcome. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/influxql_chunks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_influxql_chunks: invariant broken: %s\n", what);
        abort();
    }
}

static uint64_t fuzz_hash(uint64_t hash, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++)
        hash = (hash ^ (unsigned char)*p) * 1099511628211u;
    return (hash ^ 0xff) * 1099511628211u;
}

static int fuzz_row(const char *measurement, const cJSON *tags, const cJSON *columns,
                    const cJSON *values, void *argument)
{
    uint64_t *digest = argument;
    fuzz_require(cJSON_IsArray(columns) && cJSON_IsArray(values), "columns and values arrays");
    fuzz_require(tags == NULL || cJSON_IsObject(tags), "tags an object or NULL");
    *digest = fuzz_hash(*digest, measurement);
    char *text = cJSON_PrintUnformatted(values);
    fuzz_require(text != NULL, "memory");
    *digest = fuzz_hash(*digest, text);
    cJSON_free(text);
    (void)influxql_column_index(columns, "time");
    return 0;
}

/* Parses body[0 .. length) in pieces of step bytes; returns the outcome (0 or -1). */
static int fuzz_parse(const char *body, size_t length, size_t step, uint64_t *digest, size_t *rows,
                      size_t *documents)
{
    *digest = 14695981039346656037u;
    struct influxql_chunks *chunks = influxql_chunks_create(fuzz_row, digest);
    fuzz_require(chunks != NULL, "memory");
    char error[256] = "";
    int result = 0;
    for (size_t at = 0; at < length && result == 0; at += step) {
        size_t piece = length - at < step ? length - at : step;
        result = influxql_chunks_feed(chunks, body + at, piece, error, sizeof error);
    }
    if (result == 0)
        result = influxql_chunks_finish(chunks, error, sizeof error);
    fuzz_require(result == 0 || error[0] != '\0', "an error has a message");
    *rows = influxql_chunks_rows(chunks);
    *documents = influxql_chunks_documents(chunks);
    influxql_chunks_destroy(chunks);
    return result;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t step = (size_t)(data[0] % 16) + 1;
    size_t length = size - 1;
    /* An exactly sized copy: reads past the end are caught by ASan. */
    char *body = malloc(length ? length : 1);
    fuzz_require(body != NULL, "memory");
    memcpy(body, data + 1, length);
    uint64_t whole_digest, split_digest;
    size_t whole_rows, split_rows, whole_documents, split_documents;
    int whole =
        fuzz_parse(body, length, length ? length : 1, &whole_digest, &whole_rows, &whole_documents);
    int split = fuzz_parse(body, length, step, &split_digest, &split_rows, &split_documents);
    fuzz_require(whole == split, "the split does not change the outcome");
    fuzz_require(whole_rows == split_rows && whole_digest == split_digest &&
                     whole_documents == split_documents,
                 "the split does not change the rows");
    free(body);
    return 0;
}
