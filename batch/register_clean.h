/* The default mode's view of a meter's readings: the register the stream processor keeps
 * (stream/meter.h), i.e. readings after its rules for dips, glitches, resets and replacements.
 * A dip to >= 90 % of the last value is noise and dropped; a transient drop that comes back is a
 * glitch and dropped; a drop that stays is a reset or replacement, and the register continues
 * from where it stood (offset += old - new). Except when the readings after a drop or dip go on at
 * or above the reading before the last: then the last reading was the outlier (a typo), dropped.
 * So a transient 0 never becomes a day of consumption, nor a typo months of it, in the batch as in
 * the stream. */
#ifndef NEBENKOSTEN_BATCH_REGISTER_CLEAN_H
#define NEBENKOSTEN_BATCH_REGISTER_CLEAN_H

#include <stddef.h>

#include "batch/readings.h"
#include "batch/rows.h"

struct batch_register_counts {
    size_t glitches, resets, replacements, dips;
    /* The last reading the register took (0 when none) and the offset in force there, exactly
     * as the stream computes it. */
    int64_t last_reading_ns;
    double offset;
};

/* Appends the register readings (t, raw + offset) of readings (borrowed, sorted, unique) to out;
 * a drop still undecided at the end of the history is left out. Returns 0, or -1 with errno
 * ENOMEM. */
int batch_register_clean(const struct batch_meter_readings *readings, struct batch_rows *out,
                         struct batch_register_counts *counts);

#endif
