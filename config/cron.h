/* Five-field cron expressions ("minute hour day-of-month month day-of-week") as in crontab(5):
 * lists, ranges, steps, `*`, month and weekday names, 7 as Sunday, and Vixie cron's rule that
 * when both day fields are restricted a day matches if either does. */
#ifndef NEBENKOSTEN_CONFIG_CRON_H
#define NEBENKOSTEN_CONFIG_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/tz.h"

struct cron_expression {
    uint64_t minutes;       /* bit n set: minute n (0-59) */
    uint32_t hours;         /* 0-23 */
    uint32_t days_of_month; /* bit n: day n (1-31) */
    uint16_t months;        /* bit n: month n (1-12) */
    uint8_t days_of_week;   /* bit n: weekday n (0 = Sunday .. 6) */
    bool day_of_month_restricted;
    bool day_of_week_restricted;
};

/* Parses text (NUL-terminated, borrowed) into *out. Also accepts @yearly, @annually, @monthly,
 * @weekly, @daily, @midnight and @hourly. A day field counts as restricted when it does not start
 * with '*' (crontab(5)), so a stepped star ("every other day") combines with the other day field
 * by "and". Returns 0, or -1 with a message in error that names the field and what was expected
 * ("day-of-week: \"8\" is out of range 0-7"). */
int cron_expression_parse(const char *text, struct cron_expression *out, char *error,
                          size_t error_size);

/* The first fire time strictly after after_utc_seconds, in UTC seconds, with the fields read as
 * local wall-clock time in zone (borrowed; NULL = UTC). Across DST: a local time skipped when
 * clocks go forward fires once at the end of the gap; a local time repeated when clocks go back
 * fires once, at its first occurrence. Returns -1 when the expression can never fire
 * (e.g. "0 0 31 2 *"); the search looks 8 years ahead (enough for February 29) and skips
 * non-matching months and days. */
int64_t cron_expression_next(const struct cron_expression *expression, const struct tz_zone *zone,
                             int64_t after_utc_seconds);

#endif
