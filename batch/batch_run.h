/* One run of meter-batch reconcile: the context (configuration, logger, calendar, the run's
 * timings) that the command passes explicitly through its steps, and the steps themselves. */
#ifndef NEBENKOSTEN_BATCH_BATCH_RUN_H
#define NEBENKOSTEN_BATCH_BATCH_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

/* What the command line asked for; strings borrowed from argv. */
struct batch_run_arguments {
    const char *config_path;   /* NULL: the default search */
    const char *readings_path; /* NULL: read InfluxDB */
    const char *out_directory; /* NULL: write to InfluxDB */
    const char *report_path;   /* NULL: no report file (it is logged anyway) */
    int compat_override;       /* -1, or an enum config_compat */
    bool direct;               /* write to influxdb.url even when a relay listens */
    bool dry_run;              /* compute only: write neither series nor baselines */
    bool report_to_stdout;     /* print the JSON report on standard output */
    bool today_given;
    int64_t today_day; /* days since epoch when today_given */
};

/* Runs reconcile; returns the process exit status (0 done, 1 failed). */
int batch_run_reconcile(const struct batch_run_arguments *arguments);

#endif
