/* A named series of values at midnights, the unit every output of the reconciler is made of:
 * daily registers, monthly registers, daily consumption, virtual meters' consumption. */
#ifndef NEBENKOSTEN_BATCH_SERIES_H
#define NEBENKOSTEN_BATCH_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "stream/calendar.h"

struct batch_series {
    const char *meter_id; /* borrowed from the configuration or the readings */
    size_t count, capacity;
    int64_t *t_ns;  /* the midnight of each value, ascending; owned */
    double *values; /* owned */
};

/* Appends one value (t_ns after the last one). Returns 0, or -1 with errno ENOMEM. */
int batch_series_append(struct batch_series *series, int64_t t_ns, double value);

/* A copy of source's points into out (zeroed first, meter_id copied as borrowed). Returns 0 or -1
 * (ENOMEM). */
int batch_series_copy(const struct batch_series *source, struct batch_series *out);

void batch_series_free(struct batch_series *series);

/* The value at t_ns by binary search: its index, or -1 when the series has no value there. */
ptrdiff_t batch_series_find(const struct batch_series *series, int64_t t_ns);

/* Monthly values of a daily register series: the last value of each month, stamped at the
 * midnight that begins the month's last day (as pandas' resample("M").last() labels it), in
 * calendar (borrowed; NULL = UTC). out is zeroed first. Returns 0 or -1 (ENOMEM). */
int batch_series_monthly(const struct batch_series *daily, const struct stream_calendar *calendar,
                         struct batch_series *out);

/* Daily consumption of a daily register series: value(D) - value(D - 1), 0 on the first day,
 * negative differences clipped to 0. out is zeroed first. Returns 0 or -1 (ENOMEM). */
int batch_series_consumption(const struct batch_series *daily, struct batch_series *out);

#endif
