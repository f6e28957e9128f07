/* The P² estimator against the published example and against exact quartiles. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "stream/quantile.h"

/* Jain & Chlamtac 1985, the median example: after these 20 observations the markers stand at
 * ranks 1, 6, 10, 16, 20 with heights 0.02, 0.4939, 4.4406, 17.2039, 38.62. */
Test(stream_quantile, reproduces_the_papers_example)
{
    static const double data[] = {0.02,  0.15,  0.74,  3.39,  0.83,  22.37, 10.15,
                                  15.43, 38.62, 15.92, 34.60, 10.28, 1.47,  0.40,
                                  0.05,  11.39, 0.27,  0.42,  0.09,  11.37};
    static const double heights[] = {0.02, 0.493895, 4.440634, 17.203904, 38.62};
    static const int32_t positions[] = {1, 6, 10, 16, 20};
    struct stream_quantile quantile = {0};
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++)
        stream_quantile_add(&quantile, 0.5, data[i]);
    cr_assert_eq(quantile.count, 20);
    for (int i = 0; i < STREAM_QUANTILE_MARKERS; i++) {
        cr_expect_eq(quantile.positions[i], positions[i], "marker %d at rank %d", i,
                     quantile.positions[i]);
        cr_expect(fabs(quantile.heights[i] - heights[i]) < 1e-6, "marker %d: %.9g, paper %.9g", i,
                  quantile.heights[i], heights[i]);
    }
    cr_expect(fabs(stream_quantile_value(&quantile, 0.5) - 4.440634) < 1e-6);
}

Test(stream_quantile, is_exact_below_five_observations)
{
    struct stream_quantile q1 = {0}, q3 = {0};
    cr_assert_eq(stream_quantile_value(&q1, 0.25), 0.0, "empty is 0");
    static const double data[] = {3, 1, 4, 1};
    for (size_t i = 0; i < 4; i++) {
        stream_quantile_add(&q1, 0.25, data[i]);
        stream_quantile_add(&q3, 0.75, data[i]);
    }
    /* Sorted 1 1 3 4: rank 0.75 -> 1, rank 2.25 -> 3 + 0.25 x (4 - 3). */
    cr_expect_eq(stream_quantile_value(&q1, 0.25), 1.0);
    cr_expect_eq(stream_quantile_value(&q3, 0.75), 3.25);
}

static int double_compare(const void *a, const void *b)
{
    double left = *(const double *)a, right = *(const double *)b;
    return (left > right) - (left < right);
}

/* numpy's default quantile: linear interpolation between order statistics. */
static double exact_quantile(const double *values, size_t count, double p)
{
    double *sorted = malloc(count * sizeof *sorted);
    cr_assert_not_null(sorted);
    for (size_t i = 0; i < count; i++)
        sorted[i] = values[i];
    qsort(sorted, count, sizeof *sorted, double_compare);
    double rank = p * (double)(count - 1);
    size_t below = (size_t)rank;
    double result = below + 1 < count ? sorted[below] + (rank - (double)below) *
                                                            (sorted[below + 1] - sorted[below])
                                      : sorted[below];
    free(sorted);
    return result;
}

/* Four sequences of 2000 values (uniform and exponential from a fixed LCG, ascending, a sawtooth):
 * both quartiles within 1 % of the value range of the exact ones (the worst measured is 0.75 %,
 * the sawtooth's q3). */
Test(stream_quantile, tracks_exact_quartiles_within_one_percent_of_the_range)
{
    enum { COUNT = 2000 };
    static double values[COUNT];
    for (int kind = 0; kind < 4; kind++) {
        uint32_t state = 12345;
        double low = INFINITY, high = -INFINITY;
        for (int i = 0; i < COUNT; i++) {
            state = state * 1664525u + 1013904223u;
            double uniform = (state >> 8) / 16777216.0;
            values[i] = kind == 0   ? uniform
                        : kind == 1 ? -log(1 - uniform)
                        : kind == 2 ? i + 1
                                    : i % 100;
            low = fmin(low, values[i]);
            high = fmax(high, values[i]);
        }
        for (int which = 0; which < 2; which++) {
            double p = which ? 0.75 : 0.25;
            struct stream_quantile quantile = {0};
            for (int i = 0; i < COUNT; i++)
                stream_quantile_add(&quantile, p, values[i]);
            double estimate = stream_quantile_value(&quantile, p),
                   exact = exact_quantile(values, COUNT, p);
            cr_expect(fabs(estimate - exact) <= 0.01 * (high - low),
                      "sequence %d, p %.2f: P² %.9g, exact %.9g", kind, p, estimate, exact);
        }
    }
}
