/* A physical meter's daily series (spec/analytics.md "Batch" step 2): the register at every
 * midnight of its grid [max(analysis start, installation), min(deinstallation, today)], from its
 * readings, with backward and forward extrapolation where the readings do not reach the grid's
 * ends.
 *
 * analytics.compat: reference reproduces the reference pipeline (create_standardized_daily_series)
 * including its shortcuts: readings thinned above 100, a meter without installation_date gets no
 * series, a single reading or a zero rate puts 0 at the grid start, the forward rate is fitted with
 * the synthetic backward row, the seasonal forward fill of batch/seasonal.h, interior gaps linear,
 * days in UTC.
 *
 * The default mode is the accurate one: every reading, cleaned of glitches and resets by the
 * stream's rules (batch/register_clean.h); interior gaps of >= 7 days filled on the meter's
 * seasonal clock (plain days without a pattern) by a monotone cubic (PCHIP) whose rate at each
 * reading continues the rates around it, so that both end readings stay exact and consumption
 * tapers across the gap instead of jumping at its edges; rates fitted on the seasonal clock from
 * the last year of real readings; no synthetic zero (a single reading or a zero rate extends the
 * first reading backwards unchanged); a meter without installation_date starts at the first
 * midnight at or after its first reading; days in analytics.timezone. */
#ifndef NEBENKOSTEN_BATCH_DAILY_SERIES_H
#define NEBENKOSTEN_BATCH_DAILY_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch/rate_estimate.h"
#include "batch/readings.h"
#include "batch/rows.h"
#include "config/config.h"
#include "stream/calendar.h"

/* Interior gaps at least this long are filled on the seasonal clock by the cubic (default mode);
 * shorter ones are linear in time. */
#define BATCH_DAILY_SEASONAL_GAP_DAYS 7
/* The default mode fits extrapolation rates to the readings of this many days before the last. */
#define BATCH_DAILY_RATE_WINDOW_DAYS 365

struct batch_daily_settings {
    enum config_compat compat;
    int64_t start_day; /* analysis start (workflows.analytics.start_year-01-01), days since epoch */
    int64_t end_day;   /* today, days since epoch */
    /* Whose midnights (default mode; compat is UTC). Borrowed. */
    const struct stream_calendar *calendar;
};

/* One meter's series and how it was made (for the run report and the quality report). */
struct batch_daily_series {
    size_t count;              /* days in the grid; 0: no series (see status) */
    int64_t *t_ns;             /* each midnight, owned */
    int64_t *days;             /* each day (days since epoch, its local date), owned */
    double *values;            /* the register at that midnight, owned */
    const char *status;        /* "ok", or why there is no series: static text */
    size_t readings_used;      /* after thinning (compat) or cleaning (default) */
    size_t backward_days;      /* grid days before the first reading */
    size_t forward_days;       /* grid days after the last reading */
    size_t seasonal_gap_count; /* interior gaps filled on the seasonal clock (default) */
    bool seasonal_forward;     /* the forward extrapolation followed the pattern */
    bool backward_estimated, forward_estimated;
    struct batch_rate_estimate backward_rate, forward_rate;
    size_t glitch_count, reset_count, replacement_count, dip_count; /* default mode's cleaning */
    /* Default mode: the last reading the register took and the offset its values carry over the
     * raw readings there (when register_readings has rows). */
    int64_t register_last_reading_ns;
    double register_offset;
    /* Default mode: the register readings the series was built from (batch/register_clean.h), kept
     * for the validation; owned. */
    struct batch_rows register_readings;
};

/* Builds meter's series (meter: its configuration, NULL when the meter is not configured;
 * percentages: its seasonal pattern's 12 values or NULL; readings: all of its readings, sorted
 * and unique, may be NULL or empty). Everything is borrowed; *out is owned by the caller (free
 * with batch_daily_series_free) and has count 0 when the meter gets no series (status says why).
 * Returns 0, or -1 with errno ENOMEM. */
int batch_daily_series_build(const struct config_meter *meter, const double *percentages,
                             const struct batch_meter_readings *readings,
                             const struct batch_daily_settings *settings,
                             struct batch_daily_series *out);

void batch_daily_series_free(struct batch_daily_series *series);

/* The instant (ns) the daily series stamp day (days since the epoch) with: its midnight in
 * calendar (borrowed; NULL or without a zone: UTC); INT64_MAX (INT64_MIN) for days after (before)
 * what int64 nanoseconds reach. */
int64_t batch_daily_midnight(const struct stream_calendar *calendar, int64_t day);

#endif
