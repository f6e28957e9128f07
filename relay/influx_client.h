/* The blocking InfluxDB client meter-batch uses (libcurl easy interface; never used on the relay's
 * loop): writes line protocol in batches, runs InfluxQL queries on v1 servers (GET /query with
 * chunked=true: one JSON document per chunk, each parsed with cJSON as it arrives, so a result of
 * any size is streamed, never buffered whole) and Flux queries on v2 servers (POST /api/v2/query,
 * annotated CSV parsed incrementally as it arrives). The two stream parsers are in
 * relay/influxql_chunks.h and relay/flux_csv.h.
 *
 * The target is a struct config_influxdb (url, api, org, token or username/password, timeout,
 * retry_attempts) — also usable for the relay itself, whose URL speaks both write APIs.
 * Every failure fills the caller's error buffer with one line a user can act on (the URL, the
 * HTTP status and InfluxDB's own error text, or curl's message).
 *
 * Requests: a token goes as `Authorization: Token ...`, else username/password as Basic auth; no
 * `Expect: 100-continue` round trip. Connection errors, 429 and 5xx are retried retry_attempts
 * times (so at most 1 + retry_attempts requests), after Retry-After when the server sends one (at
 * most INFLUX_CLIENT_MAX_RETRY_AFTER_S), else after 0.5 s, 1 s, 2 s, ... (at most 30 s). A query is
 * retried only while none of its answer has been handed on. timeout_ms bounds the connection and a
 * write request as a whole; a query answer, which may stream for long, may instead stall no longer
 * than timeout_ms (rounded up to whole seconds). */
#ifndef NEBENKOSTEN_RELAY_INFLUX_CLIENT_H
#define NEBENKOSTEN_RELAY_INFLUX_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/log.h"
#include "relay/buffer.h"
#include "relay/flux_csv.h"
#include "relay/influxql_chunks.h"

#define INFLUX_CLIENT_MAX_RETRY_AFTER_S 300
/* Rows per chunk asked of InfluxDB 1.x: one chunk is parsed at a time. */
#define INFLUX_CLIENT_CHUNK_SIZE 10000

struct influx_client;

/* target (borrowed, must outlive the client): URL, api, org, credentials, timeout and
 * retry_attempts. Returns an owned client (influx_client_destroy) or NULL with error. */
struct influx_client *influx_client_create(const struct config_influxdb *target, char *error,
                                           size_t error_size);
void influx_client_destroy(struct influx_client *client);

/* Retries are logged as warnings to logger (borrowed, must outlive the client; NULL: not logged,
 * the default). */
void influx_client_logger_set(struct influx_client *client, struct logger *logger);

/* What a 401 or 403 error says to fix, in place of INFLUX_TOKEN (or INFLUX_USERNAME and
 * INFLUX_PASSWORD) in the target's credentials file: for a target that is not InfluxDB (the
 * relay). hint is borrowed and must outlive the client. */
void influx_client_refusal_hint_set(struct influx_client *client, const char *hint);

/* Writes lines[0 .. length) (whole lines of line protocol, '\n'-separated, ns timestamps) to
 * database (v1: /write?db=DATABASE&precision=ns; v2: /api/v2/write?org=&bucket=DATABASE
 * &precision=ns), gzip-compressed. Returns 0 on 2xx, -1 with error otherwise (a 400 names
 * InfluxDB's reason). Borrowed arguments. */
int influx_client_write(struct influx_client *client, const char *database, const char *lines,
                        size_t length, char *error, size_t error_size);

/* A line-protocol writer that flushes to one database every max_lines lines or max_bytes bytes
 * (0: 5000 lines, 1 MiB), so callers can add points one at a time. client is borrowed, database
 * copied. Returns an owned writer or NULL when out of memory. */
struct influx_writer;
struct influx_writer *influx_writer_create(struct influx_client *client, const char *database,
                                           size_t max_lines, size_t max_bytes);
/* Appends one complete line (without '\n'; borrowed); may flush. Returns 0 or -1 with error (also
 * for a line holding '\n'). */
int influx_writer_add(struct influx_writer *writer, const char *line, size_t length, char *error,
                      size_t error_size);
/* Sends what is pending. Returns 0 or -1 with error (the lines stay pending). */
int influx_writer_flush(struct influx_writer *writer, char *error, size_t error_size);
/* Lines and bytes sent so far (successful requests only) and requests made (including failed and
 * retried ones). */
void influx_writer_counts(const struct influx_writer *writer, uint64_t *lines, uint64_t *bytes,
                          uint64_t *requests);
/* Frees the writer without flushing (call flush first). NULL is fine. */
void influx_writer_destroy(struct influx_writer *writer);

/* Runs an InfluxQL query on database (/query?db=&chunked=true&chunk_size=
 * INFLUX_CLIENT_CHUNK_SIZE, GET, or POST when the URL would be long) and calls row (see
 * relay/influxql_chunks.h; times come as RFC 3339 text) for each row as the chunks arrive. An
 * "error" in a result or statement is a failure. Returns 0, the callback's non-zero value, or -1
 * with error. Borrowed arguments. */
int influx_client_query_influxql(struct influx_client *client, const char *database,
                                 const char *query, influx_row_callback row, void *argument,
                                 char *error, size_t error_size);

/* Runs a Flux query (POST /api/v2/query?org=, Accept: application/csv, annotations
 * datatype,group,default, header) and calls record (see relay/flux_csv.h) for each record as the
 * CSV arrives. An error table or a non-2xx answer is a failure. Returns 0, the callback's non-zero
 * value, or -1 with error. Borrowed arguments. */
int influx_client_query_flux(struct influx_client *client, const char *flux,
                             influx_record_callback record, void *argument, char *error,
                             size_t error_size);

/* Runs an InfluxQL statement that changes data (DROP MEASUREMENT, DELETE, CREATE DATABASE) on
 * database, as a POST, which InfluxDB 1.x requires for those. Returns 0, or -1 with error (an
 * "error" in the answer included). Borrowed arguments. */
int influx_client_execute_influxql(struct influx_client *client, const char *database,
                                   const char *statement, char *error, size_t error_size);

/* Deletes every point of bucket matching predicate (InfluxDB 2.x delete predicate syntax, e.g.
 * _measurement="meter_consumption") from start to stop, both included (RFC 3339 texts; NULL: all
 * time): POST /api/v2/delete?org=&bucket=. Returns 0, or -1 with error. Borrowed arguments. */
int influx_client_delete_v2(struct influx_client *client, const char *bucket, const char *predicate,
                            const char *start, const char *stop, char *error, size_t error_size);

/* Requests made so far (each retry counts). */
uint64_t influx_client_requests(const struct influx_client *client);

/* Quote text (borrowed, NUL-terminated) into out (out_size bytes, NUL-terminated): an InfluxQL
 * identifier ("..."), an InfluxQL string literal ('...'), a Flux string literal ("..." with
 * ${ escaped). Return the length written, or -1 when out is too small. */
int influx_quote_identifier(const char *text, char *out, size_t out_size);
int influx_quote_string(const char *text, char *out, size_t out_size);
int influx_quote_flux_string(const char *text, char *out, size_t out_size);

/* The regular expression literal (/^...$/, as InfluxQL and Flux both write it) that matches what
 * the fnmatch(3) glob matches (`*`, `?`, `[...]` with `!` or `^`, backslash escapes): every other
 * regex character and '/' escaped. One difference remains: `?` and `[...]` match one byte in
 * fnmatch (C locale) but one UTF-8 character in InfluxDB's regex. Returns the length written, or
 * -1 when out (out_size bytes, NUL-terminated) is too small. */
int influx_glob_regex(const char *glob, char *out, size_t out_size);

/* Appends text (borrowed, NUL-terminated) quoted by quote (one of the functions above) to out,
 * without a NUL. Returns 0, or -1 when out of memory (out then holds what it held). */
int influx_quote_append(struct buffer *out, int (*quote)(const char *, char *, size_t),
                        const char *text);

#endif
