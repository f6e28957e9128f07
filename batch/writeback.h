/* Writing the reconciled series to the processed bucket, in the output schema the stream uses
 * (stream/emission_format.h): meter_interpolated_daily and meter_interpolated_monthly for physical
 * and master meters, meter_consumption for physical, master and virtual meters, meter_anomaly for
 * the flagged days. The points have the very series and timestamps of the stream's provisional
 * ones and of the previous night's, so writing them overwrites both and a second run changes
 * nothing (InfluxDB keeps the last write of a point).
 *
 * Where they go: through the relay when one listens at relay.listen (so they are spooled and
 * delivered to every upstream like any write), else straight to influxdb.url; --direct skips the
 * relay. */
#ifndef NEBENKOSTEN_BATCH_WRITEBACK_H
#define NEBENKOSTEN_BATCH_WRITEBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch/reconcile.h"
#include "config/config.h"
#include "config/log.h"

struct batch_writeback_target {
    struct config_influxdb server; /* url, api and credentials; strings borrowed or in url */
    char url[512];
    const char *database; /* the processed bucket (borrowed from the config) */
    bool via_relay;
    /* Via the relay: what its 401 means (influx_client_refusal_hint_set); else empty. */
    char refusal_hint[600];
};

/* Chooses where to write: the relay when direct is false and it answers /ping at its listen
 * address (with the relay's first token or user when relay.auth is on), else config->influxdb.
 * config is borrowed and must outlive out. Logs the choice. */
void batch_writeback_target_choose(const struct config *config, bool direct, struct logger *logger,
                                   struct batch_writeback_target *out);

struct batch_writeback_counts {
    uint64_t points, bytes, requests;
};

/* Writes every series of result (borrowed) to target in batches. Returns 0, or -1 with error
 * (what failed, InfluxDB's or the relay's words); counts says what was written until then. */
int batch_writeback_write(const struct batch_reconcile_result *result,
                          const struct batch_writeback_target *target, struct logger *logger,
                          struct batch_writeback_counts *counts, char *error, size_t error_size);

/* The measurements of the processed bucket meter-batch and the stream write. */
extern const char *const batch_processed_measurements[];
extern const size_t batch_processed_measurement_count;

#endif
