/* One meter's stream state and the per-reading rules of spec/analytics.md "Stream", steps 1-3:
 * late readings, dips, glitches and resets, then the register at every midnight crossed, daily
 * consumption and monthly values. Plain data and pure functions: the relay's stream processor and
 * the batch both drive it.
 *
 * Not here yet: the detectors (step 4, meter_anomaly) and the rate checks of step 5 (spike_rate,
 * stuck, leak, stale), which need per-meter limits and baselines; replacement detection. */
#ifndef NEBENKOSTEN_STREAM_METER_H
#define NEBENKOSTEN_STREAM_METER_H

#include <stdint.h>

#include "config/config.h"
#include "stream/calendar.h"

/* A drop to at least (1 - this) of the last value is noise (negative_delta); a larger drop is held
 * pending until the next reading shows whether it was a glitch or a reset. */
#define STREAM_METER_DIP_FRACTION 0.1

enum stream_emission_kind {
    STREAM_EMISSION_DAILY,       /* meter_interpolated_daily: register at a midnight */
    STREAM_EMISSION_CONSUMPTION, /* meter_consumption: register(D) - register(D - 1 day) */
    STREAM_EMISSION_MONTHLY,     /* meter_interpolated_monthly: register at a month's last day */
    STREAM_EMISSION_EVENT,       /* meter_event */
    STREAM_EMISSION_ANOMALY,     /* meter_anomaly: a flagged day */
};

enum stream_event_kind {
    STREAM_EVENT_RESET,
    STREAM_EVENT_REPLACEMENT,
    STREAM_EVENT_GLITCH,
    STREAM_EVENT_NEGATIVE_DELTA,
    STREAM_EVENT_STUCK,
    STREAM_EVENT_LEAK,
    STREAM_EVENT_STALE,
    STREAM_EVENT_SPIKE_RATE,
    STREAM_EVENT_LATE_READING,
};

#define STREAM_EMISSION_DETAIL_SIZE 160

/* What a reading produces, for the caller to turn into points of the processed bucket under its
 * meter id. */
struct stream_emission {
    enum stream_emission_kind kind;
    int64_t timestamp_ns; /* the midnight; for events, the reading the event is about */
    /* Daily and monthly: the register (raw reading + offset); consumption: the day's consumption;
     * events: the raw value of the reading the event is about. */
    double value;
    /* The register offset: included in daily and monthly values; for events, in force after it. */
    double offset;
    enum stream_event_kind event;             /* events only */
    char detail[STREAM_EMISSION_DETAIL_SIZE]; /* events only: what happened, for people */
    /* Anomalies only (value is the day's consumption, timestamp_ns the day's consumption stamp):
     * the fields of meter_anomaly. */
    double z_score, iqr_lower, iqr_upper;
    int anomaly_count;
};

/* What a meter's rules need besides its state; everything borrowed. */
struct stream_meter_context {
    const struct stream_calendar *calendar;
    const struct config_meter_limits *limits; /* NULL: the checks that need limits are off */
    const double *seasonal_percentages;       /* 12 values, January first, sum 100; or NULL */
};

/* Receives each emission; emission is borrowed for the call, argument is the caller's. */
typedef void (*stream_emit_fn)(const struct stream_emission *emission, void *argument);

enum {
    STREAM_METER_SEEN = 1u << 0,    /* seen_t is set */
    STREAM_METER_LAST = 1u << 1,    /* a reading has been applied: last_* are set */
    STREAM_METER_PENDING = 1u << 2, /* a large drop is held: pending_* are set */
    STREAM_METER_DAILY = 1u << 3,   /* a midnight has been emitted: daily_* are set */
};

/* A meter's state. All zero is a meter that has seen nothing. No pointers, fixed size, no padding
 * (the 32-bit fields come last), so a checkpoint can store its bytes. */
struct stream_meter {
    int64_t seen_t;    /* newest reading that was not late, whatever became of it */
    int64_t last_t;    /* last applied reading */
    double last_raw;   /* its value as read */
    double last_value; /* its value in the register: raw + the offset in force when applied */
    double offset;     /* added to raw readings, grown by each reset */
    int64_t pending_t; /* first reading of a large drop, not yet applied */
    double pending_raw;
    int64_t held_t;        /* newest reading since, at the very same value */
    int64_t next_midnight; /* first midnight after last_t: spares a zone lookup per reading */
    int64_t daily_t;       /* last emitted midnight */
    double daily_value;    /* the register there */
    uint32_t flags;        /* STREAM_METER_* */
    uint32_t reading_count, late_count, negative_delta_count, glitch_count, reset_count;
};

_Static_assert(sizeof(struct stream_meter) <= 1024, "per-meter state must stay within 1 KiB");

/* Applies one reading (t_ns, value) of a meter, in the order readings arrive:
 * 1. t_ns not after the newest reading seen: late_reading; only late_count changes.
 *    A value that is not finite: glitch, discarded.
 * 2. A drop to >= 90 % of the last applied value: negative_delta, discarded (the register holds
 *    its level and the next reading is measured against the last applied one). A larger drop is
 *    held, with any following readings at exactly the same value, until a reading decides it:
 *    back at >= 90 % of the old level means glitch (the held readings are discarded, nothing is
 *    booked); any other value means reset at the first held reading: offset += last - held, so
 *    the register stays level across the drop and continues from there.
 * 3. Each midnight D with last < D <= t gets the register linearly interpolated between the two
 *    readings: daily, consumption (0 for the meter's first midnight, never negative) and, on a
 *    month's last day, monthly. A first reading exactly at a midnight emits that midnight.
 * meter and context are borrowed; every call on a meter must use the same calendar (a state kept
 * under another time zone must be started afresh). emit is called zero or more times,
 * synchronously. */
void stream_meter_reading_apply(struct stream_meter *meter,
                                const struct stream_meter_context *context, int64_t t_ns,
                                double value, stream_emit_fn emit, void *emit_argument);

/* The meter_event kind tag ("reset", "late_reading", ...): a static string. */
const char *stream_event_kind_name(enum stream_event_kind kind);

#endif
