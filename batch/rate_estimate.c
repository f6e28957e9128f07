#include "batch/rate_estimate.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "batch/numpy_sum.h"
#include "stream/calendar.h"

#define RATE_SECONDS_PER_DAY 86400.0
#define RATE_BETA_ITERATIONS 300
#define RATE_BETA_TINY 1e-300
/* scipy.stats.linregress keeps t finite for |r| = 1 with this. */
#define RATE_LINREGRESS_TINY 1.0e-20

const char *batch_rate_method_name(enum batch_rate_method method)
{
    switch (method) {
    case BATCH_RATE_INSUFFICIENT_DATA:
        return "insufficient_data";
    case BATCH_RATE_SCIPY_REGRESSION:
        return "scipy_regression";
    case BATCH_RATE_SKLEARN_REGRESSION:
        return "sklearn_regression";
    case BATCH_RATE_MEDIAN_PAIRWISE:
        return "median_pairwise";
    case BATCH_RATE_SIMPLE_FIRST_LAST:
        return "simple_first_last";
    }
    return "unknown";
}

/* Lentz's continued fraction for I_x(a, b) (Numerical Recipes' betacf), valid and fast for
 * x < (a + 1) / (a + b + 2). */
static double rate_beta_fraction(double a, double b, double x)
{
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < RATE_BETA_TINY)
        d = RATE_BETA_TINY;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= RATE_BETA_ITERATIONS; m++) {
        double m2 = 2.0 * m;
        for (int half = 0; half < 2; half++) {
            double aa = half == 0 ? m * (b - m) * x / ((a - 1.0 + m2) * (a + m2))
                                  : -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2));
            d = 1.0 + aa * d;
            if (fabs(d) < RATE_BETA_TINY)
                d = RATE_BETA_TINY;
            c = 1.0 + aa / c;
            if (fabs(c) < RATE_BETA_TINY)
                c = RATE_BETA_TINY;
            d = 1.0 / d;
            h *= d * c;
            if (half == 1 && fabs(d * c - 1.0) < DBL_EPSILON)
                return h;
        }
    }
    return h;
}

/* I_x(a, b) with y = 1 - x given separately, so that x close to 1 loses nothing. */
static double rate_incomplete_beta(double a, double b, double x, double y)
{
    if (x <= 0.0)
        return 0.0;
    if (y <= 0.0)
        return 1.0;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y));
    if (x < (a + 1.0) / (a + b + 2.0))
        return front * rate_beta_fraction(a, b, x) / a;
    return 1.0 - front * rate_beta_fraction(b, a, y) / b;
}

double batch_rate_incomplete_beta(double a, double b, double x)
{
    return rate_incomplete_beta(a, b, x, 1.0 - x);
}

/* 2 P(T > |t|) = I_{df / (df + t²)}(df / 2, 1 / 2). */
double batch_rate_t_two_sided_p(double t, double df)
{
    if (isinf(t))
        return 0.0;
    double t2 = t * t;
    return rate_incomplete_beta(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2));
}

/* numpy.median of sorted values: the middle one, or the mean of the two middle ones. */
static double rate_sorted_median(const double *sorted, size_t count)
{
    if (count % 2 == 1)
        return sorted[count / 2];
    return (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0;
}

static int rate_median_brute_force(const double *x, const double *y, size_t count, double *median)
{
    size_t capacity = count * (count - 1) / 2, slope_count = 0;
    double *slopes = malloc((capacity ? capacity : 1) * sizeof *slopes);
    if (!slopes)
        return -1;
    for (size_t i = 0; i + 1 < count; i++)
        for (size_t j = i + 1; j < count; j++)
            if (x[j] - x[i] > 0.0)
                slopes[slope_count++] = (y[j] - y[i]) / (x[j] - x[i]);
    qsort(slopes, slope_count, sizeof *slopes, batch_double_compare);
    *median = slope_count ? rate_sorted_median(slopes, slope_count) : 0.0;
    free(slopes);
    return 0;
}

struct rate_point {
    double x, y;
};

/* A point by its key under some bound s (y - s x), for merge sorting. */
struct rate_keyed {
    double key, x;
    size_t id;
};

struct rate_selection {
    const struct rate_point *points; /* by x, then y */
    size_t count;
    struct rate_keyed *keyed, *scratch;
    double low, high;   /* the bracket [low, high] */
    uint64_t below;     /* enumerated slopes < low */
    double *candidates; /* enumerated slopes in [low, high] */
    size_t candidate_count, candidate_capacity;
    bool enumerate, failed;
};

static void rate_pair_visit(struct rate_selection *sel, size_t earlier, size_t later)
{
    const struct rate_point *e = &sel->points[earlier], *l = &sel->points[later];
    /* Pairs listed later-x first were already counted below the lower bound. */
    if (!(e->x < l->x))
        return;
    double slope = (l->y - e->y) / (l->x - e->x);
    if (slope < sel->low) {
        sel->below++;
        return;
    }
    if (slope > sel->high)
        return;
    if (sel->candidate_count == sel->candidate_capacity) {
        size_t capacity = sel->candidate_capacity ? 2 * sel->candidate_capacity : 1024;
        double *grown = realloc(sel->candidates, capacity * sizeof *grown);
        if (!grown) {
            sel->failed = true;
            return;
        }
        sel->candidates = grown;
        sel->candidate_capacity = capacity;
    }
    sel->candidates[sel->candidate_count++] = slope;
}

/* Bottom-up merge sort of sel->keyed by key; counts pairs (p before q, key q < key p), and with
 * sel->enumerate visits each of them. */
static uint64_t rate_inversions(struct rate_selection *sel)
{
    struct rate_keyed *from = sel->keyed, *to = sel->scratch;
    size_t n = sel->count;
    uint64_t inversions = 0;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t low = 0; low < n; low += 2 * width) {
            size_t mid = low + width < n ? low + width : n;
            size_t high = low + 2 * width < n ? low + 2 * width : n;
            size_t i = low, j = mid, k = low;
            while (i < mid && j < high) {
                if (from[j].key < from[i].key) {
                    inversions += mid - i;
                    if (sel->enumerate)
                        for (size_t p = i; p < mid; p++)
                            rate_pair_visit(sel, from[p].id, from[j].id);
                    to[k++] = from[j++];
                } else {
                    to[k++] = from[i++];
                }
            }
            while (i < mid)
                to[k++] = from[i++];
            while (j < high)
                to[k++] = from[j++];
        }
        struct rate_keyed *swap = from;
        from = to;
        to = swap;
    }
    sel->keyed = from;
    sel->scratch = to;
    return inversions;
}

/* Pairs (earlier x, later x) with y_l - s x_l < y_e - s x_e in floating point, i.e. slope < s
 * except within rounding of s. Equal-x pairs never count: their y ascend. */
static uint64_t rate_count_below(struct rate_selection *sel, double s)
{
    for (size_t i = 0; i < sel->count; i++)
        sel->keyed[i] = (struct rate_keyed){
            .key = sel->points[i].y - s * sel->points[i].x, .x = sel->points[i].x, .id = i};
    sel->enumerate = false;
    return rate_inversions(sel);
}

static int rate_point_compare(const void *a, const void *b)
{
    const struct rate_point *left = a, *right = b;
    if (left->x != right->x)
        return (left->x > right->x) - (left->x < right->x);
    return (left->y > right->y) - (left->y < right->y);
}

static int rate_keyed_compare(const void *a, const void *b)
{
    const struct rate_keyed *left = a, *right = b;
    if (left->key != right->key)
        return (left->key > right->key) - (left->key < right->key);
    return (left->x > right->x) - (left->x < right->x);
}

static uint64_t rate_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Slopes of 4 n random distinct-x pairs, sorted; false when distinct x are too rare to sample. */
static bool rate_sample(const struct rate_point *points, size_t count, double *sample,
                        size_t sample_count)
{
    uint64_t state = 0x9E3779B97F4A7C15u;
    size_t attempts = 0;
    for (size_t s = 0; s < sample_count;) {
        if (++attempts > 64 * sample_count)
            return false;
        size_t i = rate_random(&state) % count, j = rate_random(&state) % count;
        if (points[i].x == points[j].x)
            continue;
        size_t e = points[i].x < points[j].x ? i : j, l = e == i ? j : i;
        sample[s++] = (points[l].y - points[e].y) / (points[l].x - points[e].x);
    }
    qsort(sample, sample_count, sizeof *sample, batch_double_compare);
    return true;
}

/* The selection of batch_rate_pairwise_median; false when the bracket missed the median ranks
 * (the caller then sorts all slopes), -1 on ENOMEM. */
static int rate_median_select(struct rate_selection *sel, double *sample, size_t sample_count,
                              uint64_t rank_low, uint64_t rank_high, double *median)
{
    /* The last sample with at most rank_low slopes below it, the first with more than rank_high. */
    size_t a = 0, b = sample_count - 1;
    for (size_t lo = 0, hi = sample_count; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        if (rate_count_below(sel, sample[mid]) <= rank_low)
            a = mid, lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t lo = a, hi = sample_count; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        if (rate_count_below(sel, sample[mid]) > rank_high)
            b = mid, hi = mid;
        else
            lo = mid + 1;
    }
    sel->low = sample[a];
    sel->high = sample[b];
    /* Widen the bracket beyond the rounding of y - s x against the divided slope (a few ulps of
     * max |y| + |s| max |x|, over the smallest x step) so every slope in it is enumerated. */
    double max_x = 0.0, max_y = 0.0, min_step = INFINITY;
    for (size_t i = 0; i < sel->count; i++) {
        max_x = fmax(max_x, fabs(sel->points[i].x));
        max_y = fmax(max_y, fabs(sel->points[i].y));
        if (i > 0 && sel->points[i].x > sel->points[i - 1].x)
            min_step = fmin(min_step, sel->points[i].x - sel->points[i - 1].x);
    }
    double bound = fmax(fabs(sel->low), fabs(sel->high));
    double margin = 64.0 * DBL_EPSILON * (max_y + bound * max_x) / min_step;
    margin = 64.0 * DBL_EPSILON * (max_y + (bound + margin) * max_x) / min_step;
    uint64_t below = rate_count_below(sel, sel->low - margin);
    /* Order by y - (low - margin) x (ties by x), then count the pairs that y - (high + margin) x
     * puts the other way round: the slopes between the widened bounds. */
    for (size_t i = 0; i < sel->count; i++)
        sel->keyed[i] =
            (struct rate_keyed){.key = sel->points[i].y - (sel->low - margin) * sel->points[i].x,
                                .x = sel->points[i].x,
                                .id = i};
    qsort(sel->keyed, sel->count, sizeof *sel->keyed, rate_keyed_compare);
    for (size_t i = 0; i < sel->count; i++) {
        const struct rate_point *point = &sel->points[sel->keyed[i].id];
        sel->keyed[i].key = point->y - (sel->high + margin) * point->x;
    }
    sel->enumerate = true;
    rate_inversions(sel);
    if (sel->failed)
        return -1;
    below += sel->below;
    if (below > rank_low || below + sel->candidate_count <= rank_high)
        return 0;
    qsort(sel->candidates, sel->candidate_count, sizeof *sel->candidates, batch_double_compare);
    double low = sel->candidates[rank_low - below], high = sel->candidates[rank_high - below];
    *median = rank_low == rank_high ? low : (low + high) / 2.0;
    return 1;
}

int batch_rate_pairwise_median(const double *x, const double *y, size_t count, double *median)
{
    if (count < BATCH_RATE_MEDIAN_BRUTE_FORCE_BELOW)
        return rate_median_brute_force(x, y, count, median);
    uint64_t pairs = (uint64_t)count * (count - 1) / 2;
    for (size_t i = 0, run = 1; i < count; i++, run++) {
        if (i + 1 == count || x[i + 1] != x[i]) {
            pairs -= (uint64_t)run * (run - 1) / 2;
            run = 0;
        }
    }
    if (pairs == 0) {
        *median = 0.0;
        return 0;
    }
    size_t sample_count = 4 * count;
    struct rate_point *points = malloc(count * sizeof *points);
    double *sample = malloc(sample_count * sizeof *sample);
    struct rate_selection sel = {.points = points, .count = count};
    sel.keyed = malloc(count * sizeof *sel.keyed);
    sel.scratch = malloc(count * sizeof *sel.scratch);
    int result = -1;
    if (points && sample && sel.keyed && sel.scratch) {
        for (size_t i = 0; i < count; i++)
            points[i] = (struct rate_point){x[i], y[i]};
        qsort(points, count, sizeof *points, rate_point_compare);
        result =
            rate_sample(points, count, sample, sample_count)
                ? rate_median_select(&sel, sample, sample_count, (pairs - 1) / 2, pairs / 2, median)
                : 0;
    }
    free(points);
    free(sample);
    free(sel.keyed);
    free(sel.scratch);
    free(sel.candidates);
    if (result < 0) {
        errno = ENOMEM;
        return -1;
    }
    /* Heavily tied or degenerate slopes: the bracket missed, so sort them all. */
    return result == 1 ? 0 : rate_median_brute_force(x, y, count, median);
}

/* scipy.stats.linregress and sklearn's LinearRegression on the same data: one slope, scipy's R²
 * and p-value, sklearn's R². */
struct rate_fit {
    double slope, r2, p_value, sklearn_r2;
};

static struct rate_fit rate_least_squares(const double *x, const double *y, size_t count)
{
    double x_mean = batch_numpy_sum(x, count) / (double)count;
    double y_mean = batch_numpy_sum(y, count) / (double)count;
    double sxx = 0.0, sxy = 0.0, syy = 0.0;
    for (size_t i = 0; i < count; i++) {
        double dx = x[i] - x_mean, dy = y[i] - y_mean;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    /* numpy.cov(bias=1) multiplies by 1 / n. */
    double scale = 1.0 / (double)count;
    sxx *= scale;
    sxy *= scale;
    syy *= scale;
    struct rate_fit fit = {.p_value = 1.0};
    /* sklearn: a constant series is predicted exactly (R² 1); all x equal fit nothing (R² 0). */
    if (syy == 0.0)
        fit.sklearn_r2 = 1.0;
    /* scipy refuses all-equal x: its slope, R² and p stay 0, 0 and 1. */
    if (sxx == 0.0)
        return fit;
    fit.slope = sxy / sxx;
    double r = syy == 0.0 ? 0.0 : fmax(-1.0, fmin(1.0, sxy / sqrt(sxx * syy)));
    fit.r2 = r * r;
    if (syy != 0.0)
        fit.sklearn_r2 = fit.r2;
    if (count == 2) {
        fit.p_value = y[0] == y[1] ? 1.0 : 0.0;
    } else {
        double df = (double)(count - 2);
        double t =
            r * sqrt(df / ((1.0 - r + RATE_LINREGRESS_TINY) * (1.0 + r + RATE_LINREGRESS_TINY)));
        fit.p_value = batch_rate_t_two_sided_p(t, df);
    }
    return fit;
}

static void rate_choose(struct batch_rate_estimate *out, enum batch_rate_method method, double rate,
                        double r2)
{
    out->method = method;
    out->rate = rate > 0.0 ? rate : 0.0;
    out->r2 = r2;
    if (method == BATCH_RATE_SCIPY_REGRESSION || method == BATCH_RATE_SKLEARN_REGRESSION)
        snprintf(out->method_text, sizeof out->method_text, "%s_r2_%.3f",
                 batch_rate_method_name(method), r2);
    else
        snprintf(out->method_text, sizeof out->method_text, "%s", batch_rate_method_name(method));
}

int batch_rate_estimate(const int64_t *t_ns, const double *values, size_t count,
                        struct batch_rate_estimate *out)
{
    *out = (struct batch_rate_estimate){.count = count, .p_value = 1.0};
    for (size_t i = 0; i < count; i++)
        if (!isfinite(values[i]) || (i > 0 && t_ns[i] < t_ns[i - 1])) {
            errno = EINVAL;
            return -1;
        }
    if (count < 2) {
        rate_choose(out, BATCH_RATE_INSUFFICIENT_DATA, 0.0, 0.0);
        return 0;
    }
    double *x = malloc(count * sizeof *x);
    if (!x) {
        errno = ENOMEM;
        return -1;
    }
    /* pandas: Timedelta.total_seconds() is ns / 1e9, then / (24 * 3600). */
    for (size_t i = 0; i < count; i++) {
        x[i] = stream_calendar_span_double(t_ns[i], t_ns[0]) / 1e9 / RATE_SECONDS_PER_DAY;
    }
    struct rate_fit fit = rate_least_squares(x, values, count);
    out->p_value = fit.p_value;
    int result = 0;
    double median = 0.0;
    if (count >= 4 && fit.r2 > 0.7 && fit.p_value < 0.05) {
        rate_choose(out, BATCH_RATE_SCIPY_REGRESSION, fit.slope, fit.r2);
    } else if (count >= 4 && fit.sklearn_r2 > 0.6) {
        rate_choose(out, BATCH_RATE_SKLEARN_REGRESSION, fit.slope, fit.sklearn_r2);
    } else if (count >= 3 &&
               (result = batch_rate_pairwise_median(x, values, count, &median)) == 0 &&
               median > 0.0) {
        rate_choose(out, BATCH_RATE_MEDIAN_PAIRWISE, median, 0.0);
    } else if (result == 0) {
        double span = x[count - 1] - x[0];
        rate_choose(out, BATCH_RATE_SIMPLE_FIRST_LAST,
                    span > 0.0 ? (values[count - 1] - values[0]) / span : 0.0, 0.0);
    }
    free(x);
    return result;
}
