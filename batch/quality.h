/* Validation and the quality report of a physical meter's daily series (spec/analytics.md
 * "Batch" step 8).
 *
 * Validation: the series must reproduce the readings. The reference checks only readings since
 * start_year that lie exactly on a 00:00Z grid point (|daily - raw| <= 0.01), and fails a meter
 * without one ("No matching timestamps"; shortcut 6). The default mode checks every reading the
 * series used that lies within the grid: on a midnight it must match within 0.01; between two
 * midnights it must lie between their values (within 0.01), i.e. the series passes through it.
 *
 * Quality: readings, largest and mean gap between readings (the reference only counts gaps over
 * a day), days extrapolated backward and forward, coverage. The reference counts days over the
 * whole analysis period, ignoring installation and removal dates; the default mode counts the
 * meter's own grid, and its days extrapolated are those of the series (batch_daily_series). */
#ifndef NEBENKOSTEN_BATCH_QUALITY_H
#define NEBENKOSTEN_BATCH_QUALITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch/reconcile.h"

#define BATCH_VALIDATION_TOLERANCE 0.01

struct batch_validation {
    size_t checked;       /* readings compared */
    size_t mismatches;    /* readings the series does not reproduce */
    double max_deviation; /* largest |series - reading| (or distance outside the bracket) */
    double mean_deviation;
    bool passed; /* checked > 0 (compat; or no series to check) and no mismatch */
};

struct batch_quality {
    size_t total_days;    /* compat: the analysis period; default: the meter's grid */
    size_t reading_count; /* compat: readings since start_year; default: readings used */
    size_t series_days;   /* days in the daily series */
    double largest_gap_days, mean_gap_days;
    size_t backward_days, forward_days;
    double coverage_percent; /* readings per total day, in percent (as the reference) */
    int64_t first_reading_ns, last_reading_ns, series_end_ns;
};

/* Validates physical's series against its readings (borrowed; the meter's raw readings). */
void batch_validation_compute(const struct batch_physical_result *physical,
                              const struct batch_meter_readings *readings,
                              enum config_compat compat, int64_t start_day,
                              struct batch_validation *out);

void batch_quality_compute(const struct batch_physical_result *physical,
                           const struct batch_meter_readings *readings, enum config_compat compat,
                           int64_t start_day, int64_t end_day, struct batch_quality *out);

#endif
