/* The JSON run report of meter-batch tibber (written atomically to --report FILE; the relay's job
 * runner keeps it with the run and logs its "summary"):
 *
 *   {"command": "tibber", "status": "succeeded" | "failed", "error": "..." and "error_kind"
 *    (when failed: "configuration", "influxdb", "write", "register_gap", or what Tibber's answer
 *    came to: "unauthenticated", "graphql_error", "malformed", "no_home", "no_subscription",
 *    "http", "transport", "budget"),
 *    "summary": {"fetched", "written", "pending", "skipped", "lookback_hours"},
 *    "now", "meter_id", "home_id", "source", "destination",
 *    "lookback": {"hours", "pages", "catch_up", "capped", "wanted_hours", "newest_energy",
 *                 "newest_register"},
 *    "consumption": {"fetched", "first_hour", "last_hour", "history_complete", "pending",
 *                    "new", "revised", "unchanged"},
 *    "register": {"status", "anchor": {"time", "value"}, "points", "last": {"time", "value"},
 *                 "stopped_at", "missing", "revised_counted"},
 *    "prices": {"fetched", "changed", "unchanged", "first", "last", "interval_minutes"},
 *    "written": {"energy", "kWh", "electricity_price", "points"},
 *    "requests": {"tibber", "influxdb"},
 *    "timings_ms": {"read", "fetch", "write", "total"}}
 *
 * consumption.new/revised, register.points and prices.changed say what was to be written (also
 * with --dry-run); "written" what was written. summary.written counts every point written,
 * summary.skipped the settled hours already stored with the same values, summary.pending the
 * hours Tibber has not settled (a later run writes them). Times are RFC 3339 UTC; what the run
 * did not reach is absent. */
#ifndef NEBENKOSTEN_BATCH_TIBBER_REPORT_H
#define NEBENKOSTEN_BATCH_TIBBER_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch/tibber_response.h"
#include "batch/tibber_series.h"

struct cJSON;

/* Everything the report says; pointers borrowed, NULL for what the run did not reach. */
struct tibber_report {
    const char *status; /* "succeeded" or "failed" */
    const char *error;  /* NULL when succeeded */
    const char *error_kind;
    int64_t now_ns;
    const char *meter_id, *home_id, *source, *destination;
    const struct tibber_newest *newest;
    const struct tibber_lookback *lookback;
    const struct tibber_node *nodes; /* fetched, sorted */
    size_t node_count;
    bool history_complete;
    const struct tibber_plan *plan;
    const struct tibber_price *prices; /* fetched, sorted */
    size_t price_count, prices_changed, prices_unchanged;
    uint64_t energy_written, prices_written, register_written, points_written;
    int tibber_requests;
    uint64_t influx_requests;
    double read_ms, fetch_ms, write_ms, total_ms;
};

/* Builds the report (owned by the caller, cJSON_Delete), or NULL when memory runs out. */
struct cJSON *tibber_report_build(const struct tibber_report *report);

#endif
