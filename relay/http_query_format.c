/* Accept negotiation and the CSV body of the relay's own /query answers
 * (relay/http_query_format.h), as InfluxDB 1.8's services/httpd/response_writer.go does them. */
#include "relay/http_query_format.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* More media ranges than any client sends; the rest are ignored. */
#define HTTP_QUERY_ACCEPT_RANGES_MAX 32

struct http_query_accept_range {
    const char *type; /* borrowed from the header, not NUL-terminated */
    size_t type_length;
    const char *subtype;
    size_t subtype_length;
    double q;
};

static bool http_query_accept_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims spaces off [*start, *end). */
static void http_query_accept_trim(const char **start, const char **end)
{
    while (*start < *end && http_query_accept_space(**start))
        (*start)++;
    while (*end > *start && http_query_accept_space((*end)[-1]))
        (*end)--;
}

/* Reads q's value in [start, end) (already trimmed) into *q. Returns 0, or -1 when it is not a
 * number in 0..1. */
static int http_query_accept_q_parse(const char *start, const char *end, double *q)
{
    char text[16];
    size_t length = (size_t)(end - start);
    if (length == 0 || length >= sizeof text)
        return -1;
    memcpy(text, start, length);
    text[length] = '\0';
    for (size_t i = 0; i < length; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || text[i] == '.'))
            return -1;
    char *parsed_end = NULL;
    double value = strtod(text, &parsed_end);
    if (*parsed_end != '\0' || value < 0 || value > 1)
        return -1;
    *q = value;
    return 0;
}

/* Parses one media range "type/subtype;param=value;q=0.5" in [start, end). Returns 0, or -1 when
 * it is no media range (left out, as InfluxDB leaves out what it cannot parse). */
static int http_query_accept_range_parse(const char *start, const char *end,
                                         struct http_query_accept_range *range)
{
    const char *parameters = memchr(start, ';', (size_t)(end - start));
    const char *type_end = parameters ? parameters : end;
    http_query_accept_trim(&start, &type_end);
    const char *slash = memchr(start, '/', (size_t)(type_end - start));
    if (!slash || slash == start || slash + 1 == type_end)
        return -1;
    *range = (struct http_query_accept_range){
        .type = start,
        .type_length = (size_t)(slash - start),
        .subtype = slash + 1,
        .subtype_length = (size_t)(type_end - slash - 1),
        .q = 1,
    };
    while (parameters) {
        const char *parameter = parameters + 1;
        parameters = memchr(parameter, ';', (size_t)(end - parameter));
        const char *parameter_end = parameters ? parameters : end;
        http_query_accept_trim(&parameter, &parameter_end);
        if (parameter_end - parameter >= 2 && (parameter[0] == 'q' || parameter[0] == 'Q') &&
            parameter[1] == '=' &&
            http_query_accept_q_parse(parameter + 2, parameter_end, &range->q) != 0)
            return -1;
    }
    return 0;
}

static bool http_query_accept_part_matches(const char *part, size_t length, const char *name)
{
    return (length == 1 && part[0] == '*') ||
           (length == strlen(name) && strncasecmp(part, name, length) == 0);
}

enum http_query_format http_query_format_negotiate(const char *accept)
{
    static const struct {
        const char *type, *subtype;
        enum http_query_format format;
    } offers[] = {
        {"application", "json", HTTP_QUERY_FORMAT_JSON},
        {"application", "csv", HTTP_QUERY_FORMAT_APPLICATION_CSV},
        {"text", "csv", HTTP_QUERY_FORMAT_TEXT_CSV},
    };
    if (!accept)
        return HTTP_QUERY_FORMAT_JSON;
    struct http_query_accept_range ranges[HTTP_QUERY_ACCEPT_RANGES_MAX];
    size_t count = 0;
    const char *end = accept + strlen(accept);
    for (const char *start = accept; start < end && count < HTTP_QUERY_ACCEPT_RANGES_MAX;) {
        const char *comma = memchr(start, ',', (size_t)(end - start));
        const char *range_end = comma ? comma : end;
        if (http_query_accept_range_parse(start, range_end, &ranges[count]) == 0 &&
            ranges[count].q > 0)
            count++;
        start = comma ? comma + 1 : end;
    }
    /* Stable insertion sort by falling q: equal q keep the client's order. */
    for (size_t i = 1; i < count; i++) {
        struct http_query_accept_range range = ranges[i];
        size_t j = i;
        for (; j > 0 && ranges[j - 1].q < range.q; j--)
            ranges[j] = ranges[j - 1];
        ranges[j] = range;
    }
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < sizeof offers / sizeof offers[0]; k++)
            if (http_query_accept_part_matches(ranges[i].type, ranges[i].type_length,
                                               offers[k].type) &&
                http_query_accept_part_matches(ranges[i].subtype, ranges[i].subtype_length,
                                               offers[k].subtype))
                return offers[k].format;
    return HTTP_QUERY_FORMAT_JSON;
}

const char *http_query_format_content_type(enum http_query_format format)
{
    switch (format) {
    case HTTP_QUERY_FORMAT_APPLICATION_CSV:
        return "application/csv";
    case HTTP_QUERY_FORMAT_TEXT_CSV:
        return "text/csv";
    case HTTP_QUERY_FORMAT_JSON:
        break;
    }
    return "application/json";
}

/* Appends field as Go's encoding/csv writes it: quoted (with "" for ") when it holds a comma, a
 * quote, CR or LF, starts with white space (ASCII; Go also counts Unicode spaces), or is exactly
 * \. (a line PostgreSQL's COPY would take for the end of data). */
static int http_query_csv_field_append(struct buffer *out, const char *field)
{
    size_t length = strlen(field);
    bool quoted = strcmp(field, "\\.") == 0 || (length > 0 && strchr(" \t\v\f", field[0])) ||
                  strpbrk(field, ",\"\r\n") != NULL;
    if (!quoted)
        return buffer_append(out, field, length);
    if (buffer_append(out, "\"", 1) != 0)
        return -ENOMEM;
    for (const char *quote; (quote = strchr(field, '"')) != NULL; field = quote + 1)
        if (buffer_append(out, field, (size_t)(quote - field) + 1) != 0 ||
            buffer_append(out, "\"", 1) != 0)
            return -ENOMEM;
    if (buffer_append(out, field, strlen(field)) != 0 || buffer_append(out, "\"", 1) != 0)
        return -ENOMEM;
    return 0;
}

/* Appends the line first, second, then the strings of rest (a JSON array), comma-separated. */
static int http_query_csv_line_append(struct buffer *out, const char *first, const char *second,
                                      const cJSON *rest)
{
    if (http_query_csv_field_append(out, first) != 0 || buffer_append(out, ",", 1) != 0 ||
        http_query_csv_field_append(out, second) != 0)
        return -ENOMEM;
    const cJSON *item;
    cJSON_ArrayForEach(item, rest)
    {
        const char *text = cJSON_IsString(item) ? item->valuestring : "";
        if (buffer_append(out, ",", 1) != 0 || http_query_csv_field_append(out, text) != 0)
            return -ENOMEM;
    }
    return buffer_append(out, "\n", 1);
}

int http_query_format_csv(const struct cJSON *response, struct buffer *out)
{
    bool first_statement = true;
    const cJSON *result;
    cJSON_ArrayForEach(result, cJSON_GetObjectItemCaseSensitive(response, "results"))
    {
        const cJSON *series_list = cJSON_GetObjectItemCaseSensitive(result, "series");
        if (cJSON_GetArraySize(series_list) == 0)
            continue; /* CREATE DATABASE: nothing, not even a header */
        if (!first_statement && buffer_append(out, "\n", 1) != 0)
            return -ENOMEM;
        first_statement = false;
        const cJSON *series;
        cJSON_ArrayForEach(series, series_list)
        {
            /* The relay's series all have the columns of the first: one header per statement. */
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(series, "name");
            const char *name_text = cJSON_IsString(name) ? name->valuestring : "";
            if (series == series_list->child &&
                http_query_csv_line_append(
                    out, "name", "tags", cJSON_GetObjectItemCaseSensitive(series, "columns")) != 0)
                return -ENOMEM;
            const cJSON *row;
            cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(series, "values"))
            {
                if (http_query_csv_line_append(out, name_text, "", row) != 0)
                    return -ENOMEM;
            }
        }
    }
    return 0;
}
