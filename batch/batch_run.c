/* The steps of one reconcile run: configuration, logger and calendar; the history; the
 * computation; the outputs; the report. Each step logs its own failure once, with what the user
 * can do about it, and the report records it. */
#include "batch/batch_run.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "batch/anomaly_cleanup.h"
#include "batch/history.h"
#include "batch/output_csv.h"
#include "batch/readings.h"
#include "batch/reconcile.h"
#include "batch/run_report.h"
#include "batch/writeback.h"
#include "config/clock.h"
#include "config/log.h"
#include "config/tz.h"
#include "stream/baseline.h"
#include "stream/calendar.h"
#include "stream/meter.h"

#define BATCH_RUN_ERROR_SIZE 1024

struct batch_run {
    const struct batch_run_arguments *arguments;
    struct config *config;
    struct logger *logger;
    struct tz_zone *zone;
    struct stream_calendar calendar;
    enum config_compat compat;
    int64_t today_day;
    struct batch_readings readings;
    struct batch_reconcile_result result;
    bool computed;
    struct batch_run_summary summary;
    char source[4200], destination[4200], baselines[4200];
    char error[BATCH_RUN_ERROR_SIZE];
    char cleanup_error[BATCH_RUN_ERROR_SIZE];
};

static double milliseconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static int run_setup(struct batch_run *run)
{
    run->config = config_load_reporting(run->arguments->config_path, stderr, "meter-batch");
    if (!run->config)
        return -1;
    char error[512];
    run->logger = log_open(&run->config->logging, NULL, error, sizeof error);
    if (!run->logger) {
        fprintf(stderr, "meter-batch: %s\n", error);
        return -1;
    }
    run->compat = run->arguments->compat_override >= 0
                      ? (enum config_compat)run->arguments->compat_override
                      : run->config->analytics.compat;
    run->calendar = stream_calendar_utc();
    const char *zone_name = run->config->analytics.timezone;
    if (run->compat != CONFIG_COMPAT_REFERENCE && zone_name && strcmp(zone_name, "UTC") != 0) {
        run->zone = tz_zone_load(zone_name, error, sizeof error);
        if (!run->zone) {
            snprintf(run->error, sizeof run->error, "analytics.timezone: %s", error);
            log_error(run->logger, "cannot load the time zone", LOG_STRING("error", error));
            return -1;
        }
        run->calendar = stream_calendar_zone(run->zone);
    }
    if (run->arguments->today_given) {
        run->today_day = run->arguments->today_day;
    } else {
        /* Today in the analysis calendar (the reference takes the date of "now"). */
        int64_t now_seconds = (int64_t)time(NULL);
        struct tz_local_time local;
        tz_zone_local_time(run->zone, now_seconds, &local);
        run->today_day = tz_days_from_civil(local.year, local.month, local.day);
    }
    run->summary.compat = run->compat == CONFIG_COMPAT_REFERENCE ? "reference" : "none";
    run->summary.today_day = run->today_day;
    return 0;
}

/* A run date before the analysis period is a clock that is not set (a Raspberry Pi or container
 * without a battery-backed clock before NTP, at 1970 or a saved time) or a mistyped --today: the
 * run would read the history, leave out every reading as dated after its clock and write nothing,
 * yet report success. */
static int run_date_check(struct batch_run *run)
{
    int start_year = run->config->workflows.analytics.start_year;
    if (run->today_day >= tz_days_from_civil(start_year, 1, 1))
        return 0;
    char today[BATCH_TIMESTAMP_SIZE];
    batch_timestamp_format(run->today_day * STREAM_CALENDAR_NS_PER_DAY, today);
    snprintf(run->error, sizeof run->error,
             "the run date %.10s is before workflows.analytics.start_year (%d): %s", today,
             start_year,
             run->arguments->today_given ? "check --today"
                                         : "this machine's clock is not set (wait for NTP)");
    log_error(run->logger, "nothing to reconcile", LOG_STRING("error", run->error));
    return -1;
}

struct misdated_log {
    const struct batch_run *run;
    const char *message;
};

static void misdated_readings_log(const struct batch_meter_readings *meter, size_t count,
                                  int64_t first_ns, void *argument)
{
    const struct misdated_log *log = argument;
    char first[BATCH_TIMESTAMP_SIZE];
    batch_timestamp_format(first_ns, first);
    log_warning(log->run->logger, log->message, LOG_STRING("meter", meter->meter_id),
                LOG_INTEGER("readings", (int64_t)count), LOG_STRING("first", first));
}

/* A reading dated after now is no measurement: the reference's Flux range stops at now(), and
 * InfluxQL has no such bound. The default mode allows the stream's day for clocks ahead, and
 * leaves out what the stream leaves out as dated before the device's clock was set; the
 * reference takes those. */
static void misdated_readings_drop(struct batch_run *run)
{
    int64_t limit_ns = (int64_t)time(NULL) * STREAM_CALENDAR_NS_PER_SECOND;
    if (run->compat != CONFIG_COMPAT_REFERENCE) {
        limit_ns += STREAM_FUTURE_READING_TOLERANCE_NS;
        struct misdated_log early = {run, "readings dated before 2001 are left out (the device's "
                                          "clock was not set, or its times were seconds written "
                                          "without precision); delete them from the raw bucket"};
        run->summary.unset_clock_readings =
            batch_readings_drop(&run->readings, BATCH_READINGS_BEFORE, STREAM_EARLIEST_READING_NS,
                                misdated_readings_log, &early);
    }
    struct misdated_log late = {run, "readings dated after the run's clock are left out (the "
                                     "device's clock was wrong, or this machine's); delete them "
                                     "from the raw bucket"};
    run->summary.future_readings = batch_readings_drop(&run->readings, BATCH_READINGS_AFTER,
                                                       limit_ns, misdated_readings_log, &late);
}

static int history_read(struct batch_run *run)
{
    const char *path = run->arguments->readings_path;
    if (path) {
        snprintf(run->source, sizeof run->source, "csv:%s", path);
        if (batch_readings_read_csv(path, &run->readings, run->error, sizeof run->error) != 0) {
            log_error(run->logger, "cannot read the readings file",
                      LOG_STRING("error", run->error));
            return -1;
        }
    } else {
        const struct config_influxdb *influxdb = &run->config->influxdb;
        snprintf(run->source, sizeof run->source, "influxdb:%s %s", influxdb->url,
                 influxdb->bucket_raw);
        /* The whole history: the reference interpolates from every reading, whatever start_year
         * says (start_year only bounds the series). */
        struct batch_history_counts counts;
        if (batch_history_read(run->config, BATCH_HISTORY_ALL, run->logger, &run->readings, &counts,
                               run->error, sizeof run->error) != 0) {
            log_error(run->logger, "cannot read the history from InfluxDB",
                      LOG_STRING("error", run->error));
            return -1;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < run->readings.meter_count; i++)
        total += run->readings.meters[i].count;
    run->summary.readings = total;
    log_info(run->logger, "history read", LOG_STRING("source", run->source),
             LOG_INTEGER("meters", (int64_t)run->readings.meter_count),
             LOG_INTEGER("readings", (int64_t)total));
    misdated_readings_drop(run);
    return 0;
}

static int compute(struct batch_run *run)
{
    struct batch_reconcile_options options = {
        .compat = run->compat,
        .today_day = run->today_day,
        .calendar = &run->calendar,
        .logger = run->logger,
    };
    if (batch_reconcile_compute(run->config, &run->readings, &options, &run->result) != 0) {
        snprintf(run->error, sizeof run->error, "out of memory computing the series");
        log_error(run->logger, run->error);
        return -1;
    }
    run->computed = true;
    return 0;
}

/* Where the physical meter's series has its register at its last reading: the offset its values
 * carry over the raw readings there (the default mode's resets; 0 in compat reference, which
 * books them as consumption). The stream takes it over when its own offset, counted from its
 * first reading, differs. */
static void register_at_last_reading(const struct batch_run *run,
                                     const struct batch_physical_result *physical,
                                     struct stream_baseline *baseline)
{
    if (run->compat == CONFIG_COMPAT_REFERENCE) {
        baseline->has_register = true;
        baseline->register_reading_ns = physical->last_reading_ns;
        baseline->register_offset = 0;
    } else if (physical->build.register_readings.count > 0) {
        baseline->has_register = true;
        baseline->register_reading_ns = physical->build.register_last_reading_ns;
        baseline->register_offset = physical->build.register_offset;
    }
}

/* The detector baselines of the physical meters, for the stream to re-seed from: their
 * consumption days after the first up to the last reading, the days the vote flagged kept out
 * of the learning. */
static int baselines_write(struct batch_run *run, const char *path)
{
    struct batch_reconcile_result *result = &run->result;
    struct stream_baseline *baselines = calloc(result->physical_count + 1, sizeof *baselines);
    struct stream_baseline_entry *entries = calloc(result->physical_count + 1, sizeof *entries);
    bool *flagged = NULL;
    size_t count = 0;
    int status = -1;
    if (!baselines || !entries) {
        snprintf(run->error, sizeof run->error, "out of memory computing the baselines");
        goto cleanup;
    }
    for (size_t i = 0; i < result->physical_count; i++) {
        const struct batch_series *consumption = &result->consumption[i];
        /* Only the days up to the last reading: the stream has closed exactly those, and closes
         * the extrapolated ones after it itself when the next reading comes; learned here too,
         * they would count twice, with the extrapolation's values. */
        size_t forward = result->physical[i].build.forward_days;
        size_t days = consumption->count > forward ? consumption->count - forward : 0;
        if (days < 2)
            continue;
        const struct batch_anomaly_result *anomaly = NULL;
        for (size_t a = 0; a < result->anomaly_count && !anomaly; a++)
            if (result->anomalies[a].series == consumption)
                anomaly = &result->anomalies[a];
        free(flagged);
        flagged = calloc(consumption->count, sizeof *flagged);
        if (!flagged) {
            snprintf(run->error, sizeof run->error, "out of memory computing the baselines");
            goto cleanup;
        }
        for (size_t f = 0; anomaly && f < anomaly->flag_count; f++)
            flagged[anomaly->flags[f].index] = true;
        const struct config_pattern *pattern =
            config_pattern_find(run->config, consumption->meter_id);
        if (stream_baseline_compute(&baselines[count], consumption->t_ns + 1,
                                    consumption->values + 1, flagged + 1, days - 1,
                                    pattern ? pattern->monthly_percentages : NULL, &run->calendar,
                                    run->error, sizeof run->error) != 0)
            goto cleanup;
        register_at_last_reading(run, &result->physical[i], &baselines[count]);
        entries[count] = (struct stream_baseline_entry){.meter_id = consumption->meter_id,
                                                        .baseline = &baselines[count]};
        count++;
    }
    if (stream_baseline_write(path, entries, count, run->error, sizeof run->error) != 0)
        goto cleanup;
    snprintf(run->baselines, sizeof run->baselines, "%s", path);
    run->summary.baselines_path = run->baselines;
    log_info(run->logger, "detector baselines written for the stream", LOG_STRING("path", path),
             LOG_INTEGER("meters", (int64_t)count));
    status = 0;
cleanup:
    if (status != 0)
        log_error(run->logger, "cannot write the detector baselines",
                  LOG_STRING("error", run->error));
    free(flagged);
    free(baselines);
    free(entries);
    return status;
}

static int outputs_write(struct batch_run *run)
{
    const char *directory = run->arguments->out_directory;
    char path[4200];
    if (directory) {
        snprintf(run->destination, sizeof run->destination, "csv:%s", directory);
        if (batch_output_csv_write(&run->result, directory, run->error, sizeof run->error) != 0) {
            log_error(run->logger, "cannot write the CSV files", LOG_STRING("error", run->error));
            return -1;
        }
        /* Offline runs leave the relay's baselines alone: theirs go beside the CSV files. */
        snprintf(path, sizeof path, "%s/baselines.json", directory);
        return baselines_write(run, path);
    }
    struct batch_writeback_target target;
    batch_writeback_target_choose(run->config, run->arguments->direct, run->logger, &target);
    snprintf(run->destination, sizeof run->destination, "%s:%s %s",
             target.via_relay ? "relay" : "influxdb", target.server.url, target.database);
    struct batch_writeback_counts counts;
    int status = batch_writeback_write(&run->result, &target, run->logger, &counts, run->error,
                                       sizeof run->error);
    run->summary.points_written = counts.points;
    run->summary.requests = counts.requests;
    if (status != 0) {
        log_error(run->logger, "cannot write the processed series", LOG_STRING("error", run->error),
                  LOG_INTEGER("points_written", (int64_t)counts.points));
        return -1;
    }
    /* The relay creates these at its first start; a batch that runs before it creates them. */
    snprintf(path, sizeof path, "%s/stream", run->config->relay.spool.dir);
    if ((mkdir(run->config->relay.spool.dir, 0750) != 0 && errno != EEXIST) ||
        (mkdir(path, 0750) != 0 && errno != EEXIST)) {
        snprintf(run->error, sizeof run->error, "%.900s: cannot create the directory: %s", path,
                 strerror(errno));
        log_error(run->logger, "cannot write the detector baselines",
                  LOG_STRING("error", run->error));
        return -1;
    }
    snprintf(path, sizeof path, "%s/stream/baselines.json", run->config->relay.spool.dir);
    if (baselines_write(run, path) != 0)
        return -1;
    /* The series are written (or spooled by the relay): a failure here leaves stale flags for
     * the next run to delete, a warning, not a failed run. */
    if (batch_anomaly_stale_remove(&run->result, run->config, run->logger,
                                   &run->summary.anomaly_flags_deleted, run->cleanup_error,
                                   sizeof run->cleanup_error) != 0) {
        log_warning(run->logger,
                    "cannot delete the anomaly flags the run no longer raises; the next run will",
                    LOG_STRING("error", run->cleanup_error),
                    LOG_INTEGER("deleted", (int64_t)run->summary.anomaly_flags_deleted));
        run->summary.anomaly_flags_error = run->cleanup_error;
    }
    return 0;
}

static void report_finish(struct batch_run *run, bool succeeded)
{
    run->summary.command = run->arguments->dry_run ? "report" : "reconcile";
    run->summary.status = succeeded ? "succeeded" : "failed";
    run->summary.error = succeeded ? NULL : run->error;
    run->summary.source = run->source[0] ? run->source : NULL;
    run->summary.destination = run->destination[0] ? run->destination : NULL;
    cJSON *report = batch_run_report_build(&run->summary, run->computed ? &run->result : NULL,
                                           &run->readings, run->compat);
    if (!report) {
        log_error(run->logger, "out of memory building the run report");
        return;
    }
    log_event(run->logger, succeeded ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR,
              succeeded ? "reconcile done" : "reconcile failed",
              LOG_STRING("compat", run->summary.compat),
              LOG_INTEGER("meters", (int64_t)(run->computed ? run->result.physical_count : 0)),
              LOG_INTEGER("readings", (int64_t)run->summary.readings),
              LOG_INTEGER("points_written", (int64_t)run->summary.points_written),
              LOG_NUMBER("total_ms", run->summary.total_ms),
              LOG_STRING("error", succeeded ? "" : run->error), LOG_END);
    if (run->arguments->report_to_stdout) {
        char *text = cJSON_Print(report);
        if (text)
            printf("%s\n", text);
        cJSON_free(text);
    }
    const char *path = run->arguments->report_path;
    char error[BATCH_RUN_ERROR_SIZE];
    if (path && batch_run_report_write(report, path, error, sizeof error) != 0)
        log_error(run->logger, "cannot write the run report", LOG_STRING("error", error));
    cJSON_Delete(report);
}

int batch_run_reconcile(const struct batch_run_arguments *arguments)
{
    struct batch_run run = {.arguments = arguments};
    struct timespec start, step;
    clock_gettime(CLOCK_MONOTONIC, &start);
    bool succeeded = false;
    if (run_setup(&run) != 0)
        goto cleanup;
    step = start;
    if (run_date_check(&run) != 0 || history_read(&run) != 0)
        goto report;
    run.summary.read_ms = milliseconds_since(&step);
    clock_gettime(CLOCK_MONOTONIC, &step);
    if (compute(&run) != 0)
        goto report;
    run.summary.compute_ms = milliseconds_since(&step);
    clock_gettime(CLOCK_MONOTONIC, &step);
    if (!arguments->dry_run && outputs_write(&run) != 0)
        goto report;
    run.summary.write_ms = milliseconds_since(&step);
    succeeded = true;
report:
    run.summary.total_ms = milliseconds_since(&start);
    report_finish(&run, succeeded);
cleanup:
    if (run.computed)
        batch_reconcile_result_free(&run.result);
    batch_readings_free(&run.readings);
    tz_zone_free(run.zone);
    log_close(run.logger);
    config_free(run.config);
    return succeeded ? 0 : 1;
}
