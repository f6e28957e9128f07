#include "bench/batch_accuracy/generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/tz.h"

#define DAY ACCURACY_DAY_SECONDS
#define HOUR INT64_C(3600)
#define MAX_HOLIDAYS 16
#define REPLACED_SHARE 0.10 /* of the meters, once */
#define RESET_SHARE 0.06    /* of the meters not replaced */
#define EARLY_STOP_SHARE 0.1
#define LATE_INSTALL_SHARE 0.15

const char *accuracy_kind_name(enum accuracy_kind kind)
{
    static const char *const names[ACCURACY_KINDS] = {"gas", "heat", "electricity", "water"};
    return kind < ACCURACY_KINDS ? names[kind] : "unknown";
}

const char *accuracy_kind_unit(enum accuracy_kind kind)
{
    static const char *const units[ACCURACY_KINDS] = {"m³", "MWh", "kWh", "m³"};
    return kind < ACCURACY_KINDS ? units[kind] : "";
}

const char *accuracy_style_name(enum accuracy_style style)
{
    static const char *const names[ACCURACY_STYLES] = {"manual", "irregular", "daily",
                                                       "manual_daily"};
    return style < ACCURACY_STYLES ? names[style] : "unknown";
}

/* What sets the kinds apart. Heat is in MWh, as heat meters show it (0.001 MWh = 1 kWh). */
struct profile {
    double level_min, level_max;   /* mean use per day */
    int decimals, coarse_decimals; /* the resolution people note; coarse: some note fewer digits */
    double coarse_share;
    double noise, persistence; /* sigma and AR(1) coefficient of the day's log factor */
    double slow_noise;         /* sigma of a factor that drifts over months (mild, cold winters) */
    double seasonal_share;     /* of the meters that follow the pattern (the others are flat) */
    double configured_share;   /* of the seasonal meters with an entry in seasonal_patterns.yaml */
    double holiday_factor;     /* use while the household is away */
    double percentages[12];    /* the kind's pattern, January first; each meter varies it */
    double weekdays[7];        /* Sunday first, relative */
    double hours[24];          /* the usual day, relative */
};

static const struct profile profiles[ACCURACY_KINDS] =
    {
        [ACCURACY_GAS] =
            {
                .level_min = 2,
                .level_max = 8,
                .decimals = 3,
                .coarse_decimals = 2,
                .coarse_share = 0.3,
                .noise = 0.15,
                .persistence = 0.85,
                .slow_noise = 0.08,
                .seasonal_share = 1.0,
                .configured_share = 1.0,
                .holiday_factor = 0.7, /* the heating keeps running */
                .percentages = {15.1, 12.0, 12.5, 8.1, 3.5, 3.2, 2.7, 3.6, 5.2, 8.4, 12.2, 14.5},
                .weekdays = {1.05, 0.98, 0.98, 0.98, 0.98, 1.0, 1.05},
                .hours = {25, 25, 25, 25, 25, 50, 70, 70, 55, 35, 35, 35,
                          35, 35, 35, 35, 45, 55, 60, 60, 55, 50, 40, 30},
            },
        [ACCURACY_HEAT] =
            {
                .level_min = 0.01,
                .level_max = 0.06,
                .decimals = 3,
                .coarse_decimals = 3,
                .noise = 0.15,
                .persistence = 0.85,
                .slow_noise = 0.08,
                .seasonal_share = 1.0,
                .configured_share = 1.0,
                .holiday_factor = 0.7,
                .percentages = {17.1, 14.0, 12.5, 8.1, 2.5, 1.2, 0.7, 0.6, 5.2, 8.4, 13.2, 16.5},
                .weekdays = {1.05, 0.98, 0.98, 0.98, 0.98, 1.0, 1.05},
                .hours = {25, 25, 25, 25, 25, 50, 70, 70, 55, 35, 35, 35,
                          35, 35, 35, 35, 45, 55, 60, 60, 55, 50, 40, 30},
            },
        [ACCURACY_ELECTRICITY] =
            {
                .level_min = 4,
                .level_max = 16,
                .decimals = 1,
                .coarse_decimals = 0,
                .coarse_share = 0.3,
                .noise = 0.12,
                .persistence = 0.3,
                .slow_noise = 0.05,
                .seasonal_share = 1.0,
                .configured_share = 0.7,
                .holiday_factor = 0.3, /* standby */
                .percentages = {12.5, 11.0, 10.0, 8.5, 6.5, 5.0, 4.5, 5.0, 6.5, 8.0, 10.5, 12.0},
                .weekdays = {1.15, 0.95, 0.95, 0.95, 0.95, 1.0, 1.15},
                .hours = {25, 25, 25, 25, 25, 25, 40, 60, 50, 35, 35, 35,
                          45, 40, 35, 35, 35, 50, 70, 75, 70, 60, 45, 35},
            },
        [ACCURACY_WATER] =
            {
                .level_min = 0.15,
                .level_max = 0.6,
                .decimals = 3,
                .coarse_decimals = 2,
                .coarse_share = 0.2,
                .noise = 0.25,
                .persistence = 0.2,
                .slow_noise = 0.05,
                .seasonal_share = 0.5,
                .configured_share = 1.0,
                .holiday_factor = 0.05,
                .percentages = {7.6, 7.0, 7.8, 8.2, 8.8, 9.2, 9.6, 9.4, 8.4, 8.2, 7.8, 8.0},
                .weekdays = {1.12, 0.96, 0.96, 0.96, 0.96, 1.0, 1.1},
                .hours = {1, 0, 0, 0, 0, 2, 12, 14, 8, 4, 3, 3, 5, 4, 2, 2, 3, 5, 7, 9, 8, 7, 5, 2},
            },
};

/* splitmix64: small, fast and good enough for synthetic data. */
struct rng {
    uint64_t state;
};

static uint64_t rng_next(struct rng *rng)
{
    uint64_t z = (rng->state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double rng_uniform(struct rng *rng, double low, double high)
{
    return low + (high - low) * (double)(rng_next(rng) >> 11) * 0x1p-53;
}

static int64_t rng_int(struct rng *rng, int64_t low, int64_t high)
{
    return low + (int64_t)(rng_next(rng) % (uint64_t)(high - low + 1));
}

static bool rng_chance(struct rng *rng, double probability)
{
    return rng_uniform(rng, 0, 1) < probability;
}

static double rng_normal(struct rng *rng)
{
    double u = rng_uniform(rng, 0x1p-53, 1.0), v = rng_uniform(rng, 0.0, 1.0);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

struct holiday {
    int64_t first_day, days;
};

struct generation {
    struct rng rng;
    const struct profile *profile;
    struct accuracy_meter *meter;
    double level;           /* mean use per day */
    double manual_interval; /* days, for ACCURACY_MANUAL */
    int64_t daily_second;   /* the automation's time of day, or -1: exactly at midnight */
    int64_t switch_day;     /* ACCURACY_MANUAL_DAILY: daily from this day on */
    int64_t first_read_day, stop_t;
    double hours_cumulative[25]; /* the share of a day's use before each hour */
    int64_t *times;              /* the reading times of the whole life */
    size_t time_count, time_capacity;
};

static int days_in_month(int year, int month)
{
    return (int)(tz_days_from_civil(month == 12 ? year + 1 : year, month == 12 ? 1 : month + 1, 1) -
                 tz_days_from_civil(year, month, 1));
}

/* Each meter varies its kind's pattern by up to 15 % a month, in hundredths of a percent that
 * sum to exactly 100 (so seasonal_patterns.yaml holds the truth and loads without a warning). */
static void pattern_draw(struct generation *g)
{
    struct accuracy_meter *meter = g->meter;
    static const int standard_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!rng_chance(&g->rng, g->profile->seasonal_share)) {
        for (int m = 0; m < 12; m++)
            meter->percentages[m] = standard_days[m] * 100.0 / 365.0;
        meter->pattern_configured = false;
        return;
    }
    double raw[12], sum = 0.0;
    for (int m = 0; m < 12; m++)
        sum += raw[m] = g->profile->percentages[m] * rng_uniform(&g->rng, 0.85, 1.15);
    long hundredths[12], total = 0;
    int largest = 0;
    for (int m = 0; m < 12; m++) {
        hundredths[m] = lround(raw[m] / sum * 10000.0);
        total += hundredths[m];
        if (hundredths[m] > hundredths[largest])
            largest = m;
    }
    hundredths[largest] += 10000 - total;
    for (int m = 0; m < 12; m++)
        meter->percentages[m] = hundredths[m] / 100.0;
    meter->pattern_configured = rng_chance(&g->rng, g->profile->configured_share);
}

/* A smooth curve through the months' mean days: each day blends its month's mean day with the
 * neighbouring month's towards the month's edge (equal halves at the edge). */
static double season_curve(const double percentages[12], int month, int day_of_month, int length)
{
    static const int standard_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    double position = (day_of_month - 0.5) / length;
    int neighbour = position < 0.5 ? (month + 10) % 12 : month % 12;
    double weight = fabs(position - 0.5);
    return (1.0 - weight) * percentages[month - 1] / length +
           weight * percentages[neighbour] / standard_days[neighbour];
}

/* The expected use of every day: the curve, scaled within each calendar month so that the
 * month's expected total is its share of a year of `level` a day. */
static void expected_fill(struct generation *g, double *expected)
{
    struct accuracy_meter *meter = g->meter;
    int64_t day = meter->first_day;
    while (day < meter->today) {
        int year, month, day_of_month;
        tz_civil_from_days(day, &year, &month, &day_of_month);
        int length = days_in_month(year, month);
        int64_t month_first = day - (day_of_month - 1);
        double curve[31], sum = 0.0;
        for (int k = 0; k < length; k++)
            sum += curve[k] = season_curve(meter->percentages, month, k + 1, length);
        double total = g->level * 365.0 * meter->percentages[month - 1] / 100.0;
        for (int k = 0; k < length; k++) {
            int64_t d = month_first + k;
            if (d >= meter->first_day && d < meter->today)
                expected[d - meter->first_day] = total * curve[k] / sum;
        }
        day = month_first + length;
    }
}

/* The true use of each day of the meter's life and its running sum. */
static void use_draw(struct generation *g, double *expected)
{
    struct accuracy_meter *meter = g->meter;
    const struct profile *profile = g->profile;
    struct rng *rng = &g->rng;
    int64_t days = meter->today - meter->first_day;
    struct holiday holidays[MAX_HOLIDAYS];
    int holiday_count = 0;
    for (int64_t year_start = meter->first_day;
         year_start < meter->today && holiday_count < MAX_HOLIDAYS; year_start += 365)
        if (rng_chance(rng, 0.6))
            holidays[holiday_count++] =
                (struct holiday){year_start + rng_int(rng, 0, 364), rng_int(rng, 7, 21)};
    double weekday_mean = 0.0;
    for (int w = 0; w < 7; w++)
        weekday_mean += profile->weekdays[w] / 7.0;
    double sigma = profile->noise, rho = profile->persistence, slow = profile->slow_noise;
    double fast_factor = sigma * rng_normal(rng), slow_factor = slow * rng_normal(rng);
    double trend = rng_uniform(rng, -0.04, 0.04); /* a year */
    expected_fill(g, expected);
    meter->cumulative[0] = 0.0;
    for (int64_t i = 0; i < days; i++) {
        int64_t day = meter->first_day + i;
        fast_factor = rho * fast_factor + sqrt(1.0 - rho * rho) * sigma * rng_normal(rng);
        slow_factor = 0.995 * slow_factor + sqrt(1.0 - 0.995 * 0.995) * slow * rng_normal(rng);
        double use = expected[i] * profile->weekdays[tz_weekday_from_days(day)] / weekday_mean *
                     exp(fast_factor + slow_factor - (sigma * sigma + slow * slow) / 2.0) *
                     (1.0 + trend * (double)i / 365.0);
        for (int h = 0; h < holiday_count; h++)
            if (day >= holidays[h].first_day && day < holidays[h].first_day + holidays[h].days)
                use *= profile->holiday_factor;
        meter->day_use[i] = use;
        meter->cumulative[i + 1] = meter->cumulative[i] + use;
    }
}

/* True use through every register from first_day 00:00 until t; within a day by the hourly
 * profile. */
static double use_until(const struct generation *g, int64_t t)
{
    const struct accuracy_meter *meter = g->meter;
    int64_t since = t - meter->first_day * DAY, days = meter->today - meter->first_day;
    if (since <= 0)
        return 0.0;
    int64_t i = since / DAY;
    if (i >= days)
        return meter->cumulative[days];
    double hour = (double)(since % DAY) / 3600.0;
    int h = (int)hour;
    double share =
        g->hours_cumulative[h] + (hour - h) * (g->hours_cumulative[h + 1] - g->hours_cumulative[h]);
    return meter->cumulative[i] + meter->day_use[i] * share;
}

/* The true use through register r between two instants. */
static double register_use_between(const struct generation *g, int r, int64_t from, int64_t to)
{
    int64_t swap = g->meter->swap_t;
    if (swap >= 0) {
        if (r == 0) {
            from = from < swap ? from : swap;
            to = to < swap ? to : swap;
        } else {
            from = from > swap ? from : swap;
            to = to > swap ? to : swap;
        }
    }
    return to > from ? use_until(g, to) - use_until(g, from) : 0.0;
}

/* What register r shows at t. */
static double register_display(const struct generation *g, int r, int64_t t)
{
    const struct accuracy_register *reg = &g->meter->registers[r];
    if (reg->reset_t >= 0 && t >= reg->reset_t)
        return register_use_between(g, r, reg->reset_t, t);
    int64_t installed = r == 0 ? g->meter->first_day * DAY : g->meter->swap_t;
    return reg->start + register_use_between(g, r, installed, t);
}

static int time_append(struct generation *g, int64_t t)
{
    if (g->time_count == g->time_capacity) {
        size_t capacity = g->time_capacity ? 2 * g->time_capacity : 256;
        int64_t *times = realloc(g->times, capacity * sizeof *times);
        if (!times)
            return -1;
        g->times = times;
        g->time_capacity = capacity;
    }
    g->times[g->time_count++] = t;
    return 0;
}

static int64_t time_of_day_draw(struct generation *g, bool daily)
{
    if (!daily)
        return rng_int(&g->rng, 6 * HOUR, 22 * HOUR - 1); /* people read meters by day */
    if (g->daily_second < 0)
        return 0;
    int64_t second = g->daily_second + rng_int(&g->rng, -900, 900);
    return second < 0 ? 0 : second >= DAY ? DAY - 1 : second;
}

/* Days to the next reading. */
static int64_t interval_draw(struct generation *g, bool daily)
{
    struct rng *rng = &g->rng;
    if (daily) {
        double r = rng_uniform(rng, 0, 1);
        return r < 0.004  ? rng_int(rng, 7, 30) /* the automation was down */
               : r < 0.03 ? rng_int(rng, 2, 6)
                          : 1;
    }
    double days = g->meter->style == ACCURACY_IRREGULAR
                      ? exp(rng_uniform(rng, 0, log(90.49)))
                      : g->manual_interval * exp(0.3 * rng_normal(rng)) *
                            (rng_chance(rng, 0.05) ? rng_uniform(rng, 2, 3) : 1.0);
    int64_t whole = (int64_t)lround(days);
    return whole < 1 ? 1 : whole > 90 ? 90 : whole;
}

/* The reading times of the meter's whole life, before the replacement's split. */
static int schedule_draw(struct generation *g)
{
    struct accuracy_meter *meter = g->meter;
    for (int64_t day = g->first_read_day;;) {
        bool daily = meter->style == ACCURACY_DAILY ||
                     (meter->style == ACCURACY_MANUAL_DAILY && day >= g->switch_day);
        int64_t t = day * DAY + time_of_day_draw(g, daily);
        if (t >= g->stop_t)
            return 0;
        if (time_append(g, t) != 0)
            return -1;
        day += interval_draw(g, daily);
    }
}

static int reading_append(struct accuracy_register *reg, struct accuracy_reading reading)
{
    if (reg->reading_count == reg->reading_capacity) {
        size_t capacity = reg->reading_capacity ? 2 * reg->reading_capacity : 64;
        struct accuracy_reading *readings = realloc(reg->readings, capacity * sizeof *readings);
        if (!readings)
            return -1;
        reg->readings = readings;
        reg->reading_capacity = capacity;
    }
    reg->readings[reg->reading_count++] = reading;
    return 0;
}

static int reading_compare(const void *a, const void *b)
{
    int64_t x = ((const struct accuracy_reading *)a)->t,
            y = ((const struct accuracy_reading *)b)->t;
    return (x > y) - (x < y);
}

/* The register's readings: its share of the life's times (a replacement's instant in both), a
 * reset perhaps, the values floored to the resolution, then the transient zeros. */
static int register_read(struct generation *g, int r)
{
    struct accuracy_meter *meter = g->meter;
    struct accuracy_register *reg = &meter->registers[r];
    int64_t swap = meter->swap_t;
    if (r == 1 && reading_append(reg, (struct accuracy_reading){.t = swap}) != 0)
        return -1;
    for (size_t i = 0; i < g->time_count; i++) {
        int64_t t = g->times[i];
        bool mine = swap < 0 || (r == 0 ? t < swap - HOUR : t > swap + HOUR);
        if (mine && reading_append(reg, (struct accuracy_reading){.t = t}) != 0)
            return -1;
    }
    if (r == 0 && swap >= 0 && reading_append(reg, (struct accuracy_reading){.t = swap}) != 0)
        return -1;
    size_t n = reg->reading_count;
    /* A reset between readings i and i + 1, two or more readings following. */
    size_t reset_index = SIZE_MAX;
    if (swap < 0 && n >= 8 && rng_chance(&g->rng, RESET_SHARE)) {
        reset_index = (size_t)rng_int(&g->rng, 2, (int64_t)n - 4);
        int64_t from = reg->readings[reset_index].t, to = reg->readings[reset_index + 1].t;
        reg->reset_t = from + (int64_t)((double)(to - from) * rng_uniform(&g->rng, 0.2, 0.8));
    }
    double scale = pow(10.0, meter->decimals);
    for (size_t i = 0; i < n; i++)
        reg->readings[i].units = (int64_t)floor(register_display(g, r, reg->readings[i].t) * scale);
    /* Transient zeros between readings i and i + 1, away from the reset and from each other. */
    bool automated = meter->style == ACCURACY_DAILY || meter->style == ACCURACY_MANUAL_DAILY;
    int zeros = n < 8       ? 0
                : automated ? (rng_chance(&g->rng, 0.3) ? (int)rng_int(&g->rng, 1, 3) : 0)
                            : (rng_chance(&g->rng, 0.1) ? 1 : 0);
    size_t taken[3];
    int placed = 0;
    for (int attempt = 0; attempt < 20 && placed < zeros; attempt++) {
        size_t i = (size_t)rng_int(&g->rng, 1, (int64_t)n - 3);
        bool apart = reset_index == SIZE_MAX || i + 3 < reset_index || i > reset_index + 3;
        for (int k = 0; k < placed; k++)
            apart = apart && (i + 3 < taken[k] || i > taken[k] + 3);
        if (!apart)
            continue;
        taken[placed++] = i;
        int64_t from = reg->readings[i].t, to = reg->readings[i + 1].t;
        struct accuracy_reading zero = {
            .t = from + (int64_t)((double)(to - from) * rng_uniform(&g->rng, 0.1, 0.9)),
            .transient_zero = true};
        if (reading_append(reg, zero) != 0)
            return -1;
        meter->transient_zeros++;
    }
    qsort(reg->readings, reg->reading_count, sizeof *reg->readings, reading_compare);
    return 0;
}

/* The register's truth on its grid: what it shows at each midnight, and each day's use. */
static int register_truth(struct generation *g, int r)
{
    struct accuracy_register *reg = &g->meter->registers[r];
    size_t days = (size_t)(reg->last_day - reg->first_day + 1);
    reg->display = malloc(days * sizeof *reg->display);
    reg->use = malloc(days * sizeof *reg->use);
    if (!reg->display || !reg->use)
        return -1;
    for (size_t k = 0; k < days; k++) {
        int64_t midnight = (reg->first_day + (int64_t)k) * DAY;
        reg->display[k] = register_display(g, r, midnight);
        reg->use[k] = k == 0 ? 0.0 : register_use_between(g, r, midnight - DAY, midnight);
    }
    return 0;
}

/* Who reads the meter, how and until when. */
static void reading_plan(struct generation *g, const struct accuracy_options *options)
{
    struct accuracy_meter *meter = g->meter;
    struct rng *rng = &g->rng;
    double style = rng_uniform(rng, 0, 1);
    meter->style = style < 0.45  ? ACCURACY_MANUAL
                   : style < 0.8 ? ACCURACY_IRREGULAR
                   : style < 0.9 ? ACCURACY_DAILY
                                 : ACCURACY_MANUAL_DAILY;
    double interval = rng_uniform(rng, 0, 1);
    g->manual_interval = interval < 0.3 ? 7 : interval < 0.5 ? 14 : 30;
    g->daily_second = rng_chance(rng, 0.3) ? -1 : rng_int(rng, 0, DAY - 1);
    int64_t start = tz_days_from_civil(options->start_year, 1, 1);
    g->switch_day = start + rng_int(rng, 365, 2 * 365);
    if (g->switch_day > meter->today - 100)
        g->switch_day = meter->today - 100;
    g->first_read_day = meter->first_day + rng_int(rng, 0, 20);
    g->stop_t = meter->today * DAY;
    const struct profile *profile = g->profile;
    bool automated = meter->style == ACCURACY_DAILY || meter->style == ACCURACY_MANUAL_DAILY;
    meter->decimals = !automated && rng_chance(rng, profile->coarse_share)
                          ? profile->coarse_decimals
                          : profile->decimals;
}

int accuracy_meter_generate(const struct accuracy_options *options, unsigned index,
                            struct accuracy_meter *meter)
{
    struct generation g = {.rng.state = options->seed * UINT64_C(0x2545F4914F6CDD1D) + index,
                           .meter = meter};
    *meter = (struct accuracy_meter){.swap_t = -1};
    struct rng *rng = &g.rng;
    meter->kind = (enum accuracy_kind)rng_int(rng, 0, ACCURACY_KINDS - 1);
    g.profile = &profiles[meter->kind];
    g.level = rng_uniform(rng, g.profile->level_min, g.profile->level_max);
    double hours_sum = 0.0;
    for (int h = 0; h < 24; h++)
        hours_sum += g.profile->hours[h];
    for (int h = 0; h < 24; h++)
        g.hours_cumulative[h + 1] = g.hours_cumulative[h] + g.profile->hours[h] / hours_sum;
    pattern_draw(&g);

    int64_t start = tz_days_from_civil(options->start_year, 1, 1);
    meter->today = tz_days_from_civil(options->start_year + options->years - 1, 12, 31);
    meter->first_day =
        start + (rng_chance(rng, LATE_INSTALL_SHARE) ? rng_int(rng, 90, meter->today - start - 400)
                                                     : rng_int(rng, 0, 90));
    reading_plan(&g, options);
    bool replaced = rng_chance(rng, REPLACED_SHARE);
    if (replaced) {
        int64_t day = rng_int(rng, meter->first_day + 200, meter->today - 120);
        meter->swap_t = day * DAY + rng_int(rng, 8 * HOUR, 16 * HOUR); /* the fitter's visit */
    } else if (rng_chance(rng, EARLY_STOP_SHARE)) {
        g.stop_t = (meter->today - rng_int(rng, 60, 200)) * DAY; /* nobody reads it any more */
    }

    const char *kind = accuracy_kind_name(meter->kind);
    meter->register_count = replaced ? 2 : 1;
    struct accuracy_register *old = &meter->registers[0], *new = &meter->registers[1];
    *old = (struct accuracy_register){.installation_day = meter->first_day,
                                      .deinstallation_day = -1,
                                      .first_day = meter->first_day,
                                      .last_day = meter->today,
                                      .reset_t = -1};
    /* The register's age: 200 days to 11 years of use. */
    old->start = floor(g.level * rng_uniform(rng, 200, 4000));
    if (replaced) {
        int64_t swap_day = meter->swap_t / DAY;
        snprintf(meter->master_id, sizeof meter->master_id, "%s_%04u_total", kind, index);
        snprintf(old->meter_id, sizeof old->meter_id, "%s_%04u_alt", kind, index);
        old->deinstallation_day = old->last_day = swap_day;
        *new = (struct accuracy_register){.installation_day = swap_day,
                                          .deinstallation_day = -1,
                                          .first_day = swap_day,
                                          .last_day = meter->today,
                                          .reset_t = -1};
        /* New registers show 0, or a little from the factory's test. */
        new->start = rng_chance(rng, 0.3) ? 0.0 : g.level *rng_uniform(rng, 0, 0.3);
        snprintf(new->meter_id, sizeof new->meter_id, "%s_%04u", kind, index);
    } else {
        snprintf(old->meter_id, sizeof old->meter_id, "%s_%04u", kind, index);
    }

    int64_t days = meter->today - meter->first_day;
    double *expected = malloc((size_t)days * sizeof *expected);
    meter->day_use = malloc((size_t)days * sizeof *meter->day_use);
    meter->cumulative = malloc(((size_t)days + 1) * sizeof *meter->cumulative);
    int status = -1;
    if (expected && meter->day_use && meter->cumulative) {
        use_draw(&g, expected);
        status = schedule_draw(&g);
        for (int r = 0; r < meter->register_count && status == 0; r++)
            status = register_read(&g, r) == 0 && register_truth(&g, r) == 0 ? 0 : -1;
    }
    free(expected);
    free(g.times);
    if (status != 0)
        accuracy_meter_free(meter);
    return status;
}

void accuracy_meter_free(struct accuracy_meter *meter)
{
    for (int r = 0; r < 2; r++) {
        free(meter->registers[r].display);
        free(meter->registers[r].use);
        free(meter->registers[r].readings);
    }
    free(meter->day_use);
    free(meter->cumulative);
    *meter = (struct accuracy_meter){.swap_t = -1};
}
