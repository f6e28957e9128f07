/* The line protocol of the Tibber points, exactly as spec/analytics.md gives the schema, and the
 * queries that read the stored points back (InfluxQL for v1, Flux for v2). */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "batch/readings.h"
#include "batch/tibber_points.h"
#include "batch/tibber_store.h"

static int64_t utc(const char *text)
{
    int64_t t_ns;
    cr_assert_eq(batch_timestamp_parse(text, strlen(text), &t_ns), 0, "%s", text);
    return t_ns;
}

static void expect_line(struct buffer *line, const char *expected)
{
    cr_expect_eq(line->length, strlen(expected), "%.*s", (int)line->length, line->data);
    cr_expect(line->length == strlen(expected) && memcmp(line->data, expected, line->length) == 0,
              "got:  %.*s\nwant: %s", (int)line->length, line->data, expected);
}

Test(tibber_points, energy_register_and_price_lines)
{
    struct tibber_node node = {.from_ns = utc("2025-01-15T07:00:00Z"),
                               .to_ns = utc("2025-01-15T08:00:00Z"),
                               .consumption = 0.532,
                               .cost = 0.1489068,
                               .unit_price = 0.2799,
                               .unit_price_vat = 0.0447};
    struct buffer line = BUFFER_INITIALIZER;
    cr_assert_eq(tibber_energy_line(&line, "haupt_strom", &node), 0);
    expect_line(&line, "energy,entity_id=haupt_strom,domain=sensor consumption=0.532,"
                       "cost=0.1489068,unit_price=0.2799,unit_price_vat=0.0447 "
                       "1736924400000000000");
    buffer_clear(&line);
    cr_assert_eq(tibber_register_line(&line, "haupt_strom", &node, 1022.6460000000002), 0);
    expect_line(&line, "kWh,entity_id=haupt_strom,domain=input_number,unit_of_measurement=kWh,"
                       "device_class=energy,state_class=total_increasing "
                       "value=1022.6460000000002,hourly_consumption=0.532,cost=0.1489068,"
                       "unit_price=0.2799 1736924400000000000");
    buffer_clear(&line);
    struct tibber_price price = {.starts_at_ns = utc("2025-10-01T22:15:00Z"),
                                 .total = 0.2456,
                                 .energy = 0.1,
                                 .tax = 0.1456,
                                 .currency = "EUR",
                                 .level = "VERY_CHEAP"};
    cr_assert_eq(tibber_price_line(&line, "haupt_strom", &price), 0);
    expect_line(&line, "electricity_price,entity_id=haupt_strom,domain=sensor total=0.2456,"
                       "energy=0.1,tax=0.1456,currency=\"EUR\",level=\"VERY_CHEAP\" "
                       "1759356900000000000");
    buffer_release(&line);
}

Test(tibber_points, null_fields_are_left_out_never_zero)
{
    struct tibber_node node = {.from_ns = 3600000000000,
                               .consumption = 1.25,
                               .cost = NAN,
                               .unit_price = NAN,
                               .unit_price_vat = NAN};
    struct buffer line = BUFFER_INITIALIZER;
    cr_assert_eq(tibber_energy_line(&line, "m", &node), 0);
    expect_line(&line, "energy,entity_id=m,domain=sensor consumption=1.25 3600000000000");
    buffer_clear(&line);
    cr_assert_eq(tibber_register_line(&line, "m", &node, 10), 0);
    expect_line(&line, "kWh,entity_id=m,domain=input_number,unit_of_measurement=kWh,"
                       "device_class=energy,state_class=total_increasing value=10,"
                       "hourly_consumption=1.25 3600000000000");
    buffer_clear(&line);
    struct tibber_price price = {
        .starts_at_ns = 0, .total = NAN, .energy = NAN, .tax = NAN, .level = "CHEAP"};
    cr_assert_eq(tibber_price_line(&line, "m", &price), 0);
    expect_line(&line, "electricity_price,entity_id=m,domain=sensor level=\"CHEAP\" 0");
    buffer_clear(&line);
    /* Nothing to write: no line at all. */
    node.consumption = NAN;
    cr_expect_eq(tibber_energy_line(&line, "m", &node), -EINVAL);
    cr_expect_eq(tibber_register_line(&line, "m", &node, NAN), -EINVAL);
    cr_expect_eq(line.length, 0);
    buffer_release(&line);
}

Test(tibber_points, meter_id_escaped_or_refused)
{
    struct tibber_node node = {
        .from_ns = 1, .consumption = 2, .cost = NAN, .unit_price = NAN, .unit_price_vat = NAN};
    struct buffer line = BUFFER_INITIALIZER;
    cr_assert_eq(tibber_energy_line(&line, "haupt strom,a=b", &node), 0);
    expect_line(&line, "energy,entity_id=haupt\\ strom\\,a\\=b,domain=sensor consumption=2 1");
    buffer_clear(&line);
    cr_expect_eq(tibber_energy_line(&line, "", &node), -EINVAL);
    cr_expect_eq(tibber_energy_line(&line, "bad\\", &node), -EINVAL);
    cr_expect_eq(line.length, 0, "a refused line leaves nothing behind");
    buffer_release(&line);
}

static struct config config_make(enum config_api api, char *meter)
{
    struct config config = {0};
    config.influxdb.api = api;
    config.influxdb.bucket_raw = "lampfi";
    config.tibber.meter_id = meter;
    return config;
}

Test(tibber_store, influxql_queries)
{
    struct config config = config_make(CONFIG_API_V1, "haupt_strom");
    struct buffer query = BUFFER_INITIALIZER;
    cr_assert_eq(tibber_store_newest_query(&config, &query), 0);
    cr_expect_str_eq(query.data,
                     "SELECT last(\"consumption\") FROM \"energy\" WHERE \"entity_id\"::tag = "
                     "'haupt_strom'; SELECT last(\"value\") FROM \"kWh\" WHERE \"entity_id\"::tag "
                     "= 'haupt_strom' AND \"domain\"::tag = 'input_number'");
    cr_assert_eq(tibber_store_window_query(&config, (struct tibber_window){10, 20},
                                           (struct tibber_window){30, 40}, &query),
                 0);
    cr_expect_str_eq(query.data,
                     "SELECT \"consumption\"::field, \"cost\"::field, \"unit_price\"::field, "
                     "\"unit_price_vat\"::field FROM \"energy\" WHERE \"entity_id\"::tag = "
                     "'haupt_strom' AND time >= 10 AND time <= 20; SELECT \"total\"::field, "
                     "\"energy\"::field, \"tax\"::field, \"currency\"::field, \"level\"::field "
                     "FROM \"electricity_price\" WHERE \"entity_id\"::tag = 'haupt_strom' AND "
                     "time >= 30 AND time <= 40");
    /* No prices: the energy statement alone; nothing at all: an empty query. */
    cr_assert_eq(tibber_store_window_query(&config, (struct tibber_window){10, 20},
                                           (struct tibber_window){1, 0}, &query),
                 0);
    cr_expect(strstr(query.data, "electricity_price") == NULL);
    cr_assert_eq(tibber_store_window_query(&config, (struct tibber_window){1, 0},
                                           (struct tibber_window){1, 0}, &query),
                 0);
    cr_expect_eq(query.length, 0);
    /* Quoting. */
    config.tibber.meter_id = "it's";
    cr_assert_eq(tibber_store_newest_query(&config, &query), 0);
    cr_expect(strstr(query.data, "\"entity_id\"::tag = 'it\\'s'"), "%s", query.data);
    buffer_release(&query);
}

Test(tibber_store, flux_queries)
{
    struct config config = config_make(CONFIG_API_V2, "haupt \"strom\"");
    struct buffer query = BUFFER_INITIALIZER;
    cr_assert_eq(tibber_store_newest_query(&config, &query), 0);
    cr_expect_str_eq(query.data,
                     "from(bucket: \"lampfi\")\n"
                     "  |> range(start: time(v: -9223372036854775806), stop: time(v: "
                     "9223372036854775806))\n"
                     "  |> filter(fn: (r) => r.entity_id == \"haupt \\\"strom\\\"\" and "
                     "((r._measurement == \"energy\" and r._field == \"consumption\") or "
                     "(r._measurement == \"kWh\" and r._field == \"value\" and r.domain == "
                     "\"input_number\")))\n"
                     "  |> last()\n"
                     "  |> keep(columns: [\"_time\", \"_value\", \"_measurement\"])");
    cr_assert_eq(tibber_store_window_query(&config, (struct tibber_window){100, 200},
                                           (struct tibber_window){50, 300}, &query),
                 0);
    cr_expect_str_eq(query.data,
                     "from(bucket: \"lampfi\")\n"
                     "  |> range(start: time(v: 50), stop: time(v: 301))\n"
                     "  |> filter(fn: (r) => r.entity_id == \"haupt \\\"strom\\\"\" and "
                     "((r._measurement == \"energy\" and (r._field == \"consumption\" or "
                     "r._field == \"cost\" or r._field == \"unit_price\" or r._field == "
                     "\"unit_price_vat\")) or (r._measurement == \"electricity_price\" and "
                     "(r._field == \"total\" or r._field == \"energy\" or r._field == \"tax\" or "
                     "r._field == \"currency\" or r._field == \"level\"))))\n"
                     "  |> keep(columns: [\"_time\", \"_value\", \"_field\", \"_measurement\"])");
    buffer_release(&query);
}
