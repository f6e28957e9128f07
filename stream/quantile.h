/* The P² estimator of one quantile (Jain & Chlamtac, "The P² algorithm for dynamic calculation of
 * quantiles and histograms without storing observations", CACM 28(10), 1985): five markers whose
 * heights track the minimum, the p/2, p and (1+p)/2 quantiles and the maximum, moved by piecewise
 * parabolic steps. O(1) state, so a meter's IQR fences can be kept online. Plain data (a checkpoint
 * stores its bytes): all zero is an empty estimator. */
#ifndef NEBENKOSTEN_STREAM_QUANTILE_H
#define NEBENKOSTEN_STREAM_QUANTILE_H

#include <stdint.h>

#define STREAM_QUANTILE_MARKERS 5

struct stream_quantile {
    /* Marker heights, ascending. Until 5 observations have arrived: the observations, sorted. */
    double heights[STREAM_QUANTILE_MARKERS];
    int32_t positions[STREAM_QUANTILE_MARKERS]; /* 1-based ranks of the markers */
    uint32_t count;                             /* observations so far */
};

/* Adds x to quantile (borrowed), which estimates the p quantile (0 < p < 1; every call on one
 * estimator must pass the same p). */
void stream_quantile_add(struct stream_quantile *quantile, double p, double x);

/* The estimate of the p quantile: with fewer than 5 observations the exact one (linear
 * interpolation between the order statistics, as numpy's default), then the middle marker. 0
 * when empty. quantile is borrowed. */
double stream_quantile_value(const struct stream_quantile *quantile, double p);

/* The rank (1-based, fractional) where marker i of an estimator of the p quantile belongs after
 * count observations: 1 + (count - 1) x {0, p/2, p, (1+p)/2, 1}[i]. */
double stream_quantile_desired_position(double p, int marker, uint32_t count);

#endif
