/* The reference pipeline's daily series (analytics.compat: reference), step for step:
 * reduce_high_frequency_data, then backward and forward extrapolation on the rows, then pandas'
 * time interpolation at every 00:00Z of the grid. Comments name the reference's shortcut where the
 * default mode (daily_series.c) does better. */
#include <errno.h>
#include <stdlib.h>

#include "batch/daily_internal.h"
#include "batch/seasonal.h"

/* The reference's thresholds: above 100 readings it thins, above 1000 to ~50 points. */
#define REFERENCE_THIN_MEDIUM 100
#define REFERENCE_THIN_VERY 1000
#define REFERENCE_THIN_TARGET 50
/* Forward gaps at least this long follow the seasonal pattern; shorter ones are linear. */
#define REFERENCE_SEASONAL_MIN_DAYS 7.0

/* reduce_high_frequency_data: > 1000 readings keep the first, every ((n - 2) / 48)-th of the
 * middle ones and the last (months of readings vanish); 101..1000 keep each UTC day's last
 * reading, moved to that day's midnight, plus the very last reading. */
static int reference_thin(const struct batch_meter_readings *readings, struct batch_rows *rows)
{
    const struct batch_reading *raw = readings->readings;
    size_t n = readings->count;
    if (n > REFERENCE_THIN_VERY) {
        size_t step = (n - 2) / (REFERENCE_THIN_TARGET - 2);
        if (step < 1)
            step = 1;
        if (batch_rows_append(rows, raw[0].t_ns, raw[0].value) != 0)
            return -1;
        for (size_t i = 1; i < n - 1; i += step)
            if (batch_rows_append(rows, raw[i].t_ns, raw[i].value) != 0)
                return -1;
        return batch_rows_append(rows, raw[n - 1].t_ns, raw[n - 1].value);
    }
    for (size_t i = 0; i < n; i++) {
        int64_t midnight = batch_daily_floor(raw[i].t_ns, BATCH_NS_PER_DAY) * BATCH_NS_PER_DAY;
        if (rows->count > 0 && rows->t_ns[rows->count - 1] == midnight)
            rows->values[rows->count - 1] = raw[i].value;
        else if (batch_rows_append(rows, midnight, raw[i].value) != 0)
            return -1;
    }
    if (rows->t_ns[rows->count - 1] < raw[n - 1].t_ns)
        return batch_rows_append(rows, raw[n - 1].t_ns, raw[n - 1].value);
    return 0;
}

/* Backward extrapolation to grid_start: a rate from the rows; the value at the grid start, or 0
 * at the zero crossing (and 0 at the grid start before it). A zero rate or a single reading puts
 * 0 at the grid start: the reference's shortcut 4. */
static int reference_backward(struct batch_rows *rows, int64_t grid_start,
                              struct batch_daily_series *out)
{
    int64_t first_ns = rows->t_ns[0];
    double first_value = rows->values[0];
    double rate = 0.0;
    if (rows->count >= 2) {
        if (batch_rate_estimate(rows->t_ns, rows->values, rows->count, &out->backward_rate) != 0)
            return -1;
        out->backward_estimated = true;
        rate = out->backward_rate.rate;
    }
    if (!(rate > 0.0))
        return batch_rows_prepend(rows, grid_start, 0.0);
    double days_back = (double)(first_ns - grid_start) / 1e9 / 86400.0;
    double extrapolated = first_value - rate * days_back;
    if (extrapolated >= 0.0)
        return batch_rows_prepend(rows, grid_start, extrapolated);
    /* pandas' Timedelta(days=d) is int(d * 86400 * 1e9) nanoseconds. */
    int64_t zero_ns = first_ns - (int64_t)(first_value / rate * 24 * 3600 * 1e9);
    if (zero_ns < grid_start)
        zero_ns = grid_start;
    if (batch_rows_prepend(rows, zero_ns, 0.0) != 0)
        return -1;
    return zero_ns > grid_start ? batch_rows_prepend(rows, grid_start, 0.0) : 0;
}

/* Forward extrapolation to grid_end: the rate of all rows (the synthetic backward ones included:
 * shortcut 4 again) times the days; spread by the seasonal pattern when there is one and the gap
 * is at least a week (shortcut 3), else one row at the grid end. The distribution's first point
 * lies on the last reading and is dropped, as the reference's de-duplication keeps the reading. */
static int reference_forward(struct batch_rows *rows, int64_t grid_end, const double *percentages,
                             struct batch_daily_series *out)
{
    int64_t last_ns = rows->t_ns[rows->count - 1];
    double last_value = rows->values[rows->count - 1];
    if (rows->count < 2)
        return batch_rows_append(rows, grid_end, last_value);
    if (batch_rate_estimate(rows->t_ns, rows->values, rows->count, &out->forward_rate) != 0)
        return -1;
    out->forward_estimated = true;
    double rate = out->forward_rate.rate;
    if (!(rate > 0.0))
        return batch_rows_append(rows, grid_end, last_value);
    double days_forward = (double)(grid_end - last_ns) / 1e9 / 86400.0;
    double total = rate * days_forward;
    if (!percentages || days_forward < REFERENCE_SEASONAL_MIN_DAYS)
        return batch_rows_append(rows, grid_end, last_value + total);
    size_t before = rows->count, points;
    if (batch_seasonal_distribute_reference(last_ns, grid_end, total, last_value, percentages, rows,
                                            &points) != 0)
        return -1;
    if (points > 0) {
        /* Drop the point on the last reading (index before). */
        for (size_t i = before + 1; i < rows->count; i++) {
            rows->t_ns[i - 1] = rows->t_ns[i];
            rows->values[i - 1] = rows->values[i];
        }
        rows->count--;
    }
    out->seasonal_forward = true;
    return 0;
}

int batch_daily_reference_build(const struct config_meter *meter, const double *percentages,
                                const struct batch_meter_readings *readings,
                                const struct batch_daily_settings *settings,
                                struct batch_daily_series *out)
{
    if (!readings || readings->count == 0) {
        out->status = "no readings";
        return 0;
    }
    if (!meter || meter->type != CONFIG_METER_PHYSICAL ||
        meter->installation_date == CONFIG_DATE_UNSET) {
        /* The reference raises "missing required installation_date" and skips the meter. */
        out->status = "no installation_date (the reference skips such meters)";
        return 0;
    }
    int64_t start_day = settings->start_day > meter->installation_date ? settings->start_day
                                                                       : meter->installation_date;
    int64_t end_day = settings->end_day;
    if (meter->deinstallation_date != CONFIG_DATE_UNSET && meter->deinstallation_date < end_day)
        end_day = meter->deinstallation_date;
    int64_t grid_start = batch_daily_midnight(NULL, start_day),
            grid_end = batch_daily_midnight(NULL, end_day);

    struct batch_rows rows = {0};
    int result = -1;
    if (readings->count > REFERENCE_THIN_MEDIUM) {
        if (reference_thin(readings, &rows) != 0)
            goto cleanup;
    } else {
        if (batch_rows_reserve(&rows, readings->count + 4) != 0)
            goto cleanup;
        for (size_t i = 0; i < readings->count; i++)
            batch_rows_append(&rows, readings->readings[i].t_ns, readings->readings[i].value);
    }
    out->readings_used = rows.count;
    int64_t first_ns = rows.t_ns[0], last_ns = rows.t_ns[rows.count - 1];
    if (first_ns > grid_start && reference_backward(&rows, grid_start, out) != 0)
        goto cleanup;
    if (last_ns < grid_end && reference_forward(&rows, grid_end, percentages, out) != 0)
        goto cleanup;
    if (end_day < start_day) {
        out->status = "deinstalled before the analysis period";
        result = 0;
        goto cleanup;
    }
    if (batch_daily_grid_make(out, start_day, end_day, NULL) != 0)
        goto cleanup;
    batch_rows_interpolate(&rows, out->t_ns, out->count, out->values);
    batch_daily_extrapolated_count(out, first_ns, last_ns);
    out->status = "ok";
    result = 0;
cleanup:
    if (result != 0)
        errno = ENOMEM;
    batch_rows_free(&rows);
    return result;
}
