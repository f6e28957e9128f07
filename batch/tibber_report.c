/* The run report of meter-batch tibber as JSON (cJSON). */
#include "batch/tibber_report.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "batch/readings.h"

static void time_add(cJSON *object, const char *name, int64_t t_ns)
{
    char text[BATCH_TIMESTAMP_SIZE];
    batch_timestamp_format(t_ns, text);
    cJSON_AddStringToObject(object, name, text);
}

static void count_add(cJSON *object, const char *name, uint64_t count)
{
    cJSON_AddNumberToObject(object, name, (double)count);
}

/* {"time": ..., "value": ...} */
static void reading_add(cJSON *object, const char *name, int64_t t_ns, double value)
{
    cJSON *reading = cJSON_AddObjectToObject(object, name);
    time_add(reading, "time", t_ns);
    if (isfinite(value))
        cJSON_AddNumberToObject(reading, "value", value);
}

static void lookback_add(cJSON *root, const struct tibber_report *report)
{
    if (!report->lookback)
        return;
    const struct tibber_lookback *lookback = report->lookback;
    cJSON *object = cJSON_AddObjectToObject(root, "lookback");
    count_add(object, "hours", (uint64_t)lookback->hours);
    count_add(object, "pages", (uint64_t)lookback->pages);
    cJSON_AddBoolToObject(object, "catch_up", lookback->catch_up);
    cJSON_AddBoolToObject(object, "capped", lookback->capped);
    count_add(object, "wanted_hours", (uint64_t)lookback->wanted);
    if (report->newest && report->newest->has_energy)
        time_add(object, "newest_energy", report->newest->energy_ns);
    if (report->newest && report->newest->has_anchor)
        time_add(object, "newest_register", report->newest->anchor_ns);
}

static void consumption_add(cJSON *root, const struct tibber_report *report)
{
    if (!report->nodes && !report->plan)
        return;
    cJSON *object = cJSON_AddObjectToObject(root, "consumption");
    count_add(object, "fetched", report->node_count);
    if (report->node_count > 0) {
        time_add(object, "first_hour", report->nodes[0].from_ns);
        time_add(object, "last_hour", report->nodes[report->node_count - 1].from_ns);
    }
    cJSON_AddBoolToObject(object, "history_complete", report->history_complete);
    if (!report->plan)
        return;
    count_add(object, "pending", report->plan->pending);
    count_add(object, "new", report->plan->new_hours);
    count_add(object, "revised", report->plan->revised);
    count_add(object, "unchanged", report->plan->unchanged);
}

static void register_add(cJSON *root, const struct tibber_report *report)
{
    const struct tibber_plan *plan = report->plan;
    if (!plan)
        return;
    cJSON *object = cJSON_AddObjectToObject(root, "register");
    cJSON_AddStringToObject(object, "status", tibber_register_status_name(plan->register_status));
    if (report->newest && report->newest->has_anchor)
        reading_add(object, "anchor", report->newest->anchor_ns, report->newest->anchor_value);
    count_add(object, "points", plan->register_count);
    if (plan->register_count > 0) {
        const struct tibber_register_point *last = &plan->register_points[plan->register_count - 1];
        reading_add(object, "last", report->nodes[last->node].from_ns, last->value);
    }
    if (plan->register_status == TIBBER_REGISTER_WAITING ||
        plan->register_status == TIBBER_REGISTER_GAP)
        time_add(object, "stopped_at", plan->stopped_at_ns);
    count_add(object, "missing", plan->missing);
    count_add(object, "revised_counted", plan->revised_counted);
}

static void prices_add(cJSON *root, const struct tibber_report *report)
{
    if (!report->plan)
        return;
    cJSON *object = cJSON_AddObjectToObject(root, "prices");
    count_add(object, "fetched", report->price_count);
    count_add(object, "changed", report->prices_changed);
    count_add(object, "unchanged", report->prices_unchanged);
    if (report->price_count == 0)
        return;
    time_add(object, "first", report->prices[0].starts_at_ns);
    time_add(object, "last", report->prices[report->price_count - 1].starts_at_ns);
    /* The resolution Tibber gave: the shortest step between two intervals. */
    int64_t step = 0;
    for (size_t i = 1; i < report->price_count; i++) {
        int64_t gap = report->prices[i].starts_at_ns - report->prices[i - 1].starts_at_ns;
        if (step == 0 || gap < step)
            step = gap;
    }
    if (step > 0)
        cJSON_AddNumberToObject(object, "interval_minutes", (double)step / 60e9);
}

cJSON *tibber_report_build(const struct tibber_report *report)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "command", "tibber");
    cJSON_AddStringToObject(root, "status", report->status);
    if (report->error)
        cJSON_AddStringToObject(root, "error", report->error);
    if (report->error && report->error_kind)
        cJSON_AddStringToObject(root, "error_kind", report->error_kind);
    cJSON *summary = cJSON_AddObjectToObject(root, "summary");
    const struct tibber_plan *plan = report->plan;
    count_add(summary, "fetched", report->node_count);
    count_add(summary, "written", report->points_written);
    count_add(summary, "pending", plan ? plan->pending : 0);
    count_add(summary, "skipped", plan ? plan->unchanged : 0);
    count_add(summary, "lookback_hours", report->lookback ? (uint64_t)report->lookback->hours : 0);
    time_add(root, "now", report->now_ns);
    if (report->meter_id)
        cJSON_AddStringToObject(root, "meter_id", report->meter_id);
    if (report->home_id && report->home_id[0])
        cJSON_AddStringToObject(root, "home_id", report->home_id);
    if (report->source)
        cJSON_AddStringToObject(root, "source", report->source);
    if (report->destination)
        cJSON_AddStringToObject(root, "destination", report->destination);
    lookback_add(root, report);
    consumption_add(root, report);
    register_add(root, report);
    prices_add(root, report);
    cJSON *written = cJSON_AddObjectToObject(root, "written");
    count_add(written, "energy", report->energy_written);
    count_add(written, "kWh", report->register_written);
    count_add(written, "electricity_price", report->prices_written);
    count_add(written, "points", report->points_written);
    cJSON *requests = cJSON_AddObjectToObject(root, "requests");
    count_add(requests, "tibber", (uint64_t)report->tibber_requests);
    count_add(requests, "influxdb", report->influx_requests);
    cJSON *timings = cJSON_AddObjectToObject(root, "timings_ms");
    cJSON_AddNumberToObject(timings, "read", report->read_ms);
    cJSON_AddNumberToObject(timings, "fetch", report->fetch_ms);
    cJSON_AddNumberToObject(timings, "write", report->write_ms);
    cJSON_AddNumberToObject(timings, "total", report->total_ms);
    return root;
}
