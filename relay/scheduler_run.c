/* The runs of the scheduler: starting meter-batch (fork/exec into its own process group, output
 * into the run's log), reaping it on SIGCHLD, timeouts, records and retention, and stopping the
 * children when the relay shuts down (relay/scheduler.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/error.h"
#include "relay/relay.h"
#include "relay/scheduler_internal.h"

#define NS_PER_SECOND INT64_C(1000000000)
#define NS_PER_MILLISECOND INT64_C(1000000)
/* After SIGTERM a child gets this long before SIGKILL (timeout and shutdown alike). */
#define SCHEDULER_KILL_GRACE_NS (10 * NS_PER_SECOND)
/* After SIGKILL at shutdown: how long to wait before giving up on reaping. */
#define SCHEDULER_REAP_GRACE_NS (2 * NS_PER_SECOND)
/* How much of a report the "job finished" log line shows. */
#define SCHEDULER_SUMMARY_MAX 300

void scheduler_run_path(const struct scheduler *scheduler, const char *id, const char *suffix,
                        char *out)
{
    snprintf(out, SCHEDULER_PATH_SIZE, "%s/%s%s", scheduler->directory, id, suffix);
}

struct job_run *scheduler_run_find(struct scheduler *scheduler, const char *id)
{
    for (size_t i = 0; i < scheduler->run_count; i++)
        if (strcmp(scheduler->runs[i]->id, id) == 0)
            return scheduler->runs[i];
    return NULL;
}

/* The shutdown wait sleeps for real, so it measures real time even under a fake clock. */
static int64_t scheduler_real_monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * NS_PER_SECOND + now.tv_nsec;
}

void scheduler_record_store(struct scheduler *scheduler, const struct job_run *run)
{
    char error[SCHEDULER_ERROR_SIZE];
    if (jobs_run_record_write(scheduler->directory, run, error, sizeof error) != 0)
        log_error(scheduler->logger,
                  "cannot store the record of a job run; GET /api/v1/jobs "
                  "shows it until the relay restarts",
                  LOG_STRING("run", run->id), LOG_STRING("error", error));
}

/* Deletes the runs beyond JOB_RUNS_KEPT per job: their files and their entries. */
void scheduler_retention_apply(struct scheduler *scheduler)
{
    if (scheduler->run_count <= JOB_RUNS_KEPT)
        return;
    size_t *remove = malloc(scheduler->run_count * sizeof *remove);
    if (!remove)
        return; /* next time */
    size_t count =
        jobs_retention_select(scheduler->runs, scheduler->run_count, JOB_RUNS_KEPT, remove);
    for (size_t i = count; i-- > 0;) { /* from the end, so the earlier indexes stay valid */
        size_t index = remove[i];
        struct job_run *run = scheduler->runs[index];
        char error[SCHEDULER_ERROR_SIZE];
        if (jobs_run_files_remove(scheduler->directory, run->id, error, sizeof error) != 0)
            log_warning(scheduler->logger, "cannot delete the files of an old job run",
                        LOG_STRING("run", run->id), LOG_STRING("error", error));
        free(run);
        memmove(scheduler->runs + index, scheduler->runs + index + 1,
                (scheduler->run_count - index - 1) * sizeof *scheduler->runs);
        scheduler->run_count--;
    }
    free(remove);
}

static int scheduler_run_insert(struct scheduler *scheduler, struct job_run *run)
{
    if (scheduler->run_count == scheduler->run_capacity) {
        size_t grown = scheduler->run_capacity ? scheduler->run_capacity * 2 : 64;
        struct job_run **bigger = realloc(scheduler->runs, grown * sizeof *bigger);
        if (!bigger)
            return -1;
        scheduler->runs = bigger;
        scheduler->run_capacity = grown;
    }
    memmove(scheduler->runs + 1, scheduler->runs, scheduler->run_count * sizeof *scheduler->runs);
    scheduler->runs[0] = run;
    scheduler->run_count++;
    return 0;
}

/* A fresh id: the start second, with a suffix when a run of that second exists (in memory or
 * on disk, e.g. a record a damaged file left behind). */
static void scheduler_run_id_choose(struct scheduler *scheduler, struct job_run *run)
{
    for (unsigned attempt = 0;; attempt++) {
        jobs_run_id_format(run->job, run->started_ns, attempt, run->id, sizeof run->id);
        char log_path[SCHEDULER_PATH_SIZE], record_path[SCHEDULER_PATH_SIZE];
        scheduler_run_path(scheduler, run->id, ".log", log_path);
        scheduler_run_path(scheduler, run->id, ".run.json", record_path);
        if (!scheduler_run_find(scheduler, run->id) && access(log_path, F_OK) != 0 &&
            access(record_path, F_OK) != 0)
            return;
    }
}

static void scheduler_child_signal(pid_t pid, int signal_number)
{
    /* The child leads its own process group: the signal reaches what it started too. */
    if (kill(-pid, signal_number) != 0)
        (void)kill(pid, signal_number);
}

static void scheduler_child_write(const char *text)
{
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

/* In the child between fork and exec: only async-signal-safe calls (the relay has threads). */
static _Noreturn void scheduler_child_exec(int log_fd, const char *const *argv, pid_t parent)
{
    (void)setpgid(0, 0);
    /* If the relay dies without its shutdown, the batch is told to stop rather than orphaned. */
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction action = {.sa_handler = SIG_DFL};
    sigemptyset(&action.sa_mask);
    (void)sigaction(SIGPIPE, &action, NULL); /* the relay ignores it; exec keeps that */
    if (log_fd < 3)
        log_fd = fcntl(log_fd, F_DUPFD, 3);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd > 0) {
        (void)dup2(null_fd, STDIN_FILENO);
        (void)close(null_fd);
    }
    if (log_fd < 0 || dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
        _exit(127);
    /* Sockets, the spool and the other files of the relay are not the batch's business. */
    (void)close_range(3, ~0U, 0);
    execv(argv[0], (char *const *)argv);
    const char *name = strerrorname_np(errno);
    scheduler_child_write("meter-relay: cannot execute ");
    scheduler_child_write(argv[0]);
    scheduler_child_write(": ");
    scheduler_child_write(name ? name : "error");
    scheduler_child_write("\n");
    _exit(127);
}

/* A run that never got a process: recorded as failed at once. */
static void scheduler_run_fail_early(struct scheduler *scheduler, struct scheduler_job *job,
                                     struct job_run *run, const char *reason)
{
    run->status = JOB_STATUS_FAILED;
    run->finished_ns = clock_realtime_ns(scheduler->clock);
    run->duration_ns = 0;
    job->finished[JOB_STATUS_FAILED]++;
    job->last_duration_ns = 0;
    scheduler_record_store(scheduler, run);
    log_error(scheduler->logger, "job could not start", LOG_STRING("job", job_kind_name(job->kind)),
              LOG_STRING("run", run->id), LOG_STRING("trigger", job_trigger_name(run->trigger)),
              LOG_STRING("error", reason));
    scheduler_retention_apply(scheduler);
}

static void scheduler_timeout_arm(struct scheduler_job *job, int64_t delay_ns)
{
    struct timeval delay = {(time_t)(delay_ns / NS_PER_SECOND),
                            (suseconds_t)(delay_ns % NS_PER_SECOND / 1000)};
    event_add(job->timeout_timer, &delay);
}

int scheduler_run_start(struct scheduler *scheduler, struct scheduler_job *job,
                        enum job_trigger trigger, struct job_run **out, char *error,
                        size_t error_size)
{
    *out = job->running;
    if (job->running) {
        error_message_set(error, error_size, "job \"%s\" is already running (run %s)",
                          job_kind_name(job->kind), job->running->id);
        return -EBUSY;
    }
    struct job_run *run = calloc(1, sizeof *run);
    if (!run) {
        error_message_set(error, error_size, "out of memory starting a job");
        return -1;
    }
    run->job = job->kind;
    run->trigger = trigger;
    run->status = JOB_STATUS_RUNNING;
    run->started_ns = clock_realtime_ns(scheduler->clock);
    run->duration_ns = -1;
    run->exit_code = -1;
    scheduler_run_id_choose(scheduler, run); /* before the insert, or it would find itself */
    if (scheduler_run_insert(scheduler, run) != 0) {
        free(run);
        error_message_set(error, error_size, "out of memory starting a job");
        return -1;
    }
    *out = run;
    char log_path[SCHEDULER_PATH_SIZE], report_path[SCHEDULER_PATH_SIZE];
    scheduler_run_path(scheduler, run->id, ".log", log_path);
    scheduler_run_path(scheduler, run->id, ".json", report_path);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) {
        error_message_set(error, error_size, "cannot create the run's log %s: %s", log_path,
                          strerror(errno));
        scheduler_run_fail_early(scheduler, job, run, error);
        return -1;
    }
    const struct config *config = relay_config(scheduler->relay);
    char program[SCHEDULER_PATH_SIZE];
    if (jobs_program_resolve(config->workflows.batch_program,
                             scheduler->self_path[0] ? scheduler->self_path : NULL, getenv("PATH"),
                             program, sizeof program, error, error_size) != 0) {
        dprintf(log_fd, "meter-relay: %s\n", error);
        close(log_fd);
        scheduler_run_fail_early(scheduler, job, run, error);
        return -1;
    }
    const char *argv[JOBS_ARGV_MAX];
    size_t argc = jobs_argv_build(program, config->path, job->kind, report_path, argv);
    /* The log starts with what was run, so it explains itself. */
    dprintf(log_fd, "meter-relay: run %s (%s):", run->id, job_trigger_name(trigger));
    for (size_t i = 0; i < argc; i++)
        dprintf(log_fd, " %s", argv[i]);
    dprintf(log_fd, "\n");
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        scheduler_child_exec(log_fd, argv, parent);
    int fork_error = errno;
    close(log_fd);
    if (pid < 0) {
        error_message_set(error, error_size, "cannot start %s: fork: %s", program,
                          strerror(fork_error));
        scheduler_run_fail_early(scheduler, job, run, error);
        return -1;
    }
    (void)setpgid(pid, pid); /* also here: a signal right after fork must reach the group */
    run->pid = pid;
    job->running = run;
    job->started_monotonic_ns = clock_monotonic_ns(scheduler->clock);
    job->terminate_sent = false;
    job->timed_out = false;
    scheduler_timeout_arm(job, job->timeout_ms * NS_PER_MILLISECOND);
    scheduler_record_store(scheduler, run);
    log_info(scheduler->logger, "job started", LOG_STRING("job", job_kind_name(job->kind)),
             LOG_STRING("run", run->id), LOG_STRING("trigger", job_trigger_name(trigger)),
             LOG_INTEGER("pid", pid), LOG_STRING("program", program));
    return 0;
}

/* The "report" field of the "job finished" line: the report's "summary" (or the report),
 * shortened. out is borrowed; "" when there is no report. */
static void scheduler_report_summary(struct scheduler *scheduler, const struct job_run *run,
                                     char *out, size_t out_size)
{
    out[0] = '\0';
    char path[SCHEDULER_PATH_SIZE];
    scheduler_run_path(scheduler, run->id, ".json", path);
    const char *problem = NULL;
    cJSON *report = jobs_report_read(path, JOB_REPORT_MAX_BYTES, &problem);
    if (!report) {
        if (problem)
            snprintf(out, out_size, "%s", problem);
        return;
    }
    const cJSON *summary = cJSON_GetObjectItemCaseSensitive(report, "summary");
    char *text = cJSON_PrintUnformatted(summary ? summary : report);
    cJSON_Delete(report);
    if (!text)
        return;
    if (strlen(text) > SCHEDULER_SUMMARY_MAX)
        snprintf(out, out_size, "%.*s...", SCHEDULER_SUMMARY_MAX, text);
    else
        snprintf(out, out_size, "%s", text);
    cJSON_free(text);
}

/* The child of job ended with wait_status (known false: it vanished, e.g. reaped elsewhere, or
 * would not die at shutdown). */
static void scheduler_run_finish(struct scheduler *scheduler, struct scheduler_job *job,
                                 int wait_status, bool known)
{
    struct job_run *run = job->running;
    run->finished_ns = clock_realtime_ns(scheduler->clock);
    run->duration_ns = clock_monotonic_ns(scheduler->clock) - job->started_monotonic_ns;
    if (known && WIFEXITED(wait_status))
        run->exit_code = WEXITSTATUS(wait_status);
    else if (known && WIFSIGNALED(wait_status))
        run->signal = WTERMSIG(wait_status);
    /* A batch that finished its work in time counts as a success even if it was asked to stop. */
    run->status = run->exit_code == 0   ? JOB_STATUS_SUCCEEDED
                  : job->timed_out      ? JOB_STATUS_TIMED_OUT
                  : scheduler->stopping ? JOB_STATUS_INTERRUPTED
                                        : JOB_STATUS_FAILED;
    run->pid = 0;
    job->running = NULL;
    event_del(job->timeout_timer);
    job->terminate_sent = false;
    job->timed_out = false;
    job->finished[run->status]++;
    job->last_duration_ns = run->duration_ns;
    if (run->status == JOB_STATUS_SUCCEEDED)
        job->last_success_ns = run->finished_ns;
    scheduler_record_store(scheduler, run);
    char summary[SCHEDULER_SUMMARY_MAX + 64], signal_name[32] = "";
    scheduler_report_summary(scheduler, run, summary, sizeof summary);
    if (run->signal > 0)
        snprintf(signal_name, sizeof signal_name, "SIG%s",
                 sigabbrev_np(run->signal) ? sigabbrev_np(run->signal) : "?");
    struct log_field fields[8];
    size_t count = 0;
    fields[count++] = LOG_STRING("job", job_kind_name(job->kind));
    fields[count++] = LOG_STRING("run", run->id);
    fields[count++] = LOG_STRING("status", job_status_name(run->status));
    if (run->exit_code >= 0)
        fields[count++] = LOG_INTEGER("exit_code", run->exit_code);
    if (run->signal > 0)
        fields[count++] = LOG_STRING("signal", signal_name);
    fields[count++] = LOG_INTEGER("duration_ms", run->duration_ns / NS_PER_MILLISECOND);
    if (summary[0])
        fields[count++] = LOG_STRING("report", summary);
    enum log_level level = run->status == JOB_STATUS_SUCCEEDED     ? LOG_LEVEL_INFO
                           : run->status == JOB_STATUS_INTERRUPTED ? LOG_LEVEL_WARNING
                                                                   : LOG_LEVEL_ERROR;
    log_write(scheduler->logger, level, "job finished", fields, count);
    scheduler_retention_apply(scheduler);
}

/* Reaps whichever children ended (SIGCHLD coalesces, so every running job is asked). */
static void scheduler_children_reap(struct scheduler *scheduler)
{
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++) {
        struct scheduler_job *job = &scheduler->jobs[kind];
        if (!job->running)
            continue;
        int wait_status = 0;
        pid_t pid = job->running->pid;
        pid_t got = waitpid(pid, &wait_status, WNOHANG);
        if (got == pid)
            scheduler_run_finish(scheduler, job, wait_status, true);
        else if (got < 0 && errno == ECHILD)
            scheduler_run_finish(scheduler, job, 0, false);
    }
}

void scheduler_child_event(evutil_socket_t signal_number, short what, void *argument)
{
    (void)signal_number;
    (void)what;
    scheduler_children_reap(argument);
}

void scheduler_timeout_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct scheduler_job *job = argument;
    struct scheduler *scheduler = job->scheduler;
    struct job_run *run = job->running;
    if (!run)
        return;
    if (!job->terminate_sent) {
        job->timed_out = true;
        job->terminate_sent = true;
        scheduler_child_signal(run->pid, SIGTERM);
        log_warning(scheduler->logger,
                    "job ran past its timeout: sent SIGTERM (SIGKILL follows in 10 s); raise "
                    "workflows.*.timeout if runs need longer",
                    LOG_STRING("job", job_kind_name(job->kind)), LOG_STRING("run", run->id),
                    LOG_INTEGER("timeout_ms", job->timeout_ms));
        scheduler_timeout_arm(job, SCHEDULER_KILL_GRACE_NS);
    } else {
        scheduler_child_signal(run->pid, SIGKILL);
        log_warning(scheduler->logger, "job did not stop within 10 s of SIGTERM: sent SIGKILL",
                    LOG_STRING("job", job_kind_name(job->kind)), LOG_STRING("run", run->id));
    }
}

void scheduler_stop(void *argument)
{
    struct scheduler *scheduler = argument;
    scheduler->stopping = true;
    scheduler->stop_monotonic_ns = scheduler_real_monotonic_ns();
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++) {
        struct scheduler_job *job = &scheduler->jobs[kind];
        event_del(job->timer);
        if (!job->running)
            continue;
        event_del(job->timeout_timer);
        job->terminate_sent = true;
        scheduler_child_signal(job->running->pid, SIGTERM);
        log_info(scheduler->logger, "stopping a running job: the relay shuts down (SIGTERM)",
                 LOG_STRING("job", job_kind_name(job->kind)), LOG_STRING("run", job->running->id),
                 LOG_INTEGER("pid", job->running->pid));
    }
}

static bool scheduler_any_running(const struct scheduler *scheduler)
{
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
        if (scheduler->jobs[kind].running)
            return true;
    return false;
}

/* After the loop ended: gives the children SIGTERM'd by scheduler_stop the rest of their 10 s,
 * then SIGKILL. The relay has answered every client by now, so blocking here harms nobody. */
void scheduler_children_wait(struct scheduler *scheduler)
{
    if (!scheduler_any_running(scheduler))
        return;
    if (!scheduler->stopping) /* a fatal spool error ends the loop without stop */
        scheduler_stop(scheduler);
    int64_t deadline = scheduler->stop_monotonic_ns + SCHEDULER_KILL_GRACE_NS;
    bool killed = false;
    for (;;) {
        scheduler_children_reap(scheduler);
        if (!scheduler_any_running(scheduler))
            return;
        int64_t now = scheduler_real_monotonic_ns();
        if (now >= deadline && !killed) {
            for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
                if (scheduler->jobs[kind].running) {
                    scheduler_child_signal(scheduler->jobs[kind].running->pid, SIGKILL);
                    log_warning(scheduler->logger,
                                "a job did not stop within 10 s of SIGTERM: sent SIGKILL",
                                LOG_STRING("run", scheduler->jobs[kind].running->id));
                }
            killed = true;
            deadline = now + SCHEDULER_REAP_GRACE_NS;
        } else if (now >= deadline) {
            for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
                if (scheduler->jobs[kind].running)
                    scheduler_run_finish(scheduler, &scheduler->jobs[kind], 0, false);
            return;
        }
        struct timespec pause = {0, 20 * NS_PER_MILLISECOND};
        nanosleep(&pause, NULL);
    }
}
