/* A scenario directory read back (bench/batch_accuracy/scenario.h): every meter of
 * truth_meters.csv with its grid from truth_daily.csv, its readings from readings.csv and its
 * events from truth_events.csv. verify and score work from the files only, so they judge the
 * scenario that meter-batch reads, whoever wrote it. */
#ifndef NEBENKOSTEN_BENCH_BATCH_ACCURACY_TRUTH_H
#define NEBENKOSTEN_BENCH_BATCH_ACCURACY_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/batch_accuracy/generate.h"

struct accuracy_truth_meter {
    char meter_id[ACCURACY_ID_SIZE];
    enum accuracy_kind kind;
    enum accuracy_style style;
    bool master;
    bool pattern_configured;
    double resolution;
    double mean_day; /* true use per day over the grid */
    /* The grid: days first_day .. first_day + days - 1. */
    int64_t first_day;
    size_t days, day_capacity;
    double *reg, *use;
    /* The readings in time order; zero marks the transient zeros of truth_events.csv. */
    int64_t *times;
    double *values;
    bool *zero;
    size_t reading_count, reading_capacity;
    int64_t reset_t; /* -1: none */
    int64_t swap_t;  /* masters: the replacement, -1: none */
};

struct accuracy_truth {
    struct accuracy_truth_meter *meters; /* sorted by meter_id */
    size_t count;
    int64_t today; /* day */
    int start_year;
};

/* Reads the scenario in dir (borrowed) into truth. Returns 0, or -1 after printing what is wrong
 * (file and line). */
int accuracy_truth_load(const char *dir, struct accuracy_truth *truth);
void accuracy_truth_free(struct accuracy_truth *truth);
/* The meter of that id, borrowed from truth, or NULL. */
struct accuracy_truth_meter *accuracy_truth_find(const struct accuracy_truth *truth,
                                                 const char *meter_id);

#endif
