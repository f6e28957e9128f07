/* The forwarder: per upstream, records read from its cursor into a batch buffer, up to
 * requests_in_flight requests (batches with no point in common), the answer classified as in
 * spec/spool.md, retries on a timer; the cursor advances over batches done in a row. */
#include "relay/upstream.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "config/error.h"
#include "relay/dead_letter.h"
#include "relay/gzip_deflate.h"
#include "relay/spool_internal.h"
#include "relay/upstream_internal.h"

/* How much of an upstream's answer is kept for the log and the dead letter. */
#define UPSTREAM_ANSWER_MAX (64u * 1024u)
#define UPSTREAM_CURSOR_STORE_INTERVAL_US 1000000

static uint64_t upstream_random(struct upstream_set *set)
{
    uint64_t x = set->random_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    set->random_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void upstream_pump(struct upstream *upstream);

/* ---- state and retries ---- */

static void upstream_state_set(struct upstream *upstream, enum upstream_state state)
{
    struct logger *logger = upstream->set->environment.logger;
    if (state == upstream->state)
        return;
    if (state == UPSTREAM_OK)
        log_info(logger, "upstream delivering again", LOG_STRING("upstream", upstream->name),
                 LOG_INTEGER("failed_attempts", upstream->failures));
    else if (state == UPSTREAM_PAUSED)
        log_error(logger,
                  "upstream refuses the relay's writes: check its credentials and that the "
                  "database or bucket exists; retrying every pause_retry",
                  LOG_STRING("upstream", upstream->name),
                  LOG_INTEGER("status", upstream->last_status),
                  LOG_STRING("error", upstream->last_error));
    else
        log_warning(logger, "upstream not accepting writes; retrying with backoff",
                    LOG_STRING("upstream", upstream->name),
                    LOG_INTEGER("status", upstream->last_status),
                    LOG_STRING("error", upstream->last_error));
    upstream->state = state;
}

static void upstream_retry_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct upstream *upstream = argument;
    upstream->waiting = false;
    upstream->retries++;
    upstream_pump(upstream);
}

/* Sends the same batch again after delay_ms. */
static void upstream_retry_schedule(struct upstream *upstream, int64_t delay_ms)
{
    struct timeval delay = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    upstream->waiting = true;
    evtimer_add(upstream->retry_timer, &delay);
}

/* Full jitter between backoff_initial and the doubled cap, so many relays do not retry in step. */
static int64_t upstream_backoff_ms(struct upstream *upstream)
{
    int64_t cap = upstream->backoff_initial_ms;
    for (unsigned i = 0; i < upstream->failures && cap < upstream->backoff_max_ms; i++)
        cap *= 2;
    if (cap > upstream->backoff_max_ms)
        cap = upstream->backoff_max_ms;
    int64_t span = cap - upstream->backoff_initial_ms;
    int64_t jitter =
        span > 0 ? (int64_t)(upstream_random(upstream->set) % (uint64_t)(span + 1)) : 0;
    return upstream->backoff_initial_ms + jitter;
}

/* ---- the batch buffer ---- */

static size_t upstream_lines_count(const char *data, size_t length)
{
    size_t count = 0;
    for (const char *end = data + length; (data = memchr(data, '\n', (size_t)(end - data))); data++)
        count++;
    return count;
}

/* Drops the done spans before span_first, so the buffers hold at most about twice what is unsent
 * or in flight (the requests send their own copies, so moving the lines is safe). */
static void upstream_buffer_compact(struct upstream *upstream)
{
    size_t shift = upstream->span_first;
    if (shift == 0)
        return;
    if (shift == upstream->span_count) {
        buffer_clear(&upstream->lines);
        buffer_clear(&upstream->metas);
        upstream->span_count = upstream->span_first = upstream->span_next = 0;
        return;
    }
    const struct upstream_span *first = &upstream->spans[shift];
    size_t line_shift = first->line_offset, meta_shift = first->meta_offset;
    /* Only once the done prefix is at least as long as what stays: with several batches in
     * flight, moving the rest after every answer copied each byte three or four times. */
    if (line_shift < upstream->lines.length - line_shift)
        return;
    memmove(upstream->lines.data, upstream->lines.data + line_shift,
            upstream->lines.length - line_shift);
    upstream->lines.length -= line_shift;
    memmove(upstream->metas.data, upstream->metas.data + meta_shift,
            upstream->metas.length - meta_shift);
    upstream->metas.length -= meta_shift;
    size_t left = upstream->span_count - shift;
    memmove(upstream->spans, first, left * sizeof *upstream->spans);
    for (size_t i = 0; i < left; i++) {
        upstream->spans[i].line_offset -= line_shift;
        upstream->spans[i].meta_offset -= meta_shift;
    }
    upstream->span_count = left;
    upstream->span_first = 0;
    upstream->span_next -= shift;
    for (size_t i = 0; i < upstream->requests_in_flight; i++)
        if (upstream->requests[i].busy)
            upstream->requests[i].first -= shift;
}

/* Appends record to the batch buffer as a new span. Returns 0 or -ENOMEM (the buffers are as
 * they were). */
static int upstream_span_append(struct upstream *upstream, const struct spool_record *record)
{
    if (upstream->span_count == upstream->span_capacity) {
        size_t capacity = upstream->span_capacity ? upstream->span_capacity * 2 : 64;
        struct upstream_span *grown = realloc(upstream->spans, capacity * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        upstream->spans = grown;
        upstream->span_capacity = capacity;
    }
    struct upstream_span span = {.sequence = record->sequence,
                                 .line_offset = upstream->lines.length,
                                 .line_length = record->payload_length,
                                 .line_count =
                                     upstream_lines_count(record->payload, record->payload_length),
                                 .meta_offset = upstream->metas.length,
                                 .state = UPSTREAM_SPAN_UNSENT};
    /* Only the destination matters for batching, not which consumers a record named. */
    struct spool_routing routing = record->routing;
    routing.consumer_count = 0;
    if (spool_meta_encode(&routing, &upstream->metas) != 0)
        return -ENOMEM;
    if (buffer_append(&upstream->lines, record->payload, record->payload_length) != 0) {
        upstream->metas.length = span.meta_offset;
        return -ENOMEM;
    }
    span.meta_length = upstream->metas.length - span.meta_offset;
    upstream->spans[upstream->span_count++] = span;
    return 0;
}

/* Reads committed records from the cursor until batches' worth of records are buffered beyond
 * span_next (one more than the pump sends now while every slot is busy: it is prepared
 * meanwhile). A record the buffer could not take is held and taken first next time: the cursor
 * has moved past it, so dropping it would skip it for good. Returns 0, -ENOMEM or a cursor error
 * (-EBADMSG, -EIO). */
static int upstream_records_read(struct upstream *upstream, size_t batches)
{
    upstream_buffer_compact(upstream);
    size_t lines = 0;
    for (size_t i = upstream->span_next; i < upstream->span_count; i++)
        lines += upstream->spans[i].line_count;
    size_t bytes = upstream->span_next < upstream->span_count
                       ? upstream->lines.length - upstream->spans[upstream->span_next].line_offset
                       : 0;
    while (lines < upstream->batch_lines * batches && bytes < upstream->batch_bytes * batches) {
        struct spool_record record = upstream->held;
        if (!upstream->has_held) {
            int result = spool_cursor_next(upstream->cursor, &record);
            if (result <= 0)
                return result;
        }
        upstream->has_held = upstream_span_append(upstream, &record) != 0;
        if (upstream->has_held) {
            upstream->held = record; /* its slices stay valid: the cursor is not read meanwhile */
            return -ENOMEM;
        }
        const struct upstream_span *span = &upstream->spans[upstream->span_count - 1];
        lines += span->line_count;
        bytes += span->line_length;
    }
    return 0;
}

/* The spans of the next batch: from span_next, unsent, same routing, within the limits (at
 * least one span, however large). *growable: the batch ends with the last record read (so the
 * cursor had no more) and is below both limits, so more records could still grow it. */
static size_t upstream_batch_choose(const struct upstream *upstream, bool *growable)
{
    const struct upstream_span *first = &upstream->spans[upstream->span_next];
    size_t count = 0, lines = 0;
    uint64_t bytes = 0;
    *growable = false;
    for (size_t i = upstream->span_next; i < upstream->span_count; i++) {
        const struct upstream_span *span = &upstream->spans[i];
        if (span->state != UPSTREAM_SPAN_UNSENT)
            return count;
        if (count > 0 &&
            (span->meta_length != first->meta_length ||
             memcmp(upstream->metas.data + span->meta_offset,
                    upstream->metas.data + first->meta_offset, span->meta_length) != 0 ||
             lines + span->line_count > upstream->batch_lines ||
             bytes + span->line_length > upstream->batch_bytes ||
             (upstream->record_limit && count >= upstream->record_limit)))
            return count;
        count++;
        lines += span->line_count;
        bytes += span->line_length;
    }
    *growable = lines < upstream->batch_lines && bytes < upstream->batch_bytes;
    return count;
}

static const char *upstream_batch_lines(const struct upstream *upstream, size_t first, size_t count,
                                        size_t *length)
{
    const struct upstream_span *head = &upstream->spans[first];
    const struct upstream_span *last = &upstream->spans[first + count - 1];
    *length = last->line_offset + last->line_length - head->line_offset;
    return upstream->lines.data + head->line_offset;
}

/* Moves span_next to the first unsent span at or after it. */
static void upstream_next_find(struct upstream *upstream)
{
    while (upstream->span_next < upstream->span_count &&
           upstream->spans[upstream->span_next].state != UPSTREAM_SPAN_UNSENT)
        upstream->span_next++;
}

/* ---- requests ---- */

static size_t upstream_answer_write(char *data, size_t size, size_t count, void *argument)
{
    struct upstream_request *request = argument;
    size_t length = size * count;
    size_t room = UPSTREAM_ANSWER_MAX - request->answer.length;
    if (buffer_append(&request->answer, data, length < room ? length : room) != 0)
        return 0;
    return length;
}

/* The time (s since the epoch) of the HTTP-date in a header value (borrowed, not terminated), or
 * -1 when it is none. */
static int64_t upstream_header_date(const char *value, size_t length)
{
    while (length > 0 && *value == ' ') {
        value++;
        length--;
    }
    char date[128];
    size_t date_length = length < sizeof date - 1 ? length : sizeof date - 1;
    memcpy(date, value, date_length);
    date[date_length] = '\0';
    time_t when = curl_getdate(date, NULL);
    return when == (time_t)-1 ? -1 : (int64_t)when;
}

long upstream_retry_after_seconds(const char *value, size_t length)
{
    size_t i = 0;
    while (i < length && value[i] == ' ')
        i++;
    if (i == length || value[i] < '0' || value[i] > '9')
        return -1;
    long seconds = 0;
    for (; i < length && value[i] >= '0' && value[i] <= '9'; i++) {
        seconds = seconds * 10 + (value[i] - '0');
        if (seconds > UPSTREAM_RETRY_AFTER_MAX_SECONDS)
            seconds = UPSTREAM_RETRY_AFTER_MAX_SECONDS; /* and the digits after it are read on */
    }
    return seconds;
}

static size_t upstream_header_read(char *data, size_t size, size_t count, void *argument)
{
    struct upstream_request *request = argument;
    size_t length = size * count;
    static const char name[] = "retry-after:";
    static const char date_name[] = "date:";
    if (length > sizeof name && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *value = data + sizeof name - 1;
        size_t value_length = length - (sizeof name - 1);
        long seconds = upstream_retry_after_seconds(value, value_length);
        if (seconds >= 0)
            request->retry_after_seconds = seconds;
        else /* an HTTP-date (RFC 9110 10.2.3), or -1 when none */
            request->retry_after_date = upstream_header_date(value, value_length);
    } else if (length > sizeof date_name &&
               strncasecmp(data, date_name, sizeof date_name - 1) == 0) {
        request->answer_date =
            upstream_header_date(data + sizeof date_name - 1, length - (sizeof date_name - 1));
    }
    return length;
}

/* The seconds to wait for a Retry-After HTTP-date: counted from the answer's Date when it has one,
 * as both come from the upstream's clock. From the relay's clock, a relay booted days behind (a
 * Raspberry Pi before NTP) waited the 24 h maximum, one ahead not at all. */
static void upstream_retry_after_date_apply(struct upstream_request *request)
{
    if (request->retry_after_date < 0)
        return;
    int64_t now = request->answer_date >= 0
                      ? request->answer_date
                      : clock_realtime_ns(request->upstream->set->environment.clock) / 1000000000;
    int64_t when = request->retry_after_date;
    request->retry_after_seconds = when <= now ? 0
                                               : (when - now < UPSTREAM_RETRY_AFTER_MAX_SECONDS
                                                      ? (long)(when - now)
                                                      : UPSTREAM_RETRY_AFTER_MAX_SECONDS);
}

/* The bucket a v2 upstream gets for routing: a routing rule for "db" or "db/rp", else the bucket
 * the client wrote to, else db or db/rp. Returns it as an owned string (the spool keeps names up
 * to 64 KiB, so no fixed buffer), or NULL when out of memory. */
static char *upstream_bucket_name(const struct upstream *upstream,
                                  const struct spool_routing *routing)
{
    size_t size = routing->db.length + 1 + routing->rp.length + 1;
    char *key = malloc(size);
    if (!key)
        return NULL;
    snprintf(key, size, "%.*s%s%.*s", (int)routing->db.length, routing->db.data,
             routing->rp.length ? "/" : "", (int)routing->rp.length, routing->rp.data);
    for (size_t i = 0; i < upstream->route_count; i++)
        if (strcmp(upstream->routes[i].source, key) == 0) {
            free(key);
            return strdup(upstream->routes[i].bucket);
        }
    if (!routing->bucket.length)
        return key;
    free(key);
    return strndup(routing->bucket.data, routing->bucket.length);
}

/* Builds the write URL for routing into request->url. Returns 0 or -ENOMEM. */
static int upstream_url_build(struct upstream_request *request, const struct spool_routing *routing)
{
    const struct upstream *upstream = request->upstream;
    CURL *easy = request->easy;
    char *first = NULL, *second = NULL;
    bool v2 = upstream->api == CONFIG_API_V2;
    if (v2) {
        char *bucket = upstream_bucket_name(upstream, routing);
        first = curl_easy_escape(easy, upstream->org ? upstream->org : "", 0);
        second = bucket ? curl_easy_escape(easy, bucket, 0) : NULL;
        free(bucket);
    } else {
        first = curl_easy_escape(easy, routing->db.data ? routing->db.data : "",
                                 (int)routing->db.length);
        second = curl_easy_escape(easy, routing->rp.data ? routing->rp.data : "",
                                  (int)routing->rp.length);
    }
    int result = -ENOMEM;
    free(request->url);
    request->url = NULL;
    if (first && second) {
        size_t length = strlen(upstream->url) + strlen(first) + strlen(second) + 64;
        request->url = malloc(length);
        if (request->url) {
            if (v2)
                snprintf(request->url, length, "%s/api/v2/write?org=%s&bucket=%s&precision=ns",
                         upstream->url, first, second);
            else if (routing->rp.length)
                snprintf(request->url, length, "%s/write?db=%s&rp=%s&precision=ns", upstream->url,
                         first, second);
            else
                snprintf(request->url, length, "%s/write?db=%s&precision=ns", upstream->url, first);
            result = 0;
        }
    }
    curl_free(first);
    curl_free(second);
    return result;
}

static void upstream_request_done(CURL *easy, CURLcode result, void *argument);

static void upstream_spans_mark(struct upstream *upstream, size_t first, size_t count,
                                enum upstream_span_state state)
{
    for (size_t i = first; i < first + count; i++)
        upstream->spans[i].state = state;
}

/* Sends spans[first .. first + count) from the free slot request. Returns 0, or -1 when it
 * could not (a retry is scheduled then). */
static int upstream_request_send(struct upstream *upstream, struct upstream_request *request,
                                 size_t first, size_t count)
{
    struct logger *logger = upstream->set->environment.logger;
    const struct upstream_span *head = &upstream->spans[first];
    size_t length = 0;
    const char *data = upstream_batch_lines(upstream, first, count, &length);
    struct spool_routing routing;
    request->first = first;
    request->count = count;
    int prepared =
        upstream->prepared_count == count && upstream->prepared_first_sequence == head->sequence;
    upstream->prepared_count = 0;
    if (spool_meta_decode((const uint8_t *)upstream->metas.data + head->meta_offset,
                          head->meta_length, &routing) != 0 ||
        upstream_url_build(request, &routing) != 0) {
        snprintf(upstream->last_error, sizeof upstream->last_error, "out of memory");
        upstream_retry_schedule(upstream, upstream_backoff_ms(upstream));
        return -1;
    }
    int status = 0;
    if (upstream->gzip && prepared) {
        struct buffer swap = request->body;
        request->body = upstream->prepared_body;
        upstream->prepared_body = swap;
    } else if (upstream->gzip) {
        status = gzip_deflate(data, length, GZIP_DEFLATE_LEVEL, &request->body);
    } else {
        /* A copy: the batch buffer moves while the request is in flight. */
        buffer_clear(&request->body);
        status = buffer_append(&request->body, data, length);
    }
    if (status != 0) {
        snprintf(upstream->last_error, sizeof upstream->last_error, "out of memory");
        upstream_retry_schedule(upstream, upstream_backoff_ms(upstream));
        return -1;
    }
    buffer_clear(&request->answer);
    request->retry_after_seconds = -1;
    request->retry_after_date = -1;
    request->answer_date = -1;
    CURL *easy = request->easy;
    curl_easy_setopt(easy, CURLOPT_URL, request->url);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request->body.data ? request->body.data : "");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body.length);
    if (http_client_start(upstream->set->environment.client, easy, upstream_request_done,
                          request) != 0) {
        log_error(logger, "libcurl refused a request", LOG_STRING("upstream", upstream->name));
        upstream_retry_schedule(upstream, upstream_backoff_ms(upstream));
        return -1;
    }
    request->busy = true;
    upstream->busy_count++;
    upstream->last_send_ns = clock_monotonic_ns(upstream->set->environment.clock);
    upstream->wait_over = false;
    evtimer_del(upstream->wait_timer);
    upstream_spans_mark(upstream, first, count, UPSTREAM_SPAN_SENDING);
    upstream_next_find(upstream);
    /* Every slot busy: a moment later (so that libcurl sends this body first) the next batch is
     * compressed, ready for the slot that frees first. */
    if (upstream->gzip && upstream->busy_count == upstream->requests_in_flight) {
        const struct timeval soon = {0, 1000};
        evtimer_add(upstream->prepare_timer, &soon);
    }
    return 0;
}

/* While every slot is busy: reads the records of the next batch and compresses it. */
static void upstream_prepare_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct upstream *upstream = argument;
    if (upstream->busy_count < upstream->requests_in_flight || upstream->prepared_count > 0 ||
        upstream->waiting)
        return;
    if (upstream_records_read(upstream, 1) < 0 || upstream->span_next == upstream->span_count)
        return; /* the pump reports a read error when it needs the records */
    bool growable;
    size_t count = upstream_batch_choose(upstream, &growable);
    if (count == 0 || (upstream->batch_wait_ms > 0 && growable))
        return; /* a short batch waits for more records: compressed when it goes */
    size_t length = 0;
    const char *data = upstream_batch_lines(upstream, upstream->span_next, count, &length);
    if (gzip_deflate(data, length, GZIP_DEFLATE_LEVEL, &upstream->prepared_body) == 0) {
        upstream->prepared_first_sequence = upstream->spans[upstream->span_next].sequence;
        upstream->prepared_count = count;
    }
}

/* Would the batch spans[first .. first + count) write a point that a batch in flight writes?
 * Then it waits: InfluxDB keeps the last write of a point, so those two must not swap. Its keys
 * are collected even with nothing in flight, since they go with its request and the batches
 * sent beside it are checked against them. Keys that could not be collected (out of memory)
 * conflict with everything: one at a time is always safe. */
static bool upstream_batch_conflicts(struct upstream *upstream, size_t first, size_t count)
{
    size_t length = 0;
    const char *data = upstream_batch_lines(upstream, first, count, &length);
    upstream->candidate_keys_known =
        point_keys_collect(&upstream->candidate_keys, data, length) == 0;
    for (size_t i = 0; i < upstream->requests_in_flight; i++) {
        const struct upstream_request *request = &upstream->requests[i];
        if (request->busy && (!upstream->candidate_keys_known || !request->keys_known ||
                              point_keys_overlap(&upstream->candidate_keys, &request->keys)))
            return true;
    }
    return false;
}

static void upstream_wait_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct upstream *upstream = argument;
    upstream->wait_over = true;
    upstream_pump(upstream);
}

/* Does the next batch (growable: see upstream_batch_choose) wait for batch_wait? A batch that
 * more records could still grow goes out no sooner than batch_wait after the request before it: a
 * stream of single-line writes then reaches the upstream as a few large batches instead of one
 * small batch per round trip (InfluxDB spends about as much on a write request as on a thousand
 * lines of it), while a reading that finds the upstream idle goes at once. Retries do not wait. */
static bool upstream_batch_waits(struct upstream *upstream, bool growable)
{
    if (!growable || upstream->batch_wait_ms == 0 || upstream->wait_over ||
        upstream->failures > 0 || upstream->last_send_ns == INT64_MIN)
        return false;
    int64_t now = clock_monotonic_ns(upstream->set->environment.clock);
    int64_t remaining = upstream->last_send_ns + upstream->batch_wait_ms * 1000000 - now;
    if (remaining <= 0)
        return false;
    if (!evtimer_pending(upstream->wait_timer, NULL)) {
        const struct timeval delay = {(time_t)(remaining / 1000000000),
                                      (suseconds_t)(remaining % 1000000000 / 1000 + 1)};
        evtimer_add(upstream->wait_timer, &delay);
    }
    return true;
}

/* Sends batches from span_next into the free slots, unless a retry is pending; stops at a
 * batch that writes a point a batch in flight writes and at a short batch within batch_wait. */
static void upstream_pump(struct upstream *upstream)
{
    while (!upstream->waiting && upstream->busy_count < upstream->requests_in_flight) {
        int result = upstream_records_read(upstream, 1);
        if (result < 0 && upstream->span_next == upstream->span_count) {
            if (upstream->busy_count == 0) {
                log_error(
                    upstream->set->environment.logger, "cannot read the spool for an upstream",
                    LOG_STRING("upstream", upstream->name), LOG_STRING("error", strerror(-result)));
                upstream_retry_schedule(upstream, upstream->backoff_max_ms);
            }
            return;
        }
        if (upstream->span_next == upstream->span_count)
            return; /* all sent */
        bool growable;
        size_t count = upstream_batch_choose(upstream, &growable);
        /* The prepared batch was chosen by the same rules from the same records; it may be
         * shorter (fewer records were committed then), never different. */
        if (upstream->prepared_count > 0 && upstream->prepared_count < count &&
            upstream->prepared_first_sequence == upstream->spans[upstream->span_next].sequence) {
            count = upstream->prepared_count;
            growable = false; /* records follow it */
        }
        if (upstream_batch_waits(upstream, growable))
            return; /* sent by the wait timer, or sooner once the batch is full */
        if (upstream->requests_in_flight > 1 &&
            upstream_batch_conflicts(upstream, upstream->span_next, count))
            return; /* sent when the batch in its way is done */
        struct upstream_request *request = NULL;
        for (size_t i = 0; i < upstream->requests_in_flight && !request; i++)
            if (!upstream->requests[i].busy)
                request = &upstream->requests[i];
        if (upstream->requests_in_flight > 1) {
            struct point_keys swap = request->keys;
            request->keys = upstream->candidate_keys;
            upstream->candidate_keys = swap;
            request->keys_known = upstream->candidate_keys_known;
        }
        if (upstream_request_send(upstream, request, upstream->span_next, count) != 0)
            return;
    }
}

/* The request's batch is done with (delivered or dead-lettered): the cursor advances over
 * every span before the first one not done. */
static void upstream_batch_finish(struct upstream *upstream, struct upstream_request *request,
                                  bool delivered)
{
    for (size_t i = request->first; i < request->first + request->count; i++) {
        const struct upstream_span *span = &upstream->spans[i];
        if (delivered) {
            upstream->sent_records++;
            upstream->sent_lines += span->line_count;
            upstream->sent_bytes += span->line_length;
        } else {
            upstream->dead_lettered_records++;
        }
    }
    upstream_spans_mark(upstream, request->first, request->count, UPSTREAM_SPAN_DONE);
    size_t before = upstream->span_first;
    while (upstream->span_first < upstream->span_count &&
           upstream->spans[upstream->span_first].state == UPSTREAM_SPAN_DONE)
        upstream->span_first++;
    if (!upstream->waiting)
        upstream->failures = 0;
    /* A later batch answered while an earlier one is still in flight moves nothing: the oldest
     * unsent record goes on waiting. */
    if (upstream->span_first > before) {
        spool_cursor_acknowledge(upstream->cursor,
                                 upstream->spans[upstream->span_first - 1].sequence);
        upstream->waiting_since_ns = clock_monotonic_ns(upstream->set->environment.clock);
    }
}

/* The request's batch goes back to be sent again (after a failure): it comes first again. */
static void upstream_batch_return(struct upstream *upstream, struct upstream_request *request)
{
    upstream_spans_mark(upstream, request->first, request->count, UPSTREAM_SPAN_UNSENT);
    if (request->first < upstream->span_next)
        upstream->span_next = request->first;
    upstream->prepared_count = 0;
}

/* Stores the request's batch with the upstream's answer in the dead-letter directory. Returns 0
 * or -1 (then the batch is retried: nothing acknowledged is dropped without a trace). */
static int upstream_batch_dead_letter(struct upstream *upstream,
                                      const struct upstream_request *request, long status)
{
    const struct upstream_span *first = &upstream->spans[request->first];
    struct dead_letter letter = {
        .upstream = upstream->name,
        .first_sequence = first->sequence,
        .last_sequence = upstream->spans[request->first + request->count - 1].sequence,
        .status = (int)status,
        .answer = request->answer.data,
        .answer_length = request->answer.length,
        .time_ns = clock_realtime_ns(upstream->set->environment.clock),
    };
    letter.lines =
        upstream_batch_lines(upstream, request->first, request->count, &letter.lines_length);
    for (size_t i = request->first; i < request->first + request->count; i++)
        letter.line_count += upstream->spans[i].line_count;
    char error[UPSTREAM_ERROR_SIZE] = "";
    if (spool_meta_decode((const uint8_t *)upstream->metas.data + first->meta_offset,
                          first->meta_length, &letter.routing) != 0 ||
        dead_letter_write(upstream->set->environment.spool_dir, &letter, error, sizeof error) !=
            0) {
        log_error(upstream->set->environment.logger,
                  "cannot store a rejected batch in the dead-letter directory; retrying it",
                  LOG_STRING("upstream", upstream->name), LOG_STRING("error", error));
        snprintf(upstream->last_error, sizeof upstream->last_error,
                 "cannot store a batch the upstream rejected (HTTP %ld) in the dead-letter "
                 "directory: %s",
                 status, error);
        return -1;
    }
    log_warning(upstream->set->environment.logger,
                "upstream rejected a batch for good; it is in the dead-letter directory "
                "(meter-relay dlq list)",
                LOG_STRING("upstream", upstream->name), LOG_INTEGER("status", status),
                LOG_INTEGER("first_sequence", (int64_t)letter.first_sequence),
                LOG_INTEGER("lines", (int64_t)letter.line_count),
                LOG_STRING("answer", upstream->last_error));
    return 0;
}

/* Does the answer reject the data itself (so sending it again can never succeed)? */
static bool upstream_answer_is_permanent(const struct upstream_request *request, long status)
{
    if (status == 400 || status == 422)
        return true;
    if (status < 400)
        return false;
    /* InfluxDB 1.x answers a write to a retention policy it does not have with 500 "retention
     * policy not found": a mistyped rp is the batch's own fault, and retrying it for good would
     * hold up every other client's points behind it. */
    static const char *const phrases[] = {"partial write", "unable to parse",
                                          "points beyond retention policy",
                                          "retention policy not found"};
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
        size_t length = strlen(phrases[i]);
        for (size_t at = 0; at + length <= request->answer.length; at++)
            if (memcmp(request->answer.data + at, phrases[i], length) == 0)
                return true;
    }
    return false;
}

static void upstream_error_describe(struct upstream *upstream,
                                    const struct upstream_request *request, CURLcode result,
                                    long status)
{
    if (result != CURLE_OK)
        snprintf(upstream->last_error, sizeof upstream->last_error, "%s",
                 curl_easy_strerror(result));
    else {
        /* InfluxDB ends its JSON answers with a newline: inside the /health message and the log
         * line it split "...}" from "; N records waiting". */
        size_t length = request->answer.data ? request->answer.length : 0;
        while (length > 0 && (request->answer.data[length - 1] == '\n' ||
                              request->answer.data[length - 1] == '\r'))
            length--;
        snprintf(upstream->last_error, sizeof upstream->last_error, "HTTP %ld: %.*s", status,
                 (int)(length < 300 ? length : 300), length ? request->answer.data : "");
    }
}

static void upstream_request_done(CURL *easy, CURLcode result, void *argument)
{
    struct upstream_request *request = argument;
    struct upstream *upstream = request->upstream;
    request->busy = false;
    upstream->busy_count--;
    long status = 0;
    if (result == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    upstream->last_status = status;
    if (result == CURLE_OK && status >= 200 && status < 300) {
        upstream_batch_finish(upstream, request, true);
        if (upstream->record_limit && (upstream->record_limit *= 2) > 1024)
            upstream->record_limit = 0; /* back to the configured limits after a 413 */
        if (!upstream->waiting)
            upstream_state_set(upstream, UPSTREAM_OK);
        upstream_pump(upstream);
        return;
    }
    upstream_error_describe(upstream, request, result, status);
    if (result == CURLE_OK && status == 413 && request->count > 1) {
        upstream->record_limit = request->count / 2;
        upstream_batch_return(upstream, request);
        upstream_pump(upstream);
        return;
    }
    if (result == CURLE_OK && (status == 413 || upstream_answer_is_permanent(request, status))) {
        if (upstream_batch_dead_letter(upstream, request, status) == 0) {
            upstream_batch_finish(upstream, request, false);
            /* The upstream answered and the batch is settled: a backoff before it is over
             * (/health must not say "backing off" until the next batch succeeds). */
            if (!upstream->waiting)
                upstream_state_set(upstream, UPSTREAM_OK);
            upstream_pump(upstream);
        } else {
            /* Nothing behind the batch goes until it is stored: /health and /metrics must not
             * go on saying "delivering". */
            upstream_batch_return(upstream, request);
            upstream->failures++;
            upstream_state_set(upstream, UPSTREAM_BACKOFF);
            upstream_retry_schedule(upstream, upstream->backoff_max_ms);
        }
        return;
    }
    upstream_batch_return(upstream, request);
    if (upstream->waiting)
        return; /* another batch failed first: its retry sends this one again too */
    upstream->failures++;
    if (result == CURLE_OK && (status == 401 || status == 403 || status == 404)) {
        upstream_state_set(upstream, UPSTREAM_PAUSED);
        upstream_retry_schedule(upstream, upstream->pause_retry_ms);
        return;
    }
    upstream_state_set(upstream, UPSTREAM_BACKOFF);
    upstream_retry_after_date_apply(request);
    if (result == CURLE_OK && (status == 429 || status == 503) && request->retry_after_seconds >= 0)
        upstream_retry_schedule(upstream, request->retry_after_seconds * 1000);
    else
        upstream_retry_schedule(upstream, upstream_backoff_ms(upstream));
}

/* ---- setup ---- */

static char *upstream_copy(const char *text)
{
    return text ? strdup(text) : NULL;
}

/* The first request's handle gets every option; the others are copies of it (libcurl copies
 * the strings, the header list stays the upstream's to free) that write into their own slot. */
static int upstream_easy_setup(struct upstream *upstream, struct upstream_request *request,
                               const struct config_upstream *config)
{
    if (request != upstream->requests) {
        request->easy = curl_easy_duphandle(upstream->requests[0].easy);
        if (!request->easy)
            return -1;
    } else {
        request->easy = curl_easy_init();
        if (!request->easy ||
            http_client_upstream_setup(request->easy, config, true, &upstream->headers) != 0)
            return -1;
        const char *lines[] = {"Content-Type: text/plain; charset=utf-8",
                               upstream->gzip ? "Content-Encoding: gzip" : NULL};
        for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
            struct curl_slist *grown =
                lines[i] ? curl_slist_append(upstream->headers, lines[i]) : NULL;
            if (lines[i] && !grown)
                return -1;
            if (grown)
                upstream->headers = grown;
        }
        curl_easy_setopt(request->easy, CURLOPT_HTTPHEADER, upstream->headers);
        /* libcurl sends a body in pieces of its upload buffer, one per pass of the loop
         * (64 KiB by default); InfluxDB's handler waits for every piece, and compressing the next
         * batch on the loop could hold the second one back. 512 KiB carries a gzipped batch
         * whole and a plain one in three pieces, and costs 512 KiB a request slot. */
        curl_easy_setopt(request->easy, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
        curl_easy_setopt(request->easy, CURLOPT_TIMEOUT_MS, (long)config->request_timeout_ms);
        curl_easy_setopt(request->easy, CURLOPT_WRITEFUNCTION, upstream_answer_write);
        curl_easy_setopt(request->easy, CURLOPT_HEADERFUNCTION, upstream_header_read);
    }
    curl_easy_setopt(request->easy, CURLOPT_WRITEDATA, request);
    curl_easy_setopt(request->easy, CURLOPT_HEADERDATA, request);
    return 0;
}

static int upstream_configure(struct upstream *upstream, const struct config_upstream *config)
{
    upstream->name = upstream_copy(config->name);
    upstream->url = upstream_copy(config->url);
    upstream->org = upstream_copy(config->org);
    upstream->api = config->api;
    upstream->batch_lines = config->batch_lines > 0 ? (size_t)config->batch_lines : 5000;
    upstream->batch_bytes = config->batch_bytes ? config->batch_bytes : 4u << 20;
    upstream->gzip = config->gzip;
    upstream->batch_wait_ms = config->batch_wait_ms;
    upstream->last_send_ns = INT64_MIN;
    upstream->backoff_initial_ms =
        config->backoff_initial_ms > 0 ? config->backoff_initial_ms : 1000;
    upstream->backoff_max_ms = config->backoff_max_ms > upstream->backoff_initial_ms
                                   ? config->backoff_max_ms
                                   : upstream->backoff_initial_ms;
    upstream->pause_retry_ms = config->pause_retry_ms > 0 ? config->pause_retry_ms : 60000;
    upstream->state = UPSTREAM_OK;
    if (!upstream->name || !upstream->url)
        return -1;
    if (config->route_count) {
        upstream->routes = calloc(config->route_count, sizeof *upstream->routes);
        if (!upstream->routes)
            return -1;
        upstream->route_count = config->route_count;
        for (size_t i = 0; i < config->route_count; i++) {
            upstream->routes[i].source = upstream_copy(config->routes[i].source);
            upstream->routes[i].bucket = upstream_copy(config->routes[i].bucket);
            if (!upstream->routes[i].source || !upstream->routes[i].bucket)
                return -1;
        }
    }
    size_t slots = config->requests_in_flight > 0 ? (size_t)config->requests_in_flight : 1;
    upstream->requests = calloc(slots, sizeof *upstream->requests);
    if (!upstream->requests)
        return -1;
    upstream->requests_in_flight = slots;
    for (size_t i = 0; i < slots; i++) {
        struct upstream_request *request = &upstream->requests[i];
        request->upstream = upstream;
        if (upstream_easy_setup(upstream, request, config) != 0)
            return -1;
    }
    return 0;
}

static void upstream_release(struct upstream *upstream)
{
    for (size_t i = 0; upstream->requests && i < upstream->requests_in_flight; i++) {
        struct upstream_request *request = &upstream->requests[i];
        if (request->easy) {
            http_client_cancel(upstream->set->environment.client, request->easy);
            curl_easy_cleanup(request->easy);
        }
        buffer_release(&request->body);
        buffer_release(&request->answer);
        free(request->url);
        point_keys_release(&request->keys);
    }
    free(upstream->requests);
    point_keys_release(&upstream->candidate_keys);
    curl_slist_free_all(upstream->headers);
    if (upstream->retry_timer)
        event_free(upstream->retry_timer);
    if (upstream->prepare_timer)
        event_free(upstream->prepare_timer);
    if (upstream->wait_timer)
        event_free(upstream->wait_timer);
    spool_cursor_close(upstream->cursor);
    for (size_t i = 0; i < upstream->route_count; i++) {
        free(upstream->routes[i].source);
        free(upstream->routes[i].bucket);
    }
    free(upstream->routes);
    free(upstream->name);
    free(upstream->url);
    free(upstream->org);
    free(upstream->spans);
    buffer_release(&upstream->lines);
    buffer_release(&upstream->metas);
    buffer_release(&upstream->prepared_body);
}

/* Stores every cursor that moved and deletes the segments all consumers are past. */
static int upstream_set_cursors_store(struct upstream_set *set)
{
    int result = 0;
    for (size_t i = 0; i < set->count; i++)
        if (set->upstreams[i].cursor && spool_cursor_store(set->upstreams[i].cursor) != 0)
            result = -EIO;
    if (result == 0 && spool_segments_release(set->environment.spool, NULL) != 0)
        result = -EIO;
    return result;
}

static void upstream_store_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    /* A failure marks the spool failed; the next commit stops the relay with the reason. */
    (void)upstream_set_cursors_store(argument);
}

int upstream_set_create(const struct config_relay *config,
                        const struct upstream_environment *environment, struct upstream_set **out,
                        char *error, size_t error_size)
{
    struct upstream_set *set = calloc(1, sizeof *set);
    if (!set) {
        error_message_set(error, error_size, "out of memory creating the upstreams");
        return -1;
    }
    set->environment = *environment;
    if (getrandom(&set->random_state, sizeof set->random_state, 0) !=
        (ssize_t)sizeof set->random_state)
        set->random_state = (uint64_t)clock_monotonic_ns(environment->clock);
    set->random_state |= 1;
    /* The records already committed wait since before the start (see the cursors below). */
    set->kicked_sequence = spool_committed_sequence(environment->spool);
    set->upstreams =
        calloc(config->upstream_count ? config->upstream_count : 1, sizeof *set->upstreams);
    set->store_timer = event_new(environment->base, -1, EV_PERSIST, upstream_store_event, set);
    struct timeval interval = {0, UPSTREAM_CURSOR_STORE_INTERVAL_US};
    if (!set->upstreams || !set->store_timer || event_add(set->store_timer, &interval) != 0) {
        error_message_set(error, error_size, "out of memory creating the upstreams");
        goto failure;
    }
    for (size_t i = 0; i < config->upstream_count; i++) {
        struct upstream *upstream = &set->upstreams[i];
        upstream->set = set;
        set->count++;
        upstream->retry_timer = evtimer_new(environment->base, upstream_retry_event, upstream);
        upstream->prepare_timer = evtimer_new(environment->base, upstream_prepare_event, upstream);
        upstream->wait_timer = evtimer_new(environment->base, upstream_wait_event, upstream);
        if (!upstream->retry_timer || !upstream->prepare_timer || !upstream->wait_timer ||
            upstream_configure(upstream, &config->upstreams[i]) != 0) {
            error_message_set(error, error_size, "out of memory setting up upstream %s",
                              config->upstreams[i].name);
            goto failure;
        }
        int result = spool_cursor_open(environment->spool, upstream->name, &upstream->cursor);
        if (result != 0) {
            error_message_set(error, error_size,
                              "relay.upstreams: %s: cannot open its spool cursor: %s%s",
                              upstream->name, strerror(-result),
                              result == -EINVAL ? " (a name may hold only letters, digits, '_', "
                                                  "'-' and '.')"
                                                : "");
            goto failure;
        }
        /* The cursor file's time is when the backlog began to wait (set at a clean stop), else
         * the upstream's last advance (after a kill -9): counting from now made the backlog of
         * an outage look fresh after every restart. Its age on the wall clock is carried over to
         * the monotonic one. */
        int64_t now = clock_realtime_ns(environment->clock);
        int64_t stored = spool_cursor_stored_ns(upstream->cursor);
        upstream->waiting_since_ns = clock_monotonic_ns(environment->clock) -
                                     (stored > 0 && stored < now ? now - stored : 0);
    }
    *out = set;
    upstream_set_kick(set);
    return 0;
failure:
    upstream_set_destroy(set);
    return -1;
}

int upstream_set_destroy(struct upstream_set *set)
{
    if (!set)
        return 0;
    int result = upstream_set_cursors_store(set);
    /* The next start takes the cursor file's time as when the oldest waiting record began to
     * wait: without this it was the last advance, and a record that came after an idle hour
     * looked an hour old after every restart. */
    int64_t realtime = clock_realtime_ns(set->environment.clock);
    int64_t monotonic = clock_monotonic_ns(set->environment.clock);
    for (size_t i = 0; i < set->count; i++) {
        const struct upstream *upstream = &set->upstreams[i];
        if (!upstream->cursor || upstream_backlog_count(upstream) == 0)
            continue;
        int status = spool_cursor_stored_ns_set(
            upstream->cursor, realtime - upstream_waiting_ns(upstream, monotonic));
        if (status != 0)
            log_warning(set->environment.logger,
                        "cannot keep when the upstream's backlog began to wait; after the restart "
                        "its oldest-unsent age counts from its last delivery",
                        LOG_STRING("upstream", upstream->name),
                        LOG_STRING("error", strerror(-status)));
    }
    for (size_t i = 0; i < set->count; i++)
        upstream_release(&set->upstreams[i]);
    if (set->store_timer)
        event_free(set->store_timer);
    free(set->upstreams);
    free(set);
    return result;
}

void upstream_set_kick(struct upstream_set *set)
{
    /* Records committed to an upstream that had sent everything before them wait from now: the
     * last advance may be hours ago when nothing came in meanwhile, and a reading arriving just
     * as the upstream went down showed as that old at once. Every commit kicks, so these records
     * are the ones this commit brought. */
    uint64_t committed = spool_committed_sequence(set->environment.spool);
    int64_t now = clock_monotonic_ns(set->environment.clock);
    for (size_t i = 0; i < set->count; i++) {
        struct upstream *upstream = &set->upstreams[i];
        if (committed > set->kicked_sequence &&
            spool_cursor_acknowledged(upstream->cursor) >= set->kicked_sequence)
            upstream->waiting_since_ns = now;
        upstream_pump(upstream);
    }
    set->kicked_sequence = committed;
}
