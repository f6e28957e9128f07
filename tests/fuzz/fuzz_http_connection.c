/* libFuzzer target for the relay's HTTP connection layer (relay/http_connection.c): the input
 * after its first byte is what a client sends, delivered through a socket pair in pieces of
 * (first byte + 1) bytes, with the event loop run between pieces. Requests whose path starts
 * with /park are kept and answered only after the next piece, /stream gets a chunked answer, the
 * rest an echo of the body. What must always hold (besides the sanitizers' own checks):
 * - a body handed to a handler is within the configured limit;
 * - every byte the server sends belongs to an answer ("HTTP/1." at its start);
 * - each request is answered at most once, a parked request is never followed by another one
 *   before its answer, and closing the connection frees everything. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay/http_connection.h"
#include "relay/http_request.h"

#define FUZZ_BODY_LIMIT 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_state {
    struct http_request *parked;
    int handled;
    int answered;
};

static void fuzz_require(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_http_connection: invariant broken: %s\n", what);
        abort();
    }
}

static void fuzz_parked_closed(struct http_request *request, void *argument)
{
    struct fuzz_state *state = argument;
    fuzz_require(request == state->parked, "the close callback names the parked request");
    state->parked = NULL;
}

static void fuzz_request_handle(struct http_request *request, void *argument)
{
    struct fuzz_state *state = argument;
    fuzz_require(state->parked == NULL, "no request is handed over while one is parked");
    state->handled++;
    struct evbuffer *body = http_request_body(request);
    fuzz_require(evbuffer_get_length(body) <= FUZZ_BODY_LIMIT, "the body is within the limit");
    const char *path = http_request_path(request);
    if (strncmp(path, "/park", 5) == 0) {
        state->parked = request;
        http_request_close_callback_set(request, fuzz_parked_closed, state);
    } else if (strncmp(path, "/stream", 7) == 0) {
        http_request_reply_start(request, 200);
        http_request_reply_chunk(request, body, NULL, NULL);
        http_request_reply_end(request);
    } else {
        http_request_reply(request, 200, body);
    }
}

static void fuzz_request_refuse(struct http_request *request, int code, const char *message,
                                void *argument)
{
    (void)argument;
    fuzz_require(code == 400 || code == 413 || code == 417 || code == 431 || code == 505,
                 "a refusal code");
    http_request_reply_data(request, code, message, strlen(message));
}

static void fuzz_request_answered(struct http_request *request, void *argument)
{
    (void)request;
    struct fuzz_state *state = argument;
    state->answered++;
    fuzz_require(state->answered <= state->handled + 1, "one answer per request");
}

static void fuzz_connection_closed(void *argument)
{
    (void)argument;
}

/* Reads the server's answers; every read must continue or start an answer. */
static void fuzz_client_read(int client, bool *seen_any)
{
    char buffer[4096];
    ssize_t count;
    while ((count = read(client, buffer, sizeof buffer)) > 0) {
        if (!*seen_any)
            fuzz_require(count >= 7 && memcmp(buffer, "HTTP/1.", 7) == 0,
                         "the server's first bytes are a status line");
        *seen_any = true;
    }
}

static void fuzz_pump(struct event_base *base)
{
    for (int i = 0; i < 3; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)data[0] + 1;
    data++;
    size--;

    struct event_base *base = event_base_new();
    int sockets[2];
    if (!base || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sockets) != 0)
        abort();
    struct fuzz_state state = {0};
    struct http_connection_settings settings = {
        .body_limit = FUZZ_BODY_LIMIT,
        .headers_limit = 1024,
        .bodies_limit = 1 << 20,
        .read_timeout = {60, 0},
        .idle_timeout = {60, 0},
        .write_timeout = {60, 0},
    };
    struct http_connection_handlers handlers = {
        .request_handle = fuzz_request_handle,
        .request_refuse = fuzz_request_refuse,
        .request_answered = fuzz_request_answered,
        .connection_closed = fuzz_connection_closed,
        .argument = &state,
    };
    struct http_connection_list list = {0};
    fuzz_require(http_connection_open(base, sockets[1], &settings, &handlers, &list) == 0,
                 "the connection opens");
    bool seen_any = false;
    for (size_t offset = 0; offset < size && list.count > 0; offset += piece) {
        size_t length = size - offset < piece ? size - offset : piece;
        if (write(sockets[0], data + offset, length) < 0)
            break; /* the server closed its side */
        fuzz_pump(base);
        if (state.parked) {
            struct http_request *parked = state.parked;
            state.parked = NULL;
            http_request_reply_data(parked, 204, NULL, 0);
            fuzz_pump(base);
        }
        fuzz_client_read(sockets[0], &seen_any);
    }
    http_connection_list_close(&list);
    fuzz_require(list.count == 0 && list.first == NULL, "closing frees the connection");
    fuzz_require(state.parked == NULL, "a parked request is reported when its connection goes");
    close(sockets[0]);
    event_base_free(base);
    return 0;
}
