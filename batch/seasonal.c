/* Spreading consumption over days by a monthly pattern. */
#include "batch/seasonal.h"

#include <errno.h>
#include <stdlib.h>

#include "config/tz.h"
#include "stream/calendar.h"

#define NS_PER_DAY (86400LL * 1000000000LL)
#define DAYS_PER_YEAR 365.2425

static int64_t floor_divide(int64_t numerator, int64_t denominator)
{
    int64_t quotient = numerator / denominator;
    return quotient - (numerator % denominator != 0 && (numerator < 0) != (denominator < 0));
}

static int month_of(int64_t t_ns)
{
    int year, month, day;
    tz_civil_from_days(floor_divide(t_ns, NS_PER_DAY), &year, &month, &day);
    return month;
}

int batch_seasonal_distribute_reference(int64_t start_ns, int64_t end_ns, double total_consumption,
                                        double start_value, const double *percentages,
                                        struct batch_rows *rows, size_t *point_count)
{
    *point_count = 0;
    if (end_ns < start_ns)
        return 0;
    size_t count = (size_t)((end_ns - start_ns) / NS_PER_DAY) + 1;
    /* The reference groups the points by month of the year; a window never spans a year here
     * (forward fills end at the analysis end), and if it did, a month number's points would
     * share one portion, as in the reference. */
    size_t month_points[12] = {0};
    for (size_t k = 0; k < count; k++)
        month_points[month_of(start_ns + (int64_t)k * NS_PER_DAY) - 1]++;
    double weight_sum = 0.0;
    for (int m = 0; m < 12; m++)
        if (month_points[m] > 0)
            weight_sum += percentages[m];
    if (batch_rows_reserve(rows, rows->count + count) != 0)
        return -1;
    double value = start_value;
    for (size_t k = 0; k < count; k++) {
        int64_t t = start_ns + (int64_t)k * NS_PER_DAY;
        int m = month_of(t) - 1;
        double share = weight_sum > 0.0 ? percentages[m] / weight_sum : 0.0;
        value += total_consumption * share / (double)month_points[m];
        if (batch_rows_append(rows, t, value) != 0)
            return -1;
    }
    *point_count = count;
    return 0;
}

/* Equivalent days per real day in the month containing day (days since the epoch). */
static double clock_rate(const double *percentages, int year, int month)
{
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int days = month_days[month - 1];
    if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
        days = 29;
    return percentages[month - 1] / 100.0 * DAYS_PER_YEAR / days;
}

double batch_seasonal_clock_days(const double *percentages, int64_t from_ns, int64_t to_ns)
{
    if (!percentages)
        return stream_calendar_span_double(to_ns, from_ns) / (double)NS_PER_DAY;
    if (to_ns < from_ns)
        return -batch_seasonal_clock_days(percentages, to_ns, from_ns);
    double total = 0.0;
    int64_t at = from_ns;
    while (at < to_ns) {
        int year, month, day;
        tz_civil_from_days(floor_divide(at, NS_PER_DAY), &year, &month, &day);
        int next_year = month == 12 ? year + 1 : year, next_month = month == 12 ? 1 : month + 1;
        int64_t month_end = tz_days_from_civil(next_year, next_month, 1) * NS_PER_DAY;
        int64_t piece_end = month_end < to_ns ? month_end : to_ns;
        total +=
            clock_rate(percentages, year, month) * (double)(piece_end - at) / (double)NS_PER_DAY;
        at = piece_end;
    }
    return total;
}
