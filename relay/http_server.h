/* The HTTP server of meter-relay (libevent events, http-parser): binds relay.listen, caps the
 * connections at relay.max_connections, strips relay.base_path,
 * dispatches the routes of spec/wire.md, and the response helpers every endpoint uses (common
 * headers, JSON error bodies in the v1 or v2 dialect). */
#ifndef NEBENKOSTEN_RELAY_HTTP_SERVER_H
#define NEBENKOSTEN_RELAY_HTTP_SERVER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "relay/http_request.h"

struct event_base;
struct cJSON;
struct relay;

/* The version clients see in X-Influxdb-Version and /ping?verbose=true: numeric, because client
 * libraries parse it to pick the API dialect. */
#define HTTP_INFLUXDB_VERSION "1.8.10"
/* Retry-After (seconds) of 503 answers. */
#define HTTP_RETRY_AFTER_SECONDS "5"

enum http_dialect { HTTP_DIALECT_V1, HTTP_DIALECT_V2 };

struct http_server;

/* Creates the server on base (borrowed) for relay (borrowed; both must outlive the server) and
 * binds the configured address. Returns 0 and an owned server in *out (free with
 * http_server_destroy), or -1 with a message in error (e.g. the address is in use). */
int http_server_create(struct relay *relay, struct event_base *base, struct http_server **out,
                       char *error, size_t error_size);
/* The port actually bound (relay.listen may say 0). */
int http_server_port(const struct http_server *server);
/* Takes the settings that can change while running from relay_config() again: the body size
 * limit, the budget of bodies held at once and the timeouts, for connections and requests from
 * now on. relay.listen and
 * relay.max_connections stay as created. */
void http_server_settings_apply(struct http_server *server);
/* Closes the listening socket; open connections keep being served. */
void http_server_stop_accepting(struct http_server *server);
/* Frees server (owned; NULL is fine) and every connection it still has. */
void http_server_destroy(struct http_server *server);

/* Sends code with body (borrowed; length bytes, may be 0) as Content-Type application/json (when
 * length > 0). request is borrowed and answered (http_request.h). */
void http_reply_json(struct http_request *request, int code, const char *body, size_t length);
/* Sends code with the JSON text of object (owned: deleted here; NULL or out of memory: 503). */
void http_reply_json_object(struct http_request *request, int code, struct cJSON *object);
/* {"error":message} (v1, plus the X-Influxdb-Error header unless code is 401) or
 * {"code":code_name,"message":message} (v2, plus the X-Platform-Error-Code header). message and
 * code_name borrowed. */
void http_reply_error(struct http_request *request, enum http_dialect dialect, int code,
                      const char *code_name, const char *message);
/* The message of a 400 for what http_query_parse returned. */
#define HTTP_QUERY_PARSE_MESSAGE(status)                                                           \
    ((status) == -EINVAL ? "cannot parse the query string: a parameter holds a NUL byte (%00)"     \
                         : "cannot parse the query string")
/* Parses a query string ("a=b&c") into parameters as InfluxDB does (values may hold line breaks:
 * a q written over several lines); 0, -EINVAL when a key or value decodes to a NUL byte (the
 * NUL-terminated copies would cut it short), or -ENOMEM. */
int http_query_parse(const char *query, struct evkeyvalq *parameters);
/* 503 with Retry-After in the dialect's error body. */
void http_reply_unavailable(struct http_request *request, enum http_dialect dialect,
                            const char *message);
/* Builds the error body of http_reply_error; returns an owned NUL-terminated string or NULL. */
char *http_error_body(enum http_dialect dialect, const char *code_name, const char *message);

/* Endpoints (relay borrowed, request borrowed and answered). query is the raw query string
 * (borrowed, NULL when absent). */
void http_write_handle(struct relay *relay, struct http_request *request, enum http_dialect dialect,
                       const char *query);
/* Whether the write's credentials (Authorization header, v1 u/p in query) pass relay.auth; a
 * query string that does not parse passes (the write answers it 400). */
bool http_write_authorized(struct relay *relay, struct http_request *request,
                           enum http_dialect dialect, const char *query);
/* 401 in the dialect's form (v1 with WWW-Authenticate, as InfluxDB). */
void http_write_unauthorized(struct http_request *request, enum http_dialect dialect);
void http_ping_handle(struct relay *relay, struct http_request *request, const char *query);
void http_health_handle(struct relay *relay, struct http_request *request);
void http_ready_handle(struct relay *relay, struct http_request *request);
/* GET|POST /query: CREATE DATABASE and SHOW DATABASES answered locally (CREATE DATABASE also
 * sent to every v1 upstream; JSON, or CSV for an Accept that asks for it), everything else passed
 * through to relay.query_upstream. */
void http_query_handle(struct relay *relay, struct http_request *request, const char *query);
/* GET /metrics: Prometheus text format 0.0.4. */
void http_metrics_handle(struct relay *relay, struct http_request *request);

#endif
