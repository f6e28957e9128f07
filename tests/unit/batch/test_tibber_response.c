/* Tibber's answers: each documented shape (first page with homes and prices, later pages, errors
 * with HTTP 200, the token refused, no home, no subscription, null consumption), times with
 * their UTC offsets across both DST days of Europe/Berlin, null hours, malformed answers, and the
 * query bodies sent. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/readings.h"
#include "batch/tibber_response.h"

#define HOUR_NS TIBBER_NS_PER_HOUR

static int64_t utc(const char *text)
{
    int64_t t_ns;
    cr_assert_eq(batch_timestamp_parse(text, strlen(text), &t_ns), 0, "%s", text);
    return t_ns;
}

static enum tibber_status parse(const char *text, bool first_page, struct tibber_page *page,
                                char *error)
{
    return tibber_response_parse(text, strlen(text), first_page, NULL, page, error, 512);
}

/* A first page around one home: nodes_json and prices_json are the inside of the arrays. */
static char *first_page(const char *nodes_json, const char *today_json, const char *tomorrow_json)
{
    static const char format[] =
        "{\"data\":{\"viewer\":{\"homes\":[{\"id\":\"home-1\",\"currentSubscription\":{"
        "\"priceInfo\":{\"today\":[%s],\"tomorrow\":[%s]}},\"consumption\":{\"pageInfo\":{"
        "\"startCursor\":\"MjAyNS0wMS0xM1QxMjowMDowMC4wMDArMDE6MDA=\",\"hasPreviousPage\":true},"
        "\"nodes\":[%s]}}]}}}";
    size_t size =
        strlen(format) + strlen(nodes_json) + strlen(today_json) + strlen(tomorrow_json) + 1;
    char *text = malloc(size);
    snprintf(text, size, format, today_json, tomorrow_json, nodes_json);
    return text;
}

Test(tibber_response, first_page_nodes_prices_and_cursor)
{
    char *text = first_page(
        "{\"from\":\"2025-01-15T08:00:00.000+01:00\",\"to\":\"2025-01-15T09:00:00.000+01:00\","
        "\"consumption\":0.532,\"cost\":0.1489068,\"unitPrice\":0.2799,\"unitPriceVAT\":0.0447},"
        "{\"from\":\"2025-01-15T09:00:00.000+01:00\",\"to\":\"2025-01-15T10:00:00.000+01:00\","
        "\"consumption\":null,\"cost\":null,\"unitPrice\":0.2811,\"unitPriceVAT\":0.0449}",
        "{\"startsAt\":\"2025-01-15T00:00:00.000+01:00\",\"total\":0.2456,\"energy\":0.1,"
        "\"tax\":0.1456,\"currency\":\"EUR\",\"level\":\"NORMAL\"}",
        "{\"startsAt\":\"2025-01-16T00:00:00.000+01:00\",\"total\":0.3,\"energy\":null,"
        "\"tax\":null,\"currency\":\"EUR\",\"level\":null}");
    struct tibber_page page;
    char error[512] = "";
    cr_assert_eq(parse(text, true, &page, error), TIBBER_STATUS_OK, "%s", error);
    cr_expect_str_eq(page.home_id, "home-1");
    cr_expect_eq(page.home_count, 1);
    cr_assert_eq(page.node_count, 2);
    cr_expect_eq(page.nodes[0].from_ns, utc("2025-01-15T07:00:00Z"));
    cr_expect_eq(page.nodes[0].to_ns, utc("2025-01-15T08:00:00Z"));
    cr_expect_eq(page.nodes[0].consumption, 0.532);
    cr_expect_eq(page.nodes[0].cost, 0.1489068);
    cr_expect_eq(page.nodes[0].unit_price, 0.2799);
    cr_expect_eq(page.nodes[0].unit_price_vat, 0.0447);
    /* The current hour: null is pending, never 0. */
    cr_expect(isnan(page.nodes[1].consumption));
    cr_expect(isnan(page.nodes[1].cost));
    cr_expect_eq(page.nodes[1].unit_price, 0.2811);
    cr_expect_str_eq(page.start_cursor, "MjAyNS0wMS0xM1QxMjowMDowMC4wMDArMDE6MDA=");
    cr_expect(page.has_previous_page);
    cr_assert_eq(page.price_count, 2);
    cr_expect_eq(page.prices[0].starts_at_ns, utc("2025-01-14T23:00:00Z"));
    cr_expect_eq(page.prices[0].total, 0.2456);
    cr_expect_str_eq(page.prices[0].currency, "EUR");
    cr_expect_str_eq(page.prices[0].level, "NORMAL");
    cr_expect(isnan(page.prices[1].energy));
    cr_expect_str_eq(page.prices[1].level, "");
    tibber_page_free(&page);
    free(text);
}

/* The nodes of a local day in Europe/Berlin as Tibber writes them: local hours with the offset in
 * force, from DST_HOUR on with after_offset (the repeated 02:00 in October appears twice). */
static char *berlin_day(const char *date, int hours, const char *offsets[], const int local_hours[])
{
    size_t size = (size_t)hours * 200 + 1;
    char *nodes = calloc(1, size);
    size_t used = 0;
    for (int i = 0; i < hours; i++) {
        int next = i + 1 < hours ? i + 1 : -1;
        char to[64];
        if (next >= 0)
            snprintf(to, sizeof to, "%sT%02d:00:00.000%s", date, local_hours[next], offsets[next]);
        else
            snprintf(to, sizeof to, "next-day");
        used += (size_t)snprintf(nodes + used, size - used,
                                 "%s{\"from\":\"%sT%02d:00:00.000%s\",%s%s%s\"consumption\":%d.25,"
                                 "\"cost\":null,\"unitPrice\":null,\"unitPriceVAT\":null}",
                                 i ? "," : "", date, local_hours[i], offsets[i],
                                 next >= 0 ? "\"to\":\"" : "", next >= 0 ? to : "",
                                 next >= 0 ? "\"," : "", i);
    }
    char *page = first_page(nodes, "", "");
    free(nodes);
    return page;
}

Test(tibber_response, october_dst_day_has_25_distinct_hours)
{
    const char *offsets[25];
    int local_hours[25];
    for (int i = 0; i < 25; i++) {
        /* 00, 01, 02 (+02:00), 02 again (+01:00), 03 .. 23 (+01:00) */
        offsets[i] = i < 3 ? "+02:00" : "+01:00";
        local_hours[i] = i < 3 ? i : i - 1;
    }
    char *text = berlin_day("2024-10-27", 25, offsets, local_hours);
    struct tibber_page page;
    char error[512] = "";
    cr_assert_eq(parse(text, true, &page, error), TIBBER_STATUS_OK, "%s", error);
    cr_assert_eq(page.node_count, 25);
    cr_expect_eq(page.nodes[0].from_ns, utc("2024-10-26T22:00:00Z"));
    /* The repeated local 02:00: two instants an hour apart. */
    cr_expect_eq(page.nodes[2].from_ns, utc("2024-10-27T00:00:00Z"));
    cr_expect_eq(page.nodes[3].from_ns, utc("2024-10-27T01:00:00Z"));
    cr_expect_eq(page.nodes[24].from_ns, utc("2024-10-27T22:00:00Z"));
    for (int i = 1; i < 25; i++) {
        cr_expect_eq(page.nodes[i].from_ns - page.nodes[i - 1].from_ns, HOUR_NS, "node %d", i);
        if (i < 24)
            cr_expect_eq(page.nodes[i - 1].to_ns, page.nodes[i].from_ns, "node %d", i);
    }
    /* The last node without "to": an hour. */
    cr_expect_eq(page.nodes[24].to_ns, utc("2024-10-27T23:00:00Z"));
    tibber_page_free(&page);
    free(text);
}

Test(tibber_response, march_dst_day_has_23_hours)
{
    const char *offsets[23];
    int local_hours[23];
    for (int i = 0; i < 23; i++) {
        /* 00, 01 (+01:00), then 03 .. 23 (+02:00): local 02:00 does not exist. */
        offsets[i] = i < 2 ? "+01:00" : "+02:00";
        local_hours[i] = i < 2 ? i : i + 1;
    }
    char *text = berlin_day("2025-03-30", 23, offsets, local_hours);
    struct tibber_page page;
    char error[512] = "";
    cr_assert_eq(parse(text, true, &page, error), TIBBER_STATUS_OK, "%s", error);
    cr_assert_eq(page.node_count, 23);
    cr_expect_eq(page.nodes[0].from_ns, utc("2025-03-29T23:00:00Z"));
    cr_expect_eq(page.nodes[1].from_ns, utc("2025-03-30T00:00:00Z"));
    cr_expect_eq(page.nodes[2].from_ns, utc("2025-03-30T01:00:00Z")); /* 03:00+02:00 */
    cr_expect_eq(page.nodes[22].from_ns, utc("2025-03-30T21:00:00Z"));
    for (int i = 1; i < 23; i++)
        cr_expect_eq(page.nodes[i].from_ns - page.nodes[i - 1].from_ns, HOUR_NS, "node %d", i);
    tibber_page_free(&page);
    free(text);
}

Test(tibber_response, quarter_hourly_prices)
{
    size_t size = 96 * 160 + 1, used = 0;
    char *today = calloc(1, size);
    for (int i = 0; i < 96; i++)
        used += (size_t)snprintf(today + used, size - used,
                                 "%s{\"startsAt\":\"2025-10-02T%02d:%02d:00.000+02:00\",\"total\":"
                                 "0.%03d,\"energy\":0.1,\"tax\":0.05,\"currency\":\"EUR\","
                                 "\"level\":\"CHEAP\"}",
                                 i ? "," : "", i / 4, i % 4 * 15, 100 + i);
    char *text = first_page("", today, "");
    struct tibber_page page;
    char error[512] = "";
    cr_assert_eq(parse(text, true, &page, error), TIBBER_STATUS_OK, "%s", error);
    cr_assert_eq(page.price_count, 96);
    cr_expect_eq(page.prices[0].starts_at_ns, utc("2025-10-01T22:00:00Z"));
    cr_expect_eq(page.prices[1].starts_at_ns - page.prices[0].starts_at_ns, HOUR_NS / 4);
    cr_expect_eq(page.prices[95].starts_at_ns, utc("2025-10-02T21:45:00Z"));
    cr_expect_eq(page.prices[95].total, 0.195);
    cr_expect_eq(page.node_count, 0);
    tibber_page_free(&page);
    free(today);
    free(text);
}

Test(tibber_response, later_page_is_viewer_home)
{
    const char *text =
        "{\"data\":{\"viewer\":{\"home\":{\"id\":\"home-1\",\"consumption\":{\"pageInfo\":{"
        "\"startCursor\":\"older\",\"hasPreviousPage\":false},\"nodes\":[{\"from\":"
        "\"2024-12-01T00:00:00.000+01:00\",\"to\":\"2024-12-01T01:00:00.000+01:00\","
        "\"consumption\":1.5,\"cost\":0.4,\"unitPrice\":0.27,\"unitPriceVAT\":0.04}]}}}}}";
    struct tibber_page page;
    char error[512] = "";
    cr_assert_eq(parse(text, false, &page, error), TIBBER_STATUS_OK, "%s", error);
    cr_expect_str_eq(page.home_id, "home-1");
    cr_expect_eq(page.node_count, 1);
    cr_expect_eq(page.nodes[0].from_ns, utc("2024-11-30T23:00:00Z"));
    cr_expect_not(page.has_previous_page);
    cr_expect_eq(page.price_count, 0);
    tibber_page_free(&page);

    cr_expect_eq(parse("{\"data\":{\"viewer\":{\"home\":null}}}", false, &page, error),
                 TIBBER_STATUS_NO_HOME);
    cr_expect(strstr(error, "gone from the account"), "%s", error);
    tibber_page_free(&page);
}

Test(tibber_response, errors_with_http_200)
{
    struct tibber_page page;
    char error[512] = "";
    cr_expect_eq(parse("{\"errors\":[{\"message\":\"Context creation failed: invalid token\","
                       "\"extensions\":{\"code\":\"UNAUTHENTICATED\"}}],\"data\":null}",
                       true, &page, error),
                 TIBBER_STATUS_UNAUTHENTICATED);
    cr_expect_str_eq(error, "Tibber answered with an error: Context creation failed: invalid "
                            "token (code UNAUTHENTICATED)");
    tibber_page_free(&page);

    cr_expect_eq(parse("{\"errors\":[{\"message\":\"Something\\nwent wrong\",\"extensions\":"
                       "{\"code\":\"INTERNAL_SERVER_ERROR\"}},{\"message\":\"second\"}],"
                       "\"data\":{\"viewer\":null}}",
                       true, &page, error),
                 TIBBER_STATUS_GRAPHQL_ERROR);
    /* Control characters never reach a log line. */
    cr_expect_str_eq(error, "Tibber answered with an error: Something?went wrong (code "
                            "INTERNAL_SERVER_ERROR), and more");
    tibber_page_free(&page);

    /* A partial answer (data and errors) is not used. */
    char *text = first_page("", "", "");
    char *partial = malloc(strlen(text) + 100);
    sprintf(partial, "{\"errors\":[{\"message\":\"priceInfo failed\"}],%s", text + 1);
    cr_expect_eq(parse(partial, true, &page, error), TIBBER_STATUS_GRAPHQL_ERROR);
    cr_expect(strstr(error, "priceInfo failed (code none)"), "%s", error);
    tibber_page_free(&page);
    free(partial);
    free(text);

    cr_expect_eq(parse("{\"errors\":[],\"data\":{\"viewer\":{\"home\":{\"id\":\"h\","
                       "\"consumption\":{\"nodes\":[]}}}}}",
                       false, &page, error),
                 TIBBER_STATUS_OK, "an empty errors[] is no error: %s", error);
    tibber_page_free(&page);
}

Test(tibber_response, garbage_and_truncated_json)
{
    struct tibber_page page;
    char error[512] = "";
    cr_expect_eq(parse("<html><body>502 Bad Gateway</body></html>", true, &page, error),
                 TIBBER_STATUS_MALFORMED);
    cr_expect(strstr(error, "not JSON (41 bytes, starting \"<html><body>502 Bad Gateway"), "%s",
              error);
    tibber_page_free(&page);
    char *text = first_page("{\"from\":\"2025-01-15T08:00:00.000+01:00\"}", "", "");
    text[strlen(text) / 2] = '\0';
    cr_expect_eq(parse(text, true, &page, error), TIBBER_STATUS_MALFORMED);
    tibber_page_free(&page);
    free(text);
    cr_expect_eq(parse("{\"data\":null}", true, &page, error), TIBBER_STATUS_MALFORMED);
    cr_expect_str_eq(error, "Tibber's answer is malformed: no data.viewer object");
    tibber_page_free(&page);
}

Test(tibber_response, malformed_nodes_name_the_field)
{
    struct tibber_page page;
    char error[512] = "";
    const char *cases[][2] = {
        {"{\"to\":\"2025-01-15T09:00:00.000+01:00\"}", "consumption node 0: \"from\""},
        {"{\"from\":\"2025-01-15 08:00\"}", "consumption node 0: \"from\""},
        {"{\"from\":\"2025-01-15T08:00:00.000+01:00\",\"consumption\":\"0.5\"}",
         "consumption node 0: \"consumption\" is missing or not a number or null"},
        {"{\"from\":\"2025-01-15T08:00:00.000+01:00\",\"to\":\"2025-01-15T07:00:00.000+01:00\"}",
         "consumption node 0: \"to\""},
        {"{\"from\":\"2025-01-15T08:00:00.000+01:00\",\"cost\":[]}", "\"cost\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = first_page(cases[i][0], "", "");
        cr_expect_eq(parse(text, true, &page, error), TIBBER_STATUS_MALFORMED, "%s", cases[i][0]);
        cr_expect(strstr(error, cases[i][1]), "%s: %s", cases[i][0], error);
        tibber_page_free(&page);
        free(text);
    }
    char *text = first_page("",
                            "{\"startsAt\":\"2025-01-15T00:00:00.000+01:00\",\"level\":"
                            "\"A_LEVEL_FAR_TOO_LONG_TO_BE_TIBBERS\"}",
                            "");
    cr_expect_eq(parse(text, true, &page, error), TIBBER_STATUS_MALFORMED);
    cr_expect(strstr(error, "price 0: \"level\" is missing or not a short string"), "%s", error);
    tibber_page_free(&page);
    free(text);
}

Test(tibber_response, homes_subscriptions_and_missing_data)
{
    struct tibber_page page;
    char error[512] = "";
    cr_expect_eq(parse("{\"data\":{\"viewer\":{\"homes\":[]}}}", true, &page, error),
                 TIBBER_STATUS_NO_HOME);
    cr_expect(strstr(error, "the Tibber account has no home"), "%s", error);
    tibber_page_free(&page);

    cr_expect_eq(parse("{\"data\":{\"viewer\":{\"homes\":[{\"id\":\"lonely\","
                       "\"currentSubscription\":null,\"consumption\":null}]}}}",
                       true, &page, error),
                 TIBBER_STATUS_NO_SUBSCRIPTION);
    cr_expect(strstr(error, "the Tibber home lonely has no current subscription"), "%s", error);
    tibber_page_free(&page);

    /* Two homes: the first with a subscription is used. */
    cr_assert_eq(parse("{\"data\":{\"viewer\":{\"homes\":[{\"id\":\"old\","
                       "\"currentSubscription\":null,\"consumption\":null},{\"id\":\"new\","
                       "\"currentSubscription\":{\"priceInfo\":null},\"consumption\":null}]}}}",
                       true, &page, error),
                 TIBBER_STATUS_OK, "%s", error);
    cr_expect_str_eq(page.home_id, "new");
    cr_expect_eq(page.home_count, 2);
    cr_expect_eq(page.subscribed_homes, 1);
    cr_expect(page.consumption_missing);
    cr_expect(page.prices_missing);
    cr_expect_eq(page.node_count, 0);
    tibber_page_free(&page);
}

/* An account with two subscribed homes (a heat pump's meter is a home of its own): tibber.home_id
 * picks the household's, whichever Tibber lists first. */
Test(tibber_response, home_chosen_by_id)
{
    static const char homes[] =
        "{\"data\":{\"viewer\":{\"homes\":[{\"id\":\"heat-pump\",\"currentSubscription\":{"
        "\"priceInfo\":null},\"consumption\":{\"nodes\":[{\"from\":\"2025-01-15T10:00:00.000+01:"
        "00\","
        "\"to\":\"2025-01-15T11:00:00.000+01:00\",\"consumption\":9.5}]}},{\"id\":\"house\","
        "\"currentSubscription\":{\"priceInfo\":null},\"consumption\":{\"nodes\":[{\"from\":"
        "\"2025-01-15T10:00:00.000+01:00\",\"to\":\"2025-01-15T11:00:00.000+01:00\","
        "\"consumption\":0.25}]}},{\"id\":\"old\",\"currentSubscription\":null,"
        "\"consumption\":null}]}}}";
    struct tibber_page page;
    char error[512] = "";
    cr_assert_eq(
        tibber_response_parse(homes, strlen(homes), true, "house", &page, error, sizeof error),
        TIBBER_STATUS_OK, "%s", error);
    cr_expect_str_eq(page.home_id, "house");
    cr_assert_eq(page.node_count, 1);
    cr_expect_eq(page.nodes[0].consumption, 0.25);
    cr_expect_eq(page.home_count, 3);
    cr_expect_eq(page.subscribed_homes, 2);
    tibber_page_free(&page);

    /* Without an id: the first subscribed home, as before. */
    cr_assert_eq(parse(homes, true, &page, error), TIBBER_STATUS_OK, "%s", error);
    cr_expect_str_eq(page.home_id, "heat-pump");
    tibber_page_free(&page);

    cr_expect_eq(
        tibber_response_parse(homes, strlen(homes), true, "moved-out", &page, error, sizeof error),
        TIBBER_STATUS_NO_HOME);
    cr_expect(strstr(error, "tibber.home_id moved-out is not a home of the Tibber account (its "
                            "homes: heat-pump, house, old)"),
              "%s", error);
    tibber_page_free(&page);

    cr_expect_eq(
        tibber_response_parse(homes, strlen(homes), true, "old", &page, error, sizeof error),
        TIBBER_STATUS_NO_SUBSCRIPTION);
    cr_expect(strstr(error, "the Tibber home old has no current subscription"), "%s", error);
    tibber_page_free(&page);
}

Test(tibber_response, query_bodies)
{
    char *first = tibber_query_first(48);
    cJSON *root = cJSON_Parse(first);
    cr_assert(root, "%s", first);
    const char *query = cJSON_GetObjectItem(root, "query")->valuestring;
    cr_expect(strstr(query, "consumption(resolution: HOURLY, last: $last)"), "%s", query);
    cr_expect(strstr(query, "priceInfo(resolution: QUARTER_HOURLY) { today { startsAt total "
                            "energy tax currency level }"),
              "%s", query);
    cr_expect(strstr(query, "nodes { from to consumption cost unitPrice unitPriceVAT }"), "%s",
              query);
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "variables"), "last")->valueint, 48);
    cJSON_Delete(root);
    cJSON_free(first);

    char *page = tibber_query_page("home-1", 744, "a \"quoted\" cursor\\");
    root = cJSON_Parse(page);
    cr_assert(root, "%s", page);
    query = cJSON_GetObjectItem(root, "query")->valuestring;
    cr_expect(strstr(query, "home(id: $home)"), "%s", query);
    cr_expect(strstr(query, "consumption(resolution: HOURLY, last: $last, before: $before)"), "%s",
              query);
    cJSON *variables = cJSON_GetObjectItem(root, "variables");
    cr_expect_str_eq(cJSON_GetObjectItem(variables, "before")->valuestring,
                     "a \"quoted\" cursor\\");
    cr_expect_str_eq(cJSON_GetObjectItem(variables, "home")->valuestring, "home-1");
    cr_expect_eq(cJSON_GetObjectItem(variables, "last")->valueint, 744);
    cJSON_Delete(root);
    cJSON_free(page);
}
