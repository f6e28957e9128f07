/* The connection limits of the HTTP server (spec/wire.md: slow or stalled clients are cut off,
 * the connection count is capped), which libevent 2.1's evhttp lacks:
 * - at most relay.max_connections open client connections; at the cap the listener pauses and
 *   further clients wait in the kernel's listen backlog;
 * - a request must arrive completely within read_timeout of its first byte (of the accept for
 *   the first request of a connection); otherwise the connection is closed without an answer,
 *   as InfluxDB does;
 * - an answer must make progress within write_timeout;
 * - a keep-alive connection may idle for idle_timeout between requests. */
#ifndef NEBENKOSTEN_RELAY_HTTP_CONNECTIONS_H
#define NEBENKOSTEN_RELAY_HTTP_CONNECTIONS_H

#include "config/clock.h"
#include "config/config.h"

struct event_base;
struct evconnlistener;
struct evhttp;
struct evhttp_request;
struct http_connections;

/* Installs the limits of config on http; base, http and clock are borrowed and must outlive
 * the result, config is read now and not kept. Returns an owned object (free with
 * http_connections_destroy after evhttp_free), or NULL when out of memory. */
struct http_connections *http_connections_create(struct event_base *base, struct evhttp *http,
                                                 const struct config_relay *config,
                                                 const struct clock *clock);
/* Takes the timeouts of config (borrowed, not kept) for the deadlines that start from now on;
 * relay.max_connections stays as created. */
void http_connections_timeouts_set(struct http_connections *connections,
                                   const struct config_relay *config);
/* The listener to pause at the cap (borrowed); NULL before it goes away. */
void http_connections_listener_set(struct http_connections *connections,
                                   struct evconnlistener *listener);
/* request (borrowed) arrived completely: its read deadline ends, so a request parked until the
 * spool commit is not cut off. Call from the request callback. */
void http_connections_request_arrived(const struct http_connections *connections,
                                      struct evhttp_request *request);
/* Frees connections (owned; NULL is fine). Call after evhttp_free, which closes the connections. */
void http_connections_destroy(struct http_connections *connections);

#endif
