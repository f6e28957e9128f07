/* What http_connection.c (reading, writing, deadlines) and http_request.c (the request object and
 * the answers) share; nothing outside the HTTP server includes this. */
#ifndef NEBENKOSTEN_RELAY_HTTP_CONNECTION_INTERNAL_H
#define NEBENKOSTEN_RELAY_HTTP_CONNECTION_INTERNAL_H

#include <event2/keyvalq_struct.h>
#include <http_parser.h>
#include <stdbool.h>

#include "relay/buffer.h"
#include "relay/http_connection.h"
#include "relay/http_request.h"

struct http_request {
    struct http_connection *connection;
    enum http_request_method method;
    unsigned short version_major, version_minor;
    bool keep_alive; /* the connection stays open after the answer */
    bool head;       /* HEAD: the answer has headers only */
    bool streaming;  /* reply_start was called, reply_end not yet */
    bool chunked;    /* the streamed answer uses the chunked transfer coding */
    bool answered;   /* the answer is complete (or the request was aborted) */
    int status;
    struct buffer target; /* the request target as sent, NUL-terminated once complete */
    char *path;           /* owned, NUL-terminated */
    char *query;          /* owned; NULL when absent */
    struct evkeyvalq input_headers;
    struct evkeyvalq output_headers;
    struct evbuffer *body;
    char *error; /* owned; the reason of an error answer for the log, or NULL */
    http_request_callback closed;
    void *closed_argument;
    http_request_callback drained;
    void *drained_argument;
};

enum http_deadline_kind {
    HTTP_DEADLINE_NONE,  /* a request waits for its answer */
    HTTP_DEADLINE_READ,  /* a request is arriving */
    HTTP_DEADLINE_WRITE, /* output waits for the socket */
    HTTP_DEADLINE_IDLE,  /* keep-alive, between requests */
    HTTP_DEADLINE_LINGER /* answered and shut down for writing; the client's rest is read away */
};

struct http_connection {
    struct http_connection_list *list;
    struct http_connection *previous;
    struct http_connection *next;
    const struct http_connection_settings *settings;
    const struct http_connection_handlers *handlers;
    int socket;
    struct event *read_event;  /* persistent; removed only while parsing is on hold */
    struct event *write_event; /* persistent; added only while output waits for the socket */
    struct event *deadline;    /* the deadline in force (deadline_kind) */
    enum http_deadline_kind deadline_kind;
    http_parser parser;
    struct buffer input; /* bytes read and not parsed yet: [input_start, input.length) */
    size_t input_start;
    struct evbuffer *output;
    struct http_request *request;  /* being parsed, or arrived and not answered; NULL between */
    struct http_request *answered; /* freed when the outermost callback ends: the handler that
                                      answered may still hold it */
    bool request_arrived;          /* request is complete and waits for its answer */
    bool reading_request;          /* a request's first byte came (or the connection is new) */
    int refusal_code;              /* set by the parser callbacks: the request is refused */
    const char *refusal_message;
    /* Header parsing: the field and value being read (they may come in pieces), and the bytes of
     * request line and headers so far. */
    struct buffer header_field;
    struct buffer header_value;
    bool header_value_started;
    size_t header_bytes;
    bool expect_continue; /* "Expect: 100-continue" seen */
    uint64_t body_bytes;
    uint64_t body_limit; /* this request's: settings->body_limit or what request_head_check set */
    bool reading_paused; /* read_event removed: parsing is on hold and input is large */
    bool close_after_output; /* close once output is written (no keep-alive, errors) */
    bool input_ended;        /* the client shut down its sending side: no more bytes come */
    bool lingering;          /* output done and shut down; reading until the client closes */
    bool closing;            /* close at the end of the outermost callback */
    bool parsing;            /* http_connection_input_parse runs: it goes on and flushes */
    bool last_read_full;     /* the last read filled the input buffer: reads may grow */
    /* The body budget (settings->bodies_limit): bytes of this request's body counted in the
     * list's body_bytes_held, and the queue of connections waiting to read a body. */
    uint64_t body_bytes_reserved;
    bool body_budgeted; /* this request's body counts (settings->unbudgeted_body_limit) */
    bool body_waiting;  /* parser paused (after the headers, or within a chunked body) until the
                           budget has room */
    struct http_connection *waiting_next;
    struct http_connection *waiting_previous;
    /* In the list's chunked bodies being read, oldest first (http_connection_chunked_enter). */
    bool chunked_listed;
    struct http_connection *chunked_next;
    struct http_connection *chunked_previous;
    int depth; /* nested calls into the connection from its own callbacks */
};

/* The request is answered: tell the server, free it, and go on with the next one. */
void http_connection_request_answered(struct http_connection *connection);
/* Writes what output holds; arranges the rest to follow when the socket takes it. */
void http_connection_output_flush(struct http_connection *connection);
/* Closes as soon as no callback of the connection is running any more. */
void http_connection_close_soon(struct http_connection *connection);
/* Writes what output holds unless the parser runs, which flushes when it is done. */
void http_connection_output_push(struct http_connection *connection);

/* A request object for connection (fresh, empty), or NULL when out of memory. */
struct http_request *http_request_create(struct http_connection *connection);
void http_request_free(struct http_request *request);

#endif
