/* batch_rate_estimate: each branch on hand-computed data, the t distribution's p-value against
 * closed forms, and the fast median of pairwise slopes against sorting all of them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "batch/rate_estimate.h"

#define NS_PER_DAY 86400000000000LL

static struct batch_rate_estimate estimate(const double *days, const double *values, size_t count)
{
    int64_t t_ns[16];
    cr_assert_leq(count, 16);
    for (size_t i = 0; i < count; i++)
        t_ns[i] = (int64_t)llround(days[i] * (double)NS_PER_DAY);
    struct batch_rate_estimate out;
    cr_assert_eq(batch_rate_estimate(t_ns, values, count, &out), 0);
    cr_assert_eq(out.count, count);
    return out;
}

static void assert_close(double ours, double expected, double relative)
{
    cr_assert(fabs(ours - expected) <= relative * fmax(fabs(expected), 1e-300),
              "%.17g, expected %.17g", ours, expected);
}

Test(rate_estimate, perfect_line_is_scipy)
{
    /* y = 2 x: slope 2, r = 1, t = sqrt(2 / (2e-20)) -> p ~ 0. */
    struct batch_rate_estimate out = estimate((double[]){0, 1, 2, 3}, (double[]){0, 2, 4, 6}, 4);
    cr_assert_eq(out.method, BATCH_RATE_SCIPY_REGRESSION);
    cr_assert_str_eq(out.method_text, "scipy_regression_r2_1.000");
    assert_close(out.rate, 2.0, 1e-15);
    assert_close(out.r2, 1.0, 1e-15);
    cr_assert_lt(out.p_value, 1e-9);
}

Test(rate_estimate, significant_negative_slope_is_clipped_to_zero)
{
    struct batch_rate_estimate out = estimate((double[]){0, 1, 2, 3}, (double[]){10, 8, 6, 4}, 4);
    cr_assert_str_eq(out.method_text, "scipy_regression_r2_1.000");
    cr_assert_eq(out.rate, 0.0);
}

Test(rate_estimate, decent_fit_without_significance_is_sklearn)
{
    /* x 0..3 (mean 1.5), y 0 2 2 3 (mean 1.75): Sxy = 4.5, Sxx = 5, Syy = 4.75: slope 0.9,
     * R² = 4.5² / (5 * 4.75) = 81/95 = 0.8526 > 0.7, but t² = 2 R² / (1 - R²) = 81/7 and with
     * df = 2 p = 1 - |t| / sqrt(t² + 2) = 1 - 9 / sqrt(95) = 0.0766 >= 0.05. */
    struct batch_rate_estimate out = estimate((double[]){0, 1, 2, 3}, (double[]){0, 2, 2, 3}, 4);
    cr_assert_eq(out.method, BATCH_RATE_SKLEARN_REGRESSION);
    cr_assert_str_eq(out.method_text, "sklearn_regression_r2_0.853");
    assert_close(out.rate, 0.9, 1e-14);
    assert_close(out.r2, 81.0 / 95.0, 1e-14);
    assert_close(out.p_value, 1.0 - 9.0 / sqrt(95.0), 1e-12);
}

Test(rate_estimate, weak_fit_is_sklearn_above_r2_0_6)
{
    /* y 0 2 1 3: Sxy = 4, Sxx = 5, Syy = 5: slope 0.8, R² = 16/25 = 0.64. */
    struct batch_rate_estimate out = estimate((double[]){0, 1, 2, 3}, (double[]){0, 2, 1, 3}, 4);
    cr_assert_str_eq(out.method_text, "sklearn_regression_r2_0.640");
    assert_close(out.rate, 0.8, 1e-14);
    assert_close(out.r2, 0.64, 1e-14);
}

Test(rate_estimate, constant_series_is_a_perfect_sklearn_fit)
{
    /* scipy's r is 0 (no spread in y), sklearn predicts every point exactly: R² = 1. */
    struct batch_rate_estimate out =
        estimate((double[]){0, 15, 30, 45, 60}, (double[]){500, 500, 500, 500, 500}, 5);
    cr_assert_str_eq(out.method_text, "sklearn_regression_r2_1.000");
    cr_assert_eq(out.rate, 0.0);
    cr_assert_eq(out.p_value, 1.0);
}

Test(rate_estimate, three_points_take_the_median_slope)
{
    /* Days 0, 12, 36, values 50, 62, 70: slopes 12/12 = 1, 20/36 = 5/9, 8/24 = 1/3. */
    struct batch_rate_estimate out = estimate((double[]){0, 12, 36}, (double[]){50, 62, 70}, 3);
    cr_assert_eq(out.method, BATCH_RATE_MEDIAN_PAIRWISE);
    cr_assert_str_eq(out.method_text, "median_pairwise");
    assert_close(out.rate, 5.0 / 9.0, 1e-15);
    cr_assert_eq(out.r2, 0.0);
}

Test(rate_estimate, poor_fit_with_even_slope_count_averages_the_middle_two)
{
    /* Days 0 2 3 41 42, values 5 60 61 61.5 62 (the fixture's rate_median): the ten slopes
     * sorted are 0.0263 0.0270 0.0395 0.0526 0.5 1 1.4146 ... so the median is (0.5 + 1) / 2. */
    struct batch_rate_estimate out =
        estimate((double[]){0, 2, 3, 41, 42}, (double[]){5, 60, 61, 61.5, 62}, 5);
    cr_assert_str_eq(out.method_text, "median_pairwise");
    assert_close(out.rate, 0.75, 1e-15);
}

Test(rate_estimate, non_positive_median_falls_back_to_first_last)
{
    /* A synthetic 0 before readings going down 500, 480, 460, 440 (days 9.5 .. 69.5): six of the
     * ten slopes are -1, so the median is -1; first to last is 440 / 69.5. */
    struct batch_rate_estimate out =
        estimate((double[]){0, 9.5, 29.5, 49.5, 69.5}, (double[]){0, 500, 480, 460, 440}, 5);
    cr_assert_str_eq(out.method_text, "simple_first_last");
    assert_close(out.rate, 440.0 / 69.5, 1e-15);
    cr_assert_eq(out.r2, 0.0);
}

Test(rate_estimate, two_readings_are_first_last_and_one_is_insufficient)
{
    struct batch_rate_estimate out = estimate((double[]){0, 4}, (double[]){10, 12}, 2);
    cr_assert_str_eq(out.method_text, "simple_first_last");
    assert_close(out.rate, 0.5, 1e-15);
    cr_assert_eq(out.p_value, 0.0, "scipy's p for two different values");
    out = estimate((double[]){0}, (double[]){10}, 1);
    cr_assert_str_eq(out.method_text, "insufficient_data");
    cr_assert_eq(out.rate, 0.0);
    /* Same instant twice: no time passes, so no rate. */
    out = estimate((double[]){3, 3}, (double[]){10, 12}, 2);
    cr_assert_str_eq(out.method_text, "simple_first_last");
    cr_assert_eq(out.rate, 0.0);
}

Test(rate_estimate, unsorted_times_and_nan_values_are_rejected)
{
    struct batch_rate_estimate out;
    errno = 0;
    cr_assert_eq(batch_rate_estimate((int64_t[]){2, 1}, (double[]){1, 2}, 2, &out), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(batch_rate_estimate((int64_t[]){1, 2}, (double[]){1, NAN}, 2, &out), -1);
    cr_assert_eq(errno, EINVAL);
}

Test(rate_estimate, incomplete_beta_closed_forms)
{
    double xs[] = {1e-6, 0.01, 0.3, 0.5, 0.77, 0.999};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        double x = xs[i];
        assert_close(batch_rate_incomplete_beta(1, 1, x), x, 1e-13);
        assert_close(batch_rate_incomplete_beta(3, 1, x), x * x * x, 1e-13);
        assert_close(batch_rate_incomplete_beta(1, 4, x), -expm1(4 * log1p(-x)), 1e-13);
        assert_close(batch_rate_incomplete_beta(2, 2, x), 3 * x * x - 2 * x * x * x, 1e-13);
    }
    cr_assert_eq(batch_rate_incomplete_beta(2, 3, 0.0), 0.0);
    cr_assert_eq(batch_rate_incomplete_beta(2, 3, 1.0), 1.0);
}

Test(rate_estimate, t_p_values_match_closed_forms)
{
    /* Two-sided p of Student's t, closed forms for df = 1 (Cauchy: 2/pi atan(1/t)) and df = 2
     * (1 - t/s = 2 / (s (s + t)), s = sqrt(t² + 2)), written without cancellation so they hold in
     * the far tail too; df = 3 and 4 only where p is not tiny, as their forms cancel. */
    double ts[] = {0.01, 0.5, 1.0, 2.0, 4.303, 12.7, 100.0, 1e4};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        double t = ts[i], s = sqrt(t * t + 2);
        assert_close(batch_rate_t_two_sided_p(t, 1), 2 / M_PI * atan(1 / t), 1e-10);
        assert_close(batch_rate_t_two_sided_p(-t, 2), 2 / (s * (s + t)), 1e-10);
        if (t > 13)
            continue;
        double u = t / sqrt(3);
        assert_close(batch_rate_t_two_sided_p(t, 3), 1 - 2 / M_PI * (u / (1 + u * u) + atan(u)),
                     1e-10);
        double v = 1 + t * t / 4;
        assert_close(batch_rate_t_two_sided_p(t, 4),
                     1 - 0.75 * t / sqrt(v) * (1 - t * t / (12 * v)), 1e-10);
    }
    cr_assert_eq(batch_rate_t_two_sided_p(0, 7), 1.0);
    /* Tables: t = 2.0, df = 10 -> 0.0734; the 95 % two-sided critical value 2.228 at df = 10. */
    assert_close(batch_rate_t_two_sided_p(2.0, 10), 0.0734, 1e-3);
    assert_close(batch_rate_t_two_sided_p(2.228138851986, 10), 0.05, 1e-9);
}

static int double_compare(const void *a, const void *b)
{
    double left = *(const double *)a, right = *(const double *)b;
    return (left > right) - (left < right);
}

static double brute_force_median(const double *x, const double *y, size_t count)
{
    double *slopes = malloc(count * (count - 1) / 2 * sizeof *slopes);
    cr_assert_not_null(slopes);
    size_t n = 0;
    for (size_t i = 0; i + 1 < count; i++)
        for (size_t j = i + 1; j < count; j++)
            if (x[j] - x[i] > 0)
                slopes[n++] = (y[j] - y[i]) / (x[j] - x[i]);
    qsort(slopes, n, sizeof *slopes, double_compare);
    double median = n == 0 ? 0.0 : n % 2 ? slopes[n / 2] : (slopes[n / 2 - 1] + slopes[n / 2]) / 2;
    free(slopes);
    return median;
}

Test(rate_estimate, fast_median_equals_sorting_all_slopes)
{
    size_t sizes[] = {32, 33, 100, 257, 1000, 2000};
    unsigned seed = 12345;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        for (int shape = 0; shape < 4; shape++) {
            double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            cr_assert(x && y);
            double t = 0, v = 1000;
            for (size_t i = 0; i < n; i++) {
                /* Shapes: noisy meter; repeated timestamps; integer steps (many tied slopes);
                 * seconds-apart readings among days-apart ones (wide rounding band). */
                double step = (double)(rand_r(&seed) % 1000) / 100.0;
                if (shape == 1 && rand_r(&seed) % 4 == 0)
                    step = 0;
                if (shape == 3 && rand_r(&seed) % 3 == 0)
                    step = 1.0 / 86400;
                t += shape == 2 ? (double)(1 + rand_r(&seed) % 3) : step;
                v += shape == 2 ? (double)(rand_r(&seed) % 4)
                                : (double)rand_r(&seed) / RAND_MAX * 20 - 4;
                x[i] = t;
                y[i] = v;
            }
            double fast;
            cr_assert_eq(batch_rate_pairwise_median(x, y, n, &fast), 0);
            double brute = brute_force_median(x, y, n);
            cr_assert_eq(fast, brute, "n %zu shape %d: %.17g, sorting gives %.17g", n, shape, fast,
                         brute);
            free(x);
            free(y);
        }
    }
}

Test(rate_estimate, fast_median_of_degenerate_inputs)
{
    double x[64], y[64], median;
    for (size_t i = 0; i < 64; i++)
        x[i] = 5, y[i] = (double)i;
    cr_assert_eq(batch_rate_pairwise_median(x, y, 64, &median), 0);
    cr_assert_eq(median, 0.0, "no pair with distinct times");
    for (size_t i = 0; i < 64; i++)
        x[i] = (double)i * 0.1, y[i] = 12.3;
    cr_assert_eq(batch_rate_pairwise_median(x, y, 64, &median), 0);
    cr_assert_eq(median, 0.0, "a constant register");
    for (size_t i = 0; i < 64; i++)
        y[i] = 0.35 * x[i];
    cr_assert_eq(batch_rate_pairwise_median(x, y, 64, &median), 0);
    cr_assert_eq(median, brute_force_median(x, y, 64), "a straight line, slopes within rounding");
}

Test(rate_estimate, fast_median_scales_past_what_sorting_all_slopes_could_hold)
{
    /* 100,000 readings have 5e9 slopes (40 GB): sorting them all would fail with ENOMEM. */
    size_t n = 100000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    cr_assert(x && y);
    unsigned seed = 7;
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)i / 24 + (double)(rand_r(&seed) % 100) / 10000;
        y[i] = 3.0 * x[i] + (double)rand_r(&seed) / RAND_MAX * 50;
    }
    double median;
    cr_assert_eq(batch_rate_pairwise_median(x, y, n, &median), 0);
    cr_assert(median > 2.9 && median < 3.1, "median slope %.17g of y = 3 x + noise", median);
    free(x);
    free(y);
}
