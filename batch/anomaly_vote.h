/* The reference pipeline's anomaly vote over one daily consumption series (spec/analytics.md
 * "Batch" step 7), reproducing its pandas/numpy statistics operation for operation:
 * - the series qualifies with >= 60 days and >= 30 non-zero days;
 * - global z: (value - mean) / std over the non-zero days (sample std; 0 when that std is 0),
 *   flagged when |z| > 3;
 * - IQR: the non-zero days' quartiles (numpy's linear interpolation), flagged outside
 *   [q1 - 1.5 IQR, q3 + 1.5 IQR];
 * - rolling z: (value - mean) / std over the centered 30-day window (15 days before, the day and 14
 *   after; at least 10 days), with pandas' online Welford/Kahan sums, so near-constant stretches
 *   give the very same rounding noise as the reference; flagged when |z| > 2.5 (an infinite z
 *   counts, NaN does not);
 * - a day is an anomaly when at least 2 of the 3 flag it.
 * Every day is judged, zero days included. */
#ifndef NEBENKOSTEN_BATCH_ANOMALY_VOTE_H
#define NEBENKOSTEN_BATCH_ANOMALY_VOTE_H

#include <stdbool.h>
#include <stddef.h>

#define BATCH_ANOMALY_VOTE_MIN_DAYS 60
#define BATCH_ANOMALY_VOTE_MIN_NONZERO 30
#define BATCH_ANOMALY_VOTE_Z 3.0
#define BATCH_ANOMALY_VOTE_IQR_FACTOR 1.5
#define BATCH_ANOMALY_VOTE_WINDOW 30
#define BATCH_ANOMALY_VOTE_WINDOW_MIN 10
#define BATCH_ANOMALY_VOTE_ROLLING_Z 2.5
#define BATCH_ANOMALY_VOTE_QUORUM 2

enum batch_anomaly_status {
    BATCH_ANOMALY_ANALYSED,
    BATCH_ANOMALY_SKIPPED_FEW_DAYS,    /* fewer than 60 days */
    BATCH_ANOMALY_SKIPPED_FEW_NONZERO, /* fewer than 30 non-zero days */
};

/* One day's verdict: the columns of the reference's anomalies.csv and anomaly_frames.csv. */
struct batch_anomaly_day {
    double value;
    double z_score;
    double rolling_mean, rolling_std, rolling_z_score; /* NaN when the window is too short */
    bool anomaly_zscore, anomaly_iqr, anomaly_rolling;
    int anomaly_count;
    bool is_anomaly;
};

/* What holds for the whole series: the columns of the reference's anomaly_stats.csv. */
struct batch_anomaly_summary {
    enum batch_anomaly_status status;
    size_t day_count, nonzero_count;
    /* Only when analysed: */
    double mean, std, q1, q3, iqr_lower, iqr_upper;
    size_t zscore_count, iqr_count, rolling_count, anomaly_count;
};

/* Runs the vote over values[0 .. count) (one per day, in day order). When the series qualifies,
 * days[i] (count entries, the caller's) receives day i's verdict; otherwise days is left alone.
 * summary is always filled. values and days are borrowed. Returns 0, or -1 with errno ENOMEM. */
int batch_anomaly_vote_compute(const double *values, size_t count, struct batch_anomaly_day *days,
                               struct batch_anomaly_summary *summary);

/* A spread at most this fraction of its level is the interpolation's rounding, not variation:
 * the stream's detectors abstain on it too (stream/detector.c DETECTOR_SPREAD_EPSILON). */
#define BATCH_ANOMALY_VOTE_SPREAD_EPSILON 1e-9

/* The default mode's correction of a computed vote (the reference does not make it): a score
 * whose spread is rounding noise against its level abstains (global z: the non-zero days' std
 * against their mean; IQR: q3 - q1 against q3; rolling z: the window's std against its mean),
 * then each day's anomaly_count and is_anomaly and the summary's counts are taken again. Such
 * a series (a constant use read by hand: every day 0.75 up to 5e-13) otherwise has fences of
 * width 0 and z scores of rounding, and the vote flags days by the last bits of a double. Does
 * nothing unless the summary says analysed. days and summary are the compute's. */
void batch_anomaly_vote_noise_abstain(struct batch_anomaly_day *days, size_t count,
                                      struct batch_anomaly_summary *summary);

/* "analysed", "skipped_lt_60_days", "skipped_lt_30_nonzero" (the reference's status names). */
const char *batch_anomaly_status_name(enum batch_anomaly_status status);

#endif
