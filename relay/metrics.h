/* The counters and histograms behind GET /metrics (spec/wire.md), rendered as Prometheus text
 * format 0.0.4. Owned by the relay; single-threaded like the rest of the daemon. */
#ifndef NEBENKOSTEN_RELAY_METRICS_H
#define NEBENKOSTEN_RELAY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enough for the fsync latency and commit size buckets; fixed so observing never allocates. */
#define METRICS_HISTOGRAM_BOUNDS_MAX 16

/* Cumulative histogram: counts[i] are observations <= bounds[i] (not yet cumulative; rendering
 * accumulates), overflow the ones above the last bound. */
struct metrics_histogram {
    const double *bounds; /* borrowed, ascending, static storage */
    size_t bound_count;
    uint64_t counts[METRICS_HISTOGRAM_BOUNDS_MAX];
    uint64_t overflow;
    double sum;
    uint64_t count;
};

/* Sets up histogram with bounds (borrowed, must outlive it; at most METRICS_HISTOGRAM_BOUNDS_MAX,
 * extra ones are ignored) and no observations. */
void metrics_histogram_init(struct metrics_histogram *histogram, const double *bounds,
                            size_t bound_count);
void metrics_histogram_observe(struct metrics_histogram *histogram, double value);
/* Observations <= bounds[index] (cumulative, as Prometheus wants); index == bound_count gives
 * the total (+Inf). */
uint64_t metrics_histogram_cumulative(const struct metrics_histogram *histogram, size_t index);

/* Values read from elsewhere at rendering time (the spool, the allocator). */
struct metrics_snapshot {
    uint64_t spool_bytes;
    uint64_t spool_segments;
    uint64_t spool_committed_sequence;
    bool spool_read_only;
    const char *sync_mode;     /* borrowed: "always", "interval" or "none" */
    bool config_reload_failed; /* the last SIGHUP reload failed: the previous file runs on */
    int64_t config_loaded_ns;  /* wall clock of the start or the last successful reload */
    bool has_allocator;        /* jemalloc figures below are valid */
    uint64_t allocated_bytes;
    uint64_t resident_bytes;
};

struct metrics;

/* Returns an owned, zeroed metrics (free with metrics_destroy) or NULL when out of memory. */
struct metrics *metrics_create(void);
/* Frees metrics (owned; NULL is fine). */
void metrics_destroy(struct metrics *metrics);

/* Counts one answered request. path (borrowed, path_length bytes, base path already stripped) is
 * mapped onto the known routes; unknown paths count as route "other", so clients cannot grow the
 * label set. Codes outside 100..599 are ignored. */
void metrics_request_count(struct metrics *metrics, const char *path, size_t path_length, int code);
/* Lines of accepted writes: stored ones and dropped ones of partial writes. */
void metrics_lines_count(struct metrics *metrics, uint64_t accepted, uint64_t rejected);
/* One spool commit: how long it took and how many records it made visible. */
void metrics_commit_observe(struct metrics *metrics, double seconds, uint64_t records);
/* What recovery at spool_open found. */
void metrics_recovery_set(struct metrics *metrics, uint64_t truncated_bytes, double seconds);

/* Read-only views for tests and rendering; borrowed from metrics. */
const struct metrics_histogram *metrics_fsync_histogram(const struct metrics *metrics);
const struct metrics_histogram *metrics_commit_histogram(const struct metrics *metrics);

/* Fills the jemalloc fields of snapshot when the build uses jemalloc (has_allocator false
 * otherwise). snapshot borrowed. */
void metrics_allocator_read(struct metrics_snapshot *snapshot);

/* Renders every metric with # HELP and # TYPE. metrics and snapshot borrowed. Returns an owned
 * NUL-terminated text (free()) with its length in *length, or NULL when out of memory. */
char *metrics_render(const struct metrics *metrics, const struct metrics_snapshot *snapshot,
                     size_t *length);

#endif
