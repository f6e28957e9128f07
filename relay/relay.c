/* The relay context: event loop, spool, HTTP server, group commit and the waiting requests,
 * signals and shutdown. */
#include "relay/relay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/error.h"
#include "relay/http_client.h"
#include "relay/reload_keys.h"
#include "relay/upstream.h"

/* After shutdown answered everyone, the loop runs this long so the answers reach the clients. */
#define RELAY_SHUTDOWN_GRACE_US 200000

/* A write request parked until the commit covering its record. */
struct relay_waiter {
    struct relay *relay;
    struct http_request *request;
    enum http_dialect dialect;
    uint64_t sequence;
    int code;
    char *body; /* owned, from cJSON; NULL = empty */
    struct relay_waiter *previous;
    struct relay_waiter *next;
};

struct relay {
    const struct config *config;         /* the running one: the caller's, or owned_config */
    const struct config *started_config; /* the caller's: what is read only at start */
    struct config *owned_config;         /* loaded by a SIGHUP reload; NULL before the first */
    bool reload_enabled;
    int64_t config_loaded_ns; /* start or last successful reload (wall clock) */
    int64_t reload_failed_ns; /* the last reload failed at; 0 when it did not */
    char *reload_error;       /* owned: that reload's first error */
    size_t reload_error_count;
    char *reload_path; /* owned; NULL = the default locations */
    struct event *hangup_signal;
    struct logger *logger;
    struct clock clock;
    struct event_base *base;
    struct spool *spool;
    struct http_server *server;
    struct http_client *client;
    struct upstream_set *upstreams;
    struct event *commit_event;
    struct event *spool_failed_event; /* the spool failed outside a commit */
    bool commit_armed;
    struct event *commit_completed_event; /* the sync thread finished an fdatasync */
    uint64_t commit_before;               /* committed sequence when the commit in flight began */
    int64_t commit_started_ns;
    struct event *sync_timer; /* sync interval mode: keeps committing so the tail gets synced */
    struct event *terminate_signal;
    struct event *interrupt_signal;
    struct event *reopen_signal; /* SIGUSR1: reopen the log file only */
    char *notify_socket;         /* owned; systemd's NOTIFY_SOCKET, NULL when not under it */
    struct lineproto_parser *parser;
    struct buffer body;
    struct buffer lines;
    struct relay_waiter *first; /* ascending sequence */
    struct relay_waiter *last;
    struct metrics *metrics;
    cJSON *databases; /* names from CREATE DATABASE */
    int64_t started_ns;
    int64_t started_monotonic_ns;  /* for the uptime: a step of the wall clock does not move it */
    uint64_t quarantined_segments; /* by the recovery at start: /health reports it */
    bool stopping;
    int exit_status;
    uint64_t random_state;
    struct relay_extension extensions[RELAY_EXTENSIONS_MAX];
    size_t extension_count;
};

const struct config *relay_config(const struct relay *relay)
{
    return relay->config;
}

const struct config *relay_started_config(const struct relay *relay)
{
    return relay->started_config;
}

struct logger *relay_logger(struct relay *relay)
{
    return relay->logger;
}

const struct clock *relay_clock(const struct relay *relay)
{
    return &relay->clock;
}

struct spool *relay_spool(struct relay *relay)
{
    return relay->spool;
}

struct lineproto_parser *relay_parser(struct relay *relay)
{
    return relay->parser;
}

struct buffer *relay_body_buffer(struct relay *relay)
{
    return &relay->body;
}

struct buffer *relay_lines_buffer(struct relay *relay)
{
    return &relay->lines;
}

struct http_client *relay_http_client(struct relay *relay)
{
    return relay->client;
}

struct upstream_set *relay_upstreams(struct relay *relay)
{
    return relay->upstreams;
}

struct metrics *relay_metrics(struct relay *relay)
{
    return relay->metrics;
}

cJSON *relay_databases(struct relay *relay)
{
    return relay->databases;
}

struct event_base *relay_event_base(struct relay *relay)
{
    return relay->base;
}

int relay_extension_add(struct relay *relay, const struct relay_extension *extension)
{
    if (relay->extension_count == RELAY_EXTENSIONS_MAX)
        return -1;
    relay->extensions[relay->extension_count++] = *extension;
    return 0;
}

const struct relay_extension *relay_extensions(const struct relay *relay, size_t *count)
{
    *count = relay->extension_count;
    return relay->extensions;
}

void relay_reload_status_read(const struct relay *relay, struct relay_reload_status *status)
{
    *status = (struct relay_reload_status){
        .failed = relay->reload_failed_ns != 0,
        .loaded_ns = relay->config_loaded_ns,
        .failed_ns = relay->reload_failed_ns,
        .error = relay->reload_error ? relay->reload_error : "out of memory",
        .error_count = relay->reload_error_count,
    };
}

int64_t relay_started_ns(const struct relay *relay)
{
    return relay->started_ns;
}

int64_t relay_uptime_ns(const struct relay *relay)
{
    return clock_monotonic_ns(&relay->clock) - relay->started_monotonic_ns;
}

uint64_t relay_quarantined_segments(const struct relay *relay)
{
    return relay->quarantined_segments;
}

bool relay_is_stopping(const struct relay *relay)
{
    return relay->stopping;
}

void relay_request_id_generate(struct relay *relay, char *out)
{
    /* xorshift64*: request ids need to be unique, not secret. */
    uint64_t words[2];
    for (int i = 0; i < 2; i++) {
        uint64_t x = relay->random_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        relay->random_state = x;
        words[i] = x * 0x2545F4914F6CDD1DULL;
    }
    words[0] = (words[0] & ~0xf000ULL) | 0x4000ULL;       /* version 4 */
    words[1] = (words[1] & ~(3ULL << 62)) | (2ULL << 62); /* RFC 4122 variant */
    /* 8-4-4-4-12 hex digits by hand: snprintf showed up in the per-request profile. */
    static const char digits[] = "0123456789abcdef";
    size_t at = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[at++] = '-';
        uint64_t word = words[i / 16];
        out[at++] = digits[(word >> (60 - 4 * (i % 16))) & 0xf];
    }
    out[at] = '\0';
}

static void relay_waiter_unlink(struct relay_waiter *waiter)
{
    struct relay *relay = waiter->relay;
    if (waiter->previous)
        waiter->previous->next = waiter->next;
    else
        relay->first = waiter->next;
    if (waiter->next)
        waiter->next->previous = waiter->previous;
    else
        relay->last = waiter->previous;
}

/* The client went away while its data was being committed: forget the request (its connection
 * frees it). */
static void relay_waiter_closed(struct http_request *request, void *argument)
{
    (void)request;
    struct relay_waiter *waiter = argument;
    relay_waiter_unlink(waiter);
    cJSON_free(waiter->body);
    free(waiter);
}

#define RELAY_SPOOL_FAILED_MESSAGE "the spool failed; the data was not stored, retry later"

/* Answers waiter (unlinked and freed here): its prepared answer when refusal is NULL, otherwise
 * 503 with refusal as the message. */
static void relay_waiter_answer(struct relay_waiter *waiter, const char *refusal)
{
    relay_waiter_unlink(waiter);
    struct http_request *request = waiter->request;
    http_request_close_callback_set(request, NULL, NULL);
    if (!refusal) {
        http_reply_json(request, waiter->code, waiter->body,
                        waiter->body ? strlen(waiter->body) : 0);
    } else {
        struct evkeyvalq *headers = http_request_output_headers(request);
        evhttp_remove_header(headers, "X-Influxdb-Error");
        evhttp_remove_header(headers, "X-Platform-Error-Code");
        http_reply_unavailable(request, waiter->dialect, refusal);
    }
    cJSON_free(waiter->body);
    free(waiter);
}

/* Answers every waiter up to committed (all of them with 503 when durable is false). */
static void relay_waiters_answer(struct relay *relay, uint64_t committed, bool durable)
{
    while (relay->first && (!durable || relay->first->sequence <= committed))
        relay_waiter_answer(relay->first, durable ? NULL : RELAY_SPOOL_FAILED_MESSAGE);
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (a path, or an abstract
 * socket when it starts with '@'), for Type=notify units. Failures are logged, never fatal. */
static void relay_notify(struct relay *relay, const char *state)
{
    if (!relay->notify_socket)
        return;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    size_t length = strlen(relay->notify_socket);
    if (length < 2 || length >= sizeof address.sun_path ||
        (relay->notify_socket[0] != '/' && relay->notify_socket[0] != '@')) {
        log_warning(relay->logger, "NOTIFY_SOCKET is not a socket path; systemd is not told",
                    LOG_STRING("notify_socket", relay->notify_socket));
        return;
    }
    memcpy(address.sun_path, relay->notify_socket, length);
    if (address.sun_path[0] == '@')
        address.sun_path[0] = '\0';
    socklen_t address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&address,
                         address_length) < 0)
        log_warning(relay->logger, "cannot notify systemd", LOG_STRING("state", state),
                    LOG_STRING("error", strerror(errno)));
    if (fd >= 0 && close(fd) < 0)
        log_warning(relay->logger, "cannot close the systemd notify socket",
                    LOG_STRING("error", strerror(errno)));
}

static void relay_shutdown_finish(struct relay *relay)
{
    http_server_stop_accepting(relay->server);
    struct timeval grace = {0, RELAY_SHUTDOWN_GRACE_US};
    event_base_loopexit(relay->base, &grace);
}

void relay_fail(struct relay *relay, const char *reason)
{
    if (relay->exit_status != 0)
        return;
    relay->exit_status = 1;
    relay->stopping = true;
    log_error(relay->logger, "spool failed: stopping; recovery runs at the next start",
              LOG_STRING("reason", reason), LOG_STRING("dir", relay->config->relay.spool.dir));
    relay_waiters_answer(relay, 0, false);
    relay_shutdown_finish(relay);
}

/* Answers 503 to the waiters whose deferred records a full disk lost (spool_dropped_take): this
 * runs before any commit that names their sequence numbers is answered. */
static void relay_dropped_answer(struct relay *relay)
{
    uint64_t first, last;
    if (!spool_dropped_take(relay->spool, &first, &last))
        return;
    struct relay_waiter *next;
    for (struct relay_waiter *waiter = relay->first; waiter; waiter = next) {
        next = waiter->next;
        if (waiter->sequence >= first && waiter->sequence <= last)
            relay_waiter_answer(waiter,
                                "the spool's disk is full; the data was not stored, retry later");
    }
}

/* A commit finished (here or on the sync thread): counts it, answers its waiters. */
static void relay_commit_finished(struct relay *relay, uint64_t committed)
{
    if (committed > relay->commit_before)
        metrics_commit_observe(
            relay->metrics,
            (double)(clock_monotonic_ns(&relay->clock) - relay->commit_started_ns) / 1e9,
            committed - relay->commit_before);
    relay->commit_started_ns = 0;
    relay_waiters_answer(relay, committed, true);
    if (relay->upstreams)
        upstream_set_kick(relay->upstreams);
    for (size_t i = 0; i < relay->extension_count; i++)
        if (relay->extensions[i].committed)
            relay->extensions[i].committed(relay->extensions[i].argument);
}

static void relay_commit(struct relay *relay)
{
    relay->commit_armed = false;
    if (relay->exit_status != 0)
        return;
    uint64_t before = spool_committed_sequence(relay->spool);
    int64_t started_ns = clock_monotonic_ns(&relay->clock);
    uint64_t committed = 0;
    int status = spool_commit_start(relay->spool, &committed);
    if (status < 0) {
        relay_fail(relay, spool_error_reason(status));
        return;
    }
    relay_dropped_answer(relay);
    if (status == 1 || relay->commit_started_ns == 0) {
        relay->commit_before = before;
        relay->commit_started_ns = started_ns;
    }
    if (status == 1)
        relay_commit_finished(relay, committed);
}

/* The sync thread finished: answer what it made durable, then start the next fdatasync at once
 * for everything appended meanwhile. */
static void relay_commit_completed_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct relay *relay = argument;
    uint64_t committed = 0;
    int status = spool_commit_complete(relay->spool, &committed);
    if (status == -EAGAIN)
        return;
    if (status != 0) {
        relay_fail(relay, spool_error_reason(status));
        return;
    }
    relay_commit_finished(relay, committed);
    if ((relay->first || spool_appended_sequence(relay->spool) > committed) && !relay->stopping)
        relay_commit(relay);
}

static void relay_commit_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    relay_commit(argument);
}

int relay_write_wait(struct relay *relay, struct http_request *request, enum http_dialect dialect,
                     uint64_t sequence, int code, char *body)
{
    struct relay_waiter *waiter = calloc(1, sizeof *waiter);
    if (!waiter) {
        cJSON_free(body);
        return -1;
    }
    *waiter = (struct relay_waiter){.relay = relay,
                                    .request = request,
                                    .dialect = dialect,
                                    .sequence = sequence,
                                    .code = code,
                                    .body = body,
                                    .previous = relay->last};
    if (relay->last)
        relay->last->next = waiter;
    else
        relay->first = waiter;
    relay->last = waiter;
    http_request_close_callback_set(request, relay_waiter_closed, waiter);
    relay_commit_request(relay);
    return 0;
}

void relay_commit_request(struct relay *relay)
{
    if (relay->commit_armed)
        return;
    relay->commit_armed = true;
    int64_t delay_us = relay->config->relay.spool.commit_max_delay_us;
    if (delay_us > 0) {
        struct timeval delay = {delay_us / 1000000, delay_us % 1000000};
        event_add(relay->commit_event, &delay);
    } else {
        /* Runs after the other ready events of this pass: their appends join this commit. */
        event_active(relay->commit_event, EV_TIMEOUT, 0);
    }
}

static void relay_sync_timer_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct relay *relay = argument;
    if (!relay->stopping &&
        spool_durable_sequence(relay->spool) < spool_committed_sequence(relay->spool))
        relay_commit(relay);
}

static void relay_signal_event(evutil_socket_t signal_number, short what, void *argument)
{
    (void)what;
    struct relay *relay = argument;
    if (relay->stopping)
        return;
    relay->stopping = true;
    log_info(relay->logger, "shutting down", LOG_INTEGER("signal", signal_number));
    relay_notify(relay, "STOPPING=1");
    http_server_stop_accepting(relay->server);
    if (relay->commit_armed) {
        event_del(relay->commit_event);
        relay->commit_armed = false;
    }
    uint64_t committed = 0;
    int status = spool_flush(relay->spool, &committed);
    if (status != 0) {
        relay_fail(relay, spool_error_reason(status));
        return;
    }
    relay_dropped_answer(relay);
    relay_waiters_answer(relay, committed, true);
    relay_waiters_answer(relay, 0, false); /* none expected: every append was flushed */
    for (size_t i = 0; i < relay->extension_count; i++)
        if (relay->extensions[i].stop)
            relay->extensions[i].stop(relay->extensions[i].argument);
    relay_shutdown_finish(relay);
}

/* SIGHUP: reopen the log file (logrotate), then reload the configuration file and the secrets
 * it names. A file with errors changes nothing; what can change live (authentication, tokens and
 * users, base path, body limits, timeouts) takes effect with the next request. */
static void relay_hangup_event(evutil_socket_t signal_number, short what, void *argument)
{
    (void)signal_number;
    (void)what;
    struct relay *relay = argument;
    if (log_reopen(relay->logger) != 0)
        log_warning(relay->logger, "cannot reopen the log file; logging goes on to the old one");
    if (!relay->reload_enabled || relay->stopping)
        return;
    relay_notify(relay, "RELOADING=1");
    struct config *fresh = NULL;
    struct config_diagnostics diagnostics = {0};
    if (config_load(relay->reload_path, &fresh, &diagnostics) != 0) {
        log_error(relay->logger, "configuration reload failed; the running configuration stays",
                  LOG_STRING("error", diagnostics.error_count ? diagnostics.errors[0] : "unknown"),
                  LOG_INTEGER("errors", (int64_t)diagnostics.error_count));
        /* Kept for /health and /metrics: the log line alone scrolls away unseen. */
        free(relay->reload_error);
        relay->reload_error =
            strdup(diagnostics.error_count ? diagnostics.errors[0] : "unknown error");
        relay->reload_error_count = diagnostics.error_count;
        relay->reload_failed_ns = clock_realtime_ns(&relay->clock);
        config_diagnostics_free(&diagnostics);
        relay_notify(relay,
                     "READY=1\nSTATUS=configuration reload failed; running the previous one");
        return;
    }
    free(relay->reload_error);
    relay->reload_error = NULL;
    relay->reload_error_count = 0;
    relay->reload_failed_ns = 0;
    relay->config_loaded_ns = clock_realtime_ns(&relay->clock);
    for (size_t i = 0; i < diagnostics.warning_count; i++)
        log_warning(relay->logger, "configuration", LOG_STRING("warning", diagnostics.warnings[i]));
    config_diagnostics_free(&diagnostics);
    /* Against the start, not the previous reload: that is what runs, and a file changed back
     * to it no longer waits for anything. */
    const char *waiting[RELOAD_KEYS_MAX];
    size_t waiting_count = reload_keys_changed(relay->started_config, fresh, waiting);
    for (size_t i = 0; i < waiting_count; i++)
        log_warning(relay->logger,
                    "changed in the configuration file; the running value stays until the next "
                    "restart",
                    LOG_STRING("key", waiting[i]));
    /* Nothing keeps a pointer into the running configuration across events (the spool and the
     * logger copied what they need), so the previous reload's copy can go now. */
    config_free(relay->owned_config);
    relay->owned_config = fresh;
    relay->config = fresh;
    http_server_settings_apply(relay->server);
    for (size_t i = 0; i < relay->extension_count; i++)
        if (relay->extensions[i].reloaded)
            relay->extensions[i].reloaded(relay->extensions[i].argument);
    log_info(relay->logger, "configuration reloaded");
    relay_notify(relay, "READY=1\nSTATUS=accepting writes");
}

/* SIGUSR1: only reopen the log file (logrotate's postrotate), no configuration reload. */
static void relay_reopen_event(evutil_socket_t signal_number, short what, void *argument)
{
    (void)signal_number;
    (void)what;
    struct relay *relay = argument;
    if (log_reopen(relay->logger) != 0)
        log_warning(relay->logger, "cannot reopen the log file; logging goes on to the old one");
    else
        log_info(relay->logger, "log file reopened");
}

int relay_reload_enable(struct relay *relay, const char *path)
{
    char *copy = NULL;
    if (path && !(copy = strdup(path)))
        return -1;
    free(relay->reload_path);
    relay->reload_path = copy;
    relay->reload_enabled = true;
    return 0;
}

static void relay_recovery_log(struct relay *relay, const struct spool_recovery_report *report)
{
    log_info(relay->logger, "spool recovered", LOG_STRING("dir", relay->config->relay.spool.dir),
             LOG_INTEGER("segments", (int64_t)report->segments),
             LOG_INTEGER("records", (int64_t)report->records),
             LOG_INTEGER("truncated_bytes", (int64_t)report->truncated_bytes),
             LOG_INTEGER("quarantined_segments", (int64_t)report->quarantined_segments),
             LOG_INTEGER("first_sequence", (int64_t)report->first_sequence),
             LOG_INTEGER("last_sequence", (int64_t)report->last_sequence),
             LOG_NUMBER("duration_ms", (double)report->duration_ns / 1e6));
}

static void relay_spool_failed_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct relay *relay = argument;
    relay_fail(relay, spool_error_reason(-EIO));
}

/* spool_options.failed: a cursor store (the forwarder's each second, a stream checkpoint) or a
 * segment deletion can fail the spool while no write comes to fail a commit; an idle relay would
 * run on with a dead spool. The stop runs on the next loop pass, outside the failing call. */
static void relay_spool_failed(void *argument)
{
    struct relay *relay = argument;
    if (relay->spool_failed_event)
        event_active(relay->spool_failed_event, 0, 0);
}

static int relay_events_create(struct relay *relay, char *error, size_t error_size)
{
    relay->commit_event = event_new(relay->base, -1, 0, relay_commit_event, relay);
    relay->spool_failed_event = event_new(relay->base, -1, 0, relay_spool_failed_event, relay);
    relay->terminate_signal = evsignal_new(relay->base, SIGTERM, relay_signal_event, relay);
    relay->interrupt_signal = evsignal_new(relay->base, SIGINT, relay_signal_event, relay);
    relay->hangup_signal = evsignal_new(relay->base, SIGHUP, relay_hangup_event, relay);
    relay->reopen_signal = evsignal_new(relay->base, SIGUSR1, relay_reopen_event, relay);
    if (!relay->commit_event || !relay->spool_failed_event || !relay->terminate_signal ||
        !relay->interrupt_signal || !relay->hangup_signal || !relay->reopen_signal ||
        event_add(relay->terminate_signal, NULL) != 0 ||
        event_add(relay->interrupt_signal, NULL) != 0 ||
        event_add(relay->hangup_signal, NULL) != 0 || event_add(relay->reopen_signal, NULL) != 0) {
        error_message_set(error, error_size, "cannot set up the event loop (libevent)");
        return -1;
    }
    const struct config_sync *sync = &relay->config->relay.spool.sync;
    if (sync->mode == CONFIG_SYNC_ALWAYS) {
        int fd = spool_sync_thread_start(relay->spool);
        if (fd < 0) {
            error_message_set(error, error_size, "cannot start the spool's sync thread: %s",
                              strerror(-fd));
            return -1;
        }
        relay->commit_completed_event =
            event_new(relay->base, fd, EV_READ | EV_PERSIST, relay_commit_completed_event, relay);
        if (!relay->commit_completed_event || event_add(relay->commit_completed_event, NULL) != 0) {
            error_message_set(error, error_size, "cannot set up the event loop (libevent)");
            return -1;
        }
    }
    if (sync->mode == CONFIG_SYNC_INTERVAL && sync->interval_ms > 0) {
        relay->sync_timer = event_new(relay->base, -1, EV_PERSIST, relay_sync_timer_event, relay);
        struct timeval interval = {sync->interval_ms / 1000, (sync->interval_ms % 1000) * 1000};
        if (!relay->sync_timer || event_add(relay->sync_timer, &interval) != 0) {
            error_message_set(error, error_size, "cannot set up the sync timer (libevent)");
            return -1;
        }
    }
    return 0;
}

/* The changelist lets libevent fold the add/remove pairs evhttp makes for every request into
 * one epoll_ctl (or none) per pass: without it each request costs four system calls. */
static struct event_base *relay_event_base_new(void)
{
    struct event_config *config = event_config_new();
    if (!config)
        return NULL;
    event_config_set_flag(config, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(config);
    event_config_free(config);
    return base;
}

int relay_create(const struct config *config, struct logger *logger, const struct clock *clock,
                 struct relay **out, char *error, size_t error_size)
{
    struct relay *relay = calloc(1, sizeof *relay);
    if (!relay) {
        error_message_set(error, error_size, "out of memory creating the relay");
        return -1;
    }
    relay->config = relay->started_config = config;
    relay->logger = logger;
    relay->clock = clock ? *clock : clock_system();
    relay->started_ns = relay->config_loaded_ns = clock_realtime_ns(&relay->clock);
    relay->started_monotonic_ns = clock_monotonic_ns(&relay->clock);
    if (getrandom(&relay->random_state, sizeof relay->random_state, 0) !=
        (ssize_t)sizeof relay->random_state)
        relay->random_state = (uint64_t)relay->started_ns;
    relay->random_state |= 1; /* xorshift never leaves 0 */
    /* Taken out of the environment before any thread starts, so the batch jobs the scheduler
     * spawns do not talk to systemd in the relay's name. */
    const char *notify_socket = getenv("NOTIFY_SOCKET");
    if (notify_socket && notify_socket[0]) {
        if (!(relay->notify_socket = strdup(notify_socket))) {
            error_message_set(error, error_size, "out of memory creating the relay");
            free(relay);
            return -1;
        }
    }
    unsetenv("NOTIFY_SOCKET");
    /* A client that hangs up must not kill the relay: writes then fail with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    relay->parser = lineproto_parser_create();
    relay->base = relay_event_base_new();
    relay->metrics = metrics_create();
    relay->databases = cJSON_CreateArray();
    if (!relay->parser || !relay->base || !relay->metrics || !relay->databases) {
        error_message_set(error, error_size, "out of memory creating the event loop");
        goto failure;
    }
    struct spool_options options;
    spool_options_from_config(&options, &config->relay.spool);
    options.clock = &relay->clock;
    options.logger = logger;
    options.failed = relay_spool_failed;
    options.failed_argument = relay;
    struct spool_recovery_report report = {0};
    int status = spool_open(&options, &relay->spool, &report, error, error_size);
    if (status != 0)
        goto failure;
    relay_recovery_log(relay, &report);
    metrics_recovery_set(relay->metrics, report.truncated_bytes, (double)report.duration_ns / 1e9);
    relay->quarantined_segments = report.quarantined_segments;
    if (relay_events_create(relay, error, error_size) != 0)
        goto failure;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        !(relay->client = http_client_create(relay->base))) {
        error_message_set(error, error_size, "cannot set up libcurl");
        goto failure;
    }
    struct upstream_environment environment = {
        .base = relay->base,
        .spool = relay->spool,
        .client = relay->client,
        .logger = logger,
        .clock = &relay->clock,
        .spool_dir = config->relay.spool.dir,
    };
    if (upstream_set_create(&config->relay, &environment, &relay->upstreams, error, error_size) !=
        0)
        goto failure;
    if (http_server_create(relay, relay->base, &relay->server, error, error_size) != 0)
        goto failure;
    const struct config_listen *listen = &config->relay.listen;
    log_info(logger, "listening",
             LOG_STRING("host", listen->host && listen->host[0] ? listen->host : "*"),
             LOG_INTEGER("port", http_server_port(relay->server)),
             LOG_STRING("base_path", config->relay.base_path ? config->relay.base_path : ""));
    *out = relay;
    return 0;
failure:
    relay_destroy(relay);
    return -1;
}

/* A cursor nobody reads keeps every later segment on disk; say so once, with what to do. */
static void relay_unopened_consumers_log(struct relay *relay)
{
    const char *names[8];
    size_t count = spool_unopened_consumers(relay->spool, names, 8);
    for (size_t i = 0; i < count && i < 8; i++)
        log_warning(
            relay->logger,
            "a spool cursor belongs to no configured upstream or stream processor: it keeps "
            "spool segments from being deleted; if that consumer is gone for good, stop "
            "the relay and delete its cursor file",
            LOG_STRING("consumer", names[i]), LOG_STRING("dir", relay->config->relay.spool.dir));
}

int relay_run(struct relay *relay)
{
    relay_unopened_consumers_log(relay);
    relay_notify(relay, "READY=1\nSTATUS=accepting writes");
    if (event_base_dispatch(relay->base) < 0) {
        log_error(relay->logger, "the event loop failed");
        return 1;
    }
    return relay->exit_status;
}

void relay_destroy(struct relay *relay)
{
    if (!relay)
        return;
    relay_waiters_answer(relay, 0, false);
    http_server_destroy(relay->server);
    for (size_t i = relay->extension_count; i-- > 0;)
        if (relay->extensions[i].destroy)
            relay->extensions[i].destroy(relay->extensions[i].argument);
    if (upstream_set_destroy(relay->upstreams) != 0)
        log_error(relay->logger, "cannot store the upstream cursors; their last records are sent "
                                 "again at the next start");
    http_client_destroy(relay->client);
    curl_global_cleanup();
    if (relay->commit_event)
        event_free(relay->commit_event);
    if (relay->spool_failed_event)
        event_free(relay->spool_failed_event);
    relay->spool_failed_event = NULL; /* spool_close below may still fail the spool */
    if (relay->commit_completed_event)
        event_free(relay->commit_completed_event);
    if (relay->sync_timer)
        event_free(relay->sync_timer);
    if (relay->terminate_signal)
        event_free(relay->terminate_signal);
    if (relay->interrupt_signal)
        event_free(relay->interrupt_signal);
    if (relay->hangup_signal)
        event_free(relay->hangup_signal);
    if (relay->reopen_signal)
        event_free(relay->reopen_signal);
    spool_close(relay->spool);
    if (relay->base)
        event_base_free(relay->base);
    lineproto_parser_destroy(relay->parser);
    buffer_release(&relay->body);
    buffer_release(&relay->lines);
    metrics_destroy(relay->metrics);
    cJSON_Delete(relay->databases);
    config_free(relay->owned_config);
    free(relay->reload_path);
    free(relay->reload_error);
    free(relay->notify_socket);
    free(relay);
}
