/* A bench-batch-accuracy scenario directory: what `meter-batch reconcile` reads, and the truth.
 *
 *   config.yaml, meters.yaml, seasonal_patterns.yaml   the schema of the fixtures' config/ files
 *   readings.csv        meter_id,timestamp,value: every register's readings, sorted by meter id
 *                       and time (transient zeros included)
 *   scenario.json       seed, start_year, today and the counts
 *   truth_meters.csv    meter_id,kind,type,style,unit,resolution,pattern,mean_day: type physical or
 *                       master; pattern configured (in seasonal_patterns.yaml) or none; mean_day
 *                       the true use per day over the meter's grid (the scale its errors are
 *                       counted in)
 *   truth_daily.csv     meter_id,timestamp,register,consumption: at every midnight of each meter's
 *                       grid (physical: installation .. deinstallation or today; master: the first
 *                       period's start .. today): what the register showed (a physical register
 *                       drops at a reset; a master continues over its replacement) and the true
 *                       use of the day before (0 on the first day), as consumption.csv counts it
 *   truth_events.csv    meter_id,timestamp,kind: transient_zero (the reading), reset (when the
 *                       register restarted), replacement (the master's swap instant) */
#ifndef NEBENKOSTEN_BENCH_BATCH_ACCURACY_SCENARIO_H
#define NEBENKOSTEN_BENCH_BATCH_ACCURACY_SCENARIO_H

#include <stddef.h>

#include "bench/batch_accuracy/generate.h"

struct accuracy_summary {
    unsigned kinds[ACCURACY_KINDS];
    unsigned styles[ACCURACY_STYLES];
    unsigned physical, masters, configured_patterns, resets, transient_zeros;
    size_t readings;
    char today[11]; /* YYYY-MM-DD */
};

/* Generates the scenario of options (borrowed) into dir (borrowed; created when missing, files
 * in it replaced) and fills summary. Returns 0, or -1 after printing what failed. */
int accuracy_scenario_write(const struct accuracy_options *options, const char *dir,
                            struct accuracy_summary *summary);

#endif
