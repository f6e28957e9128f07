/* What the HTTP API shows of a meter, and the RFC 3339 times it uses. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "stream_test.h"

Test(stream_meter_describe, formats_times_as_rfc3339_utc)
{
    char text[40];
    stream_time_format(test_utc_ns(2024, 2, 29, 13) + 5 * 60 * STREAM_CALENDAR_NS_PER_SECOND + 7,
                       text, sizeof text);
    cr_expect_str_eq(text, "2024-02-29T13:05:00.000000007Z");
    stream_time_format(STREAM_CALENDAR_NS_PER_SECOND * 3 / 2, text, sizeof text);
    cr_expect_str_eq(text, "1970-01-01T00:00:01.5Z");
    stream_time_format(-1, text, sizeof text);
    cr_expect_str_eq(text, "1969-12-31T23:59:59.999999999Z");
    stream_time_format(test_utc_ns(2024, 1, 1, 0), text, sizeof text);
    cr_expect_str_eq(text, "2024-01-01T00:00:00Z");
}

static const cJSON *member(const cJSON *object, const char *path)
{
    char copy[128];
    snprintf(copy, sizeof copy, "%s", path);
    const cJSON *item = object;
    for (char *name = strtok(copy, "."); name && item; name = strtok(NULL, "."))
        item = cJSON_GetObjectItemCaseSensitive(item, name);
    cr_assert_not_null(item, "no member %s", path);
    return item;
}

static double number(const cJSON *object, const char *path)
{
    const cJSON *item = member(object, path);
    cr_assert(cJSON_IsNumber(item), "%s is not a number", path);
    return item->valuedouble;
}

static void expect_string(const cJSON *object, const char *path, const char *expected)
{
    const cJSON *item = member(object, path);
    cr_assert(cJSON_IsString(item), "%s is not a string", path);
    cr_expect_str_eq(item->valuestring, expected, "%s", path);
}

static bool flag(const cJSON *object, const char *name)
{
    const cJSON *item = member(member(object, "open_flags"), name);
    cr_assert(cJSON_IsBool(item), "open_flags.%s is not a boolean", name);
    return cJSON_IsTrue(item);
}

Test(stream_meter_describe, shows_the_register_today_counters_flags_and_baselines)
{
    struct stream_calendar utc = stream_calendar_utc();
    const struct config_meter_limits limits = {.stale_after_ms = 6 * 3600 * 1000};
    const struct stream_meter_context context = {.calendar = &utc, .limits = &limits};
    struct stream_meter meter = {0};
    struct test_emissions out = {0};
    /* 1000, then 3 at midnight (a reset: offset 997), 9 at noon, then a drop to 2 that is held. */
    stream_meter_reading_apply(&meter, &context, test_utc_ns(2024, 3, 1, 12), 1000.0,
                               test_emissions_collect, &out);
    stream_meter_reading_apply(&meter, &context, test_utc_ns(2024, 3, 2, 0), 3.0,
                               test_emissions_collect, &out);
    stream_meter_reading_apply(&meter, &context, test_utc_ns(2024, 3, 2, 12), 9.0,
                               test_emissions_collect, &out);
    stream_meter_reading_apply(&meter, &context, test_utc_ns(2024, 3, 2, 14), 2.0,
                               test_emissions_collect, &out);
    cr_assert(meter.flags & STREAM_METER_PENDING, "the drop to 2 is held");

    cJSON *object = cJSON_CreateObject();
    stream_meter_describe(&meter, &utc, test_utc_ns(2024, 3, 2, 16), object);
    expect_string(object, "last_reading.time", "2024-03-02T12:00:00Z");
    cr_expect_eq(number(object, "last_reading.raw"), 9.0);
    cr_expect_eq(number(object, "last_reading.value"), 1006.0, "9 + offset 997");
    cr_expect_eq(number(object, "offset"), 997.0);
    expect_string(object, "newest_seen", "2024-03-02T14:00:00Z");
    /* The reset reading at midnight is that midnight's register: 3 + 997. */
    expect_string(object, "last_midnight.time", "2024-03-02T00:00:00Z");
    cr_expect_eq(number(object, "last_midnight.value"), 1000.0);
    cr_expect_eq(number(object, "today_consumption"), 6.0);
    cr_expect_eq(number(object, "counters.readings"), 3);
    cr_expect_eq(number(object, "counters.reset"), 1);
    cr_expect_eq(number(object, "counters.anomaly"), 0);
    cr_expect(flag(object, "pending_drop"));
    expect_string(object, "pending_drop.time", "2024-03-02T14:00:00Z");
    cr_expect_eq(number(object, "pending_drop.raw"), 2.0);
    cr_expect_not(flag(object, "stale"), "2 h since the newest reading");
    cr_expect_not(flag(object, "stuck"));
    cr_expect_not(flag(object, "leak"));
    cr_expect_not(flag(object, "spike_rate"));
    cr_expect_eq(number(object, "stale_after_s"), 6 * 3600);
    cr_expect_eq(number(object, "detector.days"), 0);
    cr_expect_eq(number(object, "detector.count"), 0);
    cr_expect(cJSON_IsFalse(member(object, "detector.warm")));
    cJSON_Delete(object);

    /* Seven hours after the newest reading the meter is stale. */
    object = cJSON_CreateObject();
    stream_meter_describe(&meter, &utc, test_utc_ns(2024, 3, 2, 21), object);
    cr_expect(flag(object, "stale"));
    cr_expect_eq(number(object, "today_consumption"), 6.0, "still the day of the last reading");
    cJSON_Delete(object);

    /* The next day, with no reading yet, today's consumption is not known. */
    object = cJSON_CreateObject();
    stream_meter_describe(&meter, &utc, test_utc_ns(2024, 3, 3, 0), object);
    cr_expect(cJSON_IsNull(member(object, "today_consumption")));
    expect_string(object, "last_midnight.time", "2024-03-02T00:00:00Z");
    cJSON_Delete(object);
    free(out.items);
}

Test(stream_meter_describe, shows_the_detector_baselines)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct stream_detector_verdict verdict;
    for (int i = 0; i < 40; i++)
        stream_detector_day_close(&meter.detector, i % 2 ? 12.0 : 10.0, 0.0, &verdict);
    cJSON *object = cJSON_CreateObject();
    stream_meter_describe(&meter, &utc, 0, object);
    cr_expect_eq(number(object, "detector.days"), 40);
    cr_expect_eq(number(object, "detector.count"), 40);
    cr_expect(fabs(number(object, "detector.mean") - 11.0) < 1e-12);
    cr_expect(fabs(number(object, "detector.std") - sqrt(40.0 / 39.0)) < 1e-12);
    double q1 = number(object, "detector.q1"), q3 = number(object, "detector.q3");
    cr_expect(fabs(number(object, "detector.iqr_lower") - (q1 - 1.5 * (q3 - q1))) < 1e-12);
    cr_expect(fabs(number(object, "detector.iqr_upper") - (q3 + 1.5 * (q3 - q1))) < 1e-12);
    cr_expect_eq(number(object, "detector.window_days"), 30);
    cr_expect(fabs(number(object, "detector.window_mean") - 11.0) < 1e-12);
    cr_expect(fabs(number(object, "detector.window_std") - sqrt(30.0 / 29.0)) < 1e-12);
    cr_expect(cJSON_IsFalse(member(object, "detector.warm")), "40 days are not 60");
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(object, "last_reading"));
    cJSON_Delete(object);
}
