/* The POSIX TZ string at the end of a TZif file ("CET-1CEST,M3.5.0,M10.5.0/3"): the rule for
 * instants after the file's last transition. Internal to config/tz.c; exported for its tests. */
#ifndef NEBENKOSTEN_CONFIG_TZ_RULE_H
#define NEBENKOSTEN_CONFIG_TZ_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* When DST starts or ends in a year: a date form plus the local time of day (RFC 8536 allows
 * -167..167 hours). */
struct tz_rule_date {
    enum {
        TZ_RULE_DATE_JULIAN,     /* Jn: day 1..365, February 29 never counted */
        TZ_RULE_DATE_ZERO_BASED, /* n: day 0..365, February 29 counted */
        TZ_RULE_DATE_MONTH_WEEK, /* Mm.w.d: weekday d of week w (5 = last) of month m */
    } kind;
    int month, week, day; /* day holds n for the two day-number forms */
    int32_t time;         /* seconds after local midnight */
};

struct tz_rule {
    char standard_name[16], daylight_name[16];
    int32_t standard_offset; /* seconds east of UTC (the POSIX string counts west) */
    int32_t daylight_offset;
    bool has_daylight;
    struct tz_rule_date start, end; /* start in standard time, end in daylight time */
};

/* Parses text[0..length). A DST name without dates gets the US rules (",M3.2.0,M11.1.0"), as
 * glibc does. Returns 0, or -1 when text is not a valid TZ string. */
int tz_rule_parse(const char *text, size_t length, struct tz_rule *out);

/* Offset in seconds east of UTC that rule gives for the UTC instant utc_seconds. rule borrowed. */
int32_t tz_rule_offset_at(const struct tz_rule *rule, int64_t utc_seconds);

#endif
