/* The queries batch_history_read sends for a reading rule: InfluxQL for v1, Flux for v2. */
#include <criterion/criterion.h>

#include "batch/history.h"

static struct config_tag ha_tags[] = {{.key = "domain", .value = "input_number"}};
static const struct config_reading_rule ha_rule = {
    .measurement = "*", .tags = ha_tags, .tag_count = 1, .id_tag = "entity_id", .field = "value"};

static struct config_tag odd_tags[] = {{.key = "source", .value = "it's \"ok\""},
                                       {.key = "site", .value = "a\\b"}};
static const struct config_reading_rule odd_rule = {.measurement = "z\xc3\xa4hler_[ab]*",
                                                    .tags = odd_tags,
                                                    .tag_count = 2,
                                                    .id_tag = "meter id",
                                                    .field = "reading"};

static const struct config_reading_rule plain_rule = {
    .measurement = "kWh", .id_tag = "entity_id", .field = "value"};

static void expect_influxql(const struct config_reading_rule *rule, int64_t since_ns,
                            const char *expected)
{
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(batch_history_influxql(rule, since_ns, &out), 0);
    cr_expect_eq(out.length, strlen(expected));
    cr_expect_str_eq(out.data, expected);
    buffer_release(&out);
}

Test(history_query, influxql_home_assistant)
{
    expect_influxql(&ha_rule, BATCH_HISTORY_ALL,
                    "SELECT \"value\"::field FROM /.*/ WHERE \"domain\"::tag = 'input_number' "
                    "GROUP BY \"entity_id\"");
    expect_influxql(&ha_rule, 1577836800000000000,
                    "SELECT \"value\"::field FROM /.*/ WHERE \"domain\"::tag = 'input_number' "
                    "AND time >= 1577836800000000000 GROUP BY \"entity_id\"");
}

Test(history_query, influxql_quoting_and_glob)
{
    expect_influxql(&odd_rule, -5,
                    "SELECT \"reading\"::field FROM /^z\xc3\xa4hler_[ab].*$/ WHERE "
                    "\"source\"::tag = 'it\\'s \"ok\"' AND \"site\"::tag = 'a\\\\b' AND "
                    "time >= -5 GROUP BY \"meter id\"");
    expect_influxql(&plain_rule, BATCH_HISTORY_ALL,
                    "SELECT \"value\"::field FROM \"kWh\" GROUP BY \"entity_id\"");
    expect_influxql(&plain_rule, 0,
                    "SELECT \"value\"::field FROM \"kWh\" WHERE time >= 0 GROUP BY "
                    "\"entity_id\"");
}

static void expect_flux(const struct config_reading_rule *rule, int64_t since_ns,
                        const char *expected)
{
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(batch_history_flux("lampfi", rule, since_ns, &out), 0);
    cr_expect_eq(out.length, strlen(expected));
    cr_expect_str_eq(out.data, expected);
    buffer_release(&out);
}

Test(history_query, flux_home_assistant)
{
    expect_flux(&ha_rule, BATCH_HISTORY_ALL,
                "from(bucket: \"lampfi\")\n"
                "  |> range(start: time(v: -9223372036854775806), stop: time(v: "
                "9223372036854775806))\n"
                "  |> filter(fn: (r) => r[\"domain\"] == \"input_number\" and r._field == "
                "\"value\" and exists r[\"entity_id\"])\n"
                "  |> keep(columns: [\"_time\", \"_value\", \"entity_id\"])");
}

Test(history_query, flux_quoting_and_glob)
{
    expect_flux(&odd_rule, 1700000000123456789,
                "from(bucket: \"lampfi\")\n"
                "  |> range(start: time(v: 1700000000123456789), stop: time(v: "
                "9223372036854775806))\n"
                "  |> filter(fn: (r) => r._measurement =~ /^z\xc3\xa4hler_[ab].*$/ and "
                "r[\"source\"] == \"it's \\\"ok\\\"\" and r[\"site\"] == \"a\\\\b\" and "
                "r._field == \"reading\" and exists r[\"meter id\"])\n"
                "  |> keep(columns: [\"_time\", \"_value\", \"meter id\"])");
}
