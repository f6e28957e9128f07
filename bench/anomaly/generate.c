#include "bench/anomaly/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/tz.h"

#define SECOND_NS INT64_C(1000000000)
#define HOUR_NS (3600 * SECOND_NS)
#define DAY_NS (24 * HOUR_NS)
#define FIRST_EVENT_DAY 90
#define EVENT_SPACING_DAYS 10
#define LEVEL_SHIFT_TRUTH_DAYS 14
#define CONTROL_DAYS 7
#define GAP_PROBABILITY 0.08 /* per day: a gap of 1-6 hours without readings */
#define IRREGULAR_SHARE 0.3  /* of the meters read at irregular intervals */

const char *anomaly_truth_kind_name(enum anomaly_truth_kind kind)
{
    static const char *const names[ANOMALY_TRUTH_KINDS] = {
        "spike",       "level_shift",    "leak",    "stuck",    "reset",
        "replacement", "transient_zero", "holiday", "cold_snap"};
    return kind < ANOMALY_TRUTH_KINDS ? names[kind] : "unknown";
}

const char *anomaly_meter_kind_name(enum anomaly_meter_kind kind)
{
    static const char *const names[] = {"electricity", "gas", "heat", "water"};
    return kind <= ANOMALY_WATER ? names[kind] : "unknown";
}

/* What sets the kinds of meters apart. Units: kWh (electricity, heat), m³ (gas, water). */
struct profile {
    double level_min, level_max; /* mean use per day */
    double day_noise;            /* sigma of the day's log-normal factor */
    double resolution;           /* the register's last digit */
    double max_rate_per_hour;    /* the hardware's limit: fuse, meter size */
    int stuck_days;
    int cadence_max_minutes;
    double weekend_factor;
    double holiday_min, holiday_max;  /* holiday use as a share of the usual */
    const double *winter_percentages; /* seasonal pattern, or NULL */
    double hours[24];                 /* the usual day, relative */
    enum anomaly_truth_kind events[8];
    int event_count;
    enum anomaly_truth_kind controls[2];
    int control_count;
};

static const double gas_percentages[12] = {16.5, 14.5, 12, 8, 4.5, 2.5, 2, 2, 3.5, 7.5, 11.5, 15.5};
static const double heat_percentages[12] = {18, 16, 12.5, 7, 2.5, 0.5, 0.5, 0.5, 2, 7, 14, 19.5};

static const struct profile profiles[] = {
    [ANOMALY_ELECTRICITY] =
        {
            .level_min = 4,
            .level_max = 16,
            .day_noise = 0.12,
            .resolution = 0.01,
            .max_rate_per_hour = 24, /* a 35 A fuse */
            .stuck_days = 2,
            .cadence_max_minutes = 60,
            .weekend_factor = 1.15,
            .holiday_min = 0.1,
            .holiday_max = 0.2, /* standby */
            .hours = {25, 25, 25, 25, 25, 25, 40, 60, 50, 35, 35, 35,
                      45, 40, 35, 35, 35, 50, 70, 75, 70, 60, 45, 35},
            .events = {ANOMALY_SPIKE, ANOMALY_LEVEL_SHIFT, ANOMALY_STUCK, ANOMALY_RESET,
                       ANOMALY_REPLACEMENT, ANOMALY_TRANSIENT_ZERO},
            .event_count = 6,
            .controls = {ANOMALY_HOLIDAY},
            .control_count = 1,
        },
    [ANOMALY_GAS] =
        {
            .level_min = 3,
            .level_max = 9,
            .day_noise = 0.1,
            .resolution = 0.001,
            .max_rate_per_hour = 6, /* a G4 meter */
            .stuck_days = 3,
            .cadence_max_minutes = 60,
            .weekend_factor = 1.0,
            .holiday_min = 0.05,
            .holiday_max = 0.15,
            .winter_percentages = gas_percentages,
            .hours = {25, 25, 25, 25, 25, 50, 70, 70, 55, 35, 35, 35,
                      35, 35, 35, 35, 45, 55, 60, 60, 55, 50, 40, 30},
            .events = {ANOMALY_SPIKE, ANOMALY_LEVEL_SHIFT, ANOMALY_STUCK, ANOMALY_RESET,
                       ANOMALY_REPLACEMENT, ANOMALY_TRANSIENT_ZERO},
            .event_count = 6,
            .controls = {ANOMALY_HOLIDAY, ANOMALY_COLD_SNAP},
            .control_count = 2,
        },
    [ANOMALY_HEAT] =
        {
            .level_min = 15,
            .level_max = 60,
            .day_noise = 0.1,
            .resolution = 0.1,
            .max_rate_per_hour = 30, /* the heat exchanger */
            .stuck_days = 3,
            .cadence_max_minutes = 60,
            .weekend_factor = 1.0,
            .holiday_min = 0.1,
            .holiday_max = 0.2,
            .winter_percentages = heat_percentages,
            .hours = {25, 25, 25, 25, 25, 50, 70, 70, 55, 35, 35, 35,
                      35, 35, 35, 35, 45, 55, 60, 60, 55, 50, 40, 30},
            .events = {ANOMALY_SPIKE, ANOMALY_STUCK, ANOMALY_RESET, ANOMALY_REPLACEMENT,
                       ANOMALY_TRANSIENT_ZERO},
            .event_count = 5,
            .controls = {ANOMALY_HOLIDAY, ANOMALY_COLD_SNAP},
            .control_count = 2,
        },
    [ANOMALY_WATER] =
        {
            .level_min = 0.15,
            .level_max = 0.6,
            .day_noise = 0.2,
            .resolution = 0.001,
            .max_rate_per_hour = 2.5, /* a Q3 2.5 meter */
            /* Longer than a holiday week, when a water register stands still too. */
            .stuck_days = 10,
            .cadence_max_minutes = 30, /* hourly readings for the leak check */
            .weekend_factor = 1.15,
            .holiday_min = 0.0,
            .holiday_max = 0.0,
            .hours = {0, 0, 0, 0, 0, 2, 12, 14, 8, 4, 3, 3, 5, 4, 2, 2, 3, 5, 7, 9, 8, 7, 5, 2},
            .events = {ANOMALY_SPIKE, ANOMALY_LEVEL_SHIFT, ANOMALY_LEAK, ANOMALY_LEAK,
                       ANOMALY_STUCK, ANOMALY_RESET, ANOMALY_REPLACEMENT, ANOMALY_TRANSIENT_ZERO},
            .event_count = 8,
            .controls = {ANOMALY_HOLIDAY},
            .control_count = 1,
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

static int rng_int(struct rng *rng, int low, int high)
{
    return low + (int)(rng_next(rng) % (uint64_t)(high - low + 1));
}

static double rng_normal(struct rng *rng)
{
    double u = rng_uniform(rng, 0x1p-53, 1.0), v = rng_uniform(rng, 0.0, 1.0);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* An event as planned: its truth plus what the consumption and the readings need. */
struct plan {
    struct anomaly_truth truth;
    int64_t t_ns, end_ns; /* the instant (reset, replacement, transient zero), or a span */
    double factor;        /* spike, level shift, holiday, cold snap: x use; leak: flow per hour;
                           * replacement: the new register's start as a share of the old value */
    int hour, hours;      /* spike: the hours of the day it takes */
};

struct generation {
    struct rng rng;
    bool faults; /* resets, replacements and transient zeros reach the readings */
    const struct profile *profile;
    struct anomaly_meter *meter;
    double level;
    struct plan plans[ANOMALY_MAX_TRUTHS];
    double *hourly;     /* true use per hour */
    double *cumulative; /* true register per hour start, from 0 */
};

static int day_month(const struct anomaly_meter *meter, int day)
{
    int year, month, day_of_month;
    tz_civil_from_days(meter->start_ns / DAY_NS + day, &year, &month, &day_of_month);
    return month;
}

static bool month_in(int month, int first, int last)
{
    return first <= last ? month >= first && month <= last : month >= first || month <= last;
}

static int day_of(const struct anomaly_meter *meter, int64_t t_ns)
{
    return (int)((t_ns - meter->start_ns) / DAY_NS);
}

/* Draws the event's span and parameters; fills plan. Returns the days it needs. */
static int plan_draw(struct generation *g, enum anomaly_truth_kind kind, struct plan *plan)
{
    struct rng *rng = &g->rng;
    *plan = (struct plan){.truth.kind = kind};
    switch (kind) {
    case ANOMALY_SPIKE:
        plan->factor = rng_uniform(rng, 4, 8);
        plan->hours = rng_int(rng, 2, 8);
        plan->hour = rng_int(rng, 0, 24 - plan->hours);
        return rng_uniform(rng, 0, 1) < 0.2 ? 2 : 1;
    case ANOMALY_LEVEL_SHIFT:
        plan->factor = rng_uniform(rng, 1.8, 3.0);
        return LEVEL_SHIFT_TRUTH_DAYS;
    case ANOMALY_LEAK:
        plan->factor = rng_uniform(rng, 0.004, 0.02);
        plan->end_ns = rng_int(rng, 48, 144) * HOUR_NS;
        return (int)(plan->end_ns / DAY_NS) + 2;
    case ANOMALY_STUCK: {
        int days = g->meter->kind == ANOMALY_WATER ? rng_int(rng, 12, 20) : rng_int(rng, 4, 10);
        plan->end_ns = days * DAY_NS + rng_int(rng, 0, 23) * HOUR_NS;
        return days + 2;
    }
    case ANOMALY_REPLACEMENT:
        plan->factor = rng_uniform(rng, 0.1, 0.6);
        return 1;
    case ANOMALY_HOLIDAY:
        plan->factor = rng_uniform(rng, g->profile->holiday_min, g->profile->holiday_max);
        return CONTROL_DAYS;
    case ANOMALY_COLD_SNAP:
        plan->factor = rng_uniform(rng, 1.3, 1.6);
        return CONTROL_DAYS;
    default: /* reset, transient zero: an instant */
        return 1;
    }
}

/* Places plan (spanning `days` days) where it keeps its distance from the others and the season
 * suits it. Returns whether it found a place. */
static bool plan_place(struct generation *g, struct plan *plan, int days)
{
    struct anomaly_meter *meter = g->meter;
    int latest = meter->days - EVENT_SPACING_DAYS - days;
    for (int attempt = 0; attempt < 50 && latest > FIRST_EVENT_DAY; attempt++) {
        int first = rng_int(&g->rng, FIRST_EVENT_DAY, latest), last = first + days - 1;
        enum anomaly_truth_kind kind = plan->truth.kind;
        /* Gas and heat get stuck where use is expected; cold snaps come in winter. */
        if (kind == ANOMALY_STUCK && g->profile->winter_percentages &&
            !(month_in(day_month(meter, first), 11, 3) && month_in(day_month(meter, last), 11, 3)))
            continue;
        if (kind == ANOMALY_COLD_SNAP &&
            !(month_in(day_month(meter, first), 12, 2) && month_in(day_month(meter, last), 12, 2)))
            continue;
        bool apart = true;
        for (int i = 0; i < meter->truth_count && apart; i++) {
            const struct anomaly_truth *other = &meter->truths[i];
            apart = first > other->last_day + EVENT_SPACING_DAYS ||
                    last < other->first_day - EVENT_SPACING_DAYS;
            /* A replacement after a reset would bring a register as small as a reset's. */
            if ((kind == ANOMALY_REPLACEMENT && other->kind == ANOMALY_RESET &&
                 other->first_day < first) ||
                (kind == ANOMALY_RESET && other->kind == ANOMALY_REPLACEMENT &&
                 other->first_day > first))
                apart = false;
        }
        if (!apart)
            continue;
        int64_t day_start = meter->start_ns + first * DAY_NS;
        plan->truth.first_day = first;
        plan->truth.last_day = last;
        plan->t_ns = day_start + rng_int(&g->rng, 0, 86399) * SECOND_NS;
        if (kind == ANOMALY_LEAK || kind == ANOMALY_STUCK) {
            plan->end_ns += plan->t_ns;
            plan->truth.last_day = day_of(meter, plan->end_ns);
        } else if (kind == ANOMALY_LEVEL_SHIFT || kind == ANOMALY_HOLIDAY ||
                   kind == ANOMALY_COLD_SNAP || kind == ANOMALY_SPIKE) {
            plan->t_ns = day_start;
        }
        return true;
    }
    return false;
}

/* Chooses 3-4 events and the controls, one level shift and one replacement at most. */
static void plans_choose(struct generation *g)
{
    const struct profile *profile = g->profile;
    struct anomaly_meter *meter = g->meter;
    int events = rng_int(&g->rng, 3, 4), placed = 0;
    unsigned placed_once = 0; /* the kinds that come once at most, placed */
    for (int attempt = 0; attempt < 40 && placed < events; attempt++) {
        enum anomaly_truth_kind kind =
            profile->events[rng_int(&g->rng, 0, profile->event_count - 1)];
        if (placed_once & (1u << kind))
            continue;
        struct plan *plan = &g->plans[meter->truth_count];
        if (!plan_place(g, plan, plan_draw(g, kind, plan)))
            continue;
        if (kind == ANOMALY_LEVEL_SHIFT || kind == ANOMALY_REPLACEMENT)
            placed_once |= 1u << kind;
        meter->truths[meter->truth_count++] = plan->truth;
        placed++;
    }
    for (int i = 0; i < profile->control_count; i++) {
        struct plan *plan = &g->plans[meter->truth_count];
        if (plan_place(g, plan, plan_draw(g, profile->controls[i], plan)))
            meter->truths[meter->truth_count++] = plan->truth;
    }
}

/* The seasonal factor of a day: the month's share of the year over its share of the days,
 * blended linearly into the neighbouring month's towards the month's edges. */
static double day_season(const struct generation *g, int day)
{
    const struct anomaly_meter *meter = g->meter;
    int64_t days = meter->start_ns / DAY_NS + day;
    if (!meter->seasonal) {
        int year, month, day_of_month;
        tz_civil_from_days(days, &year, &month, &day_of_month);
        double day_of_year = (double)(days - tz_days_from_civil(year, 1, 1));
        return 1.0 + 0.15 * cos(2.0 * M_PI * (day_of_year - 15.0) / 365.25);
    }
    int year, month, day_of_month;
    tz_civil_from_days(days, &year, &month, &day_of_month);
    static const int lengths[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    double position = (day_of_month - 0.5) / lengths[month - 1];
    int neighbour = position < 0.5 ? (month + 10) % 12 : month % 12;
    double weight = fabs(position - 0.5);
    double own = meter->percentages[month - 1] / 100.0 * 365.0 / lengths[month - 1];
    double other = meter->percentages[neighbour] / 100.0 * 365.0 / lengths[neighbour];
    return (1.0 - weight) * own + weight * other;
}

/* The true use of every hour, events included, and its running sum. */
static void consumption_draw(struct generation *g)
{
    struct anomaly_meter *meter = g->meter;
    const struct profile *profile = g->profile;
    double sigma = profile->day_noise;
    for (int day = 0; day < meter->days; day++) {
        double total = g->level * day_season(g, day) * exp(sigma * rng_normal(&g->rng));
        int weekday = tz_weekday_from_days(meter->start_ns / DAY_NS + day);
        if (weekday == 0 || weekday == 6)
            total *= profile->weekend_factor;
        for (int i = 0; i < meter->truth_count; i++) {
            const struct plan *plan = &g->plans[i];
            const struct anomaly_truth *truth = &plan->truth;
            bool inside = day >= truth->first_day && day <= truth->last_day;
            if ((truth->kind == ANOMALY_LEVEL_SHIFT && day >= truth->first_day) ||
                (inside && (truth->kind == ANOMALY_HOLIDAY || truth->kind == ANOMALY_COLD_SNAP)))
                total *= plan->factor;
        }
        double weights[24], sum = 0.0;
        for (int h = 0; h < 24; h++) {
            weights[h] = profile->hours[h] * exp(0.3 * rng_normal(&g->rng));
            /* Water runs in bursts: many hours without any. */
            if (meter->kind == ANOMALY_WATER && rng_uniform(&g->rng, 0, 1) < 0.25)
                weights[h] = 0.0;
            sum += weights[h];
        }
        for (int h = 0; h < 24; h++)
            g->hourly[day * 24 + h] = sum > 0 ? total * weights[h] / sum : 0.0;
        for (int i = 0; i < meter->truth_count; i++) {
            const struct plan *plan = &g->plans[i];
            if (plan->truth.kind != ANOMALY_SPIKE || day < plan->truth.first_day ||
                day > plan->truth.last_day)
                continue;
            for (int h = plan->hour; h < plan->hour + plan->hours; h++)
                g->hourly[day * 24 + h] += (plan->factor - 1.0) * total / plan->hours;
        }
    }
    for (int i = 0; i < meter->truth_count; i++) {
        const struct plan *plan = &g->plans[i];
        if (plan->truth.kind != ANOMALY_LEAK)
            continue;
        for (int64_t h = (plan->t_ns - meter->start_ns) / HOUR_NS;
             h < (plan->end_ns - meter->start_ns) / HOUR_NS && h < meter->days * 24; h++)
            g->hourly[h] += plan->factor;
    }
    g->cumulative[0] = 0.0;
    meter->max_true_day = 0.0;
    for (int day = 0; day < meter->days; day++) {
        double day_total = 0.0;
        for (int h = day * 24; h < day * 24 + 24; h++) {
            g->cumulative[h + 1] = g->cumulative[h] + g->hourly[h];
            day_total += g->hourly[h];
        }
        meter->max_true_day = fmax(meter->max_true_day, day_total);
    }
}

/* The true register at t (from 0 at the start): use is even within an hour. */
static double register_at(const struct generation *g, int64_t t_ns)
{
    int64_t since = t_ns - g->meter->start_ns, hour = since / HOUR_NS;
    if (hour >= (int64_t)g->meter->days * 24)
        return g->cumulative[g->meter->days * 24];
    return g->cumulative[hour] + (double)(since % HOUR_NS) / HOUR_NS * g->hourly[hour];
}

static int reading_append(struct anomaly_meter *meter, int64_t t_ns, double value)
{
    if (meter->reading_count == meter->reading_capacity) {
        size_t capacity = meter->reading_capacity ? 2 * meter->reading_capacity : 4096;
        int64_t *times = realloc(meter->times, capacity * sizeof *times);
        if (!times)
            return -1;
        meter->times = times;
        double *values = realloc(meter->values, capacity * sizeof *values);
        if (!values)
            return -1;
        meter->values = values;
        meter->reading_capacity = capacity;
    }
    meter->times[meter->reading_count] = t_ns;
    meter->values[meter->reading_count++] = value;
    return 0;
}

/* Reads the register: the cadence, its gaps, and what the events do to the reported value. */
static int readings_draw(struct generation *g)
{
    struct anomaly_meter *meter = g->meter;
    struct rng *rng = &g->rng;
    double interval = rng_int(rng, 1, g->profile->cadence_max_minutes) * 60.0;
    bool irregular = rng_uniform(rng, 0, 1) < IRREGULAR_SHARE;
    double offset = rng_uniform(rng, 500, 3000) * g->level; /* the register's age */
    double resolution = g->profile->resolution;
    bool applied[ANOMALY_MAX_TRUTHS] = {false};
    int64_t end = meter->start_ns + meter->days * DAY_NS, gap_start = 0, gap_end = 0;
    int gap_day = -1;
    for (int64_t t = meter->start_ns + (int64_t)(rng_uniform(rng, 0, interval) * SECOND_NS);
         t < end;) {
        int day = day_of(meter, t);
        if (day != gap_day) {
            gap_day = day;
            gap_start = gap_end = 0;
            if (rng_uniform(rng, 0, 1) < GAP_PROBABILITY) {
                gap_start = meter->start_ns + day * DAY_NS + rng_int(rng, 0, 23) * HOUR_NS;
                gap_end = gap_start + rng_int(rng, 1, 6) * HOUR_NS;
            }
        }
        double step = irregular ? interval * rng_uniform(rng, 0.5, 1.5)
                                : interval * rng_uniform(rng, 0.98, 1.02);
        int64_t next = t + (int64_t)(step * SECOND_NS);
        if (t >= gap_start && t < gap_end) {
            t = next;
            continue;
        }
        double value = register_at(g, t) + offset;
        for (int i = 0; i < meter->truth_count; i++) {
            const struct plan *plan = &g->plans[i];
            enum anomaly_truth_kind kind = plan->truth.kind;
            if (kind == ANOMALY_STUCK && t >= plan->t_ns && t < plan->end_ns)
                value = register_at(g, plan->t_ns) + offset;
            bool fault = kind == ANOMALY_RESET || kind == ANOMALY_REPLACEMENT ||
                         kind == ANOMALY_TRANSIENT_ZERO;
            if (t < plan->t_ns || applied[i] || !fault || !g->faults)
                continue;
            if (kind == ANOMALY_RESET) {
                offset = -register_at(g, plan->t_ns);
                value = register_at(g, t) + offset;
            } else if (kind == ANOMALY_REPLACEMENT) {
                double old = register_at(g, plan->t_ns) + offset;
                offset = plan->factor * old - register_at(g, plan->t_ns);
                value = register_at(g, t) + offset;
            } else if (kind == ANOMALY_TRANSIENT_ZERO) {
                value = 0.0;
            }
            applied[i] = true;
        }
        if (reading_append(meter, t, floor(value / resolution) * resolution) != 0)
            return -1;
        t = next;
    }
    return 0;
}

int anomaly_meter_generate(uint64_t seed, unsigned index, int days, int64_t start_ns, bool faults,
                           struct anomaly_meter *meter)
{
    struct generation g = {
        .rng.state = seed * UINT64_C(0x2545F4914F6CDD1D) + index, .faults = faults, .meter = meter};
    *meter = (struct anomaly_meter){.days = days, .start_ns = start_ns};
    double kind = rng_uniform(&g.rng, 0, 1);
    meter->kind = kind < 0.35   ? ANOMALY_ELECTRICITY
                  : kind < 0.55 ? ANOMALY_GAS
                  : kind < 0.75 ? ANOMALY_HEAT
                                : ANOMALY_WATER;
    g.profile = &profiles[meter->kind];
    g.level = rng_uniform(&g.rng, g.profile->level_min, g.profile->level_max);
    if (g.profile->winter_percentages) {
        double sum = 0.0;
        for (int m = 0; m < 12; m++)
            sum += meter->percentages[m] =
                g.profile->winter_percentages[m] * rng_uniform(&g.rng, 0.9, 1.1);
        for (int m = 0; m < 12; m++)
            meter->percentages[m] *= 100.0 / sum;
        meter->seasonal = true;
    }
    meter->limits = (struct config_meter_limits){
        .max_rate_per_hour = g.profile->max_rate_per_hour,
        .stuck_days = g.profile->stuck_days,
        .leak_check = meter->kind == ANOMALY_WATER,
    };
    plans_choose(&g);
    g.hourly = malloc((size_t)days * 24 * sizeof *g.hourly);
    g.cumulative = malloc(((size_t)days * 24 + 1) * sizeof *g.cumulative);
    int status = -1;
    if (g.hourly && g.cumulative) {
        consumption_draw(&g);
        status = readings_draw(&g);
    }
    free(g.hourly);
    free(g.cumulative);
    if (status != 0)
        anomaly_meter_free(meter);
    return status;
}

void anomaly_meter_free(struct anomaly_meter *meter)
{
    free(meter->times);
    free(meter->values);
    meter->times = NULL;
    meter->values = NULL;
    meter->reading_count = meter->reading_capacity = 0;
}
