/* The JSON run report of meter-batch reconcile: what was read, computed and written, per meter
 * (readings, days, extrapolated days, rate methods, anomalies, validation, quality) and in total,
 * with the timings of each step. Written atomically to --report FILE (the relay's job runner
 * keeps it with the run) and summarised in the log. */
#ifndef NEBENKOSTEN_BATCH_RUN_REPORT_H
#define NEBENKOSTEN_BATCH_RUN_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "batch/reconcile.h"

struct cJSON;

/* Everything the report says besides the per-meter results. Strings borrowed. */
struct batch_run_summary {
    const char *command; /* "reconcile", or "report" for a run that wrote nothing */
    const char *status;  /* "succeeded" or "failed" */
    const char *error;   /* NULL when succeeded */
    const char *compat;  /* "reference" or "none" */
    int64_t today_day;
    const char *source;          /* "csv:PATH" or "influxdb:URL bucket" */
    const char *destination;     /* "csv:DIR" or "influxdb:URL bucket" */
    size_t readings;             /* raw readings read */
    size_t future_readings;      /* of them, dated after the run's clock and left out */
    size_t unset_clock_readings; /* of them, dated before 2001 and left out */
    uint64_t points_written, requests;
    uint64_t anomaly_flags_deleted;  /* meter_anomaly points the run no longer flags */
    const char *anomaly_flags_error; /* why deleting them failed; NULL when it did not */
    double read_ms, compute_ms, write_ms, total_ms;
    const char *baselines_path; /* NULL when none were written */
};

/* Builds the report (owned by the caller, cJSON_Delete). result and readings may be NULL when
 * the run failed before computing. Returns NULL when memory runs out. */
struct cJSON *batch_run_report_build(const struct batch_run_summary *summary,
                                     const struct batch_reconcile_result *result,
                                     const struct batch_readings *readings,
                                     enum config_compat compat);

/* Writes report to path atomically (temporary file, fsync, rename). Returns 0, or -1 with a
 * message naming the file in error. */
int batch_run_report_write(const struct cJSON *report, const char *path, char *error,
                           size_t error_size);

#endif
