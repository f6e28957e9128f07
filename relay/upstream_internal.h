/* What relay/upstream.c (delivery) and relay/upstream_status.c (metrics and health) share: the
 * state of each upstream. Not for other files. */
#ifndef NEBENKOSTEN_RELAY_UPSTREAM_INTERNAL_H
#define NEBENKOSTEN_RELAY_UPSTREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/upstream.h"

#define UPSTREAM_ERROR_SIZE 512

enum upstream_state { UPSTREAM_OK, UPSTREAM_BACKOFF, UPSTREAM_PAUSED };

/* One record of the batch buffer: its lines and its encoded routing (spool meta, so equal
 * routing is equal bytes). */
struct upstream_span {
    uint64_t sequence;
    size_t line_offset, line_length, line_count;
    size_t meta_offset, meta_length;
};

struct upstream {
    struct upstream_set *set;
    /* Copied from the configuration at start. */
    char *name, *url, *org;
    enum config_api api;
    struct config_route *routes;
    size_t route_count;
    size_t batch_lines;
    uint64_t batch_bytes;
    bool gzip;
    int64_t backoff_initial_ms, backoff_max_ms, pause_retry_ms;

    struct spool_cursor *cursor;
    CURL *easy;
    struct curl_slist *headers;
    struct event *retry_timer;
    bool sending, waiting;
    enum upstream_state state;
    unsigned failures; /* in a row, for the backoff */

    struct buffer lines, metas;
    struct upstream_span *spans;
    size_t span_count, span_capacity, span_first; /* spans before span_first were delivered */
    size_t window;                                /* spans in the request in flight */
    size_t record_limit; /* spans a batch may hold after a 413; 0 = no limit */
    struct buffer body, answer;
    /* The gzipped body of the window after the one in flight, compressed while the upstream
     * works on the current one (one request in flight stays the rule; only the compression
     * overlaps). Sent only if the next window starts with the same record and still fits the
     * limits; prepared_count = 0 when there is none. */
    struct buffer prepared_body;
    uint64_t prepared_first_sequence;
    size_t prepared_count;
    struct event *prepare_timer;
    char *request_url;
    long retry_after_seconds; /* from the answer's Retry-After; -1 = none */

    uint64_t sent_records, sent_lines, sent_bytes, retries, dead_lettered_records;
    int64_t last_delivery_ns; /* realtime of the last advance, for the oldest-unsent age */
    long last_status;
    char last_error[UPSTREAM_ERROR_SIZE];
};

struct upstream_set {
    struct upstream_environment environment;
    struct upstream *upstreams;
    size_t count;
    struct event *store_timer;
    uint64_t random_state;
};

#endif
