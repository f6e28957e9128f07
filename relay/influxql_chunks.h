/* The body of a chunked InfluxQL answer (InfluxDB 1.x /query?chunked=true): a sequence of JSON
 * documents, one per chunk, separated by newlines. A small state machine finds where each document
 * ends (tracking nesting, strings and escapes, so it does not matter how the bytes arrive), parses
 * it with cJSON and calls the row callback for every row of every series, so memory stays at one
 * chunk whatever the size of the result. An "error" in a document, in a result or in a statement
 * ends the stream with InfluxDB's text. */
#ifndef NEBENKOSTEN_RELAY_INFLUXQL_CHUNKS_H
#define NEBENKOSTEN_RELAY_INFLUXQL_CHUNKS_H

#include <stddef.h>

struct cJSON;

/* One row of an InfluxQL result: the series' measurement name and tags (GROUP BY tags; tags is a
 * cJSON object or NULL), the column names (cJSON array of strings) and the row's values (cJSON
 * array, in column order; times are RFC 3339 text exact to the nanosecond, because the client
 * asks without epoch=: cJSON keeps numbers as doubles, which cannot hold ns timestamps exactly).
 * All borrowed for the duration of the call. Return 0 to go on, non-zero to stop. */
typedef int (*influx_row_callback)(const char *measurement, const struct cJSON *tags,
                                   const struct cJSON *columns, const struct cJSON *values,
                                   void *argument);

struct influxql_chunks;

/* row and argument are borrowed. Returns an owned parser (influxql_chunks_destroy) or NULL when
 * out of memory. */
struct influxql_chunks *influxql_chunks_create(influx_row_callback row, void *argument);
void influxql_chunks_destroy(struct influxql_chunks *chunks);

/* Feeds data[0 .. length) (borrowed; any split, down to single bytes) and handles every document
 * it completes. Returns 0, or -1 with error: a JSON syntax error, an "error" InfluxDB sent, out of
 * memory, or the row callback's stop (then influxql_chunks_stop_value says its value). After -1
 * the parser accepts nothing more. */
int influxql_chunks_feed(struct influxql_chunks *chunks, const char *data, size_t length,
                         char *error, size_t error_size);

/* The end of the body: Returns 0, or -1 with error when a document is incomplete. */
int influxql_chunks_finish(struct influxql_chunks *chunks, char *error, size_t error_size);

/* The non-zero value the row callback stopped the stream with, else 0. */
int influxql_chunks_stop_value(const struct influxql_chunks *chunks);

/* The index of the column called name in a row callback's columns (borrowed), or -1. */
int influxql_column_index(const struct cJSON *columns, const char *name);

/* Rows handed to the callback and documents parsed so far. */
size_t influxql_chunks_rows(const struct influxql_chunks *chunks);
size_t influxql_chunks_documents(const struct influxql_chunks *chunks);

#endif
