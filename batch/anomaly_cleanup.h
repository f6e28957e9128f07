/* Removing the anomaly flags a run no longer raises. The vote looks at the whole history (its
 * global z and IQR fences move as days are added, its 30-day window is centred, so the last two
 * weeks are judged again every night) and the stream flags days with its online detectors; the
 * write-back writes flagged days only (as the reference does), so a day that stopped being an
 * anomaly kept its meter_anomaly point for good and dashboards went on showing it.
 *
 * After a successful write-back, each meter_anomaly point in influxdb.url's processed bucket
 * whose meter the run judged, on a day within that meter's judged consumption series, that the
 * run did not flag, is deleted. Points of meters the run does not know and of days outside their
 * series (the stream's flags of days closed after the history was read) are left alone. Only
 * influxdb.url is cleaned: other upstreams of a relay keep such points (the relay forwards writes,
 * not deletions). */
#ifndef NEBENKOSTEN_BATCH_ANOMALY_CLEANUP_H
#define NEBENKOSTEN_BATCH_ANOMALY_CLEANUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch/reconcile.h"
#include "config/config.h"
#include "config/log.h"

/* The run's verdicts by meter: which days it judged and which it flagged. */
struct batch_anomaly_judged;

/* Indexes result's anomaly results (borrowed, must outlive the index). Returns NULL when out of
 * memory. */
struct batch_anomaly_judged *
batch_anomaly_judged_create(const struct batch_reconcile_result *result);
void batch_anomaly_judged_destroy(struct batch_anomaly_judged *judged);

/* Whether a meter_anomaly point of meter_id (borrowed) at t_ns is stale: the run judged that
 * meter over a series reaching from before t_ns to after it (or to t_ns) and did not flag t_ns. */
bool batch_anomaly_judged_is_stale(const struct batch_anomaly_judged *judged, const char *meter_id,
                                   int64_t t_ns);

/* Reads the meter_anomaly points of config->influxdb's processed bucket (InfluxQL on v1, Flux on
 * v2) and deletes the stale ones (InfluxQL DELETE, /api/v2/delete). config and result are
 * borrowed; logger (may be NULL) gets the retries and a line with the count. Returns 0 with the
 * number deleted in *removed, or -1 with error (what failed, InfluxDB's words); *removed then
 * says how many were deleted before. */
int batch_anomaly_stale_remove(const struct batch_reconcile_result *result,
                               const struct config *config, struct logger *logger,
                               uint64_t *removed, char *error, size_t error_size);

#endif
