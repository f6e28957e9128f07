#include "stream/detector.h"

#include <math.h>

#include "config/tz.h"

/* A spread this small against its level is rounding noise (a stretch of identical interpolated
 * days): the score abstains instead of deciding by noise, or reporting an infinite z. */
#define DETECTOR_SPREAD_EPSILON 1e-9

void stream_welford_add(struct stream_welford *welford, double x)
{
    welford->count++;
    double delta = x - welford->mean;
    welford->mean += delta / (double)welford->count;
    welford->m2 += delta * (x - welford->mean);
}

double stream_welford_std(const struct stream_welford *welford)
{
    if (welford->count < 2)
        return 0.0;
    return sqrt(fmax(welford->m2, 0.0) / (double)(welford->count - 1));
}

double stream_detector_seasonal_factor(const double *percentages,
                                       const struct stream_calendar *calendar, int64_t midnight_ns)
{
    if (!percentages)
        return 0.0;
    /* The consumption stamped at a midnight was used during the day before it. */
    int64_t second = midnight_ns / STREAM_CALENDAR_NS_PER_SECOND - 1;
    struct tz_local_time local;
    tz_zone_local_time(calendar->zone, second, &local);
    int64_t first = tz_days_from_civil(local.year, local.month, 1);
    int64_t next = local.month == 12 ? tz_days_from_civil(local.year + 1, 1, 1)
                                     : tz_days_from_civil(local.year, local.month + 1, 1);
    double factor = percentages[local.month - 1] / 100.0 * 365.2425 / (double)(next - first);
    return fmax(factor, STREAM_DETECTOR_SEASONAL_MIN_FACTOR);
}

static bool detector_spread_usable(double spread, double level)
{
    return spread > 0 && spread > DETECTOR_SPREAD_EPSILON * fabs(level);
}

/* The ring slot of the day `age` days before the newest (0 = the newest). */
static uint32_t detector_window_slot(const struct stream_detector *detector, uint32_t age)
{
    return (detector->window_next + 2 * STREAM_DETECTOR_WINDOW_DAYS - 1 - age) %
           STREAM_DETECTOR_WINDOW_DAYS;
}

/* Mean and sample std of the ring, summed oldest first: the result depends on the days only, not
 * on where the ring happens to start (a state loaded from a baseline file starts at slot 0). */
static void detector_window_stats(const struct stream_detector *detector, double *mean, double *std)
{
    uint32_t count = detector->window_count;
    double sum = 0.0, squares = 0.0;
    for (uint32_t age = count; age-- > 0;)
        sum += detector->window[detector_window_slot(detector, age)];
    *mean = count ? sum / count : 0.0;
    for (uint32_t age = count; age-- > 0;) {
        double deviation = detector->window[detector_window_slot(detector, age)] - *mean;
        squares += deviation * deviation;
    }
    *std = count > 1 ? sqrt(squares / (count - 1)) : 0.0;
}

void stream_detector_summarize(const struct stream_detector *detector,
                               struct stream_detector_summary *summary)
{
    summary->count = detector->level.count;
    summary->mean = detector->level.mean;
    summary->std = stream_welford_std(&detector->level);
    summary->q1 = stream_quantile_value(&detector->q1, STREAM_DETECTOR_Q1);
    summary->q3 = stream_quantile_value(&detector->q3, STREAM_DETECTOR_Q3);
    double iqr = summary->q3 - summary->q1;
    summary->iqr_lower = summary->q1 - STREAM_DETECTOR_IQR_FACTOR * iqr;
    summary->iqr_upper = summary->q3 + STREAM_DETECTOR_IQR_FACTOR * iqr;
    summary->window_count = detector->window_count;
    detector_window_stats(detector, &summary->window_mean, &summary->window_std);
    summary->warm = detector->day_count >= STREAM_DETECTOR_WARMUP_DAYS &&
                    detector->level.count >= STREAM_DETECTOR_WARMUP_NONZERO_DAYS;
}

double stream_detector_plausible_max(const struct stream_detector *detector)
{
    const struct stream_welford *level = &detector->level;
    if (detector->day_count < STREAM_DETECTOR_WARMUP_DAYS ||
        level->count < STREAM_DETECTOR_WARMUP_NONZERO_DAYS)
        return 0.0;
    double q1 = stream_quantile_value(&detector->q1, STREAM_DETECTOR_Q1);
    double q3 = stream_quantile_value(&detector->q3, STREAM_DETECTOR_Q3);
    return fmax(q3 + STREAM_DETECTOR_IQR_FACTOR * (q3 - q1),
                level->mean + 3 * stream_welford_std(level));
}

/* Scores a non-zero day (already in the ring) against the learned statistics: each score agrees
 * when the day is far above what it expects (see the vote in stream/detector.h). */
static void detector_score(const struct stream_detector *detector, double value, double factor,
                           struct stream_detector_verdict *verdict)
{
    struct stream_detector_summary summary;
    stream_detector_summarize(detector, &summary);
    verdict->scored = summary.warm;
    if (!summary.warm)
        return;
    bool global = false, fence = false, window = false, seasonal = false;
    if (detector_spread_usable(summary.std, summary.mean)) {
        verdict->z_score = (value - summary.mean) / summary.std;
        global = verdict->z_score > STREAM_DETECTOR_Z_LIMIT;
    }
    verdict->iqr_lower = summary.iqr_lower;
    verdict->iqr_upper = summary.iqr_upper;
    if (detector_spread_usable(summary.q3 - summary.q1, summary.q3))
        fence = value > summary.iqr_upper;
    if (summary.window_count >= STREAM_DETECTOR_WINDOW_MIN_DAYS &&
        detector_spread_usable(summary.window_std, summary.window_mean)) {
        verdict->window_z = (value - summary.window_mean) / summary.window_std;
        window = verdict->window_z > STREAM_DETECTOR_WINDOW_Z_LIMIT;
    }
    const struct stream_welford *learned = &detector->seasonal;
    double seasonal_std = stream_welford_std(learned);
    bool seasonal_ready = factor > 0 && learned->count >= STREAM_DETECTOR_WARMUP_NONZERO_DAYS &&
                          detector_spread_usable(seasonal_std, learned->mean);
    if (seasonal_ready) {
        verdict->seasonal_z = (value / factor - learned->mean) / seasonal_std;
        seasonal = verdict->seasonal_z > STREAM_DETECTOR_SEASONAL_Z_LIMIT;
    }
    verdict->anomaly_count = global + fence + window + seasonal;
    verdict->anomaly = window && (seasonal_ready ? seasonal : global || fence);
}

static void detector_learn(struct stream_detector *detector, double value, double factor)
{
    stream_welford_add(&detector->level, value);
    if (factor > 0)
        stream_welford_add(&detector->seasonal, value / factor);
    stream_quantile_add(&detector->q1, STREAM_DETECTOR_Q1, value);
    stream_quantile_add(&detector->q3, STREAM_DETECTOR_Q3, value);
}

/* The flagged run is the new normal: learn again from the days of the window (the run and the
 * days before it), oldest first, so the detectors stay warm and judge the next days against the
 * recent ones. The ring does not keep the days' months, so they all take today's seasonal factor
 * (the window spans at most two). */
static void detector_restart(struct stream_detector *detector, double factor)
{
    detector->level = (struct stream_welford){0};
    detector->seasonal = (struct stream_welford){0};
    detector->q1 = (struct stream_quantile){0};
    detector->q3 = (struct stream_quantile){0};
    detector->flagged_run = 0;
    for (uint32_t age = detector->window_count; age-- > 0;) {
        double value = detector->window[detector_window_slot(detector, age)];
        if (value > 0)
            detector_learn(detector, value, factor);
    }
}

void stream_detector_day_close(struct stream_detector *detector, double consumption,
                               double seasonal_factor, struct stream_detector_verdict *verdict)
{
    *verdict = (struct stream_detector_verdict){0};
    detector->day_count++;
    detector->window[detector->window_next] = consumption;
    detector->window_next = (detector->window_next + 1) % STREAM_DETECTOR_WINDOW_DAYS;
    if (detector->window_count < STREAM_DETECTOR_WINDOW_DAYS)
        detector->window_count++;
    if (!(consumption > 0))
        return;
    detector_score(detector, consumption, seasonal_factor, verdict);
    if (!verdict->anomaly) {
        detector->flagged_run = 0;
        detector_learn(detector, consumption, seasonal_factor);
        return;
    }
    if (++detector->flagged_run >= STREAM_DETECTOR_SHIFT_DAYS) {
        detector_restart(detector, seasonal_factor);
        verdict->restart = true;
    }
}

void stream_detector_zero_run(const struct stream_detector *detector, uint32_t *run,
                              uint32_t *days_before, uint32_t *zeros_before)
{
    uint32_t age = 0;
    while (age < detector->window_count &&
           detector->window[detector_window_slot(detector, age)] == 0)
        age++;
    *run = age;
    *days_before = detector->window_count - age;
    *zeros_before = 0;
    for (; age < detector->window_count; age++)
        *zeros_before += detector->window[detector_window_slot(detector, age)] == 0;
}
