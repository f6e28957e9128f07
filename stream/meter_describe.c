/* What GET /api/v1/meters/<id> shows of a meter's stream state. */
#include <cjson/cJSON.h>

#include "stream/meter.h"

static void describe_time_add(cJSON *object, const char *name, int64_t t_ns)
{
    char text[40];
    stream_time_format(t_ns, text, sizeof text);
    cJSON_AddStringToObject(object, name, text);
}

static void describe_counters_add(const struct stream_meter *meter, cJSON *object)
{
    cJSON *counters = cJSON_AddObjectToObject(object, "counters");
    if (!counters)
        return;
    const struct {
        const char *name;
        uint32_t value;
    } items[] = {
        {"readings", meter->reading_count},
        {"late_reading", meter->late_count},
        {"negative_delta", meter->negative_delta_count},
        {"glitch", meter->glitch_count},
        {"reset", meter->reset_count},
        {"replacement", meter->replacement_count},
        {"spike_rate", meter->spike_count},
        {"stuck", meter->stuck_count},
        {"leak", meter->leak_count},
        {"stale", meter->stale_count},
        {"anomaly", meter->anomaly_count},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        cJSON_AddNumberToObject(counters, items[i].name, items[i].value);
}

/* The flags that are open now: each a boolean, with what it is about where there is more. */
static void describe_flags_add(const struct stream_meter *meter, int64_t now_ns, cJSON *object)
{
    cJSON *flags = cJSON_AddObjectToObject(object, "open_flags");
    if (!flags)
        return;
    bool pending = meter->flags & STREAM_METER_PENDING;
    cJSON_AddBoolToObject(flags, "pending_drop", pending);
    if (pending) {
        cJSON *drop = cJSON_AddObjectToObject(object, "pending_drop");
        if (drop) {
            describe_time_add(drop, "time", meter->pending_t);
            cJSON_AddNumberToObject(drop, "raw", meter->pending_raw);
            describe_time_add(drop, "held_until", meter->held_t);
        }
    }
    cJSON_AddBoolToObject(flags, "spike_rate", meter->flags & STREAM_METER_SPIKE_OPEN);
    cJSON_AddBoolToObject(flags, "stuck", meter->flags & STREAM_METER_STUCK_OPEN);
    cJSON_AddBoolToObject(flags, "leak", meter->flags & STREAM_METER_LEAK_OPEN);
    cJSON_AddBoolToObject(flags, "future_reading", meter->flags & STREAM_METER_FUTURE_OPEN);
    cJSON_AddBoolToObject(flags, "unset_clock", meter->flags & STREAM_METER_UNSET_CLOCK_OPEN);
    bool stale = (meter->flags & STREAM_METER_SEEN) && meter->stale_after_ns > 0 &&
                 now_ns - meter->seen_t > meter->stale_after_ns;
    cJSON_AddBoolToObject(flags, "stale", stale);
    cJSON_AddNumberToObject(object, "stale_after_s",
                            (double)meter->stale_after_ns / STREAM_CALENDAR_NS_PER_SECOND);
}

static void describe_detector_add(const struct stream_detector *detector, cJSON *object)
{
    cJSON *baseline = cJSON_AddObjectToObject(object, "detector");
    if (!baseline)
        return;
    struct stream_detector_summary summary;
    stream_detector_summarize(detector, &summary);
    cJSON_AddNumberToObject(baseline, "days", detector->day_count);
    cJSON_AddNumberToObject(baseline, "count", (double)summary.count);
    cJSON_AddBoolToObject(baseline, "warm", summary.warm);
    cJSON_AddNumberToObject(baseline, "mean", summary.mean);
    cJSON_AddNumberToObject(baseline, "std", summary.std);
    cJSON_AddNumberToObject(baseline, "q1", summary.q1);
    cJSON_AddNumberToObject(baseline, "q3", summary.q3);
    cJSON_AddNumberToObject(baseline, "iqr_lower", summary.iqr_lower);
    cJSON_AddNumberToObject(baseline, "iqr_upper", summary.iqr_upper);
    cJSON_AddNumberToObject(baseline, "window_days", summary.window_count);
    cJSON_AddNumberToObject(baseline, "window_mean", summary.window_mean);
    cJSON_AddNumberToObject(baseline, "window_std", summary.window_std);
    cJSON_AddNumberToObject(baseline, "seasonal_count", (double)detector->seasonal.count);
    cJSON_AddNumberToObject(baseline, "seasonal_mean", detector->seasonal.mean);
    cJSON_AddNumberToObject(baseline, "seasonal_std", stream_welford_std(&detector->seasonal));
    cJSON_AddNumberToObject(baseline, "flagged_run", detector->flagged_run);
}

void stream_meter_describe(const struct stream_meter *meter, const struct stream_calendar *calendar,
                           int64_t now_ns, struct cJSON *object)
{
    if (meter->flags & STREAM_METER_LAST) {
        cJSON *last = cJSON_AddObjectToObject(object, "last_reading");
        if (last) {
            describe_time_add(last, "time", meter->last_t);
            cJSON_AddNumberToObject(last, "raw", meter->last_raw);
            cJSON_AddNumberToObject(last, "value", meter->last_value);
        }
    }
    if (meter->flags & STREAM_METER_SEEN)
        describe_time_add(object, "newest_seen", meter->seen_t);
    cJSON_AddNumberToObject(object, "offset", meter->offset);
    if (meter->flags & STREAM_METER_DAILY) {
        cJSON *midnight = cJSON_AddObjectToObject(object, "last_midnight");
        if (midnight) {
            describe_time_add(midnight, "time", meter->daily_t);
            cJSON_AddNumberToObject(midnight, "value", meter->daily_value);
        }
        /* A meter silent since an earlier day has no reading of today: the rise since its last
         * midnight belongs to that day, and shown as today's it would look like a live figure. */
        if (now_ns < stream_calendar_next_midnight(calendar, meter->daily_t))
            cJSON_AddNumberToObject(object, "today_consumption",
                                    meter->last_value - meter->daily_value);
        else
            cJSON_AddNullToObject(object, "today_consumption");
    }
    describe_counters_add(meter, object);
    describe_flags_add(meter, now_ns, object);
    describe_detector_add(&meter->detector, object);
}
