/* Upstream delivery (spec/spool.md "Delivery"): every configured InfluxDB gets its own spool
 * cursor and up to requests_in_flight batches in flight (default one; more only for batches that
 * write no point in common, relay/point_keys.h), sent with libcurl on the relay's loop. Batches are
 * consecutive records with the same routing, up to batch_lines and batch_bytes, gzipped. The
 * answer decides: 2xx advances the cursor; a permanent rejection (400, 422, partial write,
 * unable to parse, beyond retention) dead-letters the batch and advances; 401/403/404 pause the
 * upstream (retried every pause_retry); 413 halves the batch; 429/503 wait for Retry-After; any
 * other failure backs off exponentially with jitter, forever. Each state change is logged once. */
#ifndef NEBENKOSTEN_RELAY_UPSTREAM_H
#define NEBENKOSTEN_RELAY_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "config/clock.h"
#include "config/config.h"
#include "config/log.h"
#include "relay/buffer.h"
#include "relay/http_client.h"
#include "relay/spool.h"

struct cJSON;
struct event_base;
struct upstream_set;

/* What the upstreams borrow from the relay; everything must outlive the set. */
struct upstream_environment {
    struct event_base *base;
    struct spool *spool;
    struct http_client *client;
    struct logger *logger;
    const struct clock *clock;
    const char *spool_dir; /* for dead letters */
};

/* Opens a cursor per upstream of config (copied: a reload does not change running upstreams)
 * and starts delivering what the spool already holds. Returns 0 and an owned set in *out (free
 * with upstream_set_destroy), or -1 with a message in error (e.g. an upstream name that cannot
 * name a cursor file). */
int upstream_set_create(const struct config_relay *config,
                        const struct upstream_environment *environment, struct upstream_set **out,
                        char *error, size_t error_size);

/* Cancels the batches in flight (they are sent again after the next start: InfluxDB keeps the
 * last write of a point, so that is harmless), stores every cursor and frees set (owned; NULL is
 * fine). Returns 0 or -EIO (a cursor could not be stored). */
int upstream_set_destroy(struct upstream_set *set);

/* New records were committed: idle upstreams start sending. */
void upstream_set_kick(struct upstream_set *set);

/* Appends the per-upstream metrics (Prometheus text, with HELP and TYPE) to out. Returns 0 or
 * -ENOMEM. */
int upstream_set_metrics_write(const struct upstream_set *set, struct buffer *out);

/* Adds one /health check per upstream ("upstream:<name>") to the JSON array checks (borrowed). */
void upstream_set_health_add(const struct upstream_set *set, struct cJSON *checks);

#endif
