/* The one context of the meter-relay daemon: configuration, logger, clock, event loop, spool,
 * HTTP server and the requests waiting for their data to become durable.
 *
 * Write path (spec/spool.md): a write handler appends its record and parks the request with
 * relay_write_wait(); one commit event per loop pass calls spool_commit() and answers every
 * waiter whose sequence is covered. SIGTERM/SIGINT: stop accepting, final spool_flush, answer
 * every waiter, exit 0. An I/O error of the spool is fatal: 503 to every waiter, exit status 1.
 * SIGHUP reopens the log file and reloads the configuration (relay_reload_enable). */
#ifndef NEBENKOSTEN_RELAY_RELAY_H
#define NEBENKOSTEN_RELAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/clock.h"
#include "config/config.h"
#include "config/log.h"
#include "relay/buffer.h"
#include "relay/http_server.h"
#include "relay/lineproto.h"
#include "relay/metrics.h"
#include "relay/spool.h"

struct cJSON;
struct event_base;
struct http_request;
struct http_client;
struct relay;
struct upstream_set;

/* Opens the spool (its recovery report is logged), binds the HTTP server to relay.listen and
 * installs the signal events. config, logger and clock are borrowed and must outlive the relay
 * (clock NULL = clock_system()). Returns 0 and an owned relay in *out (free with relay_destroy),
 * or -1 with a message for the user in error. */
int relay_create(const struct config *config, struct logger *logger, const struct clock *clock,
                 struct relay **out, char *error, size_t error_size);

/* Lets SIGHUP reload the configuration from path (copied; NULL = the default locations, as at
 * start). Without it SIGHUP only reopens the log file. Returns 0 or -1 (out of memory). */
int relay_reload_enable(struct relay *relay, const char *path);

/* Runs the event loop until SIGTERM/SIGINT or a fatal spool error. Returns the process exit
 * status: 0 after a clean shutdown, 1 after a fatal error. */
int relay_run(struct relay *relay);

/* Frees relay (owned; NULL is fine): answers any request still waiting with 503, closes the
 * server and the spool. */
void relay_destroy(struct relay *relay);

/* Accessors for the HTTP handlers; results are borrowed from relay. */
const struct config *relay_config(const struct relay *relay);
/* The configuration the relay started with. What is read only at start comes from here (the
 * upstreams: /query asks the upstream the forwarder delivers to until a restart, with the
 * credentials it delivers with), whatever a reload brought since. */
const struct config *relay_started_config(const struct relay *relay);
struct logger *relay_logger(struct relay *relay);
const struct clock *relay_clock(const struct relay *relay);
struct spool *relay_spool(struct relay *relay);
/* The parser and two scratch buffers reused by every write (one request at a time). */
struct lineproto_parser *relay_parser(struct relay *relay);
struct buffer *relay_body_buffer(struct relay *relay);
struct buffer *relay_lines_buffer(struct relay *relay);
/* The counters of /metrics. */
struct metrics *relay_metrics(struct relay *relay);
/* libcurl on the relay's loop, for requests to upstreams (borrowed). */
struct http_client *relay_http_client(struct relay *relay);
/* The forwarder (borrowed; NULL before relay_create finished). */
struct upstream_set *relay_upstreams(struct relay *relay);
/* The databases created with CREATE DATABASE (cJSON array of strings, in memory only). */
struct cJSON *relay_databases(struct relay *relay);
/* The outcome of the last SIGHUP reload, for /health and /metrics. */
struct relay_reload_status {
    bool failed;        /* the last reload failed: the previous configuration runs on */
    int64_t loaded_ns;  /* wall clock of the start or of the last successful reload */
    int64_t failed_ns;  /* wall clock of the failed reload */
    const char *error;  /* borrowed: its first error ("config.yaml:2:9: ..."), when failed */
    size_t error_count; /* its errors, when failed */
};
void relay_reload_status_read(const struct relay *relay, struct relay_reload_status *status);
/* Wall-clock start time (ns) for /ready. */
int64_t relay_started_ns(const struct relay *relay);
/* Time since the start (ns) on the monotonic clock: /ready's up. The difference of wall-clock
 * times was off by every step of the clock since the start (0 after it was set back). */
int64_t relay_uptime_ns(const struct relay *relay);
/* True once shutdown began or the spool failed: writes get 503. */
/* Corrupt segments the recovery at start moved to quarantine/ (0 normally). */
uint64_t relay_quarantined_segments(const struct relay *relay);
bool relay_is_stopping(const struct relay *relay);

/* Parks request (borrowed; answered and released by the relay) until a commit covers sequence,
 * then answers it with code and body (owned by the relay from now on, NUL-terminated JSON from
 * cJSON; NULL for an empty body); a failure answers 503 in dialect instead. Headers the answer
 * needs must already be on the request's output headers. Arms the commit event. Returns 0, or -1
 * when out of memory (body is freed then; the caller answers 503). */
int relay_write_wait(struct relay *relay, struct http_request *request, enum http_dialect dialect,
                     uint64_t sequence, int code, char *body);

/* Reports a fatal spool error (-EIO): every waiter gets 503 and the loop exits with status 1. */
void relay_fail(struct relay *relay, const char *reason);

/* Fills out (caller-owned, at least 37 bytes) with a fresh request id (UUID v4 text). */
void relay_request_id_generate(struct relay *relay, char *out);

/* A component the daemon runs beside the forwarders, such as the stream processor: it reads the
 * spool through its own cursor, may append records, serves paths under its prefix and adds to
 * /metrics and /health. The relay library knows nothing of what it does; meter-relay's main
 * attaches it. Every callback is optional and gets argument. */
struct relay_extension {
    const char *name; /* for logs */
    void *argument;
    /* New records were committed (once per commit; read them from your cursor). */
    void (*committed)(void *argument);
    /* Requests whose path (after relay.base_path) is path_prefix or starts with path_prefix "/"
     * go to request_handle, which must answer them. */
    const char *path_prefix;
    void (*request_handle)(void *argument, struct http_request *request, const char *path);
    /* Appends Prometheus text to out; returns 0 or -ENOMEM. */
    int (*metrics_write)(void *argument, struct buffer *out);
    /* Adds checks to the /health JSON array (borrowed). */
    void (*health_add)(void *argument, struct cJSON *checks);
    /* SIGHUP reloaded the configuration: relay_config() returns the new one (the previous one
     * is freed, so nothing may keep pointers into it across events). */
    void (*reloaded)(void *argument);
    /* SIGTERM/SIGINT, after the final spool flush: store what must survive (e.g. a checkpoint).
     * Not called after a fatal spool error. */
    void (*stop)(void *argument);
    /* relay_destroy, before the spool closes: free everything. */
    void (*destroy)(void *argument);
};

#define RELAY_EXTENSIONS_MAX 4

/* Attaches extension (copied; its argument stays the caller's until destroy is called). Returns 0
 * or -1 when RELAY_EXTENSIONS_MAX are attached already. */
int relay_extension_add(struct relay *relay, const struct relay_extension *extension);
/* The extensions attached, for the HTTP handlers (borrowed; *count set). */
const struct relay_extension *relay_extensions(const struct relay *relay, size_t *count);

/* Commits what was appended to the spool outside a write request (an extension's records) at
 * the next loop pass. */
void relay_commit_request(struct relay *relay);
/* The event loop (borrowed), for an extension's timers and events. */
struct event_base *relay_event_base(struct relay *relay);

#endif
