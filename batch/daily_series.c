/* The default mode's daily series, and what both modes share. */
#include "batch/daily_series.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "batch/daily_internal.h"
#include "batch/register_clean.h"
#include "batch/seasonal.h"
#include "config/tz.h"

int64_t batch_daily_floor(int64_t numerator, int64_t denominator)
{
    int64_t quotient = numerator / denominator;
    return quotient - (numerator % denominator != 0 && (numerator < 0) != (denominator < 0));
}

int64_t batch_daily_midnight(const struct stream_calendar *calendar, int64_t day)
{
    /* Configured dates reach 9999-12-31, int64 nanoseconds only 2262-04-11: a period ending (or
     * a meter installed) later is open-ended, not an overflow into some other instant. The day
     * of margin covers a zone's offset. */
    if (day >= INT64_MAX / BATCH_NS_PER_DAY - 1)
        return INT64_MAX;
    if (day <= INT64_MIN / BATCH_NS_PER_DAY + 1)
        return INT64_MIN;
    if (!calendar || !calendar->zone)
        return day * BATCH_NS_PER_DAY;
    int year, month, date;
    tz_civil_from_days(day, &year, &month, &date);
    return tz_zone_local_to_utc(calendar->zone, year, month, date, 0, 0, 0) * 1000000000LL;
}

/* The local date (days since epoch) of an instant. */
static int64_t instant_day(const struct stream_calendar *calendar, int64_t t_ns)
{
    int64_t seconds = batch_daily_floor(t_ns, 1000000000LL);
    if (calendar && calendar->zone)
        seconds += tz_zone_offset_at(calendar->zone, seconds);
    return batch_daily_floor(seconds, 86400);
}

int batch_daily_grid_make(struct batch_daily_series *out, int64_t start_day, int64_t end_day,
                          const struct stream_calendar *calendar)
{
    size_t count = (size_t)(end_day - start_day + 1);
    out->t_ns = malloc(count * sizeof *out->t_ns);
    out->days = malloc(count * sizeof *out->days);
    out->values = malloc(count * sizeof *out->values);
    if (!out->t_ns || !out->days || !out->values) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        out->days[i] = start_day + (int64_t)i;
        out->t_ns[i] = batch_daily_midnight(calendar, out->days[i]);
    }
    out->count = count;
    return 0;
}

void batch_daily_extrapolated_count(struct batch_daily_series *out, int64_t first_ns,
                                    int64_t last_ns)
{
    for (size_t i = 0; i < out->count; i++) {
        out->backward_days += out->t_ns[i] < first_ns;
        out->forward_days += out->t_ns[i] > last_ns;
    }
}

/* origin plus days of the seasonal clock in ns. Past 292 years (a reading at InfluxDB's first
 * instant) the offset has no int64: then the doubles' sum, which lies within the readings' span,
 * clamped to int64 in case a pattern stretches it further. */
static int64_t clock_instant(int64_t origin, double days)
{
    double offset = days * (double)BATCH_NS_PER_DAY;
    int64_t sum;
    if (fabs(offset) < 9.2e18 && !__builtin_add_overflow(origin, (int64_t)offset, &sum))
        return sum;
    double t = (double)origin + offset;
    return t >= 9.2e18 ? INT64_MAX : t <= -9.2e18 ? INT64_MIN : (int64_t)t;
}

/* A rate in units per equivalent day of the seasonal clock (plain days without a pattern), fitted
 * to rows[from .. to) with the reference's estimator, so its method choice and robustness carry
 * over. */
static int seasonal_rate(const struct batch_rows *rows, size_t from, size_t to,
                         const double *percentages, struct batch_rate_estimate *out)
{
    size_t count = to - from;
    int64_t *clock_ns = malloc(count * sizeof *clock_ns);
    if (!clock_ns) {
        errno = ENOMEM;
        return -1;
    }
    int64_t origin = rows->t_ns[from];
    for (size_t i = 0; i < count; i++) {
        double days = batch_seasonal_clock_days(percentages, origin, rows->t_ns[from + i]);
        clock_ns[i] = clock_instant(origin, days);
    }
    int result = batch_rate_estimate(clock_ns, rows->values + from, count, out);
    free(clock_ns);
    return result;
}

/* The seasonal-clock length between readings k and k + 1, and their rate on that clock. */
static double clock_span(const struct batch_rows *rows, size_t k, const double *percentages)
{
    return batch_seasonal_clock_days(percentages, rows->t_ns[k], rows->t_ns[k + 1]);
}

/* The register's rate at reading k on the seasonal clock, as PCHIP (Fritsch and Butland's
 * monotone cubic) sets it: a weighted harmonic mean of the rates of the intervals on both sides, 0
 * where they differ in sign or one is 0, so the curve never dips between readings. At the first
 * and last reading the one interval's rate. */
static double reading_rate(const struct batch_rows *rows, size_t k, const double *percentages)
{
    size_t n = rows->count;
    double h0 = k > 0 ? clock_span(rows, k - 1, percentages) : 0.0;
    double h1 = k + 1 < n ? clock_span(rows, k, percentages) : 0.0;
    double s0 = h0 > 0.0 ? (rows->values[k] - rows->values[k - 1]) / h0 : 0.0;
    double s1 = h1 > 0.0 ? (rows->values[k + 1] - rows->values[k]) / h1 : 0.0;
    if (!(h0 > 0.0))
        return s1;
    if (!(h1 > 0.0))
        return s0;
    if (s0 * s1 <= 0.0)
        return 0.0;
    double w1 = 2.0 * h1 + h0, w2 = h1 + 2.0 * h0;
    return (w1 + w2) / (w1 / s0 + w2 / s1);
}

/* The register between two readings a and a + 1. Across a gap of a week or more it follows the
 * seasonal clock (plain days without a pattern) on a monotone cubic through both readings whose
 * rate at each end continues the rates around it, so a cold spell's consumption tapers into the
 * gap instead of stopping at its edge; both readings stay exact. Shorter gaps are linear in time,
 * as numpy.interp. */
static double gap_value(const struct batch_rows *rows, size_t a, int64_t t,
                        const double *percentages, size_t *seasonal_gaps, size_t *last_seasonal_gap)
{
    int64_t ta = rows->t_ns[a], tb = rows->t_ns[a + 1];
    double ya = rows->values[a], yb = rows->values[a + 1];
    if (stream_calendar_span_ns(tb, ta) >= BATCH_DAILY_SEASONAL_GAP_DAYS * BATCH_NS_PER_DAY) {
        double whole = batch_seasonal_clock_days(percentages, ta, tb);
        if (whole > 0.0) {
            if (percentages && *last_seasonal_gap != a + 1) {
                (*seasonal_gaps)++;
                *last_seasonal_gap = a + 1;
            }
            double u = batch_seasonal_clock_days(percentages, ta, t) / whole;
            double da = reading_rate(rows, a, percentages) * whole;
            double db = reading_rate(rows, a + 1, percentages) * whole;
            double u2 = u * u, u3 = u2 * u;
            return ya * (2 * u3 - 3 * u2 + 1) + da * (u3 - 2 * u2 + u) + yb * (-2 * u3 + 3 * u2) +
                   db * (u3 - u2);
        }
    }
    double slope = (yb - ya) / ((double)tb - (double)ta);
    return slope * ((double)t - (double)ta) + ya;
}

static int default_evaluate(const struct batch_rows *rows, const double *percentages,
                            struct batch_daily_series *out)
{
    size_t n = rows->count;
    int64_t first_ns = rows->t_ns[0], last_ns = rows->t_ns[n - 1];
    batch_daily_extrapolated_count(out, first_ns, last_ns);
    double backward_rate = 0.0, forward_rate = 0.0;
    const int64_t window = BATCH_DAILY_RATE_WINDOW_DAYS * BATCH_NS_PER_DAY;
    if (out->backward_days > 0 && n >= 2) {
        size_t to = 2;
        while (to < n && stream_calendar_span_ns(rows->t_ns[to], first_ns) <= window)
            to++;
        if (seasonal_rate(rows, 0, to, percentages, &out->backward_rate) != 0)
            return -1;
        out->backward_estimated = true;
        backward_rate = out->backward_rate.rate;
    }
    if (out->forward_days > 0 && n >= 2) {
        size_t from = n - 2;
        while (from > 0 && stream_calendar_span_ns(last_ns, rows->t_ns[from - 1]) <= window)
            from--;
        if (seasonal_rate(rows, from, n, percentages, &out->forward_rate) != 0)
            return -1;
        out->forward_estimated = true;
        forward_rate = out->forward_rate.rate;
        out->seasonal_forward = percentages != NULL && forward_rate > 0.0;
    }
    size_t segment = 0, last_seasonal_gap = 0;
    for (size_t i = 0; i < out->count; i++) {
        int64_t t = out->t_ns[i];
        if (t < first_ns) {
            double value = rows->values[0] -
                           backward_rate * batch_seasonal_clock_days(percentages, t, first_ns);
            out->values[i] = value > 0.0 ? value : 0.0;
        } else if (t >= last_ns) {
            out->values[i] = rows->values[n - 1] +
                             forward_rate * batch_seasonal_clock_days(percentages, last_ns, t);
        } else {
            while (rows->t_ns[segment + 1] <= t)
                segment++;
            out->values[i] = rows->t_ns[segment] == t
                                 ? rows->values[segment]
                                 : gap_value(rows, segment, t, percentages,
                                             &out->seasonal_gap_count, &last_seasonal_gap);
        }
    }
    return 0;
}

/* The removal day's midnight after: the meter's last reading up to it if one came on that day,
 * else the register at the removal day's start. Nothing is extrapolated past the removal: the
 * time of day it happened is not known. */
static void removal_day_hold(const struct batch_rows *rows, struct batch_daily_series *out)
{
    int64_t day_start = out->t_ns[out->count - 2], day_end = out->t_ns[out->count - 1];
    double held = out->values[out->count - 2];
    for (size_t i = rows->count; i > 0; i--) {
        if (rows->t_ns[i - 1] > day_end)
            continue;
        if (rows->t_ns[i - 1] >= day_start)
            held = rows->values[i - 1];
        break;
    }
    /* A register does not run backwards: never below the day's start. */
    out->values[out->count - 1] = fmax(held, out->values[out->count - 2]);
    /* Held, not extrapolated: the quality report must not count it as a forward day. */
    if (rows->count > 0 && day_end > rows->t_ns[rows->count - 1] && out->forward_days > 0)
        out->forward_days--;
}

static int default_build(const struct config_meter *meter, const double *percentages,
                         const struct batch_meter_readings *readings,
                         const struct batch_daily_settings *settings,
                         struct batch_daily_series *out)
{
    if (meter && meter->type != CONFIG_METER_PHYSICAL) {
        out->status = "configured as a master or virtual meter, but has readings of its own";
        return 0;
    }
    struct batch_rows rows = {0};
    struct batch_register_counts counts;
    int result = -1;
    if (batch_register_clean(readings, &rows, &counts) != 0)
        goto cleanup;
    out->glitch_count = counts.glitches;
    out->reset_count = counts.resets;
    out->replacement_count = counts.replacements;
    out->dip_count = counts.dips;
    out->register_last_reading_ns = counts.last_reading_ns;
    out->register_offset = counts.offset;
    out->readings_used = rows.count;
    result = 0;
    if (rows.count == 0) {
        out->status = "no readings";
        goto cleanup;
    }
    const struct stream_calendar *calendar = settings->calendar;
    int64_t start_day = settings->start_day;
    if (meter && meter->installation_date != CONFIG_DATE_UNSET) {
        if (meter->installation_date > start_day)
            start_day = meter->installation_date;
    } else {
        /* No installation date: the series starts at the first midnight the readings reach. */
        int64_t first_day = instant_day(calendar, rows.t_ns[0]);
        if (batch_daily_midnight(calendar, first_day) < rows.t_ns[0])
            first_day++;
        if (first_day > start_day)
            start_day = first_day;
    }
    int64_t end_day = settings->end_day;
    bool removal_day = false;
    if (meter && meter->deinstallation_date != CONFIG_DATE_UNSET &&
        meter->deinstallation_date < end_day) {
        end_day = meter->deinstallation_date;
        /* The meter counted on the day it was removed, until it was: the series ends at the
         * midnight after, so that day's consumption is not lost between it and its successor. */
        if (end_day >= start_day) {
            end_day++;
            removal_day = true;
        }
    }
    if (end_day < start_day) {
        out->status = "no day of the analysis period between installation and removal";
        goto cleanup;
    }
    result = -1;
    if (batch_daily_grid_make(out, start_day, end_day, calendar) != 0)
        goto cleanup;
    if (default_evaluate(&rows, percentages, out) != 0)
        goto cleanup;
    if (removal_day && out->count >= 2)
        removal_day_hold(&rows, out);
    out->status = "ok";
    result = 0;
cleanup:
    if (result == 0) {
        out->register_readings = rows; /* kept for the validation */
        rows = (struct batch_rows){0};
    }
    batch_rows_free(&rows);
    return result;
}

int batch_daily_series_build(const struct config_meter *meter, const double *percentages,
                             const struct batch_meter_readings *readings,
                             const struct batch_daily_settings *settings,
                             struct batch_daily_series *out)
{
    *out = (struct batch_daily_series){.status = "ok"};
    int result = settings->compat == CONFIG_COMPAT_REFERENCE
                     ? batch_daily_reference_build(meter, percentages, readings, settings, out)
                     : default_build(meter, percentages, readings, settings, out);
    if (result != 0) {
        int saved = errno;
        batch_daily_series_free(out);
        out->status = "out of memory";
        errno = saved;
    }
    return result;
}

void batch_daily_series_free(struct batch_daily_series *series)
{
    free(series->t_ns);
    free(series->days);
    free(series->values);
    batch_rows_free(&series->register_readings);
    *series = (struct batch_daily_series){.status = series->status};
}
