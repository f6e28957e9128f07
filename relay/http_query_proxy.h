/* The /query statements the relay does not answer itself go to relay.query_upstream (spec/wire.md),
 * and CREATE DATABASE, which it does answer, is repeated on every v1 upstream. Both run on the
 * relay's libcurl client (http_client.h), one easy handle per request.
 *
 * Pass-through: same method, the client's raw query string and form body, its Authorization,
 * Accept and Accept-Encoding headers (the upstream's configured credentials only when the client
 * sent none). The upstream's status, Content-Type, Content-Encoding and X-Influxdb-* headers go
 * back, and the body is streamed as it arrives (chunked toward HTTP/1.1 clients): while more than
 * HTTP_QUERY_PROXY_OUTPUT_MAX bytes wait for a slow client, the transfer is paused and resumed
 * once the client's connection drained, so a result never sits in memory as a whole. A client
 * that goes away cancels the transfer. Before the answer started, an upstream that cannot be
 * reached gets 502 and one that stays silent for its request_timeout 504 ({"error":...}); after it
 * started, a failure closes the client's connection, so the client never mistakes a cut-off
 * result for a complete one. */
#ifndef NEBENKOSTEN_RELAY_HTTP_QUERY_PROXY_H
#define NEBENKOSTEN_RELAY_HTTP_QUERY_PROXY_H

#include <stdbool.h>

struct http_request;
struct relay;

/* Answer bytes queued toward a client beyond which the upstream transfer pauses. */
#define HTTP_QUERY_PROXY_OUTPUT_MAX (1024 * 1024)

/* Passes request (borrowed, GET or POST /query, answered and released here or by libevent) with
 * its raw query string query (borrowed, NULL when absent) to the query upstream.
 * lend_credentials: the upstream request carries the relay's credentials for the upstream (the
 * client sent none of its own); otherwise only the client's Authorization header goes along. */
void http_query_proxy_forward(struct relay *relay, struct http_request *request, const char *query,
                              bool lend_credentials);

/* Sends CREATE DATABASE "database" (borrowed) to every v1 upstream and returns at once; each
 * outcome is logged when it arrives (a 403, no admin rights there, as a warning). */
void http_query_proxy_database_create(struct relay *relay, const char *database);

#endif
