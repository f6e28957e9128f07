/* The body of a Flux answer (InfluxDB 2.x /api/v2/query, dialect header=true with the annotations
 * datatype, group and default): annotated CSV, parsed by a small state machine as the bytes arrive
 * (any split), so a result of any size streams through one record's worth of memory.
 *
 * What it understands (RFC 4180 plus InfluxDB's annotations): CRLF or LF line ends; quoted fields
 * with "" for a quote and with commas and line breaks inside; several tables, each block starting
 * with its annotation rows ('#' in the first column) and a header row, blocks separated by an
 * empty line; the leading annotation column (empty in header and records) is left out; an empty
 * value takes the column's #default; the error table (header `error,reference`) InfluxDB sends
 * when a query fails after the answer started, which ends the stream with its text. */
#ifndef NEBENKOSTEN_RELAY_FLUX_CSV_H
#define NEBENKOSTEN_RELAY_FLUX_CSV_H

#include <stddef.h>

/* One record of a Flux result, everything borrowed for the duration of the callback. */
struct flux_csv_record {
    const char *const *names;     /* the table's header: column names */
    const char *const *datatypes; /* the #datatype per column ("double", "long", "unsignedLong",
                                     "string", "boolean", "dateTime:RFC3339", ...); "" when the
                                     block has no #datatype row */
    const char *const *values;    /* the record's values as text, unquoted, #default applied */
    size_t count;                 /* entries in each of the three arrays */
    size_t block;                 /* which header block (0, 1, ...) the record belongs to */
};

/* Return 0 to go on, non-zero to stop. */
typedef int (*influx_record_callback)(const struct flux_csv_record *record, void *argument);

struct flux_csv;

/* record and argument are borrowed. Returns an owned parser (flux_csv_destroy) or NULL when out
 * of memory. */
struct flux_csv *flux_csv_create(influx_record_callback record, void *argument);
void flux_csv_destroy(struct flux_csv *csv);

/* Feeds data[0 .. length) (borrowed; any split) and handles every row it completes. Returns 0, or
 * -1 with error: malformed CSV, a record whose column count differs from its header's, InfluxDB's
 * error table, out of memory, or the record callback's stop (flux_csv_stop_value then says its
 * value). After -1 the parser accepts nothing more. */
int flux_csv_feed(struct flux_csv *csv, const char *data, size_t length, char *error,
                  size_t error_size);

/* The end of the body (a last row without a line end is fine). Returns 0, or -1 with error (the
 * body ended inside a quoted field, or the last row was bad as for feed). */
int flux_csv_finish(struct flux_csv *csv, char *error, size_t error_size);

/* The non-zero value the record callback stopped the stream with, else 0. */
int flux_csv_stop_value(const struct flux_csv *csv);

/* Records handed to the callback so far. */
size_t flux_csv_records(const struct flux_csv *csv);

#endif
