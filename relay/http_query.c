/* GET|POST /query and GET /metrics: the read endpoints of spec/wire.md that do not touch the
 * write path. A q made only of CREATE DATABASE and SHOW DATABASES is answered here (CREATE
 * DATABASE also goes to every v1 upstream); any other goes as a whole to the query upstream
 * (http_query_proxy.c). */
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "config/utf8.h"
#include "relay/buffer.h"
#include "relay/http_auth.h"
#include "relay/http_query_format.h"
#include "relay/http_query_proxy.h"
#include "relay/http_server.h"
#include "relay/lineproto.h"
#include "relay/metrics.h"
#include "relay/relay.h"
#include "relay/upstream.h"

/* More statements in one q than any dashboard sends; bounds the work of one request. */
#define HTTP_QUERY_STATEMENTS_MAX 64
#define HTTP_QUERY_MESSAGE_SIZE 512

enum http_query_kind { HTTP_QUERY_CREATE_DATABASE, HTTP_QUERY_SHOW_DATABASES };

/* One statement of q; name points into the statement text (still quoted/escaped when quoted). */
struct http_query_statement {
    enum http_query_kind kind;
    const char *name;
    size_t name_length;
    bool name_quoted;
};

/* A cursor over one statement: (pointer, length), never NUL-terminated on its own. */
struct http_query_scanner {
    const char *text;
    size_t length;
    size_t position;
};

enum http_query_result { HTTP_QUERY_OK, HTTP_QUERY_INVALID, HTTP_QUERY_UNSUPPORTED };

static bool http_query_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool http_query_is_identifier(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

static void http_query_spaces_skip(struct http_query_scanner *scanner)
{
    while (scanner->position < scanner->length &&
           http_query_is_space(scanner->text[scanner->position]))
        scanner->position++;
}

/* Consumes keyword (case-insensitive) when it is the next whole word. */
static bool http_query_keyword_take(struct http_query_scanner *scanner, const char *keyword,
                                    size_t keyword_length)
{
    http_query_spaces_skip(scanner);
    size_t rest = scanner->length - scanner->position;
    const char *at = scanner->text + scanner->position;
    if (rest < keyword_length || strncasecmp(at, keyword, keyword_length) != 0)
        return false;
    if (rest > keyword_length && http_query_is_identifier(at[keyword_length], false))
        return false;
    scanner->position += keyword_length;
    return true;
}

#define HTTP_QUERY_KEYWORD(scanner, word) http_query_keyword_take(scanner, word, sizeof word - 1)

/* Describes what the scanner is looking at, for "found X" in error messages. */
static void http_query_found_describe(const struct http_query_scanner *scanner, char *out,
                                      size_t size)
{
    size_t start = scanner->position;
    size_t end = start;
    while (end < scanner->length && !http_query_is_space(scanner->text[end]) && end - start < 32)
        end++;
    if (end == start) {
        snprintf(out, size, "EOF");
        return;
    }
    /* Rendered as the parse errors render names (a byte that is not UTF-8 as \xNN, cut between
     * characters), without their quotes: the message goes into a JSON body. */
    char quoted[HTTP_QUERY_MESSAGE_SIZE];
    size_t length = lineproto_quote(quoted, sizeof quoted, scanner->text + start, end - start,
                                    size > 3 ? size - 3 : 3);
    snprintf(out, size, "%.*s", length >= 2 ? (int)(length - 2) : 0, quoted + 1);
}

/* Reads a database name: bare identifier or "double quoted" with backslash escapes. */
static int http_query_name_take(struct http_query_scanner *scanner,
                                struct http_query_statement *statement)
{
    http_query_spaces_skip(scanner);
    const char *text = scanner->text;
    size_t start = scanner->position;
    if (start < scanner->length && text[start] == '"') {
        size_t end = start + 1;
        while (end < scanner->length && text[end] != '"') {
            if (text[end] == '\\') {
                /* InfluxQL knows only these four; it refuses the query on any other. */
                if (end + 1 < scanner->length && !strchr("\\\"'n", text[end + 1])) {
                    scanner->position = end;
                    return -1;
                }
                end++;
            }
            end++;
        }
        if (end >= scanner->length || end == start + 1)
            return -1;
        statement->name = text + start + 1;
        statement->name_length = end - start - 1;
        statement->name_quoted = true;
        scanner->position = end + 1;
        return 0;
    }
    size_t end = start;
    while (end < scanner->length && http_query_is_identifier(text[end], end == start))
        end++;
    if (end == start)
        return -1;
    statement->name = text + start;
    statement->name_length = end - start;
    statement->name_quoted = false;
    scanner->position = end;
    return 0;
}

/* Recognises one statement (text borrowed, length bytes, whitespace allowed around it). */
static enum http_query_result http_query_statement_parse(const char *text, size_t length,
                                                         struct http_query_statement *statement,
                                                         char *message, size_t message_size)
{
    struct http_query_scanner scanner = {.text = text, .length = length};
    char found[48];
    if (HTTP_QUERY_KEYWORD(&scanner, "CREATE")) {
        if (!HTTP_QUERY_KEYWORD(&scanner, "DATABASE"))
            return HTTP_QUERY_UNSUPPORTED; /* CREATE USER, CREATE RETENTION POLICY, ... */
        statement->kind = HTTP_QUERY_CREATE_DATABASE;
        if (http_query_name_take(&scanner, statement) != 0) {
            http_query_found_describe(&scanner, found, sizeof found);
            snprintf(message, message_size,
                     "error parsing query: found %s, expected a database name (bare or "
                     "\"double quoted\") at char %zu",
                     found, scanner.position + 1);
            return HTTP_QUERY_INVALID;
        }
        /* WITH DURATION/REPLICATION/SHARD DURATION/NAME: retention is the upstream's business. */
        http_query_spaces_skip(&scanner);
        if (scanner.position == scanner.length || HTTP_QUERY_KEYWORD(&scanner, "WITH"))
            return HTTP_QUERY_OK;
        http_query_found_describe(&scanner, found, sizeof found);
        snprintf(message, message_size,
                 "error parsing query: found %s, expected WITH or ; at char %zu", found,
                 scanner.position + 1);
        return HTTP_QUERY_INVALID;
    }
    scanner.position = 0;
    if (HTTP_QUERY_KEYWORD(&scanner, "SHOW") && HTTP_QUERY_KEYWORD(&scanner, "DATABASES")) {
        statement->kind = HTTP_QUERY_SHOW_DATABASES;
        http_query_spaces_skip(&scanner);
        if (scanner.position == scanner.length)
            return HTTP_QUERY_OK;
        http_query_found_describe(&scanner, found, sizeof found);
        snprintf(message, message_size, "error parsing query: found %s, expected ; at char %zu",
                 found, scanner.position + 1);
        return HTTP_QUERY_INVALID;
    }
    return HTTP_QUERY_UNSUPPORTED;
}

/* Splits q (borrowed, length bytes) at ';' outside double quotes and parses every non-empty
 * statement into statements (caller-owned, HTTP_QUERY_STATEMENTS_MAX). UNSUPPORTED as soon as one
 * statement is not the relay's, even after an invalid one: the upstream then judges them all. */
static enum http_query_result http_query_statements_parse(const char *q, size_t length,
                                                          struct http_query_statement *statements,
                                                          size_t *count, char *message,
                                                          size_t message_size)
{
    *count = 0;
    size_t start = 0;
    bool quoted = false, invalid = false;
    for (size_t i = 0; i <= length; i++) {
        if (i < length) {
            if (q[i] == '\\' && quoted) {
                i++;
                continue;
            }
            if (q[i] == '"')
                quoted = !quoted;
            if (q[i] != ';' || quoted)
                continue;
        }
        struct http_query_scanner blank = {.text = q + start, .length = i - start};
        http_query_spaces_skip(&blank);
        if (blank.position < blank.length) {
            struct http_query_statement statement;
            char found[HTTP_QUERY_MESSAGE_SIZE];
            enum http_query_result result =
                http_query_statement_parse(q + start, i - start, &statement, found, sizeof found);
            if (result == HTTP_QUERY_UNSUPPORTED)
                return result;
            if (!invalid && result == HTTP_QUERY_INVALID) {
                snprintf(message, message_size, "%s", found);
                invalid = true;
            } else if (!invalid && *count == HTTP_QUERY_STATEMENTS_MAX) {
                snprintf(message, message_size, "too many statements: at most %d per request",
                         HTTP_QUERY_STATEMENTS_MAX);
                invalid = true;
            } else if (!invalid) {
                statements[(*count)++] = statement;
            }
        }
        start = i + 1;
    }
    if (invalid)
        return HTTP_QUERY_INVALID;
    if (*count == 0) {
        snprintf(message, message_size, "error parsing query: found EOF, expected a statement");
        return HTTP_QUERY_INVALID;
    }
    return HTTP_QUERY_OK;
}

/* The name without quotes and escapes; returns an owned string or NULL. */
static char *http_query_name_copy(const struct http_query_statement *statement)
{
    char *name = malloc(statement->name_length + 1);
    if (!name)
        return NULL;
    size_t out = 0;
    for (size_t i = 0; i < statement->name_length; i++) {
        if (statement->name_quoted && statement->name[i] == '\\' &&
            i + 1 < statement->name_length) {
            i++;
            if (statement->name[i] == 'n') {
                name[out++] = '\n';
                continue;
            }
        }
        name[out++] = statement->name[i];
    }
    name[out] = '\0';
    return name;
}

static bool http_query_database_listed(const cJSON *values, const char *name)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, values)
    {
        const cJSON *first = cJSON_GetArrayItem(row, 0);
        if (cJSON_IsString(first) && strcmp(first->valuestring, name) == 0)
            return true;
    }
    return false;
}

/* Appends ["name"] to values unless present. Returns 0 or -1 (out of memory). */
static int http_query_database_add(cJSON *values, const char *name)
{
    if (!name || http_query_database_listed(values, name))
        return 0;
    cJSON *row = cJSON_CreateArray();
    if (!row || !cJSON_AddItemToArray(values, row)) {
        cJSON_Delete(row);
        return -1;
    }
    cJSON *item = cJSON_CreateString(name);
    if (!item || !cJSON_AddItemToArray(row, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

/* The series of SHOW DATABASES: the configured buckets, then the created databases. */
static cJSON *http_query_databases_series(struct relay *relay)
{
    const struct config_influxdb *influxdb = &relay_config(relay)->influxdb;
    cJSON *series = cJSON_CreateObject();
    if (!series)
        return NULL;
    cJSON_AddStringToObject(series, "name", "databases");
    cJSON *columns = cJSON_AddArrayToObject(series, "columns");
    cJSON *column = cJSON_CreateString("name");
    if (!columns || !column || !cJSON_AddItemToArray(columns, column)) {
        cJSON_Delete(column);
        cJSON_Delete(series);
        return NULL;
    }
    cJSON *values = cJSON_AddArrayToObject(series, "values");
    if (!values || http_query_database_add(values, influxdb->bucket_raw) != 0 ||
        http_query_database_add(values, influxdb->bucket_processed) != 0) {
        cJSON_Delete(series);
        return NULL;
    }
    const cJSON *created;
    cJSON_ArrayForEach(created, relay_databases(relay))
    {
        if (http_query_database_add(values, created->valuestring) != 0) {
            cJSON_Delete(series);
            return NULL;
        }
    }
    return series;
}

/* What InfluxDB's meta.ValidName accepts: not empty, "." or "..", no '/' or '\\' (a database is a
 * directory, and db/rp names a retention policy), and only printable characters. Printable is Go's
 * unicode.IsPrint; the characters checked here are those a name can carry by accident: ASCII and
 * C1 control characters, spaces other than ' ', line and paragraph separators, soft hyphen and
 * byte order mark. */
static bool http_query_database_name_valid(const char *name)
{
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    const char *end = name + strlen(name);
    for (const char *p = name; p < end;) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7F || c == '/' || c == '\\')
            return false;
        size_t length = c < 0x80 ? 1 : utf8_sequence_length(p, end);
        if (length == 0) {
            p++; /* Go reads an invalid byte as U+FFFD, which is printable */
            continue;
        }
        uint32_t code = length == 1 ? c : (uint32_t)(c & (0xFF >> (length + 1)));
        for (size_t i = 1; i < length; i++)
            code = code << 6 | ((unsigned char)p[i] & 0x3F);
        if ((code >= 0x80 && code <= 0xA0) || code == 0xAD || code == 0x1680 ||
            (code >= 0x2000 && code <= 0x200F) || (code >= 0x2028 && code <= 0x202F) ||
            code == 0x205F || code == 0x3000 || code == 0xFEFF)
            return false;
        p += length;
    }
    return true;
}

/* Runs one statement and adds its result to results. Returns 0, 1 when the statement failed (the
 * rest are not run, as InfluxDB stops at the first failing statement) or -1 (out of memory). */
static int http_query_statement_run(struct relay *relay,
                                    const struct http_query_statement *statement, size_t index,
                                    bool last, cJSON *results)
{
    cJSON *result = cJSON_CreateObject();
    if (!result || !cJSON_AddItemToArray(results, result)) {
        cJSON_Delete(result);
        return -1;
    }
    if (!cJSON_AddNumberToObject(result, "statement_id", (double)index))
        return -1;
    if (statement->kind == HTTP_QUERY_CREATE_DATABASE) {
        char *name = http_query_name_copy(statement);
        if (!name)
            return -1;
        if (!http_query_database_name_valid(name)) {
            free(name);
            /* InfluxDB 1.x answers with the error on the statement. When more statements follow,
             * its executor sends "not executed" under the same statement id, which replaces it. */
            return cJSON_AddStringToObject(result, "error", last ? "invalid name" : "not executed")
                       ? 1
                       : -1;
        }
        http_query_proxy_database_create(relay, name);
        cJSON *databases = relay_databases(relay);
        bool known = false;
        const cJSON *created;
        cJSON_ArrayForEach(created, databases)
        {
            if (strcmp(created->valuestring, name) == 0)
                known = true;
        }
        cJSON *item = known ? NULL : cJSON_CreateString(name);
        free(name);
        if (known)
            return 0;
        if (!item || !cJSON_AddItemToArray(databases, item)) {
            cJSON_Delete(item);
            return -1;
        }
        return 0;
    }
    cJSON *series = cJSON_AddArrayToObject(result, "series");
    cJSON *databases = http_query_databases_series(relay);
    if (!series || !databases || !cJSON_AddItemToArray(series, databases)) {
        cJSON_Delete(databases);
        return -1;
    }
    return 0;
}

/* Answers in CSV when the client's Accept asks for it, as InfluxDB does (clients that read CSV
 * get it from the query upstream too, which sees the same Accept); error bodies stay JSON. */
static void http_query_statements_run(struct relay *relay,
                                      const struct http_query_statement *statements, size_t count,
                                      struct http_request *request)
{
    enum http_query_format format = http_query_format_negotiate(
        evhttp_find_header(http_request_input_headers(request), "Accept"));
    cJSON *object = cJSON_CreateObject();
    cJSON *results = object ? cJSON_AddArrayToObject(object, "results") : NULL;
    char *text = NULL;
    struct buffer csv = BUFFER_INITIALIZER;
    bool failed = !results;
    for (size_t i = 0; i < count && !failed; i++) {
        int status = http_query_statement_run(relay, &statements[i], i, i + 1 == count, results);
        failed = status < 0;
        if (status > 0)
            break;
    }
    if (!failed && format == HTTP_QUERY_FORMAT_JSON)
        failed = (text = cJSON_PrintUnformatted(object)) == NULL;
    else if (!failed)
        failed = http_query_format_csv(object, &csv) != 0;
    cJSON_Delete(object);
    if (failed) {
        buffer_release(&csv);
        http_reply_unavailable(request, HTTP_DIALECT_V1, "out of memory");
        return;
    }
    if (text) {
        http_reply_json(request, 200, text, strlen(text));
        cJSON_free(text);
        return;
    }
    struct evkeyvalq *headers = http_request_output_headers(request);
    evhttp_remove_header(headers, "Content-Type");
    evhttp_add_header(headers, "Content-Type", http_query_format_content_type(format));
    if (csv.length > 0)
        http_request_reply_data(request, 200, csv.data, csv.length);
    else
        http_request_reply(request, 200, NULL); /* CREATE DATABASE alone: an empty body */
    buffer_release(&csv);
}

static bool http_query_form_posted(struct http_request *request)
{
    static const char form[] = "application/x-www-form-urlencoded";
    const char *type = evhttp_find_header(http_request_input_headers(request), "Content-Type");
    return type && strncasecmp(type, form, sizeof form - 1) == 0 &&
           (type[sizeof form - 1] == '\0' || type[sizeof form - 1] == ';' ||
            type[sizeof form - 1] == ' ');
}

/* Parses the form body of a POST into form (caller-initialised). Returns 0 or -1. */
static int http_query_form_parse(struct http_request *request, struct evkeyvalq *form)
{
    struct evbuffer *input = http_request_body(request);
    size_t length = evbuffer_get_length(input);
    char *body = malloc(length + 1);
    if (!body)
        return -1;
    /* http_query_parse wants a NUL-terminated "a=b&c=d". */
    if (evbuffer_copyout(input, body, length) != (ev_ssize_t)length) {
        free(body);
        return -1;
    }
    body[length] = '\0';
    int status = http_query_parse(body, form);
    free(body);
    return status;
}

static const char *http_query_parameter(struct evkeyvalq *form, struct evkeyvalq *parameters,
                                        const char *key)
{
    const char *value = evhttp_find_header(form, key);
    return value ? value : evhttp_find_header(parameters, key);
}

void http_query_handle(struct relay *relay, struct http_request *request, const char *query)
{
    struct evkeyvalq parameters;
    struct evkeyvalq form;
    TAILQ_INIT(&parameters);
    TAILQ_INIT(&form);
    int parsed = query ? http_query_parse(query, &parameters) : 0;
    if (parsed != 0) {
        http_reply_error(request, HTTP_DIALECT_V1, 400, "invalid",
                         HTTP_QUERY_PARSE_MESSAGE(parsed));
        goto cleanup;
    }
    if (http_request_method(request) == HTTP_REQUEST_POST && http_query_form_posted(request) &&
        http_query_form_parse(request, &form) != 0) {
        http_reply_error(request, HTTP_DIALECT_V1, 400, "invalid",
                         "cannot parse the application/x-www-form-urlencoded body");
        goto cleanup;
    }
    struct http_auth_request credentials = {
        .authorization = evhttp_find_header(http_request_input_headers(request), "Authorization"),
        .user = http_query_parameter(&form, &parameters, "u"),
        .password = http_query_parameter(&form, &parameters, "p"),
    };
    if (!http_auth_allows(&relay_config(relay)->relay, HTTP_DIALECT_V1, &credentials)) {
        evhttp_add_header(http_request_output_headers(request), "WWW-Authenticate",
                          "Basic realm=\"InfluxDB\"");
        http_reply_error(request, HTTP_DIALECT_V1, 401, "unauthorized", "authorization failed");
        goto cleanup;
    }
    const char *q = http_query_parameter(&form, &parameters, "q");
    if (!q) {
        http_reply_error(request, HTTP_DIALECT_V1, 400, "invalid",
                         "missing required parameter \"q\"");
        goto cleanup;
    }
    struct http_query_statement statements[HTTP_QUERY_STATEMENTS_MAX];
    size_t count = 0;
    char message[HTTP_QUERY_MESSAGE_SIZE];
    /* q is libevent's decoded copy, NUL-terminated; from here on it is a (pointer, length). */
    enum http_query_result result =
        http_query_statements_parse(q, strlen(q), statements, &count, message, sizeof message);
    /* The relay's own credentials go only with a query that brings none and does not come from a
     * web page. A browser sends Origin with every cross-site POST (a form needs no preflight) and
     * CORS GET, so any page opened on the LAN could read, or drop, the query upstream's databases
     * with the relay's rights. Grafana's server-side proxy deletes Origin; the influx CLI, curl
     * and the client libraries send none. */
    bool lend_credentials = !credentials.authorization && !credentials.user &&
                            !credentials.password &&
                            !evhttp_find_header(http_request_input_headers(request), "Origin");
    if (result == HTTP_QUERY_UNSUPPORTED)
        http_query_proxy_forward(relay, request, query, lend_credentials);
    else if (result == HTTP_QUERY_INVALID)
        http_reply_error(request, HTTP_DIALECT_V1, 400, "invalid", message);
    else
        http_query_statements_run(relay, statements, count, request);
cleanup:
    evhttp_clear_headers(&form);
    evhttp_clear_headers(&parameters);
}

void http_metrics_handle(struct relay *relay, struct http_request *request)
{
    struct spool *spool = relay_spool(relay);
    struct metrics_snapshot snapshot = {
        .spool_bytes = spool_size_bytes(spool),
        .spool_segments = spool_segment_count(spool),
        .spool_committed_sequence = spool_committed_sequence(spool),
        .spool_read_only = spool_is_read_only(spool),
        /* The running mode: a reload leaves it until the restart, whatever the file says. */
        .sync_mode = config_sync_mode_name(spool_sync_mode(spool)),
    };
    struct relay_reload_status reload;
    relay_reload_status_read(relay, &reload);
    snapshot.config_reload_failed = reload.failed;
    snapshot.config_loaded_ns = reload.loaded_ns;
    metrics_allocator_read(&snapshot);
    size_t length = 0;
    char *text = metrics_render(relay_metrics(relay), &snapshot, &length);
    struct buffer upstreams = BUFFER_INITIALIZER;
    int upstream_status =
        relay_upstreams(relay) ? upstream_set_metrics_write(relay_upstreams(relay), &upstreams) : 0;
    size_t extension_count;
    const struct relay_extension *extensions = relay_extensions(relay, &extension_count);
    for (size_t i = 0; upstream_status == 0 && i < extension_count; i++)
        if (extensions[i].metrics_write)
            upstream_status = extensions[i].metrics_write(extensions[i].argument, &upstreams);
    struct evbuffer *buffer = text && upstream_status == 0 ? evbuffer_new() : NULL;
    if (buffer && upstreams.length && evbuffer_add(buffer, upstreams.data, upstreams.length) != 0) {
        evbuffer_free(buffer);
        buffer = NULL;
    }
    buffer_release(&upstreams);
    if (!buffer || evbuffer_add(buffer, text, length) != 0) {
        if (buffer)
            evbuffer_free(buffer);
        free(text);
        http_reply_unavailable(request, HTTP_DIALECT_V1, "out of memory");
        return;
    }
    free(text);
    struct evkeyvalq *headers = http_request_output_headers(request);
    evhttp_remove_header(headers, "Content-Type");
    evhttp_add_header(headers, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    http_request_reply(request, 200, buffer);
    evbuffer_free(buffer);
}
