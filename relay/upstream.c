/* The forwarder: per upstream, records read from its cursor into a batch buffer, one request in
 * flight, the answer classified as in spec/spool.md, retries on a timer. */
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

/* Drops the delivered spans (before span_first) so the buffers only hold what is unsent. */
static void upstream_buffer_compact(struct upstream *upstream)
{
    if (upstream->span_first == 0)
        return;
    if (upstream->span_first == upstream->span_count) {
        buffer_clear(&upstream->lines);
        buffer_clear(&upstream->metas);
        upstream->span_count = upstream->span_first = 0;
        return;
    }
    const struct upstream_span *first = &upstream->spans[upstream->span_first];
    size_t line_shift = first->line_offset, meta_shift = first->meta_offset;
    memmove(upstream->lines.data, upstream->lines.data + line_shift,
            upstream->lines.length - line_shift);
    upstream->lines.length -= line_shift;
    memmove(upstream->metas.data, upstream->metas.data + meta_shift,
            upstream->metas.length - meta_shift);
    upstream->metas.length -= meta_shift;
    size_t left = upstream->span_count - upstream->span_first;
    memmove(upstream->spans, first, left * sizeof *upstream->spans);
    for (size_t i = 0; i < left; i++) {
        upstream->spans[i].line_offset -= line_shift;
        upstream->spans[i].meta_offset -= meta_shift;
    }
    upstream->span_count = left;
    upstream->span_first = 0;
}

/* Reads committed records from the cursor until batches' worth of records are buffered (two
 * while a request is in flight: the next one is prepared meanwhile). Returns 0, -ENOMEM or a
 * cursor error (-EBADMSG, -EIO). */
static int upstream_records_read(struct upstream *upstream, size_t batches)
{
    upstream_buffer_compact(upstream);
    size_t lines = 0;
    for (size_t i = 0; i < upstream->span_count; i++)
        lines += upstream->spans[i].line_count;
    while (lines < upstream->batch_lines * batches &&
           upstream->lines.length < upstream->batch_bytes * batches) {
        struct spool_record record;
        int result = spool_cursor_next(upstream->cursor, &record);
        if (result <= 0)
            return result;
        if (upstream->span_count == upstream->span_capacity) {
            size_t capacity = upstream->span_capacity ? upstream->span_capacity * 2 : 64;
            struct upstream_span *grown = realloc(upstream->spans, capacity * sizeof *grown);
            if (!grown)
                return -ENOMEM;
            upstream->spans = grown;
            upstream->span_capacity = capacity;
        }
        struct upstream_span span = {
            .sequence = record.sequence,
            .line_offset = upstream->lines.length,
            .line_length = record.payload_length,
            .line_count = upstream_lines_count(record.payload, record.payload_length),
            .meta_offset = upstream->metas.length};
        /* Only the destination matters for batching, not which consumers a record named. */
        struct spool_routing routing = record.routing;
        routing.consumer_count = 0;
        if (spool_meta_encode(&routing, &upstream->metas) != 0 ||
            buffer_append(&upstream->lines, record.payload, record.payload_length) != 0)
            return -ENOMEM;
        span.meta_length = upstream->metas.length - span.meta_offset;
        upstream->spans[upstream->span_count++] = span;
        lines += span.line_count;
    }
    return 0;
}

/* The spans of the next request: from span_first, same routing, within the limits (at least
 * one span, however large). */
static size_t upstream_window_choose(const struct upstream *upstream)
{
    const struct upstream_span *first = &upstream->spans[upstream->span_first];
    size_t count = 0, lines = 0;
    uint64_t bytes = 0;
    for (size_t i = upstream->span_first; i < upstream->span_count; i++) {
        const struct upstream_span *span = &upstream->spans[i];
        if (count > 0 &&
            (span->meta_length != first->meta_length ||
             memcmp(upstream->metas.data + span->meta_offset,
                    upstream->metas.data + first->meta_offset, span->meta_length) != 0 ||
             lines + span->line_count > upstream->batch_lines ||
             bytes + span->line_length > upstream->batch_bytes ||
             (upstream->record_limit && count >= upstream->record_limit)))
            break;
        count++;
        lines += span->line_count;
        bytes += span->line_length;
    }
    return count;
}

/* ---- requests ---- */

static size_t upstream_answer_write(char *data, size_t size, size_t count, void *argument)
{
    struct upstream *upstream = argument;
    size_t length = size * count;
    size_t room = UPSTREAM_ANSWER_MAX - upstream->answer.length;
    if (buffer_append(&upstream->answer, data, length < room ? length : room) != 0)
        return 0;
    return length;
}

static size_t upstream_header_read(char *data, size_t size, size_t count, void *argument)
{
    struct upstream *upstream = argument;
    size_t length = size * count;
    static const char name[] = "retry-after:";
    if (length > sizeof name && strncasecmp(data, name, sizeof name - 1) == 0) {
        long seconds = 0;
        size_t i = sizeof name - 1;
        while (i < length && data[i] == ' ')
            i++;
        bool digits = false;
        for (; i < length && data[i] >= '0' && data[i] <= '9' && seconds < 86400; i++) {
            seconds = seconds * 10 + (data[i] - '0');
            digits = true;
        }
        if (digits) /* an HTTP date instead of seconds falls back to the backoff */
            upstream->retry_after_seconds = seconds;
    }
    return length;
}

/* The bucket a v2 upstream gets for routing: a routing rule for "db" or "db/rp", else the bucket
 * the client wrote to, else db or db/rp. Writes a NUL-terminated name into out. */
static void upstream_bucket_name(const struct upstream *upstream,
                                 const struct spool_routing *routing, char *out, size_t size)
{
    char key[1024];
    snprintf(key, sizeof key, "%.*s%s%.*s", (int)routing->db.length, routing->db.data,
             routing->rp.length ? "/" : "", (int)routing->rp.length, routing->rp.data);
    for (size_t i = 0; i < upstream->route_count; i++)
        if (strcmp(upstream->routes[i].source, key) == 0) {
            snprintf(out, size, "%s", upstream->routes[i].bucket);
            return;
        }
    if (routing->bucket.length)
        snprintf(out, size, "%.*s", (int)routing->bucket.length, routing->bucket.data);
    else
        snprintf(out, size, "%s", key);
}

/* Builds the write URL for routing into upstream->request_url. Returns 0 or -ENOMEM. */
static int upstream_url_build(struct upstream *upstream, const struct spool_routing *routing)
{
    CURL *easy = upstream->easy;
    char *first = NULL, *second = NULL;
    bool v2 = upstream->api == CONFIG_API_V2;
    if (v2) {
        char bucket[1024];
        upstream_bucket_name(upstream, routing, bucket, sizeof bucket);
        first = curl_easy_escape(easy, upstream->org ? upstream->org : "", 0);
        second = curl_easy_escape(easy, bucket, 0);
    } else {
        first = curl_easy_escape(easy, routing->db.data ? routing->db.data : "",
                                 (int)routing->db.length);
        second = curl_easy_escape(easy, routing->rp.data ? routing->rp.data : "",
                                  (int)routing->rp.length);
    }
    int result = -ENOMEM;
    free(upstream->request_url);
    upstream->request_url = NULL;
    if (first && second) {
        size_t length = strlen(upstream->url) + strlen(first) + strlen(second) + 64;
        upstream->request_url = malloc(length);
        if (upstream->request_url) {
            if (v2)
                snprintf(upstream->request_url, length,
                         "%s/api/v2/write?org=%s&bucket=%s&precision=ns", upstream->url, first,
                         second);
            else if (routing->rp.length)
                snprintf(upstream->request_url, length, "%s/write?db=%s&rp=%s&precision=ns",
                         upstream->url, first, second);
            else
                snprintf(upstream->request_url, length, "%s/write?db=%s&precision=ns",
                         upstream->url, first);
            result = 0;
        }
    }
    curl_free(first);
    curl_free(second);
    return result;
}

static void upstream_request_done(CURL *easy, CURLcode result, void *argument);

/* Sends the window starting at span_first. */
static void upstream_request_send(struct upstream *upstream)
{
    struct logger *logger = upstream->set->environment.logger;
    const struct upstream_span *first = &upstream->spans[upstream->span_first];
    const struct upstream_span *last =
        &upstream->spans[upstream->span_first + upstream->window - 1];
    struct spool_routing routing;
    if (spool_meta_decode((const uint8_t *)upstream->metas.data + first->meta_offset,
                          first->meta_length, &routing) != 0 ||
        upstream_url_build(upstream, &routing) != 0) {
        snprintf(upstream->last_error, sizeof upstream->last_error, "out of memory");
        upstream_retry_schedule(upstream, upstream_backoff_ms(upstream));
        return;
    }
    const char *data = upstream->lines.data + first->line_offset;
    size_t length = last->line_offset + last->line_length - first->line_offset;
    if (upstream->gzip && upstream->prepared_count == upstream->window &&
        upstream->prepared_first_sequence == first->sequence) {
        struct buffer swap = upstream->body;
        upstream->body = upstream->prepared_body;
        upstream->prepared_body = swap;
        upstream->prepared_count = 0;
        data = upstream->body.data;
        length = upstream->body.length;
    } else if (upstream->gzip) {
        upstream->prepared_count = 0;
        if (gzip_deflate(data, length, GZIP_DEFLATE_LEVEL, &upstream->body) != 0) {
            snprintf(upstream->last_error, sizeof upstream->last_error, "out of memory");
            upstream_retry_schedule(upstream, upstream_backoff_ms(upstream));
            return;
        }
        data = upstream->body.data;
        length = upstream->body.length;
    }
    buffer_clear(&upstream->answer);
    upstream->retry_after_seconds = -1;
    CURL *easy = upstream->easy;
    curl_easy_setopt(easy, CURLOPT_URL, upstream->request_url);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
    if (http_client_start(upstream->set->environment.client, easy, upstream_request_done,
                          upstream) != 0) {
        log_error(logger, "libcurl refused a request", LOG_STRING("upstream", upstream->name));
        upstream_retry_schedule(upstream, upstream_backoff_ms(upstream));
        return;
    }
    upstream->sending = true;
    /* A moment later, so that libcurl sends this body before the loop compresses the next. */
    if (upstream->gzip) {
        const struct timeval soon = {0, 1000};
        evtimer_add(upstream->prepare_timer, &soon);
    }
}

/* While a request is in flight: reads the records of the next window and compresses it. */
static void upstream_prepare_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct upstream *upstream = argument;
    if (!upstream->sending || upstream->prepared_count > 0)
        return;
    if (upstream_records_read(upstream, 2) < 0)
        return; /* the pump reports it when this window is done */
    size_t current_first = upstream->span_first;
    upstream->span_first += upstream->window;
    if (upstream->span_first < upstream->span_count) {
        size_t count = upstream_window_choose(upstream);
        const struct upstream_span *first = &upstream->spans[upstream->span_first];
        const struct upstream_span *last = &upstream->spans[upstream->span_first + count - 1];
        if (gzip_deflate(upstream->lines.data + first->line_offset,
                         last->line_offset + last->line_length - first->line_offset,
                         GZIP_DEFLATE_LEVEL, &upstream->prepared_body) == 0) {
            upstream->prepared_first_sequence = first->sequence;
            upstream->prepared_count = count;
        }
    }
    upstream->span_first = current_first;
}

/* Reads, chooses the next window and sends it, unless a request or a retry is pending. */
static void upstream_pump(struct upstream *upstream)
{
    if (upstream->sending || upstream->waiting)
        return;
    int result = upstream_records_read(upstream, 1);
    if (result < 0 && upstream->span_first == upstream->span_count) {
        log_error(upstream->set->environment.logger, "cannot read the spool for an upstream",
                  LOG_STRING("upstream", upstream->name), LOG_STRING("error", strerror(-result)));
        upstream_retry_schedule(upstream, upstream->backoff_max_ms);
        return;
    }
    if (upstream->span_first == upstream->span_count)
        return; /* all delivered */
    upstream->window = upstream_window_choose(upstream);
    /* The prepared window was chosen by the same rules from the same records; it may be shorter
     * (fewer records were committed then), never different. */
    if (upstream->prepared_count > 0 && upstream->prepared_count < upstream->window &&
        upstream->prepared_first_sequence == upstream->spans[upstream->span_first].sequence)
        upstream->window = upstream->prepared_count;
    upstream_request_send(upstream);
}

/* The window is done with (delivered or dead-lettered): advance the cursor past it. */
static void upstream_window_advance(struct upstream *upstream, bool delivered)
{
    const struct upstream_span *last =
        &upstream->spans[upstream->span_first + upstream->window - 1];
    for (size_t i = 0; i < upstream->window; i++) {
        const struct upstream_span *span = &upstream->spans[upstream->span_first + i];
        if (delivered) {
            upstream->sent_records++;
            upstream->sent_lines += span->line_count;
            upstream->sent_bytes += span->line_length;
        } else {
            upstream->dead_lettered_records++;
        }
    }
    spool_cursor_acknowledge(upstream->cursor, last->sequence);
    upstream->span_first += upstream->window;
    upstream->window = 0;
    upstream->failures = 0;
    upstream->last_delivery_ns = clock_realtime_ns(upstream->set->environment.clock);
}

/* Stores the window with the upstream's answer in the dead-letter directory. Returns 0 or -1
 * (then the batch is retried: nothing acknowledged is dropped without a trace). */
static int upstream_window_dead_letter(struct upstream *upstream, long status)
{
    const struct upstream_span *first = &upstream->spans[upstream->span_first];
    const struct upstream_span *last =
        &upstream->spans[upstream->span_first + upstream->window - 1];
    struct dead_letter letter = {
        .upstream = upstream->name,
        .first_sequence = first->sequence,
        .last_sequence = last->sequence,
        .lines = upstream->lines.data + first->line_offset,
        .lines_length = last->line_offset + last->line_length - first->line_offset,
        .status = (int)status,
        .answer = upstream->answer.data,
        .answer_length = upstream->answer.length,
        .time_ns = clock_realtime_ns(upstream->set->environment.clock),
    };
    for (size_t i = 0; i < upstream->window; i++)
        letter.line_count += upstream->spans[upstream->span_first + i].line_count;
    char error[UPSTREAM_ERROR_SIZE] = "";
    if (spool_meta_decode((const uint8_t *)upstream->metas.data + first->meta_offset,
                          first->meta_length, &letter.routing) != 0 ||
        dead_letter_write(upstream->set->environment.spool_dir, &letter, error, sizeof error) !=
            0) {
        log_error(upstream->set->environment.logger,
                  "cannot store a rejected batch in the dead-letter directory; retrying it",
                  LOG_STRING("upstream", upstream->name), LOG_STRING("error", error));
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
static bool upstream_answer_is_permanent(const struct upstream *upstream, long status)
{
    if (status == 400 || status == 422)
        return true;
    if (status < 400)
        return false;
    static const char *const phrases[] = {"partial write", "unable to parse",
                                          "points beyond retention policy"};
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
        size_t length = strlen(phrases[i]);
        for (size_t at = 0; at + length <= upstream->answer.length; at++)
            if (memcmp(upstream->answer.data + at, phrases[i], length) == 0)
                return true;
    }
    return false;
}

static void upstream_error_describe(struct upstream *upstream, CURLcode result, long status)
{
    if (result != CURLE_OK)
        snprintf(upstream->last_error, sizeof upstream->last_error, "%s",
                 curl_easy_strerror(result));
    else
        snprintf(upstream->last_error, sizeof upstream->last_error, "HTTP %ld: %.*s", status,
                 (int)(upstream->answer.length < 300 ? upstream->answer.length : 300),
                 upstream->answer.data ? upstream->answer.data : "");
}

static void upstream_request_done(CURL *easy, CURLcode result, void *argument)
{
    struct upstream *upstream = argument;
    upstream->sending = false;
    long status = 0;
    if (result == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    upstream->last_status = status;
    if (result == CURLE_OK && status >= 200 && status < 300) {
        upstream_window_advance(upstream, true);
        if (upstream->record_limit && (upstream->record_limit *= 2) > 1024)
            upstream->record_limit = 0; /* back to the configured limits after a 413 */
        upstream_state_set(upstream, UPSTREAM_OK);
        upstream_pump(upstream);
        return;
    }
    upstream_error_describe(upstream, result, status);
    if (result == CURLE_OK && status == 413 && upstream->window > 1) {
        upstream->record_limit = upstream->window / 2;
        upstream->window = 0;
        upstream_pump(upstream);
        return;
    }
    if (result == CURLE_OK && (status == 413 || upstream_answer_is_permanent(upstream, status))) {
        if (upstream_window_dead_letter(upstream, status) == 0) {
            upstream_window_advance(upstream, false);
            upstream_pump(upstream);
        } else {
            upstream_retry_schedule(upstream, upstream->backoff_max_ms);
        }
        return;
    }
    upstream->failures++;
    upstream->window = 0;
    if (result == CURLE_OK && (status == 401 || status == 403 || status == 404)) {
        upstream_state_set(upstream, UPSTREAM_PAUSED);
        upstream_retry_schedule(upstream, upstream->pause_retry_ms);
        return;
    }
    upstream_state_set(upstream, UPSTREAM_BACKOFF);
    if (result == CURLE_OK && (status == 429 || status == 503) &&
        upstream->retry_after_seconds >= 0)
        upstream_retry_schedule(upstream, upstream->retry_after_seconds * 1000);
    else
        upstream_retry_schedule(upstream, upstream_backoff_ms(upstream));
}

/* ---- setup ---- */

static char *upstream_copy(const char *text)
{
    return text ? strdup(text) : NULL;
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
    upstream->easy = curl_easy_init();
    if (!upstream->easy)
        return -1;
    CURL *easy = upstream->easy;
    /* libcurl copies the strings it is given; the header list is the upstream's to free. */
    if (http_client_upstream_setup(easy, config, true, &upstream->headers) != 0)
        return -1;
    const char *lines[] = {"Content-Type: text/plain; charset=utf-8",
                           upstream->gzip ? "Content-Encoding: gzip" : NULL};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *grown = lines[i] ? curl_slist_append(upstream->headers, lines[i]) : NULL;
        if (lines[i] && !grown)
            return -1;
        if (grown)
            upstream->headers = grown;
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, upstream->headers);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)config->request_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, upstream_answer_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, upstream);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, upstream_header_read);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, upstream);
    return 0;
}

static void upstream_release(struct upstream *upstream)
{
    if (upstream->easy) {
        http_client_cancel(upstream->set->environment.client, upstream->easy);
        curl_easy_cleanup(upstream->easy);
    }
    curl_slist_free_all(upstream->headers);
    if (upstream->retry_timer)
        event_free(upstream->retry_timer);
    if (upstream->prepare_timer)
        event_free(upstream->prepare_timer);
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
    free(upstream->request_url);
    buffer_release(&upstream->lines);
    buffer_release(&upstream->metas);
    buffer_release(&upstream->body);
    buffer_release(&upstream->prepared_body);
    buffer_release(&upstream->answer);
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
        if (!upstream->retry_timer || !upstream->prepare_timer ||
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
        upstream->last_delivery_ns = clock_realtime_ns(environment->clock);
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
    for (size_t i = 0; i < set->count; i++)
        upstream_pump(&set->upstreams[i]);
}
