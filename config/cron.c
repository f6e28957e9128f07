#include "config/cron.h"
#include "config/error.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Every expression that can fire does so within 8 years: February 29 may be 8 years apart
 * (2096 -> 2104), and every other day-of-month/month/weekday combination recurs sooner. */
#define CRON_SEARCH_DAYS (8 * 366 + 1)

struct cron_field {
    const char *name;
    int minimum, maximum;
    const char *const *names; /* names[i] stands for minimum + i; NULL when numbers only */
    const char *names_hint;
};

static const char *const cron_month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                               "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const cron_weekday_names[] = {"sun", "mon", "tue", "wed",
                                                 "thu", "fri", "sat", NULL};

enum { CRON_MINUTE, CRON_HOUR, CRON_DAY_OF_MONTH, CRON_MONTH, CRON_DAY_OF_WEEK, CRON_FIELDS };

static const struct cron_field cron_fields[CRON_FIELDS] = {
    {"minute", 0, 59, NULL, NULL},
    {"hour", 0, 23, NULL, NULL},
    {"day-of-month", 1, 31, NULL, NULL},
    {"month", 1, 12, cron_month_names, "a month name jan-dec"},
    {"day-of-week", 0, 7, cron_weekday_names, "a weekday name sun-sat"},
};

struct cron_slice {
    const char *data;
    size_t length;
};

static bool cron_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Reads a number or (for month and weekday) a three-letter name. Returns 0 or -1 with an error. */
static int cron_value_parse(const struct cron_field *field, struct cron_slice text, int *out,
                            char *error, size_t error_size)
{
    if (text.length > 0 && text.data[0] >= '0' && text.data[0] <= '9') {
        int value = 0;
        for (size_t i = 0; i < text.length; i++) {
            char c = text.data[i];
            if (c < '0' || c > '9' || value > 1000) {
                error_message_set(error, error_size, "%s: \"%.*s\" is not a number", field->name,
                                  (int)text.length, text.data);
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        if (value < field->minimum || value > field->maximum) {
            error_message_set(error, error_size, "%s: \"%.*s\" is out of range %d-%d", field->name,
                              (int)text.length, text.data, field->minimum, field->maximum);
            return -1;
        }
        *out = value;
        return 0;
    }
    if (field->names && text.length == 3) {
        for (int i = 0; field->names[i]; i++) {
            if (strncasecmp(text.data, field->names[i], 3) == 0) {
                *out = field->minimum + i;
                return 0;
            }
        }
    }
    if (field->names)
        error_message_set(error, error_size, "%s: \"%.*s\" is not a number %d-%d or %s",
                          field->name, (int)text.length, text.data, field->minimum, field->maximum,
                          field->names_hint);
    else
        error_message_set(error, error_size, "%s: \"%.*s\" is not a number %d-%d", field->name,
                          (int)text.length, text.data, field->minimum, field->maximum);
    return -1;
}

/* One element of a list: `*`, `n`, `a-b`, each optionally `/step`. Sets its bits in *bits. */
static int cron_element_parse(const struct cron_field *field, struct cron_slice element,
                              uint64_t *bits, char *error, size_t error_size)
{
    if (element.length == 0) {
        error_message_set(error, error_size,
                          "%s: empty list element; expected a number, a range a-b, * or a step /n",
                          field->name);
        return -1;
    }
    struct cron_slice base = element;
    int step = 1;
    bool has_step = false;
    const char *slash = memchr(element.data, '/', element.length);
    if (slash) {
        base.length = (size_t)(slash - element.data);
        struct cron_slice step_text = {slash + 1, element.length - base.length - 1};
        int maximum_step = field->maximum - field->minimum + 1;
        bool valid = step_text.length > 0 && step_text.length <= 3;
        step = 0;
        for (size_t i = 0; valid && i < step_text.length; i++) {
            valid = step_text.data[i] >= '0' && step_text.data[i] <= '9';
            step = step * 10 + (step_text.data[i] - '0');
        }
        if (!valid || step < 1 || step > maximum_step) {
            error_message_set(error, error_size,
                              "%s: step \"%.*s\" in \"%.*s\" must be a number 1-%d", field->name,
                              (int)step_text.length, step_text.data, (int)element.length,
                              element.data, maximum_step);
            return -1;
        }
        has_step = true;
    }
    int low = 0, high = 0;
    if (base.length == 1 && base.data[0] == '*') {
        low = field->minimum;
        high = field->maximum;
    } else {
        const char *dash = base.length > 0 ? memchr(base.data, '-', base.length) : NULL;
        struct cron_slice first = base;
        if (dash)
            first.length = (size_t)(dash - base.data);
        if (cron_value_parse(field, first, &low, error, error_size) < 0)
            return -1;
        high = has_step ? field->maximum : low; /* "5/15" means 5-max/15 */
        if (dash) {
            struct cron_slice second = {dash + 1, base.length - first.length - 1};
            if (cron_value_parse(field, second, &high, error, error_size) < 0)
                return -1;
            if (high < low) {
                error_message_set(error, error_size,
                                  "%s: range \"%.*s\" runs backwards; expected low-high",
                                  field->name, (int)base.length, base.data);
                return -1;
            }
        }
    }
    for (int value = low; value <= high; value += step)
        *bits |= UINT64_C(1) << value;
    return 0;
}

static int cron_field_parse(const struct cron_field *field, struct cron_slice text, uint64_t *bits,
                            char *error, size_t error_size)
{
    *bits = 0;
    size_t start = 0;
    for (;;) {
        const char *comma = memchr(text.data + start, ',', text.length - start);
        size_t end = comma ? (size_t)(comma - text.data) : text.length;
        struct cron_slice element = {text.data + start, end - start};
        if (cron_element_parse(field, element, bits, error, error_size) < 0)
            return -1;
        if (!comma)
            return 0;
        start = end + 1;
    }
}

/* crontab(5)'s @-shortcuts, except @reboot, which has no meaning for a schedule. */
static const char *cron_shortcut_expand(const char *text)
{
    static const struct {
        const char *name, *expansion;
    } shortcuts[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };
    for (size_t i = 0; i < sizeof shortcuts / sizeof shortcuts[0]; i++)
        if (strcasecmp(text, shortcuts[i].name) == 0)
            return shortcuts[i].expansion;
    return NULL;
}

int cron_expression_parse(const char *text, struct cron_expression *out, char *error,
                          size_t error_size)
{
    while (cron_is_space(*text))
        text++;
    struct cron_slice fields[CRON_FIELDS];
    size_t count = 0;
    const char *p = text;
    char trimmed[32];
    if (*p == '@') {
        size_t length = strcspn(p, " \t\r\n");
        if (length < sizeof trimmed && p[length + strspn(p + length, " \t\r\n")] == '\0') {
            memcpy(trimmed, p, length);
            trimmed[length] = '\0';
            p = cron_shortcut_expand(trimmed);
        } else {
            p = NULL;
        }
        if (!p) {
            error_message_set(
                error, error_size,
                "\"%s\" is not a known shortcut; expected @yearly, @monthly, @weekly, "
                "@daily or @hourly, or five fields",
                text);
            return -1;
        }
    }
    while (*p) {
        while (cron_is_space(*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !cron_is_space(*p))
            p++;
        if (count < CRON_FIELDS)
            fields[count] = (struct cron_slice){start, (size_t)(p - start)};
        count++;
    }
    if (count != CRON_FIELDS) {
        error_message_set(
            error, error_size,
            "expected 5 fields (minute hour day-of-month month day-of-week), found %zu", count);
        return -1;
    }
    uint64_t bits[CRON_FIELDS];
    for (int i = 0; i < CRON_FIELDS; i++)
        if (cron_field_parse(&cron_fields[i], fields[i], &bits[i], error, error_size) < 0)
            return -1;
    /* 7 is another name for Sunday. */
    if (bits[CRON_DAY_OF_WEEK] & (UINT64_C(1) << 7))
        bits[CRON_DAY_OF_WEEK] = (bits[CRON_DAY_OF_WEEK] & 0x7f) | 1;
    out->minutes = bits[CRON_MINUTE];
    out->hours = (uint32_t)bits[CRON_HOUR];
    out->days_of_month = (uint32_t)bits[CRON_DAY_OF_MONTH];
    out->months = (uint16_t)bits[CRON_MONTH];
    out->days_of_week = (uint8_t)bits[CRON_DAY_OF_WEEK];
    /* crontab(5): a day field is restricted when it does not start with '*', so a step over '*'
     * ("every other day") still combines with the other day field by "and". */
    out->day_of_month_restricted = fields[CRON_DAY_OF_MONTH].data[0] != '*';
    out->day_of_week_restricted = fields[CRON_DAY_OF_WEEK].data[0] != '*';
    return 0;
}

static bool cron_day_matches(const struct cron_expression *expression, int day, int weekday)
{
    bool day_of_month = expression->days_of_month & (UINT32_C(1) << day);
    bool day_of_week = expression->days_of_week & (1u << weekday);
    if (expression->day_of_month_restricted && expression->day_of_week_restricted)
        return day_of_month || day_of_week;
    return day_of_month && day_of_week;
}

int64_t cron_expression_next(const struct cron_expression *expression, const struct tz_zone *zone,
                             int64_t after_utc_seconds)
{
    struct tz_local_time now;
    tz_zone_local_time(zone, after_utc_seconds, &now);
    int64_t first_day = tz_days_from_civil(now.year, now.month, now.day);
    /* Candidates are whole local minutes after the local reading of after_utc_seconds: none
     * before it can map to a later instant, because local -> UTC (first occurrence, gap end) is
     * monotonic. Inside a repeated hour, candidates may still map to instants before
     * after_utc_seconds; the loop skips those. */
    int first_minute = now.hour * 60 + now.minute + 1;
    for (int64_t day = first_day; day <= first_day + CRON_SEARCH_DAYS; day++) {
        int year, month, day_of_month;
        tz_civil_from_days(day, &year, &month, &day_of_month);
        if (!(expression->months & (1u << month))) {
            /* Skip the rest of the month. */
            int next_year = month == 12 ? year + 1 : year;
            int next_month = month == 12 ? 1 : month + 1;
            day = tz_days_from_civil(next_year, next_month, 1) - 1;
            continue;
        }
        if (!cron_day_matches(expression, day_of_month, tz_weekday_from_days(day)))
            continue;
        int start = day == first_day ? first_minute : 0;
        for (int hour = start / 60; hour < 24; hour++) {
            if (!(expression->hours & (UINT32_C(1) << hour)))
                continue;
            int minute = hour == start / 60 ? start % 60 : 0;
            for (; minute < 60; minute++) {
                if (!(expression->minutes & (UINT64_C(1) << minute)))
                    continue;
                int64_t utc =
                    zone ? tz_zone_local_to_utc(zone, year, month, day_of_month, hour, minute, 0)
                         : day * 86400 + hour * 3600 + minute * 60;
                if (utc > after_utc_seconds)
                    return utc;
            }
        }
    }
    return -1;
}
