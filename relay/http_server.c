/* The evhttp server: binding, limits (connection ones in http_connections.c), the base path,
 * routing, common headers and JSON errors. */
#include "relay/http_server.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/error.h"
#include "relay/http_connections.h"
#include "relay/relay.h"

/* Longest client request id echoed back; longer or odd ones are replaced by a generated one. */
#define HTTP_REQUEST_ID_MAX 128
/* Request line plus headers; clients send a few hundred bytes, so this only stops abuse. */
#define HTTP_MAX_HEADERS_BYTES (64 * 1024)

struct http_server {
    struct relay *relay;
    struct evhttp *http;
    struct evhttp_bound_socket *socket; /* NULL once accepting stopped */
    struct http_connections *connections;
    int port;
};

void http_reply_json_object(struct evhttp_request *request, int code, cJSON *object)
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

void http_reply_json(struct evhttp_request *request, int code, const char *body, size_t length)
{
    struct evbuffer *buffer = evbuffer_new();
    if (length > 0) {
        evhttp_remove_header(evhttp_request_get_output_headers(request), "Content-Type");
        evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type",
                          "application/json");
        if (buffer)
            evbuffer_add(buffer, body, length);
    }
    evhttp_send_reply(request, code, NULL, buffer);
    if (buffer)
        evbuffer_free(buffer);
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

void http_reply_error(struct evhttp_request *request, enum http_dialect dialect, int code,
                      const char *code_name, const char *message)
{
    if (dialect == HTTP_DIALECT_V2)
        evhttp_add_header(evhttp_request_get_output_headers(request), "X-Platform-Error-Code",
                          code_name);
    char *body = http_error_body(dialect, code_name, message);
    if (body) {
        http_reply_json(request, code, body, strlen(body));
        cJSON_free(body);
    } else {
        static const char fallback[] = "{\"error\":\"out of memory\"}";
        http_reply_json(request, 500, fallback, sizeof fallback - 1);
    }
}

void http_reply_unavailable(struct evhttp_request *request, enum http_dialect dialect,
                            const char *message)
{
    evhttp_add_header(evhttp_request_get_output_headers(request), "Retry-After",
                      HTTP_RETRY_AFTER_SECONDS);
    http_reply_error(request, dialect, 503, "unavailable", message);
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

static void http_common_headers_add(struct relay *relay, struct evhttp_request *request)
{
    struct evkeyvalq *input = evhttp_request_get_input_headers(request);
    struct evkeyvalq *output = evhttp_request_get_output_headers(request);
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

static void http_method_not_allowed(struct evhttp_request *request, const char *allowed)
{
    evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", allowed);
    http_reply_error(request, HTTP_DIALECT_V1, 405, "method not allowed", "method not allowed");
}

/* The path of request below relay.base_path (borrowed from request), or NULL when the URI does
 * not parse or lies outside the base path. */
static const char *http_route_path(struct relay *relay, struct evhttp_request *request)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(request);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *base = relay_config(relay)->relay.base_path;
    size_t base_length = base ? strlen(base) : 0;
    if (!path || base_length == 0)
        return path;
    if (strncmp(path, base, base_length) != 0 ||
        (path[base_length] != '/' && path[base_length] != '\0'))
        return NULL;
    return path + base_length;
}

/* Runs once the answer went out, whichever code path sent it (also the parked writes). */
static void http_request_completed(struct evhttp_request *request, void *argument)
{
    struct http_server *server = argument;
    const char *path = http_route_path(server->relay, request);
    if (!path)
        path = "";
    metrics_request_count(relay_metrics(server->relay), path, strlen(path),
                          evhttp_request_get_response_code(request));
}

/* Hands request to the extension whose path prefix covers path. Returns whether one took it. */
static bool http_extension_dispatch(struct relay *relay, struct evhttp_request *request,
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
static void http_request_dispatch(struct evhttp_request *request, void *argument)
{
    struct http_server *server = argument;
    struct relay *relay = server->relay;
    http_connections_request_arrived(server->connections, request);
    evhttp_request_set_on_complete_cb(request, http_request_completed, server);
    http_common_headers_add(relay, request);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(request);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!uri || !evhttp_uri_get_path(uri)) {
        http_reply_error(request, HTTP_DIALECT_V1, 400, "invalid", "cannot parse the request URI");
        return;
    }
    const char *path = http_route_path(relay, request);
    if (!path) {
        http_reply_error(request, HTTP_DIALECT_V1, 404, "not found", "not found");
        return;
    }
    enum evhttp_cmd_type method = evhttp_request_get_command(request);
    bool reading = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
    if (strcmp(path, "/write") == 0 || strcmp(path, "/api/v2/write") == 0) {
        enum http_dialect dialect = path[1] == 'w' ? HTTP_DIALECT_V1 : HTTP_DIALECT_V2;
        if (method != EVHTTP_REQ_POST)
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
        if (method == EVHTTP_REQ_GET || method == EVHTTP_REQ_POST)
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

/* Splits "host:port", "[v6]:port", ":port" of relay.listen as config stores it. */
static int http_server_bind(struct http_server *server, const struct config_listen *listen,
                            char *error, size_t error_size)
{
    const char *host = listen->host && listen->host[0] ? listen->host : "0.0.0.0";
    server->socket = evhttp_bind_socket_with_handle(server->http, host, (uint16_t)listen->port);
    if (!server->socket) {
        error_message_set(error, error_size,
                          "relay.listen: cannot listen on %s port %d: %s; is another process "
                          "using it?",
                          host, listen->port, strerror(errno));
        return -1;
    }
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    int fd = evhttp_bound_socket_get_fd(server->socket);
    server->port = listen->port;
    if (getsockname(fd, (struct sockaddr *)&address, &length) == 0) {
        if (address.ss_family == AF_INET)
            server->port = ntohs(((struct sockaddr_in *)&address)->sin_port);
        else if (address.ss_family == AF_INET6)
            server->port = ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    }
    return 0;
}

static void http_server_body_limit_set(struct http_server *server,
                                       const struct config_relay *config)
{
    /* The raw limit only stops absurd bodies early; the decoded size is checked by the write
     * handler (JSON 413). gzip never expands data by more than ~0.1 % plus a header, so a raw
     * body over this bound decodes to more than max_body_bytes for sure. */
    uint64_t raw_limit = config->max_body_bytes + config->max_body_bytes / 512 + 65536;
    evhttp_set_max_body_size(server->http, (ev_ssize_t)raw_limit);
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
    server->http = evhttp_new(base);
    if (!server->http) {
        error_message_set(error, error_size, "cannot create the HTTP server (libevent)");
        free(server);
        return -1;
    }
    http_server_body_limit_set(server, config);
    evhttp_set_max_headers_size(server->http, HTTP_MAX_HEADERS_BYTES);
    server->connections = http_connections_create(base, server->http, config, relay_clock(relay));
    if (!server->connections) {
        error_message_set(error, error_size, "out of memory creating the HTTP server");
        http_server_destroy(server);
        return -1;
    }
    /* Every method reaches the dispatcher, which answers 405 in JSON. */
    evhttp_set_allowed_methods(server->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                                 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                                 EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(server->http, "application/json");
    evhttp_set_gencb(server->http, http_request_dispatch, server);
    if (http_server_bind(server, &config->listen, error, error_size) != 0) {
        http_server_destroy(server);
        return -1;
    }
    http_connections_listener_set(server->connections,
                                  evhttp_bound_socket_get_listener(server->socket));
    *out = server;
    return 0;
}

int http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_settings_apply(struct http_server *server)
{
    const struct config_relay *config = &relay_config(server->relay)->relay;
    http_server_body_limit_set(server, config);
    http_connections_timeouts_set(server->connections, config);
}

void http_server_stop_accepting(struct http_server *server)
{
    if (server && server->socket) {
        http_connections_listener_set(server->connections, NULL);
        evhttp_del_accept_socket(server->http, server->socket);
        server->socket = NULL;
    }
}

void http_server_destroy(struct http_server *server)
{
    if (!server)
        return;
    evhttp_free(server->http);
    http_connections_destroy(server->connections);
    free(server);
}
