/* A client connection: reading and parsing requests (http-parser), writing answers, deadlines.
 *
 * The read event stays registered for the connection's whole life and the write event is added
 * only when the socket did not take an answer at once, so a keep-alive request costs one read()
 * and one write(), and no epoll_ctl. One request is handled at a time: while it waits for its
 * answer (parked for the spool commit, or a /query being passed through) the parser is on hold
 * and pipelined bytes only collect in the input buffer (reading pauses past
 * HTTP_CONNECTION_INPUT_HELD_MAX). Closing is deferred while one of the connection's own
 * callbacks runs (depth > 0), so no callback ever returns into a freed connection. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay/http_connection_internal.h"

/* The first read buffer of a connection; it grows (up to the next) while reads fill it, which
 * happens for large bodies. */
#define HTTP_CONNECTION_INPUT_INITIAL (16 * 1024)
#define HTTP_CONNECTION_INPUT_MAX (256 * 1024)
/* Pipelined bytes held while a request waits for its answer, before reading pauses. */
#define HTTP_CONNECTION_INPUT_HELD_MAX (1024 * 1024)
/* Answers waiting for a client that does not read them, before parsing (and so reading) pauses. */
#define HTTP_CONNECTION_OUTPUT_HELD_MAX (1024 * 1024)
/* How long a closing connection reads what the client still sends, so its unread bytes do not
 * turn the close into a reset that destroys the answer before the client read it. */
#define HTTP_CONNECTION_LINGER_SECONDS 2

static void http_connection_free(struct http_connection *connection);

void http_connection_close_soon(struct http_connection *connection)
{
    connection->closing = true;
    if (connection->depth == 0)
        http_connection_free(connection);
}

/* Leaves one of the connection's callbacks: at the outermost, the answered request goes, and a
 * close requested meanwhile happens now. */
static void http_connection_leave(struct http_connection *connection)
{
    connection->depth--;
    if (connection->depth > 0)
        return;
    if (connection->answered) {
        http_request_free(connection->answered);
        connection->answered = NULL;
    }
    if (connection->closing)
        http_connection_free(connection);
}

static void http_connection_deadline_arm(struct http_connection *connection,
                                         enum http_deadline_kind kind)
{
    const struct http_connection_settings *settings = connection->settings;
    const struct timeval linger = {HTTP_CONNECTION_LINGER_SECONDS, 0};
    const struct timeval *timeout = NULL;
    switch (kind) {
    case HTTP_DEADLINE_READ:
        timeout = &settings->read_timeout;
        break;
    case HTTP_DEADLINE_WRITE:
        timeout = &settings->write_timeout;
        break;
    case HTTP_DEADLINE_IDLE:
        timeout = &settings->idle_timeout;
        break;
    case HTTP_DEADLINE_LINGER:
        timeout = &linger;
        break;
    case HTTP_DEADLINE_NONE:
        break;
    }
    connection->deadline_kind = kind;
    if (timeout)
        event_add(connection->deadline, timeout);
    else
        event_del(connection->deadline);
}

/* The deadline that fits what the connection does now; the read and write deadlines are armed
 * where a request starts and where the socket makes progress, so they are not moved here. */
static void http_connection_deadline_update(struct http_connection *connection)
{
    if (connection->closing || connection->lingering)
        return;
    if (connection->body_waiting) {
        if (connection->deadline_kind != HTTP_DEADLINE_NONE)
            http_connection_deadline_arm(connection, HTTP_DEADLINE_NONE);
    } else if (evbuffer_get_length(connection->output) > 0) {
        if (connection->deadline_kind != HTTP_DEADLINE_WRITE)
            http_connection_deadline_arm(connection, HTTP_DEADLINE_WRITE);
    } else if (connection->reading_request) {
        if (connection->deadline_kind != HTTP_DEADLINE_READ)
            http_connection_deadline_arm(connection, HTTP_DEADLINE_READ);
    } else if (connection->request_arrived) {
        if (connection->deadline_kind != HTTP_DEADLINE_NONE)
            http_connection_deadline_arm(connection, HTTP_DEADLINE_NONE);
    } else if (connection->deadline_kind != HTTP_DEADLINE_IDLE) {
        http_connection_deadline_arm(connection, HTTP_DEADLINE_IDLE);
    }
}

static void http_connection_deadline_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    http_connection_close_soon(argument);
}

/* ---- the body budget ---- */

/* Counts bytes of a body in the budget, when they fit or nothing else is held and nobody waits
 * ahead (first come, first served). Returns whether they were counted. */
static bool http_connection_budget_take(struct http_connection *connection, uint64_t bytes)
{
    struct http_connection_list *list = connection->list;
    bool first_in_line = !list->waiting_first || list->waiting_first == connection;
    bool fits = list->body_bytes_held == 0 ||
                list->body_bytes_held + bytes <= connection->settings->bodies_limit;
    if (!first_in_line || !fits)
        return false;
    list->body_bytes_held += bytes;
    connection->body_bytes_reserved += bytes;
    return true;
}

static void http_connection_waiting_remove(struct http_connection *connection)
{
    struct http_connection_list *list = connection->list;
    if (connection->waiting_previous)
        connection->waiting_previous->waiting_next = connection->waiting_next;
    else if (list->waiting_first == connection)
        list->waiting_first = connection->waiting_next;
    if (connection->waiting_next)
        connection->waiting_next->waiting_previous = connection->waiting_previous;
    else if (list->waiting_last == connection)
        list->waiting_last = connection->waiting_previous;
    connection->waiting_next = connection->waiting_previous = NULL;
}

/* The body was handled (or its connection goes): its bytes leave the budget, and the first
 * waiting connection gets a look from the loop (its read callback, not from inside here). */
static void http_connection_budget_release(struct http_connection *connection)
{
    struct http_connection_list *list = connection->list;
    if (connection->body_bytes_reserved == 0)
        return;
    list->body_bytes_held -= connection->body_bytes_reserved;
    connection->body_bytes_reserved = 0;
    if (list->waiting_first)
        event_active(list->waiting_first->read_event, EV_READ, 1);
}

/* Chunked bodies have no size to reserve up front, so they are counted piece by piece and may
 * have to wait in the middle, holding what they read. Waiting holders could then block each
 * other for good; the oldest chunked body being read never waits, so one of them always
 * finishes and makes room. */
static void http_connection_chunked_enter(struct http_connection *connection)
{
    struct http_connection_list *list = connection->list;
    connection->chunked_previous = list->chunked_last;
    connection->chunked_next = NULL;
    if (list->chunked_last)
        list->chunked_last->chunked_next = connection;
    else
        list->chunked_first = connection;
    list->chunked_last = connection;
    connection->chunked_listed = true;
}

/* The body is read (or refused, or its connection goes): the next oldest, if it waits, may
 * read on now whatever the budget holds. */
static void http_connection_chunked_leave(struct http_connection *connection)
{
    if (!connection->chunked_listed)
        return;
    struct http_connection_list *list = connection->list;
    if (connection->chunked_previous)
        connection->chunked_previous->chunked_next = connection->chunked_next;
    else
        list->chunked_first = connection->chunked_next;
    if (connection->chunked_next)
        connection->chunked_next->chunked_previous = connection->chunked_previous;
    else
        list->chunked_last = connection->chunked_previous;
    connection->chunked_next = connection->chunked_previous = NULL;
    connection->chunked_listed = false;
    if (list->chunked_first && list->chunked_first->body_waiting)
        event_active(list->chunked_first->read_event, EV_READ, 1);
}

/* Whether a chunked body may read its next piece: the oldest always may, the others while the
 * budget has room and nobody waits ahead of them. */
static bool http_connection_chunked_may_read(const struct http_connection *connection)
{
    const struct http_connection_list *list = connection->list;
    if (list->chunked_first == connection)
        return true;
    bool first_in_line = !list->waiting_first || list->waiting_first == connection;
    return first_in_line && list->body_bytes_held < connection->settings->bodies_limit;
}

/* ---- parser callbacks ---- */

static struct http_connection *http_parser_connection(http_parser *parser)
{
    return parser->data;
}

static int http_connection_refuse(struct http_connection *connection, int code, const char *message)
{
    if (connection->refusal_code == 0) {
        connection->refusal_code = code;
        connection->refusal_message = message;
    }
    http_parser_pause(&connection->parser, 1);
    return 0;
}

static int http_connection_header_bytes_count(struct http_connection *connection, size_t length)
{
    connection->header_bytes += length;
    if (connection->header_bytes > connection->settings->headers_limit)
        return http_connection_refuse(connection, 431, "request line and headers are too large");
    return 0;
}

static int http_connection_message_begin(http_parser *parser)
{
    struct http_connection *connection = http_parser_connection(parser);
    if (!connection->request) {
        connection->request = http_request_create(connection);
        if (!connection->request)
            return -1; /* out of memory: the connection closes */
    }
    connection->header_bytes = 0;
    connection->body_bytes = 0;
    connection->body_limit = connection->settings->body_limit;
    connection->body_budgeted = true;
    connection->expect_continue = false;
    if (!connection->reading_request) {
        connection->reading_request = true;
        http_connection_deadline_arm(connection, HTTP_DEADLINE_READ);
    }
    return 0;
}

static int http_connection_url(http_parser *parser, const char *at, size_t length)
{
    struct http_connection *connection = http_parser_connection(parser);
    if (buffer_append(&connection->request->target, at, length) != 0)
        return -1;
    return http_connection_header_bytes_count(connection, length);
}

/* The header read completely so far goes to the request's input headers. */
static int http_connection_header_commit(struct http_connection *connection)
{
    if (!connection->header_value_started)
        return 0;
    struct buffer *field = &connection->header_field;
    struct buffer *value = &connection->header_value;
    while (value->length > 0 &&
           (value->data[value->length - 1] == ' ' || value->data[value->length - 1] == '\t'))
        value->length--;
    if (buffer_append(field, "", 1) != 0 || buffer_append(value, "", 1) != 0)
        return -1;
    /* evhttp_add_header refuses values with CR or LF in them; http-parser never passes those. */
    evhttp_add_header(&connection->request->input_headers, field->data, value->data);
    buffer_clear(field);
    buffer_clear(value);
    connection->header_value_started = false;
    return 0;
}

static int http_connection_header_field(http_parser *parser, const char *at, size_t length)
{
    struct http_connection *connection = http_parser_connection(parser);
    if (parser->flags & F_TRAILING) /* a trailer after a chunked body: not a request header */
        return http_connection_header_bytes_count(connection, length);
    if (http_connection_header_commit(connection) != 0 ||
        buffer_append(&connection->header_field, at, length) != 0)
        return -1;
    return http_connection_header_bytes_count(connection, length);
}

static int http_connection_header_value(http_parser *parser, const char *at, size_t length)
{
    struct http_connection *connection = http_parser_connection(parser);
    if (parser->flags & F_TRAILING)
        return http_connection_header_bytes_count(connection, length);
    connection->header_value_started = true;
    if (buffer_append(&connection->header_value, at, length) != 0)
        return -1;
    return http_connection_header_bytes_count(connection, length);
}

static enum http_request_method http_connection_method(unsigned int method)
{
    switch (method) {
    case HTTP_GET:
        return HTTP_REQUEST_GET;
    case HTTP_HEAD:
        return HTTP_REQUEST_HEAD;
    case HTTP_POST:
        return HTTP_REQUEST_POST;
    case HTTP_OPTIONS:
        return HTTP_REQUEST_OPTIONS;
    default:
        return HTTP_REQUEST_OTHER;
    }
}

/* Splits the request target into path and query. Returns 0, or -1 when it does not parse. */
static int http_connection_target_split(struct http_request *request)
{
    struct http_parser_url url;
    http_parser_url_init(&url);
    const char *target = request->target.data ? request->target.data : "";
    /* http-parser (not built strict) lets tab and form feed through in the target: they would
     * reach a database name, or the query upstream's URL, which libcurl then refuses. */
    if (memchr(target, '\t', request->target.length) ||
        memchr(target, '\f', request->target.length))
        return -1;
    if (http_parser_parse_url(target, request->target.length, 0, &url) != 0)
        return -1;
    if (url.field_set & (1 << UF_PATH))
        request->path = strndup(target + url.field_data[UF_PATH].off, url.field_data[UF_PATH].len);
    else
        request->path = strdup("/");
    if (url.field_set & (1 << UF_QUERY)) {
        request->query =
            strndup(target + url.field_data[UF_QUERY].off, url.field_data[UF_QUERY].len);
        if (!request->query)
            return -1;
    }
    return request->path ? 0 : -1;
}

/* http-parser decodes "chunked" only, yet takes "gzip, chunked" as chunked and would hand the
 * still gzipped bytes on as the body; a second Transfer-Encoding header could frame the body
 * differently for a proxy in front. RFC 9112 6.1 asks for 501, as Go's server (InfluxDB) answers.
 */
static bool http_connection_transfer_coding_unsupported(const struct http_request *request)
{
    size_t count = 0;
    const struct evkeyval *header;
    TAILQ_FOREACH(header, &request->input_headers, next)
    if (strcasecmp(header->key, "Transfer-Encoding") == 0 &&
        (++count > 1 || strcasecmp(header->value, "chunked") != 0))
        return true;
    return false;
}

static int http_connection_body_begin(struct http_connection *connection);

static int http_connection_headers_complete(http_parser *parser)
{
    struct http_connection *connection = http_parser_connection(parser);
    struct http_request *request = connection->request;
    if (http_connection_header_commit(connection) != 0)
        return -1;
    request->method = http_connection_method(parser->method);
    request->head = request->method == HTTP_REQUEST_HEAD;
    if (parser->http_major != 1) {
        /* HTTP/0.9 (a request line without a version) or 2.0 spoken without an upgrade: the
         * refusal goes out as HTTP/1.1, the version this server speaks. */
        return http_connection_refuse(connection, 505, "only HTTP/1.0 and HTTP/1.1 are served");
    }
    request->version_major = parser->http_major;
    request->version_minor = parser->http_minor;
    request->keep_alive = http_should_keep_alive(parser) != 0;
    if (http_connection_target_split(request) != 0)
        return http_connection_refuse(connection, 400, "cannot parse the request URI");
    if (http_connection_transfer_coding_unsupported(request))
        return http_connection_refuse(connection, 501,
                                      "unsupported transfer encoding: only chunked is served");
    int refusal = connection->handlers->request_head_check
                      ? connection->handlers->request_head_check(
                            request, connection->handlers->argument, &connection->body_limit)
                      : 0;
    if (refusal != 0)
        return http_connection_refuse(connection, refusal, "authorization failed");
    bool sized = parser->content_length != ULLONG_MAX && parser->content_length > 0;
    if (sized && parser->content_length > connection->body_limit)
        return http_connection_refuse(connection, 413, "Request Entity Too Large");
    connection->body_budgeted =
        connection->body_limit > connection->settings->unbudgeted_body_limit;
    if (sized && connection->body_budgeted &&
        !http_connection_budget_take(connection, parser->content_length)) {
        /* Resumed by http_connection_body_resume once the bodies before it are handled. */
        connection->body_waiting = true;
        http_parser_pause(parser, 1);
        return 0;
    }
    return http_connection_body_begin(connection);
}

/* The headers are in and the body may be read: answers "Expect", sizes the body buffer.
 * Returns 0, or -1 when out of memory, or the refusal. */
static int http_connection_body_begin(struct http_connection *connection)
{
    http_parser *parser = &connection->parser;
    struct http_request *request = connection->request;
    bool chunked = (parser->flags & F_CHUNKED) != 0;
    bool sized = parser->content_length != ULLONG_MAX && parser->content_length > 0;
    const char *expect = evhttp_find_header(&request->input_headers, "Expect");
    if (expect && (chunked || sized)) {
        if (strcasecmp(expect, "100-continue") != 0)
            return http_connection_refuse(connection, 417, "unsupported Expect header");
        if (request->version_major == 1 && request->version_minor >= 1) {
            /* The body that follows gets a read deadline of its own. */
            evbuffer_add(connection->output, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            connection->expect_continue = true;
        }
    }
    /* One allocation for the whole body: the write handler then reads it in place. */
    if (sized && evbuffer_expand(request->body, parser->content_length) != 0)
        return -1;
    if (chunked && connection->body_budgeted)
        http_connection_chunked_enter(connection);
    return 0;
}

static int http_connection_body(http_parser *parser, const char *at, size_t length)
{
    struct http_connection *connection = http_parser_connection(parser);
    connection->body_bytes += length;
    if (connection->body_bytes > connection->body_limit)
        return http_connection_refuse(connection, 413, "Request Entity Too Large");
    if (evbuffer_add(connection->request->body, at, length) != 0)
        return -1;
    if ((connection->parser.flags & F_CHUNKED) && connection->body_budgeted) {
        /* The piece is read already: it counts, and the next one waits if there is no room. */
        connection->list->body_bytes_held += length;
        connection->body_bytes_reserved += length;
        if (!http_connection_chunked_may_read(connection)) {
            connection->body_waiting = true;
            http_parser_pause(parser, 1);
        }
    }
    return 0;
}

static int http_connection_message_complete(http_parser *parser)
{
    struct http_connection *connection = http_parser_connection(parser);
    connection->request_arrived = true;
    connection->reading_request = false;
    http_connection_chunked_leave(connection);
    http_parser_pause(parser, 1);
    return 0;
}

static const http_parser_settings http_connection_parser_settings = {
    .on_message_begin = http_connection_message_begin,
    .on_url = http_connection_url,
    .on_header_field = http_connection_header_field,
    .on_header_value = http_connection_header_value,
    .on_headers_complete = http_connection_headers_complete,
    .on_body = http_connection_body,
    .on_message_complete = http_connection_message_complete,
};

/* ---- requests ---- */

/* The request could not be read to its end: the server answers it with an error, then the
 * connection closes. */
static void http_connection_request_refuse(struct http_connection *connection, int code,
                                           const char *message)
{
    if (!connection->request)
        connection->request = http_request_create(connection);
    struct http_request *request = connection->request;
    if (!request) {
        http_connection_close_soon(connection); /* out of memory */
        return;
    }
    if (!request->path && request->target.length > 0)
        (void)http_connection_target_split(request); /* the route picks the error's dialect */
    connection->close_after_output = true;
    connection->reading_request = false;
    connection->request_arrived = true;
    http_connection_chunked_leave(connection);
    request->keep_alive = false;
    connection->handlers->request_refuse(request, code, message, connection->handlers->argument);
}

/* The request's body does not fit the budget yet: stop reading (what was read stays in input),
 * without a deadline, and queue up. */
static void http_connection_body_wait(struct http_connection *connection)
{
    struct http_connection_list *list = connection->list;
    if (list->waiting_first != connection && !connection->waiting_previous) {
        connection->waiting_previous = list->waiting_last;
        if (list->waiting_last)
            list->waiting_last->waiting_next = connection;
        else
            list->waiting_first = connection;
        list->waiting_last = connection;
    }
    if (!connection->reading_paused) {
        connection->reading_paused = true;
        event_del(connection->read_event);
    }
    connection->reading_request = false;
    http_connection_deadline_arm(connection, HTTP_DEADLINE_NONE);
}

static void http_connection_input_parse(struct http_connection *connection);

/* Called from the read callback of a waiting connection (made active by a release): takes the
 * budget if there is room now and goes on with the body. Returns whether it did. */
static bool http_connection_body_resume(struct http_connection *connection)
{
    bool chunked = connection->chunked_listed; /* waits within its body, not before it */
    if (chunked ? !http_connection_chunked_may_read(connection)
                : !http_connection_budget_take(connection, connection->parser.content_length))
        return false;
    http_connection_waiting_remove(connection);
    connection->body_waiting = false;
    struct http_connection_list *list = connection->list;
    if (list->waiting_first) /* there may be room for the next one too */
        event_active(list->waiting_first->read_event, EV_READ, 1);
    http_parser_pause(&connection->parser, 0);
    connection->reading_request = true;
    http_connection_deadline_arm(connection, HTTP_DEADLINE_READ);
    if (!chunked && http_connection_body_begin(connection) != 0) {
        http_connection_close_soon(connection); /* out of memory */
        return false;
    }
    if (connection->refusal_code != 0) {
        http_connection_request_refuse(connection, connection->refusal_code,
                                       connection->refusal_message);
        return true;
    }
    connection->reading_paused = false;
    event_add(connection->read_event, NULL);
    return true;
}

/* Parses what input holds and hands each complete request to the server, until a request waits
 * for its answer or the input is used up. */
/* Requests wait in the input only because the client has not read its answers: nothing else
 * holds them (an answer being waited for, a body waiting for the budget, a close), so parsing
 * goes on once the output drains below HTTP_CONNECTION_OUTPUT_HELD_MAX. */
static bool http_connection_input_held_for_output(const struct http_connection *connection)
{
    return !connection->closing && !connection->close_after_output &&
           !connection->request_arrived && !connection->body_waiting &&
           connection->input_start < connection->input.length;
}

/* After the client's shutdown: once every request it sent is handled (none waits for its answer
 * or in the input), the connection closes when its output is written. */
static void http_connection_input_end_check(struct http_connection *connection)
{
    if (connection->input_ended && !connection->request_arrived && !connection->body_waiting &&
        !http_connection_input_held_for_output(connection))
        connection->close_after_output = true;
}

static void http_connection_input_parse(struct http_connection *connection)
{
    connection->depth++;
    connection->parsing = true;
    while (!connection->closing && !connection->close_after_output &&
           !connection->request_arrived && connection->input_start < connection->input.length &&
           evbuffer_get_length(connection->output) < HTTP_CONNECTION_OUTPUT_HELD_MAX) {
        const char *data = connection->input.data + connection->input_start;
        size_t available = connection->input.length - connection->input_start;
        size_t parsed = http_parser_execute(&connection->parser, &http_connection_parser_settings,
                                            data, available);
        connection->input_start += parsed;
        enum http_errno error = HTTP_PARSER_ERRNO(&connection->parser);
        if (error == HPE_PAUSED && connection->body_waiting) {
            http_connection_body_wait(connection);
            break;
        } else if (error == HPE_PAUSED) {
            http_parser_pause(&connection->parser, 0);
            if (connection->refusal_code != 0) {
                http_connection_request_refuse(connection, connection->refusal_code,
                                               connection->refusal_message);
                break;
            }
            struct http_request *request = connection->request;
            connection->handlers->request_handle(request, connection->handlers->argument);
            /* The body is read by the handler at once; a parked request must not pin it. */
            if (connection->request == request && !connection->closing)
                evbuffer_drain(request->body, evbuffer_get_length(request->body));
            http_connection_budget_release(connection);
        } else if (error == HPE_CB_message_begin || error == HPE_CB_url ||
                   error == HPE_CB_header_field || error == HPE_CB_header_value ||
                   error == HPE_CB_headers_complete || error == HPE_CB_body) {
            http_connection_close_soon(connection); /* out of memory */
        } else if (error == HPE_HEADER_OVERFLOW) {
            http_connection_request_refuse(connection, 431,
                                           "request line and headers are too "
                                           "large");
            break;
        } else if (error != HPE_OK) {
            http_connection_request_refuse(connection, 400, http_errno_description(error));
            break;
        } else if (parsed < available) {
            break;
        }
    }
    if (connection->input_start == connection->input.length) {
        connection->input_start = 0;
        connection->input.length = 0;
    }
    http_connection_input_end_check(connection);
    if (connection->reading_paused && !connection->request_arrived && !connection->closing &&
        !connection->body_waiting && !connection->close_after_output && !connection->input_ended) {
        connection->reading_paused = false;
        event_add(connection->read_event, NULL);
    }
    if (connection->expect_continue) {
        connection->expect_continue = false;
        if (!connection->request_arrived)
            http_connection_deadline_arm(connection, HTTP_DEADLINE_READ);
    }
    connection->parsing = false;
    http_connection_leave(connection);
}

void http_connection_request_answered(struct http_connection *connection)
{
    struct http_request *request = connection->request;
    connection->depth++;
    connection->handlers->request_answered(request, connection->handlers->argument);
    connection->request = NULL;
    connection->request_arrived = false;
    if (connection->answered)
        http_request_free(connection->answered);
    connection->answered = request;
    if (!connection->parsing) {
        /* Answered from outside (the spool commit, a finished /query): go on with pipelined
         * requests now and write everything at once. */
        http_connection_input_parse(connection);
        http_connection_output_flush(connection);
    }
    http_connection_leave(connection);
}

void http_connection_output_push(struct http_connection *connection)
{
    if (connection->parsing)
        return;
    /* Handlers push parts of streamed answers from wherever they are, the query proxy from
     * inside libcurl's write callback: a write that finds the client gone must not free the
     * connection there, since that runs the request's close callback, which cancels the very
     * transfer whose callback is running. The loop closes it instead, at once. */
    connection->depth++;
    http_connection_output_flush(connection);
    connection->depth--;
    if (connection->closing && connection->depth == 0)
        event_active(connection->deadline, EV_TIMEOUT, 1);
}

/* ---- output ---- */

/* Shuts down writing and reads what the client still sends until it closes. */
static void http_connection_linger(struct http_connection *connection)
{
    connection->lingering = true;
    shutdown(connection->socket, SHUT_WR);
    if (connection->reading_paused) {
        connection->reading_paused = false;
        event_add(connection->read_event, NULL);
    }
    http_connection_deadline_arm(connection, HTTP_DEADLINE_LINGER);
}

void http_connection_output_flush(struct http_connection *connection)
{
    if (connection->closing)
        return;
    connection->depth++;
    size_t before = evbuffer_get_length(connection->output);
    for (;;) {
        while (evbuffer_get_length(connection->output) > 0) {
            int written = evbuffer_write(connection->output, connection->socket);
            if (written > 0)
                continue;
            if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                if (errno == EINTR)
                    continue;
                break;
            }
            http_connection_close_soon(connection); /* the client is gone */
            break;
        }
        if (connection->parsing || !http_connection_input_held_for_output(connection) ||
            evbuffer_get_length(connection->output) >= HTTP_CONNECTION_OUTPUT_HELD_MAX)
            break;
        http_connection_input_parse(connection); /* the pipelined requests held back */
    }
    if (!connection->closing) {
        size_t left = evbuffer_get_length(connection->output);
        if (left > 0) {
            event_add(connection->write_event, NULL);
            if (left < before || connection->deadline_kind != HTTP_DEADLINE_WRITE)
                http_connection_deadline_arm(connection, HTTP_DEADLINE_WRITE);
        } else {
            if (before > 0)
                event_del(connection->write_event);
            if (connection->close_after_output && !connection->request_arrived &&
                !connection->lingering)
                http_connection_linger(connection);
            else
                http_connection_deadline_update(connection);
        }
    }
    http_connection_leave(connection);
}

static void http_connection_write_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct http_connection *connection = argument;
    connection->depth++;
    http_connection_output_flush(connection);
    struct http_request *request = connection->request;
    if (!connection->closing && evbuffer_get_length(connection->output) == 0 && request &&
        request->streaming && request->drained)
        request->drained(request, request->drained_argument);
    http_connection_leave(connection);
}

/* ---- input ---- */

/* Room for the next read: the unparsed bytes move to the front, and a buffer the last read
 * filled doubles (up to HTTP_CONNECTION_INPUT_MAX), so large bodies come in large reads. Returns
 * the room, 0 when out of memory. */
static size_t http_connection_input_room(struct http_connection *connection)
{
    struct buffer *input = &connection->input;
    if (connection->input_start > 0) {
        memmove(input->data, input->data + connection->input_start,
                input->length - connection->input_start);
        input->length -= connection->input_start;
        connection->input_start = 0;
    }
    size_t wanted = input->capacity - input->length;
    if (input->capacity == 0)
        wanted = HTTP_CONNECTION_INPUT_INITIAL;
    else if (connection->last_read_full && input->capacity < HTTP_CONNECTION_INPUT_MAX)
        wanted = input->capacity;
    else if (wanted == 0)
        wanted = HTTP_CONNECTION_INPUT_INITIAL; /* held pipelined bytes */
    if (buffer_reserve(input, wanted) != 0)
        return 0;
    return input->capacity - input->length;
}

static void http_connection_read_event(evutil_socket_t fd, short what, void *argument)
{
    (void)what;
    struct http_connection *connection = argument;
    connection->depth++;
    if (connection->body_waiting) {
        if (http_connection_body_resume(connection) && !connection->closing) {
            http_connection_input_parse(connection);
            http_connection_output_flush(connection);
        }
        /* The socket is read when the read event fires by itself again. */
        http_connection_leave(connection);
        return;
    }
    size_t room = http_connection_input_room(connection);
    ssize_t count = room ? read(fd, connection->input.data + connection->input.length, room) : -1;
    connection->last_read_full = count > 0 && (size_t)count == room;
    if (count > 0) {
        connection->input.length += (size_t)count;
        if (connection->lingering) {
            connection->input.length = 0; /* read away */
            connection->input_start = 0;
        } else if (connection->request_arrived ||
                   evbuffer_get_length(connection->output) >= HTTP_CONNECTION_OUTPUT_HELD_MAX) {
            /* Pipelined: parsed once the current request is answered and the client has read
             * the answers before. */
            if (connection->input.length - connection->input_start >
                HTTP_CONNECTION_INPUT_HELD_MAX) {
                connection->reading_paused = true;
                event_del(connection->read_event);
            }
        } else {
            http_connection_input_parse(connection);
            http_connection_output_flush(connection);
        }
    } else if (count == 0 && !connection->lingering &&
               !(connection->request && connection->request->streaming) &&
               (connection->request_arrived || evbuffer_get_length(connection->output) > 0)) {
        /* The client shut down its sending side after its requests (printf ... | nc -N): the
         * answers to every request it sent still go out, then the connection closes (set where
         * parsing finds no more). (A client that closed for good looks the same until an
         * answer's write fails. One that leaves in the middle of a streamed answer has gone:
         * that transfer stops at once.) */
        connection->input_ended = true;
        connection->reading_paused = true;
        event_del(connection->read_event);
        http_connection_input_end_check(connection);
    } else if (count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        http_connection_close_soon(connection); /* closed by the client, or broken */
    }
    http_connection_leave(connection);
}

/* ---- life ---- */

int http_connection_open(struct event_base *base, int socket,
                         const struct http_connection_settings *settings,
                         const struct http_connection_handlers *handlers,
                         struct http_connection_list *list)
{
    struct http_connection *connection = calloc(1, sizeof *connection);
    if (!connection) {
        close(socket);
        return -1;
    }
    connection->list = list;
    connection->next = list->first;
    if (list->first)
        list->first->previous = connection;
    list->first = connection;
    list->count++;
    connection->settings = settings;
    connection->handlers = handlers;
    connection->socket = socket;
    connection->read_event =
        event_new(base, socket, EV_READ | EV_PERSIST, http_connection_read_event, connection);
    connection->write_event =
        event_new(base, socket, EV_WRITE | EV_PERSIST, http_connection_write_event, connection);
    connection->deadline = event_new(base, -1, 0, http_connection_deadline_event, connection);
    connection->output = evbuffer_new();
    if (!connection->read_event || !connection->write_event || !connection->deadline ||
        !connection->output || event_add(connection->read_event, NULL) != 0) {
        http_connection_free(connection);
        return -1;
    }
    /* Answers go out in one write each; Nagle would only hold back the streamed ones. */
    int on = 1;
    setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    http_parser_init(&connection->parser, HTTP_REQUEST);
    connection->parser.data = connection;
    /* The first request's deadline counts from the accept. */
    connection->reading_request = true;
    http_connection_deadline_arm(connection, HTTP_DEADLINE_READ);
    return 0;
}

void http_connection_list_close(struct http_connection_list *list)
{
    struct http_connection *next;
    for (struct http_connection *connection = list->first; connection; connection = next) {
        next = connection->next;
        http_connection_close_soon(connection);
    }
}

static void http_connection_free(struct http_connection *connection)
{
    struct http_request *request = connection->request;
    connection->request = NULL;
    if (request) {
        if (request->closed && connection->request_arrived && !request->answered)
            request->closed(request, request->closed_argument);
        http_request_free(request);
    }
    if (connection->answered)
        http_request_free(connection->answered);
    http_connection_waiting_remove(connection);
    connection->body_waiting = false;
    http_connection_chunked_leave(connection);
    http_connection_budget_release(connection);
    if (connection->read_event)
        event_free(connection->read_event);
    if (connection->write_event)
        event_free(connection->write_event);
    if (connection->deadline)
        event_free(connection->deadline);
    if (connection->output)
        evbuffer_free(connection->output);
    buffer_release(&connection->input);
    buffer_release(&connection->header_field);
    buffer_release(&connection->header_value);
    close(connection->socket);
    struct http_connection_list *list = connection->list;
    if (connection->previous)
        connection->previous->next = connection->next;
    else
        list->first = connection->next;
    if (connection->next)
        connection->next->previous = connection->previous;
    list->count--;
    const struct http_connection_handlers *handlers = connection->handlers;
    free(connection);
    handlers->connection_closed(handlers->argument);
}
