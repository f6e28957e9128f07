/* The online anomaly detectors of one meter (spec/analytics.md "Stream" step 4): the reference
 * pipeline's three-method vote (batch step 7) approximated with O(1) state, plus a
 * seasonality-aware residual score. Fed with each closed day's consumption, in day order.
 *
 * - global z: Welford mean and sample std over the learned non-zero days; agrees when z > 3.
 * - IQR: P² estimates of q1 and q3 over the learned non-zero days; agrees above
 *   q3 + 1.5 IQR (the lower fence q1 - 1.5 IQR is reported, not voted on).
 * - window z: the day against the latest 30 days including itself (zeros too, as the reference's
 *   rolling window; at least 10, sample std); agrees when z > 3. The reference centres its window,
 *   a stream can only look back.
 * - seasonal residual (only with a seasonal pattern): the expected day is the learned level times
 *   the month's factor (its share of the year over its share of the days), so the residual z is
 *   the z of consumption / factor against the same statistics of the learned days; agrees when
 *   z > 4.
 * Vote: a day is flagged when it stands out both against the meter's recent days (the window z
 * agrees) and against its long-run normal: the global z or the IQR fence, or with a pattern (once
 * the seasonal statistics hold 30 days) the seasonal residual, which judges a winter day by its
 * month where the global statistics mix the whole year. anomaly_count counts every agreeing
 * score.
 *
 * Deliberate differences from the reference's vote (2 of global z, IQR, rolling z, each on both
 * sides, rolling limit 2.5), measured on bench-anomaly (bench/README.md "Anomaly detection"):
 * - Only days above the normal are flagged (households want to hear about high use). A day below
 *   it (a holiday, a mild week) is an ordinary day, learned like any other; a register that stops
 *   while the meter normally consumes is the stuck check's business. Both sides, the vote flagged
 *   128 of 200 holiday weeks.
 * - The window must agree. Global z and IQR judge by the same learned days, so in the reference's
 *   2 of 3 they outvote the window: many ordinary days of a season above the learned one
 *   (electricity in autumn after a summer start) or of a new level after a shift were flagged.
 *   With the window required, a step to a new level is flagged on its first days, until the
 *   window has taken the new days in.
 * - The window limit is 3, not 2.5: it is required for every flag, and at 2.5 three times as many
 *   ordinary days of noisy meters passed it.
 * - The seasonal limit is 4: weather moves a heating meter's week by a third to a half against
 *   its month (a cold snap), which is not an alarm.
 * Days with zero consumption are neither scored nor learned: zero days are the stuck check's
 * business, and a summer-off heating meter has many. Nothing is flagged before 60 days and 30
 * learned non-zero days (the reference's minimum). Flagged days do not update the learned
 * statistics (the window keeps every day: it describes the recent days, not the normal ones). After
 * 7 non-zero days flagged in a row the meter has a new normal: the learned statistics restart from
 * the non-zero days in the window (those 7 and the days before them), instead of flagging every
 * day until the nightly batch re-seeds them. With the window required only a climb that keeps
 * outrunning the window gets there (a step is learned once the window has taken it in).
 *
 * Plain data, no pointers or padding, all zero is a fresh detector: a checkpoint stores its bytes.
 */
#ifndef NEBENKOSTEN_STREAM_DETECTOR_H
#define NEBENKOSTEN_STREAM_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "stream/calendar.h"
#include "stream/quantile.h"

#define STREAM_DETECTOR_WINDOW_DAYS 30
#define STREAM_DETECTOR_WINDOW_MIN_DAYS 10
#define STREAM_DETECTOR_WARMUP_DAYS 60
#define STREAM_DETECTOR_WARMUP_NONZERO_DAYS 30
#define STREAM_DETECTOR_Z_LIMIT 3.0
#define STREAM_DETECTOR_IQR_FACTOR 1.5
#define STREAM_DETECTOR_WINDOW_Z_LIMIT 3.0
#define STREAM_DETECTOR_SEASONAL_Z_LIMIT 4.0
#define STREAM_DETECTOR_SHIFT_DAYS 7
/* A month whose pattern share is (nearly) 0 still expects this fraction of an average day, so a
 * small consumption there gives a large but finite residual. */
#define STREAM_DETECTOR_SEASONAL_MIN_FACTOR 0.02
#define STREAM_DETECTOR_Q1 0.25
#define STREAM_DETECTOR_Q3 0.75

/* Count, mean and sum of squared deviations (Welford's online algorithm). */
struct stream_welford {
    int64_t count;
    double mean, m2;
};

struct stream_detector {
    struct stream_welford level;    /* learned non-zero days */
    struct stream_welford seasonal; /* the same days divided by their month's seasonal factor */
    struct stream_quantile q1, q3;  /* learned non-zero days */
    double window[STREAM_DETECTOR_WINDOW_DAYS]; /* the latest days, a ring */
    uint32_t window_count;                      /* days in the ring */
    uint32_t window_next;                       /* the slot the next day goes to */
    uint32_t day_count;                         /* days fed */
    uint32_t flagged_run;                       /* non-zero days flagged in a row */
};

/* What the detectors say about one day. */
struct stream_detector_verdict {
    bool scored;  /* a non-zero day after the warm-up */
    bool anomaly; /* the vote flagged it */
    bool restart; /* it ended a run of flagged days: the learned statistics restarted */
    int anomaly_count;
    double z_score, iqr_lower, iqr_upper, window_z, seasonal_z; /* 0 where a score abstained */
};

/* The statistics the detectors score a day against, for the describe API. */
struct stream_detector_summary {
    int64_t count; /* learned non-zero days */
    double mean, std, q1, q3, iqr_lower, iqr_upper;
    uint32_t window_count;
    double window_mean, window_std;
    bool warm; /* enough days to flag */
};

void stream_welford_add(struct stream_welford *welford, double x);
/* Sample standard deviation; 0 below two values. welford is borrowed. */
double stream_welford_std(const struct stream_welford *welford);

/* The seasonal factor of the day whose consumption is stamped at midnight_ns (the day before
 * it): 12 percentages (January first, borrowed) give the month's share of the year divided by its
 * share of the year's days, at least STREAM_DETECTOR_SEASONAL_MIN_FACTOR; 0 when percentages is
 * NULL. calendar is borrowed. */
double stream_detector_seasonal_factor(const double *percentages,
                                       const struct stream_calendar *calendar, int64_t midnight_ns);

/* Feeds one closed day's consumption (>= 0) with its seasonal factor (0: no pattern) and writes
 * what the detectors say into verdict. detector and verdict are borrowed. */
void stream_detector_day_close(struct stream_detector *detector, double consumption,
                               double seasonal_factor, struct stream_detector_verdict *verdict);

/* Fills summary from detector (both borrowed). */
void stream_detector_summarize(const struct stream_detector *detector,
                               struct stream_detector_summary *summary);

/* The meter's plausible maximum day: the larger of the upper IQR fence and mean + 3 std of the
 * learned days, once warm; 0 before. detector is borrowed. */
double stream_detector_plausible_max(const struct stream_detector *detector);

/* The current run of zero days at the newest end of the window (0 when the newest day consumed),
 * and how many days of the window come before that run and how many of them are zero: what the
 * stuck check asks when a run begins. detector is borrowed. */
void stream_detector_zero_run(const struct stream_detector *detector, uint32_t *run,
                              uint32_t *days_before, uint32_t *zeros_before);

#endif
