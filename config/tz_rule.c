#include "config/tz_rule.h"
#include "config/tz.h"

#include <string.h>

/* A cursor over the TZ string; parsing works on the slice and never reads past end. */
struct tz_rule_cursor {
    const char *at;
    const char *end;
};

static bool tz_rule_cursor_peek(const struct tz_rule_cursor *cursor, char c)
{
    return cursor->at < cursor->end && *cursor->at == c;
}

static bool tz_rule_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool tz_rule_is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* std or dst: three or more letters, or <...> quoting letters, digits, '+' and '-'. */
static int tz_rule_name_parse(struct tz_rule_cursor *cursor, char *out, size_t out_size)
{
    const char *start, *stop;
    if (tz_rule_cursor_peek(cursor, '<')) {
        start = ++cursor->at;
        while (cursor->at < cursor->end && *cursor->at != '>') {
            char c = *cursor->at;
            if (!tz_rule_is_alpha(c) && !tz_rule_is_digit(c) && c != '+' && c != '-')
                return -1;
            cursor->at++;
        }
        if (cursor->at == cursor->end)
            return -1;
        stop = cursor->at++;
    } else {
        start = cursor->at;
        while (cursor->at < cursor->end && tz_rule_is_alpha(*cursor->at))
            cursor->at++;
        stop = cursor->at;
    }
    size_t length = (size_t)(stop - start);
    if (length < 3 || length >= out_size)
        return -1;
    memcpy(out, start, length);
    out[length] = '\0';
    return 0;
}

static int tz_rule_number_parse(struct tz_rule_cursor *cursor, int maximum, int *out)
{
    if (cursor->at == cursor->end || !tz_rule_is_digit(*cursor->at))
        return -1;
    int value = 0;
    while (cursor->at < cursor->end && tz_rule_is_digit(*cursor->at)) {
        value = value * 10 + (*cursor->at++ - '0');
        if (value > maximum)
            return -1;
    }
    *out = value;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hours up to max_hours; the result is signed seconds. */
static int tz_rule_time_parse(struct tz_rule_cursor *cursor, int max_hours, int32_t *out)
{
    int sign = 1;
    if (tz_rule_cursor_peek(cursor, '+')) {
        cursor->at++;
    } else if (tz_rule_cursor_peek(cursor, '-')) {
        sign = -1;
        cursor->at++;
    }
    int hours = 0, minutes = 0, seconds = 0;
    if (tz_rule_number_parse(cursor, max_hours, &hours) < 0)
        return -1;
    if (tz_rule_cursor_peek(cursor, ':')) {
        cursor->at++;
        if (tz_rule_number_parse(cursor, 59, &minutes) < 0)
            return -1;
        if (tz_rule_cursor_peek(cursor, ':')) {
            cursor->at++;
            if (tz_rule_number_parse(cursor, 59, &seconds) < 0)
                return -1;
        }
    }
    *out = sign * (hours * 3600 + minutes * 60 + seconds);
    return 0;
}

static int tz_rule_date_parse(struct tz_rule_cursor *cursor, struct tz_rule_date *out)
{
    if (tz_rule_cursor_peek(cursor, 'J')) {
        cursor->at++;
        out->kind = TZ_RULE_DATE_JULIAN;
        if (tz_rule_number_parse(cursor, 365, &out->day) < 0 || out->day < 1)
            return -1;
    } else if (tz_rule_cursor_peek(cursor, 'M')) {
        cursor->at++;
        out->kind = TZ_RULE_DATE_MONTH_WEEK;
        if (tz_rule_number_parse(cursor, 12, &out->month) < 0 || out->month < 1 ||
            !tz_rule_cursor_peek(cursor, '.'))
            return -1;
        cursor->at++;
        if (tz_rule_number_parse(cursor, 5, &out->week) < 0 || out->week < 1 ||
            !tz_rule_cursor_peek(cursor, '.'))
            return -1;
        cursor->at++;
        if (tz_rule_number_parse(cursor, 6, &out->day) < 0)
            return -1;
    } else {
        out->kind = TZ_RULE_DATE_ZERO_BASED;
        if (tz_rule_number_parse(cursor, 365, &out->day) < 0)
            return -1;
    }
    out->time = 2 * 3600;
    if (tz_rule_cursor_peek(cursor, '/')) {
        cursor->at++;
        /* RFC 8536 section 3.3.1 extends the POSIX range 0..24 to -167..167 hours. */
        if (tz_rule_time_parse(cursor, 167, &out->time) < 0)
            return -1;
    }
    return 0;
}

int tz_rule_parse(const char *text, size_t length, struct tz_rule *out)
{
    struct tz_rule_cursor cursor = {text, text + length};
    memset(out, 0, sizeof *out);
    int32_t west = 0;
    if (tz_rule_name_parse(&cursor, out->standard_name, sizeof out->standard_name) < 0 ||
        tz_rule_time_parse(&cursor, 24, &west) < 0)
        return -1;
    out->standard_offset = -west;
    out->daylight_offset = out->standard_offset;
    if (cursor.at == cursor.end)
        return 0;
    out->has_daylight = true;
    if (tz_rule_name_parse(&cursor, out->daylight_name, sizeof out->daylight_name) < 0)
        return -1;
    out->daylight_offset = out->standard_offset + 3600;
    if (cursor.at < cursor.end && *cursor.at != ',') {
        if (tz_rule_time_parse(&cursor, 24, &west) < 0)
            return -1;
        out->daylight_offset = -west;
    }
    if (cursor.at == cursor.end) {
        out->start = (struct tz_rule_date){TZ_RULE_DATE_MONTH_WEEK, 3, 2, 0, 2 * 3600};
        out->end = (struct tz_rule_date){TZ_RULE_DATE_MONTH_WEEK, 11, 1, 0, 2 * 3600};
        return 0;
    }
    if (!tz_rule_cursor_peek(&cursor, ','))
        return -1;
    cursor.at++;
    if (tz_rule_date_parse(&cursor, &out->start) < 0 || !tz_rule_cursor_peek(&cursor, ','))
        return -1;
    cursor.at++;
    if (tz_rule_date_parse(&cursor, &out->end) < 0 || cursor.at != cursor.end)
        return -1;
    return 0;
}

static bool tz_rule_is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Local seconds since the epoch (as if local time were UTC) at which date happens in year. */
static int64_t tz_rule_date_local_seconds(const struct tz_rule_date *date, int year)
{
    int64_t days = 0;
    switch (date->kind) {
    case TZ_RULE_DATE_JULIAN:
        days = tz_days_from_civil(year, 1, 1) + date->day - 1 +
               (tz_rule_is_leap_year(year) && date->day >= 60);
        break;
    case TZ_RULE_DATE_ZERO_BASED:
        days = tz_days_from_civil(year, 1, 1) + date->day;
        break;
    case TZ_RULE_DATE_MONTH_WEEK: {
        int64_t first = tz_days_from_civil(year, date->month, 1);
        int64_t next_month = date->month == 12 ? tz_days_from_civil(year + 1, 1, 1)
                                               : tz_days_from_civil(year, date->month + 1, 1);
        days = first + (date->day - tz_weekday_from_days(first) + 7) % 7 + (date->week - 1) * 7;
        while (days >= next_month) /* week 5 means the last such weekday */
            days -= 7;
        break;
    }
    }
    return days * 86400 + date->time;
}

int32_t tz_rule_offset_at(const struct tz_rule *rule, int64_t utc_seconds)
{
    if (!rule->has_daylight)
        return rule->standard_offset;
    int year = 0, month = 0, day = 0;
    int64_t local_days = (utc_seconds + rule->standard_offset) / 86400;
    if ((utc_seconds + rule->standard_offset) % 86400 < 0)
        local_days--;
    tz_civil_from_days(local_days, &year, &month, &day);
    /* The latest DST start or end at or before the instant decides; looking at the neighbouring
     * years covers rule times beyond 24 h and zones whose DST spans the new year. On a tie the
     * start wins, which makes "all year DST" strings (",0/0,J365/25") stay in DST. */
    bool found = false, daylight = false;
    int64_t latest = 0;
    for (int y = year - 1; y <= year + 1; y++) {
        int64_t start = tz_rule_date_local_seconds(&rule->start, y) - rule->standard_offset;
        int64_t end = tz_rule_date_local_seconds(&rule->end, y) - rule->daylight_offset;
        if (end <= utc_seconds && (!found || end > latest)) {
            latest = end;
            daylight = false;
            found = true;
        }
        if (start <= utc_seconds && (!found || start >= latest)) {
            latest = start;
            daylight = true;
            found = true;
        }
    }
    return daylight ? rule->daylight_offset : rule->standard_offset;
}
