/* Client authentication of the write endpoints and the relay's own API (relay.auth
 * none|token|basic, credentials from secrets/relay.env). Every comparison runs in time independent
 * of where the inputs differ. */
#ifndef NEBENKOSTEN_RELAY_HTTP_AUTH_H
#define NEBENKOSTEN_RELAY_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "relay/http_server.h"

/* What a request presented; all borrowed, NULL when absent. */
struct http_auth_request {
    const char *authorization; /* the Authorization header */
    const char *user;          /* v1 query parameter u */
    const char *password;      /* v1 query parameter p */
};

/* Whether the request may write. auth none: always. token: "Token <t>" (v1, v2), "Bearer <t>"
 * (v2), or on v1 a password (Basic or p) equal to a token (InfluxDB 2's v1 compatibility).
 * basic: user and password from Basic (v1), u/p (v1), or "Token user:password" (v1, v2) /
 * "Bearer user:password" (v2). config is borrowed. */
bool http_auth_allows(const struct config_relay *config, enum http_dialect dialect,
                      const struct http_auth_request *request);

/* Whether a request to the relay's own API (jobs, meters) may have its answer: any credential a
 * write endpoint takes (Token, Basic or u/p as for /write, Bearer as for /api/v2/write). config
 * and request are borrowed. */
bool http_auth_request_allowed(const struct config_relay *config, struct http_request *request);

/* Compares a (length a_length) with b (b_length) in time that depends only on the lengths. */
bool http_auth_equal(const char *a, size_t a_length, const char *b, size_t b_length);

#endif
