/* What the two daily-series builders (daily_reference.c, daily_series.c) share. */
#ifndef NEBENKOSTEN_BATCH_DAILY_INTERNAL_H
#define NEBENKOSTEN_BATCH_DAILY_INTERNAL_H

#include "batch/daily_series.h"
#include "batch/rows.h"

#define BATCH_NS_PER_DAY (86400LL * 1000000000LL)

/* Floor division for instants before 1970 too. */
int64_t batch_daily_floor(int64_t numerator, int64_t denominator);

/* Allocates out's grid for the days start_day .. end_day (inclusive, start_day <= end_day) with
 * each day's midnight in calendar (NULL: UTC). Returns 0 or -1 (ENOMEM). */
int batch_daily_grid_make(struct batch_daily_series *out, int64_t start_day, int64_t end_day,
                          const struct stream_calendar *calendar);

/* Counts out's grid days before first_ns and after last_ns. */
void batch_daily_extrapolated_count(struct batch_daily_series *out, int64_t first_ns,
                                    int64_t last_ns);

int batch_daily_reference_build(const struct config_meter *meter, const double *percentages,
                                const struct batch_meter_readings *readings,
                                const struct batch_daily_settings *settings,
                                struct batch_daily_series *out);

#endif
