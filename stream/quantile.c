#include "stream/quantile.h"

#include <math.h>

double stream_quantile_desired_position(double p, int marker, uint32_t count)
{
    const double fractions[STREAM_QUANTILE_MARKERS] = {0.0, p / 2, p, (1 + p) / 2, 1.0};
    return 1.0 + (double)(count - 1) * fractions[marker];
}

/* The first observations are kept sorted in the marker heights (insertion sort). */
static void quantile_initial_add(struct stream_quantile *quantile, double x)
{
    int i = (int)quantile->count;
    for (; i > 0 && quantile->heights[i - 1] > x; i--)
        quantile->heights[i] = quantile->heights[i - 1];
    quantile->heights[i] = x;
    quantile->count++;
    if (quantile->count == STREAM_QUANTILE_MARKERS)
        for (int marker = 0; marker < STREAM_QUANTILE_MARKERS; marker++)
            quantile->positions[marker] = marker + 1;
}

/* The piecewise-parabolic (P²) prediction of marker i's height after moving it by step (±1). */
static double quantile_parabolic(const struct stream_quantile *quantile, int i, int step)
{
    const double *q = quantile->heights;
    double n_below = quantile->positions[i - 1], n = quantile->positions[i],
           n_above = quantile->positions[i + 1];
    return q[i] + step / (n_above - n_below) *
                      ((n - n_below + step) * (q[i + 1] - q[i]) / (n_above - n) +
                       (n_above - n - step) * (q[i] - q[i - 1]) / (n - n_below));
}

void stream_quantile_add(struct stream_quantile *quantile, double p, double x)
{
    if (quantile->count < STREAM_QUANTILE_MARKERS) {
        quantile_initial_add(quantile, x);
        return;
    }
    double *q = quantile->heights;
    int32_t *n = quantile->positions;
    int cell; /* the markers above x move up one rank */
    if (x < q[0]) {
        q[0] = x;
        cell = 0;
    } else if (x >= q[4]) {
        q[4] = x;
        cell = 3;
    } else {
        for (cell = 0; !(x < q[cell + 1]); cell++)
            ;
    }
    for (int marker = cell + 1; marker < STREAM_QUANTILE_MARKERS; marker++)
        n[marker]++;
    quantile->count++;
    for (int i = 1; i <= 3; i++) {
        double delta = stream_quantile_desired_position(p, i, quantile->count) - n[i];
        if (!((delta >= 1 && n[i + 1] - n[i] > 1) || (delta <= -1 && n[i - 1] - n[i] < -1)))
            continue;
        int step = delta > 0 ? 1 : -1;
        double height = quantile_parabolic(quantile, i, step);
        /* The parabola may overshoot a neighbour; the linear step never does. */
        if (!(q[i - 1] < height && height < q[i + 1]))
            height = q[i] + step * (q[i + step] - q[i]) / (n[i + step] - n[i]);
        q[i] = height;
        n[i] += step;
    }
}

double stream_quantile_value(const struct stream_quantile *quantile, double p)
{
    if (quantile->count == 0)
        return 0.0;
    if (quantile->count >= STREAM_QUANTILE_MARKERS)
        return quantile->heights[2];
    double rank = p * (double)(quantile->count - 1);
    int below = (int)rank;
    if (below + 1 >= (int)quantile->count)
        return quantile->heights[below];
    return quantile->heights[below] +
           (rank - below) * (quantile->heights[below + 1] - quantile->heights[below]);
}
