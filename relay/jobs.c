/* The pure parts of the batch jobs: names, times, run ids, catch-up, the command line, program
 * lookup, retention and the JSON of a run. */
#include "relay/jobs.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/error.h"

#define NS_PER_SECOND INT64_C(1000000000)
#define NS_PER_MILLISECOND INT64_C(1000000)
#define JOBS_SIGNAL_MAX 64

static const char *const job_kind_names[JOB_KIND_COUNT] = {"reconcile", "tibber"};
static const char *const job_trigger_names[] = {"schedule", "catch-up", "manual"};
static const char *const job_status_names[JOB_STATUS_COUNT] = {"running", "succeeded", "failed",
                                                               "interrupted", "timed_out"};

const char *job_kind_name(enum job_kind kind)
{
    return (unsigned)kind < JOB_KIND_COUNT ? job_kind_names[kind] : "unknown";
}

int job_kind_parse(const char *text, size_t length, enum job_kind *out)
{
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
        if (strlen(job_kind_names[kind]) == length &&
            memcmp(job_kind_names[kind], text, length) == 0) {
            *out = (enum job_kind)kind;
            return 0;
        }
    return -1;
}

const char *job_trigger_name(enum job_trigger trigger)
{
    return (unsigned)trigger < sizeof job_trigger_names / sizeof job_trigger_names[0]
               ? job_trigger_names[trigger]
               : "unknown";
}

const char *job_status_name(enum job_status status)
{
    return (unsigned)status < JOB_STATUS_COUNT ? job_status_names[status] : "unknown";
}

/* Floor division, so instants before 1970 still land on the right day and second. */
static int64_t jobs_floor_divide(int64_t value, int64_t divisor)
{
    int64_t quotient = value / divisor;
    return value % divisor < 0 ? quotient - 1 : quotient;
}

void jobs_time_format(int64_t ns, char *out, size_t out_size)
{
    int64_t seconds = jobs_floor_divide(ns, NS_PER_SECOND);
    int64_t milliseconds = (ns - seconds * NS_PER_SECOND) / NS_PER_MILLISECOND;
    int64_t days = jobs_floor_divide(seconds, 86400);
    int64_t of_day = seconds - days * 86400;
    int year, month, day;
    tz_civil_from_days(days, &year, &month, &day);
    snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03" PRId64 "Z", year, month, day,
             (int)(of_day / 3600), (int)(of_day / 60 % 60), (int)(of_day % 60), milliseconds);
}

static int jobs_digits_read(const char *text, size_t count, int *out)
{
    int value = 0;
    for (size_t i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    *out = value;
    return 0;
}

int jobs_time_parse(const char *text, int64_t *ns)
{
    /* YYYY-MM-DDTHH:MM:SS is 19 characters; the separators are checked one by one. */
    int year, month, day, hour, minute, second;
    if (strlen(text) < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
        text[13] != ':' || text[16] != ':' || jobs_digits_read(text, 4, &year) != 0 ||
        jobs_digits_read(text + 5, 2, &month) != 0 || jobs_digits_read(text + 8, 2, &day) != 0 ||
        jobs_digits_read(text + 11, 2, &hour) != 0 ||
        jobs_digits_read(text + 14, 2, &minute) != 0 ||
        jobs_digits_read(text + 17, 2, &second) != 0)
        return -1;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
        return -1;
    const char *rest = text + 19;
    int64_t fraction = 0;
    if (*rest == '.') {
        int64_t scale = NS_PER_SECOND;
        rest++;
        if (*rest < '0' || *rest > '9')
            return -1;
        for (; *rest >= '0' && *rest <= '9'; rest++) {
            scale /= 10;
            fraction += (*rest - '0') * scale;
        }
    }
    if (strcmp(rest, "Z") != 0)
        return -1;
    int64_t days = tz_days_from_civil(year, month, day);
    int check_year, check_month, check_day;
    tz_civil_from_days(days, &check_year, &check_month, &check_day);
    if (check_month != month || check_day != day) /* 2023-02-30 */
        return -1;
    *ns = ((days * 86400) + hour * 3600 + minute * 60 + second) * NS_PER_SECOND + fraction;
    return 0;
}

bool jobs_catch_up_due(const struct cron_expression *expression, const struct tz_zone *zone,
                       int64_t last_fire, int64_t now)
{
    if (last_fire < 0 || now <= last_fire)
        return false;
    int64_t next = cron_expression_next(expression, zone, last_fire);
    return next >= 0 && next <= now;
}

void jobs_run_id_format(enum job_kind kind, int64_t started_ns, unsigned attempt, char *out,
                        size_t out_size)
{
    char time[JOB_TIME_SIZE];
    jobs_time_format(started_ns, time, sizeof time);
    /* 2024-01-15T02:00:00.123Z -> 20240115T020000Z: no '.' or ':' in file names and URLs. */
    char compact[20];
    snprintf(compact, sizeof compact, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", time, time + 5, time + 8,
             time + 11, time + 14, time + 17);
    if (attempt > 0)
        snprintf(out, out_size, "%s-%s-%u", job_kind_name(kind), compact, attempt);
    else
        snprintf(out, out_size, "%s-%s", job_kind_name(kind), compact);
}

bool jobs_run_id_valid(const char *text, size_t length)
{
    if (length == 0 || length >= JOB_RUN_ID_SIZE)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

size_t jobs_argv_build(const char *program, const char *config_path, enum job_kind kind,
                       const char *report_path, const char *argv[JOBS_ARGV_MAX])
{
    size_t count = 0;
    argv[count++] = program;
    if (config_path) {
        argv[count++] = "-c";
        argv[count++] = config_path;
    }
    argv[count++] = job_kind_name(kind);
    argv[count++] = "--report";
    argv[count++] = report_path;
    argv[count] = NULL;
    return count;
}

static bool jobs_executable(const char *path)
{
    struct stat status;
    return stat(path, &status) == 0 && S_ISREG(status.st_mode) && access(path, X_OK) == 0;
}

int jobs_program_resolve(const char *configured, const char *self_path, const char *search_path,
                         char *out, size_t out_size, char *error, size_t error_size)
{
    if (configured) {
        if (!jobs_executable(configured)) {
            error_message_set(error, error_size,
                              "workflows.batch_program: %s is not an executable file; install "
                              "meter-batch there or correct the path",
                              configured);
            return -1;
        }
        snprintf(out, out_size, "%s", configured);
        return 0;
    }
    const char *slash = self_path ? strrchr(self_path, '/') : NULL;
    if (slash) {
        int length =
            snprintf(out, out_size, "%.*s/meter-batch", (int)(slash - self_path), self_path);
        if (length > 0 && (size_t)length < out_size && jobs_executable(out))
            return 0;
    }
    for (const char *entry = search_path; entry && *entry;) {
        const char *end = strchr(entry, ':');
        size_t length = end ? (size_t)(end - entry) : strlen(entry);
        /* A relative PATH entry would depend on the relay's working directory: skipped. */
        if (length > 0 && entry[0] == '/') {
            int written = snprintf(out, out_size, "%.*s/meter-batch", (int)length, entry);
            if (written > 0 && (size_t)written < out_size && jobs_executable(out))
                return 0;
        }
        entry = end ? end + 1 : NULL;
    }
    error_message_set(error, error_size,
                      "cannot find meter-batch: it is neither beside meter-relay (%.*s) nor on "
                      "PATH; install it or set workflows.batch_program",
                      slash ? (int)(slash - self_path) : 9, slash ? self_path : "(unknown)");
    return -1;
}

size_t jobs_retention_select(struct job_run *const *runs, size_t count, size_t keep, size_t *remove)
{
    size_t seen[JOB_KIND_COUNT] = {0};
    size_t removed = 0;
    for (size_t i = 0; i < count; i++) {
        enum job_kind kind = runs[i]->job;
        if ((unsigned)kind >= JOB_KIND_COUNT)
            continue;
        if (++seen[kind] > keep && runs[i]->status != JOB_STATUS_RUNNING)
            remove[removed++] = i;
    }
    return removed;
}

static const char *jobs_signal_name(int signal_number, char *out, size_t out_size)
{
    const char *abbreviation = sigabbrev_np(signal_number);
    if (abbreviation)
        snprintf(out, out_size, "SIG%s", abbreviation);
    else
        snprintf(out, out_size, "SIG%d", signal_number);
    return out;
}

static int jobs_signal_parse(const char *text)
{
    char name[32];
    for (int number = 1; number <= JOBS_SIGNAL_MAX; number++)
        if (strcmp(jobs_signal_name(number, name, sizeof name), text) == 0)
            return number;
    return 0;
}

static void jobs_time_add(cJSON *object, const char *key, int64_t ns)
{
    char text[JOB_TIME_SIZE];
    jobs_time_format(ns, text, sizeof text);
    cJSON_AddStringToObject(object, key, text);
}

cJSON *jobs_run_json(const struct job_run *run, int64_t now_ns)
{
    cJSON *object = cJSON_CreateObject();
    if (!object)
        return NULL;
    bool running = run->status == JOB_STATUS_RUNNING;
    cJSON_AddStringToObject(object, "id", run->id);
    cJSON_AddStringToObject(object, "job", job_kind_name(run->job));
    cJSON_AddStringToObject(object, "trigger", job_trigger_name(run->trigger));
    cJSON_AddStringToObject(object, "status", job_status_name(run->status));
    jobs_time_add(object, "started", run->started_ns);
    if (run->finished_ns != 0 && !running)
        jobs_time_add(object, "finished", run->finished_ns);
    else
        cJSON_AddNullToObject(object, "finished");
    if (running && now_ns > 0)
        cJSON_AddNumberToObject(object, "duration_ms",
                                (double)((now_ns - run->started_ns) / NS_PER_MILLISECOND));
    else if (run->duration_ns >= 0)
        cJSON_AddNumberToObject(object, "duration_ms",
                                (double)(run->duration_ns / NS_PER_MILLISECOND));
    else
        cJSON_AddNullToObject(object, "duration_ms");
    if (run->exit_code >= 0)
        cJSON_AddNumberToObject(object, "exit_code", run->exit_code);
    else
        cJSON_AddNullToObject(object, "exit_code");
    if (run->signal > 0) {
        char name[32];
        cJSON_AddStringToObject(object, "signal", jobs_signal_name(run->signal, name, sizeof name));
    } else {
        cJSON_AddNullToObject(object, "signal");
    }
    if (running && run->pid > 0)
        cJSON_AddNumberToObject(object, "pid", run->pid);
    return object;
}

/* The string of key in object, or NULL. */
static const char *jobs_json_string(const cJSON *object, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Finds text among names (count of them); -1 when absent. */
static int jobs_name_find(const char *text, const char *const *names, int count)
{
    for (int i = 0; text && i < count; i++)
        if (strcmp(names[i], text) == 0)
            return i;
    return -1;
}

int jobs_run_from_json(const cJSON *object, struct job_run *out)
{
    struct job_run run = {.exit_code = -1, .duration_ns = -1};
    const char *id = jobs_json_string(object, "id");
    const char *job = jobs_json_string(object, "job");
    const char *started = jobs_json_string(object, "started");
    int trigger = jobs_name_find(jobs_json_string(object, "trigger"), job_trigger_names,
                                 (int)(sizeof job_trigger_names / sizeof job_trigger_names[0]));
    int status =
        jobs_name_find(jobs_json_string(object, "status"), job_status_names, JOB_STATUS_COUNT);
    if (!id || !jobs_run_id_valid(id, strlen(id)) || !job ||
        job_kind_parse(job, strlen(job), &run.job) != 0 || trigger < 0 || status < 0 || !started ||
        jobs_time_parse(started, &run.started_ns) != 0)
        return -1;
    snprintf(run.id, sizeof run.id, "%s", id);
    run.trigger = (enum job_trigger)trigger;
    run.status = (enum job_status)status;
    const char *finished = jobs_json_string(object, "finished");
    if (finished && jobs_time_parse(finished, &run.finished_ns) != 0)
        return -1;
    const cJSON *duration = cJSON_GetObjectItemCaseSensitive(object, "duration_ms");
    if (cJSON_IsNumber(duration) && run.status != JOB_STATUS_RUNNING)
        run.duration_ns = (int64_t)duration->valuedouble * NS_PER_MILLISECOND;
    const cJSON *exit_code = cJSON_GetObjectItemCaseSensitive(object, "exit_code");
    if (cJSON_IsNumber(exit_code))
        run.exit_code = exit_code->valueint;
    const char *signal_name = jobs_json_string(object, "signal");
    if (signal_name)
        run.signal = jobs_signal_parse(signal_name);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(object, "pid");
    if (cJSON_IsNumber(pid))
        run.pid = pid->valueint;
    *out = run;
    return 0;
}
