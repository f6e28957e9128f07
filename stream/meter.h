/* One meter's stream state and the per-reading rules of spec/analytics.md "Stream": late
 * readings, dips, glitches, resets and replacements, the register at every midnight crossed, daily
 * consumption and monthly values (steps 1-3), the detectors on each closed day (step 4,
 * stream/detector.h) and the rate checks per reading (step 5). Plain data and pure functions
 * driven only by the readings' timestamps and values (no clock, no randomness): replaying the same
 * readings gives byte-identical emissions. The relay's stream processor and the batch both drive
 * it. */
#ifndef NEBENKOSTEN_STREAM_METER_H
#define NEBENKOSTEN_STREAM_METER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "stream/calendar.h"
#include "stream/detector.h"

struct cJSON;

/* A drop to at least (1 - this) of the last value is noise (negative_delta); a larger drop is held
 * pending until the next reading shows whether it was a glitch, a reset or a replacement. */
#define STREAM_METER_DIP_FRACTION 0.1
/* A decided drop is a reset (the register restarted near zero) when the first held value is at
 * most this fraction of the old raw value or at most STREAM_METER_RESET_DAYS of the meter's
 * learned mean non-zero day; otherwise a replacement (a new register with its own count). Both
 * keep continuity with the offset; only the event kind differs. */
#define STREAM_METER_RESET_FRACTION 0.01
#define STREAM_METER_RESET_DAYS 7.0

/* The rate checks (step 5; all off when the context has no limits):
 * spike_rate: the implied rate between two applied readings at least STREAM_METER_RATE_SPAN_NS
 *   apart (closer readings are measured from the earlier one, so a meter's resolution over a few
 *   seconds is no spike) above max_rate_per_hour; when that is 0, above the meter's plausible
 *   maximum day (the larger of the upper IQR fence and mean + 3 std, as of the last day closed
 *   before the reading: the days it closes carry its own rise) per hour, once the detectors are
 *   warm. Glitches and resets never reach it: the dip rules removed them.
 * stuck: no increase for stuck_days x 24 h (0: off) where the meter normally consumes: when its
 *   run of zero days began, the (at least STREAM_METER_STUCK_MIN_DAYS) days before it in the
 *   detector window had at most STREAM_METER_STUCK_MAX_ZERO_SHARE zero days, and with a seasonal
 *   pattern the month's factor is at least STREAM_METER_STUCK_MIN_FACTOR (summer-off heating).
 * leak (leak_check): an increase in each of 24 consecutive hour buckets (UTC hours of the reading
 *   timestamps): needs readings at least hourly, an hour without a reading ends the run.
 * stale: a reading after a gap longer than stale_after_ms; when that is 0,
 *   STREAM_METER_STALE_CADENCES x the usual cadence (a geometric moving average of the intervals:
 *   the first STREAM_METER_CADENCE_WEIGHT alike, then each new one with that weight; learned from
 *   STREAM_METER_STALE_MIN_INTERVALS on), at least STREAM_METER_STALE_MIN_NS. The limit in force
 *   is the one computed at the previous reading (stale_after_ns).
 * Each is one event per episode: spike_rate until a rate is back under the limit, stuck until the
 * register increases, leak until an hour without consumption, stale per gap. */
#define STREAM_METER_RATE_SPAN_NS (300 * STREAM_CALENDAR_NS_PER_SECOND)
#define STREAM_METER_STUCK_MIN_DAYS 10
#define STREAM_METER_STUCK_MAX_ZERO_SHARE 0.1
#define STREAM_METER_STUCK_MIN_FACTOR 0.5
#define STREAM_METER_LEAK_HOURS 24
#define STREAM_METER_STALE_CADENCES 6.0
#define STREAM_METER_STALE_MIN_INTERVALS 8
#define STREAM_METER_CADENCE_WEIGHT 16
#define STREAM_METER_STALE_MIN_NS STREAM_CALENDAR_NS_PER_DAY

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
    STREAM_EVENT_FUTURE_READING, /* ours: dated after the processing clock (a device clock error) */
    STREAM_EVENT_UNSET_CLOCK,    /* ours: dated before STREAM_EARLIEST_READING_NS */
};
#define STREAM_EVENT_KIND_COUNT (STREAM_EVENT_UNSET_CLOCK + 1)

/* A reading dated more than this after the clock of the process reading it is a device clock
 * error (an RTC reset to 2036, a year typed wrong), not a measurement: taken, it would hold every
 * later reading of the meter as late until that date, and the batch would interpolate towards
 * it. A day leaves room for devices that send local time as UTC (up to 14 hours ahead). The
 * batch leaves out such readings by the same rule. */
#define STREAM_FUTURE_READING_TOLERANCE_NS (86400LL * 1000000000LL)

/* A reading dated before 2001-01-01T00:00:00Z is no measurement either: a device whose clock is
 * not set yet (no battery-backed clock, NTP not through) counts from 1970, or from 2000-01-01
 * where its real-time clock chip starts; a time in seconds or milliseconds written without the
 * precision parameter lands in January 1970 too. Taken as a meter's first reading, it would have
 * the stream interpolate every midnight since 1970 (40 000 points, and InfluxDB a shard for every
 * week of them) and teach the detectors a daily consumption of nearly zero. The batch leaves such
 * readings out by the same rule. */
#define STREAM_EARLIEST_READING_NS (978307200LL * 1000000000LL)

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
    /* The processing clock (ns since the epoch) that readings are checked against; 0: they are
     * not (tests, benchmarks, a replay of recorded data). */
    int64_t now_ns;
};

/* Receives each emission; emission is borrowed for the call, argument is the caller's. */
typedef void (*stream_emit_fn)(const struct stream_emission *emission, void *argument);

enum {
    STREAM_METER_SEEN = 1u << 0,            /* seen_t is set */
    STREAM_METER_LAST = 1u << 1,            /* a reading has been applied: last_* are set */
    STREAM_METER_PENDING = 1u << 2,         /* a large drop is held: pending_* are set */
    STREAM_METER_DAILY = 1u << 3,           /* a midnight has been emitted: daily_* are set */
    STREAM_METER_SPIKE_OPEN = 1u << 4,      /* spike_rate reported, the rate is still above */
    STREAM_METER_STUCK_OPEN = 1u << 5,      /* stuck reported, no increase since */
    STREAM_METER_STUCK_EXPECTED = 1u << 6,  /* the current zero run began on a consuming meter */
    STREAM_METER_LEAK_OPEN = 1u << 7,       /* leak reported, every hour still consumes */
    STREAM_METER_LEAK_HOUR = 1u << 8,       /* the register increased within leak_hour */
    STREAM_METER_FUTURE_OPEN = 1u << 9,     /* future_reading reported, no reading applied since */
    STREAM_METER_PREVIOUS = 1u << 10,       /* previous_* are set: the reading before last */
    STREAM_METER_PREVIOUS_DAILY = 1u << 11, /* a midnight had been emitted when it was applied */
    STREAM_METER_PENDING_DIP = 1u << 12,    /* with PENDING: the held drop is a small dip */
    STREAM_METER_UNSET_CLOCK_OPEN = 1u << 13, /* unset_clock reported, no reading applied since */
};

/* A meter's state. All zero is a meter that has seen nothing. No pointers, fixed size, no padding
 * (fields of one size together, each group a multiple of 8 bytes), so a checkpoint can store its
 * bytes. What most readings touch comes first, so a reading touches few cache lines. */
struct stream_meter {
    /* Most readings: */
    int64_t seen_t;        /* newest reading that was not late, whatever became of it */
    int64_t last_t;        /* last applied reading */
    double last_raw;       /* its value as read */
    double last_value;     /* its value in the register: raw + the offset in force when applied */
    double offset;         /* added to raw readings, grown by each reset */
    int64_t next_midnight; /* first midnight after last_t: spares a zone lookup per reading */
    int64_t increase_t;    /* last applied reading that raised the register (or the first) */
    int64_t rate_t;        /* where the implied rate is measured from: an applied reading */
    double rate_value;     /* the register there */
    /* The learned spike_rate limit per hour: the detectors' plausible maximum day
     * (stream_detector_plausible_max), kept when a day closes, as the detectors only change then;
     * 0 until they are warm. */
    double rate_limit;
    double cadence_log;     /* moving average of ln(seconds between readings) */
    int64_t stale_after_ns; /* the gap that is stale, as of the last reading; 0: no stale check */
    int32_t leak_hour; /* hour bucket (UTC hours since the epoch; int64 ns reach +-2.6e6 hours) */
    uint32_t flags;    /* STREAM_METER_* */
    uint32_t reading_count;
    /* Intervals in cadence_log, counted up to STREAM_METER_CADENCE_WEIGHT; consecutive hour
     * buckets before leak_hour with an increase, counted up to STREAM_METER_LEAK_HOURS. */
    uint16_t cadence_count, leak_run_hours;
    /* Drops, midnights and leaks: */
    int64_t pending_t; /* first reading of a large drop, not yet applied */
    double pending_raw;
    int64_t held_t;     /* newest reading since, at the very same value */
    int64_t daily_t;    /* last emitted midnight */
    double daily_value; /* the register there */
    int64_t leak_t;     /* the reading before the first increase of the run of hours */
    double leak_value;  /* the register there */
    uint32_t late_count, negative_delta_count, glitch_count, reset_count, replacement_count;
    uint32_t spike_count, stuck_count, leak_count, stale_count, anomaly_count;
    /* Closed days: */
    struct stream_detector detector;
    /* The first reading under the offset in force: the reading of its last reset or replacement
     * (0: none since the state began). Last, so a checkpoint of the layout before it loads. */
    int64_t offset_t;
    /* The applied reading before last and the last midnight emitted before it, as they were then:
     * what a high reading that proves a typo is taken back to (step 2). After offset_t, so the
     * checkpoints of the two layouts before load. */
    int64_t previous_t;
    double previous_raw;
    int64_t previous_daily_t;
    double previous_daily_value;
};

_Static_assert(sizeof(struct stream_meter) <= 680,
               "per-meter state must stay within 648 bytes (the processor adds id and hash slot: "
               "the bar is 1 KiB)");

/* Applies one reading (t_ns, value) of a meter, in the order readings arrive:
 * 0. t_ns more than STREAM_FUTURE_READING_TOLERANCE_NS after context->now_ns (when set):
 *    future_reading, stamped now_ns; nothing else changes but STREAM_METER_FUTURE_OPEN, set until
 *    a reading is taken again (it tells the caller which future reading is the first of a run).
 *    Likewise, with now_ns set, t_ns before STREAM_EARLIEST_READING_NS: unset_clock, stamped
 *    now_ns, STREAM_METER_UNSET_CLOCK_OPEN.
 * 1. t_ns not after the newest reading seen: late_reading; only late_count changes.
 *    A value that is not finite, or of magnitude 2^53 or more (no register: a device's
 *    "unavailable" marker such as 2^64 - 1): glitch, discarded.
 * 2. A drop to >= 90 % of the last applied value: negative_delta, discarded (the register holds
 *    its level and the next reading is measured against the last applied one). When the dip is at
 *    or above the reading before last, it is held until the next reading: one back at or above
 *    the last value (or below the dip) makes it negative_delta; one in between shows the last
 *    reading to be the outlier, as below. A larger drop is
 *    held, with any following readings at exactly the same value, until a reading decides it:
 *    back at >= 90 % of the old level means glitch (the held readings are discarded, nothing is
 *    booked); any other value means reset or replacement (see STREAM_METER_RESET_FRACTION) at the
 *    first held reading: offset += last - held, so the register stays level across the drop and
 *    continues from there. Except when the held value is at or above the reading before last,
 *    under the same offset: then the last reading was the outlier (a digit typed too many, a
 *    misread), not the drop. It is discarded as a glitch and the midnights since the reading
 *    before it are emitted again, interpolated towards the held value (the same points, now
 *    right), so the typo books nothing.
 * 3. Each midnight D with last < D <= t gets the register linearly interpolated between the two
 *    readings: daily, consumption (0 for the meter's first midnight, never negative) and, on a
 *    month's last day, monthly. A first reading exactly at a midnight emits that midnight.
 * 4. Each closed day after the meter's first feeds the detectors; a flagged day emits an anomaly
 *    (value: the day's consumption, stamped like it).
 * 5. The rate checks above: stale for every reading that is not late, the others for every
 *    applied one.
 * meter and context are borrowed; every call on a meter must use the same calendar (a state kept
 * under another time zone must be started afresh). emit is called zero or more times,
 * synchronously. */
void stream_meter_reading_apply(struct stream_meter *meter,
                                const struct stream_meter_context *context, int64_t t_ns,
                                double value, stream_emit_fn emit, void *emit_argument);

/* Whether a reading at t_ns is one that step 0 above ignores (future_reading or unset_clock):
 * never when context->now_ns is 0. */
bool stream_meter_reading_is_misdated(const struct stream_meter_context *context, int64_t t_ns);

/* The meter_event kind tag ("reset", "late_reading", ...): a static string. */
const char *stream_event_kind_name(enum stream_event_kind kind);

/* Writes t_ns as RFC 3339 in UTC ("2024-01-02T03:04:05Z", with the fraction of a second when there
 * is one) into buffer (borrowed, size >= 32 suffices). */
void stream_time_format(int64_t t_ns, char *buffer, size_t size);

/* Adds to object (a cJSON object, borrowed) what the HTTP API shows of meter (borrowed): the last
 * reading (time, raw and register value), the register offset, the last midnight and its
 * register, today's consumption so far (null when the last reading is of an earlier day than
 * now_ns in calendar, borrowed), the counters, the open flags (pending drop, spike_rate,
 * stuck, leak, and stale given the wall-clock now_ns) and the detector baselines. Allocation
 * failures leave members out. */
void stream_meter_describe(const struct stream_meter *meter, const struct stream_calendar *calendar,
                           int64_t now_ns, struct cJSON *object);

#endif
