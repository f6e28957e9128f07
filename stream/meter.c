#include "stream/meter.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "config/tz.h"

#define METER_HOUR_NS (3600 * STREAM_CALENDAR_NS_PER_SECOND)
#define METER_REGISTER_LIMIT 9007199254740992.0 /* 2^53 */

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
    case STREAM_EVENT_FUTURE_READING:
        return "future_reading";
    case STREAM_EVENT_UNSET_CLOCK:
        return "unset_clock";
    }
    return "unknown";
}

/* Rounds towards minus infinity, so instants before 1970 land in the right second and hour. */
static int64_t meter_floor_div(int64_t numerator, int64_t denominator)
{
    int64_t quotient = numerator / denominator;
    return quotient - (numerator % denominator < 0);
}

void stream_time_format(int64_t t_ns, char *buffer, size_t size)
{
    int64_t seconds = meter_floor_div(t_ns, STREAM_CALENDAR_NS_PER_SECOND);
    int64_t fraction = t_ns - seconds * STREAM_CALENDAR_NS_PER_SECOND;
    int64_t days = meter_floor_div(seconds, 86400), second_of_day = seconds - days * 86400;
    int year, month, day;
    tz_civil_from_days(days, &year, &month, &day);
    int length = snprintf(buffer, size, "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day,
                          (int)(second_of_day / 3600), (int)(second_of_day / 60 % 60),
                          (int)(second_of_day % 60));
    if (length < 0 || (size_t)length >= size)
        return;
    if (fraction) {
        int digits = 9;
        for (; fraction % 10 == 0; fraction /= 10)
            digits--;
        snprintf(buffer + length, size - (size_t)length, ".%0*" PRId64 "Z", digits, fraction);
    } else {
        snprintf(buffer + length, size - (size_t)length, "Z");
    }
}

/* A span for people: "3.2 days", "5.0 h", "12.5 min" or "40.0 s". */
static const char *meter_duration_format(int64_t ns, char *buffer, size_t size)
{
    double seconds = (double)ns / STREAM_CALENDAR_NS_PER_SECOND;
    if (seconds >= 2 * 86400)
        snprintf(buffer, size, "%.1f days", seconds / 86400);
    else if (seconds >= 2 * 3600)
        snprintf(buffer, size, "%.1f h", seconds / 3600);
    else if (seconds >= 120)
        snprintf(buffer, size, "%.1f min", seconds / 60);
    else
        snprintf(buffer, size, "%.1f s", seconds);
    return buffer;
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

/* Feeds a closed day to the detectors, emits its anomaly, and notes at the first day of a run of
 * zero days whether the meter normally consumes (what the stuck check asks later). */
static void meter_day_close(struct stream_meter *meter, const struct stream_meter_context *context,
                            const struct meter_output *output, int64_t midnight, double consumption)
{
    double factor =
        stream_detector_seasonal_factor(context->seasonal_percentages, context->calendar, midnight);
    struct stream_detector_verdict verdict;
    stream_detector_day_close(&meter->detector, consumption, factor, &verdict);
    meter->rate_limit = stream_detector_plausible_max(&meter->detector);
    if (verdict.anomaly) {
        meter->anomaly_count++;
        struct stream_emission emission = {.kind = STREAM_EMISSION_ANOMALY,
                                           .timestamp_ns = midnight,
                                           .value = consumption,
                                           .offset = meter->offset,
                                           .z_score = verdict.z_score,
                                           .iqr_lower = verdict.iqr_lower,
                                           .iqr_upper = verdict.iqr_upper,
                                           .anomaly_count = verdict.anomaly_count};
        output->emit(&emission, output->argument);
    }
    if (consumption > 0) {
        meter->flags &= ~(uint32_t)STREAM_METER_STUCK_EXPECTED;
        return;
    }
    uint32_t run, days_before, zeros_before;
    stream_detector_zero_run(&meter->detector, &run, &days_before, &zeros_before);
    if (run != 1)
        return;
    bool expected = days_before >= STREAM_METER_STUCK_MIN_DAYS &&
                    zeros_before <= STREAM_METER_STUCK_MAX_ZERO_SHARE * days_before;
    meter->flags = expected ? meter->flags | STREAM_METER_STUCK_EXPECTED
                            : meter->flags & ~(uint32_t)STREAM_METER_STUCK_EXPECTED;
}

/* Emits the register at one midnight and what follows from it. */
static void meter_midnight_emit(struct stream_meter *meter,
                                const struct stream_meter_context *context,
                                const struct meter_output *output, int64_t midnight,
                                double register_value)
{
    bool first = !(meter->flags & STREAM_METER_DAILY);
    double consumption = first ? 0.0 : fmax(register_value - meter->daily_value, 0.0);
    meter_emit(output, STREAM_EMISSION_DAILY, midnight, register_value, meter->offset);
    meter_emit(output, STREAM_EMISSION_CONSUMPTION, midnight, consumption, meter->offset);
    if (stream_calendar_is_month_last_day(context->calendar, midnight))
        meter_emit(output, STREAM_EMISSION_MONTHLY, midnight, register_value, meter->offset);
    meter->flags |= STREAM_METER_DAILY;
    meter->daily_t = midnight;
    meter->daily_value = register_value;
    if (!first)
        meter_day_close(meter, context, output, midnight, consumption);
}

/* spike_rate: the rate since the reading it is measured from, once that is far enough back. */
static void meter_spike_check(struct stream_meter *meter, const struct config_meter_limits *limits,
                              const struct meter_output *output, int64_t t, double raw,
                              double learned_limit)
{
    int64_t span = stream_calendar_span_ns(t, meter->rate_t);
    if (span < STREAM_METER_RATE_SPAN_NS)
        return;
    int64_t from_t = meter->rate_t;
    double increase = meter->last_value - meter->rate_value;
    double rate = increase / ((double)span / METER_HOUR_NS);
    meter->rate_t = t;
    meter->rate_value = meter->last_value;
    if (!limits)
        return;
    bool learned = !(limits->max_rate_per_hour > 0);
    double limit = learned ? learned_limit : limits->max_rate_per_hour;
    if (!(limit > 0) || rate <= limit) {
        meter->flags &= ~(uint32_t)STREAM_METER_SPIKE_OPEN;
        return;
    }
    if (meter->flags & STREAM_METER_SPIKE_OPEN)
        return;
    meter->flags |= STREAM_METER_SPIKE_OPEN;
    meter->spike_count++;
    char from[40], span_text[24];
    stream_time_format(from_t, from, sizeof from);
    meter_event_emit(output, STREAM_EVENT_SPIKE_RATE, t, raw, meter->offset,
                     "%.6g per hour (+%.6g in %s since %s), above the %s limit of %.6g per hour",
                     rate, increase, meter_duration_format(span, span_text, sizeof span_text), from,
                     learned ? "learned (plausible maximum day)" : "configured", limit);
}

/* stuck: no increase for stuck_days on a meter that normally consumes. */
static void meter_stuck_check(struct stream_meter *meter,
                              const struct stream_meter_context *context,
                              const struct meter_output *output, int64_t t, double raw)
{
    const struct config_meter_limits *limits = context->limits;
    if (!limits || limits->stuck_days <= 0 || (meter->flags & STREAM_METER_STUCK_OPEN) ||
        !(meter->flags & STREAM_METER_STUCK_EXPECTED) ||
        stream_calendar_span_ns(t, meter->increase_t) <
            limits->stuck_days * STREAM_CALENDAR_NS_PER_DAY)
        return;
    if (context->seasonal_percentages &&
        stream_detector_seasonal_factor(context->seasonal_percentages, context->calendar,
                                        meter->next_midnight) < STREAM_METER_STUCK_MIN_FACTOR)
        return;
    meter->flags |= STREAM_METER_STUCK_OPEN;
    meter->stuck_count++;
    char since[40], span[24];
    stream_time_format(meter->increase_t, since, sizeof since);
    meter_event_emit(
        output, STREAM_EVENT_STUCK, t, raw, meter->offset,
        "no increase for %s (register %.15g since %s) on a meter that normally "
        "consumes every day",
        meter_duration_format(stream_calendar_span_ns(t, meter->increase_t), span, sizeof span),
        meter->last_value, since);
}

/* leak: an increase in each of 24 consecutive hour buckets. previous_t and previous_value are the
 * reading applied before this one. */
static void meter_leak_check(struct stream_meter *meter, const struct config_meter_limits *limits,
                             const struct meter_output *output, int64_t previous_t,
                             double previous_value, int64_t t, double raw)
{
    if (!limits || !limits->leak_check)
        return;
    int32_t hour = (int32_t)meter_floor_div(t, METER_HOUR_NS);
    if (hour != meter->leak_hour) {
        bool run_continues =
            hour == meter->leak_hour + 1 && (meter->flags & STREAM_METER_LEAK_HOUR);
        if (!run_continues) {
            meter->leak_run_hours = 0;
            meter->flags &= ~(uint32_t)STREAM_METER_LEAK_OPEN;
        } else if (meter->leak_run_hours < STREAM_METER_LEAK_HOURS) {
            meter->leak_run_hours++;
        }
        meter->flags &= ~(uint32_t)STREAM_METER_LEAK_HOUR;
        meter->leak_hour = hour;
    }
    if (!(meter->last_value > previous_value))
        return;
    if (meter->leak_run_hours == 0 && !(meter->flags & STREAM_METER_LEAK_HOUR)) {
        meter->leak_t = previous_t;
        meter->leak_value = previous_value;
    }
    meter->flags |= STREAM_METER_LEAK_HOUR;
    if (meter->leak_run_hours + 1 < STREAM_METER_LEAK_HOURS ||
        (meter->flags & STREAM_METER_LEAK_OPEN))
        return;
    meter->flags |= STREAM_METER_LEAK_OPEN;
    meter->leak_count++;
    char since[40];
    stream_time_format(meter->leak_t, since, sizeof since);
    meter_event_emit(output, STREAM_EVENT_LEAK, t, raw, meter->offset,
                     "consumption in each of %" PRIu32 " hours in a row since %s (+%.6g): "
                     "something keeps running",
                     meter->leak_run_hours + 1, since, meter->last_value - meter->leak_value);
}

/* Moves the register to (t, raw + offset), emitting every midnight crossed on the way, then runs
 * the rate checks on the reading. */
static void meter_advance(struct stream_meter *meter, const struct stream_meter_context *context,
                          const struct meter_output *output, int64_t t, double raw)
{
    double value = raw + meter->offset;
    int64_t previous_t = meter->last_t;
    double previous_value = meter->last_value;
    meter->previous_t = meter->last_t;
    meter->previous_raw = meter->last_raw;
    meter->previous_daily_t = meter->daily_t;
    meter->previous_daily_value = meter->daily_value;
    meter->flags &= ~(uint32_t)STREAM_METER_PREVIOUS_DAILY;
    meter->flags |= STREAM_METER_PREVIOUS |
                    (meter->flags & STREAM_METER_DAILY ? STREAM_METER_PREVIOUS_DAILY : 0u);
    /* The reading is judged by what the meter had learned before it: the days it closes below
     * carry its own rise, and once the window has taken a few in they are learned, so a hand-read
     * meter's typo (a digit too many) would raise the limit past its own rate. */
    double learned_limit = meter->rate_limit;
    /* As numpy.interp (the reference's time interpolation): slope times elapsed ns, plus start. */
    double slope = (value - meter->last_value) / stream_calendar_span_double(t, meter->last_t);
    int64_t midnight = meter->next_midnight;
    for (; midnight <= t && midnight < INT64_MAX;
         midnight = stream_calendar_next_midnight(context->calendar, midnight)) {
        double at_midnight =
            midnight == t
                ? value
                : slope * stream_calendar_span_double(midnight, meter->last_t) + meter->last_value;
        meter_midnight_emit(meter, context, output, midnight, at_midnight);
    }
    meter->next_midnight = midnight;
    meter->last_t = t;
    meter->last_raw = raw;
    meter->last_value = value;
    meter->reading_count++;
    meter_spike_check(meter, context->limits, output, t, raw, learned_limit);
    if (value > previous_value) {
        meter->increase_t = t;
        meter->flags &= ~(uint32_t)STREAM_METER_STUCK_OPEN;
    } else {
        meter_stuck_check(meter, context, output, t, raw);
    }
    meter_leak_check(meter, context->limits, output, previous_t, previous_value, t, raw);
}

static void meter_first_apply(struct stream_meter *meter,
                              const struct stream_meter_context *context,
                              const struct meter_output *output, int64_t t, double raw)
{
    meter->flags |= STREAM_METER_LAST;
    meter->flags &= ~(uint32_t)(STREAM_METER_PREVIOUS | STREAM_METER_PREVIOUS_DAILY);
    meter->last_t = t;
    meter->last_raw = raw;
    meter->last_value = raw + meter->offset;
    meter->reading_count++;
    meter->increase_t = meter->rate_t = t;
    meter->rate_value = meter->last_value;
    meter->leak_hour = (int32_t)meter_floor_div(t, METER_HOUR_NS);
    meter->next_midnight = stream_calendar_next_midnight(context->calendar, t);
    if (stream_calendar_next_midnight(context->calendar, t - 1) == t)
        meter_midnight_emit(meter, context, output, t, meter->last_value);
}

/* The gap after which a reading is stale under limits (NULL: no check), from what the meter has
 * learned of its cadence so far. 0: no check. */
static int64_t meter_stale_limit(const struct stream_meter *meter,
                                 const struct config_meter_limits *limits)
{
    if (!limits)
        return 0;
    if (limits->stale_after_ms > 0)
        return limits->stale_after_ms * (STREAM_CALENDAR_NS_PER_SECOND / 1000);
    if (meter->cadence_count < STREAM_METER_STALE_MIN_INTERVALS)
        return 0;
    /* Up to a cadence of STREAM_METER_STALE_MIN_NS / STREAM_METER_STALE_CADENCES (4 h) the limit is
     * the minimum: the usual meter needs no exp() per reading (the compiler folds this log). */
    if (meter->cadence_log <= log((double)STREAM_METER_STALE_MIN_NS / STREAM_METER_STALE_CADENCES /
                                  STREAM_CALENDAR_NS_PER_SECOND))
        return STREAM_METER_STALE_MIN_NS;
    double limit = STREAM_METER_STALE_CADENCES * exp(meter->cadence_log) *
                   (double)STREAM_CALENDAR_NS_PER_SECOND;
    return limit > 1e18 ? INT64_C(1000000000000000000)
                        : (int64_t)fmax(limit, (double)STREAM_METER_STALE_MIN_NS);
}

/* stale: a reading (not late) after a longer gap than the limit; other gaps teach the cadence. */
static void meter_stale_check(struct stream_meter *meter, const struct config_meter_limits *limits,
                              const struct meter_output *output, int64_t t, double value)
{
    if (meter->flags & STREAM_METER_SEEN) {
        int64_t gap = stream_calendar_span_ns(t, meter->seen_t), limit = meter->stale_after_ns;
        if (limits && limit > 0 && gap > limit) {
            meter->stale_count++;
            char since[40], gap_text[24], limit_text[24];
            stream_time_format(meter->seen_t, since, sizeof since);
            meter_event_emit(output, STREAM_EVENT_STALE, t, value, meter->offset,
                             "no reading for %s since %s, more than the %s %s",
                             meter_duration_format(gap, gap_text, sizeof gap_text), since,
                             meter_duration_format(limit, limit_text, sizeof limit_text),
                             limits->stale_after_ms > 0 ? "configured" : "learned (6 x cadence)");
        } else {
            double seconds = (double)gap / STREAM_CALENDAR_NS_PER_SECOND;
            if (meter->cadence_count < STREAM_METER_CADENCE_WEIGHT)
                meter->cadence_count++;
            meter->cadence_log += (log(seconds) - meter->cadence_log) / meter->cadence_count;
        }
    }
    meter->stale_after_ns = meter_stale_limit(meter, limits);
}

/* Whether a decided drop from last_raw to held restarted the register near zero (reset) rather
 * than bringing a register with its own count (replacement). */
static bool meter_drop_is_reset(const struct stream_meter *meter, double held)
{
    double near_zero = STREAM_METER_RESET_FRACTION * fabs(meter->last_raw);
    if (meter->detector.level.count > 0)
        near_zero = fmax(near_zero, STREAM_METER_RESET_DAYS * meter->detector.level.mean);
    return held <= near_zero;
}

/* Whether a held drop to held_raw shows the last reading to be the outlier: the held value is
 * at or above the reading before it, which was read under the same offset (a typed digit too many,
 * 1357 -> 13595 -> 1359.5, rather than a meter that restarted or was replaced). */
static bool meter_last_is_outlier(const struct stream_meter *meter, double held_raw)
{
    return (meter->flags & STREAM_METER_PREVIOUS) && meter->offset_t <= meter->previous_t &&
           held_raw >= meter->previous_raw;
}

/* Takes the register back to the reading before last, as if the last had never come: the
 * midnights since are emitted again by the next advance, over the points the outlier made. */
static void meter_last_discard(struct stream_meter *meter,
                               const struct stream_meter_context *context,
                               const struct meter_output *output)
{
    meter->glitch_count++;
    meter_event_emit(output, STREAM_EVENT_GLITCH, meter->last_t, meter->last_raw, meter->offset,
                     "rose from %.15g to %.15g, then the readings fell back to %.15g: an outlier "
                     "(a typo or a misread), discarded",
                     meter->previous_raw, meter->last_raw, meter->pending_raw);
    meter->last_t = meter->rate_t = meter->previous_t;
    meter->last_raw = meter->previous_raw;
    meter->last_value = meter->rate_value = meter->previous_raw + meter->offset;
    meter->next_midnight = stream_calendar_next_midnight(context->calendar, meter->last_t);
    meter->daily_t = meter->previous_daily_t;
    meter->daily_value = meter->previous_daily_value;
    uint32_t daily = meter->flags & STREAM_METER_PREVIOUS_DAILY ? STREAM_METER_DAILY : 0u;
    meter->flags &= ~(uint32_t)(STREAM_METER_DAILY | STREAM_METER_SPIKE_OPEN |
                                STREAM_METER_PREVIOUS | STREAM_METER_PREVIOUS_DAILY);
    meter->flags |= daily;
    meter->reading_count--;
}

/* A held drop that stays: the register continues from where it stood (offset += last - held),
 * booked as a reset or a replacement. */
static void meter_drop_book(struct stream_meter *meter, const struct meter_output *output)
{
    meter->offset += meter->last_raw - meter->pending_raw;
    meter->offset_t = meter->pending_t;
    if (meter_drop_is_reset(meter, meter->pending_raw)) {
        meter->reset_count++;
        meter_event_emit(output, STREAM_EVENT_RESET, meter->pending_t, meter->pending_raw,
                         meter->offset, "fell from %.15g to %.15g: register offset now %.15g",
                         meter->last_raw, meter->pending_raw, meter->offset);
    } else {
        meter->replacement_count++;
        meter_event_emit(output, STREAM_EVENT_REPLACEMENT, meter->pending_t, meter->pending_raw,
                         meter->offset,
                         "fell from %.15g to %.15g, not near zero: a new register; offset now "
                         "%.15g",
                         meter->last_raw, meter->pending_raw, meter->offset);
    }
}

/* A small dip (to >= 90 % of the last value): noise, discarded. */
static void meter_dip_discard(struct stream_meter *meter, const struct meter_output *output,
                              int64_t t, double raw)
{
    meter->negative_delta_count++;
    meter_event_emit(output, STREAM_EVENT_NEGATIVE_DELTA, t, raw, meter->offset,
                     "fell from %.15g to %.15g (less than 10 %%): discarded as noise",
                     meter->last_raw, raw);
}

/* Holds (t, raw), a drop from the last value, until the next reading decides it. */
static void meter_hold(struct stream_meter *meter, uint32_t flags, int64_t t, double raw)
{
    meter->flags |= flags;
    meter->pending_t = t;
    meter->pending_raw = raw;
    meter->held_t = t;
}

/* Applies the held readings once their drop is decided: the first, and the newest of those at the
 * very same value after it. */
static void meter_held_apply(struct stream_meter *meter, const struct stream_meter_context *context,
                             const struct meter_output *output)
{
    meter_advance(meter, context, output, meter->pending_t, meter->pending_raw);
    if (meter->held_t > meter->pending_t)
        meter_advance(meter, context, output, meter->held_t, meter->pending_raw);
}

/* A reading arrived while a small dip to or above the reading before last is held: back at or
 * above the last value, the dip was noise; still below it but not below the dip, the readings
 * continue from the reading before last and the last one was the outlier (a typed 1395.5 for
 * 1359.5: kept, it would hold back every reading for months, until the meter passes the typo). */
static bool meter_dip_decide(struct stream_meter *meter, const struct stream_meter_context *context,
                             const struct meter_output *output, int64_t t, double raw)
{
    if (raw == meter->pending_raw) {
        meter->held_t = t;
        return false;
    }
    meter->flags &= ~(uint32_t)(STREAM_METER_PENDING | STREAM_METER_PENDING_DIP);
    if (raw < meter->pending_raw || raw >= meter->last_raw) {
        meter_dip_discard(meter, output, meter->pending_t, meter->pending_raw);
        return true;
    }
    meter_last_discard(meter, context, output);
    meter_held_apply(meter, context, output);
    return true;
}

/* A reading arrived while a large drop is held. Returns whether the reading still needs the
 * ordinary rules (false: it joined the held readings). */
static bool meter_pending_decide(struct stream_meter *meter,
                                 const struct stream_meter_context *context,
                                 const struct meter_output *output, int64_t t, double raw)
{
    if (meter->flags & STREAM_METER_PENDING_DIP)
        return meter_dip_decide(meter, context, output, t, raw);
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
    if (meter_last_is_outlier(meter, meter->pending_raw))
        meter_last_discard(meter, context, output);
    else
        meter_drop_book(meter, output);
    meter_held_apply(meter, context, output);
    return true;
}

bool stream_meter_reading_is_misdated(const struct stream_meter_context *context, int64_t t_ns)
{
    if (context->now_ns == 0)
        return false;
    return t_ns < STREAM_EARLIEST_READING_NS ||
           (t_ns > context->now_ns && t_ns - context->now_ns > STREAM_FUTURE_READING_TOLERANCE_NS);
}

void stream_meter_reading_apply(struct stream_meter *meter,
                                const struct stream_meter_context *context, int64_t t_ns,
                                double value, stream_emit_fn emit, void *emit_argument)
{
    const struct meter_output output = {.emit = emit, .argument = emit_argument};
    if (stream_meter_reading_is_misdated(context, t_ns)) {
        bool future = t_ns > context->now_ns;
        meter->flags |= future ? STREAM_METER_FUTURE_OPEN : STREAM_METER_UNSET_CLOCK_OPEN;
        char when[32];
        stream_time_format(t_ns, when, sizeof when);
        /* Stamped now: at its own time the event would lie where no dashboard looks. */
        meter_event_emit(&output, future ? STREAM_EVENT_FUTURE_READING : STREAM_EVENT_UNSET_CLOCK,
                         context->now_ns, value, meter->offset, "dated %s, %s, ignored", when,
                         future ? "more than a day after the relay's clock: a device clock error"
                                : "before 2001: the device's clock was not set");
        return;
    }
    meter->flags &= ~(uint32_t)(STREAM_METER_FUTURE_OPEN | STREAM_METER_UNSET_CLOCK_OPEN);
    if ((meter->flags & STREAM_METER_SEEN) && t_ns <= meter->seen_t) {
        meter->late_count++;
        meter_event_emit(&output, STREAM_EVENT_LATE_READING, t_ns, value, meter->offset,
                         "not after the newest reading (%lld ns): left to the nightly batch",
                         (long long)meter->seen_t);
        return;
    }
    meter_stale_check(meter, context->limits, &output, t_ns, value);
    meter->flags |= STREAM_METER_SEEN;
    meter->seen_t = t_ns;
    if (!isfinite(value)) {
        meter->glitch_count++;
        meter_event_emit(&output, STREAM_EVENT_GLITCH, t_ns, value, meter->offset,
                         "not a finite number: discarded");
        return;
    }
    /* Past 2^53 a double no longer counts single units: no register gets there, but devices and
     * integrations report "unavailable" as 2^64 - 1 or 2^63 - 1. Applied, such a value would be
     * booked as consumption and then, the next reading being far below, make a reset whose offset
     * (~1.8e19, steps of 4096) rounds every later day's consumption to 0. */
    if (fabs(value) >= METER_REGISTER_LIMIT) {
        meter->glitch_count++;
        meter_event_emit(&output, STREAM_EVENT_GLITCH, t_ns, value, meter->offset,
                         "beyond 2^53, which no counter register reaches: discarded");
        return;
    }
    if (!(meter->flags & STREAM_METER_LAST)) {
        meter_first_apply(meter, context, &output, t_ns, value);
        return;
    }
    if ((meter->flags & STREAM_METER_PENDING) &&
        !meter_pending_decide(meter, context, &output, t_ns, value))
        return;
    if (value < meter->last_raw) {
        if (!meter_drop_is_small(meter->last_raw, value))
            meter_hold(meter, STREAM_METER_PENDING, t_ns, value);
        else if (meter_last_is_outlier(meter, value))
            meter_hold(meter, STREAM_METER_PENDING | STREAM_METER_PENDING_DIP, t_ns, value);
        else
            meter_dip_discard(meter, &output, t_ns, value);
        return;
    }
    meter_advance(meter, context, &output, t_ns, value);
}
