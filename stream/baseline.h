/* Detector baselines the nightly batch computes from a meter's full history, and the file that
 * carries them to the relay's stream processor, which replaces its meters' online statistics with
 * them (spec/analytics.md "Stream": "each night the batch re-seeds these baselines").
 *
 * The file is one JSON object (UTF-8):
 *
 *   {"version": 1,
 *    "meters": {
 *      "<meter_id>": {
 *        "days": 730,              days fed to the detectors (every closed day after the first)
 *        "flagged_run": 0,         non-zero days flagged in a row at the end (< 7)
 *        "level":    {"count": 700, "mean": 4.2, "m2": 1283.5},
 *        "seasonal": {"count": 700, "mean": 4.1, "m2": 410.2},
 *        "q1": {"count": 700, "heights": [h0, h1, h2, h3, h4], "positions": [1, 88, 175, 438,
 * 700]}, "q3": {"count": 700, "heights": [...], "positions": [...]}, "window": [c0, c1, ..., c29],
 *        "register": {"reading_ns": "1733011200000000000", "offset": 12034.5}     (optional)
 *      }, ...}}
 *
 * level: count, mean and sum of squared deviations (M2) of the learned days (non-zero, not
 * flagged); seasonal: the same of those days' consumption divided by their month's seasonal factor
 * (stream_detector_seasonal_factor; count 0 for a meter without a pattern). q1 and q3: P² marker
 * states (stream/quantile.h) for the 0.25 and 0.75 quantiles of the learned days: with count >= 5
 * five ascending heights and strictly increasing 1-based positions from 1 to count; with fewer,
 * the count learned values ascending (positions all 0). window: the latest days' consumption
 * (zeros too), oldest first, at most 30. register: the register offset (value written minus raw
 * reading) the batch's series has at its last reading, and that reading's time (ns since the
 * epoch, as a string: a JSON number loses digits). Numbers are written so strtod gives back the
 * same double, so writing and loading is exact. Unknown members are ignored, so later versions can
 * add some. */
#ifndef NEBENKOSTEN_STREAM_BASELINE_H
#define NEBENKOSTEN_STREAM_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/detector.h"
#include "stream/meter.h"

#define STREAM_BASELINE_VERSION 1

/* A meter's detector state as the batch computed it, and where its register stood. */
struct stream_baseline {
    struct stream_detector detector;
    bool has_register;
    int64_t register_reading_ns; /* the batch's last reading of the meter */
    double register_offset;      /* its series' value there minus the raw reading */
};

/* One meter of a file to write; both borrowed. */
struct stream_baseline_entry {
    const char *meter_id;
    const struct stream_baseline *baseline;
};

/* Receives each meter of a loaded file: meter_id and baseline are borrowed for the call. */
typedef void (*stream_baseline_fn)(const char *meter_id, const struct stream_baseline *baseline,
                                   void *argument);

/* Computes the baseline the stream would hold after the days of a meter's consumption series:
 * consumption[i] (>= 0) stamped at midnights[i], in day order, every day after the meter's first
 * (which is 0 by definition); flagged[i] says which days the batch's vote flagged (they enter the
 * window but are not learned; NULL: none). Statistics are exact (two-pass mean and M2, quartile
 * markers from the sorted values), not the online approximations. seasonal_percentages (12, or
 * NULL) and calendar as in struct stream_meter_context. All pointers borrowed. Returns 0, or -1
 * with a message in error when memory runs out. */
int stream_baseline_compute(struct stream_baseline *baseline, const int64_t *midnights,
                            const double *consumption, const bool *flagged, size_t day_count,
                            const double *seasonal_percentages,
                            const struct stream_calendar *calendar, char *error, size_t error_size);

/* Writes entries (count of them, borrowed) to path (borrowed) atomically: a temporary file next to
 * it (path.tmp.PID: runs at once do not share it), fsync, rename over path, fsync of the directory.
 * Returns 0, or -1 with a message naming the file and the failure in error. */
int stream_baseline_write(const char *path, const struct stream_baseline_entry *entries,
                          size_t count, char *error, size_t error_size);

/* Reads the file at path (borrowed) and calls each(meter_id, baseline, argument) per meter, in
 * file order, only after the whole file was found valid. Returns the number of meters, or -1 with
 * a message in error naming the file and what is wrong where (e.g. "meters.wasser.q1.positions").
 */
int stream_baseline_file_load(const char *path, stream_baseline_fn each, void *argument,
                              char *error, size_t error_size);

/* Replaces meter's detector state with baseline's (both borrowed), and the learned spike_rate
 * limit that follows from it. With a register, the meter takes the batch's offset too -- the
 * stream began its register at its own first reading, so after a reset in older history (a
 * meter replaced before the relay ran) its values would differ from the batch's by the old
 * offsets -- when that is sound: the stream has read the batch's last reading and has booked no
 * reset after it. The register, the last midnight's value and the rate checks' anchors move by the
 * difference, so consumption goes on unchanged. Counters and open flags stay. Returns whether the
 * offset changed. */
bool stream_meter_baseline_apply(struct stream_meter *meter,
                                 const struct stream_baseline *baseline);

/* Starts meter, which has seen nothing yet, from baseline (both borrowed), before its first reading
 * (at first_reading_ns) is applied: the detectors and the spike_rate limit, and with a register the
 * batch's offset when the reading comes after the batch's last one (so the stream's midnights
 * continue the batch's series from the first). Returns whether the offset was taken. */
bool stream_meter_baseline_seed(struct stream_meter *meter, const struct stream_baseline *baseline,
                                int64_t first_reading_ns);
#endif
