/* The stream's emissions as line protocol for the processed bucket, in the output schema of
 * spec/analytics.md: meter_interpolated_daily, meter_consumption, meter_interpolated_monthly,
 * meter_anomaly and meter_event, each tagged meter_id (and kind for events), ns timestamps, floats
 * as the shortest decimal that reads back as the same double. */
#ifndef NEBENKOSTEN_STREAM_EMISSION_FORMAT_H
#define NEBENKOSTEN_STREAM_EMISSION_FORMAT_H

#include <stddef.h>

#include "relay/buffer.h"
#include "stream/meter.h"

/* Appends emission (borrowed) of the meter meter_id (borrowed, length bytes, unescaped) as one
 * line to out. A field whose value is not finite is left out (line protocol has no NaN); an event
 * always keeps its detail. Returns 0, -ENOMEM, or -EINVAL (nothing is appended then) when meter_id
 * cannot be a tag value (empty, control characters, invalid UTF-8) or a daily, consumption or
 * monthly value is not finite (the meter rules never produce one). */
int stream_emission_format(struct buffer *out, const char *meter_id, size_t length,
                           const struct stream_emission *emission);

#endif
