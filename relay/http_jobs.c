/* The batch jobs over HTTP (spec/wire.md): GET /api/v1/jobs, GET /api/v1/jobs/<run id>,
 * POST /api/v1/jobs/<reconcile|tibber>, behind relay.auth like the write endpoints; and what the
 * scheduler adds to /metrics and /health. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/http_auth.h"
#include "relay/http_server.h"
#include "relay/relay.h"
#include "relay/scheduler_internal.h"

#define HTTP_JOBS_PREFIX "/api/v1/jobs"
#define HTTP_JOBS_MESSAGE_SIZE 512
#define NS_PER_SECOND 1000000000LL

static void http_jobs_error(struct http_request *request, int code, const char *code_name,
                            const char *format, ...) __attribute__((format(printf, 4, 5)));

static void http_jobs_error(struct http_request *request, int code, const char *code_name,
                            const char *format, ...)
{
    char message[HTTP_JOBS_MESSAGE_SIZE];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    http_reply_error(request, HTTP_DIALECT_V1, code, code_name, message);
}

static void http_jobs_method_not_allowed(struct http_request *request, const char *allowed,
                                         const char *message)
{
    evhttp_add_header(http_request_output_headers(request), "Allow", allowed);
    http_reply_error(request, HTTP_DIALECT_V1, 405, "method not allowed", message);
}

/* The "now" a running run's duration is counted to: its wall-clock start plus the time since on
 * the monotonic clock, as a finished run's is. The wall clock's now made it negative once the
 * clock was set back, and days long once NTP stepped it forward. Other runs: now. */
static int64_t http_jobs_run_now(const struct scheduler *scheduler, const struct job_run *run,
                                 int64_t now)
{
    if (run->status != JOB_STATUS_RUNNING || (unsigned)run->job >= JOB_KIND_COUNT)
        return now;
    const struct scheduler_job *job = &scheduler->jobs[run->job];
    if (job->running != run)
        return now;
    return run->started_ns + (clock_monotonic_ns(scheduler->clock) - job->started_monotonic_ns);
}

/* A run as the API shows it: the record, plus its parsed report (null when there is none). */
static cJSON *http_jobs_run_json(struct scheduler *scheduler, const struct job_run *run,
                                 int64_t now)
{
    cJSON *object = jobs_run_json(run, http_jobs_run_now(scheduler, run, now));
    if (!object)
        return NULL;
    char path[SCHEDULER_PATH_SIZE];
    scheduler_run_path(scheduler, run->id, ".json", path);
    const char *problem = NULL;
    cJSON *report = run->status == JOB_STATUS_RUNNING
                        ? NULL
                        : jobs_report_read(path, JOB_REPORT_MAX_BYTES, &problem);
    if (report)
        cJSON_AddItemToObject(object, "report", report);
    else
        cJSON_AddNullToObject(object, "report");
    if (problem)
        cJSON_AddStringToObject(object, "report_error", problem);
    return object;
}

static cJSON *http_jobs_schedule_json(const struct scheduler *scheduler,
                                      const struct scheduler_job *job)
{
    cJSON *object = cJSON_CreateObject();
    if (!object)
        return NULL;
    cJSON_AddStringToObject(object, "job", job_kind_name(job->kind));
    cJSON_AddBoolToObject(object, "enabled", job->enabled);
    cJSON_AddStringToObject(object, "expression", job->schedule_text ? job->schedule_text : "");
    cJSON_AddStringToObject(object, "timezone",
                            scheduler->zone ? tz_zone_name(scheduler->zone) : "UTC");
    if (job->enabled && job->next_fire >= 0) {
        char next[JOB_TIME_SIZE];
        jobs_time_format(job->next_fire * NS_PER_SECOND, next, sizeof next);
        cJSON_AddStringToObject(object, "next", next);
    } else {
        cJSON_AddNullToObject(object, "next");
    }
    cJSON_AddNumberToObject(object, "timeout_s", (double)job->timeout_ms / 1000.0);
    if (job->running)
        cJSON_AddStringToObject(object, "running", job->running->id);
    else
        cJSON_AddNullToObject(object, "running");
    return object;
}

static void http_jobs_list(struct scheduler *scheduler, struct http_request *request)
{
    int64_t now = clock_realtime_ns(scheduler->clock);
    cJSON *object = cJSON_CreateObject();
    cJSON *runs = object ? cJSON_AddArrayToObject(object, "runs") : NULL;
    cJSON *schedules = object ? cJSON_AddArrayToObject(object, "schedules") : NULL;
    bool complete = runs && schedules;
    for (size_t i = 0; complete && i < scheduler->run_count; i++) {
        cJSON *run = http_jobs_run_json(scheduler, scheduler->runs[i], now);
        complete = run && cJSON_AddItemToArray(runs, run);
        if (!complete)
            cJSON_Delete(run);
    }
    for (int kind = 0; complete && kind < JOB_KIND_COUNT; kind++) {
        cJSON *schedule = http_jobs_schedule_json(scheduler, &scheduler->jobs[kind]);
        complete = schedule && cJSON_AddItemToArray(schedules, schedule);
        if (!complete)
            cJSON_Delete(schedule);
    }
    if (!complete) {
        cJSON_Delete(object);
        object = NULL; /* answered 503 */
    }
    http_reply_json_object(request, 200, object);
}

static void http_jobs_show(struct scheduler *scheduler, struct http_request *request,
                           const struct job_run *run)
{
    cJSON *object = http_jobs_run_json(scheduler, run, clock_realtime_ns(scheduler->clock));
    if (object) {
        char path[SCHEDULER_PATH_SIZE];
        scheduler_run_path(scheduler, run->id, ".log", path);
        size_t length = 0;
        uint64_t total = 0;
        char *log = jobs_log_tail_read(path, JOB_LOG_TAIL_BYTES, &length, &total);
        if (log) {
            cJSON_AddStringToObject(object, "log", log);
            cJSON_AddNumberToObject(object, "log_bytes", (double)total);
            cJSON_AddBoolToObject(object, "log_truncated", length < total);
            free(log);
        } else {
            cJSON_AddNullToObject(object, "log");
        }
    }
    http_reply_json_object(request, 200, object);
}

static void http_jobs_start(struct scheduler *scheduler, struct http_request *request,
                            enum job_kind kind)
{
    struct scheduler_job *job = &scheduler->jobs[kind];
    if (!job->enabled) {
        http_jobs_error(request, 404, "not found",
                        "job \"%s\" is not enabled: tibber.enabled is false in the configuration",
                        job_kind_name(kind));
        return;
    }
    if (relay_is_stopping(scheduler->relay) || scheduler->stopping) {
        http_reply_unavailable(request, HTTP_DIALECT_V1, "the relay is shutting down");
        return;
    }
    struct job_run *run = NULL;
    char error[HTTP_JOBS_MESSAGE_SIZE];
    int status = scheduler_run_start(scheduler, job, JOB_TRIGGER_MANUAL, &run, error, sizeof error);
    if (status == -EBUSY) {
        char started[JOB_TIME_SIZE];
        jobs_time_format(run->started_ns, started, sizeof started);
        http_jobs_error(request, 409, "conflict",
                        "job \"%s\" is already running (run %s, started %s); one run at a time",
                        job_kind_name(kind), run->id, started);
        return;
    }
    if (status != 0) {
        /* The failed run is recorded (GET /api/v1/jobs shows it); the message says why. */
        http_jobs_error(request, 500, "internal error", "%s", error);
        return;
    }
    const char *base = relay_config(scheduler->relay)->relay.base_path;
    char location[HTTP_JOBS_MESSAGE_SIZE];
    snprintf(location, sizeof location, "%s" HTTP_JOBS_PREFIX "/%s", base ? base : "", run->id);
    evhttp_add_header(http_request_output_headers(request), "Location", location);
    http_reply_json_object(
        request, 202,
        jobs_run_json(run, http_jobs_run_now(scheduler, run, clock_realtime_ns(scheduler->clock))));
}

void http_jobs_handle(void *argument, struct http_request *request, const char *path)
{
    struct scheduler *scheduler = argument;
    if (!http_auth_request_allowed(&relay_config(scheduler->relay)->relay, request)) {
        evhttp_add_header(http_request_output_headers(request), "WWW-Authenticate",
                          "Basic realm=\"InfluxDB\"");
        http_reply_error(request, HTTP_DIALECT_V1, 401, "unauthorized", "authorization failed");
        return;
    }
    enum http_request_method method = http_request_method(request);
    bool reading = method == HTTP_REQUEST_GET || method == HTTP_REQUEST_HEAD;
    const char *rest = path + strlen(HTTP_JOBS_PREFIX);
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        if (reading)
            http_jobs_list(scheduler, request);
        else
            http_jobs_method_not_allowed(request, "GET, HEAD",
                                         "method not allowed; GET lists the runs, POST "
                                         "/api/v1/jobs/<reconcile|tibber> starts one");
        return;
    }
    const char *name = rest + 1;
    size_t length = strlen(name);
    enum job_kind kind;
    if (job_kind_parse(name, length, &kind) == 0) {
        if (method == HTTP_REQUEST_POST)
            http_jobs_start(scheduler, request, kind);
        else
            http_jobs_method_not_allowed(request, "POST",
                                         "method not allowed; POST starts a run, GET "
                                         "/api/v1/jobs lists them");
        return;
    }
    struct job_run *run =
        jobs_run_id_valid(name, length) ? scheduler_run_find(scheduler, name) : NULL;
    if (!run) {
        http_jobs_error(request, 404, "not found",
                        "no job or run \"%.100s\": the jobs are reconcile and tibber, GET "
                        "/api/v1/jobs lists the runs",
                        name);
        return;
    }
    if (reading)
        http_jobs_show(scheduler, request, run);
    else
        http_jobs_method_not_allowed(request, "GET, HEAD", "method not allowed; use GET");
}

static int http_jobs_metric(struct buffer *out, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int http_jobs_metric(struct buffer *out, const char *format, ...)
{
    char line[512];
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(line, sizeof line, format, arguments);
    va_end(arguments);
    if (length < 0 || (size_t)length >= sizeof line)
        return -ENOMEM;
    return buffer_append(out, line, (size_t)length);
}

int http_jobs_metrics_write(void *argument, struct buffer *out)
{
    const struct scheduler *scheduler = argument;
    int status = 0;
#define METRIC(...)                                                                                \
    if (status == 0)                                                                               \
    status = http_jobs_metric(out, __VA_ARGS__)
    METRIC("# HELP nebenkosten_job_runs_total Batch job runs that ended since the relay started, "
           "by job and status.\n# TYPE nebenkosten_job_runs_total counter\n");
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
        for (int state = JOB_STATUS_SUCCEEDED; state < JOB_STATUS_COUNT; state++)
            METRIC("nebenkosten_job_runs_total{job=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                   job_kind_name(kind), job_status_name(state),
                   scheduler->jobs[kind].finished[state]);
    METRIC("# HELP nebenkosten_job_running Whether a run of the job is in progress.\n"
           "# TYPE nebenkosten_job_running gauge\n");
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
        METRIC("nebenkosten_job_running{job=\"%s\"} %d\n", job_kind_name(kind),
               scheduler->jobs[kind].running ? 1 : 0);
    METRIC("# HELP nebenkosten_job_last_success_timestamp_seconds When the latest successful run "
           "of the job ended (0: none recorded).\n"
           "# TYPE nebenkosten_job_last_success_timestamp_seconds gauge\n");
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
        METRIC("nebenkosten_job_last_success_timestamp_seconds{job=\"%s\"} %.3f\n",
               job_kind_name(kind), (double)scheduler->jobs[kind].last_success_ns / 1e9);
    METRIC("# HELP nebenkosten_job_last_duration_seconds How long the latest finished run of the "
           "job took.\n# TYPE nebenkosten_job_last_duration_seconds gauge\n");
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
        if (scheduler->jobs[kind].last_duration_ns >= 0)
            METRIC("nebenkosten_job_last_duration_seconds{job=\"%s\"} %.3f\n", job_kind_name(kind),
                   (double)scheduler->jobs[kind].last_duration_ns / 1e9);
    METRIC("# HELP nebenkosten_job_next_run_timestamp_seconds When the job's schedule fires next "
           "(0: not scheduled).\n# TYPE nebenkosten_job_next_run_timestamp_seconds gauge\n");
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++) {
        const struct scheduler_job *job = &scheduler->jobs[kind];
        METRIC("nebenkosten_job_next_run_timestamp_seconds{job=\"%s\"} %" PRId64 "\n",
               job_kind_name(kind), job->enabled && job->next_fire > 0 ? job->next_fire : 0);
    }
#undef METRIC
    return status;
}

/* The latest run of kind that ended (runs are newest first), or NULL. */
static const struct job_run *http_jobs_last_finished(const struct scheduler *scheduler,
                                                     enum job_kind kind)
{
    for (size_t i = 0; i < scheduler->run_count; i++)
        if (scheduler->runs[i]->job == kind && scheduler->runs[i]->status != JOB_STATUS_RUNNING)
            return scheduler->runs[i];
    return NULL;
}

void http_jobs_health_add(void *argument, cJSON *checks)
{
    const struct scheduler *scheduler = argument;
    char message[2 * HTTP_JOBS_MESSAGE_SIZE] = "";
    size_t used = 0;
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++) {
        const struct job_run *run = http_jobs_last_finished(scheduler, kind);
        if (!scheduler->jobs[kind].enabled || !run ||
            (run->status != JOB_STATUS_FAILED && run->status != JOB_STATUS_TIMED_OUT))
            continue;
        char outcome[64];
        if (run->status == JOB_STATUS_TIMED_OUT)
            snprintf(outcome, sizeof outcome, "timed out");
        else if (run->exit_code >= 0)
            snprintf(outcome, sizeof outcome, "failed with exit code %d", run->exit_code);
        else if (run->signal > 0)
            snprintf(outcome, sizeof outcome, "failed: killed by signal %d", run->signal);
        else
            snprintf(outcome, sizeof outcome, "failed to start");
        int written = snprintf(message + used, sizeof message - used,
                               "%sthe last %s run %s (GET /api/v1/jobs/%s shows its log)",
                               used ? "; " : "", job_kind_name(kind), outcome, run->id);
        if (written > 0 && (size_t)written < sizeof message - used)
            used += (size_t)written;
    }
    cJSON *check = cJSON_CreateObject();
    if (!check)
        return;
    cJSON_AddStringToObject(check, "name", "jobs");
    /* A failed batch leaves the daily values provisional; ingest is unaffected: a warning. */
    cJSON_AddStringToObject(check, "status", used ? "warn" : "pass");
    cJSON_AddStringToObject(check, "message", used ? message : "no failed batch job runs");
    if (!cJSON_AddItemToArray(checks, check))
        cJSON_Delete(check);
}
