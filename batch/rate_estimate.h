/* The reference pipeline's estimate_consumption_rate (spec/analytics.md "Batch" step 2): the
 * consumption rate, in units per day, of a meter's readings, for back- and forward extrapolation.
 * x is days since the first reading ((t - t0) ns / 1e9 / 86400, as pandas' total_seconds / 86400).
 * The reference computes four rates and takes the first that qualifies:
 * 1. least squares (scipy.stats.linregress) if n >= 4, R² > 0.7 and the slope's two-sided
 *    p-value (Student's t, n - 2 degrees of freedom) < 0.05: "scipy_regression_r2_<R² %.3f>";
 * 2. the same slope (sklearn's LinearRegression) if n >= 4 and its R² > 0.6 (sklearn counts a
 *    constant series as a perfect fit, R² = 1): "sklearn_regression_r2_<R² %.3f>";
 * 3. the median of the slopes of all pairs with distinct times if n >= 3 and it is > 0:
 *    "median_pairwise" (R² reported as 0);
 * 4. last minus first over their time difference (0 when that is 0): "simple_first_last" (R² 0).
 * Fewer than 2 readings give rate 0, "insufficient_data". A negative rate is reported as 0. */
#ifndef NEBENKOSTEN_BATCH_RATE_ESTIMATE_H
#define NEBENKOSTEN_BATCH_RATE_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

/* Below this many points the median of pairwise slopes sorts all slopes; from it on it selects
 * them in O(n log n) expected time (same result, see batch_rate_pairwise_median). */
#define BATCH_RATE_MEDIAN_BRUTE_FORCE_BELOW 32

enum batch_rate_method {
    BATCH_RATE_INSUFFICIENT_DATA,
    BATCH_RATE_SCIPY_REGRESSION,
    BATCH_RATE_SKLEARN_REGRESSION,
    BATCH_RATE_MEDIAN_PAIRWISE,
    BATCH_RATE_SIMPLE_FIRST_LAST,
};

struct batch_rate_estimate {
    double rate;    /* units per day, >= 0 */
    double r2;      /* of the chosen method; 0 for the median and first-to-last */
    double p_value; /* of the least-squares slope (1 when it is undefined), whichever was chosen */
    enum batch_rate_method method;
    char method_text[40]; /* as the reference's trace writes it */
    size_t count;
};

/* Estimates the rate of count readings (t_ns[i], values[i]), t_ns non-decreasing (as the reference
 * always passes them) and values finite. Both arrays are borrowed. Returns 0, or -1 with errno
 * EINVAL (unsorted times, non-finite value) or ENOMEM. */
int batch_rate_estimate(const int64_t *t_ns, const double *values, size_t count,
                        struct batch_rate_estimate *out);

/* numpy.median of (y[j] - y[i]) / (x[j] - x[i]) over all i < j with x[j] > x[i], x non-decreasing;
 * 0 when there is no such pair. Bit for bit the result of sorting all those slopes, but without
 * enumerating them: a random sample brackets the median, counting slopes below a bound is counting
 * inversions of y - bound x (merge sort), and only the slopes within the bracket (widened by the
 * rounding error of that comparison) are computed. Returns 0, or -1 with errno ENOMEM. */
int batch_rate_pairwise_median(const double *x, const double *y, size_t count, double *median);

/* Two-sided p-value of Student's t statistic t with df > 0 degrees of freedom: 2 P(T > |t|). */
double batch_rate_t_two_sided_p(double t, double df);

/* The regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1. */
double batch_rate_incomplete_beta(double a, double b, double x);

/* "scipy_regression_r2_0.962", "median_pairwise", ... without the R² part for the regressions. */
const char *batch_rate_method_name(enum batch_rate_method method);

#endif
