/* http_query_format: which Accept headers get CSV from the relay's own /query answers, and the CSV
 * itself, byte for byte as InfluxDB 1.x writes it (Go's encoding/csv quoting included). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>

#include "relay/buffer.h"
#include "relay/http_query_format.h"

Test(http_query_format, accept_negotiation)
{
    cr_expect_eq(http_query_format_negotiate(NULL), HTTP_QUERY_FORMAT_JSON);
    cr_expect_eq(http_query_format_negotiate(""), HTTP_QUERY_FORMAT_JSON);
    cr_expect_eq(http_query_format_negotiate("*/*"), HTTP_QUERY_FORMAT_JSON);
    cr_expect_eq(http_query_format_negotiate("application/csv"), HTTP_QUERY_FORMAT_APPLICATION_CSV);
    cr_expect_eq(http_query_format_negotiate("text/csv"), HTTP_QUERY_FORMAT_TEXT_CSV);
    cr_expect_eq(http_query_format_negotiate("Text/CSV; charset=utf-8"),
                 HTTP_QUERY_FORMAT_TEXT_CSV);
    cr_expect_eq(http_query_format_negotiate("text/*"), HTTP_QUERY_FORMAT_TEXT_CSV);
    /* The first range the relay can answer wins; q orders them, ties keep the client's order. */
    cr_expect_eq(http_query_format_negotiate("application/x-msgpack, text/csv"),
                 HTTP_QUERY_FORMAT_TEXT_CSV);
    cr_expect_eq(http_query_format_negotiate("application/json, application/csv"),
                 HTTP_QUERY_FORMAT_JSON);
    cr_expect_eq(http_query_format_negotiate("application/json;q=0.5, text/csv"),
                 HTTP_QUERY_FORMAT_TEXT_CSV);
    cr_expect_eq(http_query_format_negotiate("application/csv;q=0.9 , */*;q=0.1"),
                 HTTP_QUERY_FORMAT_APPLICATION_CSV);
    /* q=0 is "not acceptable"; ranges that do not parse are left out. */
    cr_expect_eq(http_query_format_negotiate("text/csv;q=0"), HTTP_QUERY_FORMAT_JSON);
    cr_expect_eq(http_query_format_negotiate("text/csv;q=high, csv, /csv"), HTTP_QUERY_FORMAT_JSON);
    cr_expect_str_eq(http_query_format_content_type(HTTP_QUERY_FORMAT_APPLICATION_CSV),
                     "application/csv");
    cr_expect_str_eq(http_query_format_content_type(HTTP_QUERY_FORMAT_TEXT_CSV), "text/csv");
    cr_expect_str_eq(http_query_format_content_type(HTTP_QUERY_FORMAT_JSON), "application/json");
}

static void format_expect_csv(const char *json, const char *expected)
{
    cJSON *response = cJSON_Parse(json);
    cr_assert_not_null(response);
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(http_query_format_csv(response, &out), 0);
    cr_expect_eq(out.length, strlen(expected), "%.*s", (int)out.length, out.data);
    cr_expect(out.length == strlen(expected) &&
                  (out.length == 0 || memcmp(out.data, expected, out.length) == 0),
              "%.*s", (int)out.length, out.data);
    buffer_release(&out);
    cJSON_Delete(response);
}

Test(http_query_format, csv_as_influxdb_writes_it)
{
    /* A statement without series writes nothing. */
    format_expect_csv("{\"results\":[{\"statement_id\":0}]}", "");
    format_expect_csv("{\"results\":[{\"statement_id\":0},{\"statement_id\":1,\"series\":[{"
                      "\"name\":\"databases\",\"columns\":[\"name\"],\"values\":[[\"lampfi\"],"
                      "[\"my db\"]]}]},{\"statement_id\":2,\"series\":[{\"name\":\"databases\","
                      "\"columns\":[\"name\"],\"values\":[[\"x\"]]}]}]}",
                      "name,tags,name\ndatabases,,lampfi\ndatabases,,my db\n"
                      "\nname,tags,name\ndatabases,,x\n");
    /* Quoted as Go's encoding/csv does: comma, quote, line breaks, leading space, \. alone. */
    format_expect_csv("{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\","
                      "\"columns\":[\"name\"],\"values\":[[\"a,b\"],[\"q\\\"x\"],[\"l\\nf\"],"
                      "[\" lead\"],[\"trail \"],[\"\\\\.\"],[\"\\\\.x\"],[\"\"]]}]}]}",
                      "name,tags,name\ndatabases,,\"a,b\"\ndatabases,,\"q\"\"x\"\n"
                      "databases,,\"l\nf\"\ndatabases,,\" lead\"\ndatabases,,trail \n"
                      "databases,,\"\\.\"\ndatabases,,\\.x\ndatabases,,\n");
}
