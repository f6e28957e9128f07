/* The /query pass-through and the CREATE DATABASE fan-out: libcurl easy handles on the relay's
 * loop, answers streamed back to the client as they arrive.
 *
 * Lifetimes: the request's close callback is ours while a transfer runs. It fires when the
 * connection goes away (the client left, a write timed out, the server is freed at shutdown);
 * the transfer is cancelled then. Once the answer is complete the callback is cleared before the
 * answer ends. Backpressure: curl pauses while the client's output holds
 * HTTP_QUERY_PROXY_OUTPUT_MAX bytes, and goes on when the connection wrote them all. */
#include "relay/http_query_proxy.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "relay/http_client.h"
#include "relay/http_server.h"
#include "relay/relay.h"

/* How much of a CREATE DATABASE answer is kept for the log. */
#define HTTP_QUERY_ANSWER_LOGGED 512

/* One /query passed through. */
struct http_query_proxy {
    struct http_client *client;
    struct logger *logger;
    struct http_request *request;
    CURL *easy;
    struct curl_slist *headers;
    char *upstream; /* its name, for messages (the configuration may be reloaded meanwhile) */
    struct evkeyvalq answer_headers; /* the upstream's headers that go back to the client */
    struct evbuffer *chunk;
    bool started; /* the reply's status line and headers went out */
    bool paused;  /* waiting for the client to drain its output */
    char error[CURL_ERROR_SIZE];
};

/* One CREATE DATABASE sent to one upstream. */
struct http_query_creation {
    struct logger *logger;
    CURL *easy;
    struct curl_slist *headers;
    char *upstream, *database;
    char answer[HTTP_QUERY_ANSWER_LOGGED];
    size_t answer_length;
    char error[CURL_ERROR_SIZE];
};

/* Appends line (copied) to *headers. Returns 0 or -1 (out of memory; *headers unchanged). */
static int http_query_header_append(struct curl_slist **headers, const char *line)
{
    struct curl_slist *grown = curl_slist_append(*headers, line);
    if (!grown)
        return -1;
    *headers = grown;
    return 0;
}

/* What every request to upstream gets, as the forwarder sends them: timeouts, TLS checks, the
 * user agent, an empty Expect: (no 100-continue round trip), and with use_credentials the
 * upstream's token (into *headers) or user and password. request_timeout bounds the silence: a
 * transfer fails when no byte arrived for that long (not while paused for a slow client), so a
 * long result still streams to its end. Returns 0 or -1 (out of memory). */
static int http_query_easy_setup(CURL *easy, const struct config_upstream *upstream,
                                 bool use_credentials, struct curl_slist **headers,
                                 char *error_buffer)
{
    long silence_seconds = (long)((upstream->request_timeout_ms + 999) / 1000);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, silence_seconds > 0 ? silence_seconds : 1L);
    return http_client_upstream_setup(easy, upstream, use_credentials, headers);
}

/* relay.query_upstream, else the first upstream. */
static const struct config_upstream *http_query_upstream(const struct config *config)
{
    const struct config_upstream *upstream =
        config->relay.query_upstream ? config_upstream_find(config, config->relay.query_upstream)
                                     : NULL;
    return upstream ? upstream : &config->relay.upstreams[0];
}

/* ---- pass-through ---- */

static void http_query_proxy_free(struct http_query_proxy *proxy)
{
    if (proxy->easy)
        curl_easy_cleanup(proxy->easy);
    curl_slist_free_all(proxy->headers);
    evhttp_clear_headers(&proxy->answer_headers);
    if (proxy->chunk)
        evbuffer_free(proxy->chunk);
    free(proxy->upstream);
    free(proxy);
}

/* The client's connection went away (or the server is shutting down): stop the transfer. */
static void http_query_proxy_closed(struct http_request *request, void *argument)
{
    (void)request;
    struct http_query_proxy *proxy = argument;
    log_debug(proxy->logger, "query client went away; upstream transfer cancelled",
              LOG_STRING("upstream", proxy->upstream));
    http_client_cancel(proxy->client, proxy->easy);
    http_query_proxy_free(proxy);
}

/* CURLOPT_HEADERFUNCTION: keeps the headers that go back to the client. A status line starts
 * over, so only the final answer's headers count. */
static size_t http_query_proxy_header_read(char *data, size_t size, size_t count, void *argument)
{
    struct http_query_proxy *proxy = argument;
    size_t length = size * count;
    if (length >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        evhttp_clear_headers(&proxy->answer_headers);
        return length;
    }
    static const char *const kept[] = {"Content-Type", "Content-Encoding", "X-Influxdb-"};
    const char *colon = memchr(data, ':', length);
    size_t name_length = colon ? (size_t)(colon - data) : 0;
    bool keep = false;
    for (size_t i = 0; i < sizeof kept / sizeof kept[0] && !keep; i++) {
        size_t kept_length = strlen(kept[i]);
        bool prefix = kept[i][kept_length - 1] == '-';
        keep = (prefix ? name_length > kept_length : name_length == kept_length) &&
               strncasecmp(data, kept[i], kept_length) == 0;
    }
    if (!keep)
        return length;
    /* "Name: value\r\n" as two NUL-terminated strings; X-Influxdb-Error can be long. */
    char *line = malloc(length + 1);
    if (!line)
        return 0; /* out of memory: fails the transfer */
    memcpy(line, data, length);
    char *value = line + name_length + 1, *end = line + length;
    line[name_length] = '\0';
    while (*value == ' ' || *value == '\t')
        value++;
    while (end > value && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *end = '\0';
    /* evhttp refuses values with CR or LF in them; such a header is dropped. */
    evhttp_add_header(&proxy->answer_headers, line, value);
    free(line);
    return length;
}

/* The upstream's kept headers replace the relay's of the same name (X-Influxdb-Version). */
static void http_query_proxy_headers_copy(struct http_query_proxy *proxy)
{
    struct evkeyvalq *output = http_request_output_headers(proxy->request);
    struct evkeyval *header;
    TAILQ_FOREACH(header, &proxy->answer_headers, next)
    {
        evhttp_remove_header(output, header->key);
    }
    TAILQ_FOREACH(header, &proxy->answer_headers, next)
    {
        evhttp_add_header(output, header->key, header->value);
    }
}

static int http_query_proxy_status(const struct http_query_proxy *proxy)
{
    long status = 0;
    curl_easy_getinfo(proxy->easy, CURLINFO_RESPONSE_CODE, &status);
    return (int)status;
}

/* The connection wrote everything it held for the client: let curl deliver again. */
static void http_query_proxy_drained(struct http_request *request, void *argument)
{
    (void)request;
    struct http_query_proxy *proxy = argument;
    if (!proxy->paused)
        return;
    proxy->paused = false;
    curl_easy_pause(proxy->easy, CURLPAUSE_CONT);
}

/* CURLOPT_WRITEFUNCTION: the first bytes start the reply; the rest follow as chunks unless the
 * client is too far behind, then curl keeps them until http_query_proxy_drained. */
static size_t http_query_proxy_body_write(char *data, size_t size, size_t count, void *argument)
{
    struct http_query_proxy *proxy = argument;
    size_t length = size * count;
    if (!proxy->started) {
        http_query_proxy_headers_copy(proxy);
        http_request_reply_start(proxy->request, http_query_proxy_status(proxy));
        proxy->started = true;
    }
    if (http_request_output_length(proxy->request) >= HTTP_QUERY_PROXY_OUTPUT_MAX) {
        proxy->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (evbuffer_add(proxy->chunk, data, length) != 0)
        return 0; /* out of memory: fails the transfer */
    http_request_reply_chunk(proxy->request, proxy->chunk, http_query_proxy_drained, proxy);
    return length;
}

/* The transfer failed before any answer went out: 502, or 504 when the upstream stayed silent. */
static void http_query_proxy_fail(struct http_query_proxy *proxy, CURLcode result)
{
    bool timeout = result == CURLE_OPERATION_TIMEDOUT;
    char message[CURL_ERROR_SIZE + 256];
    snprintf(message, sizeof message, "query upstream %s %s: %s", proxy->upstream,
             timeout ? "timed out" : "unreachable",
             proxy->error[0] ? proxy->error : curl_easy_strerror(result));
    log_debug(proxy->logger, "cannot pass a query through", LOG_STRING("error", message));
    http_reply_error(proxy->request, HTTP_DIALECT_V1, timeout ? 504 : 502,
                     timeout ? "gateway timeout" : "bad gateway", message);
}

static void http_query_proxy_done(CURL *easy, CURLcode result, void *argument)
{
    (void)easy;
    struct http_query_proxy *proxy = argument;
    http_request_close_callback_set(proxy->request, NULL, NULL);
    if (result == CURLE_OK && proxy->started) {
        http_request_reply_end(proxy->request);
    } else if (result == CURLE_OK) {
        http_query_proxy_headers_copy(proxy); /* an answer without a body */
        http_request_reply(proxy->request, http_query_proxy_status(proxy), NULL);
    } else if (proxy->started) {
        log_warning(
            proxy->logger,
            "query upstream failed in the middle of an answer; closing the client's "
            "connection so it does not take the part for the whole",
            LOG_STRING("upstream", proxy->upstream),
            LOG_STRING("error", proxy->error[0] ? proxy->error : curl_easy_strerror(result)));
        http_request_abort(proxy->request);
    } else {
        http_query_proxy_fail(proxy, result);
    }
    http_query_proxy_free(proxy);
}

/* The upstream request: URL, method and body, and the client's headers that go along. Returns 0
 * or -1 (out of memory). */
static int http_query_proxy_request_build(struct http_query_proxy *proxy,
                                          const struct config_upstream *upstream, const char *query,
                                          bool lend_credentials)
{
    struct http_request *request = proxy->request;
    CURL *easy = proxy->easy;
    size_t url_size = strlen(upstream->url) + sizeof "/query?" + (query ? strlen(query) : 0);
    char *url = malloc(url_size);
    if (!url)
        return -1;
    snprintf(url, url_size, "%s/query%s%s", upstream->url, query ? "?" : "", query ? query : "");
    curl_easy_setopt(easy, CURLOPT_URL, url);
    free(url);
    struct evkeyvalq *input = http_request_input_headers(request);
    bool post = http_request_method(request) == HTTP_REQUEST_POST;
    if (post) {
        struct evbuffer *body = http_request_body(request);
        size_t length = evbuffer_get_length(body);
        const unsigned char *data = evbuffer_pullup(body, -1);
        if (length && !data)
            return -1;
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
        if (curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, length ? (const char *)data : "") !=
            CURLE_OK)
            return -1;
    }
    static const char *const passed[] = {"Authorization", "Accept", "Accept-Encoding",
                                         "Content-Type"};
    for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++) {
        const char *value = evhttp_find_header(input, passed[i]);
        if (!value || (!post && strcmp(passed[i], "Content-Type") == 0))
            continue;
        size_t size = strlen(passed[i]) + strlen(value) + 3;
        char *line = malloc(size);
        if (!line)
            return -1;
        snprintf(line, size, "%s: %s", passed[i], value);
        int result = http_query_header_append(&proxy->headers, line);
        free(line);
        if (result != 0)
            return -1;
    }
    if (http_query_easy_setup(easy, upstream, lend_credentials, &proxy->headers, proxy->error) != 0)
        return -1;
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, proxy->headers);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, http_query_proxy_header_read);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, proxy);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_query_proxy_body_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, proxy);
    return 0;
}

void http_query_proxy_forward(struct relay *relay, struct http_request *request, const char *query,
                              bool lend_credentials)
{
    const struct config_upstream *upstream = http_query_upstream(relay_started_config(relay));
    struct http_query_proxy *proxy = calloc(1, sizeof *proxy);
    if (!proxy) {
        http_reply_unavailable(request, HTTP_DIALECT_V1, "out of memory");
        return;
    }
    TAILQ_INIT(&proxy->answer_headers);
    proxy->client = relay_http_client(relay);
    proxy->logger = relay_logger(relay);
    proxy->request = request;
    proxy->easy = curl_easy_init();
    proxy->chunk = evbuffer_new();
    proxy->upstream = strdup(upstream->name);
    if (!proxy->easy || !proxy->chunk || !proxy->upstream ||
        http_query_proxy_request_build(proxy, upstream, query, lend_credentials) != 0) {
        http_query_proxy_free(proxy);
        http_reply_unavailable(request, HTTP_DIALECT_V1, "out of memory");
        return;
    }
    if (http_client_start(proxy->client, proxy->easy, http_query_proxy_done, proxy) != 0) {
        http_query_proxy_free(proxy);
        http_reply_unavailable(request, HTTP_DIALECT_V1, "libcurl refused the query request");
        return;
    }
    http_request_close_callback_set(request, http_query_proxy_closed, proxy);
}

/* ---- CREATE DATABASE on the v1 upstreams ---- */

static void http_query_creation_free(struct http_query_creation *creation)
{
    if (creation->easy)
        curl_easy_cleanup(creation->easy);
    curl_slist_free_all(creation->headers);
    free(creation->upstream);
    free(creation->database);
    free(creation);
}

static size_t http_query_creation_answer_write(char *data, size_t size, size_t count,
                                               void *argument)
{
    struct http_query_creation *creation = argument;
    size_t length = size * count;
    size_t room = sizeof creation->answer - 1 - creation->answer_length;
    size_t taken = length < room ? length : room;
    memcpy(creation->answer + creation->answer_length, data, taken);
    creation->answer_length += taken;
    creation->answer[creation->answer_length] = '\0';
    return length;
}

static void http_query_creation_done(CURL *easy, CURLcode result, void *argument)
{
    struct http_query_creation *creation = argument;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    /* InfluxDB 1.x reports a failed statement as 200 with an "error" in the results. */
    bool created = result == CURLE_OK && status >= 200 && status < 300 &&
                   !strstr(creation->answer, "\"error\"");
    if (created)
        log_info(creation->logger, "database created on upstream",
                 LOG_STRING("upstream", creation->upstream),
                 LOG_STRING("database", creation->database));
    else if (result != CURLE_OK)
        log_error(
            creation->logger, "cannot create the database on an upstream",
            LOG_STRING("upstream", creation->upstream), LOG_STRING("database", creation->database),
            LOG_STRING("error", creation->error[0] ? creation->error : curl_easy_strerror(result)));
    else if (status == 403)
        log_warning(creation->logger,
                    "upstream refuses CREATE DATABASE (its credentials lack admin rights); create "
                    "the database there yourself, or writes to it will pause the upstream",
                    LOG_STRING("upstream", creation->upstream),
                    LOG_STRING("database", creation->database),
                    LOG_STRING("answer", creation->answer));
    else
        log_error(creation->logger, "upstream failed to create the database",
                  LOG_STRING("upstream", creation->upstream),
                  LOG_STRING("database", creation->database), LOG_INTEGER("status", status),
                  LOG_STRING("answer", creation->answer));
    http_query_creation_free(creation);
}

/* The form body q=CREATE DATABASE "database", with " and \ escaped inside the quotes. Returns an
 * owned string (curl_free) or NULL. */
static char *http_query_creation_body(CURL *easy, const char *database)
{
    size_t length = strlen(database);
    char *statement = malloc(2 * length + sizeof "CREATE DATABASE \"\"");
    if (!statement)
        return NULL;
    size_t out = (size_t)sprintf(statement, "CREATE DATABASE \"");
    for (size_t i = 0; i < length; i++) {
        if (database[i] == '"' || database[i] == '\\')
            statement[out++] = '\\';
        statement[out++] = database[i];
    }
    statement[out++] = '"';
    char *escaped = curl_easy_escape(easy, statement, (int)out);
    free(statement);
    if (!escaped)
        return NULL;
    char *body = malloc(strlen(escaped) + 3);
    if (body)
        sprintf(body, "q=%s", escaped);
    curl_free(escaped);
    return body;
}

/* Starts the request to one upstream. Returns 0 or -1 (out of memory, or curl refused it). */
static int http_query_creation_start(struct relay *relay, const struct config_upstream *upstream,
                                     const char *database)
{
    struct http_query_creation *creation = calloc(1, sizeof *creation);
    if (!creation)
        return -1;
    creation->logger = relay_logger(relay);
    creation->easy = curl_easy_init();
    creation->upstream = strdup(upstream->name);
    creation->database = strdup(database);
    size_t url_size = strlen(upstream->url) + sizeof "/query";
    char *url = malloc(url_size);
    char *body = creation->easy ? http_query_creation_body(creation->easy, database) : NULL;
    int result = -1;
    if (url && body && creation->upstream && creation->database &&
        http_query_easy_setup(creation->easy, upstream, true, &creation->headers,
                              creation->error) == 0) {
        CURL *easy = creation->easy;
        snprintf(url, url_size, "%s/query", upstream->url);
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, creation->headers);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_query_creation_answer_write);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, creation);
        result =
            http_client_start(relay_http_client(relay), easy, http_query_creation_done, creation);
    }
    free(url);
    free(body);
    if (result != 0)
        http_query_creation_free(creation);
    return result;
}

void http_query_proxy_database_create(struct relay *relay, const char *database)
{
    const struct config_relay *config = &relay_started_config(relay)->relay;
    for (size_t i = 0; i < config->upstream_count; i++) {
        const struct config_upstream *upstream = &config->upstreams[i];
        if (upstream->api != CONFIG_API_V1)
            continue;
        if (http_query_creation_start(relay, upstream, database) != 0)
            log_error(relay_logger(relay), "cannot send CREATE DATABASE to an upstream",
                      LOG_STRING("upstream", upstream->name), LOG_STRING("database", database),
                      LOG_STRING("error", "out of memory"));
    }
}
