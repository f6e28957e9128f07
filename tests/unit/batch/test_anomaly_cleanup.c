/* Which meter_anomaly points a run's verdicts make stale: a judged meter's days within its series
 * that the run did not flag, and nothing else. */
#include <criterion/criterion.h>

#include "batch/anomaly_cleanup.h"

#define DAY_NS (INT64_C(86400) * 1000000000)

Test(anomaly_cleanup, judged_days_the_run_did_not_flag_are_stale)
{
    int64_t strom_days[] = {10 * DAY_NS, 11 * DAY_NS, 12 * DAY_NS, 13 * DAY_NS};
    double zeros[] = {0, 0, 0, 0};
    struct batch_series strom = {
        .meter_id = "strom", .count = 4, .t_ns = strom_days, .values = zeros};
    struct batch_series gas = {.meter_id = "gas", .count = 2, .t_ns = strom_days, .values = zeros};
    struct batch_series empty = {.meter_id = "wasser"};
    struct batch_anomaly_flag strom_flags[] = {{.index = 1}, {.index = 3}};
    struct batch_anomaly_result anomalies[] = {
        {.series = &strom, .flags = strom_flags, .flag_count = 2},
        {.series = &empty},
        {.series = &gas},
    };
    struct batch_reconcile_result result = {.anomalies = anomalies, .anomaly_count = 3};
    struct batch_anomaly_judged *judged = batch_anomaly_judged_create(&result);
    cr_assert_not_null(judged);

    cr_expect(batch_anomaly_judged_is_stale(judged, "strom", 10 * DAY_NS), "first day, unflagged");
    cr_expect(!batch_anomaly_judged_is_stale(judged, "strom", 11 * DAY_NS), "flagged");
    cr_expect(batch_anomaly_judged_is_stale(judged, "strom", 12 * DAY_NS));
    cr_expect(!batch_anomaly_judged_is_stale(judged, "strom", 13 * DAY_NS), "last day, flagged");
    cr_expect(batch_anomaly_judged_is_stale(judged, "strom", 12 * DAY_NS + 1),
              "within the series, not a day of it (another calendar's midnight)");
    cr_expect(!batch_anomaly_judged_is_stale(judged, "strom", 9 * DAY_NS), "before the series");
    cr_expect(!batch_anomaly_judged_is_stale(judged, "strom", 14 * DAY_NS),
              "after it: a day the stream closed later");
    cr_expect(batch_anomaly_judged_is_stale(judged, "gas", 11 * DAY_NS), "no flags at all");
    cr_expect(!batch_anomaly_judged_is_stale(judged, "gas", 12 * DAY_NS));
    cr_expect(!batch_anomaly_judged_is_stale(judged, "wasser", 10 * DAY_NS), "an empty series");
    cr_expect(!batch_anomaly_judged_is_stale(judged, "unbekannt", 10 * DAY_NS), "not judged");
    batch_anomaly_judged_destroy(judged);
}
