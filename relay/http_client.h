/* libcurl's multi interface driven by the relay's libevent loop: curl tells us which sockets to
 * watch and when to call it back (socket and timer callbacks), libevent tells curl when they are
 * ready. No threads, nothing blocks the loop. Used by the upstream forwarder and the /query
 * pass-through. */
#ifndef NEBENKOSTEN_RELAY_HTTP_CLIENT_H
#define NEBENKOSTEN_RELAY_HTTP_CLIENT_H

#include <curl/curl.h>
#include <stdbool.h>

#include "config/config.h"

struct event_base;
struct http_client;

/* Called on the loop when a transfer ended (result CURLE_OK or the error); the easy handle is
 * removed from the multi handle before, so the callback may reuse or free it. */
typedef void (*http_client_done)(CURL *easy, CURLcode result, void *argument);

/* Creates a client on base (borrowed, must outlive it). curl_global_init must have run. Returns
 * an owned client (free with http_client_destroy) or NULL. */
struct http_client *http_client_create(struct event_base *base);

/* Ends every transfer still running with CURLE_ABORTED_BY_CALLBACK (their done callbacks run,
 * so fire-and-forget transfers free themselves; cancel the others first) and frees client
 * (owned; NULL is fine). The easy handles stay the callers'. */
void http_client_destroy(struct http_client *client);

/* What every request the relay sends to upstream (borrowed) gets: the user agent, no signals,
 * its connect timeout and TLS checks, no "Expect: 100-continue" round trip (an empty Expect:
 * appended to *headers), and with credentials its token (an Authorization header appended to
 * *headers) or its Basic user and password. Set *headers on easy afterwards (CURLOPT_HTTPHEADER);
 * the caller owns the list. Returns 0 or -1 (out of memory; *headers keeps what was appended). */
int http_client_upstream_setup(CURL *easy, const struct config_upstream *upstream, bool credentials,
                               struct curl_slist **headers);

/* Starts the transfer set up in easy (borrowed until done runs or it is cancelled); done gets
 * argument. Returns 0 or -1 (curl refused the handle). */
int http_client_start(struct http_client *client, CURL *easy, http_client_done done,
                      void *argument);

/* Stops a running transfer without calling its done callback (shutdown, reconfiguration).
 * Harmless for a handle that is not running. */
void http_client_cancel(struct http_client *client, CURL *easy);

#endif
