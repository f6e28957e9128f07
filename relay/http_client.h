/* libcurl's multi interface driven by the relay's libevent loop: curl tells us which sockets to
 * watch and when to call it back (socket and timer callbacks), libevent tells curl when they are
 * ready. No threads, nothing blocks the loop. Used by the upstream forwarder and the /query
 * pass-through. */
#ifndef NEBENKOSTEN_RELAY_HTTP_CLIENT_H
#define NEBENKOSTEN_RELAY_HTTP_CLIENT_H

#include <curl/curl.h>

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

/* Starts the transfer set up in easy (borrowed until done runs or it is cancelled); done gets
 * argument. Returns 0 or -1 (curl refused the handle). */
int http_client_start(struct http_client *client, CURL *easy, http_client_done done,
                      void *argument);

/* Stops a running transfer without calling its done callback (shutdown, reconfiguration).
 * Harmless for a handle that is not running. */
void http_client_cancel(struct http_client *client, CURL *easy);

#endif
