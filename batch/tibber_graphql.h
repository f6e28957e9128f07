/* The HTTP side of Tibber's GraphQL API: one blocking POST at a time (libcurl easy), with the
 * token as `Authorization: Bearer ...`, retries and a request budget.
 *
 * - 401 and 403 (and an UNAUTHENTICATED error in a 4xx body) are fatal at once: retrying a
 *   refused token only spends the budget (the caller adds which secrets file to fix).
 * - 429, 5xx, timeouts, refused or reset connections and truncated answers are retried, at most
 *   TIBBER_MAX_ATTEMPTS requests in all: after Retry-After when Tibber sends one (a wait longer
 *   than TIBBER_RETRY_AFTER_MAX_S is not sat out: the run fails and the next scheduled one tries
 *   again), else after 0.5 s, 1 s, 2 s.
 * - Every request, retries included, is counted against the run's budget (request_budget), so a
 *   run never sends more than that many, far below Tibber's limit of 100 requests per 5 minutes
 *   per IP even when two runs overlap.
 * - An answer larger than TIBBER_ANSWER_MAX_BYTES is refused (a 744-hour page is ~150 KiB). */
#ifndef NEBENKOSTEN_BATCH_TIBBER_GRAPHQL_H
#define NEBENKOSTEN_BATCH_TIBBER_GRAPHQL_H

#include <stddef.h>
#include <stdint.h>

#include "batch/tibber_response.h"
#include "config/log.h"
#include "relay/buffer.h"

#define TIBBER_MAX_ATTEMPTS 4
#define TIBBER_REQUEST_BUDGET 40
#define TIBBER_RETRY_AFTER_MAX_S 60
#define TIBBER_BACKOFF_INITIAL_MS 500
#define TIBBER_ANSWER_MAX_BYTES (32u * 1024 * 1024)
#define TIBBER_DEFAULT_TIMEOUT_MS 30000

struct tibber_client_options {
    const char *url;       /* the GraphQL endpoint (tibber.api_url) */
    const char *token;     /* TIBBER_API_TOKEN; never logged */
    int64_t timeout_ms;    /* per request, connection included */
    int request_budget;    /* requests this client may send in all (0: TIBBER_REQUEST_BUDGET) */
    struct logger *logger; /* retries are logged as warnings; may be NULL */
};

struct tibber_client;

/* options and everything it points to are borrowed and must outlive the client. Returns an owned
 * client (tibber_client_destroy) or NULL with error. */
struct tibber_client *tibber_client_create(const struct tibber_client_options *options, char *error,
                                           size_t error_size);
void tibber_client_destroy(struct tibber_client *client);

/* POSTs body[0 .. length) (JSON, borrowed) and, on a 2xx answer, puts the answer's bytes into
 * *answer (replacing what it held; caller-owned). Returns TIBBER_STATUS_OK, or the status with one
 * line in error: what failed, Tibber's words when it sent any, and what to do. */
enum tibber_status tibber_client_post(struct tibber_client *client, const char *body, size_t length,
                                      struct buffer *answer, char *error, size_t error_size);

/* Requests sent so far, retries included. */
int tibber_client_requests(const struct tibber_client *client);

#endif
