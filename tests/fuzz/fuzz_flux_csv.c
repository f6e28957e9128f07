/* libFuzzer target for the annotated-CSV parser of Flux answers (InfluxDB 2.x /api/v2/query):
 * the first input byte chooses a split size, the rest is the body. The body is parsed whole and
 * again fed in pieces of that size. What must always hold: no crash or out-of-bounds read, every
 * record has its header's column count and non-NULL names, types and values, an error has a
 * message, and the split does not change the records nor the outcome. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/flux_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_flux_csv: invariant broken: %s\n", what);
        abort();
    }
}

static uint64_t fuzz_hash(uint64_t hash, const char *text)
{
    for (const char *p = text; *p; p++)
        hash = (hash ^ (unsigned char)*p) * 1099511628211u;
    return (hash ^ 0xff) * 1099511628211u;
}

static int fuzz_record(const struct flux_csv_record *record, void *argument)
{
    uint64_t *digest = argument;
    fuzz_require(record->count > 0, "a record has columns");
    *digest = (*digest ^ record->block ^ (record->count << 20)) * 1099511628211u;
    for (size_t i = 0; i < record->count; i++) {
        fuzz_require(record->names[i] && record->datatypes[i] && record->values[i],
                     "every column has a name, a type and a value");
        *digest = fuzz_hash(*digest, record->names[i]);
        *digest = fuzz_hash(*digest, record->datatypes[i]);
        *digest = fuzz_hash(*digest, record->values[i]);
    }
    return 0;
}

/* Parses body[0 .. length) in pieces of step bytes; returns the outcome (0 or -1). */
static int fuzz_parse(const char *body, size_t length, size_t step, uint64_t *digest,
                      size_t *records)
{
    *digest = 14695981039346656037u;
    struct flux_csv *csv = flux_csv_create(fuzz_record, digest);
    fuzz_require(csv != NULL, "memory");
    char error[256] = "";
    int result = 0;
    for (size_t at = 0; at < length && result == 0; at += step) {
        size_t piece = length - at < step ? length - at : step;
        result = flux_csv_feed(csv, body + at, piece, error, sizeof error);
    }
    if (result == 0)
        result = flux_csv_finish(csv, error, sizeof error);
    fuzz_require(result == 0 || error[0] != '\0', "an error has a message");
    *records = flux_csv_records(csv);
    flux_csv_destroy(csv);
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
    size_t whole_records, split_records;
    int whole = fuzz_parse(body, length, length ? length : 1, &whole_digest, &whole_records);
    int split = fuzz_parse(body, length, step, &split_digest, &split_records);
    fuzz_require(whole == split, "the split does not change the outcome");
    fuzz_require(whole_records == split_records && whole_digest == split_digest,
                 "the split does not change the records");
    free(body);
    return 0;
}
