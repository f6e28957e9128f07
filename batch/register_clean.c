/* The stream's per-reading rules, replayed over a whole history. */
#include "batch/register_clean.h"

#include <stdbool.h>
#include <stdint.h>

#include "stream/meter.h"

/* Notes the reading a glitch event is about: when a held drop shows the last applied reading to
 * have been an outlier, the event names that reading, which must then leave the register. */
static void glitch_note(const struct stream_emission *emission, void *argument)
{
    if (emission->kind == STREAM_EMISSION_EVENT && emission->event == STREAM_EVENT_GLITCH)
        *(int64_t *)argument = emission->timestamp_ns;
}

static int register_append(struct batch_rows *out, int64_t t_ns, double value)
{
    if (out->count > 0 && out->t_ns[out->count - 1] >= t_ns)
        return 0;
    return batch_rows_append(out, t_ns, value);
}

int batch_register_clean(const struct batch_meter_readings *readings, struct batch_rows *out,
                         struct batch_register_counts *counts)
{
    *counts = (struct batch_register_counts){0};
    if (!readings)
        return 0;
    /* The meter state is plain data, so the readings it applied show in how it changed: a reading
     * that moved last_t was applied; a held drop decided as reset or replacement applied its first
     * (and last) held reading before the deciding one. No limits: the rate checks stay off. */
    struct stream_calendar calendar = stream_calendar_utc();
    struct stream_meter_context context = {.calendar = &calendar};
    struct stream_meter meter = {0};
    for (size_t i = 0; i < readings->count; i++) {
        const struct batch_reading *reading = &readings->readings[i];
        struct stream_meter before = meter;
        int64_t glitch_t = INT64_MIN;
        stream_meter_reading_apply(&meter, &context, reading->t_ns, reading->value, glitch_note,
                                   &glitch_t);
        bool outlier = (before.flags & STREAM_METER_PENDING) && glitch_t == before.last_t;
        if (outlier && out->count > 0 && out->t_ns[out->count - 1] == before.last_t)
            out->count--;
        bool decided = (before.flags & STREAM_METER_PENDING) &&
                       (outlier || meter.reset_count + meter.replacement_count >
                                       before.reset_count + before.replacement_count);
        if (decided) {
            double held = before.pending_raw + meter.offset;
            if (register_append(out, before.pending_t, held) != 0)
                return -1;
            if (before.held_t > before.pending_t && register_append(out, before.held_t, held) != 0)
                return -1;
        }
        bool applied = (meter.flags & STREAM_METER_LAST) &&
                       (!(before.flags & STREAM_METER_LAST) || meter.last_t != before.last_t);
        if (applied && meter.last_t == reading->t_ns &&
            register_append(out, meter.last_t, meter.last_value) != 0)
            return -1;
    }
    counts->glitches = meter.glitch_count;
    counts->resets = meter.reset_count;
    counts->replacements = meter.replacement_count;
    counts->dips = meter.negative_delta_count;
    if (meter.flags & STREAM_METER_LAST) {
        counts->last_reading_ns = meter.last_t;
        counts->offset = meter.offset;
    }
    return 0;
}
