/* The client connections of meter-relay's HTTP server, on plain libevent events and Debian's
 * http-parser: one read() for what the socket holds and one write() per answer, with no event
 * added or removed per request, because the system calls per request are what limits single-line
 * writes (spec/wire.md's limits: slow or stalled clients are cut off, the connection count is
 * capped by the server).
 *
 * Deadlines: a request must arrive completely within read_timeout of its first byte (of the
 * accept for a connection's first request; the body after a "100 Continue" starts a deadline of
 * its own), otherwise the connection closes without an answer, as InfluxDB does. An answer must
 * make progress within write_timeout. A keep-alive connection may idle for idle_timeout between
 * requests. A request parked for the spool commit has no deadline. */
#ifndef NEBENKOSTEN_RELAY_HTTP_CONNECTION_H
#define NEBENKOSTEN_RELAY_HTTP_CONNECTION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

struct event_base;
struct http_connection;
struct http_request;

/* Read by every connection whenever it needs them, so a change applies from then on. */
struct http_connection_settings {
    uint64_t body_limit; /* raw bytes; a larger body is answered 413 */
    /* Raw body bytes the list's connections hold at once (relay.max_inflight_bytes): a request
     * whose Content-Length would pass it waits after its headers, without reading on and
     * without a read deadline, until the bodies before it are handled; a body alone always
     * proceeds. Chunked bodies count as they arrive: one whose pieces pass the limit keeps what
     * it read and stops reading, the same way, until there is room again, except the oldest
     * chunked body being read, which always proceeds (so waiting bodies never hold each other
     * up for good). */
    uint64_t bodies_limit;
    /* A body whose request_head_check limit is at most this is neither counted in bodies_limit
     * nor waits for it: such small bodies are those of clients not known yet, which, waiting in
     * line, would hold up every write behind them (each connection holds one at most, so
     * max_connections of them bound their memory). 0: every body counts. */
    uint64_t unbudgeted_body_limit;
    size_t headers_limit; /* request line plus headers; larger ones are answered 431 */
    struct timeval read_timeout;
    struct timeval idle_timeout;
    struct timeval write_timeout;
};

struct http_connection_handlers {
    /* A request arrived completely; it must be answered now or later (http_request.h). */
    void (*request_handle)(struct http_request *request, void *argument);
    /* The request cannot be served (code 400, 413, 417, 431 or 505, message for the client): it
     * must be answered now with an error body; the connection closes afterwards. The path may be
     * empty when the request line did not parse. */
    void (*request_refuse)(struct http_request *request, int code, const char *message,
                           void *argument);
    /* The request line and headers are in, the body is not read yet: 0 to go on, or a status
     * (401) to refuse the request through request_refuse without reading its body, so a client
     * without credentials cannot hold the body budget (bodies_limit) with a large announced
     * body. It may lower *body_limit (set to the settings' body_limit) for this request: a
     * larger body is answered 413 before it is read. NULL: every request goes on. */
    int (*request_head_check)(struct http_request *request, void *argument, uint64_t *body_limit);
    /* An answer went out in full (its status in http_request_status), just before the request
     * is freed. */
    void (*request_answered)(struct http_request *request, void *argument);
    /* A connection closed (it is out of the list already). */
    void (*connection_closed)(void *argument);
    void *argument;
};

/* The open connections of a server. */
struct http_connection_list {
    struct http_connection *first;
    size_t count;
    uint64_t body_bytes_held; /* see bodies_limit */
    struct http_connection *waiting_first, *waiting_last;
    struct http_connection *chunked_first, *chunked_last; /* chunked bodies being read */
    /* The Date header value of date_second, formatted once per second for every answer. */
    long long date_second;
    char date[40];
};

/* Serves the accepted, non-blocking socket (owned: closed with the connection) on base and adds
 * it to list. settings, handlers and list are borrowed and must outlive the connection. Returns
 * 0, or -1 when out of memory (the socket is closed then). */
int http_connection_open(struct event_base *base, int socket,
                         const struct http_connection_settings *settings,
                         const struct http_connection_handlers *handlers,
                         struct http_connection_list *list);
/* Closes every connection of list now (unanswered requests get their close callback). */
void http_connection_list_close(struct http_connection_list *list);

#endif
