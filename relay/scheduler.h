/* The scheduler of meter-relay (DESIGN.md §1): runs `meter-batch reconcile` on
 * workflows.analytics.schedule and `meter-batch tibber` on workflows.tibber_sync.schedule (when
 * tibber.enabled), read in analytics.timezone. Each run is a child process (fork/exec, in its own
 * process group), so a crashing batch never touches the relay; its stdout and stderr go to
 * <relay.spool.dir>/jobs/<run id>.log and its JSON report to <run id>.json (relay/jobs.h).
 *
 * - Never blocks the loop: fire timers on the loop, children reaped on SIGCHLD (waitpid WNOHANG).
 * - One run per job at a time: a fire while the job runs is skipped (logged), POST answers 409.
 * - A run over workflows.<job>.timeout gets SIGTERM, then SIGKILL 10 s later (timed_out).
 * - Missed runs: state.json records the latest fire dealt with; when a fire fell into a time the
 *   relay was down, one catch-up run starts right after the start, however many were missed.
 *   So does one when the job's latest scheduled (or catch-up) run was interrupted (the relay
 *   stopped or died while it ran); a manual run is left to whoever started it.
 * - SIGHUP: schedules, timeouts, tibber.enabled and workflows.batch_program apply at once.
 * - SIGTERM/SIGINT: running children get SIGTERM; the relay waits up to 10 s for them (then
 *   SIGKILL) and records them as interrupted. If the relay dies, the kernel sends them SIGTERM.
 * - The last JOB_RUNS_KEPT runs per job are kept (record, log, report).
 *
 * HTTP (relay/http_jobs.c, relay.auth applies): GET /api/v1/jobs, GET /api/v1/jobs/<run id>,
 * POST /api/v1/jobs/<reconcile|tibber>; /metrics nebenkosten_job_*; a "jobs" check in /health. */
#ifndef NEBENKOSTEN_RELAY_SCHEDULER_H
#define NEBENKOSTEN_RELAY_SCHEDULER_H

#include <stddef.h>

struct relay;

/* Creates the scheduler of relay (borrowed; the scheduler lives until relay_destroy), loads the
 * run history and state from <relay.spool.dir>/jobs/ (created 0750), arms the timers (and a
 * catch-up run where one is due) and attaches it as a relay extension. Matches
 * relay_extensions_attach_fn. Returns 0, or -1 with a message for the user in error. */
int scheduler_attach(struct relay *relay, char *error, size_t error_size);

#endif
