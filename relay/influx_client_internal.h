/* What influx_client.c (requests, retries, writes) shares with influx_query.c (queries and
 * quoting). Not part of the contract. */
#ifndef NEBENKOSTEN_RELAY_INFLUX_CLIENT_INTERNAL_H
#define NEBENKOSTEN_RELAY_INFLUX_CLIENT_INTERNAL_H

#include <curl/curl.h>

#include "relay/buffer.h"
#include "relay/influx_client.h"

struct influx_client {
    const struct config_influxdb *target; /* borrowed */
    CURL *easy;                           /* reused, so connections are kept alive */
    struct logger *logger;                /* borrowed; NULL: retries are not logged */
    char *authorization;                  /* "Authorization: Token ..." or NULL */
    const char *refusal_hint;             /* borrowed; NULL: the INFLUX_* advice */
    struct buffer compressed;             /* the gzip body of the last write */
    uint64_t requests;
};

/* Fed the body of a 2xx answer, piece by piece. Returns 0, or non-zero to abort the transfer. */
typedef int (*influx_request_sink)(const char *data, size_t length, void *argument);

struct influx_request {
    const char *what;   /* for messages: "POST http://host:8086/write?db=lampfi" (no secrets) */
    const char *url;    /* the full URL */
    bool post;          /* else GET */
    const char *body;   /* POST only */
    size_t body_length; /* POST only */
    const char *const *headers; /* extra header lines, NULL-terminated (or NULL) */
    bool streaming; /* a query answer: a stall timeout instead of a total one, gzip accepted */
    influx_request_sink sink; /* NULL: the body is ignored */
    void *sink_argument;
};

/* influx_request_run's result when the sink stopped the transfer (the sink's owner knows why; the
 * error buffer is not touched). */
#define INFLUX_REQUEST_SINK_STOPPED 1

/* Runs request (borrowed) with the client's credentials, timeouts and retries. Returns 0 when the
 * answer was 2xx and the sink took all of it, INFLUX_REQUEST_SINK_STOPPED, or -1 with error
 * ("WHAT: HTTP 404: InfluxDB's message", "WHAT: curl's message", each "after N attempts" when it
 * was retried). */
int influx_request_run(struct influx_client *client, const struct influx_request *request,
                       char *error, size_t error_size);

/* Appends the URL-encoded text (borrowed) to out. Returns 0 or -1 (out of memory). */
int influx_url_append_encoded(struct influx_client *client, struct buffer *out, const char *text);

#endif
