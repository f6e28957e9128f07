/* Scores two `meter-batch reconcile` runs on a bench-batch-accuracy scenario (the default mode and
 * `--compat reference`) against the truth: their consumption.csv, day by day.
 *
 * Each physical meter's day (the consumption stamped at midnight D, the use of the day before) is
 * put in a class by the readings around it (transient zeros left out: they carry no information):
 * - near a fault: from the normal reading before a transient zero or reset to the second one after
 *   it, a day more on each side (kept apart so that the gap classes measure how the runs fill
 *   gaps, not how they treat faults: one transient zero spread over a month's gap would outweigh
 *   everything else);
 * - extrapolated backward: the day begins before the register's first reading;
 * - extrapolated forward: it ends after the last one;
 * - else interior, by the longest gap between two consecutive readings that overlaps the day:
 *   under 36 hours (a day: daily readings, with their jitter), 36 hours to 7 days, 7 days or more
 *   (where the default mode fills by the seasonal pattern).
 * The first day of a grid is 0 by definition and not scored. A day the run did not write (or wrote
 * as NaN) counts as 0 consumption.
 *
 * Normalised MAE = sum |reconciled - true| / sum true, over the days of a class, each meter's days
 * in units of its mean true day (so meters of all sizes and units weigh alike: a gas meter's m³,
 * a heat meter's MWh).
 *
 * A spike is a day booked above 10 times the larger of the true day and the meter's mean day. Each
 * is counted by what is near it: a transient zero or a reset (the days near it, as above), a
 * replacement (a master's swap day and the next), or nothing. */
#ifndef NEBENKOSTEN_BENCH_BATCH_ACCURACY_SCORE_H
#define NEBENKOSTEN_BENCH_BATCH_ACCURACY_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bench/batch_accuracy/truth.h"

enum accuracy_mode {
    ACCURACY_DEFAULT,
    ACCURACY_REFERENCE,
    ACCURACY_MODES,
};

enum accuracy_class {
    ACCURACY_GAP_DAY,   /* interior, gaps under 36 h */
    ACCURACY_GAP_SHORT, /* interior, 36 h to 7 d */
    ACCURACY_GAP_LONG,  /* interior, 7 d or more */
    ACCURACY_BACKWARD,
    ACCURACY_FORWARD,
    ACCURACY_NEAR_FAULT, /* near a transient zero or a reset */
    ACCURACY_CLASSES,
};

enum accuracy_fault {
    ACCURACY_FAULT_ZERO,
    ACCURACY_FAULT_RESET,
    ACCURACY_FAULT_REPLACEMENT,
    ACCURACY_FAULT_NONE,
    ACCURACY_FAULTS,
};

/* Sums over some days, in units of each meter's mean day. */
struct accuracy_tally {
    double error[ACCURACY_MODES];
    double truth;
    size_t days;
};

struct accuracy_score {
    struct accuracy_tally classes[ACCURACY_KINDS][ACCURACY_CLASSES];
    /* 7 d or more on meters with at most 100 readings, which the reference does not thin. */
    struct accuracy_tally long_unthinned;
    /* 7 d or more by the longest gap: under 30 days, 30 to 60, 60 or more. */
    struct accuracy_tally long_by_length[3];
    struct accuracy_tally masters, master_swaps; /* swaps: the swap day and the next */
    /* The same days summed per meter and calendar month (days: meter-months). */
    struct accuracy_tally monthly[ACCURACY_KINDS][ACCURACY_CLASSES];
    struct accuracy_tally masters_monthly;
    unsigned meters[ACCURACY_KINDS]; /* physical */
    unsigned master_count;
    size_t spikes[ACCURACY_MODES][ACCURACY_FAULTS];
    size_t faults[ACCURACY_FAULTS]; /* events (ACCURACY_FAULT_NONE: unused) */
    size_t missing[ACCURACY_MODES]; /* grid days without a finite value */
    size_t rows[ACCURACY_MODES];    /* rows of consumption.csv for the scenario's meters */
};

/* Reads out_dirs[mode]/consumption.csv (borrowed) of both runs and scores them against truth
 * (borrowed) into score. Returns 0, or -1 after printing what could not be read. */
int accuracy_outputs_score(const struct accuracy_truth *truth,
                           const char *const out_dirs[ACCURACY_MODES],
                           struct accuracy_score *score);

/* Prints the tables (markdown, as bench/README.md records them). */
void accuracy_score_print(const struct accuracy_score *score, FILE *out);

/* Which figure the bar for gaps of 7 days or more judges. */
enum accuracy_bar {
    ACCURACY_BAR_DAILY,   /* the daily consumption, as issue 6 words it */
    ACCURACY_BAR_MONTHLY, /* its sums per meter and calendar month */
};
const char *accuracy_bar_name(enum accuracy_bar bar);

/* Prints the bar's lines (both figures for gaps of 7 days or more, saying which is asserted) and
 * returns whether it is met: the default mode's normalised MAE in interior gaps of 7 days or more
 * at least 30 % below the reference mode's (by bar), and its daily figure no worse in gaps under
 * 36 hours. */
bool accuracy_score_bar(const struct accuracy_score *score, enum accuracy_bar bar, FILE *out);

/* Normalised MAE of a tally in one mode; NaN without true use. */
double accuracy_tally_nmae(const struct accuracy_tally *tally, enum accuracy_mode mode);

#endif
