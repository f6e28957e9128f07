/* The batch jobs meter-relay starts (DESIGN.md §1): `meter-batch reconcile` on
 * workflows.analytics.schedule and `meter-batch tibber` on workflows.tibber_sync.schedule. This
 * header is what a run is and the parts of the scheduler that need no event loop: names, times,
 * run ids, the catch-up decision, the child's command line, which runs to delete, and the files
 * in the run directory (<relay.spool.dir>/jobs/):
 *
 *   <id>.run.json  the run as GET /api/v1/jobs shows it (written at start and at the end)
 *   <id>.log       the child's stdout and stderr
 *   <id>.json      meter-batch's report (`--report`; meter-batch writes it atomically)
 *   state.json     per job, the latest fire time the relay dealt with (for catch-up at start)
 *
 * The event-loop side is relay/scheduler.c, the HTTP side relay/http_jobs.c. */
#ifndef NEBENKOSTEN_RELAY_JOBS_H
#define NEBENKOSTEN_RELAY_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cron.h"
#include "config/tz.h"

struct cJSON;

enum job_kind { JOB_RECONCILE, JOB_TIBBER };
#define JOB_KIND_COUNT 2

enum job_trigger { JOB_TRIGGER_SCHEDULE, JOB_TRIGGER_CATCH_UP, JOB_TRIGGER_MANUAL };

enum job_status {
    JOB_STATUS_RUNNING,
    JOB_STATUS_SUCCEEDED,
    JOB_STATUS_FAILED,
    JOB_STATUS_INTERRUPTED, /* the relay stopped (or died) while it ran */
    JOB_STATUS_TIMED_OUT,
};
#define JOB_STATUS_COUNT 5

/* "reconcile-20240115T020000Z" plus "-<n>" when that second is taken. */
#define JOB_RUN_ID_SIZE 48
/* Runs kept per job (report, log and record); older ones are deleted. */
#define JOB_RUNS_KEPT 20
/* How much of a run's log GET /api/v1/jobs/<id> shows (its end). */
#define JOB_LOG_TAIL_BYTES (64 * 1024)
/* Reports larger than this are not parsed into API answers (meter-batch's are a few KiB). */
#define JOB_REPORT_MAX_BYTES (4 * 1024 * 1024)
/* The name of the state file in the run directory. */
#define JOB_STATE_FILE "state.json"

struct job_run {
    char id[JOB_RUN_ID_SIZE];
    enum job_kind job;
    enum job_trigger trigger;
    enum job_status status;
    int64_t started_ns;  /* wall clock, ns since the epoch */
    int64_t finished_ns; /* wall clock; 0 while running or when unknown (relay died) */
    int64_t duration_ns; /* measured on the monotonic clock; -1 while running or unknown */
    int exit_code;       /* -1: none (running, killed by a signal, never started) */
    int signal;          /* the signal that ended the child; 0: none */
    int pid;             /* while running; 0 otherwise */
};

/* "reconcile", "tibber": also the meter-batch subcommand and the path segment of the API. */
const char *job_kind_name(enum job_kind kind);
/* text (borrowed, length bytes) to a job; returns 0, or -1 when it names none. */
int job_kind_parse(const char *text, size_t length, enum job_kind *out);
/* "schedule", "catch-up", "manual". */
const char *job_trigger_name(enum job_trigger trigger);
/* "running", "succeeded", "failed", "interrupted", "timed_out". */
const char *job_status_name(enum job_status status);

/* RFC 3339 in UTC with milliseconds, "2024-01-15T02:00:00.123Z", into out (borrowed, at least 32
 * bytes). */
#define JOB_TIME_SIZE 32
void jobs_time_format(int64_t ns, char *out, size_t out_size);
/* "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (text borrowed, NUL-terminated) to ns since the epoch.
 * Returns 0, or -1 when text is not in that form. */
int jobs_time_parse(const char *text, int64_t *ns);

/* Whether a run was missed while the relay was down: some fire time of expression (read in zone,
 * borrowed, NULL = UTC) lies after last_fire and at or before now (UTC seconds). However many
 * fires were missed, the answer is one run. last_fire < 0 (nothing recorded) is never due. */
bool jobs_catch_up_due(const struct cron_expression *expression, const struct tz_zone *zone,
                       int64_t last_fire, int64_t now);

/* The id of a run of kind starting at started_ns: "<job>-YYYYMMDDTHHMMSSZ", with "-<attempt>"
 * appended when attempt > 0 (the id of that second was taken). out is borrowed
 * (JOB_RUN_ID_SIZE). */
void jobs_run_id_format(enum job_kind kind, int64_t started_ns, unsigned attempt, char *out,
                        size_t out_size);
/* Whether text (borrowed, length bytes) may be a run id: 1 to JOB_RUN_ID_SIZE - 1 characters of
 * [A-Za-z0-9-], so it is safe as a file name. */
bool jobs_run_id_valid(const char *text, size_t length);

/* The child's command line:
 *   <program> -c <config_path> <reconcile|tibber> --report <report_path>
 * (without "-c <config_path>" when config_path is NULL: the relay runs on the built-in defaults,
 * and so will meter-batch). Every string is borrowed and must outlive argv; argv[count] = NULL.
 * Returns count. */
#define JOBS_ARGV_MAX 8
size_t jobs_argv_build(const char *program, const char *config_path, enum job_kind kind,
                       const char *report_path, const char *argv[JOBS_ARGV_MAX]);

/* Which meter-batch to run: configured (workflows.batch_program) when not NULL; else
 * "meter-batch" in the directory of self_path (the running meter-relay, NULL when unknown); else
 * the first executable "meter-batch" in search_path (PATH, ':'-separated, NULL = none). Writes an
 * absolute path to out (borrowed) and returns 0, or -1 with what to do in error. Everything is
 * borrowed. */
int jobs_program_resolve(const char *configured, const char *self_path, const char *search_path,
                         char *out, size_t out_size, char *error, size_t error_size);

/* Which runs retention deletes: runs (borrowed, newest first) keeps the newest keep runs of each
 * job and any that is still running. Writes the indexes to delete to remove (borrowed, room for
 * count) in ascending order and returns how many. */
size_t jobs_retention_select(struct job_run *const *runs, size_t count, size_t keep,
                             size_t *remove);

/* The JSON of run: id, job, trigger, status, started, finished, duration_ms, exit_code, signal
 * (null where they do not apply); while running also pid, and duration_ms counts up to now_ns.
 * Returns an owned object (cJSON_Delete) or NULL when out of memory. */
struct cJSON *jobs_run_json(const struct job_run *run, int64_t now_ns);
/* Reads a run back from the JSON jobs_run_json wrote (object borrowed). Returns 0, or -1 when a
 * field is missing or wrong. */
int jobs_run_from_json(const struct cJSON *object, struct job_run *out);

/* ---- files (relay/jobs_store.c) ---- */

/* What state.json holds: per job, the latest fire time (UTC seconds) the relay ran, caught up or
 * skipped because the job was still running; -1 when nothing is recorded. */
struct jobs_state {
    int64_t last_fire[JOB_KIND_COUNT];
};

/* Reads path (borrowed) into *state. Returns 0; 1 when the file does not exist (every entry -1);
 * -1 with a message in error when it cannot be read or parsed. */
int jobs_state_read(const char *path, struct jobs_state *state, char *error, size_t error_size);
/* Writes *state to path atomically (temp file, fsync, rename). Returns 0 or -1 with error. */
int jobs_state_write(const char *path, const struct jobs_state *state, char *error,
                     size_t error_size);

/* Replaces path (borrowed) with length bytes of data atomically: path.tmp, fsync, rename, fsync
 * of the directory. Returns 0 or -1 with a message in error. */
int jobs_file_replace(const char *path, const char *data, size_t length, char *error,
                      size_t error_size);

/* Writes run's record, directory/<id>.run.json. Returns 0 or -1 with error. */
int jobs_run_record_write(const char *directory, const struct job_run *run, char *error,
                          size_t error_size);
/* Reads every <id>.run.json of directory. A record still saying "running" belongs to a relay
 * that died while the run went on: it is returned as interrupted. Returns 0 and an owned array of
 * owned runs in *runs (newest first; free with jobs_runs_free), or -1 with error. Damaged
 * records are skipped and counted in *skipped. */
int jobs_runs_load(const char *directory, struct job_run ***runs, size_t *count, size_t *skipped,
                   char *error, size_t error_size);
void jobs_runs_free(struct job_run **runs, size_t count);
/* Deletes every file of run id in directory ("<id>.*"). Returns 0 or -1 with error. */
int jobs_run_files_remove(const char *directory, const char *id, char *error, size_t error_size);

/* The last max_bytes of the file path, from the first line that starts inside them. Returns an
 * owned NUL-terminated text (free()) with its length in *length and the file's size in *total,
 * or NULL when the file cannot be read (errno set). */
char *jobs_log_tail_read(const char *path, size_t max_bytes, size_t *length, uint64_t *total);
/* The parsed JSON of the report at path, or NULL when it is absent, larger than max_bytes or not
 * JSON; *problem (borrowed static text) says which, NULL when absent. Owned result. */
struct cJSON *jobs_report_read(const char *path, size_t max_bytes, const char **problem);

#endif
