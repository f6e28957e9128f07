/* The stream's emissions as line protocol, in the output schema of spec/analytics.md. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "stream/emission_format.h"

#define T_NS INT64_C(1700000000123456789)

/* Formats emission for id into a fresh buffer and expects exactly line. */
static void expect_line(const char *id, const struct stream_emission *emission, const char *line)
{
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(stream_emission_format(&out, id, strlen(id), emission), 0);
    cr_expect_eq(out.length, strlen(line), "%.*s", (int)out.length, out.data);
    cr_expect_eq(memcmp(out.data, line, strlen(line)), 0, "got %.*s, expected %s", (int)out.length,
                 out.data, line);
    buffer_release(&out);
}

Test(stream_emission_format, register_and_consumption_lines)
{
    expect_line("strom",
                &(struct stream_emission){
                    .kind = STREAM_EMISSION_DAILY, .timestamp_ns = T_NS, .value = 1234.5},
                "meter_interpolated_daily,meter_id=strom value=1234.5 1700000000123456789\n");
    expect_line("strom",
                &(struct stream_emission){
                    .kind = STREAM_EMISSION_CONSUMPTION, .timestamp_ns = T_NS, .value = 12.25},
                "meter_consumption,meter_id=strom value=12.25 1700000000123456789\n");
    expect_line("strom",
                &(struct stream_emission){
                    .kind = STREAM_EMISSION_MONTHLY, .timestamp_ns = -1, .value = 100},
                "meter_interpolated_monthly,meter_id=strom value=100 -1\n");
}

Test(stream_emission_format, anomaly_line_has_its_statistics_and_an_integer_count)
{
    struct stream_emission anomaly = {.kind = STREAM_EMISSION_ANOMALY,
                                      .timestamp_ns = T_NS,
                                      .value = 42.5,
                                      .z_score = 3.25,
                                      .iqr_lower = 1.5,
                                      .iqr_upper = 9.75,
                                      .anomaly_count = 2};
    expect_line("strom", &anomaly,
                "meter_anomaly,meter_id=strom value=42.5,z_score=3.25,iqr_lower=1.5,"
                "iqr_upper=9.75,anomaly_count=2i 1700000000123456789\n");
    anomaly.z_score = NAN;
    expect_line("strom", &anomaly,
                "meter_anomaly,meter_id=strom value=42.5,iqr_lower=1.5,iqr_upper=9.75,"
                "anomaly_count=2i 1700000000123456789\n");
    anomaly.value = INFINITY;
    anomaly.iqr_lower = NAN;
    anomaly.iqr_upper = -INFINITY;
    expect_line("strom", &anomaly,
                "meter_anomaly,meter_id=strom anomaly_count=2i 1700000000123456789\n");
}

Test(stream_emission_format, event_line_has_kind_tag_and_escaped_detail)
{
    struct stream_emission event = {.kind = STREAM_EMISSION_EVENT,
                                    .timestamp_ns = T_NS,
                                    .value = 3,
                                    .event = STREAM_EVENT_RESET};
    snprintf(event.detail, sizeof event.detail, "register \"fell\" from 1000 to 3, C:\\meter");
    expect_line("strom", &event,
                "meter_event,meter_id=strom,kind=reset value=3,detail=\"register \\\"fell\\\" "
                "from 1000 to 3, C:\\\\meter\" 1700000000123456789\n");
    event.value = NAN;
    event.event = STREAM_EVENT_STALE;
    snprintf(event.detail, sizeof event.detail, "no reading for 7 h");
    expect_line("strom", &event,
                "meter_event,meter_id=strom,kind=stale detail=\"no reading for 7 h\" "
                "1700000000123456789\n");
    event.event = STREAM_EVENT_SPIKE_RATE;
    event.detail[0] = '\0';
    expect_line("strom", &event,
                "meter_event,meter_id=strom,kind=spike_rate detail=\"\" 1700000000123456789\n");
}

Test(stream_emission_format, meter_id_is_escaped_as_a_tag_value)
{
    expect_line(
        "Küche Strom,1=2",
        &(struct stream_emission){.kind = STREAM_EMISSION_DAILY, .timestamp_ns = 0, .value = 1},
        "meter_interpolated_daily,meter_id=Küche\\ Strom\\,1\\=2 value=1 0\n");
}

Test(stream_emission_format, unusable_meter_id_appends_nothing)
{
    const struct stream_emission daily = {
        .kind = STREAM_EMISSION_DAILY, .timestamp_ns = 0, .value = 1};
    static const char *const ids[] = {"a\tb", "a\nb", "a\x7f", "\xff", ""};
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(buffer_append(&out, "kept\n", 5), 0);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        cr_expect_eq(stream_emission_format(&out, ids[i], strlen(ids[i]), &daily), -EINVAL,
                     "id %zu", i);
        cr_expect_eq(out.length, 5, "id %zu appended something", i);
    }
    cr_expect_eq(memcmp(out.data, "kept\n", 5), 0);
    buffer_release(&out);
}

Test(stream_emission_format, lines_are_appended)
{
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(
        stream_emission_format(
            &out, "a", 1, &(struct stream_emission){.kind = STREAM_EMISSION_DAILY, .value = 1}),
        0);
    cr_assert_eq(stream_emission_format(
                     &out, "b", 1,
                     &(struct stream_emission){.kind = STREAM_EMISSION_CONSUMPTION, .value = 2}),
                 0);
    static const char expected[] =
        "meter_interpolated_daily,meter_id=a value=1 0\nmeter_consumption,meter_id=b value=2 0\n";
    cr_expect_eq(out.length, strlen(expected));
    cr_expect_eq(memcmp(out.data, expected, strlen(expected)), 0, "%.*s", (int)out.length,
                 out.data);
    buffer_release(&out);
}

Test(stream_emission_format, floats_are_the_shortest_round_trip)
{
    static const struct {
        double value;
        const char *line;
    } cases[] = {
        {0.1, "meter_consumption,meter_id=m value=0.1 0\n"},
        {1e21, "meter_consumption,meter_id=m value=1e+21 0\n"},
        {-0.5, "meter_consumption,meter_id=m value=-0.5 0\n"},
        {0.1 + 0.2, "meter_consumption,meter_id=m value=0.30000000000000004 0\n"},
        {123456789.125, "meter_consumption,meter_id=m value=123456789.125 0\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_line(
            "m",
            &(struct stream_emission){.kind = STREAM_EMISSION_CONSUMPTION, .value = cases[i].value},
            cases[i].line);
}
