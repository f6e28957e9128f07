/* `meter-batch reconcile --out DIR`: every output series as CSV in the reference fixtures' file
 * names and columns (daily.csv, monthly.csv, master_daily.csv, master_monthly.csv,
 * consumption.csv, virtual.csv, anomalies.csv; see ../shared/fixtures/reference/README.md), so a
 * run can be compared with the reference pipeline's output file by file. Floats are the shortest
 * decimal that reads back as the same double, written like Python's repr ("0.0", "inf", "nan"). */
#ifndef NEBENKOSTEN_BATCH_OUTPUT_CSV_H
#define NEBENKOSTEN_BATCH_OUTPUT_CSV_H

#include <stddef.h>

#include "batch/reconcile.h"

/* Writes the files into directory (created if missing; each file written to a temporary name
 * and renamed, so a reader never sees half a file). Returns 0, or -1 with "PATH: reason" in
 * error. */
int batch_output_csv_write(const struct batch_reconcile_result *result, const char *directory,
                           char *error, size_t error_size);

/* value as Python's repr writes a float, into out (>= 32 bytes). Returns the length. */
size_t batch_float_format(double value, char *out);

#endif
