/* Which parsed points are meter readings: the stream.readings rules, tried in order. */
#include <criterion/criterion.h>
#include <string.h>

#include "stream/reading_match.h"

static struct lineproto_parser *parser;
static struct buffer scratch = BUFFER_INITIALIZER;
static struct lineproto_point point;

static void parser_make(void)
{
    parser = lineproto_parser_create();
    cr_assert_not_null(parser);
}

static void parser_free(void)
{
    lineproto_parser_destroy(parser);
    buffer_release(&scratch);
}

TestSuite(stream_reading_match, .init = parser_make, .fini = parser_free);

/* The built-in rule: Home Assistant's schema. */
static struct config_tag ha_tags[] = {{.key = "domain", .value = "input_number"}};
static struct config_reading_rule ha_rule = {
    .measurement = "*", .tags = ha_tags, .tag_count = 1, .id_tag = "entity_id", .field = "value"};

static struct stream_reading_rules *rules_make(struct config_reading_rule *readings, size_t count)
{
    const struct config_stream config = {.readings = readings, .reading_count = count};
    struct stream_reading_rules *rules = stream_reading_rules_create(&config);
    cr_assert_not_null(rules);
    return rules;
}

/* Parses line (static text: the point borrows it) with ns timestamps and tries rules on it. */
static bool match(const struct stream_reading_rules *rules, const char *line,
                  struct stream_reading *reading, enum stream_reading_miss *miss)
{
    struct lineproto_error error;
    lineproto_parser_start(parser, line, strlen(line), LINEPROTO_PRECISION_NANOSECOND);
    cr_assert_eq(lineproto_parser_next(parser, &point, &error), LINEPROTO_POINT, "%s: %s", line,
                 error.reason);
    cr_assert(point.has_time, "%s needs a timestamp", line);
    /* Not a reason, so the call must set one. */
    *miss = (enum stream_reading_miss)(STREAM_READING_MISS_NOT_NUMBER + 1);
    return stream_reading_match(rules, &point, &scratch, reading, miss);
}

static void expect_reading(const struct stream_reading_rules *rules, const char *line,
                           const char *id, int64_t t_ns, double value)
{
    struct stream_reading reading = {0};
    enum stream_reading_miss miss;
    cr_assert(match(rules, line, &reading, &miss), "%s is a reading", line);
    cr_expect_eq(reading.meter_id_length, strlen(id), "%s: id length", line);
    cr_expect_eq(memcmp(reading.meter_id, id, strlen(id)), 0, "%s: id %.*s, expected %s", line,
                 (int)reading.meter_id_length, reading.meter_id, id);
    cr_expect_eq(reading.t_ns, t_ns, "%s: time", line);
    cr_expect_eq(reading.value, value, "%s: value %.17g", line, reading.value);
    cr_expect_eq(miss, STREAM_READING_MISS_NONE, "%s: miss", line);
}

static void expect_miss(const struct stream_reading_rules *rules, const char *line,
                        enum stream_reading_miss expected)
{
    struct stream_reading reading;
    enum stream_reading_miss miss;
    cr_expect_not(match(rules, line, &reading, &miss), "%s is not a reading", line);
    cr_expect_eq(miss, expected, "%s: miss %d, expected %d", line, (int)miss, (int)expected);
}

Test(stream_reading_match, home_assistant_point_gives_id_time_and_value)
{
    struct stream_reading_rules *rules = rules_make(&ha_rule, 1);
    expect_reading(rules,
                   "kWh,domain=input_number,entity_id=strom_haus,friendly_name=Strom "
                   "value=1234.5 1700000000123456789",
                   "strom_haus", 1700000000123456789, 1234.5);
    expect_reading(rules, "m³,entity_id=wasser,domain=input_number value=0.1 -5", "wasser", -5,
                   0.1);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, integer_and_unsigned_values_are_numbers)
{
    struct stream_reading_rules *rules = rules_make(&ha_rule, 1);
    expect_reading(rules, "kWh,domain=input_number,entity_id=a value=5i 1", "a", 1, 5.0);
    expect_reading(rules, "kWh,domain=input_number,entity_id=a value=-12i 2", "a", 2, -12.0);
    expect_reading(rules, "kWh,domain=input_number,entity_id=a value=7u 3", "a", 3, 7.0);
    expect_reading(rules, "kWh,domain=input_number,entity_id=a value=18446744073709551615u 4", "a",
                   4, 18446744073709551615.0);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, escaped_names_are_compared_and_returned_unescaped)
{
    struct stream_reading_rules *rules = rules_make(&ha_rule, 1);
    expect_reading(rules, "kWh,domain=input_number,entity_id=a\\ b value=1 1", "a b", 1, 1.0);
    expect_reading(rules, "kWh,domain=input_number,entity_id=x\\,y\\=z value=1 1", "x,y=z", 1, 1.0);
    /* Another tag's escapes do not disturb the rule's own tags. */
    expect_reading(rules, "kWh,domain=input_number,entity_id=c,friendly\\ name=K\\,W value=2 1",
                   "c", 1, 2.0);
    stream_reading_rules_free(rules);

    static struct config_tag tags[] = {{.key = "meter type", .value = "cold,water"}};
    static struct config_reading_rule rule = {.measurement = "*",
                                              .tags = tags,
                                              .tag_count = 1,
                                              .id_tag = "meter=id",
                                              .field = "reading value"};
    rules = rules_make(&rule, 1);
    expect_reading(rules, "m,meter\\ type=cold\\,water,meter\\=id=w1 reading\\ value=3 5", "w1", 5,
                   3.0);
    expect_miss(rules, "m,meter\\ type=cold,meter\\=id=w1 reading\\ value=3 5",
                STREAM_READING_MISS_NONE);
    expect_miss(rules, "m,meter\\ type=cold\\,water,meter\\=id=w1 reading=3 5",
                STREAM_READING_MISS_NO_FIELD);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, points_outside_the_rule_are_no_meter_points)
{
    struct stream_reading_rules *rules = rules_make(&ha_rule, 1);
    expect_miss(rules, "kWh,entity_id=a value=1 1", STREAM_READING_MISS_NONE);
    expect_miss(rules, "kWh,domain=sensor,entity_id=a value=1 1", STREAM_READING_MISS_NONE);
    expect_miss(rules, "kWh,domain=input_numbers,entity_id=a value=1 1", STREAM_READING_MISS_NONE);
    expect_miss(rules, "kWh value=1 1", STREAM_READING_MISS_NONE);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, meter_points_that_are_not_readings_say_why)
{
    struct stream_reading_rules *rules = rules_make(&ha_rule, 1);
    expect_miss(rules, "kWh,domain=input_number value=1 1", STREAM_READING_MISS_NO_ID);
    expect_miss(rules, "kWh,domain=input_number,entity=a value=1 1", STREAM_READING_MISS_NO_ID);
    expect_miss(rules, "kWh,domain=input_number,entity_id=a state=1 1",
                STREAM_READING_MISS_NO_FIELD);
    expect_miss(rules, "kWh,domain=input_number,entity_id=a value=\"12\" 1",
                STREAM_READING_MISS_NOT_NUMBER);
    expect_miss(rules, "kWh,domain=input_number,entity_id=a value=true 1",
                STREAM_READING_MISS_NOT_NUMBER);
    expect_miss(rules, "kWh,domain=input_number,entity_id=a value=F 1",
                STREAM_READING_MISS_NOT_NUMBER);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, the_last_of_duplicate_fields_counts)
{
    struct stream_reading_rules *rules = rules_make(&ha_rule, 1);
    expect_reading(rules, "kWh,domain=input_number,entity_id=a value=1,value=2 1", "a", 1, 2.0);
    expect_reading(rules, "kWh,domain=input_number,entity_id=a value=2i,other=9,value=3i 1", "a", 1,
                   3.0);
    /* One field in two types never gets here: the relay refuses such a line, as InfluxDB does. */
    expect_miss(rules, "kWh,domain=input_number,entity_id=a value=\"3\",value=\"x\" 1",
                STREAM_READING_MISS_NOT_NUMBER);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, measurement_glob_selects_points)
{
    static struct config_reading_rule rule = {
        .measurement = "kWh*", .id_tag = "meter", .field = "v"};
    struct stream_reading_rules *rules = rules_make(&rule, 1);
    expect_reading(rules, "kWh_total,meter=a v=4 10", "a", 10, 4.0);
    expect_reading(rules, "kWh,meter=b v=5 11", "b", 11, 5.0);
    expect_miss(rules, "m³,meter=a v=4 10", STREAM_READING_MISS_NONE);
    expect_miss(rules, "total_kWh,meter=a v=4 10", STREAM_READING_MISS_NONE);
    expect_miss(rules, "kWh_total v=4 10", STREAM_READING_MISS_NO_ID);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, measurement_is_matched_unescaped)
{
    static struct config_reading_rule readings[] = {
        {.measurement = "kWh total,*", .id_tag = "meter", .field = "v"},
        {.measurement = "gas m³", .id_tag = "meter", .field = "v"},
    };
    struct stream_reading_rules *rules = rules_make(readings, 2);
    expect_reading(rules, "kWh\\ total\\,haus,meter=a v=1 1", "a", 1, 1.0);
    expect_reading(rules, "gas\\ m³,meter=g v=2 2", "g", 2, 2.0);
    expect_miss(rules, "kWh\\ total,meter=a v=1 1", STREAM_READING_MISS_NONE);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, rules_are_tried_in_order)
{
    static struct config_tag gas_tags[] = {{.key = "unit", .value = "m3"}};
    static struct config_reading_rule readings[] = {
        {.measurement = "kWh*", .id_tag = "meter", .field = "v"},
        {.measurement = "*", .id_tag = "entity_id", .field = "v"},
        {.measurement = "gas", .tags = gas_tags, .tag_count = 1, .id_tag = "id", .field = "v"},
    };
    struct stream_reading_rules *rules = rules_make(readings, 3);
    /* Both of the first two rules fit: the first wins. */
    expect_reading(rules, "kWh_total,meter=a,entity_id=b v=1 1", "a", 1, 1.0);
    /* The first misses its id, the second still matches. */
    expect_reading(rules, "kWh_total,entity_id=b v=2 2", "b", 2, 2.0);
    /* The first two miss (their id tags are absent), the third yields the reading. */
    expect_reading(rules, "gas,unit=m3,id=g v=3 3", "g", 3, 3.0);
    /* A rule that does not fit at all leaves the reason of an earlier miss standing. */
    expect_miss(rules, "kWh_total,other=x v=4 4", STREAM_READING_MISS_NO_ID);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, rules_are_copied_from_the_configuration)
{
    char measurement[] = "kWh*", key[] = "domain", value[] = "input_number", id[] = "entity_id",
         field[] = "value";
    struct config_tag tags[] = {{.key = key, .value = value}};
    struct config_reading_rule rule = {
        .measurement = measurement, .tags = tags, .tag_count = 1, .id_tag = id, .field = field};
    struct stream_reading_rules *rules = rules_make(&rule, 1);
    memset(measurement, 'x', strlen(measurement));
    memset(key, 'x', strlen(key));
    memset(value, 'x', strlen(value));
    memset(id, 'x', strlen(id));
    memset(field, 'x', strlen(field));
    expect_reading(rules, "kWh,domain=input_number,entity_id=a value=8 9", "a", 9, 8.0);
    stream_reading_rules_free(rules);
}

Test(stream_reading_match, no_rules_match_nothing)
{
    struct stream_reading_rules *rules = rules_make(NULL, 0);
    expect_miss(rules, "kWh,domain=input_number,entity_id=a value=1 1", STREAM_READING_MISS_NONE);
    stream_reading_rules_free(rules);
}
