/* InfluxQL and Flux queries over the client's request runner, each answer fed to its stream
 * parser as it arrives; and the quoting both query languages need. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/influx_client.h"
#include "relay/influx_client_internal.h"

/* Longer GET URLs are refused by some proxies; the query then goes as a POST form. */
#define INFLUX_QUERY_MAX_GET_URL 4096

/* Feeds a 2xx answer to a stream parser and keeps the parser's message. */
struct influx_query_sink {
    struct influxql_chunks *chunks; /* one of the two */
    struct flux_csv *csv;
    char error[512];
};

static int influx_query_sink_feed(const char *data, size_t length, void *argument)
{
    struct influx_query_sink *sink = argument;
    if (sink->chunks)
        return influxql_chunks_feed(sink->chunks, data, length, sink->error, sizeof sink->error);
    return flux_csv_feed(sink->csv, data, length, sink->error, sizeof sink->error);
}

/* The request ran: the parser's end, its stop or its failure decide the result. */
static int influx_query_result(struct influx_query_sink *sink, int run, const char *what,
                               char *error, size_t error_size)
{
    if (run == -1)
        return -1;
    if (run == 0) {
        int finished = sink->chunks
                           ? influxql_chunks_finish(sink->chunks, sink->error, sizeof sink->error)
                           : flux_csv_finish(sink->csv, sink->error, sizeof sink->error);
        if (finished == 0)
            return 0;
    }
    int stop =
        sink->chunks ? influxql_chunks_stop_value(sink->chunks) : flux_csv_stop_value(sink->csv);
    if (stop != 0)
        return stop;
    snprintf(error, error_size, "%s: %s", what, sink->error);
    return -1;
}

/* "KIND \"QUERY...\" on URL" for messages: the query on one line (a line break and the
 * indentation after it become one space), shortened to 100 characters. */
static int influx_query_what(struct buffer *what, const char *kind, const char *query,
                             const char *url, size_t url_length)
{
    char head[160];
    size_t length = (size_t)snprintf(head, sizeof head, "%s \"", kind);
    const char *p = query;
    while (*p && length < 100 + strlen(kind) + 2) {
        if (*p == '\n' || *p == '\r') {
            head[length++] = ' ';
            while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
                p++;
            continue;
        }
        head[length++] = *p++;
    }
    length += (size_t)snprintf(head + length, sizeof head - length, "%s\" on ", *p ? "..." : "");
    if (buffer_append(what, head, length) != 0 || buffer_append(what, url, url_length) != 0 ||
        buffer_append(what, "", 1) != 0)
        return -1;
    return 0;
}

/* A query as GET (POST when the URL would be too long), or always POST: InfluxDB 1.x refuses
 * statements that change data (DROP, DELETE, CREATE) over GET. */
static int influxql_run(struct influx_client *client, const char *database, const char *query,
                        influx_row_callback row, void *argument, bool force_post, char *error,
                        size_t error_size)
{
    struct buffer url = BUFFER_INITIALIZER, what = BUFFER_INITIALIZER, body = BUFFER_INITIALIZER;
    struct influx_query_sink sink = {.chunks = influxql_chunks_create(row, argument)};
    char tail[64];
    int tail_length =
        snprintf(tail, sizeof tail, "&chunked=true&chunk_size=%d", INFLUX_CLIENT_CHUNK_SIZE);
    int result = -1;
    const char *url_text = client->target->url;
    if (!sink.chunks || buffer_append(&url, url_text, strlen(url_text)) != 0 ||
        buffer_append(&url, "/query?db=", 10) != 0 ||
        influx_url_append_encoded(client, &url, database) != 0 ||
        influx_query_what(&what, "InfluxQL query", query, url.data, url.length) != 0 ||
        buffer_append(&url, tail, (size_t)tail_length) != 0 || buffer_append(&body, "q=", 2) != 0 ||
        influx_url_append_encoded(client, &body, query) != 0)
        goto out_of_memory;
    /* Without epoch= the times come as RFC 3339 text, exact to the ns (see influxql_chunks.h). */
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    struct influx_request request = {
        .what = what.data,
        .url = url.data,
        .streaming = true,
        .sink = influx_query_sink_feed,
        .sink_argument = &sink,
    };
    if (!force_post && url.length + 1 + body.length < INFLUX_QUERY_MAX_GET_URL) {
        if (buffer_append(&url, "&", 1) != 0 || buffer_append(&url, body.data, body.length) != 0)
            goto out_of_memory;
    } else {
        request.post = true;
        request.body = body.data;
        request.body_length = body.length;
        request.headers = form;
    }
    if (buffer_append(&url, "", 1) != 0)
        goto out_of_memory;
    request.url = url.data;
    int run = influx_request_run(client, &request, error, error_size);
    result = influx_query_result(&sink, run, what.data, error, error_size);
    goto cleanup;
out_of_memory:
    snprintf(error, error_size, "out of memory preparing an InfluxQL query for %s",
             client->target->url);
cleanup:
    influxql_chunks_destroy(sink.chunks);
    buffer_release(&url);
    buffer_release(&what);
    buffer_release(&body);
    return result;
}

int influx_client_query_influxql(struct influx_client *client, const char *database,
                                 const char *query, influx_row_callback row, void *argument,
                                 char *error, size_t error_size)
{
    return influxql_run(client, database, query, row, argument, false, error, error_size);
}

static int influxql_row_ignore(const char *measurement, const struct cJSON *tags,
                               const struct cJSON *columns, const struct cJSON *values,
                               void *argument)
{
    (void)measurement;
    (void)tags;
    (void)columns;
    (void)values;
    (void)argument;
    return 0;
}

int influx_client_execute_influxql(struct influx_client *client, const char *database,
                                   const char *statement, char *error, size_t error_size)
{
    return influxql_run(client, database, statement, influxql_row_ignore, NULL, true, error,
                        error_size);
}

int influx_client_delete_v2(struct influx_client *client, const char *bucket, const char *predicate,
                            const char *start, const char *stop, char *error, size_t error_size)
{
    struct buffer url = BUFFER_INITIALIZER;
    const char *url_text = client->target->url;
    const char *org = client->target->org ? client->target->org : "";
    cJSON *root = cJSON_CreateObject();
    char *body = NULL;
    int result = -1;
    if (!root ||
        !cJSON_AddStringToObject(root, "start", start ? start : "1677-09-21T00:12:43.145224194Z") ||
        !cJSON_AddStringToObject(root, "stop", stop ? stop : "2262-04-11T23:47:16.854775806Z") ||
        !cJSON_AddStringToObject(root, "predicate", predicate) ||
        !(body = cJSON_PrintUnformatted(root)) ||
        buffer_append(&url, url_text, strlen(url_text)) != 0 ||
        buffer_append(&url, "/api/v2/delete?org=", 19) != 0 ||
        influx_url_append_encoded(client, &url, org) != 0 ||
        buffer_append(&url, "&bucket=", 8) != 0 ||
        influx_url_append_encoded(client, &url, bucket) != 0 || buffer_append(&url, "", 1) != 0) {
        snprintf(error, error_size, "out of memory preparing a delete for %s", url_text);
        goto cleanup;
    }
    const char *json[] = {"Content-Type: application/json", NULL};
    char what[600];
    snprintf(what, sizeof what, "POST %.500s", url.data);
    struct influx_request request = {
        .what = what,
        .url = url.data,
        .post = true,
        .body = body,
        .body_length = strlen(body),
        .headers = json,
    };
    result = influx_request_run(client, &request, error, error_size) == 0 ? 0 : -1;
cleanup:
    cJSON_Delete(root);
    cJSON_free(body);
    buffer_release(&url);
    return result;
}

/* {"query": flux, "dialect": {"annotations": [...], "header": true}} as owned text, or NULL. */
static char *influx_flux_body(const char *flux)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *dialect = cJSON_CreateObject();
    const char *annotations[] = {"datatype", "group", "default"};
    cJSON *list = cJSON_CreateStringArray(annotations, 3);
    char *text = NULL;
    if (!root || !dialect || !list) {
        cJSON_Delete(dialect);
        cJSON_Delete(list);
        goto cleanup;
    }
    cJSON_AddItemToObject(dialect, "annotations", list);
    cJSON_AddItemToObject(root, "dialect", dialect);
    if (cJSON_AddStringToObject(root, "query", flux) &&
        cJSON_AddStringToObject(root, "type", "flux") &&
        cJSON_AddBoolToObject(dialect, "header", 1))
        text = cJSON_PrintUnformatted(root);
cleanup:
    cJSON_Delete(root);
    return text;
}

int influx_client_query_flux(struct influx_client *client, const char *flux,
                             influx_record_callback record, void *argument, char *error,
                             size_t error_size)
{
    struct buffer url = BUFFER_INITIALIZER, what = BUFFER_INITIALIZER;
    struct influx_query_sink sink = {.csv = flux_csv_create(record, argument)};
    char *body = influx_flux_body(flux);
    int result = -1;
    const char *url_text = client->target->url;
    if (!sink.csv || !body || buffer_append(&url, url_text, strlen(url_text)) != 0 ||
        buffer_append(&url, "/api/v2/query", 13) != 0)
        goto out_of_memory;
    if (client->target->org && (buffer_append(&url, "?org=", 5) != 0 ||
                                influx_url_append_encoded(client, &url, client->target->org) != 0))
        goto out_of_memory;
    if (buffer_append(&url, "", 1) != 0 ||
        influx_query_what(&what, "Flux query", flux, url.data, url.length - 1) != 0)
        goto out_of_memory;
    const char *headers[] = {"Content-Type: application/json", "Accept: application/csv", NULL};
    struct influx_request request = {
        .what = what.data,
        .url = url.data,
        .post = true,
        .body = body,
        .body_length = strlen(body),
        .headers = headers,
        .streaming = true,
        .sink = influx_query_sink_feed,
        .sink_argument = &sink,
    };
    int run = influx_request_run(client, &request, error, error_size);
    result = influx_query_result(&sink, run, what.data, error, error_size);
    goto cleanup;
out_of_memory:
    snprintf(error, error_size, "out of memory preparing a Flux query for %s", client->target->url);
cleanup:
    flux_csv_destroy(sink.csv);
    cJSON_free(body);
    buffer_release(&url);
    buffer_release(&what);
    return result;
}

/* Bounded output for the quoting functions: overflow is remembered, checked once at the end. */
struct influx_text_out {
    char *data;
    size_t size, length;
    bool overflow;
};

static void influx_text_put(struct influx_text_out *out, char c)
{
    if (out->length + 1 >= out->size) {
        out->overflow = true;
        return;
    }
    out->data[out->length++] = c;
}

static int influx_text_end(struct influx_text_out *out)
{
    if (out->size == 0 || out->overflow) {
        if (out->size)
            out->data[0] = '\0';
        return -1;
    }
    out->data[out->length] = '\0';
    return (int)out->length;
}

/* InfluxQL's scanner knows \\, \", \' and \n in quoted text; a raw line break ends a query. */
static int influx_quote_influxql(const char *text, char quote, char *out, size_t out_size)
{
    struct influx_text_out o = {out, out_size, 0, false};
    influx_text_put(&o, quote);
    for (const char *p = text; *p; p++) {
        if (*p == '\\' || *p == quote || *p == '\n')
            influx_text_put(&o, '\\');
        influx_text_put(&o, *p == '\n' ? 'n' : *p);
    }
    influx_text_put(&o, quote);
    return influx_text_end(&o);
}

int influx_quote_identifier(const char *text, char *out, size_t out_size)
{
    return influx_quote_influxql(text, '"', out, out_size);
}

int influx_quote_append(struct buffer *out, int (*quote)(const char *, char *, size_t),
                        const char *text)
{
    size_t size = 2 * strlen(text) + 8; /* each character at most doubles; quotes, anchors */
    if (buffer_reserve(out, size) != 0)
        return -1;
    int length = quote(text, out->data + out->length, size);
    if (length < 0)
        return -1;
    out->length += (size_t)length;
    return 0;
}

int influx_quote_string(const char *text, char *out, size_t out_size)
{
    return influx_quote_influxql(text, '\'', out, out_size);
}

int influx_quote_flux_string(const char *text, char *out, size_t out_size)
{
    struct influx_text_out o = {out, out_size, 0, false};
    influx_text_put(&o, '"');
    for (const char *p = text; *p; p++) {
        char c = *p;
        const char *escaped = c == '\\'                 ? "\\\\"
                              : c == '"'                ? "\\\""
                              : c == '\n'               ? "\\n"
                              : c == '\r'               ? "\\r"
                              : c == '\t'               ? "\\t"
                              : c == '$' && p[1] == '{' ? "\\$" /* no interpolation */
                                                        : NULL;
        if (!escaped) {
            influx_text_put(&o, c);
            continue;
        }
        for (; *escaped; escaped++)
            influx_text_put(&o, *escaped);
    }
    influx_text_put(&o, '"');
    return influx_text_end(&o);
}

/* A character outside a bracket expression, matched literally. */
static void influx_regex_literal(struct influx_text_out *o, char c)
{
    if (c == '/') {
        influx_text_put(o, '\\'); /* the literal's delimiter */
    } else if (strchr("\\.+*?()|[]{}^$", c) && c != '\0') {
        influx_text_put(o, '\\');
    }
    influx_text_put(o, c);
}

/* A bracket expression of fnmatch from glob[at] == '['. Returns where it ends (after ']'), or at
 * itself when it is not closed (then '[' is a plain character, as fnmatch takes it). */
static size_t influx_regex_bracket(struct influx_text_out *o, const char *glob, size_t at)
{
    size_t i = at + 1;
    bool negated = glob[i] == '!' || glob[i] == '^';
    if (negated)
        i++;
    size_t first = i;
    /* Find the end first: ']' right after the opening (or its negation) is a member. */
    size_t end = i;
    for (; glob[end]; end++) {
        if (glob[end] == ']' && end > first)
            break;
        if (glob[end] == '[' && glob[end + 1] == ':') {
            const char *close = strstr(glob + end + 2, ":]");
            if (close)
                end = (size_t)(close - glob) + 1;
        } else if (glob[end] == '\\' && glob[end + 1]) {
            end++;
        }
    }
    if (!glob[end])
        return at;
    influx_text_put(o, '[');
    if (negated)
        influx_text_put(o, '^');
    for (i = first; i < end; i++) {
        char c = glob[i];
        if (c == '[' && glob[i + 1] == ':') {
            const char *close = strstr(glob + i + 2, ":]");
            for (; glob + i < close + 2; i++)
                influx_text_put(o, glob[i]);
            i--;
            continue;
        }
        bool escaped = c == '\\' && glob[i + 1];
        if (escaped)
            c = glob[++i];
        if (c == '-' && !escaped && i > first && i + 1 < end) {
            influx_text_put(o, '-'); /* a range */
            continue;
        }
        if (c == '/' || c == '\\' || c == ']' || c == '[' || c == '^' || c == '-')
            influx_text_put(o, '\\');
        influx_text_put(o, c);
    }
    influx_text_put(o, ']');
    return end + 1;
}

int influx_glob_regex(const char *glob, char *out, size_t out_size)
{
    struct influx_text_out o = {out, out_size, 0, false};
    influx_text_put(&o, '/');
    influx_text_put(&o, '^');
    for (size_t i = 0; glob[i];) {
        char c = glob[i];
        if (c == '*') {
            influx_text_put(&o, '.');
            influx_text_put(&o, '*');
            i++;
        } else if (c == '?') {
            influx_text_put(&o, '.');
            i++;
        } else if (c == '[') {
            size_t end = influx_regex_bracket(&o, glob, i);
            if (end == i) {
                influx_regex_literal(&o, '[');
                i++;
            } else {
                i = end;
            }
        } else if (c == '\\' && glob[i + 1]) {
            influx_regex_literal(&o, glob[i + 1]);
            i += 2;
        } else {
            influx_regex_literal(&o, c);
            i++;
        }
    }
    influx_text_put(&o, '$');
    influx_text_put(&o, '/');
    return influx_text_end(&o);
}
