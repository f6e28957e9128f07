/* http_query_parse: the query strings and form bodies of /query and /write. */
#include <criterion/criterion.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#include "relay/http_server.h"

/* A query written over several lines, as Grafana's raw InfluxQL editor sends it (GET query string
 * or POST form body): the line break is part of q, and InfluxDB runs it. */
Test(http_query_parse, keeps_a_q_with_line_breaks)
{
    struct evkeyvalq parameters;
    TAILQ_INIT(&parameters);
    cr_assert_eq(http_query_parse("db=meters&q=SELECT%20value%0AFROM%20power%0D%0A%20WHERE%20"
                                  "time%20%3E%200&epoch=ms",
                                  &parameters),
                 0);
    cr_assert_str_eq(evhttp_find_header(&parameters, "q"),
                     "SELECT value\nFROM power\r\n WHERE time > 0");
    cr_assert_str_eq(evhttp_find_header(&parameters, "db"), "meters");
    cr_assert_str_eq(evhttp_find_header(&parameters, "epoch"), "ms");
    evhttp_clear_headers(&parameters);
}

Test(http_query_parse, plus_is_a_space_and_empty_pieces_are_skipped)
{
    struct evkeyvalq parameters;
    TAILQ_INIT(&parameters);
    cr_assert_eq(http_query_parse("&q=SHOW+DATABASES&&u", &parameters), 0);
    cr_assert_str_eq(evhttp_find_header(&parameters, "q"), "SHOW DATABASES");
    cr_assert_str_eq(evhttp_find_header(&parameters, "u"), "");
    evhttp_clear_headers(&parameters);
}
