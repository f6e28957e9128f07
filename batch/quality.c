/* Validation and quality figures per physical meter. */
#include "batch/quality.h"

#include <math.h>

#define NS_PER_DAY (86400LL * 1000000000LL)

static void deviation_add(struct batch_validation *out, double deviation, double *sum)
{
    out->checked++;
    *sum += deviation;
    if (deviation > out->max_deviation)
        out->max_deviation = deviation;
    if (deviation > BATCH_VALIDATION_TOLERANCE)
        out->mismatches++;
}

static void reference_validate(const struct batch_series *daily,
                               const struct batch_meter_readings *readings, int64_t start_day,
                               struct batch_validation *out, double *sum)
{
    for (size_t i = 0; i < readings->count; i++) {
        const struct batch_reading *reading = &readings->readings[i];
        if (reading->t_ns < start_day * NS_PER_DAY)
            continue;
        ptrdiff_t at = batch_series_find(daily, reading->t_ns);
        if (at >= 0)
            deviation_add(out, fabs(daily->values[at] - reading->value), sum);
    }
}

static void default_validate(const struct batch_series *daily, const struct batch_rows *rows,
                             struct batch_validation *out, double *sum)
{
    size_t day = 0;
    for (size_t i = 0; i < rows->count && daily->count > 0; i++) {
        int64_t t = rows->t_ns[i];
        if (t < daily->t_ns[0] || t > daily->t_ns[daily->count - 1])
            continue;
        while (day + 1 < daily->count && daily->t_ns[day + 1] <= t)
            day++;
        double value = rows->values[i], deviation;
        if (daily->t_ns[day] == t) {
            deviation = fabs(daily->values[day] - value);
        } else {
            double low = fmin(daily->values[day], daily->values[day + 1]);
            double high = fmax(daily->values[day], daily->values[day + 1]);
            deviation = value < low ? low - value : value > high ? value - high : 0.0;
        }
        deviation_add(out, deviation, sum);
    }
}

void batch_validation_compute(const struct batch_physical_result *physical,
                              const struct batch_meter_readings *readings,
                              enum config_compat compat, int64_t start_day,
                              struct batch_validation *out)
{
    *out = (struct batch_validation){0};
    double sum = 0.0;
    if (!readings || physical->daily.count == 0) {
        /* The reference passes a meter with nothing to compare (its validation.json: all_match
         * with 0 points for a meter it gave no series). */
        out->passed = compat == CONFIG_COMPAT_REFERENCE;
        return;
    }
    if (compat == CONFIG_COMPAT_REFERENCE) {
        reference_validate(&physical->daily, readings, start_day, out, &sum);
        out->passed = out->checked > 0 && out->mismatches == 0;
    } else {
        default_validate(&physical->daily, &physical->build.register_readings, out, &sum);
        out->passed = out->mismatches == 0;
    }
    out->mean_deviation = out->checked > 0 ? sum / (double)out->checked : 0.0;
}

void batch_quality_compute(const struct batch_physical_result *physical,
                           const struct batch_meter_readings *readings, enum config_compat compat,
                           int64_t start_day, int64_t end_day, struct batch_quality *out)
{
    *out = (struct batch_quality){0};
    out->series_days = physical->daily.count;
    if (physical->daily.count > 0)
        out->series_end_ns = physical->daily.t_ns[physical->daily.count - 1];
    int64_t from = start_day * NS_PER_DAY, to = (end_day + 1) * NS_PER_DAY;
    if (compat != CONFIG_COMPAT_REFERENCE && physical->daily.count > 0) {
        from = physical->daily.t_ns[0];
        to = physical->daily.t_ns[physical->daily.count - 1] + 1;
    }
    out->total_days = compat == CONFIG_COMPAT_REFERENCE ? (size_t)(end_day - start_day + 1)
                                                        : physical->daily.count;
    if (!readings)
        return;
    double gap_sum = 0.0;
    size_t gap_count = 0;
    int64_t previous = 0;
    for (size_t i = 0; i < readings->count; i++) {
        int64_t t = readings->readings[i].t_ns;
        if (t < from || t >= to)
            continue;
        if (out->reading_count == 0) {
            out->first_reading_ns = t;
        } else {
            double gap = (double)(t - previous) / (double)NS_PER_DAY;
            /* The reference counts only the gaps over a day (its quality.csv: 0 for hourly
             * readings, the mean of the longer gaps for daily readings with some missing). */
            if (compat != CONFIG_COMPAT_REFERENCE || gap > 1.0) {
                gap_sum += gap;
                gap_count++;
                if (gap > out->largest_gap_days)
                    out->largest_gap_days = gap;
            }
        }
        out->last_reading_ns = t;
        previous = t;
        out->reading_count++;
    }
    if (gap_count > 0)
        out->mean_gap_days = gap_sum / (double)gap_count;
    if (compat != CONFIG_COMPAT_REFERENCE) {
        /* The days the series extrapolated: readings outside the grid (before the installation,
         * after the removal) bound it too, so counting from the grid's readings alone would call
         * interpolated days extrapolated, or a series made only of extrapolation none. */
        out->backward_days = physical->build.backward_days;
        out->forward_days = physical->build.forward_days;
    } else if (out->reading_count > 0) {
        if (out->first_reading_ns > from)
            out->backward_days = (size_t)((out->first_reading_ns - from) / NS_PER_DAY);
        if (end_day * NS_PER_DAY > out->last_reading_ns)
            out->forward_days =
                (size_t)((end_day * NS_PER_DAY - out->last_reading_ns) / NS_PER_DAY);
    }
    if (out->total_days > 0)
        out->coverage_percent = 100.0 * (double)out->reading_count / (double)out->total_days;
}
