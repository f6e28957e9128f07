/* Seasonal patterns (seasonal_patterns.yaml: 12 monthly percentages, January first, sum 100) as
 * a way to spread consumption over days.
 *
 * The reference pipeline's forward fill (_distribute_consumption_by_seasonal_pattern, used by
 * analytics.compat: reference): one point per day from the last reading on (start + k days,
 * k = 0 .. while <= end); each calendar month among those points gets total x its percentage /
 * the sum of the percentages of the months present, split equally over its points; the points
 * are the start value plus the running sum. So a month only partly in the window gets its whole
 * share, and the total is reached at the last point, up to a day before the end.
 *
 * The default mode instead uses a seasonal clock: consumption density per day of month m is
 * percentage(m) / 100 x 365.2425 / days_in_month(m), constant within a month and averaging 1 over
 * a year, so the clock advances by "equivalent days". Filling a gap, extrapolating or fitting a
 * rate on that clock spreads consumption by the pattern and keeps both ends of a gap exact. */
#ifndef NEBENKOSTEN_BATCH_SEASONAL_H
#define NEBENKOSTEN_BATCH_SEASONAL_H

#include <stdint.h>

#include "batch/rows.h"

/* Appends the reference's forward-fill points for (start_ns, start_value) .. end_ns with
 * total_consumption to rows; percentages: 12 values. *point_count receives the number of points
 * made (the first lies on start_ns itself; the caller drops it in favour of the reading there,
 * as the reference's de-duplication does). Returns 0, or -1 with errno ENOMEM. */
int batch_seasonal_distribute_reference(int64_t start_ns, int64_t end_ns, double total_consumption,
                                        double start_value, const double *percentages,
                                        struct batch_rows *rows, size_t *point_count);

/* The seasonal clock between two instants: the pattern's equivalent days in [from_ns, to_ns]
 * (negative when to_ns < from_ns), months in UTC. percentages NULL: plain days. */
double batch_seasonal_clock_days(const double *percentages, int64_t from_ns, int64_t to_ns);

#endif
