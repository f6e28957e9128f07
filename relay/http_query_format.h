/* The body format of the /query answers the relay gives itself (CREATE DATABASE, SHOW DATABASES):
 * InfluxDB 1.x answers CSV when the client's Accept asks for it, JSON otherwise. Answers of the
 * query upstream pass through as it formatted them (the client's Accept goes along). */
#ifndef NEBENKOSTEN_RELAY_HTTP_QUERY_FORMAT_H
#define NEBENKOSTEN_RELAY_HTTP_QUERY_FORMAT_H

#include "relay/buffer.h"

struct cJSON;

enum http_query_format {
    HTTP_QUERY_FORMAT_JSON,            /* application/json */
    HTTP_QUERY_FORMAT_APPLICATION_CSV, /* application/csv */
    HTTP_QUERY_FORMAT_TEXT_CSV,        /* text/csv */
};

/* The format for the Accept header accept (borrowed, NUL-terminated; NULL when absent), chosen
 * as InfluxDB 1.8 does: media ranges by falling q (ties in the order written), the first that
 * covers application/json, application/csv or text/csv in that order of preference ("*" as type
 * or subtype covers any) wins; nothing matching means JSON. Media types are compared without
 * regard to case; a range with q=0 or an unreadable q is left out. */
enum http_query_format http_query_format_negotiate(const char *accept);

/* The Content-Type of format; a static string. */
const char *http_query_format_content_type(enum http_query_format format);

/* Appends to out the CSV InfluxDB 1.x writes for response (borrowed: {"results":[...]} as the
 * relay builds it, series with string values): per statement with series a header line
 * "name,tags,<columns>" and one line per value row "<series name>,<tags>,<values>"; statements
 * without series write nothing; a blank line separates statements. Fields are quoted as Go's
 * encoding/csv quotes them. Returns 0 or -ENOMEM. */
int http_query_format_csv(const struct cJSON *response, struct buffer *out);

#endif
