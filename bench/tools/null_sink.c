/* null-sink: an HTTP server that answers every request with 204 after reading its body, for
 * bench/relay_e2e.sh to show the relay's own delivery ceiling without a database behind it.
 *
 *   null-sink PORT      listens on 127.0.0.1:PORT (0 = any; the port is printed) until SIGTERM
 *
 * On SIGTERM it prints "requests=N body_bytes=M" and exits 0. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct null_sink {
    uint64_t requests;
    uint64_t body_bytes;
};

static void null_sink_request(struct evhttp_request *request, void *argument)
{
    struct null_sink *sink = argument;
    sink->requests++;
    sink->body_bytes += evbuffer_get_length(evhttp_request_get_input_buffer(request));
    evhttp_send_reply(request, 204, "No Content", NULL);
}

static void null_sink_stop(evutil_socket_t signal_number, short what, void *argument)
{
    (void)signal_number;
    (void)what;
    event_base_loopbreak(argument);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: null-sink PORT\n");
        return 2;
    }
    struct null_sink sink = {0};
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http) {
        fprintf(stderr, "null-sink: cannot set up libevent\n");
        return 1;
    }
    evhttp_set_max_body_size(http, 1LL << 30);
    evhttp_set_gencb(http, null_sink_request, &sink);
    struct evhttp_bound_socket *socket =
        evhttp_bind_socket_with_handle(http, "127.0.0.1", (uint16_t)atoi(argv[1]));
    if (!socket) {
        fprintf(stderr, "null-sink: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    if (getsockname(evhttp_bound_socket_get_fd(socket), (struct sockaddr *)&address, &length) == 0)
        printf("listening 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&address)->sin_port));
    fflush(stdout);
    struct event *terminate = evsignal_new(base, SIGTERM, null_sink_stop, base);
    event_add(terminate, NULL);
    event_base_dispatch(base);
    printf("requests=%" PRIu64 " body_bytes=%" PRIu64 "\n", sink.requests, sink.body_bytes);
    event_free(terminate);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
