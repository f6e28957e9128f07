/* The HTTP connection layer (relay/http_connection.c, relay/http_request.c) driven byte by byte
 * through a socket pair: request framing (Content-Length, chunked, pipelining, a request split at
 * every byte), parked requests, 100-continue, the refusals (400, 413, 417, 431), HTTP/1.0,
 * streamed answers, deadlines and a client that leaves while its request is parked. The handlers
 * set a fixed Date header, so every answer can be compared byte for byte. */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay/http_connection.h"
#include "relay/http_request.h"

enum harness_mode {
    HARNESS_ECHO,   /* 200 with "METHOD path[?query] body" */
    HARNESS_PARK,   /* keep the request; the test answers it */
    HARNESS_STREAM, /* a chunked answer in two parts */
};

struct harness {
    struct event_base *base;
    int client;
    struct http_connection_list list;
    struct http_connection_settings settings;
    struct http_connection_handlers handlers;
    enum harness_mode mode;
    int handled;
    int refused;
    int answered;
    int closed_connections;
    int close_callbacks;
    struct http_request *parked;
    char output[65536];
    size_t output_length;
    bool client_saw_end; /* the server closed or shut down its side */
};

static void harness_date_set(struct http_request *request)
{
    evhttp_add_header(http_request_output_headers(request), "Date", "fixed");
}

static void harness_request_closed(struct http_request *request, void *argument)
{
    struct harness *harness = argument;
    cr_assert_eq(request, harness->parked);
    harness->parked = NULL;
    harness->close_callbacks++;
}

static void harness_echo(struct http_request *request)
{
    static const char *methods[] = {"GET", "HEAD", "POST", "OPTIONS", "OTHER"};
    struct evbuffer *text = evbuffer_new();
    const char *query = http_request_query(request);
    evbuffer_add_printf(text, "%s %s%s%s ", methods[http_request_method(request)],
                        http_request_path(request), query ? "?" : "", query ? query : "");
    evbuffer_add_buffer(text, http_request_body(request));
    const char *authorization =
        evhttp_find_header(http_request_input_headers(request), "Authorization");
    if (authorization)
        evbuffer_add_printf(text, " authorization=%s", authorization);
    harness_date_set(request);
    evhttp_add_header(http_request_output_headers(request), "Content-Type", "text/plain");
    http_request_reply(request, 200, text);
    evbuffer_free(text);
}

static void harness_request_handle(struct http_request *request, void *argument)
{
    struct harness *harness = argument;
    harness->handled++;
    switch (harness->mode) {
    case HARNESS_ECHO:
        harness_echo(request);
        break;
    case HARNESS_PARK:
        cr_assert_null(harness->parked, "a second request was handed over while one is parked");
        harness->parked = request;
        http_request_close_callback_set(request, harness_request_closed, harness);
        break;
    case HARNESS_STREAM: {
        harness_date_set(request);
        http_request_reply_start(request, 200);
        struct evbuffer *part = evbuffer_new();
        evbuffer_add(part, "abc", 3);
        http_request_reply_chunk(request, part, NULL, NULL);
        evbuffer_add(part, "de", 2);
        http_request_reply_chunk(request, part, NULL, NULL);
        evbuffer_free(part);
        http_request_reply_end(request);
        break;
    }
    }
}

static void harness_request_refuse(struct http_request *request, int code, const char *message,
                                   void *argument)
{
    struct harness *harness = argument;
    harness->refused++;
    harness_date_set(request);
    http_request_reply_data(request, code, message, strlen(message));
}

static void harness_request_answered(struct http_request *request, void *argument)
{
    (void)request;
    struct harness *harness = argument;
    harness->answered++;
}

static void harness_connection_closed(void *argument)
{
    struct harness *harness = argument;
    harness->closed_connections++;
}

static struct harness *harness_create(void)
{
    struct harness *harness = calloc(1, sizeof *harness);
    cr_assert_not_null(harness);
    harness->base = event_base_new();
    cr_assert_not_null(harness->base);
    harness->settings = (struct http_connection_settings){
        .body_limit = 1024,
        .headers_limit = 1024,
        .bodies_limit = 1 << 20,
        .read_timeout = {5, 0},
        .idle_timeout = {5, 0},
        .write_timeout = {5, 0},
    };
    harness->handlers = (struct http_connection_handlers){
        .request_handle = harness_request_handle,
        .request_refuse = harness_request_refuse,
        .request_answered = harness_request_answered,
        .connection_closed = harness_connection_closed,
        .argument = harness,
    };
    return harness;
}

/* Opens one more connection to the harness's server; returns the client's end. */
static int harness_connect(struct harness *harness)
{
    int sockets[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sockets), 0);
    cr_assert_eq(http_connection_open(harness->base, sockets[1], &harness->settings,
                                      &harness->handlers, &harness->list),
                 0);
    return sockets[0];
}

static void harness_open(struct harness *harness)
{
    harness->client = harness_connect(harness);
}

static void harness_destroy(struct harness *harness)
{
    http_connection_list_close(&harness->list);
    cr_assert_eq(harness->list.count, 0);
    close(harness->client);
    event_base_free(harness->base);
    free(harness);
}

/* Reads what the server wrote so far. */
static void harness_client_read(struct harness *harness)
{
    for (;;) {
        size_t room = sizeof harness->output - 1 - harness->output_length;
        cr_assert_gt(room, 0, "the server wrote more than the test expects");
        ssize_t count = read(harness->client, harness->output + harness->output_length, room);
        if (count > 0) {
            harness->output_length += (size_t)count;
            harness->output[harness->output_length] = '\0';
        } else {
            if (count == 0)
                harness->client_saw_end = true;
            return;
        }
    }
}

/* Lets the server handle everything that is ready. */
static void harness_serve(struct harness *harness)
{
    for (int i = 0; i < 4; i++)
        event_base_loop(harness->base, EVLOOP_NONBLOCK);
}

/* Lets the server handle everything that is ready, then reads its answers. */
static void harness_pump(struct harness *harness)
{
    harness_serve(harness);
    harness_client_read(harness);
}

/* Answers the parked request with 204 (the test takes the handler's part). */
static void harness_parked_answer(struct harness *harness)
{
    struct http_request *parked = harness->parked;
    cr_assert_not_null(parked);
    harness->parked = NULL;
    harness_date_set(parked);
    http_request_reply_data(parked, 204, NULL, 0);
}

/* The client closes its end; the server's writes fail with EPIPE then (SIGPIPE ignored, as
 * meter-relay does). */
static void harness_client_close(struct harness *harness)
{
    close(harness->client);
    harness->client = -1;
    signal(SIGPIPE, SIG_IGN);
}

/* Runs the loop for milliseconds (deadlines), then reads the answers. */
static void harness_run_for(struct harness *harness, int milliseconds)
{
    struct timeval duration = {milliseconds / 1000, (milliseconds % 1000) * 1000};
    event_base_loopexit(harness->base, &duration);
    event_base_dispatch(harness->base);
    harness_client_read(harness);
}

static void harness_send(struct harness *harness, const char *data, size_t length)
{
    cr_assert_eq(write(harness->client, data, length), (ssize_t)length);
    harness_pump(harness);
}

static void harness_send_text(struct harness *harness, const char *text)
{
    harness_send(harness, text, strlen(text));
}

/* The answer harness_echo gives for text. */
static char *echo_answer(const char *text)
{
    char *answer = NULL;
    cr_assert_gt(asprintf(&answer,
                          "HTTP/1.1 200 OK\r\nDate: fixed\r\nContent-Type: text/plain\r\n"
                          "Content-Length: %zu\r\n\r\n%s",
                          strlen(text), text),
                 0);
    return answer;
}

/* Forgets the answers read so far. */
static void harness_output_clear(struct harness *harness)
{
    harness->output_length = 0;
    harness->output[0] = '\0';
}

static void harness_output_expect(struct harness *harness, const char *expected)
{
    cr_assert_str_eq(harness->output, expected);
}

/* Three requests of three framings, back to back on one connection. */
static const char pipelined_requests[] =
    "POST /write?db=home HTTP/1.1\r\nHost: relay\r\n"
    "Content-Length: 11\r\n\r\nkWh value=1"
    "GET /ping HTTP/1.1\r\nHost: relay\r\n\r\n"
    "POST /api/v2/write?bucket=b HTTP/1.1\r\nHost: relay\r\n"
    "Transfer-Encoding: chunked\r\n\r\n"
    "4\r\nkWh \r\n7;name=x\r\nvalue=2\r\n0\r\nTrailer: t\r\n\r\n";

static char *pipelined_answers(void)
{
    char *first = echo_answer("POST /write?db=home kWh value=1");
    char *second = echo_answer("GET /ping ");
    char *third = echo_answer("POST /api/v2/write?bucket=b kWh value=2");
    char *all = NULL;
    cr_assert_gt(asprintf(&all, "%s%s%s", first, second, third), 0);
    free(first);
    free(second);
    free(third);
    return all;
}

Test(http_connection, pipelined_requests_of_every_framing_are_answered_in_order)
{
    struct harness *harness = harness_create();
    harness_open(harness);
    harness_send(harness, pipelined_requests, sizeof pipelined_requests - 1);
    char *expected = pipelined_answers();
    harness_output_expect(harness, expected);
    cr_assert_eq(harness->handled, 3);
    cr_assert_eq(harness->answered, 3);
    cr_assert_eq(harness->list.count, 1, "a keep-alive connection stays open");
    cr_assert(!harness->client_saw_end);
    free(expected);
    harness_destroy(harness);
}

Test(http_connection, a_request_split_at_every_byte_reads_the_same)
{
    char *expected = pipelined_answers();
    size_t length = sizeof pipelined_requests - 1;
    for (size_t split = 1; split < length; split++) {
        struct harness *harness = harness_create();
        harness_open(harness);
        harness_send(harness, pipelined_requests, split);
        harness_send(harness, pipelined_requests + split, length - split);
        cr_assert_str_eq(harness->output, expected, "split after byte %zu", split);
        harness_destroy(harness);
    }
    /* And one byte per read. */
    struct harness *harness = harness_create();
    harness_open(harness);
    for (size_t i = 0; i < length; i++)
        harness_send(harness, pipelined_requests + i, 1);
    harness_output_expect(harness, expected);
    harness_destroy(harness);
    free(expected);
}

Test(http_connection, a_parked_request_holds_back_the_pipelined_ones_until_it_is_answered)
{
    struct harness *harness = harness_create();
    harness->mode = HARNESS_PARK;
    harness_open(harness);
    harness_send(harness, pipelined_requests, sizeof pipelined_requests - 1);
    cr_assert_eq(harness->handled, 1);
    cr_assert_not_null(harness->parked);
    cr_assert_eq(harness->output_length, 0);
    /* The body was read when the request was handed over; a parked request does not pin it. */
    cr_assert_eq(evbuffer_get_length(http_request_body(harness->parked)), 0);

    harness->mode = HARNESS_ECHO;
    harness_parked_answer(harness);
    harness_pump(harness);
    char *second = echo_answer("GET /ping ");
    char *third = echo_answer("POST /api/v2/write?bucket=b kWh value=2");
    char *expected = NULL;
    cr_assert_gt(
        asprintf(&expected, "HTTP/1.1 204 No Content\r\nDate: fixed\r\n\r\n%s%s", second, third),
        0);
    harness_output_expect(harness, expected);
    cr_assert_eq(harness->close_callbacks, 0);
    free(second);
    free(third);
    free(expected);
    harness_destroy(harness);
}

/* A client that closes while its request is parked looks like one that only shut down its
 * sending side (both are an end of input): the request stays parked; its answer cannot be
 * written, and then the connection goes. */
Test(http_connection, a_client_that_leaves_while_its_request_is_parked_is_closed_at_the_answer)
{
    struct harness *harness = harness_create();
    harness->mode = HARNESS_PARK;
    harness_open(harness);
    harness_send_text(harness, "POST /write HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
    cr_assert_not_null(harness->parked);
    harness_client_close(harness);
    harness_serve(harness);
    cr_assert_not_null(harness->parked, "the request waits for its answer");
    cr_assert_eq(harness->list.count, 1);
    harness_parked_answer(harness);
    harness_serve(harness);
    cr_assert_eq(harness->close_callbacks, 0);
    cr_assert_eq(harness->closed_connections, 1);
    cr_assert_eq(harness->list.count, 0);
    harness_destroy(harness);
}

/* A handler that streams an answer from inside another library's callback (the query proxy
 * from libcurl's) to a client that is gone: the failed write does not free the connection and
 * run the request's close callback under the handler; the loop does that right after. */
Test(http_connection, a_streamed_part_to_a_departed_client_closes_from_the_loop)
{
    struct harness *harness = harness_create();
    harness->mode = HARNESS_PARK;
    harness_open(harness);
    harness_send_text(harness, "GET /query HTTP/1.1\r\n\r\n");
    struct http_request *request = harness->parked;
    cr_assert_not_null(request);
    harness_date_set(request);
    http_request_reply_start(request, 200);
    harness_pump(harness);
    harness_client_close(harness);
    struct evbuffer *part = evbuffer_new();
    for (int i = 0; i < 4 && harness->close_callbacks == 0; i++) {
        evbuffer_add(part, "part", 4);
        http_request_reply_chunk(request, part, NULL, NULL);
        cr_assert_eq(harness->close_callbacks, 0, "the close callback ran inside the handler");
    }
    evbuffer_free(part);
    harness_serve(harness);
    cr_assert_eq(harness->close_callbacks, 1);
    cr_assert_eq(harness->list.count, 0);
    harness_destroy(harness);
}

/* A client that sends its request and shuts down its sending side (printf ... | nc -N, small
 * embedded HTTP stacks) still gets the answer, then the connection closes: without it the
 * client would count a stored write as failed and send it again. */
Test(http_connection, a_client_that_shuts_down_its_sending_side_gets_its_answer)
{
    struct harness *harness = harness_create();
    harness->mode = HARNESS_PARK;
    harness_open(harness);
    harness_send_text(harness, "POST /write HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
    cr_assert_not_null(harness->parked);
    cr_assert_eq(shutdown(harness->client, SHUT_WR), 0);
    harness_pump(harness);
    cr_assert_not_null(harness->parked);
    harness_parked_answer(harness);
    harness_pump(harness);
    harness_output_expect(harness, "HTTP/1.1 204 No Content\r\nDate: fixed\r\n\r\n");
    cr_assert(harness->client_saw_end, "the connection closes after the answer");
    cr_assert_eq(harness->close_callbacks, 0);
    cr_assert_eq(harness->list.count, 0);
    harness_destroy(harness);
}

/* The same with pipelined requests (printf 'req1req2req3' | nc -N): every request that arrived
 * before the shutdown is answered, in order, then the connection closes. Each of these writes
 * is parked for the spool commit, so the shutdown is read while the first waits; the ones
 * behind it were dropped unanswered (and unstored) when the first answer went out. */
Test(http_connection, pipelined_requests_before_a_shutdown_are_all_answered)
{
    struct harness *harness = harness_create();
    harness->mode = HARNESS_PARK;
    harness_open(harness);
    harness_send_text(harness, "POST /write HTTP/1.1\r\nContent-Length: 1\r\n\r\na"
                               "POST /write HTTP/1.1\r\nContent-Length: 1\r\n\r\nb"
                               "POST /write HTTP/1.1\r\nContent-Length: 1\r\n\r\nc");
    cr_assert_eq(shutdown(harness->client, SHUT_WR), 0);
    for (int i = 0; i < 3; i++) {
        harness_pump(harness);
        cr_assert_not_null(harness->parked, "request %d was not handed over", i + 1);
        cr_assert_eq(harness->handled, i + 1);
        harness_parked_answer(harness);
    }
    harness_pump(harness);
    harness_output_expect(harness, "HTTP/1.1 204 No Content\r\nDate: fixed\r\n\r\n"
                                   "HTTP/1.1 204 No Content\r\nDate: fixed\r\n\r\n"
                                   "HTTP/1.1 204 No Content\r\nDate: fixed\r\n\r\n");
    cr_assert(harness->client_saw_end, "the connection closes after the last answer");
    cr_assert_eq(harness->close_callbacks, 0);
    cr_assert_eq(harness->list.count, 0);
    harness_destroy(harness);
}

/* Trailers after a chunked body are not headers of the request, nor of the next one (a trailer
 * "Authorization" must not authenticate the request behind it). */
Test(http_connection, trailers_do_not_become_headers)
{
    struct harness *harness = harness_create();
    harness_open(harness);
    harness_send_text(harness, "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "1\r\nx\r\n0\r\nAuthorization: first\r\nX-Other: 1\r\n\r\n"
                               "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "1\r\ny\r\n0\r\nX-Other: 1\r\nAuthorization: second\r\n\r\n"
                               "POST /c HTTP/1.1\r\nContent-Length: 1\r\n\r\nz");
    char *first = echo_answer("POST /a x");
    char *second = echo_answer("POST /b y");
    char *third = echo_answer("POST /c z");
    char *expected = NULL;
    cr_assert_gt(asprintf(&expected, "%s%s%s", first, second, third), 0);
    harness_output_expect(harness, expected);
    free(first);
    free(second);
    free(third);
    free(expected);
    harness_destroy(harness);
}

/* A client that pipelines requests without reading the answers: the server stops parsing once
 * about 1 MiB of answers waits (its memory stays bounded, the client's writes block), and goes on
 * as the client reads; every answer arrives, in order. */
Test(http_connection, unread_answers_hold_back_the_pipelined_requests)
{
    struct harness *harness = harness_create();
    harness_open(harness);
    static const char request[] = "GET /ping HTTP/1.1\r\n\r\n";
    char *answer = echo_answer("GET /ping ");
    size_t answer_length = strlen(answer);
    enum { TOTAL = 100000 };
    size_t sent = 0, offset = 0, received = 0, compared = 0;
    char expected_byte;
    int stalls = 0;
    char buffer[65536];
    /* Send without reading until the server stops taking requests. */
    while (sent < TOTAL && stalls < 20) {
        ssize_t count = write(harness->client, request + offset, sizeof request - 1 - offset);
        if (count > 0) {
            offset += (size_t)count;
            if (offset == sizeof request - 1) {
                offset = 0;
                sent++;
            }
            stalls = 0;
            continue;
        }
        cr_assert(count < 0 && errno == EAGAIN);
        for (int i = 0; i < 4; i++)
            event_base_loop(harness->base, EVLOOP_NONBLOCK);
        stalls++;
    }
    cr_assert_lt(sent, TOTAL, "the server took all %d requests without the answers being read",
                 TOTAL);
    cr_assert_lt((size_t)harness->handled * answer_length, 3u << 20,
                 "%d answers (%zu bytes) held for a client that reads none", harness->handled,
                 (size_t)harness->handled * answer_length);
    /* Now read (and send the rest): every answer, in order. */
    while (received < (size_t)TOTAL * answer_length) {
        if (sent < TOTAL) {
            ssize_t count = write(harness->client, request + offset, sizeof request - 1 - offset);
            if (count > 0) {
                offset += (size_t)count;
                if (offset == sizeof request - 1) {
                    offset = 0;
                    sent++;
                }
            }
        }
        for (int i = 0; i < 2; i++)
            event_base_loop(harness->base, EVLOOP_NONBLOCK);
        ssize_t count = read(harness->client, buffer, sizeof buffer);
        if (count > 0) {
            for (ssize_t i = 0; i < count; i++) {
                expected_byte = answer[compared % answer_length];
                cr_assert_eq(buffer[i], expected_byte, "answer byte %zu differs", compared);
                compared++;
            }
            received += (size_t)count;
        } else {
            cr_assert(count < 0 && errno == EAGAIN, "the connection ended after %zu bytes",
                      received);
        }
    }
    cr_assert_eq(harness->handled, TOTAL);
    free(answer);
    harness_destroy(harness);
}

Test(http_connection, expect_100_continue_is_answered_before_the_body_comes)
{
    struct harness *harness = harness_create();
    harness_open(harness);
    harness_send_text(harness,
                      "POST /write HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    harness_output_expect(harness, "HTTP/1.1 100 Continue\r\n\r\n");
    cr_assert_eq(harness->handled, 0);
    harness_send_text(harness, "a=1");
    char *answer = echo_answer("POST /write a=1");
    char *expected = NULL;
    cr_assert_gt(asprintf(&expected, "HTTP/1.1 100 Continue\r\n\r\n%s", answer), 0);
    harness_output_expect(harness, expected);
    free(answer);
    free(expected);
    harness_destroy(harness);
}

/* Sends text, expects one refusal with code and message, then the end of the connection. */
static void refusal_check(struct harness *harness, const char *text, const char *status_line,
                          const char *message)
{
    harness_open(harness);
    harness_send_text(harness, text);
    char *expected = NULL;
    cr_assert_gt(asprintf(&expected,
                          "%s\r\nDate: fixed\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                          status_line, strlen(message), message),
                 0);
    harness_output_expect(harness, expected);
    free(expected);
    cr_assert_eq(harness->handled, 0);
    cr_assert_eq(harness->refused, 1);
    cr_assert(harness->client_saw_end, "the connection is shut down after a refusal");
}

/* Only chunked is decoded: a body under another coding (or two codings) is refused, not read as
 * if it were plain. */
Test(http_connection, a_transfer_coding_other_than_chunked_is_refused_with_501)
{
    const char *requests[] = {
        "POST /write HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "POST /write HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        "POST /write HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        struct harness *harness = harness_create();
        refusal_check(harness, requests[i], "HTTP/1.1 501 Not Implemented",
                      "unsupported transfer encoding: only chunked is served");
        harness_destroy(harness);
    }
}

Test(http_connection, an_unknown_expectation_is_refused_with_417)
{
    struct harness *harness = harness_create();
    refusal_check(harness, "POST /write HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\n",
                  "HTTP/1.1 417 Expectation Failed", "unsupported Expect header");
    harness_destroy(harness);
}

Test(http_connection, a_declared_body_over_the_limit_is_refused_with_413_before_it_is_read)
{
    struct harness *harness = harness_create();
    harness->settings.body_limit = 10;
    refusal_check(harness, "POST /write HTTP/1.1\r\nContent-Length: 11\r\n\r\n",
                  "HTTP/1.1 413 Payload Too Large", "Request Entity Too Large");
    harness_destroy(harness);
}

Test(http_connection, a_chunked_body_over_the_limit_is_refused_with_413)
{
    struct harness *harness = harness_create();
    harness->settings.body_limit = 10;
    refusal_check(harness,
                  "POST /write HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n",
                  "HTTP/1.1 413 Payload Too Large", "Request Entity Too Large");
    harness_destroy(harness);
}

Test(http_connection, headers_over_the_limit_are_refused_with_431)
{
    struct harness *harness = harness_create();
    harness->settings.headers_limit = 64;
    refusal_check(harness,
                  "GET /ping HTTP/1.1\r\nX-Padding: "
                  "0123456789012345678901234567890123456789012345678901234567890123\r\n\r\n",
                  "HTTP/1.1 431 Request Header Fields Too Large",
                  "request line and headers are too large");
    harness_destroy(harness);
}

Test(http_connection, a_request_that_does_not_parse_is_refused_with_400)
{
    struct harness *harness = harness_create();
    refusal_check(harness, "GET /ping HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                  "HTTP/1.1 400 Bad Request", "invalid character in content-length header");
    harness_destroy(harness);
}

Test(http_connection, http_1_0_closes_after_the_answer_unless_kept_alive)
{
    struct harness *harness = harness_create();
    harness_open(harness);
    harness_send_text(harness, "GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    harness_output_expect(harness, "HTTP/1.0 200 OK\r\nDate: fixed\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: 10\r\nConnection: keep-alive\r\n\r\n"
                                   "GET /ping ");
    cr_assert(!harness->client_saw_end);
    harness_output_clear(harness);
    harness_send_text(harness, "GET /ping HTTP/1.0\r\n\r\n");
    harness_output_expect(harness, "HTTP/1.0 200 OK\r\nDate: fixed\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: 10\r\nConnection: close\r\n\r\nGET /ping ");
    cr_assert(harness->client_saw_end);
    harness_destroy(harness);
}

Test(http_connection, a_head_request_gets_the_headers_of_the_answer_only)
{
    struct harness *harness = harness_create();
    harness_open(harness);
    harness_send_text(harness, "HEAD /ping HTTP/1.1\r\n\r\n");
    harness_output_expect(harness, "HTTP/1.1 200 OK\r\nDate: fixed\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: 11\r\n\r\n");
    harness_destroy(harness);
}

Test(http_connection, a_streamed_answer_is_chunked_on_http_1_1_and_closed_on_1_0)
{
    struct harness *harness = harness_create();
    harness->mode = HARNESS_STREAM;
    harness_open(harness);
    harness_send_text(harness, "GET /query HTTP/1.1\r\n\r\n");
    harness_output_expect(harness, "HTTP/1.1 200 OK\r\nDate: fixed\r\nContent-Type: "
                                   "application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    cr_assert(!harness->client_saw_end);
    harness_output_clear(harness);
    harness_send_text(harness, "GET /query HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    harness_output_expect(harness, "HTTP/1.0 200 OK\r\nDate: fixed\r\nContent-Type: "
                                   "application/json\r\nConnection: close\r\n\r\nabcde");
    cr_assert(harness->client_saw_end);
    harness_destroy(harness);
}

Test(http_connection, a_client_that_sends_too_slowly_is_cut_off_without_an_answer)
{
    struct harness *harness = harness_create();
    harness->settings.read_timeout = (struct timeval){0, 100000};
    harness_open(harness);
    harness_send_text(harness, "POST /write HTTP/1.1\r\nContent-Length: 5\r\n\r\nab");
    harness_run_for(harness, 50);
    cr_assert_eq(harness->list.count, 1);
    harness_send_text(harness, "c");
    harness_run_for(harness, 100);
    cr_assert_eq(harness->list.count, 0, "the read deadline counts from the first byte");
    cr_assert(harness->client_saw_end);
    cr_assert_eq(harness->output_length, 0);
    cr_assert_eq(harness->handled, 0);
    harness_destroy(harness);
}

Test(http_connection, an_idle_keep_alive_connection_is_closed)
{
    struct harness *harness = harness_create();
    harness->settings.idle_timeout = (struct timeval){0, 50000};
    harness_open(harness);
    harness_send_text(harness, "GET /ping HTTP/1.1\r\n\r\n");
    cr_assert_eq(harness->handled, 1);
    harness_run_for(harness, 150);
    cr_assert_eq(harness->list.count, 0);
    cr_assert(harness->client_saw_end);
    harness_destroy(harness);
}

Test(http_connection, a_parked_request_has_no_deadline)
{
    struct harness *harness = harness_create();
    harness->mode = HARNESS_PARK;
    harness->settings.read_timeout = (struct timeval){0, 50000};
    harness->settings.idle_timeout = (struct timeval){0, 50000};
    harness_open(harness);
    harness_send_text(harness, "POST /write HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
    harness_run_for(harness, 150);
    cr_assert_eq(harness->list.count, 1);
    harness_parked_answer(harness);
    harness_pump(harness);
    harness_output_expect(harness, "HTTP/1.1 204 No Content\r\nDate: fixed\r\n\r\n");
    harness_destroy(harness);
}

Test(http_connection, a_request_without_http_1_version_is_refused_with_505_in_http_1_1)
{
    struct harness *harness = harness_create();
    refusal_check(harness, "POST /write\r\nContent-Length: 3\r\n\r\nabc",
                  "HTTP/1.1 505 HTTP Version Not Supported",
                  "only HTTP/1.0 and HTTP/1.1 are served");
    harness_destroy(harness);
}

/* Everything a second client (fd) got so far, as a string (owned). */
static char *client_output(int client)
{
    static char text[8192];
    ssize_t count = read(client, text, sizeof text - 1);
    text[count > 0 ? count : 0] = '\0';
    return strdup(text);
}

static void client_send(int client, const char *text)
{
    cr_assert_eq(write(client, text, strlen(text)), (ssize_t)strlen(text));
}

Test(http_connection, a_body_over_the_budget_waits_for_the_bodies_before_it_without_a_deadline)
{
    struct harness *harness = harness_create();
    harness->settings.bodies_limit = 10;
    harness->settings.read_timeout = (struct timeval){0, 600000};
    harness_open(harness);
    int second = harness_connect(harness);
    int third = harness_connect(harness);
    /* Bodies of 8 bytes each: only one fits at a time. The first is half sent, the second has
     * sent its headers, the third everything. */
    harness_send_text(harness, "POST /a HTTP/1.1\r\nContent-Length: 8\r\n\r\naaaa");
    client_send(second, "POST /b HTTP/1.1\r\nContent-Length: 8\r\n\r\n");
    harness_pump(harness);
    client_send(third, "POST /c HTTP/1.1\r\nContent-Length: 8\r\n\r\ncccccccc");
    harness_run_for(harness, 250);
    cr_assert_eq(harness->handled, 0);
    cr_assert_eq(harness->list.body_bytes_held, 8);
    cr_assert_not_null(harness->list.waiting_first);

    harness_send_text(harness, "aaaa");
    cr_assert_eq(harness->handled, 1, "the first body is complete");
    cr_assert_eq(harness->list.body_bytes_held, 8, "the second took the budget");
    /* 700 ms after the third request's first byte: past read_timeout, but a waiting
     * connection has no deadline. */
    harness_run_for(harness, 450);
    cr_assert_eq(harness->list.count, 3);
    client_send(second, "bbbbbbbb");
    harness_pump(harness);
    cr_assert_eq(harness->handled, 3, "the second's body, then the third's");
    cr_assert_eq(harness->list.body_bytes_held, 0);
    cr_assert_null(harness->list.waiting_first);
    const char *paths[] = {"POST /b bbbbbbbb", "POST /c cccccccc"};
    int clients[] = {second, third};
    for (int i = 0; i < 2; i++) {
        char *expected = echo_answer(paths[i]);
        char *got = client_output(clients[i]);
        cr_assert_str_eq(got, expected);
        free(got);
        free(expected);
    }
    char *expected = echo_answer("POST /a aaaaaaaa");
    harness_output_expect(harness, expected);
    free(expected);
    close(second);
    close(third);
    harness_destroy(harness);
}

/* The client's answer (echo_answer of text) against what it got. */
static void client_answer_expect(int client, const char *text)
{
    char *expected = echo_answer(text);
    char *got = client_output(client);
    cr_assert_str_eq(got, expected);
    free(got);
    free(expected);
}

Test(http_connection, a_chunked_body_past_the_budget_stops_reading_while_the_oldest_goes_on)
{
    struct harness *harness = harness_create();
    harness->settings.bodies_limit = 10;
    harness_open(harness);
    int second = harness_connect(harness);
    harness_send_text(harness, "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "8\r\naaaaaaaa\r\n");
    client_send(second, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nbbbbbb\r\n");
    harness_pump(harness);
    cr_assert_eq(harness->list.body_bytes_held, 14, "the piece read counts");
    cr_assert_not_null(harness->list.waiting_first, "the second waits within its body");
    client_send(second, "4\r\nbbbb\r\n0\r\n\r\n");
    harness_run_for(harness, 100);
    cr_assert_eq(harness->list.body_bytes_held, 14, "the second reads no further");
    cr_assert_eq(harness->handled, 0);

    /* The oldest chunked body reads on past the budget: waiting bodies cannot stop it. */
    harness_send_text(harness, "8\r\naaaaaaaa\r\n");
    cr_assert_eq(harness->list.body_bytes_held, 22);
    harness_send_text(harness, "0\r\n\r\n");
    cr_assert_eq(harness->handled, 2, "the first body is handled, then the second reads on");
    cr_assert_eq(harness->list.body_bytes_held, 0);
    cr_assert_null(harness->list.waiting_first);
    cr_assert_null(harness->list.chunked_first);
    char *expected = echo_answer("POST /a aaaaaaaaaaaaaaaa");
    harness_output_expect(harness, expected);
    free(expected);
    client_answer_expect(second, "POST /b bbbbbbbbbb");
    close(second);
    harness_destroy(harness);
}

Test(http_connection, a_chunked_body_waiting_reads_on_when_the_oldest_one_goes)
{
    struct harness *harness = harness_create();
    harness->settings.bodies_limit = 10;
    harness_open(harness);
    int second = harness_connect(harness);
    int third = harness_connect(harness);
    harness_send_text(harness, "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "c\r\naaaaaaaaaaaa\r\n");
    client_send(second, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nbb\r\n");
    harness_pump(harness);
    client_send(second, "0\r\n\r\n");
    client_send(third, "POST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\ncc");
    harness_pump(harness);
    cr_assert_eq(harness->list.body_bytes_held, 14);
    cr_assert_eq(harness->handled, 0, "the sized body waits behind the chunked one");

    harness_client_close(harness); /* the oldest chunked body's client goes away */
    harness_serve(harness);
    harness_serve(harness);
    cr_assert_eq(harness->handled, 2, "the second reads on and the third gets the budget");
    cr_assert_eq(harness->list.body_bytes_held, 0);
    cr_assert_null(harness->list.waiting_first);
    cr_assert_null(harness->list.chunked_first);
    client_answer_expect(second, "POST /b bb");
    client_answer_expect(third, "POST /c cc");
    close(second);
    close(third);
    harness_destroy(harness);
}

Test(http_connection, a_waiting_connection_that_goes_frees_its_place_in_line)
{
    struct harness *harness = harness_create();
    harness->settings.bodies_limit = 10;
    harness_open(harness);
    int second = harness_connect(harness);
    int third = harness_connect(harness);
    harness_send_text(harness, "POST /a HTTP/1.1\r\nContent-Length: 8\r\n\r\naaaa");
    const char *head = "POST /b HTTP/1.1\r\nContent-Length: 8\r\n\r\nbbbbbbbb";
    cr_assert_eq(write(second, head, strlen(head)), (ssize_t)strlen(head));
    head = "POST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\ncc";
    cr_assert_eq(write(third, head, strlen(head)), (ssize_t)strlen(head));
    harness_pump(harness);
    cr_assert_eq(harness->handled, 0, "the third waits behind the second although it fits");
    http_connection_list_close(&harness->list); /* every connection goes */
    cr_assert_eq(harness->list.count, 0);
    cr_assert_eq(harness->list.body_bytes_held, 0);
    cr_assert_null(harness->list.waiting_first);
    cr_assert_null(harness->list.waiting_last);
    close(second);
    close(third);
    harness_destroy(harness);
}
