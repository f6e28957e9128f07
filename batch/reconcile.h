/* The nightly reconciliation (spec/analytics.md "Batch"): from every meter's raw readings to the
 * output series — daily and monthly registers of physical and master meters, daily consumption,
 * virtual meters, anomaly verdicts — in memory, for the caller to write as CSV files or to the
 * processed bucket. Order of the results follows the reference: physical meters by id, master and
 * virtual meters in configuration order, consumption of physical then master meters, anomalies
 * over consumption then virtual meters. */
#ifndef NEBENKOSTEN_BATCH_RECONCILE_H
#define NEBENKOSTEN_BATCH_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "batch/anomaly_vote.h"
#include "batch/daily_series.h"
#include "batch/readings.h"
#include "batch/series.h"
#include "config/config.h"
#include "config/log.h"

struct batch_physical_result {
    const char *meter_id;              /* borrowed from the readings */
    const struct config_meter *config; /* NULL when the meter is not configured */
    struct batch_daily_series build;   /* how the series was made (its arrays moved to daily) */
    struct batch_series daily, monthly;
    size_t reading_count; /* raw readings, all of them */
    int64_t first_reading_ns, last_reading_ns;
};

struct batch_master_result {
    const struct config_meter *config;
    struct batch_series daily, monthly;
};

/* A flagged day: its index in the series and the vote's verdict. */
struct batch_anomaly_flag {
    size_t index;
    struct batch_anomaly_day day;
};

struct batch_anomaly_result {
    const struct batch_series *series; /* the consumption judged; borrowed from the result */
    /* The flagged days only, in day order (the vote's verdicts of every day would take 64 bytes a
     * meter-day, most of a large run's memory); owned. */
    struct batch_anomaly_flag *flags;
    size_t flag_count;
    struct batch_anomaly_summary summary;
};

struct batch_reconcile_options {
    enum config_compat compat;
    int64_t today_day;                      /* days since epoch: the grid's last day */
    const struct stream_calendar *calendar; /* midnights (default mode); borrowed */
    struct logger *logger;                  /* borrowed */
};

struct batch_reconcile_result {
    struct batch_physical_result *physical;
    size_t physical_count;
    struct batch_master_result *masters;
    size_t master_count;
    struct batch_series *consumption; /* physical, then masters */
    size_t consumption_count;
    struct batch_series *virtuals;
    size_t virtual_count;
    struct batch_anomaly_result *anomalies; /* consumption, then virtuals */
    size_t anomaly_count;
    int64_t start_day, end_day; /* the analysis period */
};

/* Computes everything from readings (finished; borrowed) under config (borrowed). *out is owned
 * by the caller (batch_reconcile_result_free); it borrows meter ids from readings and config, so
 * both must outlive it. Returns 0, or -1 with errno ENOMEM. */
int batch_reconcile_compute(const struct config *config, const struct batch_readings *readings,
                            const struct batch_reconcile_options *options,
                            struct batch_reconcile_result *out);

void batch_reconcile_result_free(struct batch_reconcile_result *result);

/* The physical result of meter_id, or NULL. Borrowed from result. */
const struct batch_physical_result *
batch_reconcile_physical_find(const struct batch_reconcile_result *result, const char *meter_id);

#endif
