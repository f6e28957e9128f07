/* Inside the scheduler: its state, shared by relay/scheduler.c (timers, children) and
 * relay/http_jobs.c (the API, /metrics, /health). */
#ifndef NEBENKOSTEN_RELAY_SCHEDULER_INTERNAL_H
#define NEBENKOSTEN_RELAY_SCHEDULER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/util.h>

#include "config/clock.h"
#include "config/cron.h"
#include "config/log.h"
#include "config/tz.h"
#include "relay/buffer.h"
#include "relay/jobs.h"
#include "relay/scheduler.h"

struct cJSON;
struct event;
struct event_base;
struct http_request;
struct relay;
struct scheduler;

#define SCHEDULER_PATH_SIZE 4096
#define SCHEDULER_ERROR_SIZE 1024
/* Smaller than a path, so "<directory>/<run id>.run.json" always fits SCHEDULER_PATH_SIZE. */
#define SCHEDULER_DIRECTORY_SIZE (SCHEDULER_PATH_SIZE - 128)

struct scheduler_job {
    struct scheduler *scheduler; /* back pointer for the event callbacks */
    enum job_kind kind;
    bool enabled;                      /* tibber: tibber.enabled */
    char *schedule_text;               /* owned copy of the expression as written */
    struct cron_expression expression; /* copied: the config may be replaced by a reload */
    int64_t timeout_ms;
    int64_t next_fire; /* UTC seconds; -1: none (disabled, or the expression never fires) */
    int64_t last_fire; /* UTC seconds of the latest fire dealt with (state.json); -1: none */
    bool catch_up;     /* a catch-up run starts at the next timer event */
    struct event *timer;
    /* The run in progress (borrowed from scheduler->runs) and what watches it. */
    struct job_run *running;
    int64_t started_monotonic_ns;
    struct event *timeout_timer; /* SIGTERM at the timeout, SIGKILL 10 s later */
    bool terminate_sent;
    bool timed_out;
    /* For /metrics: finished runs since start by status, and the latest ones from history. */
    uint64_t finished[JOB_STATUS_COUNT];
    int64_t last_success_ns;  /* finish time of the latest successful run; 0: none */
    int64_t last_duration_ns; /* of the latest finished run; -1: none */
};

struct scheduler {
    struct relay *relay;
    struct logger *logger;                    /* borrowed from the relay */
    const struct clock *clock;                /* borrowed from the relay */
    struct event_base *base;                  /* borrowed from the relay */
    char directory[SCHEDULER_DIRECTORY_SIZE]; /* <relay.spool.dir>/jobs */
    char self_path[SCHEDULER_PATH_SIZE];      /* the running meter-relay ("" when unknown) */
    struct tz_zone *zone;                     /* analytics.timezone at start (owned; NULL = UTC) */
    struct scheduler_job jobs[JOB_KIND_COUNT];
    struct job_run **runs; /* owned, newest first: history and the runs in progress */
    size_t run_count;
    size_t run_capacity;
    struct event *child_signal; /* SIGCHLD */
    bool stopping;
    int64_t stop_monotonic_ns;
};

/* Starts a run of job now with trigger. Returns 0 with the run (borrowed from the scheduler) in
 * *run; -EBUSY when the job is running already (*run = that run); -1 when meter-batch could not
 * be started (the run is recorded as failed, *run set, the reason in error). */
int scheduler_run_start(struct scheduler *scheduler, struct scheduler_job *job,
                        enum job_trigger trigger, struct job_run **run, char *error,
                        size_t error_size);

/* The run with id (borrowed), or NULL. */
struct job_run *scheduler_run_find(struct scheduler *scheduler, const char *id);

/* Paths of a run's files into out (borrowed, SCHEDULER_PATH_SIZE). suffix: ".log", ".json". */
void scheduler_run_path(const struct scheduler *scheduler, const char *id, const char *suffix,
                        char *out);

/* Writes run's record; a failure is logged (the run stays in memory). */
void scheduler_record_store(struct scheduler *scheduler, const struct job_run *run);
/* Deletes the runs beyond JOB_RUNS_KEPT per job: their files and their entries. */
void scheduler_retention_apply(struct scheduler *scheduler);
/* Event callbacks: SIGCHLD (argument: the scheduler) and a job's timeout timer (the job). */
void scheduler_child_event(evutil_socket_t signal_number, short what, void *argument);
void scheduler_timeout_event(evutil_socket_t fd, short what, void *argument);
/* The extension's stop: no more fires; running children get SIGTERM. */
void scheduler_stop(void *argument);
/* After the loop ended: waits for the children scheduler_stop signalled (SIGKILL after 10 s) and
 * records them. Blocks, at most about 12 s. */
void scheduler_children_wait(struct scheduler *scheduler);

/* The relay extension callbacks of relay/http_jobs.c. */
void http_jobs_handle(void *argument, struct http_request *request, const char *path);
int http_jobs_metrics_write(void *argument, struct buffer *out);
void http_jobs_health_add(void *argument, struct cJSON *checks);

#endif
