#include "stream/calendar.h"

#include "config/tz.h"

/* Rounds towards minus infinity, so instants before 1970 land in the right day and second. */
static int64_t calendar_floor_div(int64_t numerator, int64_t denominator)
{
    int64_t quotient = numerator / denominator;
    return quotient - (numerator % denominator < 0);
}

struct stream_calendar stream_calendar_utc(void)
{
    return (struct stream_calendar){.zone = NULL};
}

struct stream_calendar stream_calendar_zone(const struct tz_zone *zone)
{
    return (struct stream_calendar){.zone = zone};
}

/* Local days since 1970-01-01 of the day that contains t_ns. */
static int64_t calendar_local_day(const struct stream_calendar *calendar, int64_t t_ns)
{
    struct tz_local_time local;
    tz_zone_local_time(calendar->zone, calendar_floor_div(t_ns, STREAM_CALENDAR_NS_PER_SECOND),
                       &local);
    return tz_days_from_civil(local.year, local.month, local.day);
}

int64_t stream_calendar_next_midnight(const struct stream_calendar *calendar, int64_t t_ns)
{
    if (!calendar->zone) {
        int64_t day = calendar_floor_div(t_ns, STREAM_CALENDAR_NS_PER_DAY) + 1;
        return day > INT64_MAX / STREAM_CALENDAR_NS_PER_DAY ? INT64_MAX
                                                            : day * STREAM_CALENDAR_NS_PER_DAY;
    }
    int64_t day = calendar_local_day(calendar, t_ns);
    /* Where clocks go back across midnight, t can lie in the repeated hour after the first
     * occurrence of the next midnight; the day after that is then the answer. */
    for (;;) {
        day++;
        int year, month, day_of_month;
        tz_civil_from_days(day, &year, &month, &day_of_month);
        int64_t seconds = tz_zone_local_to_utc(calendar->zone, year, month, day_of_month, 0, 0, 0);
        if (seconds > INT64_MAX / STREAM_CALENDAR_NS_PER_SECOND)
            return INT64_MAX;
        int64_t midnight = seconds * STREAM_CALENDAR_NS_PER_SECOND;
        if (midnight > t_ns)
            return midnight;
    }
}

bool stream_calendar_is_month_last_day(const struct stream_calendar *calendar, int64_t midnight_ns)
{
    int64_t day = calendar->zone ? calendar_local_day(calendar, midnight_ns)
                                 : calendar_floor_div(midnight_ns, STREAM_CALENDAR_NS_PER_DAY);
    int year, month, day_of_month;
    tz_civil_from_days(day + 1, &year, &month, &day_of_month);
    return day_of_month == 1;
}

int64_t stream_calendar_span_ns(int64_t later, int64_t earlier)
{
    int64_t span;
    return __builtin_sub_overflow(later, earlier, &span) ? INT64_MAX : span;
}

double stream_calendar_span_double(int64_t later, int64_t earlier)
{
    int64_t span;
    return __builtin_sub_overflow(later, earlier, &span) ? (double)later - (double)earlier
                                                         : (double)span;
}
