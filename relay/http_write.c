/* POST /write (v1) and POST /api/v2/write (v2), spec/wire.md: parameters, auth, body decoding,
 * validation and normalisation, then the spool append; the answer waits for the commit. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <strings.h>

#include "relay/gzip_inflate.h"
#include "relay/http_auth.h"
#include "relay/http_server.h"
#include "relay/metrics.h"
#include "relay/relay.h"

#define HTTP_WRITE_MESSAGE_SIZE 1024
/* Scratch buffers larger than this are freed after the request instead of kept for reuse. */
#define HTTP_WRITE_BUFFER_KEEP_BYTES (4u * 1024u * 1024u)

/* What the query string of a write says; strings borrowed from the parsed parameters. */
struct http_write_target {
    struct spool_routing routing;
    enum lineproto_precision precision;
};

void http_write_unauthorized(struct http_request *request, enum http_dialect dialect)
{
    if (dialect == HTTP_DIALECT_V1) {
        evhttp_add_header(http_request_output_headers(request), "WWW-Authenticate",
                          "Basic realm=\"InfluxDB\"");
        http_reply_error(request, dialect, 401, "unauthorized", "authorization failed");
    } else {
        http_reply_error(request, dialect, 401, "unauthorized", "unauthorized access");
    }
}

static struct spool_slice http_write_slice(const char *text)
{
    return (struct spool_slice){text, text ? strlen(text) : 0};
}

/* Fills target from the parameters (borrowed); answers the request and returns -1 when they are
 * not acceptable. */
static int http_write_target_read(struct http_request *request, enum http_dialect dialect,
                                  const struct evkeyvalq *parameters,
                                  struct http_write_target *target)
{
    memset(target, 0, sizeof *target);
    target->precision = LINEPROTO_PRECISION_NANOSECOND;
    if (dialect == HTTP_DIALECT_V1) {
        const char *db = evhttp_find_header(parameters, "db");
        if (!db || db[0] == '\0') {
            http_reply_error(request, dialect, 400, "invalid", "database is required");
            return -1;
        }
        target->routing.db = http_write_slice(db);
        target->routing.rp = http_write_slice(evhttp_find_header(parameters, "rp"));
    } else {
        const char *bucket = evhttp_find_header(parameters, "bucket");
        if (!bucket || bucket[0] == '\0')
            bucket = evhttp_find_header(parameters, "bucketID");
        if (!bucket || bucket[0] == '\0') {
            http_reply_error(request, dialect, 404, "not found", "bucket not found");
            return -1;
        }
        const char *org = evhttp_find_header(parameters, "org");
        if (!org || org[0] == '\0')
            org = evhttp_find_header(parameters, "orgID");
        target->routing.bucket = http_write_slice(bucket);
        target->routing.org = http_write_slice(org);
        /* bucket=db/rp is InfluxDB 1.8's mapping; db lets v1 upstreams take v2 writes. */
        const char *slash = strchr(bucket, '/');
        target->routing.db.data = bucket;
        target->routing.db.length = slash ? (size_t)(slash - bucket) : strlen(bucket);
        if (slash)
            target->routing.rp = http_write_slice(slash + 1);
    }
    const char *precision = evhttp_find_header(parameters, "precision");
    if (precision && precision[0] != '\0' &&
        lineproto_precision_parse(precision, strlen(precision), &target->precision) != 0) {
        /* Quoted as the parser quotes names: the client's bytes may be anything. */
        char quoted[LINEPROTO_QUOTE_SIZE];
        lineproto_quote(quoted, sizeof quoted, precision, strlen(precision), LINEPROTO_QUOTE_LIMIT);
        char message[HTTP_WRITE_MESSAGE_SIZE];
        snprintf(message, sizeof message,
                 "invalid precision %s; expected one of n, ns, u, us, ms, s, m, h", quoted);
        http_reply_error(request, dialect, 400, "invalid", message);
        return -1;
    }
    return 0;
}

/* Returns the decoded body in data and length (borrowed from the request or from the relay body
 * buffer); answers the request and returns -1 on a bad or too large body. */
static int http_write_body_read(struct relay *relay, struct http_request *request,
                                enum http_dialect dialect, const char **data, size_t *length)
{
    uint64_t limit = relay_config(relay)->relay.max_body_bytes;
    struct evbuffer *input = http_request_body(request);
    size_t raw_length = evbuffer_get_length(input);
    const char *raw = raw_length ? (const char *)evbuffer_pullup(input, -1) : "";
    const char *encoding =
        evhttp_find_header(http_request_input_headers(request), "Content-Encoding");
    char message[HTTP_WRITE_MESSAGE_SIZE];
    if (encoding && (strcasecmp(encoding, "gzip") == 0 || strcasecmp(encoding, "x-gzip") == 0)) {
        if (raw_length == 0) {
            *data = raw;
            *length = 0;
            return 0;
        }
        struct buffer *decoded = relay_body_buffer(relay);
        buffer_clear(decoded);
        int status = gzip_inflate(raw, raw_length, limit, decoded, message, sizeof message);
        if (status == -EMSGSIZE) {
            http_reply_error(request, dialect, 413, "request too large",
                             "Request Entity Too Large");
            return -1;
        }
        if (status == -ENOMEM) {
            http_reply_unavailable(request, dialect, "out of memory decoding the body");
            return -1;
        }
        if (status != 0) {
            http_reply_error(request, dialect, 400, "invalid", message);
            return -1;
        }
        *data = decoded->data ? decoded->data : "";
        *length = decoded->length;
        return 0;
    }
    if (encoding && encoding[0] != '\0' && strcasecmp(encoding, "identity") != 0) {
        snprintf(message, sizeof message,
                 "unsupported Content-Encoding \"%.64s\"; expected gzip or identity", encoding);
        http_reply_error(request, dialect, 415, "unsupported media type", message);
        return -1;
    }
    if (raw_length > limit) {
        http_reply_error(request, dialect, 413, "request too large", "Request Entity Too Large");
        return -1;
    }
    *data = raw;
    *length = raw_length;
    return 0;
}

/* Answers an error of spool_append. */
static void http_write_append_failed(struct relay *relay, struct http_request *request,
                                     enum http_dialect dialect, int status)
{
    const char *reason = spool_error_reason(status);
    if (status == -EMSGSIZE) {
        http_reply_error(request, dialect, 413, "request too large", reason);
        return;
    }
    if (status == -EINVAL) {
        http_reply_error(request, dialect, 400, "invalid", reason);
        return;
    }
    http_reply_unavailable(request, dialect, reason);
    if (status == -EIO)
        relay_fail(relay, reason);
}

/* The body of the 400 answers for rejected lines; returns an owned string or NULL. */
static char *http_write_rejection_body(enum http_dialect dialect, const char *message,
                                       size_t line_number)
{
    cJSON *object = cJSON_CreateObject();
    if (!object)
        return NULL;
    if (dialect == HTTP_DIALECT_V1) {
        cJSON_AddStringToObject(object, "error", message);
    } else {
        cJSON_AddStringToObject(object, "code", "invalid");
        cJSON_AddStringToObject(object, "message", message);
        cJSON_AddNumberToObject(object, "line", (double)line_number);
    }
    char *text = cJSON_PrintUnformatted(object);
    cJSON_Delete(object);
    return text;
}

/* Sets the error headers of a rejection. */
static void http_write_rejection_headers(struct http_request *request, enum http_dialect dialect,
                                         const char *message)
{
    struct evkeyvalq *headers = http_request_output_headers(request);
    if (dialect == HTTP_DIALECT_V1)
        evhttp_add_header(headers, "X-Influxdb-Error", message);
    else
        evhttp_add_header(headers, "X-Platform-Error-Code", "invalid");
}

/* Validates, appends and parks the request; parameters borrowed. */
static void http_write_accept(struct relay *relay, struct http_request *request,
                              enum http_dialect dialect, const struct http_write_target *target)
{
    const char *body = NULL;
    size_t length = 0;
    if (http_write_body_read(relay, request, dialect, &body, &length) != 0)
        return;
    if (length == 0) {
        http_reply_json(request, 204, NULL, 0);
        return;
    }
    struct buffer *lines = relay_lines_buffer(relay);
    buffer_clear(lines);
    struct lineproto_normalise_result result;
    int64_t now = clock_realtime_ns(relay_clock(relay));
    if (lineproto_normalise(relay_parser(relay), body, length, target->precision, now, lines,
                            &result) != 0) {
        http_reply_unavailable(request, dialect, "out of memory validating the body");
        return;
    }
    char parse_message[LINEPROTO_REASON_SIZE + HTTP_WRITE_MESSAGE_SIZE];
    if (result.has_error)
        lineproto_error_message(&result.first_error, parse_message, sizeof parse_message);
    if (result.accepted == 0) {
        metrics_lines_count(relay_metrics(relay), 0, result.rejected);
        if (!result.has_error) {
            http_reply_json(request, 204, NULL, 0); /* only comments and blank lines */
            return;
        }
        char *text =
            http_write_rejection_body(dialect, parse_message, result.first_error.line_number);
        http_write_rejection_headers(request, dialect, parse_message);
        http_request_error_note(request, parse_message);
        if (text) {
            http_reply_json(request, 400, text, strlen(text));
            cJSON_free(text);
        } else {
            http_reply_unavailable(request, dialect, "out of memory");
        }
        return;
    }
    uint64_t sequence = 0;
    int status = spool_append_deferred(relay_spool(relay), &target->routing, lines->data,
                                       lines->length, &sequence);
    if (status != 0) {
        http_write_append_failed(relay, request, dialect, status);
        return;
    }
    metrics_lines_count(relay_metrics(relay), result.accepted, result.rejected);
    int code = 204;
    char *text = NULL;
    if (result.rejected > 0) {
        char message[sizeof parse_message + 64];
        snprintf(message, sizeof message, "partial write: %s dropped=%zu", parse_message,
                 result.rejected);
        code = 400;
        text = http_write_rejection_body(dialect, message, result.first_error.line_number);
        http_write_rejection_headers(request, dialect, message);
        http_request_error_note(request, message);
        if (!text) {
            http_reply_unavailable(request, dialect, "out of memory");
            return;
        }
    }
    if (relay_write_wait(relay, request, dialect, sequence, code, text) != 0)
        http_reply_unavailable(request, dialect, "out of memory");
}

bool http_write_authorized(struct relay *relay, struct http_request *request,
                           enum http_dialect dialect, const char *query)
{
    const struct config_relay *config = &relay_config(relay)->relay;
    if (config->auth == CONFIG_AUTH_NONE) /* every write: spare it a second parse of its query */
        return true;
    struct evkeyvalq parameters;
    TAILQ_INIT(&parameters);
    /* A query string that does not parse is answered 400 with the request. */
    if (query && http_query_parse(query, &parameters) != 0) {
        evhttp_clear_headers(&parameters);
        return true;
    }
    struct http_auth_request credentials = {
        .authorization = evhttp_find_header(http_request_input_headers(request), "Authorization"),
        .user = evhttp_find_header(&parameters, "u"),
        .password = evhttp_find_header(&parameters, "p"),
    };
    bool allowed = http_auth_allows(config, dialect, &credentials);
    evhttp_clear_headers(&parameters);
    return allowed;
}

void http_write_handle(struct relay *relay, struct http_request *request, enum http_dialect dialect,
                       const char *query)
{
    struct evkeyvalq parameters;
    TAILQ_INIT(&parameters);
    int parsed = query ? http_query_parse(query, &parameters) : 0;
    if (parsed != 0) {
        http_reply_error(request, dialect, 400, "invalid", HTTP_QUERY_PARSE_MESSAGE(parsed));
        goto cleanup;
    }
    /* Credentials were checked at the headers (http_write_authorized), before the body. */
    struct http_write_target target;
    if (http_write_target_read(request, dialect, &parameters, &target) != 0)
        goto cleanup;
    if (relay_is_stopping(relay)) {
        http_reply_unavailable(request, dialect, "the relay is shutting down");
        goto cleanup;
    }
    http_write_accept(relay, request, dialect, &target);
cleanup:
    evhttp_clear_headers(&parameters);
    /* One huge write must not pin its buffers for the life of the relay. */
    if (relay_body_buffer(relay)->capacity > HTTP_WRITE_BUFFER_KEEP_BYTES)
        buffer_release(relay_body_buffer(relay));
    if (relay_lines_buffer(relay)->capacity > HTTP_WRITE_BUFFER_KEEP_BYTES)
        buffer_release(relay_lines_buffer(relay));
}
