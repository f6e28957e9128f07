/* The connection cap and the request, answer and idle deadlines of the evhttp server.
 *
 * evhttp gets every client connection's bufferevent from here (evhttp_set_bevcb), so each
 * connection is known from its accept on. libevent 2.1 reports the end of a connection only
 * through its single close callback, which relay.c takes over while a write is parked, and a
 * bufferevent must not be kept alive past evhttp's bufferevent_free (its read event would stay
 * registered on a closed, soon reused, fd). So the end is read off the socket instead: evhttp
 * closes it when it frees the connection, and an fd that no longer names the socket it named
 * (fstat device and inode) belongs to a closed connection. Closed connections are counted out
 * when the count reaches the cap, and while the cap pauses the listener every
 * HTTP_CONNECTIONS_SWEEP_US; until then each costs only its small record.
 *
 * The deadlines are bufferevent timeouts, on which evhttp closes the connection. A read timeout
 * restarts with every byte, so alone it would never cut off a client trickling one byte per
 * second: every read re-arms it to the time left until the request's deadline. The body after
 * a "100 Continue" starts a deadline of its own. */
#include "relay/http_connections.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>

/* How often the connections are checked for closed ones while the cap pauses the listener. */
#define HTTP_CONNECTIONS_SWEEP_US 50000

struct http_connection {
    struct http_connections *owner;
    /* Owned by evhttp; used only by its buffers' callbacks and before identification. */
    struct bufferevent *bufferevent;
    struct http_connection *previous;
    struct http_connection *next;
    bool identified; /* socket, device and inode are set */
    evutil_socket_t socket;
    dev_t device;
    ino_t inode;
    bool reading; /* a request began (or the connection was accepted) and no answer started */
    int64_t read_deadline_ns;
};

struct http_connections {
    struct evhttp *http;
    const struct clock *clock;
    struct evconnlistener *listener; /* borrowed; NULL when not accepting */
    struct event *identify_event;
    struct event *sweep_timer;     /* pending while the cap pauses the listener */
    struct http_connection *first; /* newest first, so the unidentified ones lead */
    size_t count;                  /* open connections and closed ones not counted out yet */
    size_t maximum;
    int64_t read_timeout_ns;
    struct timeval idle_timeout;
    struct timeval write_timeout;
};

static struct timeval http_timeval_from_ns(int64_t ns)
{
    return (struct timeval){.tv_sec = ns / 1000000000, .tv_usec = ns % 1000000000 / 1000};
}

/* Bytes arrived: the first ones of a request start its deadline, and every read re-arms the read
 * timeout to the time left. */
static void http_connection_input(struct evbuffer *buffer, const struct evbuffer_cb_info *info,
                                  void *argument)
{
    (void)buffer;
    struct http_connection *connection = argument;
    if (info->n_added == 0)
        return; /* evhttp consuming what it parsed */
    const struct http_connections *connections = connection->owner;
    int64_t now_ns = clock_monotonic_ns(connections->clock);
    if (!connection->reading) {
        connection->reading = true;
        connection->read_deadline_ns = now_ns + connections->read_timeout_ns;
    }
    int64_t left_ns = connection->read_deadline_ns - now_ns;
    /* A deadline that passed already fires at the next loop pass. */
    struct timeval left = http_timeval_from_ns(left_ns > 1000 ? left_ns : 1000);
    bufferevent_set_timeouts(connection->bufferevent, &left, &connections->write_timeout);
}

/* An answer (or a 100 Continue) started: the request's deadline is over. While writing, evhttp
 * reads only to notice a close; afterwards it waits idle for the next request. */
static void http_connection_output(struct evbuffer *buffer, const struct evbuffer_cb_info *info,
                                   void *argument)
{
    (void)buffer;
    struct http_connection *connection = argument;
    if (info->n_added == 0 || !connection->reading)
        return;
    connection->reading = false;
    const struct http_connections *connections = connection->owner;
    bufferevent_set_timeouts(connection->bufferevent, &connections->idle_timeout,
                             &connections->write_timeout);
}

static void http_connection_release(struct http_connection *connection)
{
    struct http_connections *connections = connection->owner;
    if (connection->previous)
        connection->previous->next = connection->next;
    else
        connections->first = connection->next;
    if (connection->next)
        connection->next->previous = connection->previous;
    connections->count--;
    free(connection);
}

static bool http_connection_open(const struct http_connection *connection)
{
    struct stat status;
    return fstat(connection->socket, &status) == 0 && status.st_dev == connection->device &&
           status.st_ino == connection->inode;
}

/* Counts out the connections whose socket evhttp closed. */
static void http_connections_sweep(struct http_connections *connections)
{
    struct http_connection *next;
    for (struct http_connection *connection = connections->first; connection; connection = next) {
        next = connection->next;
        if (connection->identified && !http_connection_open(connection))
            http_connection_release(connection);
    }
}

static void http_connections_pause(struct http_connections *connections)
{
    if (!connections->listener || event_pending(connections->sweep_timer, EV_TIMEOUT, NULL))
        return;
    evconnlistener_disable(connections->listener);
    struct timeval interval = {0, HTTP_CONNECTIONS_SWEEP_US};
    event_add(connections->sweep_timer, &interval);
}

static void http_connections_sweep_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct http_connections *connections = argument;
    http_connections_sweep(connections);
    if (connections->count < connections->maximum) {
        event_del(connections->sweep_timer);
        evconnlistener_enable(connections->listener);
    }
}

/* Runs after the accepts of a loop pass, once evhttp gave each new bufferevent its socket. A
 * bufferevent evhttp failed to set up is freed by then, but its memory is released only by a
 * finalizer queued after this event. */
static void http_connections_identify(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct http_connections *connections = argument;
    struct http_connection *next;
    for (struct http_connection *connection = connections->first;
         connection && !connection->identified; connection = next) {
        next = connection->next;
        struct stat status;
        connection->socket = bufferevent_getfd(connection->bufferevent);
        if (connection->socket < 0 || fstat(connection->socket, &status) != 0) {
            http_connection_release(connection);
            continue;
        }
        connection->device = status.st_dev;
        connection->inode = status.st_ino;
        connection->identified = true;
    }
}

/* evhttp's bufferevent factory: one per accepted connection. */
static struct bufferevent *http_connection_create(struct event_base *base, void *argument)
{
    struct http_connections *connections = argument;
    struct http_connection *connection = calloc(1, sizeof *connection);
    struct bufferevent *bufferevent = bufferevent_socket_new(base, -1, 0);
    if (!connection || !bufferevent ||
        !evbuffer_add_cb(bufferevent_get_input(bufferevent), http_connection_input, connection) ||
        !evbuffer_add_cb(bufferevent_get_output(bufferevent), http_connection_output, connection)) {
        /* Out of memory: evhttp tries a bufferevent of its own, outside the limits. */
        free(connection);
        if (bufferevent)
            bufferevent_free(bufferevent);
        return NULL;
    }
    *connection = (struct http_connection){
        .owner = connections,
        .bufferevent = bufferevent,
        .next = connections->first,
        .reading = true, /* the first request's deadline counts from the accept */
        .read_deadline_ns = clock_monotonic_ns(connections->clock) + connections->read_timeout_ns};
    if (connections->first)
        connections->first->previous = connection;
    connections->first = connection;
    connections->count++;
    event_active(connections->identify_event, EV_TIMEOUT, 0);
    if (connections->count >= connections->maximum) {
        http_connections_sweep(connections);
        if (connections->count >= connections->maximum)
            http_connections_pause(connections);
    }
    return bufferevent;
}

struct http_connections *http_connections_create(struct event_base *base, struct evhttp *http,
                                                 const struct config_relay *config,
                                                 const struct clock *clock)
{
    struct http_connections *connections = calloc(1, sizeof *connections);
    if (!connections)
        return NULL;
    connections->http = http;
    connections->clock = clock;
    connections->maximum = (size_t)config->max_connections;
    connections->identify_event = event_new(base, -1, 0, http_connections_identify, connections);
    connections->sweep_timer =
        event_new(base, -1, EV_PERSIST, http_connections_sweep_event, connections);
    if (!connections->identify_event || !connections->sweep_timer) {
        http_connections_destroy(connections);
        return NULL;
    }
    http_connections_timeouts_set(connections, config);
    evhttp_set_bevcb(http, http_connection_create, connections);
    return connections;
}

void http_connections_timeouts_set(struct http_connections *connections,
                                   const struct config_relay *config)
{
    connections->read_timeout_ns = config->read_timeout_ms * 1000000;
    connections->idle_timeout = http_timeval_from_ns(config->idle_timeout_ms * 1000000);
    connections->write_timeout = http_timeval_from_ns(config->write_timeout_ms * 1000000);
    /* Until a connection's first byte arrives, evhttp's timeout holds it to the first deadline. */
    struct timeval first = http_timeval_from_ns(connections->read_timeout_ns);
    evhttp_set_timeout_tv(connections->http, &first);
}

void http_connections_listener_set(struct http_connections *connections,
                                   struct evconnlistener *listener)
{
    connections->listener = listener;
    if (!listener)
        event_del(connections->sweep_timer);
}

void http_connections_request_arrived(const struct http_connections *connections,
                                      struct evhttp_request *request)
{
    struct evhttp_connection *connection = evhttp_request_get_connection(request);
    if (connection)
        bufferevent_set_timeouts(evhttp_connection_get_bufferevent(connection),
                                 &connections->idle_timeout, &connections->write_timeout);
}

void http_connections_destroy(struct http_connections *connections)
{
    if (!connections)
        return;
    while (connections->first)
        http_connection_release(connections->first);
    if (connections->identify_event)
        event_free(connections->identify_event);
    if (connections->sweep_timer)
        event_free(connections->sweep_timer);
    free(connections);
}
