/* Series of values at midnights, and the two derivations every meter gets. */
#include "batch/series.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config/tz.h"

#define NS_PER_SECOND 1000000000LL

int batch_series_append(struct batch_series *series, int64_t t_ns, double value)
{
    if (series->count == series->capacity) {
        size_t capacity = series->capacity ? series->capacity * 2 : 64;
        int64_t *t = realloc(series->t_ns, capacity * sizeof *t);
        if (!t)
            goto out_of_memory;
        series->t_ns = t;
        double *values = realloc(series->values, capacity * sizeof *values);
        if (!values)
            goto out_of_memory;
        series->values = values;
        series->capacity = capacity;
    }
    series->t_ns[series->count] = t_ns;
    series->values[series->count] = value;
    series->count++;
    return 0;
out_of_memory:
    errno = ENOMEM;
    return -1;
}

int batch_series_copy(const struct batch_series *source, struct batch_series *out)
{
    *out = (struct batch_series){.meter_id = source->meter_id};
    for (size_t i = 0; i < source->count; i++)
        if (batch_series_append(out, source->t_ns[i], source->values[i]) != 0)
            return -1;
    return 0;
}

void batch_series_free(struct batch_series *series)
{
    free(series->t_ns);
    free(series->values);
    *series = (struct batch_series){.meter_id = series->meter_id};
}

ptrdiff_t batch_series_find(const struct batch_series *series, int64_t t_ns)
{
    size_t low = 0, high = series->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (series->t_ns[middle] == t_ns)
            return (ptrdiff_t)middle;
        if (series->t_ns[middle] < t_ns)
            low = middle + 1;
        else
            high = middle;
    }
    return -1;
}

static void local_date(const struct stream_calendar *calendar, int64_t t_ns, int *year, int *month)
{
    int64_t seconds = t_ns / NS_PER_SECOND - (t_ns % NS_PER_SECOND < 0);
    struct tz_local_time local;
    tz_zone_local_time(calendar ? calendar->zone : NULL, seconds, &local);
    *year = local.year;
    *month = local.month;
}

static int64_t month_last_midnight(const struct stream_calendar *calendar, int year, int month)
{
    int next_year = month == 12 ? year + 1 : year, next_month = month == 12 ? 1 : month + 1;
    int64_t last_day = tz_days_from_civil(next_year, next_month, 1) - 1;
    int y, m, d;
    tz_civil_from_days(last_day, &y, &m, &d);
    return tz_zone_local_to_utc(calendar ? calendar->zone : NULL, y, m, d, 0, 0, 0) * NS_PER_SECOND;
}

int batch_series_monthly(const struct batch_series *daily, const struct stream_calendar *calendar,
                         struct batch_series *out)
{
    *out = (struct batch_series){.meter_id = daily->meter_id};
    for (size_t i = 0; i < daily->count; i++) {
        int year, month;
        local_date(calendar, daily->t_ns[i], &year, &month);
        bool month_ends = i + 1 == daily->count;
        if (!month_ends) {
            int next_year, next_month;
            local_date(calendar, daily->t_ns[i + 1], &next_year, &next_month);
            month_ends = next_year != year || next_month != month;
        }
        if (month_ends && batch_series_append(out, month_last_midnight(calendar, year, month),
                                              daily->values[i]) != 0)
            return -1;
    }
    return 0;
}

int batch_series_consumption(const struct batch_series *daily, struct batch_series *out)
{
    *out = (struct batch_series){.meter_id = daily->meter_id};
    for (size_t i = 0; i < daily->count; i++) {
        double value = i == 0 ? 0.0 : daily->values[i] - daily->values[i - 1];
        if (!(value > 0.0))
            value = 0.0;
        if (batch_series_append(out, daily->t_ns[i], value) != 0)
            return -1;
    }
    return 0;
}
