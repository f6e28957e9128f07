/* The scheduler's timers and life cycle: fire times, catch-up at start, reload, history and
 * state (relay/scheduler.h); the runs themselves are in relay/scheduler_run.c. */
#include "relay/scheduler.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/error.h"
#include "relay/relay.h"
#include "relay/scheduler_internal.h"

#define NS_PER_SECOND INT64_C(1000000000)
/* Timers wake at least this often, so a step of the wall clock (NTP at boot, a resumed VM)
 * delays a fire by at most this much. */
#define SCHEDULER_TIMER_MAX_NS (60 * NS_PER_SECOND)
/* A recorded fire further ahead of the clock than this came from a clock that was wrong (an RTC
 * reset, a bad time source, a state.json from another machine) or has been set back: as Vixie
 * cron does past 3 hours, it is forgotten. Kept, it would hold every fire until that time. */
#define SCHEDULER_FUTURE_FIRE_MAX_SECONDS (3 * 3600)

static int64_t scheduler_now_seconds(const struct scheduler *scheduler)
{
    return clock_realtime_ns(scheduler->clock) / NS_PER_SECOND;
}

static void scheduler_state_store(struct scheduler *scheduler)
{
    struct jobs_state state;
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
        state.last_fire[kind] = scheduler->jobs[kind].last_fire;
    char path[SCHEDULER_PATH_SIZE], error[SCHEDULER_ERROR_SIZE];
    snprintf(path, sizeof path, "%s/" JOB_STATE_FILE, scheduler->directory);
    if (jobs_state_write(path, &state, error, sizeof error) != 0)
        log_error(scheduler->logger,
                  "cannot store the job schedule state: after a restart a missed run may be "
                  "caught up twice or not at all",
                  LOG_STRING("error", error));
}

/* Arms job's timer: at once for a catch-up, else for its next fire (at most a minute ahead). */
static void scheduler_timer_arm(struct scheduler *scheduler, struct scheduler_job *job)
{
    event_del(job->timer);
    if (!job->enabled || scheduler->stopping || (!job->catch_up && job->next_fire < 0))
        return;
    int64_t delay_ns = 0;
    if (!job->catch_up) {
        delay_ns = job->next_fire * NS_PER_SECOND - clock_realtime_ns(scheduler->clock);
        if (delay_ns < 0)
            delay_ns = 0;
        if (delay_ns > SCHEDULER_TIMER_MAX_NS)
            delay_ns = SCHEDULER_TIMER_MAX_NS;
    }
    struct timeval delay = {(time_t)(delay_ns / NS_PER_SECOND),
                            (suseconds_t)((delay_ns % NS_PER_SECOND + 999) / 1000)};
    event_add(job->timer, &delay);
}

/* Forgets job's recorded fire when it lies more than SCHEDULER_FUTURE_FIRE_MAX_SECONDS after now;
 * returns whether it did (the caller stores the state). */
static bool scheduler_future_fire_forget(struct scheduler *scheduler, struct scheduler_job *job,
                                         int64_t now)
{
    if (job->last_fire <= now + SCHEDULER_FUTURE_FIRE_MAX_SECONDS)
        return false;
    char recorded[JOB_TIME_SIZE], clock_now[JOB_TIME_SIZE];
    jobs_time_format(job->last_fire * NS_PER_SECOND, recorded, sizeof recorded);
    jobs_time_format(now * NS_PER_SECOND, clock_now, sizeof clock_now);
    log_warning(scheduler->logger,
                "job's last run is recorded in the future: the clock was wrong or was set back; "
                "the schedule counts from now",
                LOG_STRING("job", job_kind_name(job->kind)), LOG_STRING("last_fire", recorded),
                LOG_STRING("now", clock_now));
    job->last_fire = now;
    return true;
}

/* A fire time (or the catch-up) of job arrived at now: start it unless it still runs. Either way
 * every fire up to now is dealt with, and state.json says so. Recording only the fire left the
 * fires after it owed when it came out late (the clock stepped forward past several, e.g. by NTP
 * after a boot at a saved time): each restart before the next fire caught one up again. */
static void scheduler_fire(struct scheduler *scheduler, struct scheduler_job *job,
                           enum job_trigger trigger, int64_t fire, int64_t now)
{
    int64_t dealt = now > fire ? now : fire;
    if (dealt > job->last_fire)
        job->last_fire = dealt;
    scheduler_state_store(scheduler);
    if (job->running) {
        char at[JOB_TIME_SIZE];
        jobs_time_format(fire * NS_PER_SECOND, at, sizeof at);
        log_warning(scheduler->logger, "scheduled run skipped: the previous run is still going",
                    LOG_STRING("job", job_kind_name(job->kind)), LOG_STRING("fire", at),
                    LOG_STRING("running_run", job->running->id));
        return;
    }
    struct job_run *run = NULL;
    char error[SCHEDULER_ERROR_SIZE];
    (void)scheduler_run_start(scheduler, job, trigger, &run, error, sizeof error); /* logged */
}

static void scheduler_timer_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct scheduler_job *job = argument;
    struct scheduler *scheduler = job->scheduler;
    if (scheduler->stopping || !job->enabled)
        return;
    int64_t now = scheduler_now_seconds(scheduler);
    if (scheduler_future_fire_forget(scheduler, job, now))
        scheduler_state_store(scheduler);
    if (job->catch_up) {
        job->catch_up = false;
        scheduler_fire(scheduler, job, JOB_TRIGGER_CATCH_UP, now, now);
    } else if (job->next_fire >= 0 && now >= job->next_fire) {
        scheduler_fire(scheduler, job, JOB_TRIGGER_SCHEDULE, job->next_fire, now);
    }
    /* Woken early (the minute cap, or the clocks disagree): the same fire comes out again. */
    int64_t after = now > job->last_fire ? now : job->last_fire;
    job->next_fire = cron_expression_next(&job->expression, scheduler->zone, after);
    scheduler_timer_arm(scheduler, job);
}

static void scheduler_schedule_log(struct scheduler *scheduler, const struct scheduler_job *job,
                                   const char *message)
{
    const char *name = job_kind_name(job->kind);
    if (!job->enabled) {
        log_info(scheduler->logger, "job not scheduled: tibber.enabled is false",
                 LOG_STRING("job", name));
        return;
    }
    if (job->next_fire < 0) {
        log_warning(scheduler->logger, "job schedule never fires; correct the expression",
                    LOG_STRING("job", name), LOG_STRING("schedule", job->schedule_text));
        return;
    }
    char next[JOB_TIME_SIZE];
    jobs_time_format(job->next_fire * NS_PER_SECOND, next, sizeof next);
    log_info(scheduler->logger, message, LOG_STRING("job", name),
             LOG_STRING("schedule", job->schedule_text),
             LOG_STRING("timezone", scheduler->zone ? tz_zone_name(scheduler->zone) : "UTC"),
             LOG_STRING("next", next), LOG_INTEGER("timeout_ms", job->timeout_ms));
}

/* Takes the workflows settings from config (borrowed). starting: at attach (timers are armed
 * later); else a reload: a changed schedule counts from now, with no catch-up for fires before
 * the change. Returns 0 or -1 (out of memory). */
static int scheduler_settings_apply(struct scheduler *scheduler, const struct config *config,
                                    bool starting)
{
    const struct config_schedule *schedules[JOB_KIND_COUNT] = {
        [JOB_RECONCILE] = &config->workflows.analytics.schedule,
        [JOB_TIBBER] = &config->workflows.tibber_sync.schedule,
    };
    const int64_t timeouts[JOB_KIND_COUNT] = {
        [JOB_RECONCILE] = config->workflows.analytics.timeout_ms,
        [JOB_TIBBER] = config->workflows.tibber_sync.timeout_ms,
    };
    const bool enabled[JOB_KIND_COUNT] = {
        [JOB_RECONCILE] = true, [JOB_TIBBER] = config->tibber.enabled};
    int64_t now = scheduler_now_seconds(scheduler);
    bool state_changed = false;
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++) {
        struct scheduler_job *job = &scheduler->jobs[kind];
        const char *text = schedules[kind]->text ? schedules[kind]->text : "";
        job->timeout_ms = timeouts[kind]; /* for the runs that start from now on */
        if (!starting && job->enabled == enabled[kind] &&
            strcmp(job->schedule_text ? job->schedule_text : "", text) == 0)
            continue;
        char *copy = strdup(text);
        if (!copy)
            return -1;
        free(job->schedule_text);
        job->schedule_text = copy;
        job->expression = schedules[kind]->expression;
        job->enabled = enabled[kind];
        job->next_fire =
            job->enabled ? cron_expression_next(&job->expression, scheduler->zone, now) : -1;
        if (!starting) {
            if (job->last_fire < now) {
                job->last_fire = now;
                state_changed = true;
            }
            job->catch_up = false;
            scheduler_timer_arm(scheduler, job);
        }
        scheduler_schedule_log(scheduler, job, starting ? "job scheduled" : "job schedule changed");
    }
    if (state_changed)
        scheduler_state_store(scheduler);
    return 0;
}

static void scheduler_reloaded(void *argument)
{
    struct scheduler *scheduler = argument;
    if (scheduler_settings_apply(scheduler, relay_config(scheduler->relay), false) != 0)
        log_error(scheduler->logger, "out of memory applying the job schedules; the previous "
                                     "ones may stay until the next reload");
}

static void scheduler_destroy(void *argument)
{
    struct scheduler *scheduler = argument;
    if (!scheduler)
        return;
    scheduler_children_wait(scheduler);
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++) {
        struct scheduler_job *job = &scheduler->jobs[kind];
        if (job->timer)
            event_free(job->timer);
        if (job->timeout_timer)
            event_free(job->timeout_timer);
        free(job->schedule_text);
    }
    if (scheduler->child_signal)
        event_free(scheduler->child_signal);
    jobs_runs_free(scheduler->runs, scheduler->run_count);
    tz_zone_free(scheduler->zone);
    free(scheduler);
}

/* The run history from the directory: runs a dead relay left "running" are stored as
 * interrupted, ending when their log last changed; the metrics start from the latest runs. */
static int scheduler_history_load(struct scheduler *scheduler, char *error, size_t error_size)
{
    size_t skipped = 0;
    if (jobs_runs_load(scheduler->directory, &scheduler->runs, &scheduler->run_count, &skipped,
                       error, error_size) != 0)
        return -1;
    scheduler->run_capacity = scheduler->run_count;
    if (skipped > 0)
        log_warning(scheduler->logger, "damaged job run records skipped",
                    LOG_STRING("dir", scheduler->directory), LOG_INTEGER("records", skipped));
    for (size_t i = 0; i < scheduler->run_count; i++) {
        struct job_run *run = scheduler->runs[i];
        struct scheduler_job *job = &scheduler->jobs[run->job];
        if (run->status == JOB_STATUS_INTERRUPTED && run->finished_ns == 0) {
            char path[SCHEDULER_PATH_SIZE];
            struct stat status;
            scheduler_run_path(scheduler, run->id, ".log", path);
            run->finished_ns =
                stat(path, &status) == 0
                    ? (int64_t)status.st_mtim.tv_sec * NS_PER_SECOND + status.st_mtim.tv_nsec
                    : run->started_ns;
            log_warning(scheduler->logger,
                        "a job run was cut off when the relay stopped without its shutdown; "
                        "recorded as interrupted",
                        LOG_STRING("run", run->id));
            scheduler_record_store(scheduler, run);
        }
        if (job->last_duration_ns < 0 && run->duration_ns >= 0)
            job->last_duration_ns = run->duration_ns;
        if (job->last_success_ns == 0 && run->status == JOB_STATUS_SUCCEEDED)
            job->last_success_ns = run->finished_ns;
    }
    scheduler_retention_apply(scheduler);
    return 0;
}

/* The newest run of job in the history (newest first), or NULL. */
static const struct job_run *scheduler_latest_run(const struct scheduler *scheduler,
                                                  enum job_kind kind)
{
    for (size_t i = 0; i < scheduler->run_count; i++)
        if (scheduler->runs[i]->job == kind)
            return scheduler->runs[i];
    return NULL;
}

/* Whether the latest run of job was a scheduled (or catch-up) run that the relay's stop or death
 * cut off. Its fire counts as dealt with in state.json (recorded when it fired), yet the work was
 * not done: like anacron, which records a job only when it ends, such a run is owed once more, so
 * a restart during the night's reconcile does not lose the night. A manual run cut off is not:
 * whoever started it can start it again. */
static bool scheduler_run_cut_off(const struct scheduler *scheduler, enum job_kind kind)
{
    const struct job_run *latest = scheduler_latest_run(scheduler, kind);
    return latest && latest->status == JOB_STATUS_INTERRUPTED &&
           latest->trigger != JOB_TRIGGER_MANUAL;
}

/* state.json: which fires were dealt with before this start, and the history: decide the
 * catch-up runs. */
static void scheduler_state_load(struct scheduler *scheduler)
{
    char path[SCHEDULER_PATH_SIZE], error[SCHEDULER_ERROR_SIZE];
    snprintf(path, sizeof path, "%s/" JOB_STATE_FILE, scheduler->directory);
    struct jobs_state state;
    if (jobs_state_read(path, &state, error, sizeof error) < 0)
        log_warning(scheduler->logger,
                    "cannot read the job schedule state: runs missed before this start are "
                    "not caught up",
                    LOG_STRING("error", error));
    int64_t now = scheduler_now_seconds(scheduler);
    bool changed = false;
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++) {
        struct scheduler_job *job = &scheduler->jobs[kind];
        job->last_fire = state.last_fire[kind];
        if (!job->enabled)
            continue;
        if (scheduler_future_fire_forget(scheduler, job, now)) {
            changed = true;
        } else if (job->last_fire < 0) {
            /* First start with this job: nothing before now is owed. */
            job->last_fire = now;
            changed = true;
        } else if (jobs_catch_up_due(&job->expression, scheduler->zone, job->last_fire, now)) {
            char last[JOB_TIME_SIZE], missed[JOB_TIME_SIZE];
            jobs_time_format(job->last_fire * NS_PER_SECOND, last, sizeof last);
            jobs_time_format(
                cron_expression_next(&job->expression, scheduler->zone, job->last_fire) *
                    NS_PER_SECOND,
                missed, sizeof missed);
            log_info(scheduler->logger,
                     "job missed a scheduled run while the relay was down: one catch-up run "
                     "starts now",
                     LOG_STRING("job", job_kind_name(job->kind)), LOG_STRING("last_fire", last),
                     LOG_STRING("missed", missed));
            job->catch_up = true;
        } else if (scheduler_run_cut_off(scheduler, job->kind)) {
            const struct job_run *latest = scheduler_latest_run(scheduler, job->kind);
            log_info(scheduler->logger,
                     "the latest scheduled run was cut off when the relay stopped: one catch-up "
                     "run starts now",
                     LOG_STRING("job", job_kind_name(job->kind)), LOG_STRING("run", latest->id));
            job->catch_up = true;
        }
    }
    if (changed)
        scheduler_state_store(scheduler);
}

static int scheduler_create(struct relay *relay, struct scheduler *scheduler, char *error,
                            size_t error_size)
{
    const struct config *config = relay_config(relay);
    scheduler->relay = relay;
    scheduler->logger = relay_logger(relay);
    scheduler->clock = relay_clock(relay);
    scheduler->base = relay_event_base(relay);
    if (snprintf(scheduler->directory, sizeof scheduler->directory, "%s/jobs",
                 config->relay.spool.dir) >= (int)sizeof scheduler->directory) {
        error_message_set(error, error_size, "relay.spool.dir is too long");
        return -1;
    }
    if (mkdir(scheduler->directory, 0750) != 0 && errno != EEXIST) {
        error_message_set(error, error_size,
                          "cannot create the job directory %s: %s; check the permissions of "
                          "relay.spool.dir",
                          scheduler->directory, strerror(errno));
        return -1;
    }
    ssize_t length =
        readlink("/proc/self/exe", scheduler->self_path, sizeof scheduler->self_path - 1);
    scheduler->self_path[length > 0 ? length : 0] = '\0';
    if (!(scheduler->zone = tz_zone_load(config->analytics.timezone, error, error_size)))
        return -1;
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++) {
        struct scheduler_job *job = &scheduler->jobs[kind];
        job->scheduler = scheduler;
        job->kind = (enum job_kind)kind;
        job->next_fire = -1;
        job->last_fire = -1;
        job->last_duration_ns = -1;
        job->timer = event_new(scheduler->base, -1, 0, scheduler_timer_event, job);
        job->timeout_timer = event_new(scheduler->base, -1, 0, scheduler_timeout_event, job);
        if (!job->timer || !job->timeout_timer) {
            error_message_set(error, error_size, "out of memory starting the job scheduler");
            return -1;
        }
    }
    scheduler->child_signal =
        evsignal_new(scheduler->base, SIGCHLD, scheduler_child_event, scheduler);
    if (!scheduler->child_signal || event_add(scheduler->child_signal, NULL) != 0) {
        error_message_set(error, error_size, "cannot watch SIGCHLD (libevent)");
        return -1;
    }
    if (scheduler_history_load(scheduler, error, error_size) != 0)
        return -1;
    if (scheduler_settings_apply(scheduler, config, true) != 0) {
        error_message_set(error, error_size, "out of memory starting the job scheduler");
        return -1;
    }
    scheduler_state_load(scheduler);
    return 0;
}

int scheduler_attach(struct relay *relay, char *error, size_t error_size)
{
    struct scheduler *scheduler = calloc(1, sizeof *scheduler);
    if (!scheduler) {
        error_message_set(error, error_size, "out of memory starting the job scheduler");
        return -1;
    }
    if (scheduler_create(relay, scheduler, error, error_size) != 0) {
        scheduler_destroy(scheduler);
        return -1;
    }
    const struct relay_extension extension = {
        .name = "jobs",
        .argument = scheduler,
        .path_prefix = "/api/v1/jobs",
        .request_handle = http_jobs_handle,
        .metrics_write = http_jobs_metrics_write,
        .health_add = http_jobs_health_add,
        .reloaded = scheduler_reloaded,
        .stop = scheduler_stop,
        .destroy = scheduler_destroy,
    };
    if (relay_extension_add(relay, &extension) != 0) {
        error_message_set(error, error_size, "too many relay extensions");
        scheduler_destroy(scheduler);
        return -1;
    }
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
        scheduler_timer_arm(scheduler, &scheduler->jobs[kind]);
    return 0;
}
