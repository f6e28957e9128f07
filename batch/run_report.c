/* The run report as JSON (cJSON). */
#include "batch/run_report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "batch/quality.h"
#include "config/tz.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

static void date_format(int64_t day, char *out, size_t size)
{
    int year, month, date;
    tz_civil_from_days(day, &year, &month, &date);
    snprintf(out, size, "%04d-%02d-%02d", year, month, date);
}

/* Adds a number, or null when it is not finite (JSON has no NaN). */
static void number_add(cJSON *object, const char *name, double value)
{
    if (isfinite(value))
        cJSON_AddNumberToObject(object, name, value);
    else
        cJSON_AddNullToObject(object, name);
}

static void time_add(cJSON *object, const char *name, int64_t t_ns)
{
    char text[BATCH_TIMESTAMP_SIZE];
    batch_timestamp_format(t_ns, text);
    cJSON_AddStringToObject(object, name, text);
}

static void rate_add(cJSON *object, const char *name, bool estimated,
                     const struct batch_rate_estimate *rate)
{
    if (!estimated)
        return;
    cJSON *item = cJSON_AddObjectToObject(object, name);
    cJSON_AddStringToObject(item, "method", rate->method_text);
    number_add(item, "rate_per_day", rate->rate);
    number_add(item, "r2", rate->r2);
    cJSON_AddNumberToObject(item, "readings", (double)rate->count);
}

static const struct batch_anomaly_result *anomaly_find(const struct batch_reconcile_result *result,
                                                       const struct batch_series *series)
{
    for (size_t i = 0; i < result->anomaly_count; i++)
        if (result->anomalies[i].series == series)
            return &result->anomalies[i];
    return NULL;
}

static void anomalies_add(cJSON *object, const struct batch_anomaly_result *anomaly)
{
    if (!anomaly) {
        cJSON_AddStringToObject(object, "anomaly_status", "no consumption");
        return;
    }
    cJSON_AddStringToObject(object, "anomaly_status",
                            batch_anomaly_status_name(anomaly->summary.status));
    cJSON_AddNumberToObject(object, "anomalies", (double)anomaly->summary.anomaly_count);
}

/* The consumption of result's index-th physical or master meter: they are in that order (a
 * master whose id also has readings of its own has a physical entry of that id too, so the id
 * alone would find the physical entry's empty series). */
static const struct batch_series *consumption_of(const struct batch_reconcile_result *result,
                                                 size_t index)
{
    return index < result->consumption_count ? &result->consumption[index] : NULL;
}

static void physical_add(cJSON *meters, const struct batch_reconcile_result *result, size_t index,
                         const struct batch_readings *readings, enum config_compat compat,
                         size_t *validation_failures)
{
    const struct batch_physical_result *physical = &result->physical[index];
    cJSON *meter = cJSON_CreateObject();
    cJSON_AddItemToArray(meters, meter);
    cJSON_AddStringToObject(meter, "meter_id", physical->meter_id);
    cJSON_AddStringToObject(meter, "type", "physical");
    cJSON_AddStringToObject(meter, "status", physical->build.status);
    cJSON_AddBoolToObject(meter, "configured", physical->config != NULL);
    cJSON_AddNumberToObject(meter, "readings", (double)physical->reading_count);
    cJSON_AddNumberToObject(meter, "readings_used", (double)physical->build.readings_used);
    time_add(meter, "first_reading", physical->first_reading_ns);
    time_add(meter, "last_reading", physical->last_reading_ns);
    cJSON_AddNumberToObject(meter, "days", (double)physical->daily.count);
    if (physical->daily.count > 0) {
        time_add(meter, "first_day", physical->daily.t_ns[0]);
        time_add(meter, "last_day", physical->daily.t_ns[physical->daily.count - 1]);
    }
    cJSON_AddNumberToObject(meter, "extrapolated_backward_days",
                            (double)physical->build.backward_days);
    cJSON_AddNumberToObject(meter, "extrapolated_forward_days",
                            (double)physical->build.forward_days);
    rate_add(meter, "rate_backward", physical->build.backward_estimated,
             &physical->build.backward_rate);
    rate_add(meter, "rate_forward", physical->build.forward_estimated,
             &physical->build.forward_rate);
    cJSON_AddBoolToObject(meter, "seasonal_forward", physical->build.seasonal_forward);
    if (compat != CONFIG_COMPAT_REFERENCE) {
        cJSON_AddNumberToObject(meter, "seasonal_gaps", (double)physical->build.seasonal_gap_count);
        cJSON_AddNumberToObject(meter, "glitches", (double)physical->build.glitch_count);
        cJSON_AddNumberToObject(meter, "resets", (double)physical->build.reset_count);
        cJSON_AddNumberToObject(meter, "replacements", (double)physical->build.replacement_count);
        cJSON_AddNumberToObject(meter, "dips", (double)physical->build.dip_count);
    }
    const struct batch_series *consumption = consumption_of(result, index);
    anomalies_add(meter, consumption ? anomaly_find(result, consumption) : NULL);

    const struct batch_meter_readings *raw =
        readings ? batch_readings_find(readings, physical->meter_id) : NULL;
    struct batch_validation validation;
    batch_validation_compute(physical, raw, compat, result->start_day, &validation);
    cJSON *checked = cJSON_AddObjectToObject(meter, "validation");
    cJSON_AddBoolToObject(checked, "passed", validation.passed);
    cJSON_AddNumberToObject(checked, "readings_checked", (double)validation.checked);
    cJSON_AddNumberToObject(checked, "mismatches", (double)validation.mismatches);
    number_add(checked, "max_deviation", validation.max_deviation);
    number_add(checked, "mean_deviation", validation.mean_deviation);
    if (physical->daily.count > 0 && !validation.passed)
        (*validation_failures)++;

    struct batch_quality quality;
    batch_quality_compute(physical, raw, compat, result->start_day, result->end_day, &quality);
    cJSON *report = cJSON_AddObjectToObject(meter, "quality");
    cJSON_AddNumberToObject(report, "total_days", (double)quality.total_days);
    cJSON_AddNumberToObject(report, "readings", (double)quality.reading_count);
    number_add(report, "largest_gap_days", quality.largest_gap_days);
    number_add(report, "mean_gap_days", quality.mean_gap_days);
    cJSON_AddNumberToObject(report, "backward_days", (double)quality.backward_days);
    cJSON_AddNumberToObject(report, "forward_days", (double)quality.forward_days);
    number_add(report, "coverage_percent", quality.coverage_percent);
}

static void composite_add(cJSON *meters, const struct batch_reconcile_result *result,
                          const char *meter_id, const char *type, const struct batch_series *daily,
                          const struct batch_series *monthly,
                          const struct batch_series *consumption)
{
    cJSON *meter = cJSON_CreateObject();
    cJSON_AddItemToArray(meters, meter);
    cJSON_AddStringToObject(meter, "meter_id", meter_id);
    cJSON_AddStringToObject(meter, "type", type);
    const struct batch_series *days = daily ? daily : consumption;
    cJSON_AddStringToObject(meter, "status", days && days->count > 0 ? "ok" : "no data");
    cJSON_AddNumberToObject(meter, "days", days ? (double)days->count : 0.0);
    if (monthly)
        cJSON_AddNumberToObject(meter, "months", (double)monthly->count);
    anomalies_add(meter, consumption ? anomaly_find(result, consumption) : NULL);
}

struct cJSON *batch_run_report_build(const struct batch_run_summary *summary,
                                     const struct batch_reconcile_result *result,
                                     const struct batch_readings *readings,
                                     enum config_compat compat)
{
    cJSON *report = cJSON_CreateObject();
    if (!report)
        return NULL;
    char date[16];
    cJSON_AddStringToObject(report, "command", summary->command ? summary->command : "reconcile");
    cJSON_AddStringToObject(report, "status", summary->status);
    if (summary->error)
        cJSON_AddStringToObject(report, "error", summary->error);
    cJSON_AddStringToObject(report, "compat", summary->compat);
    date_format(summary->today_day, date, sizeof date);
    cJSON_AddStringToObject(report, "today", date);
    if (summary->source)
        cJSON_AddStringToObject(report, "source", summary->source);
    if (summary->destination)
        cJSON_AddStringToObject(report, "destination", summary->destination);
    if (summary->baselines_path)
        cJSON_AddStringToObject(report, "baselines", summary->baselines_path);
    cJSON *totals = cJSON_AddObjectToObject(report, "totals");
    cJSON_AddNumberToObject(totals, "readings", (double)summary->readings);
    cJSON_AddNumberToObject(totals, "future_readings_left_out", (double)summary->future_readings);
    cJSON_AddNumberToObject(totals, "unset_clock_readings_left_out",
                            (double)summary->unset_clock_readings);
    cJSON *meters = cJSON_AddArrayToObject(report, "meters");
    if (result) {
        date_format(result->start_day, date, sizeof date);
        cJSON_AddStringToObject(report, "period_start", date);
        size_t daily = 0, monthly = 0, consumption = 0, virtual_points = 0, anomalies = 0;
        size_t validation_failures = 0;
        for (size_t i = 0; i < result->physical_count; i++) {
            physical_add(meters, result, i, readings, compat, &validation_failures);
            daily += result->physical[i].daily.count;
            monthly += result->physical[i].monthly.count;
        }
        for (size_t i = 0; i < result->master_count; i++) {
            const struct batch_master_result *master = &result->masters[i];
            composite_add(meters, result, master->config->meter_id, "master", &master->daily,
                          &master->monthly, consumption_of(result, result->physical_count + i));
            daily += master->daily.count;
            monthly += master->monthly.count;
        }
        for (size_t i = 0; i < result->virtual_count; i++) {
            composite_add(meters, result, result->virtuals[i].meter_id, "virtual", NULL, NULL,
                          &result->virtuals[i]);
            virtual_points += result->virtuals[i].count;
        }
        for (size_t i = 0; i < result->consumption_count; i++)
            consumption += result->consumption[i].count;
        for (size_t i = 0; i < result->anomaly_count; i++)
            anomalies += result->anomalies[i].summary.anomaly_count;
        cJSON_AddNumberToObject(totals, "physical_meters", (double)result->physical_count);
        cJSON_AddNumberToObject(totals, "master_meters", (double)result->master_count);
        cJSON_AddNumberToObject(totals, "virtual_meters", (double)result->virtual_count);
        cJSON_AddNumberToObject(totals, "daily_points", (double)daily);
        cJSON_AddNumberToObject(totals, "monthly_points", (double)monthly);
        cJSON_AddNumberToObject(totals, "consumption_points", (double)consumption);
        cJSON_AddNumberToObject(totals, "virtual_points", (double)virtual_points);
        cJSON_AddNumberToObject(totals, "anomalies", (double)anomalies);
        cJSON_AddNumberToObject(totals, "validation_failures", (double)validation_failures);
    }
    cJSON_AddNumberToObject(totals, "points_written", (double)summary->points_written);
    cJSON_AddNumberToObject(totals, "write_requests", (double)summary->requests);
    cJSON_AddNumberToObject(totals, "anomaly_flags_deleted",
                            (double)summary->anomaly_flags_deleted);
    if (summary->anomaly_flags_error)
        cJSON_AddStringToObject(totals, "anomaly_flags_error", summary->anomaly_flags_error);
    cJSON *timings = cJSON_AddObjectToObject(report, "timings_ms");
    number_add(timings, "read", summary->read_ms);
    number_add(timings, "compute", summary->compute_ms);
    number_add(timings, "write", summary->write_ms);
    number_add(timings, "total", summary->total_ms);
    return report;
}

int batch_run_report_write(const struct cJSON *report, const char *path, char *error,
                           size_t error_size)
{
    char *text = cJSON_Print(report);
    if (!text) {
        snprintf(error, error_size, "%s: out of memory formatting the report", path);
        return -1;
    }
    char temporary[4200];
    snprintf(temporary, sizeof temporary, "%s.tmp.%ld", path, (long)getpid());
    int result = -1;
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(error, error_size, "%s: cannot create: %s", temporary, strerror(errno));
        goto cleanup;
    }
    size_t length = strlen(text), written = 0;
    while (written < length) {
        ssize_t n = write(fd, text + written, length - written);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(error, error_size, "%s: write failed: %s", temporary, strerror(errno));
            close(fd);
            unlink(temporary);
            goto cleanup;
        }
        written += (size_t)n;
    }
    if (write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        snprintf(error, error_size, "%s: write failed: %s", temporary, strerror(errno));
        close(fd);
        unlink(temporary);
        goto cleanup;
    }
    if (close(fd) != 0 || rename(temporary, path) != 0) {
        snprintf(error, error_size, "%s: cannot put the report in place: %s", path,
                 strerror(errno));
        unlink(temporary);
        goto cleanup;
    }
    result = 0;
cleanup:
    cJSON_free(text);
    return result;
}
