/* Meters made of other meters (spec/analytics.md "Batch" steps 4 and 6):
 * - master meters join source meters over time periods (meter replacements, summed tariffs);
 * - virtual meters subtract meters' consumption from a base meter's.
 *
 * analytics.compat: reference composes as the reference pipeline does: per period the sources'
 * values within [start, end], converted only between m³ and kWh, summed over the union of their
 * days with a missing day counting 0 (so a source that starts later adds its whole register to one
 * day), shifted with apply_offset_from_previous_period so the period's first value equals the
 * previous period's last (so the boundary day's consumption is lost); daily and monthly values
 * composed separately from the sources' daily and monthly series.
 *
 * The default mode composes consumption instead of registers: within a period the master's
 * register moves by the sum of its sources' day-to-day increases (a source counts from its second
 * day on, so a source that starts later adds only what it consumed), a period with the offset flag
 * continues the register across the boundary, boundary day included; units are converted with
 * every factor the configuration knows (config_unit_factor); monthly values are the master's last
 * daily value of each month. */
#ifndef NEBENKOSTEN_BATCH_COMPOSITE_METER_H
#define NEBENKOSTEN_BATCH_COMPOSITE_METER_H

#include "batch/series.h"
#include "config/config.h"
#include "config/log.h"

/* How a composite meter finds the series of the meters it names: NULL when the meter has none
 * (the caller's lookup over its own results; borrowed). */
typedef const struct batch_series *(*batch_series_lookup)(const char *meter_id, void *argument);

/* Composes master's daily series from the sources' daily series (lookup daily), and its monthly
 * series (compat: from the sources' monthly series, lookup monthly; default: from the composed
 * daily series in calendar). out_daily and out_monthly are zeroed first and owned by the caller;
 * they stay empty when no source has data. Problems (a missing source, an impossible unit
 * conversion) are logged once with the meter's id. Returns 0, or -1 with errno ENOMEM. */
int batch_master_compose(const struct config *config, const struct config_meter *master,
                         enum config_compat compat, batch_series_lookup daily,
                         batch_series_lookup monthly, void *lookup_argument,
                         const struct stream_calendar *calendar, struct logger *logger,
                         struct batch_series *out_daily, struct batch_series *out_monthly);

/* Computes virtual's daily consumption: its base meter's consumption (lookup) minus each
 * subtracted meter's on the same day (missing = 0), converted as configured (and, in the default
 * mode, from the subtracted meter's output_unit to the base meter's when no conversion is
 * configured), clipped at 0; the default mode then converts the result from the base meter's
 * output_unit to virtual's. out is zeroed first; it stays empty without the base meter. Returns 0
 * or -1 (ENOMEM). */
int batch_virtual_compose(const struct config *config, const struct config_meter *virtual_meter,
                          enum config_compat compat, batch_series_lookup consumption,
                          void *lookup_argument, struct logger *logger, struct batch_series *out);

#endif
