/* The meters' days: UTC midnights by default, or the local midnights of a named zone (so a day can
 * last 23 or 25 hours). Day boundaries come from the readings' timestamps, never from the clock. */
#ifndef NEBENKOSTEN_STREAM_CALENDAR_H
#define NEBENKOSTEN_STREAM_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

struct tz_zone;

struct stream_calendar {
    const struct tz_zone *zone; /* borrowed, must outlive the calendar; NULL means UTC */
};

#define STREAM_CALENDAR_NS_PER_SECOND INT64_C(1000000000)
#define STREAM_CALENDAR_NS_PER_DAY (86400 * STREAM_CALENDAR_NS_PER_SECOND)

/* Days in UTC. */
struct stream_calendar stream_calendar_utc(void);
/* Days in zone (borrowed, must outlive the calendar; NULL means UTC). */
struct stream_calendar stream_calendar_zone(const struct tz_zone *zone);

/* The first midnight strictly after t_ns (ns since the epoch), or INT64_MAX when it does not fit in
 * int64 ns (after 2262-04-11). calendar is borrowed. */
int64_t stream_calendar_next_midnight(const struct stream_calendar *calendar, int64_t t_ns);
/* later - earlier in ns for later >= earlier, INT64_MAX when it does not fit: InfluxDB's
 * timestamps (1677-2262) span twice what an int64 difference holds, so two readings more than 292
 * years apart (a client's broken clock) saturate, and any limit is passed by then. */
int64_t stream_calendar_span_ns(int64_t later, int64_t earlier);
/* later - earlier as a double: the int64 difference's when it fits (the same bits as before for
 * normal data), else the two doubles' difference. */
double stream_calendar_span_double(int64_t later, int64_t earlier);

/* Whether the day that begins at midnight_ns is the last day of its month: the midnight at which
 * meter_interpolated_monthly is stamped (2024-01-31T00:00 for January). calendar is borrowed. */
bool stream_calendar_is_month_last_day(const struct stream_calendar *calendar, int64_t midnight_ns);

#endif
