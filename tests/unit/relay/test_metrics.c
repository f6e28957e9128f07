/* The /metrics counters: histogram buckets, route mapping, and the exact Prometheus text. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "relay/metrics.h"

static const double test_bounds[] = {0.5, 1, 2};

Test(metrics_histogram, buckets_are_inclusive_and_cumulative)
{
    struct metrics_histogram histogram;
    metrics_histogram_init(&histogram, test_bounds, 3);
    metrics_histogram_observe(&histogram, 0.25);
    metrics_histogram_observe(&histogram, 0.5); /* on the bound: counts as <= 0.5 */
    metrics_histogram_observe(&histogram, 1.5);
    metrics_histogram_observe(&histogram, 8);
    cr_assert_eq(metrics_histogram_cumulative(&histogram, 0), 2);
    cr_assert_eq(metrics_histogram_cumulative(&histogram, 1), 2);
    cr_assert_eq(metrics_histogram_cumulative(&histogram, 2), 3);
    cr_assert_eq(metrics_histogram_cumulative(&histogram, 3), 4);
    cr_assert_eq(histogram.overflow, 1);
    cr_assert_eq(histogram.count, 4);
    cr_assert_float_eq(histogram.sum, 10.25, 1e-12);
}

Test(metrics_histogram, too_many_bounds_are_cut)
{
    double bounds[METRICS_HISTOGRAM_BOUNDS_MAX + 4];
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
        bounds[i] = (double)i;
    struct metrics_histogram histogram;
    metrics_histogram_init(&histogram, bounds, sizeof bounds / sizeof bounds[0]);
    cr_assert_eq(histogram.bound_count, METRICS_HISTOGRAM_BOUNDS_MAX);
    metrics_histogram_observe(&histogram, 100);
    cr_assert_eq(histogram.overflow, 1);
    cr_assert_eq(metrics_histogram_cumulative(&histogram, METRICS_HISTOGRAM_BOUNDS_MAX - 1), 0);
}

Test(metrics_commit, fsync_and_records_histograms)
{
    struct metrics *metrics = metrics_create();
    cr_assert_not_null(metrics);
    metrics_commit_observe(metrics, 0.0002, 1);
    metrics_commit_observe(metrics, 0.003, 7);
    const struct metrics_histogram *fsync = metrics_fsync_histogram(metrics);
    const struct metrics_histogram *commit = metrics_commit_histogram(metrics);
    cr_assert_eq(fsync->bound_count, 11);
    cr_assert_float_eq(fsync->bounds[0], 0.0005, 1e-15);
    cr_assert_float_eq(fsync->bounds[10], 1.0, 1e-15);
    cr_assert_eq(metrics_histogram_cumulative(fsync, 0), 1);  /* <= 0.0005 */
    cr_assert_eq(metrics_histogram_cumulative(fsync, 2), 1);  /* <= 0.0025 */
    cr_assert_eq(metrics_histogram_cumulative(fsync, 3), 2);  /* <= 0.005 */
    cr_assert_eq(metrics_histogram_cumulative(commit, 0), 1); /* <= 1 record */
    cr_assert_eq(metrics_histogram_cumulative(commit, 2), 1); /* <= 5 */
    cr_assert_eq(metrics_histogram_cumulative(commit, 3), 2); /* <= 10 */
    cr_assert_float_eq(commit->sum, 8.0, 1e-12);
    metrics_destroy(metrics);
}

static char *test_render(const struct metrics *metrics, const struct metrics_snapshot *snapshot)
{
    size_t length = 0;
    char *text = metrics_render(metrics, snapshot, &length);
    cr_assert_not_null(text);
    cr_assert_eq(length, strlen(text));
    return text;
}

Test(metrics_render, exact_text_of_a_small_state)
{
    struct metrics *metrics = metrics_create();
    cr_assert_not_null(metrics);
    metrics_request_count(metrics, "/write", 6, 204);
    metrics_request_count(metrics, "/write", 6, 204);
    metrics_request_count(metrics, "/write", 6, 400);
    metrics_request_count(metrics, "/query", 6, 200);
    metrics_request_count(metrics, "/nope", 5, 404);
    metrics_request_count(metrics, "/writex", 7, 404); /* prefix of a route is not the route */
    metrics_request_count(metrics, "/ping", 5, 0);     /* no answer code: not counted */
    metrics_lines_count(metrics, 5, 1);
    metrics_commit_observe(metrics, 0.0625, 3);
    metrics_recovery_set(metrics, 17, 0.25);
    struct metrics_snapshot snapshot = {.spool_bytes = 4096,
                                        .spool_segments = 2,
                                        .spool_committed_sequence = 9,
                                        .spool_read_only = true,
                                        .sync_mode = "always",
                                        .config_reload_failed = true,
                                        .config_loaded_ns = INT64_C(1700000000250000000)};
    char *text = test_render(metrics, &snapshot);
    const char *expected =
        "# HELP nebenkosten_http_requests_total HTTP requests answered, by route and status "
        "code.\n"
        "# TYPE nebenkosten_http_requests_total counter\n"
        "nebenkosten_http_requests_total{route=\"/write\",code=\"204\"} 2\n"
        "nebenkosten_http_requests_total{route=\"/write\",code=\"400\"} 1\n"
        "nebenkosten_http_requests_total{route=\"/query\",code=\"200\"} 1\n"
        "nebenkosten_http_requests_total{route=\"other\",code=\"404\"} 2\n"
        "# HELP nebenkosten_lines_accepted_total Lines stored in the spool.\n"
        "# TYPE nebenkosten_lines_accepted_total counter\n"
        "nebenkosten_lines_accepted_total 5\n"
        "# HELP nebenkosten_lines_rejected_total Lines rejected as invalid (in partial and refused "
        "writes).\n"
        "# TYPE nebenkosten_lines_rejected_total counter\n"
        "nebenkosten_lines_rejected_total 1\n"
        "# HELP nebenkosten_spool_bytes Bytes of all spool segments.\n"
        "# TYPE nebenkosten_spool_bytes gauge\n"
        "nebenkosten_spool_bytes 4096\n"
        "# HELP nebenkosten_spool_segments Spool segment files, the pre-created one included.\n"
        "# TYPE nebenkosten_spool_segments gauge\n"
        "nebenkosten_spool_segments 2\n"
        "# HELP nebenkosten_spool_committed_sequence Highest committed spool record sequence "
        "number.\n"
        "# TYPE nebenkosten_spool_committed_sequence gauge\n"
        "nebenkosten_spool_committed_sequence 9\n"
        "# HELP nebenkosten_spool_read_only 1 while the spool refuses writes because the disk is "
        "full.\n"
        "# TYPE nebenkosten_spool_read_only gauge\n"
        "nebenkosten_spool_read_only 1\n"
        "# HELP nebenkosten_spool_sync_mode The configured spool sync mode (the labelled one is "
        "1).\n"
        "# TYPE nebenkosten_spool_sync_mode gauge\n"
        "nebenkosten_spool_sync_mode{mode=\"always\"} 1\n"
        "# HELP nebenkosten_config_last_reload_successful 0 while the last SIGHUP reload failed "
        "(the previous configuration runs).\n"
        "# TYPE nebenkosten_config_last_reload_successful gauge\n"
        "nebenkosten_config_last_reload_successful 0\n"
        "# HELP nebenkosten_config_last_reload_success_timestamp_seconds When the running "
        "configuration was loaded (start or reload), Unix time.\n"
        "# TYPE nebenkosten_config_last_reload_success_timestamp_seconds gauge\n"
        "nebenkosten_config_last_reload_success_timestamp_seconds 1700000000.250\n"
        "# HELP nebenkosten_spool_fsync_seconds Duration of spool commits including their "
        "fdatasync.\n"
        "# TYPE nebenkosten_spool_fsync_seconds histogram\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.0005\"} 0\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.001\"} 0\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.0025\"} 0\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.005\"} 0\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.01\"} 0\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.025\"} 0\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.05\"} 0\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.1\"} 1\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.25\"} 1\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"0.5\"} 1\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"1\"} 1\n"
        "nebenkosten_spool_fsync_seconds_bucket{le=\"+Inf\"} 1\n"
        "nebenkosten_spool_fsync_seconds_sum 0.0625\n"
        "nebenkosten_spool_fsync_seconds_count 1\n"
        "# HELP nebenkosten_spool_commit_records Records per spool commit.\n"
        "# TYPE nebenkosten_spool_commit_records histogram\n"
        "nebenkosten_spool_commit_records_bucket{le=\"1\"} 0\n"
        "nebenkosten_spool_commit_records_bucket{le=\"2\"} 0\n"
        "nebenkosten_spool_commit_records_bucket{le=\"5\"} 1\n"
        "nebenkosten_spool_commit_records_bucket{le=\"10\"} 1\n"
        "nebenkosten_spool_commit_records_bucket{le=\"20\"} 1\n"
        "nebenkosten_spool_commit_records_bucket{le=\"50\"} 1\n"
        "nebenkosten_spool_commit_records_bucket{le=\"100\"} 1\n"
        "nebenkosten_spool_commit_records_bucket{le=\"200\"} 1\n"
        "nebenkosten_spool_commit_records_bucket{le=\"500\"} 1\n"
        "nebenkosten_spool_commit_records_bucket{le=\"1000\"} 1\n"
        "nebenkosten_spool_commit_records_bucket{le=\"+Inf\"} 1\n"
        "nebenkosten_spool_commit_records_sum 3\n"
        "nebenkosten_spool_commit_records_count 1\n"
        "# HELP nebenkosten_recovery_truncated_bytes Bytes recovery truncated from torn spool "
        "segments at start.\n"
        "# TYPE nebenkosten_recovery_truncated_bytes gauge\n"
        "nebenkosten_recovery_truncated_bytes 17\n"
        "# HELP nebenkosten_recovery_seconds Duration of spool recovery at start.\n"
        "# TYPE nebenkosten_recovery_seconds gauge\n"
        "nebenkosten_recovery_seconds 0.25\n";
    cr_assert_str_eq(text, expected);
    free(text);
    metrics_destroy(metrics);
}

Test(metrics_render, allocator_figures_only_when_present)
{
    struct metrics *metrics = metrics_create();
    cr_assert_not_null(metrics);
    struct metrics_snapshot snapshot = {.sync_mode = "interval"};
    char *text = test_render(metrics, &snapshot);
    cr_assert_null(strstr(text, "jemalloc"));
    cr_assert_not_null(strstr(text, "nebenkosten_spool_sync_mode{mode=\"interval\"} 1\n"));
    cr_assert_not_null(strstr(text, "nebenkosten_spool_read_only 0\n"));
    free(text);
    snapshot.has_allocator = true;
    snapshot.allocated_bytes = 123456;
    snapshot.resident_bytes = 654321;
    text = test_render(metrics, &snapshot);
    cr_assert_not_null(strstr(text, "# TYPE nebenkosten_jemalloc_allocated_bytes gauge\n"
                                    "nebenkosten_jemalloc_allocated_bytes 123456\n"));
    cr_assert_not_null(strstr(text, "# TYPE nebenkosten_jemalloc_resident_bytes gauge\n"
                                    "nebenkosten_jemalloc_resident_bytes 654321\n"));
    free(text);
    metrics_destroy(metrics);
}

Test(metrics_render, no_requests_no_sample_lines)
{
    struct metrics *metrics = metrics_create();
    cr_assert_not_null(metrics);
    struct metrics_snapshot snapshot = {.sync_mode = "none"};
    char *text = test_render(metrics, &snapshot);
    cr_assert_null(strstr(text, "nebenkosten_http_requests_total{"));
    cr_assert_not_null(strstr(text, "nebenkosten_spool_fsync_seconds_count 0\n"));
    free(text);
    metrics_destroy(metrics);
}
