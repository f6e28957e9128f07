/* Synthetic meters with known truth for bench-anomaly, deterministic from (seed, meter index).
 *
 * A meter is electricity (a daily cycle, a little more in winter), gas or heat (a winter-heavy
 * seasonal pattern, given as 12 monthly percentages, smoothed from month to month) or water (use
 * in bursts at some hours of the day, none at night). Its true consumption is drawn hour by hour;
 * the register is the running sum, read every 1-60 minutes (water: 1-30), some meters at
 * irregular intervals, with gaps of 1-6 hours on some days, floored to the meter's resolution.
 *
 * Injected into the truth, each with the days it covers (day 0 is the first day):
 * - spike: one (sometimes two) days of 4-8 times the day's use, within 2-8 hours;
 * - level_shift: from one day on, 1.8-3 times the use; its truth is the first two weeks;
 * - leak (water): 4-20 l/h flowing every hour for 2-6 days;
 * - stuck: the register reports the same value for 4-10 days (water: 12-20, longer than a
 *   holiday) while use continues, then catches up; gas and heat only in the heating months;
 * - reset: the register restarts at 0 and counts on;
 * - replacement: a new register starting at 10-60 % of the old one's value (once per meter, and
 *   not after a reset, which would leave too little to tell the two apart);
 * - transient_zero: one reading of 0, the next ones as before.
 * And controls that must not be flagged:
 * - holiday: a week of near-zero use (water: none);
 * - cold_snap (gas, heat): a winter week (December to February) of 1.3-1.6 times the seasonal use.
 * Events start after day 90 (the detectors' warm-up) and keep 10 days apart. */
#ifndef NEBENKOSTEN_BENCH_ANOMALY_GENERATE_H
#define NEBENKOSTEN_BENCH_ANOMALY_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum anomaly_meter_kind {
    ANOMALY_ELECTRICITY,
    ANOMALY_GAS,
    ANOMALY_HEAT,
    ANOMALY_WATER,
};

enum anomaly_truth_kind {
    ANOMALY_SPIKE,
    ANOMALY_LEVEL_SHIFT,
    ANOMALY_LEAK,
    ANOMALY_STUCK,
    ANOMALY_RESET,
    ANOMALY_REPLACEMENT,
    ANOMALY_TRANSIENT_ZERO,
    ANOMALY_HOLIDAY,   /* control */
    ANOMALY_COLD_SNAP, /* control */
    ANOMALY_TRUTH_KINDS,
};

#define ANOMALY_FIRST_CONTROL ANOMALY_HOLIDAY
#define ANOMALY_MAX_TRUTHS 6
#define ANOMALY_MIN_DAYS 150

/* An injected event or control: the days it covers, first_day..last_day. */
struct anomaly_truth {
    enum anomaly_truth_kind kind;
    int first_day, last_day;
};

struct anomaly_meter {
    enum anomaly_meter_kind kind;
    int days;
    int64_t start_ns; /* midnight (UTC) that begins day 0 */
    bool seasonal;    /* percentages hold the meter's pattern */
    double percentages[12];
    struct config_meter_limits limits;
    struct anomaly_truth truths[ANOMALY_MAX_TRUTHS];
    int truth_count;
    double max_true_day; /* the largest true daily consumption */
    /* The readings, in time order. */
    int64_t *times;
    double *values;
    size_t reading_count, reading_capacity;
};

/* Fills meter (the caller's, zeroed first) with meter `index` of the set drawn from seed: days
 * (>= ANOMALY_MIN_DAYS) days from start_ns (a UTC midnight). Without faults, resets, replacements
 * and transient zeros stay in the truth but not in the readings, which are otherwise the same: a
 * twin that shows what the faults change. Returns 0, or -1 when out of memory (meter then holds
 * nothing to free). */
int anomaly_meter_generate(uint64_t seed, unsigned index, int days, int64_t start_ns, bool faults,
                           struct anomaly_meter *meter);
void anomaly_meter_free(struct anomaly_meter *meter);

const char *anomaly_truth_kind_name(enum anomaly_truth_kind kind);
const char *anomaly_meter_kind_name(enum anomaly_meter_kind kind);

#endif
