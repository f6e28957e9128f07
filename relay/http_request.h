/* One HTTP request to meter-relay, as its handlers see it: method, path, query, headers and the
 * body, and the ways to answer it (a whole reply, or a streamed one with backpressure).
 *
 * Lifetime: the request belongs to its connection. It stays valid until it is answered
 * (http_request_reply, http_request_reply_end or http_request_abort) or until its connection
 * goes away first, which the close callback reports; after either, the handler must not use it.
 * A handler may park a request (keep it and answer later, e.g. after the spool commit); the
 * connection reads no further request meanwhile. */
#ifndef NEBENKOSTEN_RELAY_HTTP_REQUEST_H
#define NEBENKOSTEN_RELAY_HTTP_REQUEST_H

#include <stddef.h>

/* Longest error message kept for the log (http_request_error_note). */
#define HTTP_REQUEST_ERROR_MAX 512

struct evbuffer;
struct evkeyvalq;
struct http_request;

enum http_request_method {
    HTTP_REQUEST_GET,
    HTTP_REQUEST_HEAD,
    HTTP_REQUEST_POST,
    HTTP_REQUEST_OPTIONS, /* a browser's CORS preflight: answered by the server for every route */
    HTTP_REQUEST_OTHER    /* PUT, DELETE, ...: answered 405 by the routes */
};

typedef void (*http_request_callback)(struct http_request *request, void *argument);

enum http_request_method http_request_method(const struct http_request *request);
/* The path of the request target, not percent-decoded (borrowed; never NULL). */
const char *http_request_path(const struct http_request *request);
/* The query string without "?" (borrowed), or NULL when the target has none. */
const char *http_request_query(const struct http_request *request);
/* The client's headers (borrowed; evhttp_find_header and friends work on them). */
struct evkeyvalq *http_request_input_headers(struct http_request *request);
/* The headers of the answer, filled by the handler before it answers (borrowed). */
struct evkeyvalq *http_request_output_headers(struct http_request *request);
/* The body, chunked transfer coding removed (borrowed; the handler may drain it). */
struct evbuffer *http_request_body(struct http_request *request);
/* The status code of the answer; 0 until one started. */
int http_request_status(const struct http_request *request);

/* Answers with code and the bytes of body (borrowed and drained; NULL = no body). A HEAD request
 * gets the headers only. */
void http_request_reply(struct http_request *request, int code, struct evbuffer *body);
/* Answers with code and length bytes of data (borrowed; copied). */
void http_request_reply_data(struct http_request *request, int code, const void *data,
                             size_t length);
/* Starts a streamed answer: chunked for HTTP/1.1, delimited by closing the connection for 1.0. */
void http_request_reply_start(struct http_request *request, int code);
/* Sends data (borrowed and drained) as the next part of a streamed answer. drained (may be NULL)
 * runs each time the connection has written everything it holds, until the answer ends. */
void http_request_reply_chunk(struct http_request *request, struct evbuffer *data,
                              http_request_callback drained, void *argument);
/* Bytes of the answer not yet written to the socket. */
size_t http_request_output_length(const struct http_request *request);
/* Ends a streamed answer. */
void http_request_reply_end(struct http_request *request);
/* Closes the connection at once without completing the answer (an upstream failed in the middle
 * of a streamed one: the client must not take the part for the whole). */
void http_request_abort(struct http_request *request);
/* Keeps a copy of message, the reason an error answer gives (at most HTTP_REQUEST_ERROR_MAX
 * bytes), for the log line written once the answer went out; a later call replaces it. Out of
 * memory the message is not kept: the answer is logged without it. */
void http_request_error_note(struct http_request *request, const char *message);
/* The noted error message (borrowed until the request is freed), or NULL. */
const char *http_request_error(const struct http_request *request);
/* Writes the client's address ("127.0.0.1:50312", "[::1]:50312") to text, or "" if it is
 * unknown; size >= 64 holds every address. */
void http_request_client_address(const struct http_request *request, char *text, size_t size);

/* closed (NULL to clear) runs if the connection goes away before the request is answered (the
 * client left, a write timed out, the server is destroyed); request is freed after it returns. */
void http_request_close_callback_set(struct http_request *request, http_request_callback closed,
                                     void *argument);

#endif
