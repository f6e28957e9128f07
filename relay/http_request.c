/* The request object and its answers: the head (status line and headers), whole bodies, and
 * streamed ones (chunked for HTTP/1.1, closed-delimited for 1.0). */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include "relay/http_connection_internal.h"

/* Content-Type of answers with a body whose handler set none: every error body is JSON. */
#define HTTP_REQUEST_DEFAULT_CONTENT_TYPE "application/json"

struct http_request *http_request_create(struct http_connection *connection)
{
    struct http_request *request = calloc(1, sizeof *request);
    if (!request)
        return NULL;
    request->connection = connection;
    request->version_major = 1;
    request->version_minor = 1;
    TAILQ_INIT(&request->input_headers);
    TAILQ_INIT(&request->output_headers);
    request->body = evbuffer_new();
    if (!request->body) {
        free(request);
        return NULL;
    }
    return request;
}

void http_request_free(struct http_request *request)
{
    if (!request)
        return;
    evhttp_clear_headers(&request->input_headers);
    evhttp_clear_headers(&request->output_headers);
    evbuffer_free(request->body);
    buffer_release(&request->target);
    free(request->error);
    free(request->path);
    free(request->query);
    free(request);
}

enum http_request_method http_request_method(const struct http_request *request)
{
    return request->method;
}

const char *http_request_path(const struct http_request *request)
{
    return request->path ? request->path : "";
}

const char *http_request_query(const struct http_request *request)
{
    return request->query;
}

struct evkeyvalq *http_request_input_headers(struct http_request *request)
{
    return &request->input_headers;
}

struct evkeyvalq *http_request_output_headers(struct http_request *request)
{
    return &request->output_headers;
}

struct evbuffer *http_request_body(struct http_request *request)
{
    return request->body;
}

int http_request_status(const struct http_request *request)
{
    return request->status;
}

size_t http_request_output_length(const struct http_request *request)
{
    return evbuffer_get_length(request->connection->output);
}

void http_request_error_note(struct http_request *request, const char *message)
{
    free(request->error);
    request->error = strndup(message, HTTP_REQUEST_ERROR_MAX);
}

const char *http_request_error(const struct http_request *request)
{
    return request->error;
}

void http_request_client_address(const struct http_request *request, char *text, size_t size)
{
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    char host[INET6_ADDRSTRLEN] = "";
    unsigned port = 0;
    if (size > 0)
        text[0] = '\0';
    if (getpeername(request->connection->socket, (struct sockaddr *)&address, &length) != 0)
        return;
    if (address.ss_family == AF_INET) {
        const struct sockaddr_in *ipv4 = (const struct sockaddr_in *)&address;
        inet_ntop(AF_INET, &ipv4->sin_addr, host, sizeof host);
        port = ntohs(ipv4->sin_port);
        snprintf(text, size, "%s:%u", host, port);
    } else if (address.ss_family == AF_INET6) {
        const struct sockaddr_in6 *ipv6 = (const struct sockaddr_in6 *)&address;
        inet_ntop(AF_INET6, &ipv6->sin6_addr, host, sizeof host);
        port = ntohs(ipv6->sin6_port);
        snprintf(text, size, "[%s]:%u", host, port);
    }
}

void http_request_close_callback_set(struct http_request *request, http_request_callback closed,
                                     void *argument)
{
    request->closed = closed;
    request->closed_argument = argument;
}

/* 1xx, 204 and 304 answers never have a body (RFC 9110 6.4.1). */
static bool http_request_code_has_body(int code)
{
    return code >= 200 && code != 204 && code != 304;
}

static const char *http_request_reason(int code)
{
    const char *reason = http_status_str((enum http_status)code);
    return strcmp(reason, "<unknown>") == 0 ? "Unknown" : reason;
}

static int http_request_text_add(struct evbuffer *output, const char *text)
{
    return evbuffer_add(output, text, strlen(text)) != 0;
}

/* Appends the decimal digits of value. */
static int http_request_decimal_add(struct evbuffer *output, unsigned long long value)
{
    char digits[24];
    size_t at = sizeof digits;
    do {
        digits[--at] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    return evbuffer_add(output, digits + at, sizeof digits - at) != 0;
}

/* The Date header of this second (formatted once per second per server). */
static const char *http_request_date(struct http_connection_list *list)
{
    time_t now = time(NULL);
    if ((long long)now != list->date_second || list->date[0] == '\0') {
        struct tm parts;
        if (!gmtime_r(&now, &parts) ||
            strftime(list->date, sizeof list->date, "%a, %d %b %Y %H:%M:%S GMT", &parts) == 0)
            list->date[0] = '\0';
        list->date_second = (long long)now;
    }
    return list->date;
}

/* Builds the answer head (status line and headers) into the connection's output, with plain
 * copies rather than printf: this runs once per request, tens of thousands of times a second.
 * length is the body's length, or -1 for a streamed body. Returns 0 or -1 (out of memory). */
static int http_request_head_write(struct http_request *request, int code, long long length)
{
    struct evbuffer *output = request->connection->output;
    struct evkeyvalq *headers = &request->output_headers;
    bool body = http_request_code_has_body(code);
    request->status = code;
    /* Only HTTP/1.x requests get this far (505 for the rest); 1.0 clients get 1.0 answers. */
    int failed =
        http_request_text_add(output, request->version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    failed |= http_request_decimal_add(output, (unsigned long long)code);
    failed |= evbuffer_add(output, " ", 1) != 0;
    failed |= http_request_text_add(output, http_request_reason(code));
    failed |= evbuffer_add(output, "\r\n", 2) != 0;
    struct evkeyval *header;
    TAILQ_FOREACH(header, headers, next)
    {
        failed |= http_request_text_add(output, header->key);
        failed |= evbuffer_add(output, ": ", 2) != 0;
        failed |= http_request_text_add(output, header->value);
        failed |= evbuffer_add(output, "\r\n", 2) != 0;
    }
    if (!evhttp_find_header(headers, "Date")) {
        const char *date = http_request_date(request->connection->list);
        if (date[0] != '\0') {
            failed |= evbuffer_add(output, "Date: ", 6) != 0;
            failed |= http_request_text_add(output, date);
            failed |= evbuffer_add(output, "\r\n", 2) != 0;
        }
    }
    if (body && !evhttp_find_header(headers, "Content-Type"))
        failed |= http_request_text_add(output,
                                        "Content-Type: " HTTP_REQUEST_DEFAULT_CONTENT_TYPE "\r\n");
    if (body && length >= 0) {
        failed |= http_request_text_add(output, "Content-Length: ");
        failed |= http_request_decimal_add(output, (unsigned long long)length);
        failed |= evbuffer_add(output, "\r\n", 2) != 0;
    } else if (body && request->chunked)
        failed |= http_request_text_add(output, "Transfer-Encoding: chunked\r\n");
    if (!request->keep_alive)
        failed |= http_request_text_add(output, "Connection: close\r\n");
    else if (request->version_minor == 0)
        failed |= http_request_text_add(output, "Connection: keep-alive\r\n");
    failed |= evbuffer_add(output, "\r\n", 2) != 0;
    return failed ? -1 : 0;
}

/* The answer is complete: the connection closes after it unless it is kept alive. */
static void http_request_finish(struct http_request *request, bool failed)
{
    struct http_connection *connection = request->connection;
    request->answered = true;
    request->streaming = false;
    if (failed || !request->keep_alive)
        connection->close_after_output = true;
    http_connection_request_answered(connection);
}

/* Writes the head of a whole answer of length bytes; returns whether its body goes out too (not
 * for HEAD and the codes without a body), and sets *failed when out of memory. */
static bool http_request_head_for_body(struct http_request *request, int code, size_t length,
                                       int *failed)
{
    bool has_body = http_request_code_has_body(code);
    *failed = http_request_head_write(request, code, has_body ? (long long)length : -1);
    return has_body && !request->head && length > 0;
}

void http_request_reply(struct http_request *request, int code, struct evbuffer *body)
{
    if (request->answered || request->streaming)
        return;
    size_t length = body ? evbuffer_get_length(body) : 0;
    int failed;
    if (http_request_head_for_body(request, code, length, &failed))
        failed |= evbuffer_add_buffer(request->connection->output, body);
    else if (body)
        evbuffer_drain(body, length);
    http_request_finish(request, failed != 0);
}

void http_request_reply_data(struct http_request *request, int code, const void *data,
                             size_t length)
{
    if (request->answered || request->streaming)
        return;
    int failed;
    if (http_request_head_for_body(request, code, length, &failed))
        failed |= evbuffer_add(request->connection->output, data, length);
    http_request_finish(request, failed != 0);
}

void http_request_reply_start(struct http_request *request, int code)
{
    if (request->answered || request->streaming)
        return;
    request->streaming = true;
    request->chunked = request->version_major == 1 && request->version_minor >= 1;
    if (!request->chunked)
        request->keep_alive = false; /* HTTP/1.0: the close ends the body */
    if (http_request_head_write(request, code, -1) != 0)
        request->connection->close_after_output = true;
    http_connection_output_push(request->connection);
}

void http_request_reply_chunk(struct http_request *request, struct evbuffer *data,
                              http_request_callback drained, void *argument)
{
    if (!request->streaming)
        return;
    request->drained = drained;
    request->drained_argument = argument;
    size_t length = evbuffer_get_length(data);
    if (length == 0)
        return; /* an empty chunk would end the body */
    struct evbuffer *output = request->connection->output;
    int failed = 0;
    if (request->chunked)
        failed |= evbuffer_add_printf(output, "%zx\r\n", length) < 0;
    failed |= evbuffer_add_buffer(output, data);
    if (request->chunked)
        failed |= evbuffer_add(output, "\r\n", 2);
    if (failed) {
        http_request_abort(request);
        return;
    }
    http_connection_output_push(request->connection);
}

void http_request_reply_end(struct http_request *request)
{
    if (!request->streaming)
        return;
    int failed = 0;
    if (request->chunked)
        failed = evbuffer_add(request->connection->output, "0\r\n\r\n", 5);
    http_request_finish(request, failed != 0);
}

void http_request_abort(struct http_request *request)
{
    request->closed = NULL;
    request->answered = true;
    http_connection_close_soon(request->connection);
}
