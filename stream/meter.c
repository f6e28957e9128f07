#include "stream/meter.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

const char *stream_event_kind_name(enum stream_event_kind kind)
{
    switch (kind) {
    case STREAM_EVENT_RESET:
        return "reset";
    case STREAM_EVENT_REPLACEMENT:
        return "replacement";
    case STREAM_EVENT_GLITCH:
        return "glitch";
    case STREAM_EVENT_NEGATIVE_DELTA:
        return "negative_delta";
    case STREAM_EVENT_STUCK:
        return "stuck";
    case STREAM_EVENT_LEAK:
        return "leak";
    case STREAM_EVENT_STALE:
        return "stale";
    case STREAM_EVENT_SPIKE_RATE:
        return "spike_rate";
    case STREAM_EVENT_LATE_READING:
        return "late_reading";
    }
    return "unknown";
}

/* The caller's callback and argument, so helpers take one parameter for both. */
struct meter_output {
    stream_emit_fn emit;
    void *argument;
};

static void meter_emit(const struct meter_output *output, enum stream_emission_kind kind,
                       int64_t timestamp_ns, double value, double offset)
{
    struct stream_emission emission = {
        .kind = kind, .timestamp_ns = timestamp_ns, .value = value, .offset = offset};
    output->emit(&emission, output->argument);
}

__attribute__((format(printf, 6, 7))) static void
meter_event_emit(const struct meter_output *output, enum stream_event_kind event,
                 int64_t timestamp_ns, double value, double offset, const char *format, ...)
{
    struct stream_emission emission = {.kind = STREAM_EMISSION_EVENT,
                                       .timestamp_ns = timestamp_ns,
                                       .value = value,
                                       .offset = offset,
                                       .event = event};
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(emission.detail, sizeof emission.detail, format, arguments);
    va_end(arguments);
    output->emit(&emission, output->argument);
}

static bool meter_drop_is_small(double last, double value)
{
    return value >= last - STREAM_METER_DIP_FRACTION * fabs(last);
}

/* Emits the register at one midnight and what follows from it. */
static void meter_midnight_emit(struct stream_meter *meter, const struct stream_calendar *calendar,
                                const struct meter_output *output, int64_t midnight,
                                double register_value)
{
    double consumption = 0.0;
    if (meter->flags & STREAM_METER_DAILY)
        consumption = fmax(register_value - meter->daily_value, 0.0);
    meter_emit(output, STREAM_EMISSION_DAILY, midnight, register_value, meter->offset);
    meter_emit(output, STREAM_EMISSION_CONSUMPTION, midnight, consumption, meter->offset);
    if (stream_calendar_is_month_last_day(calendar, midnight))
        meter_emit(output, STREAM_EMISSION_MONTHLY, midnight, register_value, meter->offset);
    meter->flags |= STREAM_METER_DAILY;
    meter->daily_t = midnight;
    meter->daily_value = register_value;
}

/* Moves the register to (t, raw + offset), emitting every midnight crossed on the way. */
static void meter_advance(struct stream_meter *meter, const struct stream_calendar *calendar,
                          const struct meter_output *output, int64_t t, double raw)
{
    double value = raw + meter->offset;
    /* As numpy.interp (the reference's time interpolation): slope times elapsed ns, plus start. */
    double slope = (value - meter->last_value) / (double)(t - meter->last_t);
    int64_t midnight = meter->next_midnight;
    for (; midnight <= t; midnight = stream_calendar_next_midnight(calendar, midnight)) {
        double at_midnight =
            midnight == t ? value : slope * (double)(midnight - meter->last_t) + meter->last_value;
        meter_midnight_emit(meter, calendar, output, midnight, at_midnight);
    }
    meter->next_midnight = midnight;
    meter->last_t = t;
    meter->last_raw = raw;
    meter->last_value = value;
    meter->reading_count++;
}

static void meter_first_apply(struct stream_meter *meter, const struct stream_calendar *calendar,
                              const struct meter_output *output, int64_t t, double raw)
{
    meter->flags |= STREAM_METER_LAST;
    meter->last_t = t;
    meter->last_raw = raw;
    meter->last_value = raw + meter->offset;
    meter->reading_count++;
    meter->next_midnight = stream_calendar_next_midnight(calendar, t);
    if (stream_calendar_next_midnight(calendar, t - 1) == t)
        meter_midnight_emit(meter, calendar, output, t, meter->last_value);
}

/* A reading arrived while a large drop is held. Returns whether the reading still needs the
 * ordinary rules (false: it joined the held readings). */
static bool meter_pending_decide(struct stream_meter *meter, const struct stream_calendar *calendar,
                                 const struct meter_output *output, int64_t t, double raw)
{
    if (meter_drop_is_small(meter->last_raw, raw)) {
        meter->flags &= ~(uint32_t)STREAM_METER_PENDING;
        meter->glitch_count++;
        meter_event_emit(output, STREAM_EVENT_GLITCH, meter->pending_t, meter->pending_raw,
                         meter->offset,
                         "fell from %.15g to %.15g and came back to %.15g: discarded",
                         meter->last_raw, meter->pending_raw, raw);
        return true;
    }
    if (raw == meter->pending_raw) {
        meter->held_t = t;
        return false;
    }
    meter->flags &= ~(uint32_t)STREAM_METER_PENDING;
    meter->reset_count++;
    meter->offset += meter->last_raw - meter->pending_raw;
    meter_event_emit(output, STREAM_EVENT_RESET, meter->pending_t, meter->pending_raw,
                     meter->offset, "fell from %.15g to %.15g: register offset now %.15g",
                     meter->last_raw, meter->pending_raw, meter->offset);
    meter_advance(meter, calendar, output, meter->pending_t, meter->pending_raw);
    if (meter->held_t > meter->pending_t)
        meter_advance(meter, calendar, output, meter->held_t, meter->pending_raw);
    return true;
}

void stream_meter_reading_apply(struct stream_meter *meter,
                                const struct stream_meter_context *context, int64_t t_ns,
                                double value, stream_emit_fn emit, void *emit_argument)
{
    const struct stream_calendar *calendar = context->calendar;
    const struct meter_output output = {.emit = emit, .argument = emit_argument};
    if ((meter->flags & STREAM_METER_SEEN) && t_ns <= meter->seen_t) {
        meter->late_count++;
        meter_event_emit(&output, STREAM_EVENT_LATE_READING, t_ns, value, meter->offset,
                         "not after the newest reading (%lld ns): left to the nightly batch",
                         (long long)meter->seen_t);
        return;
    }
    meter->flags |= STREAM_METER_SEEN;
    meter->seen_t = t_ns;
    if (!isfinite(value)) {
        meter->glitch_count++;
        meter_event_emit(&output, STREAM_EVENT_GLITCH, t_ns, value, meter->offset,
                         "not a finite number: discarded");
        return;
    }
    if (!(meter->flags & STREAM_METER_LAST)) {
        meter_first_apply(meter, calendar, &output, t_ns, value);
        return;
    }
    if ((meter->flags & STREAM_METER_PENDING) &&
        !meter_pending_decide(meter, calendar, &output, t_ns, value))
        return;
    if (value < meter->last_raw) {
        if (meter_drop_is_small(meter->last_raw, value)) {
            meter->negative_delta_count++;
            meter_event_emit(&output, STREAM_EVENT_NEGATIVE_DELTA, t_ns, value, meter->offset,
                             "fell from %.15g to %.15g (less than 10 %%): discarded as noise",
                             meter->last_raw, value);
            return;
        }
        meter->flags |= STREAM_METER_PENDING;
        meter->pending_t = t_ns;
        meter->pending_raw = value;
        meter->held_t = t_ns;
        return;
    }
    meter_advance(meter, calendar, &output, t_ns, value);
}
