/* What relay/upstream.c (delivery) and relay/upstream_status.c (metrics and health) share: the
 * state of each upstream. Not for other files. */
#ifndef NEBENKOSTEN_RELAY_UPSTREAM_INTERNAL_H
#define NEBENKOSTEN_RELAY_UPSTREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/point_keys.h"
#include "relay/upstream.h"

#define UPSTREAM_ERROR_SIZE 512

enum upstream_state { UPSTREAM_OK, UPSTREAM_BACKOFF, UPSTREAM_PAUSED };

enum upstream_span_state { UPSTREAM_SPAN_UNSENT, UPSTREAM_SPAN_SENDING, UPSTREAM_SPAN_DONE };

/* One record of the batch buffer: its lines and its encoded routing (spool meta, so equal
 * routing is equal bytes). */
struct upstream_span {
    uint64_t sequence;
    size_t line_offset, line_length, line_count;
    size_t meta_offset, meta_length;
    enum upstream_span_state state;
};

/* One of an upstream's request slots (requests_in_flight of them, each with its own libcurl
 * handle and so its own keep-alive connection). */
struct upstream_request {
    struct upstream *upstream;
    CURL *easy;
    bool busy;
    size_t first, count;  /* its batch: spans[first .. first + count) */
    struct buffer body;   /* what is sent (gzipped, or a copy of the lines) */
    struct buffer answer; /* the upstream's answer, up to UPSTREAM_ANSWER_MAX */
    char *url;
    long retry_after_seconds; /* from the answer's Retry-After; -1 = none */
    /* A Retry-After that is an HTTP-date and the answer's Date (-1: none), both the upstream's
     * clock: the wait is their difference, known once every header is in. */
    int64_t retry_after_date, answer_date;
    struct point_keys keys; /* the points of the batch, when several may be in flight */
    bool keys_known;        /* false: collecting keys ran out of memory */
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
    size_t requests_in_flight;
    int64_t batch_wait_ms;
    int64_t backoff_initial_ms, backoff_max_ms, pause_retry_ms;

    struct spool_cursor *cursor;
    struct curl_slist *headers;
    struct upstream_request *requests; /* requests_in_flight slots */
    size_t busy_count;
    struct event *retry_timer;
    bool waiting; /* for the retry timer: nothing new is sent meanwhile */
    enum upstream_state state;
    unsigned failures; /* in a row, for the backoff */

    struct buffer lines, metas;
    /* A record read from the cursor that the buffer could not take (out of memory); it is
     * taken before the cursor is read again. Its slices point into the cursor's window. */
    struct spool_record held;
    bool has_held;
    struct upstream_span *spans;
    size_t span_count, span_capacity;
    size_t span_first;   /* spans before it are done (delivered or dead-lettered) */
    size_t span_next;    /* the next batch starts here: spans before it are sending or done */
    size_t record_limit; /* spans a batch may hold after a 413; 0 = no limit */
    /* The gzipped body of the next batch, compressed while every slot is busy so it is ready
     * when one frees. Sent only if the next batch starts with the same record and still fits
     * the limits; prepared_count = 0 when there is none. */
    struct buffer prepared_body;
    uint64_t prepared_first_sequence;
    size_t prepared_count;
    struct event *prepare_timer;
    /* batch_wait: the monotonic time the last request went out (INT64_MIN: none yet), and the
     * timer that sends a short batch once batch_wait has passed since (wait_over then). */
    int64_t last_send_ns;
    struct event *wait_timer;
    bool wait_over;
    struct point_keys candidate_keys; /* of the batch about to be sent */
    bool candidate_keys_known;

    uint64_t sent_records, sent_lines, sent_bytes, retries, dead_lettered_records;
    /* Monotonic time since which the oldest unsent record waits, for the oldest-unsent age: the
     * last advance, or the commit of records that found everything before them sent. On the wall
     * clock the age went to 0 when the clock was set back and jumped by days when NTP stepped
     * it forward. */
    int64_t waiting_since_ns;
    long last_status;
    char last_error[UPSTREAM_ERROR_SIZE];
};

struct upstream_set {
    struct upstream_environment environment;
    struct upstream *upstreams;
    size_t count;
    struct event *store_timer;
    uint64_t random_state;
    uint64_t kicked_sequence; /* the committed sequence at the last upstream_set_kick */
};

/* Committed records past the upstream's acknowledged position (upstream borrowed). */
uint64_t upstream_backlog_count(const struct upstream *upstream);
/* How long the oldest unsent record has waited at monotonic_ns (0 when it came later); what
 * oldest_unsent_seconds shows when there is a backlog. */
int64_t upstream_waiting_ns(const struct upstream *upstream, int64_t monotonic_ns);

/* The longest an upstream's Retry-After holds delivery back: a day, whatever the upstream asks. */
#define UPSTREAM_RETRY_AFTER_MAX_SECONDS 86400

/* The seconds of a Retry-After header's value (value borrowed, length bytes, leading spaces
 * allowed) given as delay-seconds, capped at UPSTREAM_RETRY_AFTER_MAX_SECONDS; -1 when it does not
 * start with a digit (an HTTP-date, or nothing usable). */
long upstream_retry_after_seconds(const char *value, size_t length);

#endif
