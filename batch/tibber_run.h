/* One run of meter-batch tibber: read the newest stored points, choose the lookback, fetch the
 * pages, compare with what is stored, write what is new or revised (through the relay when one
 * answers at relay.listen, else to influxdb.url), and report. Each step that fails sets one
 * actionable message; the run logs it once and records it in the report. */
#ifndef NEBENKOSTEN_BATCH_TIBBER_RUN_H
#define NEBENKOSTEN_BATCH_TIBBER_RUN_H

#include <stdbool.h>
#include <stdint.h>

/* What the command line asked for; strings borrowed from argv. */
struct tibber_run_arguments {
    const char *config_path; /* NULL: the default search */
    const char *report_path; /* NULL: no report file (the summary is logged anyway) */
    bool direct;             /* write to influxdb.url even when a relay listens */
    bool dry_run;            /* fetch and compare, write nothing */
    bool now_given;
    int64_t now_ns;     /* the run's time when now_given (replays, tests) */
    int64_t timeout_ms; /* per Tibber request; 0: TIBBER_DEFAULT_TIMEOUT_MS */
};

/* Runs; returns the exit status: 0 done (pending hours included), 1 the run failed. */
int tibber_run(const struct tibber_run_arguments *arguments);

#endif
