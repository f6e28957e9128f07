/* Event-level scoring for bench-anomaly: what a detector flagged on a meter against the meter's
 * truth (bench/anomaly/generate.h).
 *
 * A flag is a (day, class): a day's anomaly vote, or a typed stream event on the day of its
 * reading. Flags of one class on days at most 2 apart form one alert (a run), so a week of
 * flagged days is one alarm, as is one stuck event.
 * An alert detects a truth event when its class fits the event's kind and its days meet the
 * event's days widened by 1 on both sides:
 *   spike, level_shift: anomaly, spike_rate
 *   leak:               leak, anomaly
 *   stuck:              stuck, anomaly, spike_rate (the catch-up when the register moves again)
 *   reset:              reset;  replacement: replacement;  transient_zero: glitch
 * Data faults are typed events: an anomaly flag on a reset, replacement or transient zero is a
 * false alarm, not a detection (the household's use was normal). An alert that detects nothing is
 * false and counts against the kind its class stands for (anomaly and spike_rate: spike; glitch:
 * transient_zero; stale: no kind, only the totals). Controls (holiday, cold_snap) accept nothing:
 * an alert there is false, and the control counts as flagged.
 * Per kind: recall = detected events / events, precision = alerts that detected an event of the
 * kind / (those + false alerts counted against it), F1 their harmonic mean. */
#ifndef NEBENKOSTEN_BENCH_ANOMALY_SCORE_H
#define NEBENKOSTEN_BENCH_ANOMALY_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bench/anomaly/generate.h"

enum anomaly_flag_class {
    ANOMALY_FLAG_ANOMALY, /* the day's vote: stream meter_anomaly, reference is_anomaly */
    ANOMALY_FLAG_SPIKE_RATE,
    ANOMALY_FLAG_STUCK,
    ANOMALY_FLAG_LEAK,
    ANOMALY_FLAG_RESET,
    ANOMALY_FLAG_REPLACEMENT,
    ANOMALY_FLAG_GLITCH,
    ANOMALY_FLAG_STALE,
    ANOMALY_FLAG_CLASSES,
};

struct anomaly_flag {
    int day;
    enum anomaly_flag_class flag_class;
};

struct anomaly_flags {
    struct anomaly_flag *items;
    size_t count, capacity;
};

/* A kind's tally; for controls, events counts the controls and detected those flagged. */
struct anomaly_kind_score {
    int events, detected, true_alerts, false_alerts;
};

struct anomaly_score {
    struct anomaly_kind_score kinds[ANOMALY_TRUTH_KINDS];
    int false_by_class[ANOMALY_FLAG_CLASSES];
    int false_other; /* false alerts no kind stands for (stale) */
    /* Within a day of a reset, replacement or transient zero: consumption days above the meter's
     * largest true day, and anomaly or spike_rate flags the meter's fault-free twin did not get. */
    int fault_spike_days, fault_anomaly_flags;
};

struct anomaly_prf {
    double precision, recall, f1;
    bool alerted; /* precision is defined: there were alerts */
};

/* Appends a flag. Returns 0, or -1 when out of memory. */
int anomaly_flags_add(struct anomaly_flags *flags, int day, enum anomaly_flag_class flag_class);
void anomaly_flags_free(struct anomaly_flags *flags);

/* Scores one meter's flags (sorted in place) against its truth, added to score. With trace, writes
 * there each truth event with its outcome and each false alert, one line each starting with label.
 * Everything is borrowed. */
void anomaly_score_add(const struct anomaly_meter *meter, struct anomaly_flags *flags,
                       struct anomaly_score *score, FILE *trace, const char *label);

/* What the meter's resets, replacements and transient zeros made the detector do: consumption[day]
 * is the day's use as it booked it (NaN where it booked none; meter->days values), twin_flags what
 * it flagged on the meter's fault-free twin. Added to score; everything is borrowed. */
void anomaly_score_faults(const struct anomaly_meter *meter, const struct anomaly_flags *flags,
                          const struct anomaly_flags *twin_flags, const double *consumption,
                          struct anomaly_score *score);

const char *anomaly_flag_class_name(enum anomaly_flag_class flag_class);

/* Precision, recall and F1 over the kinds in kinds (a bit per enum anomaly_truth_kind);
 * with_other adds the false alerts no kind stands for. score is borrowed. */
struct anomaly_prf anomaly_score_prf(const struct anomaly_score *score, unsigned kinds,
                                     bool with_other);

#endif
