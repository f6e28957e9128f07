/* The blocking InfluxDB client: one curl easy handle, requests with retries, gzip writes and the
 * batching writer. Queries are in influx_query.c. */
#include "relay/influx_client.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay/gzip_deflate.h"
#include "relay/influx_client_internal.h"

#define INFLUX_CLIENT_BACKOFF_INITIAL_MS 500
#define INFLUX_CLIENT_BACKOFF_MAX_MS 30000
/* Enough of an error answer for InfluxDB's message; the rest is not read into memory. */
#define INFLUX_CLIENT_ERROR_BODY_MAX 4096

struct influx_client *influx_client_create(const struct config_influxdb *target, char *error,
                                           size_t error_size)
{
    if (!target->url || target->url[0] == '\0') {
        snprintf(error, error_size, "influxdb.url is empty: set the InfluxDB server's URL");
        return NULL;
    }
    /* Reference-counted by libcurl: paired with curl_global_cleanup in destroy. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(error, error_size, "libcurl could not be initialised (out of memory?)");
        return NULL;
    }
    struct influx_client *client = calloc(1, sizeof *client);
    if (!client) {
        curl_global_cleanup();
        snprintf(error, error_size, "out of memory creating the InfluxDB client");
        return NULL;
    }
    client->target = target;
    client->easy = curl_easy_init();
    if (target->token) {
        size_t size = strlen(target->token) + sizeof "Authorization: Token ";
        client->authorization = malloc(size);
        if (client->authorization)
            snprintf(client->authorization, size, "Authorization: Token %s", target->token);
    }
    if (!client->easy || (target->token && !client->authorization)) {
        influx_client_destroy(client);
        snprintf(error, error_size, "out of memory creating the InfluxDB client");
        return NULL;
    }
    return client;
}

void influx_client_destroy(struct influx_client *client)
{
    if (!client)
        return;
    if (client->easy)
        curl_easy_cleanup(client->easy);
    free(client->authorization);
    buffer_release(&client->compressed);
    free(client);
    curl_global_cleanup();
}

void influx_client_logger_set(struct influx_client *client, struct logger *logger)
{
    client->logger = logger;
}

void influx_client_refusal_hint_set(struct influx_client *client, const char *hint)
{
    client->refusal_hint = hint;
}

uint64_t influx_client_requests(const struct influx_client *client)
{
    return client->requests;
}

int influx_url_append_encoded(struct influx_client *client, struct buffer *out, const char *text)
{
    char *encoded = curl_easy_escape(client->easy, text, 0);
    if (!encoded)
        return -1;
    int result = buffer_append(out, encoded, strlen(encoded)) == 0 ? 0 : -1;
    curl_free(encoded);
    return result;
}

/* One request's answer as it arrives. */
struct influx_attempt {
    CURL *easy;
    const struct influx_request *request;
    long status;
    bool sink_called, sink_stopped;
    struct buffer body; /* the start of a non-2xx answer */
};

static size_t influx_attempt_write(char *data, size_t size, size_t count, void *argument)
{
    struct influx_attempt *attempt = argument;
    size_t length = size * count;
    if (attempt->status == 0)
        curl_easy_getinfo(attempt->easy, CURLINFO_RESPONSE_CODE, &attempt->status);
    if (attempt->status >= 200 && attempt->status < 300) {
        if (!attempt->request->sink)
            return length;
        attempt->sink_called = true;
        if (attempt->request->sink(data, length, attempt->request->sink_argument) != 0) {
            attempt->sink_stopped = true;
            return 0; /* not length: curl ends the transfer with CURLE_WRITE_ERROR */
        }
        return length;
    }
    size_t room = INFLUX_CLIENT_ERROR_BODY_MAX - attempt->body.length;
    (void)buffer_append(&attempt->body, data, length < room ? length : room); /* best effort */
    return length;
}

/* InfluxDB's own words from an error answer: "error" (v1) or "message" (v2) of a JSON body, else
 * the body's first line. */
static void influx_error_text(const struct buffer *body, char *out, size_t out_size)
{
    cJSON *root = body->length ? cJSON_ParseWithLength(body->data, body->length) : NULL;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (!cJSON_IsString(text))
        text = cJSON_GetObjectItemCaseSensitive(root, "message");
    if (cJSON_IsString(text) && text->valuestring) {
        snprintf(out, out_size, "%s", text->valuestring);
    } else if (body->length == 0) {
        snprintf(out, out_size, "(empty body)");
    } else {
        size_t length = 0;
        while (length < body->length && length < 300 && body->data[length] != '\n' &&
               body->data[length] != '\r')
            length++;
        snprintf(out, out_size, "%.*s", (int)length, body->data);
    }
    cJSON_Delete(root);
}

static bool influx_curl_retryable(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

static void influx_sleep_ms(int64_t milliseconds)
{
    struct timespec delay = {milliseconds / 1000, (long)(milliseconds % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR)
        ;
}

static int influx_headers_build(const struct influx_client *client,
                                const struct influx_request *request, struct curl_slist **headers)
{
    /* An empty Expect: keeps curl from waiting for "100 Continue" before a larger body. */
    const char *fixed[] = {"Expect:", client->authorization};
    for (size_t i = 0; i < 2; i++) {
        if (!fixed[i])
            continue;
        struct curl_slist *grown = curl_slist_append(*headers, fixed[i]);
        if (!grown)
            return -1;
        *headers = grown;
    }
    for (size_t i = 0; request->headers && request->headers[i]; i++) {
        struct curl_slist *grown = curl_slist_append(*headers, request->headers[i]);
        if (!grown)
            return -1;
        *headers = grown;
    }
    return 0;
}

static void influx_attempt_setup(struct influx_client *client, struct influx_attempt *attempt,
                                 struct curl_slist *headers, char *curl_error)
{
    const struct influx_request *request = attempt->request;
    const struct config_influxdb *target = client->target;
    CURL *easy = client->easy;
    /* reset keeps the connection cache, so the next request reuses the connection. */
    curl_easy_reset(easy);
    curl_easy_setopt(easy, CURLOPT_URL, request->url);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "nebenkosten-batch/" NEBENKOSTEN_VERSION);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, influx_attempt_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, attempt);
    long timeout_ms = target->timeout_ms > 0 ? (long)target->timeout_ms : 30000L;
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    if (request->streaming) {
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (timeout_ms + 999) / 1000);
        curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
    } else {
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    }
    if (request->post) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body_length);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request->body);
    } else {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
    if (!client->authorization && target->username) {
        curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(easy, CURLOPT_USERNAME, target->username);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, target->password ? target->password : "");
    }
}

int influx_request_run(struct influx_client *client, const struct influx_request *request,
                       char *error, size_t error_size)
{
    struct curl_slist *headers = NULL;
    if (influx_headers_build(client, request, &headers) != 0) {
        curl_slist_free_all(headers);
        snprintf(error, error_size, "%s: out of memory", request->what);
        return -1;
    }
    int attempts = 1 + (client->target->retry_attempts > 0 ? client->target->retry_attempts : 0);
    int result = -1;
    char message[512], curl_error[CURL_ERROR_SIZE];
    for (int number = 1;; number++) {
        struct influx_attempt attempt = {.easy = client->easy, .request = request};
        curl_error[0] = '\0';
        influx_attempt_setup(client, &attempt, headers, curl_error);
        CURLcode code = curl_easy_perform(client->easy);
        client->requests++;
        bool retryable;
        if (attempt.sink_stopped) {
            buffer_release(&attempt.body);
            result = INFLUX_REQUEST_SINK_STOPPED;
            break;
        }
        if (code == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(client->easy, CURLINFO_RESPONSE_CODE, &status);
            if (status >= 200 && status < 300) {
                buffer_release(&attempt.body);
                result = 0;
                break;
            }
            char text[320];
            influx_error_text(&attempt.body, text, sizeof text);
            bool denied = status == 401 || status == 403;
            if (denied && client->refusal_hint)
                snprintf(message, sizeof message, "HTTP %ld: %s (%s)", status, text,
                         client->refusal_hint);
            else if (denied && client->target->credentials)
                snprintf(message, sizeof message,
                         "HTTP %ld: %s (check INFLUX_TOKEN, or INFLUX_USERNAME and "
                         "INFLUX_PASSWORD, in the secrets file %s)",
                         status, text, client->target->credentials);
            else
                snprintf(message, sizeof message, "HTTP %ld: %s", status, text);
            retryable = status == 429 || status >= 500;
        } else {
            snprintf(message, sizeof message, "%s",
                     curl_error[0] ? curl_error : curl_easy_strerror(code));
            retryable = !attempt.sink_called && influx_curl_retryable(code);
        }
        buffer_release(&attempt.body);
        if (!retryable || number >= attempts) {
            if (number > 1)
                snprintf(error, error_size, "%s: %s (after %d attempts)", request->what, message,
                         number);
            else
                snprintf(error, error_size, "%s: %s", request->what, message);
            break;
        }
        curl_off_t retry_after = 0;
        if (code == CURLE_OK)
            curl_easy_getinfo(client->easy, CURLINFO_RETRY_AFTER, &retry_after);
        int64_t delay_ms;
        if (retry_after > 0)
            delay_ms =
                (retry_after < INFLUX_CLIENT_MAX_RETRY_AFTER_S ? (int64_t)retry_after
                                                               : INFLUX_CLIENT_MAX_RETRY_AFTER_S) *
                1000;
        else
            delay_ms = number - 1 >= 6 ? INFLUX_CLIENT_BACKOFF_MAX_MS
                                       : INFLUX_CLIENT_BACKOFF_INITIAL_MS << (number - 1);
        if (client->logger)
            log_warning(client->logger, "InfluxDB request failed; retrying",
                        LOG_STRING("request", request->what), LOG_STRING("error", message),
                        LOG_INTEGER("attempt", number), LOG_INTEGER("attempts", attempts),
                        LOG_INTEGER("delay_ms", delay_ms));
        influx_sleep_ms(delay_ms);
    }
    curl_slist_free_all(headers);
    return result;
}

/* The write URL of database: v1 /write?db=, v2 /api/v2/write?org=&bucket=, both precision=ns. */
static int influx_write_url(struct influx_client *client, const char *database, struct buffer *url)
{
    const struct config_influxdb *target = client->target;
    if (buffer_append(url, target->url, strlen(target->url)) != 0)
        return -1;
    if (target->api == CONFIG_API_V2) {
        const char *path = "/api/v2/write?";
        if (buffer_append(url, path, strlen(path)) != 0)
            return -1;
        if (target->org && (buffer_append(url, "org=", 4) != 0 ||
                            influx_url_append_encoded(client, url, target->org) != 0 ||
                            buffer_append(url, "&", 1) != 0))
            return -1;
        if (buffer_append(url, "bucket=", 7) != 0)
            return -1;
    } else if (buffer_append(url, "/write?db=", 10) != 0) {
        return -1;
    }
    const char *precision = "&precision=ns";
    if (influx_url_append_encoded(client, url, database) != 0 ||
        buffer_append(url, precision, strlen(precision) + 1) != 0) /* with the NUL */
        return -1;
    return 0;
}

int influx_client_write(struct influx_client *client, const char *database, const char *lines,
                        size_t length, char *error, size_t error_size)
{
    if (length == 0)
        return 0;
    struct buffer url = BUFFER_INITIALIZER, what = BUFFER_INITIALIZER;
    int result = -1;
    if (influx_write_url(client, database, &url) != 0 || buffer_append(&what, "POST ", 5) != 0 ||
        buffer_append(&what, url.data, url.length) != 0) {
        snprintf(error, error_size, "out of memory writing to %s", client->target->url);
        goto cleanup;
    }
    if (gzip_deflate(lines, length, GZIP_DEFLATE_LEVEL, &client->compressed) != 0) {
        snprintf(error, error_size, "%s: out of memory compressing %zu bytes", what.data, length);
        goto cleanup;
    }
    const char *headers[] = {"Content-Encoding: gzip", "Content-Type: text/plain; charset=utf-8",
                             NULL};
    struct influx_request request = {
        .what = what.data,
        .url = url.data,
        .post = true,
        .body = client->compressed.data,
        .body_length = client->compressed.length,
        .headers = headers,
    };
    result = influx_request_run(client, &request, error, error_size) == 0 ? 0 : -1;
cleanup:
    buffer_release(&url);
    buffer_release(&what);
    return result;
}

struct influx_writer {
    struct influx_client *client;
    char *database;
    size_t max_lines, max_bytes;
    struct buffer pending;
    size_t pending_lines;
    uint64_t lines, bytes, requests;
};

struct influx_writer *influx_writer_create(struct influx_client *client, const char *database,
                                           size_t max_lines, size_t max_bytes)
{
    struct influx_writer *writer = calloc(1, sizeof *writer);
    if (!writer)
        return NULL;
    writer->client = client;
    writer->database = strdup(database);
    writer->max_lines = max_lines ? max_lines : 5000;
    writer->max_bytes = max_bytes ? max_bytes : (size_t)1 << 20;
    if (!writer->database) {
        free(writer);
        return NULL;
    }
    return writer;
}

int influx_writer_flush(struct influx_writer *writer, char *error, size_t error_size)
{
    if (writer->pending_lines == 0)
        return 0;
    uint64_t before = influx_client_requests(writer->client);
    int result = influx_client_write(writer->client, writer->database, writer->pending.data,
                                     writer->pending.length, error, error_size);
    writer->requests += influx_client_requests(writer->client) - before;
    if (result != 0)
        return -1;
    writer->lines += writer->pending_lines;
    writer->bytes += writer->pending.length;
    buffer_clear(&writer->pending);
    writer->pending_lines = 0;
    return 0;
}

int influx_writer_add(struct influx_writer *writer, const char *line, size_t length, char *error,
                      size_t error_size)
{
    if (memchr(line, '\n', length)) {
        snprintf(error, error_size, "a line-protocol line for %s holds a line break: \"%.*s\"",
                 writer->database, (int)(length < 60 ? length : 60), line);
        return -1;
    }
    if (writer->pending_lines > 0 && writer->pending.length + length + 1 > writer->max_bytes &&
        influx_writer_flush(writer, error, error_size) != 0)
        return -1;
    if (buffer_reserve(&writer->pending, length + 1) != 0) {
        snprintf(error, error_size, "out of memory batching lines for %s", writer->database);
        return -1;
    }
    memcpy(writer->pending.data + writer->pending.length, line, length);
    writer->pending.data[writer->pending.length + length] = '\n';
    writer->pending.length += length + 1;
    writer->pending_lines++;
    if (writer->pending_lines >= writer->max_lines || writer->pending.length >= writer->max_bytes)
        return influx_writer_flush(writer, error, error_size);
    return 0;
}

void influx_writer_counts(const struct influx_writer *writer, uint64_t *lines, uint64_t *bytes,
                          uint64_t *requests)
{
    *lines = writer->lines;
    *bytes = writer->bytes;
    *requests = writer->requests;
}

void influx_writer_destroy(struct influx_writer *writer)
{
    if (!writer)
        return;
    free(writer->database);
    buffer_release(&writer->pending);
    free(writer);
}
