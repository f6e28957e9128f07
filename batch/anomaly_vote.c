#include "batch/anomaly_vote.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "batch/numpy_sum.h"

const char *batch_anomaly_status_name(enum batch_anomaly_status status)
{
    switch (status) {
    case BATCH_ANOMALY_ANALYSED:
        return "analysed";
    case BATCH_ANOMALY_SKIPPED_FEW_DAYS:
        return "skipped_lt_60_days";
    case BATCH_ANOMALY_SKIPPED_FEW_NONZERO:
        return "skipped_lt_30_nonzero";
    }
    return "unknown";
}

/* numpy.percentile's default ("linear") on sorted values: index (n - 1) q, then numpy's _lerp,
 * which measures from the upper neighbour once the fraction reaches 0.5. */
static double vote_quantile(const double *sorted, size_t count, double q)
{
    double index = (double)(count - 1) * q;
    if (index >= (double)(count - 1))
        return sorted[count - 1];
    size_t below = (size_t)floor(index);
    double gamma = index - (double)below;
    double a = sorted[below], b = sorted[below + 1], difference = b - a;
    return gamma >= 0.5 ? b - difference * (1.0 - gamma) : a + difference * gamma;
}

/* pandas' centered fixed window: day i sees days [i - 15, i + 15) clipped to the series. */
static size_t vote_window_start(size_t i)
{
    return i >= BATCH_ANOMALY_VOTE_WINDOW / 2 ? i - BATCH_ANOMALY_VOTE_WINDOW / 2 : 0;
}

static size_t vote_window_end(size_t i, size_t count)
{
    size_t end = i + BATCH_ANOMALY_VOTE_WINDOW / 2;
    return end < count ? end : count;
}

/* The running state of pandas' rolling mean (Kahan sums, separate compensations for what enters
 * and what leaves the window) and rolling variance (Welford with Kahan-compensated means). Both
 * count the run of identical values last added: a window of one repeated value has exactly that
 * mean and variance 0, whatever the rounding says. */
struct vote_rolling {
    double sum, sum_compensation_add, sum_compensation_remove;
    double mean, ssqdm, mean_compensation_add, mean_compensation_remove;
    double count; /* observations in the window (a float64 in pandas' variance) */
    double previous;
    size_t same_run;
};

static void vote_rolling_add(struct vote_rolling *rolling, double value)
{
    rolling->count += 1.0;
    rolling->same_run = value == rolling->previous ? rolling->same_run + 1 : 1;
    rolling->previous = value;

    double y = value - rolling->sum_compensation_add;
    double t = rolling->sum + y;
    rolling->sum_compensation_add = t - rolling->sum - y;
    rolling->sum = t;

    double previous_mean = rolling->mean - rolling->mean_compensation_add;
    y = value - rolling->mean_compensation_add;
    t = y - rolling->mean;
    rolling->mean_compensation_add = t + rolling->mean - y;
    rolling->mean = rolling->mean + t / rolling->count;
    rolling->ssqdm = rolling->ssqdm + (value - previous_mean) * (value - rolling->mean);
}

static void vote_rolling_remove(struct vote_rolling *rolling, double value)
{
    rolling->count -= 1.0;

    double y = -value - rolling->sum_compensation_remove;
    double t = rolling->sum + y;
    rolling->sum_compensation_remove = t - rolling->sum - y;
    rolling->sum = t;

    if (rolling->count == 0.0) {
        rolling->mean = 0.0;
        rolling->ssqdm = 0.0;
        return;
    }
    double previous_mean = rolling->mean - rolling->mean_compensation_remove;
    y = value - rolling->mean_compensation_remove;
    t = y - rolling->mean;
    rolling->mean_compensation_remove = t + rolling->mean - y;
    rolling->mean = rolling->mean - t / rolling->count;
    rolling->ssqdm = rolling->ssqdm - (value - previous_mean) * (value - rolling->mean);
}

/* pandas' calc_mean and calc_var (ddof 1), then Rolling.std's square root that maps a negative
 * variance (rounding) to 0. Values are consumption, never negative, so the sign-count clamps of
 * calc_mean reduce to "a negative mean is 0". */
static void vote_rolling_result(const struct vote_rolling *rolling, double *mean, double *std)
{
    if (rolling->count < BATCH_ANOMALY_VOTE_WINDOW_MIN) {
        *mean = NAN;
        *std = NAN;
        return;
    }
    bool constant = (double)rolling->same_run >= rolling->count;
    *mean = constant ? rolling->previous : rolling->sum / rolling->count;
    if (!constant && *mean < 0.0)
        *mean = 0.0;
    double variance = constant ? 0.0 : rolling->ssqdm / (rolling->count - 1.0);
    *std = variance < 0.0 ? 0.0 : sqrt(variance);
}

static void vote_rolling_fill(const double *values, size_t count, struct batch_anomaly_day *days)
{
    struct vote_rolling rolling = {.previous = values[0]};
    for (size_t i = 0; i < count; i++) {
        size_t start = vote_window_start(i), end = vote_window_end(i, count);
        if (i == 0) {
            for (size_t j = start; j < end; j++)
                vote_rolling_add(&rolling, values[j]);
        } else {
            for (size_t j = vote_window_start(i - 1); j < start; j++)
                vote_rolling_remove(&rolling, values[j]);
            for (size_t j = vote_window_end(i - 1, count); j < end; j++)
                vote_rolling_add(&rolling, values[j]);
        }
        struct batch_anomaly_day *day = &days[i];
        vote_rolling_result(&rolling, &day->rolling_mean, &day->rolling_std);
        day->rolling_z_score = (values[i] - day->rolling_mean) / day->rolling_std;
    }
}

/* The day-ordered non-zero values of values[0 .. count) into nonzero. */
static void vote_nonzero_copy(const double *values, size_t count, double *nonzero)
{
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        if (values[i] != 0.0)
            nonzero[k++] = values[i];
}

/* pandas' Series.mean (numpy's pairwise sum) and Series.std, which pandas hands to bottleneck:
 * two plain sequential passes, ddof 1. Then numpy's quartiles over the non-zero days. scratch holds
 * nonzero_count values and is overwritten. */
static void vote_global_fill(const double *values, size_t count, double *scratch,
                             struct batch_anomaly_summary *summary)
{
    size_t n = summary->nonzero_count;
    vote_nonzero_copy(values, count, scratch);
    summary->mean = batch_numpy_sum(scratch, n) / (double)n;
    double sum = 0.0;
    for (size_t k = 0; k < n; k++)
        sum += scratch[k];
    double plain_mean = sum / (double)n, squares = 0.0;
    for (size_t k = 0; k < n; k++)
        squares += (scratch[k] - plain_mean) * (scratch[k] - plain_mean);
    summary->std = sqrt(squares / (double)(n - 1));

    vote_nonzero_copy(values, count, scratch);
    qsort(scratch, n, sizeof *scratch, batch_double_compare);
    summary->q1 = vote_quantile(scratch, n, 0.25);
    summary->q3 = vote_quantile(scratch, n, 0.75);
    double iqr = summary->q3 - summary->q1;
    summary->iqr_lower = summary->q1 - BATCH_ANOMALY_VOTE_IQR_FACTOR * iqr;
    summary->iqr_upper = summary->q3 + BATCH_ANOMALY_VOTE_IQR_FACTOR * iqr;
}

/* Counts day's three flags into its vote and the summary's counts. */
static void vote_day_tally(struct batch_anomaly_day *day, struct batch_anomaly_summary *summary)
{
    day->anomaly_count = day->anomaly_zscore + day->anomaly_iqr + day->anomaly_rolling;
    day->is_anomaly = day->anomaly_count >= BATCH_ANOMALY_VOTE_QUORUM;
    summary->zscore_count += day->anomaly_zscore;
    summary->iqr_count += day->anomaly_iqr;
    summary->rolling_count += day->anomaly_rolling;
    summary->anomaly_count += day->is_anomaly;
}

int batch_anomaly_vote_compute(const double *values, size_t count, struct batch_anomaly_day *days,
                               struct batch_anomaly_summary *summary)
{
    *summary = (struct batch_anomaly_summary){.day_count = count};
    for (size_t i = 0; i < count; i++)
        summary->nonzero_count += values[i] != 0.0;
    if (count < BATCH_ANOMALY_VOTE_MIN_DAYS) {
        summary->status = BATCH_ANOMALY_SKIPPED_FEW_DAYS;
        return 0;
    }
    if (summary->nonzero_count < BATCH_ANOMALY_VOTE_MIN_NONZERO) {
        summary->status = BATCH_ANOMALY_SKIPPED_FEW_NONZERO;
        return 0;
    }
    double *scratch = malloc(summary->nonzero_count * sizeof *scratch);
    if (!scratch) {
        errno = ENOMEM;
        return -1;
    }
    vote_global_fill(values, count, scratch, summary);
    free(scratch);
    summary->status = BATCH_ANOMALY_ANALYSED;

    vote_rolling_fill(values, count, days);
    for (size_t i = 0; i < count; i++) {
        struct batch_anomaly_day *day = &days[i];
        day->value = values[i];
        /* The reference writes z 0 for every day when the non-zero days' std is 0. */
        day->z_score = summary->std > 0.0 ? (values[i] - summary->mean) / summary->std : 0.0;
        day->anomaly_zscore = fabs(day->z_score) > BATCH_ANOMALY_VOTE_Z;
        day->anomaly_iqr = values[i] < summary->iqr_lower || values[i] > summary->iqr_upper;
        day->anomaly_rolling = fabs(day->rolling_z_score) > BATCH_ANOMALY_VOTE_ROLLING_Z;
        vote_day_tally(day, summary);
    }
    return 0;
}

static bool vote_spread_usable(double spread, double level)
{
    return spread > BATCH_ANOMALY_VOTE_SPREAD_EPSILON * fabs(level);
}

void batch_anomaly_vote_noise_abstain(struct batch_anomaly_day *days, size_t count,
                                      struct batch_anomaly_summary *summary)
{
    if (summary->status != BATCH_ANOMALY_ANALYSED)
        return;
    bool global = vote_spread_usable(summary->std, summary->mean);
    bool fence = vote_spread_usable(summary->q3 - summary->q1, summary->q3);
    summary->zscore_count = summary->iqr_count = summary->rolling_count = 0;
    summary->anomaly_count = 0;
    for (size_t i = 0; i < count; i++) {
        struct batch_anomaly_day *day = &days[i];
        day->anomaly_zscore = day->anomaly_zscore && global;
        day->anomaly_iqr = day->anomaly_iqr && fence;
        /* NaN (a short window) compares false: no rolling vote, as before. */
        day->anomaly_rolling =
            day->anomaly_rolling && vote_spread_usable(day->rolling_std, day->rolling_mean);
        vote_day_tally(day, summary);
    }
}
