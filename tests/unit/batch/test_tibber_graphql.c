/* The HTTP side of the Tibber client against a local server that misbehaves: which failures are
 * retried. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "batch/tibber_graphql.h"

/* A server that accepts connections and resets each one after its first bytes (a TLS
 * ClientHello, when the client speaks https): a connection reset during the handshake. */
struct reset_server {
    int listener;
    atomic_int connections;
    atomic_bool stop;
    pthread_t thread;
};

static void *reset_server_run(void *argument)
{
    struct reset_server *server = argument;
    while (!atomic_load(&server->stop)) {
        struct pollfd pollfd = {.fd = server->listener, .events = POLLIN};
        if (poll(&pollfd, 1, 50) <= 0)
            continue;
        int connection = accept(server->listener, NULL, NULL);
        if (connection < 0)
            continue;
        atomic_fetch_add(&server->connections, 1);
        char bytes[512];
        (void)!read(connection, bytes, sizeof bytes);
        struct linger linger = {.l_onoff = 1, .l_linger = 0};
        setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
        close(connection);
    }
    return NULL;
}

static int reset_server_start(struct reset_server *server)
{
    server->listener = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(server->listener, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    cr_assert_eq(bind(server->listener, (struct sockaddr *)&address, sizeof address), 0);
    cr_assert_eq(listen(server->listener, 16), 0);
    cr_assert_eq(getsockname(server->listener, (struct sockaddr *)&address, &length), 0);
    atomic_init(&server->connections, 0);
    atomic_init(&server->stop, false);
    cr_assert_eq(pthread_create(&server->thread, NULL, reset_server_run, server), 0);
    return ntohs(address.sin_port);
}

static void reset_server_stop(struct reset_server *server)
{
    atomic_store(&server->stop, true);
    pthread_join(server->thread, NULL);
    close(server->listener);
}

Test(tibber_graphql, connection_reset_during_the_tls_handshake_is_retried)
{
    struct reset_server server;
    int port = reset_server_start(&server);
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/v1-beta/gql", port);
    struct tibber_client_options options = {.url = url, .token = "test-token", .timeout_ms = 2000};
    char error[600];
    struct tibber_client *client = tibber_client_create(&options, error, sizeof error);
    cr_assert_not_null(client, "%s", error);
    struct buffer answer = BUFFER_INITIALIZER;
    enum tibber_status status = tibber_client_post(client, "{}", 2, &answer, error, sizeof error);
    cr_expect_eq(status, TIBBER_STATUS_TRANSPORT, "%s", error);
    cr_expect_eq(atomic_load(&server.connections), TIBBER_MAX_ATTEMPTS, "%s", error);
    cr_expect_eq(tibber_client_requests(client), TIBBER_MAX_ATTEMPTS);
    buffer_release(&answer);
    tibber_client_destroy(client);
    reset_server_stop(&server);
}
