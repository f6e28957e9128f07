/* Day boundaries: UTC midnights, and Europe/Berlin's local midnights with their 23- and 25-hour
 * days (zones come from the system zoneinfo, as in the config tests). */
#include <criterion/criterion.h>

#include "config/tz.h"
#include "stream/calendar.h"

static int64_t utc_ns(int year, int month, int day, int hour, int minute, int second)
{
    return (tz_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second) *
           STREAM_CALENDAR_NS_PER_SECOND;
}

static struct tz_zone *zone_load(const char *name)
{
    char error[512] = "";
    struct tz_zone *zone = tz_zone_load(name, error, sizeof error);
    cr_assert_not_null(zone, "loading %s: %s", name, error);
    return zone;
}

Test(stream_calendar, utc_next_midnight_is_strictly_after)
{
    struct stream_calendar utc = stream_calendar_utc();
    cr_assert_eq(stream_calendar_next_midnight(&utc, utc_ns(2024, 1, 3, 7, 30, 0)),
                 utc_ns(2024, 1, 4, 0, 0, 0));
    cr_assert_eq(stream_calendar_next_midnight(&utc, utc_ns(2024, 1, 4, 0, 0, 0)),
                 utc_ns(2024, 1, 5, 0, 0, 0));
    cr_assert_eq(stream_calendar_next_midnight(&utc, utc_ns(2024, 1, 4, 0, 0, 0) - 1),
                 utc_ns(2024, 1, 4, 0, 0, 0));
    cr_assert_eq(stream_calendar_next_midnight(&utc, utc_ns(2024, 12, 31, 23, 59, 59)),
                 utc_ns(2025, 1, 1, 0, 0, 0));
    /* Before 1970 the day still starts at the earlier midnight. */
    cr_assert_eq(stream_calendar_next_midnight(&utc, utc_ns(1969, 12, 31, 12, 0, 0)), 0);
    cr_assert_eq(stream_calendar_next_midnight(&utc, -1), 0);
}

Test(stream_calendar, utc_month_last_days)
{
    struct stream_calendar utc = stream_calendar_utc();
    cr_assert(stream_calendar_is_month_last_day(&utc, utc_ns(2024, 1, 31, 0, 0, 0)));
    cr_assert_not(stream_calendar_is_month_last_day(&utc, utc_ns(2024, 1, 30, 0, 0, 0)));
    cr_assert_not(stream_calendar_is_month_last_day(&utc, utc_ns(2024, 2, 1, 0, 0, 0)));
    cr_assert(stream_calendar_is_month_last_day(&utc, utc_ns(2024, 2, 29, 0, 0, 0)));
    cr_assert_not(stream_calendar_is_month_last_day(&utc, utc_ns(2024, 2, 28, 0, 0, 0)));
    cr_assert(stream_calendar_is_month_last_day(&utc, utc_ns(2023, 2, 28, 0, 0, 0)));
    cr_assert(stream_calendar_is_month_last_day(&utc, utc_ns(2024, 4, 30, 0, 0, 0)));
    cr_assert(stream_calendar_is_month_last_day(&utc, utc_ns(2024, 12, 31, 0, 0, 0)));
}

Test(stream_calendar, berlin_spring_day_has_23_hours)
{
    struct tz_zone *berlin = zone_load("Europe/Berlin");
    struct stream_calendar calendar = stream_calendar_zone(berlin);
    int64_t march_31 = stream_calendar_next_midnight(&calendar, utc_ns(2024, 3, 30, 12, 0, 0));
    cr_assert_eq(march_31, utc_ns(2024, 3, 30, 23, 0, 0));
    int64_t april_1 = stream_calendar_next_midnight(&calendar, march_31);
    cr_assert_eq(april_1, utc_ns(2024, 3, 31, 22, 0, 0));
    cr_assert_eq(april_1 - march_31, 23 * 3600 * STREAM_CALENDAR_NS_PER_SECOND);
    cr_assert(stream_calendar_is_month_last_day(&calendar, march_31));
    cr_assert_not(stream_calendar_is_month_last_day(&calendar, april_1));
    tz_zone_free(berlin);
}

Test(stream_calendar, berlin_autumn_day_has_25_hours)
{
    struct tz_zone *berlin = zone_load("Europe/Berlin");
    struct stream_calendar calendar = stream_calendar_zone(berlin);
    int64_t october_27 = stream_calendar_next_midnight(&calendar, utc_ns(2024, 10, 26, 12, 0, 0));
    cr_assert_eq(october_27, utc_ns(2024, 10, 26, 22, 0, 0));
    int64_t october_28 = stream_calendar_next_midnight(&calendar, october_27);
    cr_assert_eq(october_28, utc_ns(2024, 10, 27, 23, 0, 0));
    cr_assert_eq(october_28 - october_27, 25 * 3600 * STREAM_CALENDAR_NS_PER_SECOND);
    /* 22:30Z on the 27th is 23:30 local, still the 27th. */
    cr_assert_eq(stream_calendar_next_midnight(&calendar, utc_ns(2024, 10, 27, 22, 30, 0)),
                 october_28);
    /* Local October 31st begins at 23:00Z on the 30th; UTC's 31st is not a Berlin midnight. */
    cr_assert(stream_calendar_is_month_last_day(&calendar, utc_ns(2024, 10, 30, 23, 0, 0)));
    cr_assert_not(stream_calendar_is_month_last_day(&calendar, utc_ns(2024, 10, 31, 23, 0, 0)));
    tz_zone_free(berlin);
}
