/* Counters, histograms and their Prometheus text rendering for GET /metrics. */
#include "relay/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jemalloc is linked into the release binaries only (not into unit tests, which run under
 * valgrind, nor into sanitizer builds), so its control interface is a weak reference: NULL where
 * jemalloc is absent. */
extern int mallctl(const char *name, void *old_value, size_t *old_length, void *new_value,
                   size_t new_length) __attribute__((weak));

#define METRICS_CODE_MIN 100
#define METRICS_CODE_COUNT 500

/* The label values of route; a fixed set so arbitrary paths cannot grow the output. */
static const char *const metrics_routes[] = {
    "/write", "/api/v2/write", "/query", "/metrics", "/ping", "/health", "/ready", "other",
};
#define METRICS_ROUTE_COUNT (sizeof metrics_routes / sizeof metrics_routes[0])

/* Seconds of one commit's fdatasync: local disks take ~0.1-10 ms, a struggling one up to 1 s. */
static const double metrics_fsync_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05,   0.1,   0.25,   0.5,   1};
/* Records per commit: 1 without concurrency, larger when group commit batches writers. */
static const double metrics_commit_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};

struct metrics {
    uint64_t requests[METRICS_ROUTE_COUNT][METRICS_CODE_COUNT];
    uint64_t lines_accepted;
    uint64_t lines_rejected;
    struct metrics_histogram fsync;
    struct metrics_histogram commit;
    uint64_t recovery_truncated_bytes;
    double recovery_seconds;
};

void metrics_histogram_init(struct metrics_histogram *histogram, const double *bounds,
                            size_t bound_count)
{
    memset(histogram, 0, sizeof *histogram);
    histogram->bounds = bounds;
    histogram->bound_count =
        bound_count < METRICS_HISTOGRAM_BOUNDS_MAX ? bound_count : METRICS_HISTOGRAM_BOUNDS_MAX;
}

void metrics_histogram_observe(struct metrics_histogram *histogram, double value)
{
    size_t index = 0;
    while (index < histogram->bound_count && value > histogram->bounds[index])
        index++;
    if (index < histogram->bound_count)
        histogram->counts[index]++;
    else
        histogram->overflow++;
    histogram->sum += value;
    histogram->count++;
}

uint64_t metrics_histogram_cumulative(const struct metrics_histogram *histogram, size_t index)
{
    if (index >= histogram->bound_count)
        return histogram->count;
    uint64_t total = 0;
    for (size_t i = 0; i <= index; i++)
        total += histogram->counts[i];
    return total;
}

struct metrics *metrics_create(void)
{
    struct metrics *metrics = calloc(1, sizeof *metrics);
    if (!metrics)
        return NULL;
    metrics_histogram_init(&metrics->fsync, metrics_fsync_bounds,
                           sizeof metrics_fsync_bounds / sizeof metrics_fsync_bounds[0]);
    metrics_histogram_init(&metrics->commit, metrics_commit_bounds,
                           sizeof metrics_commit_bounds / sizeof metrics_commit_bounds[0]);
    return metrics;
}

void metrics_destroy(struct metrics *metrics)
{
    free(metrics);
}

void metrics_request_count(struct metrics *metrics, const char *path, size_t path_length, int code)
{
    if (code < METRICS_CODE_MIN || code >= METRICS_CODE_MIN + METRICS_CODE_COUNT)
        return;
    size_t route = METRICS_ROUTE_COUNT - 1;
    for (size_t i = 0; i + 1 < METRICS_ROUTE_COUNT; i++) {
        size_t length = strlen(metrics_routes[i]);
        if (length == path_length && memcmp(path, metrics_routes[i], length) == 0) {
            route = i;
            break;
        }
    }
    metrics->requests[route][code - METRICS_CODE_MIN]++;
}

void metrics_lines_count(struct metrics *metrics, uint64_t accepted, uint64_t rejected)
{
    metrics->lines_accepted += accepted;
    metrics->lines_rejected += rejected;
}

void metrics_commit_observe(struct metrics *metrics, double seconds, uint64_t records)
{
    metrics_histogram_observe(&metrics->fsync, seconds);
    metrics_histogram_observe(&metrics->commit, (double)records);
}

void metrics_recovery_set(struct metrics *metrics, uint64_t truncated_bytes, double seconds)
{
    metrics->recovery_truncated_bytes = truncated_bytes;
    metrics->recovery_seconds = seconds;
}

const struct metrics_histogram *metrics_fsync_histogram(const struct metrics *metrics)
{
    return &metrics->fsync;
}

const struct metrics_histogram *metrics_commit_histogram(const struct metrics *metrics)
{
    return &metrics->commit;
}

void metrics_allocator_read(struct metrics_snapshot *snapshot)
{
    snapshot->has_allocator = false;
    if (!mallctl)
        return;
    /* jemalloc caches its statistics; bumping the epoch refreshes them. */
    uint64_t epoch = 1;
    size_t size = sizeof epoch;
    if (mallctl("epoch", &epoch, &size, &epoch, size) != 0)
        return;
    size_t allocated = 0;
    size_t resident = 0;
    size = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &size, NULL, 0) != 0)
        return;
    size = sizeof resident;
    if (mallctl("stats.resident", &resident, &size, NULL, 0) != 0)
        return;
    snapshot->has_allocator = true;
    snapshot->allocated_bytes = allocated;
    snapshot->resident_bytes = resident;
}

static void metrics_header_write(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_gauge_write(FILE *out, const char *name, const char *type, const char *help,
                                uint64_t value)
{
    metrics_header_write(out, name, type, help);
    fprintf(out, "%s %" PRIu64 "\n", name, value);
}

static void metrics_histogram_write(FILE *out, const char *name, const char *help,
                                    const struct metrics_histogram *histogram)
{
    metrics_header_write(out, name, "histogram", help);
    for (size_t i = 0; i < histogram->bound_count; i++)
        fprintf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, histogram->bounds[i],
                metrics_histogram_cumulative(histogram, i));
    fprintf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, histogram->count);
    fprintf(out, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, histogram->sum, name,
            histogram->count);
}

static void metrics_requests_write(FILE *out, const struct metrics *metrics)
{
    metrics_header_write(out, "nebenkosten_http_requests_total", "counter",
                         "HTTP requests answered, by route and status code.");
    for (size_t route = 0; route < METRICS_ROUTE_COUNT; route++)
        for (int code = 0; code < METRICS_CODE_COUNT; code++)
            if (metrics->requests[route][code] > 0)
                fprintf(
                    out, "nebenkosten_http_requests_total{route=\"%s\",code=\"%d\"} %" PRIu64 "\n",
                    metrics_routes[route], code + METRICS_CODE_MIN, metrics->requests[route][code]);
}

char *metrics_render(const struct metrics *metrics, const struct metrics_snapshot *snapshot,
                     size_t *length)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    metrics_requests_write(out, metrics);
    metrics_gauge_write(out, "nebenkosten_lines_accepted_total", "counter",
                        "Lines stored in the spool.", metrics->lines_accepted);
    metrics_gauge_write(out, "nebenkosten_lines_rejected_total", "counter",
                        "Lines rejected as invalid (in partial and refused writes).",
                        metrics->lines_rejected);
    metrics_gauge_write(out, "nebenkosten_spool_bytes", "gauge", "Bytes of all spool segments.",
                        snapshot->spool_bytes);
    metrics_gauge_write(out, "nebenkosten_spool_segments", "gauge",
                        "Spool segment files, the pre-created one included.",
                        snapshot->spool_segments);
    metrics_gauge_write(out, "nebenkosten_spool_committed_sequence", "gauge",
                        "Highest committed spool record sequence number.",
                        snapshot->spool_committed_sequence);
    metrics_gauge_write(out, "nebenkosten_spool_read_only", "gauge",
                        "1 while the spool refuses writes because the disk is full.",
                        snapshot->spool_read_only ? 1 : 0);
    metrics_header_write(out, "nebenkosten_spool_sync_mode", "gauge",
                         "The configured spool sync mode (the labelled one is 1).");
    fprintf(out, "nebenkosten_spool_sync_mode{mode=\"%s\"} 1\n",
            snapshot->sync_mode ? snapshot->sync_mode : "unknown");
    /* The names Prometheus uses for its own reloads, so existing alert rules fit. */
    metrics_gauge_write(out, "nebenkosten_config_last_reload_successful", "gauge",
                        "0 while the last SIGHUP reload failed (the previous configuration runs).",
                        snapshot->config_reload_failed ? 0 : 1);
    metrics_header_write(out, "nebenkosten_config_last_reload_success_timestamp_seconds", "gauge",
                         "When the running configuration was loaded (start or reload), Unix time.");
    fprintf(out, "nebenkosten_config_last_reload_success_timestamp_seconds %.3f\n",
            (double)snapshot->config_loaded_ns / 1e9);
    metrics_histogram_write(out, "nebenkosten_spool_fsync_seconds",
                            "Duration of spool commits including their fdatasync.",
                            &metrics->fsync);
    metrics_histogram_write(out, "nebenkosten_spool_commit_records", "Records per spool commit.",
                            &metrics->commit);
    metrics_gauge_write(out, "nebenkosten_recovery_truncated_bytes", "gauge",
                        "Bytes recovery truncated from torn spool segments at start.",
                        metrics->recovery_truncated_bytes);
    metrics_header_write(out, "nebenkosten_recovery_seconds", "gauge",
                         "Duration of spool recovery at start.");
    fprintf(out, "nebenkosten_recovery_seconds %.9g\n", metrics->recovery_seconds);
    if (snapshot->has_allocator) {
        metrics_gauge_write(out, "nebenkosten_jemalloc_allocated_bytes", "gauge",
                            "Bytes allocated by the application (jemalloc stats.allocated).",
                            snapshot->allocated_bytes);
        metrics_gauge_write(out, "nebenkosten_jemalloc_resident_bytes", "gauge",
                            "Bytes in physically resident allocator pages (stats.resident).",
                            snapshot->resident_bytes);
    }
    /* open_memstream reports allocation failures only through the stream's error state. */
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        free(text);
        return NULL;
    }
    *length = size;
    return text;
}
