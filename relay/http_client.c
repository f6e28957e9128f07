/* curl multi on libevent: the socket callback keeps one persistent event per socket curl wants
 * watched, the timer callback one timer; both feed curl_multi_socket_action and then collect
 * the finished transfers. */
#include "relay/http_client.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a running easy handle carries in CURLOPT_PRIVATE; listed so destroy can cancel them
 * (curl_multi_get_handles needs curl 8.4, Debian 12 has 7.88). */
struct http_client_transfer {
    CURL *easy;
    http_client_done done;
    void *argument;
    struct http_client_transfer *previous, *next;
};

struct http_client {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    int running;
    struct http_client_transfer *transfers;
};

static void http_client_transfer_unlink(struct http_client *client,
                                        struct http_client_transfer *transfer)
{
    if (transfer->previous)
        transfer->previous->next = transfer->next;
    else
        client->transfers = transfer->next;
    if (transfer->next)
        transfer->next->previous = transfer->previous;
}

/* One socket curl asked us to watch. */
struct http_client_socket {
    struct http_client *client;
    struct event *event;
};

static void http_client_finished_collect(struct http_client *client)
{
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read(client->multi, &left)) != NULL) {
        if (message->msg != CURLMSG_DONE)
            continue;
        CURL *easy = message->easy_handle;
        CURLcode result = message->data.result;
        struct http_client_transfer *transfer = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&transfer);
        curl_multi_remove_handle(client->multi, easy);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        if (transfer) {
            struct http_client_transfer copy = *transfer;
            http_client_transfer_unlink(client, transfer);
            free(transfer);
            copy.done(easy, result, copy.argument);
        }
    }
}

static void http_client_socket_event(evutil_socket_t fd, short what, void *argument)
{
    struct http_client_socket *socket = argument;
    struct http_client *client = socket->client;
    int action =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(client->multi, fd, action, &client->running);
    /* No evtimer_del when nothing runs any more: a done callback may have started the next
     * transfer, whose timer curl set just now. curl removes its timer itself (timeout -1). */
    http_client_finished_collect(client);
}

static void http_client_timer_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct http_client *client = argument;
    curl_multi_socket_action(client->multi, CURL_SOCKET_TIMEOUT, 0, &client->running);
    http_client_finished_collect(client);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl says, or stop watching it. */
static int http_client_socket_callback(CURL *easy, curl_socket_t fd, int what, void *client_pointer,
                                       void *socket_pointer)
{
    (void)easy;
    struct http_client *client = client_pointer;
    struct http_client_socket *socket = socket_pointer;
    if (what == CURL_POLL_REMOVE) {
        if (socket) {
            event_free(socket->event);
            free(socket);
            curl_multi_assign(client->multi, fd, NULL);
        }
        return 0;
    }
    short kinds = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                  ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (!socket) {
        socket = calloc(1, sizeof *socket);
        if (!socket)
            return -1;
        socket->client = client;
        curl_multi_assign(client->multi, fd, socket);
    } else {
        event_free(socket->event);
    }
    socket->event = event_new(client->base, fd, kinds, http_client_socket_event, socket);
    if (!socket->event || event_add(socket->event, NULL) != 0)
        return -1;
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 removes the timer, 0 means "call me as soon as possible". */
static int http_client_timer_callback(CURLM *multi, long timeout_ms, void *client_pointer)
{
    (void)multi;
    struct http_client *client = client_pointer;
    if (timeout_ms < 0)
        return evtimer_del(client->timer);
    struct timeval timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(client->timer, &timeout);
}

struct http_client *http_client_create(struct event_base *base)
{
    struct http_client *client = calloc(1, sizeof *client);
    if (!client)
        return NULL;
    client->base = base;
    client->multi = curl_multi_init();
    client->timer = evtimer_new(base, http_client_timer_event, client);
    if (!client->multi || !client->timer) {
        http_client_destroy(client);
        return NULL;
    }
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, http_client_socket_callback);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, http_client_timer_callback);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client);
    return client;
}

void http_client_cancel(struct http_client *client, CURL *easy)
{
    struct http_client_transfer *transfer = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&transfer);
    if (!transfer)
        return;
    curl_multi_remove_handle(client->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    http_client_transfer_unlink(client, transfer);
    free(transfer);
}

void http_client_destroy(struct http_client *client)
{
    if (!client)
        return;
    /* Transfers nobody cancelled (fire-and-forget ones) end here: their done callbacks free
     * what they hold. */
    while (client->transfers) {
        struct http_client_transfer copy = *client->transfers;
        http_client_cancel(client, copy.easy);
        copy.done(copy.easy, CURLE_ABORTED_BY_CALLBACK, copy.argument);
    }
    if (client->multi)
        curl_multi_cleanup(client->multi);
    if (client->timer)
        event_free(client->timer);
    free(client);
}

int http_client_start(struct http_client *client, CURL *easy, http_client_done done, void *argument)
{
    struct http_client_transfer *transfer = malloc(sizeof *transfer);
    if (!transfer)
        return -1;
    *transfer = (struct http_client_transfer){
        .easy = easy, .done = done, .argument = argument, .next = client->transfers};
    curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer);
    if (curl_multi_add_handle(client->multi, easy) != CURLM_OK) {
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(transfer);
        return -1;
    }
    if (client->transfers)
        client->transfers->previous = transfer;
    client->transfers = transfer;
    return 0;
}

/* Appends line (borrowed; libcurl copies it) to *headers. Returns 0 or -1. */
static int http_client_header_append(struct curl_slist **headers, const char *line)
{
    struct curl_slist *grown = curl_slist_append(*headers, line);
    if (!grown)
        return -1;
    *headers = grown;
    return 0;
}

int http_client_upstream_setup(CURL *easy, const struct config_upstream *upstream, bool credentials,
                               struct curl_slist **headers)
{
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "nebenkosten-relay/" NEBENKOSTEN_VERSION);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)upstream->connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, upstream->tls_verify ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, upstream->tls_verify ? 2L : 0L);
    if (http_client_header_append(headers, "Expect:") != 0)
        return -1;
    if (!credentials)
        return 0;
    if (upstream->token) {
        size_t size = strlen(upstream->token) + sizeof "Authorization: Token ";
        char *line = malloc(size);
        if (!line)
            return -1;
        snprintf(line, size, "Authorization: Token %s", upstream->token);
        int result = http_client_header_append(headers, line);
        free(line);
        return result;
    }
    if (upstream->username) {
        curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(easy, CURLOPT_USERNAME, upstream->username);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, upstream->password ? upstream->password : "");
    }
    return 0;
}
