/* The HTTP server: the listener and its connection cap (the connections themselves in
 * http_connection.c), the base path, routing, common headers and JSON errors. */
#include "relay/http_server.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "config/clock.h"
#include "config/error.h"
#include "config/log.h"
#include "relay/http_auth.h"
#include "relay/http_connection.h"
#include "relay/http_request.h"
#include "relay/relay.h"

/* Longest client request id echoed back; longer or odd ones are replaced by a generated one. */
#define HTTP_REQUEST_ID_MAX 128
/* Request line plus headers; clients send a few hundred bytes, so this only stops abuse. */
#define HTTP_MAX_HEADERS_BYTES (64 * 1024)
/* Clients beyond relay.max_connections wait in the kernel's queue of this length. */
#define HTTP_LISTEN_BACKLOG 1024
/* The most body a request other than a write takes before its client is known: a /query form
 * (InfluxQL with u and p) is a few KiB; nothing else reads one. Such bodies stay out of the
 * relay.max_inflight_bytes budget (unbudgeted_body_limit), or clients without credentials could
 * fill it and its queue and hold every write behind them. */
#define HTTP_SERVER_SMALL_BODY_LIMIT (64 * 1024)

/* Error answers logged per second at most: a misconfigured client retrying a bad write in a loop
 * must not flood the log. The rest are counted (every answer is in /metrics too) and the count
 * is reported with the next line that is logged. */
#define HTTP_ERROR_LOGS_PER_SECOND 10

/* After accept() failed for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS), accepting
 * rests this long, or until a connection closes: the pending client keeps the listening socket
 * readable, so retrying at once would spin and log a line per try. */
#define HTTP_ACCEPT_RETRY_MS 500

struct http_server {
    struct relay *relay;
    int64_t error_log_second; /* monotonic second of the error lines counted in error_logs */
    unsigned error_logs;
    uint64_t error_logs_suppressed; /* error answers not logged since the last one that was */
    struct event_base *base;
    struct evconnlistener *listener; /* NULL once accepting stopped */
    bool accept_paused;
    bool accept_starved;        /* accept() failed: resting until accept_retry or a close */
    bool accept_error_logged;   /* since the last accepted client */
    struct event *accept_retry; /* ends a rest of accept_starved */
    size_t maximum_connections;
    struct http_connection_settings settings;
    struct http_connection_handlers handlers;
    struct http_connection_list connections;
    int port;
};

void http_reply_json_object(struct http_request *request, int code, cJSON *object)
{
    char *text = object ? cJSON_PrintUnformatted(object) : NULL;
    cJSON_Delete(object);
    if (!text) {
        http_reply_unavailable(request, HTTP_DIALECT_V1, "out of memory");
        return;
    }
    http_reply_json(request, code, text, strlen(text));
    cJSON_free(text);
}

void http_reply_json(struct http_request *request, int code, const char *body, size_t length)
{
    if (length == 0) {
        http_request_reply(request, code, NULL);
        return;
    }
    struct evkeyvalq *headers = http_request_output_headers(request);
    evhttp_remove_header(headers, "Content-Type");
    evhttp_add_header(headers, "Content-Type", "application/json");
    http_request_reply_data(request, code, body, length);
}

char *http_error_body(enum http_dialect dialect, const char *code_name, const char *message)
{
    cJSON *object = cJSON_CreateObject();
    if (!object)
        return NULL;
    if (dialect == HTTP_DIALECT_V1) {
        cJSON_AddStringToObject(object, "error", message);
    } else {
        cJSON_AddStringToObject(object, "code", code_name);
        cJSON_AddStringToObject(object, "message", message);
    }
    char *text = cJSON_PrintUnformatted(object);
    cJSON_Delete(object);
    return text;
}

void http_reply_error(struct http_request *request, enum http_dialect dialect, int code,
                      const char *code_name, const char *message)
{
    http_request_error_note(request, message);
    struct evkeyvalq *headers = http_request_output_headers(request);
    if (dialect == HTTP_DIALECT_V2) {
        evhttp_add_header(headers, "X-Platform-Error-Code", code_name);
    } else if (code != 401) {
        /* InfluxDB 1.x repeats every error but a 401 in this header, and some clients read only
         * the header (influxdb-java's reactive client, aioinflux). Replaced, not added: a
         * rejection may have set it before an out-of-memory or spool failure answers 503. */
        evhttp_remove_header(headers, "X-Influxdb-Error");
        evhttp_add_header(headers, "X-Influxdb-Error", message);
    }
    char *body = http_error_body(dialect, code_name, message);
    if (body) {
        http_reply_json(request, code, body, strlen(body));
        cJSON_free(body);
    } else {
        static const char fallback[] = "{\"error\":\"out of memory\"}";
        http_reply_json(request, 500, fallback, sizeof fallback - 1);
    }
}

void http_reply_unavailable(struct http_request *request, enum http_dialect dialect,
                            const char *message)
{
    evhttp_add_header(http_request_output_headers(request), "Retry-After",
                      HTTP_RETRY_AFTER_SECONDS);
    http_reply_error(request, dialect, 503, "unavailable", message);
}

int http_query_parse(const char *query, struct evkeyvalq *parameters)
{
    /* Like Go's url.ParseQuery (what InfluxDB uses): empty pieces are skipped and a key without
     * '=' has an empty value, where evhttp_parse_query_str refuses the whole query. The pieces
     * are cut in one copy of the query and decoded by libevent. */
    char *copy = strdup(query);
    if (!copy)
        return -ENOMEM;
    int status = 0;
    for (char *piece = copy, *next; piece && status == 0; piece = next) {
        next = strchr(piece, '&');
        if (next)
            *next++ = '\0';
        char *value = strchr(piece, '=');
        if (value)
            *value++ = '\0';
        if (piece[0] == '\0')
            continue;
        /* Inserted directly: evhttp_add_header refuses values with a line break, and a query
         * written over several lines (Grafana's raw InfluxQL) is q with line breaks. */
        struct evkeyval *entry = calloc(1, sizeof *entry);
        size_t key_length = 0, value_length = 0;
        char *key_decoded = evhttp_uridecode(piece, 1, &key_length);
        char *value_decoded = evhttp_uridecode(value ? value : "", 1, &value_length);
        /* %00 would end the decoded copy early: db=home%00x must not write to database home. */
        bool nul = (key_decoded && strlen(key_decoded) != key_length) ||
                   (value_decoded && strlen(value_decoded) != value_length);
        if (entry && key_decoded && value_decoded && !nul) {
            entry->key = key_decoded;
            entry->value = value_decoded;
            TAILQ_INSERT_TAIL(parameters, entry, next);
        } else {
            free(entry);
            free(key_decoded);
            free(value_decoded);
            status = nul ? -EINVAL : -ENOMEM;
        }
    }
    free(copy);
    return status;
}

/* A client's request id is echoed only when it is short printable ASCII. */
static bool http_request_id_usable(const char *id)
{
    size_t length = 0;
    for (; id[length] != '\0'; length++) {
        unsigned char c = (unsigned char)id[length];
        if (length >= HTTP_REQUEST_ID_MAX || c < 0x21 || c > 0x7e)
            return false;
    }
    return length > 0;
}

/* CORS as InfluxDB 1.x answers it, so browser tools (Grafana's browser access, web dashboards)
 * can use the relay's URL: a request with an Origin gets it back with the allowed methods and
 * headers. No Access-Control-Allow-Credentials: browsers send no cookies, credentials travel in
 * the Authorization header or u/p as always. */
static void http_cors_headers_add(struct evkeyvalq *input, struct evkeyvalq *output)
{
    const char *origin = evhttp_find_header(input, "Origin");
    if (!origin)
        return;
    evhttp_add_header(output, "Access-Control-Allow-Origin", origin);
    evhttp_add_header(output, "Access-Control-Allow-Methods", "DELETE, GET, OPTIONS, POST, PUT");
    evhttp_add_header(output, "Access-Control-Allow-Headers",
                      "Accept, Accept-Encoding, Authorization, Content-Length, Content-Type, "
                      "X-CSRF-Token, X-HTTP-Method-Override");
    evhttp_add_header(output, "Access-Control-Expose-Headers",
                      "Date, X-InfluxDB-Version, X-InfluxDB-Build");
}

static void http_common_headers_add(struct relay *relay, struct http_request *request)
{
    struct evkeyvalq *input = http_request_input_headers(request);
    struct evkeyvalq *output = http_request_output_headers(request);
    http_cors_headers_add(input, output);
    const char *id = evhttp_find_header(input, "X-Request-Id");
    if (!id)
        id = evhttp_find_header(input, "Request-Id");
    char generated[40];
    if (!id || !http_request_id_usable(id)) {
        relay_request_id_generate(relay, generated);
        id = generated;
    }
    evhttp_add_header(output, "X-Influxdb-Version", HTTP_INFLUXDB_VERSION);
    evhttp_add_header(output, "X-Influxdb-Build", "OSS");
    evhttp_add_header(output, "Request-Id", id);
    evhttp_add_header(output, "X-Request-Id", id);
}

static void http_method_not_allowed(struct http_request *request, const char *allowed)
{
    evhttp_add_header(http_request_output_headers(request), "Allow", allowed);
    http_reply_error(request, HTTP_DIALECT_V1, 405, "method not allowed", "method not allowed");
}

/* The path of request below relay.base_path (borrowed from request), or NULL when the URI does
 * not parse or lies outside the base path. */
static const char *http_route_path(struct relay *relay, struct http_request *request)
{
    const char *path = http_request_path(request);
    const char *base = relay_config(relay)->relay.base_path;
    size_t base_length = base ? strlen(base) : 0;
    if (!path || base_length == 0)
        return path;
    if (strncmp(path, base, base_length) != 0 ||
        (path[base_length] != '/' && path[base_length] != '\0'))
        return NULL;
    return path + base_length;
}

/* Logs an error answer once, with what an operator needs to find the client and its mistake:
 * route, status, reason, client address and request id (which the client got as well). */
static void http_server_error_log(struct http_server *server, struct http_request *request,
                                  const char *path, int status)
{
    int64_t second = clock_monotonic_ns(relay_clock(server->relay)) / 1000000000;
    if (second != server->error_log_second) {
        server->error_log_second = second;
        server->error_logs = 0;
    }
    if (server->error_logs >= HTTP_ERROR_LOGS_PER_SECOND) {
        server->error_logs_suppressed++;
        return;
    }
    server->error_logs++;
    char client[64];
    http_request_client_address(request, client, sizeof client);
    const char *request_id = evhttp_find_header(http_request_output_headers(request), "Request-Id");
    const char *error = http_request_error(request);
    struct log_field fields[6];
    size_t count = 0;
    fields[count++] = LOG_STRING("route", path[0] != '\0' ? path : http_request_path(request));
    fields[count++] = LOG_INTEGER("status", status);
    if (error)
        fields[count++] = LOG_STRING("error", error);
    fields[count++] = LOG_STRING("client", client);
    if (request_id)
        fields[count++] = LOG_STRING("request_id", request_id);
    if (server->error_logs_suppressed > 0)
        fields[count++] = LOG_INTEGER("not_logged_before", (int64_t)server->error_logs_suppressed);
    server->error_logs_suppressed = 0;
    log_write(relay_logger(server->relay), LOG_LEVEL_WARNING,
              status >= 500 ? "request failed" : "request rejected", fields, count);
}

/* Runs once the answer went out, whichever code path sent it (also the parked writes). */
static void http_server_request_answered(struct http_request *request, void *argument)
{
    struct http_server *server = argument;
    const char *path = http_route_path(server->relay, request);
    if (!path)
        path = "";
    int status = http_request_status(request);
    metrics_request_count(relay_metrics(server->relay), path, strlen(path), status);
    if (status >= 400)
        http_server_error_log(server, request, path, status);
}

/* Hands request to the extension whose path prefix covers path. Returns whether one took it. */
static bool http_extension_dispatch(struct relay *relay, struct http_request *request,
                                    const char *path)
{
    size_t count;
    const struct relay_extension *extensions = relay_extensions(relay, &count);
    for (size_t i = 0; i < count; i++) {
        const char *prefix = extensions[i].path_prefix;
        if (!prefix || !extensions[i].request_handle)
            continue;
        size_t length = strlen(prefix);
        if (strncmp(path, prefix, length) == 0 && (path[length] == '\0' || path[length] == '/')) {
            extensions[i].request_handle(extensions[i].argument, request, path);
            return true;
        }
    }
    return false;
}

/* Every request arrives here: strip the base path, pick the route. */
static void http_server_request_dispatch(struct http_request *request, void *argument)
{
    struct http_server *server = argument;
    struct relay *relay = server->relay;
    http_common_headers_add(relay, request);
    const char *query = http_request_query(request);
    const char *path = http_route_path(relay, request);
    if (!path) {
        http_reply_error(request, HTTP_DIALECT_V1, 404, "not found", "not found");
        return;
    }
    enum http_request_method method = http_request_method(request);
    if (method == HTTP_REQUEST_OPTIONS) {
        /* A CORS preflight: InfluxDB answers 200 without a body on every path. */
        http_request_reply(request, 200, NULL);
        return;
    }
    bool reading = method == HTTP_REQUEST_GET || method == HTTP_REQUEST_HEAD;
    if (strcmp(path, "/write") == 0 || strcmp(path, "/api/v2/write") == 0) {
        enum http_dialect dialect = path[1] == 'w' ? HTTP_DIALECT_V1 : HTTP_DIALECT_V2;
        if (method != HTTP_REQUEST_POST)
            http_method_not_allowed(request, "POST");
        else
            http_write_handle(relay, request, dialect, query);
    } else if (strcmp(path, "/ping") == 0) {
        if (reading)
            http_ping_handle(relay, request, query);
        else
            http_method_not_allowed(request, "GET, HEAD");
    } else if (strcmp(path, "/health") == 0) {
        if (reading)
            http_health_handle(relay, request);
        else
            http_method_not_allowed(request, "GET, HEAD");
    } else if (strcmp(path, "/ready") == 0) {
        if (reading)
            http_ready_handle(relay, request);
        else
            http_method_not_allowed(request, "GET, HEAD");
    } else if (strcmp(path, "/query") == 0) {
        if (method == HTTP_REQUEST_GET || method == HTTP_REQUEST_POST)
            http_query_handle(relay, request, query);
        else
            http_method_not_allowed(request, "GET, POST");
    } else if (strcmp(path, "/metrics") == 0) {
        if (reading)
            http_metrics_handle(relay, request);
        else
            http_method_not_allowed(request, "GET, HEAD");
    } else if (!http_extension_dispatch(relay, request, path)) {
        http_reply_error(request, HTTP_DIALECT_V1, 404, "not found", "not found");
    }
}

/* A request the connection could not read to its end: an error in the dialect of its route. */
static void http_server_request_refuse(struct http_request *request, int code, const char *message,
                                       void *argument)
{
    struct http_server *server = argument;
    http_common_headers_add(server->relay, request);
    const char *path = http_route_path(server->relay, request);
    enum http_dialect dialect =
        path && strcmp(path, "/api/v2/write") == 0 ? HTTP_DIALECT_V2 : HTTP_DIALECT_V1;
    if (code == 401) {
        http_write_unauthorized(request, dialect);
        return;
    }
    const char *code_name = code == 413 ? "request too large" : "invalid";
    char text[256];
    if (code == 400)
        snprintf(text, sizeof text, "cannot parse the request: %s", message);
    else
        snprintf(text, sizeof text, "%s", message);
    http_reply_error(request, dialect, code, code_name, text);
}

/* Checked before a body is read, so that a client without credentials cannot hold the
 * relay.max_inflight_bytes budget (and with it everyone else's writes) by announcing a large body
 * and sending it slowly or never: a write's credentials are in its headers and query string; no
 * other route reads more than a small body, and /query's may carry its credentials (u and p of a
 * form). */
static int http_server_request_head_check(struct http_request *request, void *argument,
                                          uint64_t *body_limit)
{
    struct http_server *server = argument;
    const char *path = http_route_path(server->relay, request);
    if (path && http_request_method(request) == HTTP_REQUEST_POST &&
        (strcmp(path, "/write") == 0 || strcmp(path, "/api/v2/write") == 0)) {
        enum http_dialect dialect = path[1] == 'w' ? HTTP_DIALECT_V1 : HTTP_DIALECT_V2;
        return http_write_authorized(server->relay, request, dialect, http_request_query(request))
                   ? 0
                   : 401;
    }
    if (path && strcmp(path, "/query") == 0 &&
        http_auth_request_allowed(&relay_config(server->relay)->relay, request))
        return 0; /* InfluxQL of any length from a client the relay knows */
    if (*body_limit > HTTP_SERVER_SMALL_BODY_LIMIT)
        *body_limit = HTTP_SERVER_SMALL_BODY_LIMIT;
    return 0;
}

/* Pauses accepting at relay.max_connections, and while accept() rests after a failure; further
 * clients wait in the listen backlog. */
static void http_server_accepting_update(struct http_server *server)
{
    if (!server->listener)
        return;
    bool below_cap =
        server->connections.count < server->maximum_connections && !server->accept_starved;
    if (below_cap && server->accept_paused) {
        evconnlistener_enable(server->listener);
        server->accept_paused = false;
    } else if (!below_cap && !server->accept_paused) {
        evconnlistener_disable(server->listener);
        server->accept_paused = true;
    }
}

static void http_server_connection_closed(void *argument)
{
    struct http_server *server = argument;
    server->accept_starved = false; /* a descriptor is free again */
    http_server_accepting_update(server);
}

static void http_server_accept_retry_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct http_server *server = argument;
    server->accept_starved = false;
    http_server_accepting_update(server);
}

static void http_server_accept(struct evconnlistener *listener, evutil_socket_t socket,
                               struct sockaddr *address, int length, void *argument)
{
    (void)listener;
    (void)address;
    (void)length;
    struct http_server *server = argument;
    server->accept_error_logged = false;
    if (http_connection_open(server->base, socket, &server->settings, &server->handlers,
                             &server->connections) != 0)
        log_warning(relay_logger(server->relay), "out of memory accepting a client connection");
    http_server_accepting_update(server);
}

static void http_server_accept_error(struct evconnlistener *listener, void *argument)
{
    (void)listener;
    struct http_server *server = argument;
    int error = errno;
    /* EMFILE and the like: the client stays in the backlog and is retried after a rest. Said once
     * until a client is accepted again. */
    if (!server->accept_error_logged)
        log_warning(relay_logger(server->relay),
                    "cannot accept a client connection; new clients wait until it works again "
                    "(EMFILE: raise the descriptor limit, ulimit -n / LimitNOFILE, above "
                    "relay.max_connections)",
                    LOG_STRING("error", strerror(error)),
                    LOG_INTEGER("connections", (int64_t)server->connections.count));
    server->accept_error_logged = true;
    const struct timeval rest = {HTTP_ACCEPT_RETRY_MS / 1000, HTTP_ACCEPT_RETRY_MS % 1000 * 1000};
    if (event_add(server->accept_retry, &rest) != 0)
        return; /* cannot rest: retry at the next event as before */
    server->accept_starved = true;
    http_server_accepting_update(server);
}

/* Binds relay.listen ("host:port", "[v6]:port" or ":port" as config stores it). */
static int http_server_bind(struct http_server *server, const struct config_listen *listen,
                            char *error, size_t error_size)
{
    const char *host = listen->host && listen->host[0] ? listen->host : "0.0.0.0";
    char port[16];
    snprintf(port, sizeof port, "%d", listen->port);
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
                                    .ai_socktype = SOCK_STREAM,
                                    .ai_protocol = IPPROTO_TCP,
                                    .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG};
    struct evutil_addrinfo *addresses = NULL;
    int status = evutil_getaddrinfo(host, port, &hints, &addresses);
    if (status != 0) {
        error_message_set(error, error_size, "relay.listen: cannot resolve %s: %s", host,
                          evutil_gai_strerror(status));
        return -1;
    }
    int bind_errno = 0;
    for (struct evutil_addrinfo *address = addresses; address && !server->listener;
         address = address->ai_next) {
        server->listener = evconnlistener_new_bind(
            server->base, http_server_accept, server,
            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, HTTP_LISTEN_BACKLOG,
            address->ai_addr, (int)address->ai_addrlen);
        if (!server->listener)
            bind_errno = errno;
    }
    evutil_freeaddrinfo(addresses);
    if (!server->listener) {
        error_message_set(error, error_size,
                          "relay.listen: cannot listen on %s port %d: %s; is another process "
                          "using it?",
                          host, listen->port, strerror(bind_errno));
        return -1;
    }
    evconnlistener_set_error_cb(server->listener, http_server_accept_error);
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    int fd = evconnlistener_get_fd(server->listener);
    server->port = listen->port;
    if (getsockname(fd, (struct sockaddr *)&address, &length) == 0) {
        if (address.ss_family == AF_INET)
            server->port = ntohs(((struct sockaddr_in *)&address)->sin_port);
        else if (address.ss_family == AF_INET6)
            server->port = ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    }
    return 0;
}

static struct timeval http_timeval_from_ms(int64_t ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};
}

static void http_server_settings_read(struct http_server *server, const struct config_relay *config)
{
    /* The raw limit only stops absurd bodies early; the decoded size is checked by the write
     * handler (JSON 413). gzip never expands data by more than ~0.1 % plus a header, so a raw
     * body over this bound decodes to more than max_body_bytes for sure. */
    server->settings.body_limit = config->max_body_bytes + config->max_body_bytes / 512 + 65536;
    server->settings.headers_limit = HTTP_MAX_HEADERS_BYTES;
    server->settings.bodies_limit = config->max_inflight_bytes;
    server->settings.unbudgeted_body_limit = HTTP_SERVER_SMALL_BODY_LIMIT;
    server->settings.read_timeout = http_timeval_from_ms(config->read_timeout_ms);
    server->settings.idle_timeout = http_timeval_from_ms(config->idle_timeout_ms);
    server->settings.write_timeout = http_timeval_from_ms(config->write_timeout_ms);
}

int http_server_create(struct relay *relay, struct event_base *base, struct http_server **out,
                       char *error, size_t error_size)
{
    const struct config_relay *config = &relay_config(relay)->relay;
    struct http_server *server = calloc(1, sizeof *server);
    if (!server) {
        error_message_set(error, error_size, "out of memory creating the HTTP server");
        return -1;
    }
    server->relay = relay;
    server->base = base;
    server->maximum_connections = (size_t)config->max_connections;
    http_server_settings_read(server, config);
    server->handlers = (struct http_connection_handlers){
        .request_handle = http_server_request_dispatch,
        .request_refuse = http_server_request_refuse,
        .request_head_check = http_server_request_head_check,
        .request_answered = http_server_request_answered,
        .connection_closed = http_server_connection_closed,
        .argument = server,
    };
    server->accept_retry = evtimer_new(base, http_server_accept_retry_event, server);
    if (!server->accept_retry) {
        error_message_set(error, error_size, "out of memory creating the HTTP server");
        http_server_destroy(server);
        return -1;
    }
    if (http_server_bind(server, &config->listen, error, error_size) != 0) {
        http_server_destroy(server);
        return -1;
    }
    *out = server;
    return 0;
}

int http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_settings_apply(struct http_server *server)
{
    http_server_settings_read(server, &relay_config(server->relay)->relay);
}

void http_server_stop_accepting(struct http_server *server)
{
    if (server && server->listener) {
        evconnlistener_free(server->listener);
        server->listener = NULL;
    }
}

void http_server_destroy(struct http_server *server)
{
    if (!server)
        return;
    http_server_stop_accepting(server);
    http_connection_list_close(&server->connections);
    if (server->accept_retry)
        event_free(server->accept_retry);
    free(server);
}
