/* The edge of time: readings on the last days whose midnights fit in int64 nanoseconds (InfluxDB's
 * and the relay's timestamp range ends at 2262-04-11T23:47:16Z). One reading from a client with a
 * broken clock must not overflow the midnight arithmetic (UBSan) or loop for ever (release). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "stream/meter.h"
#include "stream_test.h"

static void apply_utc(struct stream_meter *meter, int64_t t, double v, struct test_emissions *out)
{
    struct stream_calendar utc = stream_calendar_utc();
    const struct stream_meter_context context = {.calendar = &utc};
    stream_meter_reading_apply(meter, &context, t, v, test_emissions_collect, out);
}

/* InfluxDB (and the relay's line-protocol parser) accept timestamps up to 9223372036854775806 ns
 * (2262-04-11T23:47:16Z). The last UTC midnight before that is 2262-04-11T00:00Z; the next one
 * does not fit in int64. */
Test(stream_meter_limits, reading_on_the_last_representable_day_does_not_overflow, .timeout = 20)
{
    struct stream_meter meter = {0};
    struct test_emissions out = {0};
    int64_t last_midnight = INT64_C(106751) * TEST_DAY_NS; /* 2262-04-11T00:00:00Z */
    apply_utc(&meter, last_midnight - 12 * TEST_HOUR_NS, 100.0, &out);
    apply_utc(&meter, last_midnight + 12 * TEST_HOUR_NS, 101.0, &out);
    /* One midnight crossed: 2262-04-11T00:00Z at 100.5 */
    cr_expect_eq(test_kind_count(&out, STREAM_EMISSION_DAILY), 1);
    free(out.items);
}

Test(stream_meter_limits, berlin_reading_on_the_last_representable_day_does_not_overflow,
     .timeout = 20)
{
    char error[256];
    struct tz_zone *berlin = tz_zone_load("Europe/Berlin", error, sizeof error);
    cr_assert_not_null(berlin, "%s", error);
    struct stream_calendar calendar = stream_calendar_zone(berlin);
    const struct stream_meter_context context = {.calendar = &calendar};
    struct stream_meter meter = {0};
    struct test_emissions out = {0};
    /* Local midnights 2262-04-10T22:00Z and 2262-04-11T22:00Z (CEST) lie between the readings;
     * the one after (2262-04-12T22:00Z) is past int64. */
    int64_t t = INT64_C(106751) * TEST_DAY_NS + 12 * TEST_HOUR_NS;
    stream_meter_reading_apply(&meter, &context, t - TEST_DAY_NS, 100.0, test_emissions_collect,
                               &out);
    stream_meter_reading_apply(&meter, &context, t + 11 * TEST_HOUR_NS, 101.0,
                               test_emissions_collect, &out);
    cr_expect_eq(test_kind_count(&out, STREAM_EMISSION_DAILY), 2);
    free(out.items);
    tz_zone_free(berlin);
}

/* Counts the daily emissions and keeps the register at two chosen midnights. */
struct span_dailies {
    size_t count;
    int64_t at[2];
    double value[2];
};

static void span_dailies_collect(const struct stream_emission *emission, void *argument)
{
    struct span_dailies *dailies = argument;
    if (emission->kind != STREAM_EMISSION_DAILY)
        return;
    dailies->count++;
    for (int i = 0; i < 2; i++)
        if (emission->timestamp_ns == dailies->at[i])
            dailies->value[i] = emission->value;
}

/* InfluxDB's whole range is 584 years wide, twice what int64 ns differences hold: a reading at its
 * first instant (1677, a client's broken clock) followed by one of today spans more than
 * INT64_MAX ns. The gap, the rate span and the interpolation slope must not overflow (UBSan stops
 * on it; release builds wrapped the gap negative). */
Test(stream_meter_limits, readings_more_than_292_years_apart_do_not_overflow, .timeout = 60)
{
    struct stream_calendar utc = stream_calendar_utc();
    const struct config_meter_limits limits = {.stuck_days = 3, .leak_check = true};
    const struct stream_meter_context context = {.calendar = &utc, .limits = &limits};
    struct stream_meter meter = {0};
    int64_t first = -INT64_C(9223372036854775806), second = test_utc_ns(2024, 6, 1, 0);
    struct span_dailies dailies = {.at = {test_utc_ns(2024, 5, 31, 0), test_utc_ns(2024, 6, 2, 0)}};
    stream_meter_reading_apply(&meter, &context, first, 1.0, span_dailies_collect, &dailies);
    stream_meter_reading_apply(&meter, &context, second, 100.0, span_dailies_collect, &dailies);
    stream_meter_reading_apply(&meter, &context, test_utc_ns(2024, 6, 3, 0), 104.0,
                               span_dailies_collect, &dailies);
    /* Midnights 1677-09-22 .. 2024-06-03: 126,694 days. */
    cr_expect_eq(dailies.count,
                 (size_t)(tz_days_from_civil(2024, 6, 3) - tz_days_from_civil(1677, 9, 22)) + 1);
    long double span = (long double)second - (long double)first;
    long double expected = 1.0L + 99.0L * ((long double)dailies.at[0] - (long double)first) / span;
    cr_expect(fabsl((long double)dailies.value[0] - expected) < 1e-9L,
              "2024-05-31: %.17g, expected %.17Lg", dailies.value[0], expected);
    cr_expect_eq(dailies.value[1], 102.0, "2024-06-02: %.17g", dailies.value[1]);
    cr_expect_eq(meter.late_count, 0);
}
