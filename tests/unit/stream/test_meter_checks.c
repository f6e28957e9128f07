/* Replacement versus reset, and the rate checks of spec/analytics.md "Stream" step 5: spike_rate,
 * stuck, leak and stale, each once per episode. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "stream_test.h"

struct run {
    struct stream_calendar calendar;
    struct config_meter_limits limits;
    struct stream_meter_context context;
    struct stream_meter meter;
    struct test_emissions out;
};

static void run_start(struct run *run, const struct config_meter_limits *limits)
{
    memset(run, 0, sizeof *run);
    run->calendar = stream_calendar_utc();
    run->context.calendar = &run->calendar;
    if (limits) {
        run->limits = *limits;
        run->context.limits = &run->limits;
    }
}

static void run_apply(struct run *run, int64_t t, double value)
{
    stream_meter_reading_apply(&run->meter, &run->context, t, value, test_emissions_collect,
                               &run->out);
}

static void run_finish(struct run *run)
{
    free(run->out.items);
}

/* Readings at each noon from 2024-01-01, days 0..days-1, consuming `daily` a day from start. */
static double run_daily(struct run *run, int days, double start, double daily)
{
    double value = start;
    for (int i = 0; i < days; i++, value += daily)
        run_apply(run, test_utc_ns(2024, 1, 1, 12) + i * TEST_DAY_NS, value);
    return value - daily;
}

Test(stream_meter_checks, drop_near_zero_is_a_reset_elsewhere_a_replacement)
{
    struct run run;
    run_start(&run, NULL);
    run_apply(&run, test_utc_ns(2024, 1, 1, 12), 1000.0);
    run_apply(&run, test_utc_ns(2024, 1, 2, 12), 5.0);
    run_apply(&run, test_utc_ns(2024, 1, 3, 12), 8.0);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_RESET), 1, "5 is within 1 %% of 1000");
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_REPLACEMENT), 0);
    run_finish(&run);

    run_start(&run, NULL);
    run_apply(&run, test_utc_ns(2024, 1, 1, 12), 1000.0);
    run_apply(&run, test_utc_ns(2024, 1, 2, 12), 300.0);
    run_apply(&run, test_utc_ns(2024, 1, 3, 12), 304.0);
    const struct stream_emission *replacement = test_event_find(&run.out, STREAM_EVENT_REPLACEMENT);
    cr_assert_not_null(replacement, "a new register at 300 is a replacement");
    cr_expect_str_eq(stream_event_kind_name(replacement->event), "replacement");
    cr_expect_eq(replacement->timestamp_ns, test_utc_ns(2024, 1, 2, 12));
    cr_expect_eq(replacement->value, 300.0);
    cr_expect_eq(replacement->offset, 700.0);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_RESET), 0);
    cr_expect_eq(run.meter.replacement_count, 1);
    cr_expect_eq(run.meter.reset_count, 0);
    /* Continuity as for a reset: level until the new register's first reading, then 4 a day. */
    cr_expect_eq(run.meter.daily_value, 1002.0);
    cr_expect_eq(run.meter.last_value, 1004.0);
    run_finish(&run);
}

Test(stream_meter_checks, a_few_days_of_learned_consumption_is_still_a_reset)
{
    struct run run;
    run_start(&run, NULL);
    double last = run_daily(&run, 41, 5000.0, 10.0); /* 40 learned days of 10 */
    cr_assert_eq(last, 5400.0);
    cr_assert_eq(run.meter.detector.level.count, 39, "the first and the last day are not closed");
    /* 60 is above 1 % of 5400 (54) but within 7 days of 10. */
    run_apply(&run, test_utc_ns(2024, 2, 11, 12), 60.0);
    run_apply(&run, test_utc_ns(2024, 2, 12, 12), 70.0);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_RESET), 1);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_REPLACEMENT), 0);
    run_finish(&run);

    /* 80 is more than 7 days of 10 and more than 1 %: a register of its own. */
    run_start(&run, NULL);
    run_daily(&run, 41, 5000.0, 10.0);
    run_apply(&run, test_utc_ns(2024, 2, 11, 12), 80.0);
    run_apply(&run, test_utc_ns(2024, 2, 12, 12), 90.0);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_REPLACEMENT), 1);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_RESET), 0);
    run_finish(&run);
}

Test(stream_meter_checks, spike_rate_above_the_configured_limit_once_per_episode)
{
    struct run run;
    const struct config_meter_limits limits = {.max_rate_per_hour = 2.0};
    run_start(&run, &limits);
    static const double increases[] = {0.1, 0.1, 1.5, 1.5, 0.1, 0.1, 1.0};
    double value = 100.0;
    int64_t t = test_utc_ns(2024, 1, 1, 0);
    run_apply(&run, t, value);
    for (size_t i = 0; i < sizeof increases / sizeof increases[0]; i++) {
        t += TEST_HOUR_NS / 4;
        value += increases[i];
        run_apply(&run, t, value);
    }
    cr_assert_eq(test_events_count(&run.out, STREAM_EVENT_SPIKE_RATE), 2,
                 "the first 6/h starts an episode, the second continues it, 4/h starts another");
    const struct stream_emission *spike = test_event_find(&run.out, STREAM_EVENT_SPIKE_RATE);
    cr_expect_eq(spike->timestamp_ns, test_utc_ns(2024, 1, 1, 0) + 3 * TEST_HOUR_NS / 4);
    cr_expect(fabs(spike->value - 101.7) < 1e-9, "value %.17g", spike->value);
    cr_expect(strstr(spike->detail, "6 per hour") && strstr(spike->detail, "configured limit of 2"),
              "detail: %s", spike->detail);
    cr_expect_eq(run.meter.spike_count, 2);
    cr_expect_str_eq(stream_event_kind_name(STREAM_EVENT_SPIKE_RATE), "spike_rate");
    run_finish(&run);
}

Test(stream_meter_checks, readings_seconds_apart_are_measured_over_five_minutes)
{
    struct run run;
    const struct config_meter_limits limits = {.max_rate_per_hour = 2.0};
    run_start(&run, &limits);
    double value = 100.0;
    int64_t t = test_utc_ns(2024, 1, 1, 0);
    /* A tick of 0.01 every 10 s for a minute (3.6 per hour between neighbours), then quiet: over
     * the 10 minutes the rate is measured across, 0.36 per hour. */
    run_apply(&run, t, value);
    for (int i = 1; i <= 6; i++)
        run_apply(&run, t + i * 10 * STREAM_CALENDAR_NS_PER_SECOND, value += 0.01);
    run_apply(&run, t + 10 * 60 * STREAM_CALENDAR_NS_PER_SECOND, value);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_SPIKE_RATE), 0,
                 "0.06 in 10 minutes is 0.36 per hour");
    run_finish(&run);
}

Test(stream_meter_checks, learned_spike_rate_needs_warm_detectors_and_ignores_glitches)
{
    struct run run;
    const struct config_meter_limits limits = {0};
    run_start(&run, &limits);
    double value = 1000.0;
    int64_t t = test_utc_ns(2024, 1, 1, 0);
    run_apply(&run, t, value);
    run_apply(&run, t + TEST_HOUR_NS, value += 500.0);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_SPIKE_RATE), 0, "nothing learned yet");
    cr_expect_eq(run.meter.rate_limit, 0.0);
    for (int i = 1; i <= 70; i++)
        run_apply(&run, t + i * TEST_DAY_NS, value += i % 2 ? 12.0 : 10.0);
    t += 70 * TEST_DAY_NS;
    struct stream_detector_summary summary;
    stream_detector_summarize(&run.meter.detector, &summary);
    cr_assert(summary.warm);
    double limit = fmax(summary.iqr_upper, summary.mean + 3 * summary.std);
    cr_expect_eq(run.meter.rate_limit, limit, "kept at the last closed day");
    /* A transient zero and a reset: the dip rules hold them, no rate is measured across. */
    run_apply(&run, t + 1 * TEST_HOUR_NS, 0.0);
    run_apply(&run, t + 2 * TEST_HOUR_NS, value + 0.5);
    value += 0.5;
    run_apply(&run, t + 3 * TEST_HOUR_NS, 1.0);
    run_apply(&run, t + 4 * TEST_HOUR_NS, 1.5);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_GLITCH), 1);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_RESET), 1);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_SPIKE_RATE), 0);
    /* More in one hour than the plausible maximum day. */
    run_apply(&run, t + 5 * TEST_HOUR_NS, 1.5 + limit * 1.5);
    const struct stream_emission *spike = test_event_find(&run.out, STREAM_EVENT_SPIKE_RATE);
    cr_assert_not_null(spike);
    cr_expect(strstr(spike->detail, "learned"), "detail: %s", spike->detail);
    run_finish(&run);
}

Test(stream_meter_checks, stuck_after_stuck_days_on_a_consuming_meter_once)
{
    struct run run;
    const struct config_meter_limits limits = {.stuck_days = 3};
    run_start(&run, &limits);
    double last = run_daily(&run, 40, 100.0, 10.0);
    for (int i = 40; i < 46; i++)
        run_apply(&run, test_utc_ns(2024, 1, 1, 12) + i * TEST_DAY_NS, last);
    cr_assert_eq(test_events_count(&run.out, STREAM_EVENT_STUCK), 1);
    const struct stream_emission *stuck = test_event_find(&run.out, STREAM_EVENT_STUCK);
    cr_expect_eq(stuck->timestamp_ns, test_utc_ns(2024, 1, 1, 12) + 42 * TEST_DAY_NS,
                 "3 days after the last increase (day 39)");
    cr_expect(strstr(stuck->detail, "3.0 days"), "detail: %s", stuck->detail);
    cr_expect(run.meter.flags & STREAM_METER_STUCK_OPEN);
    /* An increase ends the episode; a new one needs another 3 days. */
    run_apply(&run, test_utc_ns(2024, 1, 1, 12) + 46 * TEST_DAY_NS, last + 10.0);
    cr_expect_not(run.meter.flags & STREAM_METER_STUCK_OPEN);
    cr_expect_eq(run.meter.stuck_count, 1);
    run_finish(&run);
}

Test(stream_meter_checks, stuck_spares_meters_that_are_often_idle)
{
    struct run run;
    const struct config_meter_limits limits = {.stuck_days = 3};
    run_start(&run, &limits);
    /* Consumes only every third day. */
    double value = 100.0;
    for (int i = 0; i < 40; i++)
        run_apply(&run, test_utc_ns(2024, 1, 1, 12) + i * TEST_DAY_NS,
                  value += i % 3 == 0 ? 10.0 : 0.0);
    for (int i = 40; i < 46; i++)
        run_apply(&run, test_utc_ns(2024, 1, 1, 12) + i * TEST_DAY_NS, value);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_STUCK), 0);
    run_finish(&run);
}

Test(stream_meter_checks, stuck_spares_a_heating_meter_in_summer)
{
    static const double pattern[12] = {16, 14, 12, 8, 4, 2, 2, 2, 4, 8, 12, 16};
    struct run run;
    const struct config_meter_limits limits = {.stuck_days = 3};
    run_start(&run, &limits);
    run.context.seasonal_percentages = pattern;
    double value = 100.0;
    int64_t start = test_utc_ns(2024, 6, 1, 12);
    for (int i = 0; i < 40; i++)
        run_apply(&run, start + i * TEST_DAY_NS, value += 1.0);
    for (int i = 40; i < 46; i++)
        run_apply(&run, start + i * TEST_DAY_NS, value);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_STUCK), 0,
                 "July's factor is below 0.5: the pattern expects little");
    run_finish(&run);
}

/* Readings every 20 minutes from 2024-01-01T00:00Z, each hour given as consuming or not. */
static void run_hours(struct run *run, const bool *consuming, int hours, double *value)
{
    int64_t start = test_utc_ns(2024, 1, 1, 0);
    for (int hour = 0; hour < hours; hour++)
        for (int third = hour ? 0 : 1; third < 3; third++) {
            *value += consuming[hour] ? 0.01 : 0.0;
            run_apply(run, start + hour * TEST_HOUR_NS + third * TEST_HOUR_NS / 3, *value);
        }
}

Test(stream_meter_checks, leak_after_24_consuming_hours_once_per_episode)
{
    struct run run;
    const struct config_meter_limits limits = {.leak_check = true};
    run_start(&run, &limits);
    bool consuming[80];
    for (int hour = 0; hour < 80; hour++)
        consuming[hour] = hour != 31;
    double value = 50.0;
    run_apply(&run, test_utc_ns(2024, 1, 1, 0), value);
    run_hours(&run, consuming, 30, &value);
    cr_assert_eq(test_events_count(&run.out, STREAM_EVENT_LEAK), 1);
    const struct stream_emission *leak = test_event_find(&run.out, STREAM_EVENT_LEAK);
    cr_expect_eq(leak->timestamp_ns, test_utc_ns(2024, 1, 1, 23), "hour 23 is the 24th");
    cr_expect(strstr(leak->detail, "24 hours") && strstr(leak->detail, "2024-01-01T00:00:00Z"),
              "detail: %s", leak->detail);
    cr_expect(run.meter.flags & STREAM_METER_LEAK_OPEN);
    cr_expect_eq(run.meter.leak_run_hours, STREAM_METER_LEAK_HOURS, "hours 0..29: counted to 24");
    cr_expect_str_eq(stream_event_kind_name(leak->event), "leak");
    run_finish(&run);

    /* Hour 31 without consumption ends the episode; hours 32..55 are the next one. */
    run_start(&run, &limits);
    value = 50.0;
    run_apply(&run, test_utc_ns(2024, 1, 1, 0), value);
    run_hours(&run, consuming, 80, &value);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_LEAK), 2);
    cr_expect_eq(run.meter.leak_count, 2);
    run_finish(&run);
}

Test(stream_meter_checks, leak_needs_a_reading_every_hour)
{
    struct run run;
    const struct config_meter_limits limits = {.leak_check = true};
    run_start(&run, &limits);
    /* Consumption all along, but read every 90 minutes: some hours have no reading. */
    double value = 50.0;
    for (int i = 0; i < 40; i++)
        run_apply(&run, test_utc_ns(2024, 1, 1, 0) + i * 3 * TEST_HOUR_NS / 2, value += 0.1);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_LEAK), 0);
    run_finish(&run);

    run_start(&run, NULL);
    bool consuming[30];
    for (int hour = 0; hour < 30; hour++)
        consuming[hour] = true;
    run_apply(&run, test_utc_ns(2024, 1, 1, 0), value);
    run_hours(&run, consuming, 30, &value);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_LEAK), 0, "no limits, no leak check");
    run_finish(&run);
}

Test(stream_meter_checks, stale_after_the_configured_gap)
{
    struct run run;
    const struct config_meter_limits limits = {.stale_after_ms = 2 * 3600 * 1000};
    run_start(&run, &limits);
    int64_t t = test_utc_ns(2024, 1, 1, 0);
    run_apply(&run, t, 1.0);
    cr_expect_eq(run.meter.stale_after_ns, 2 * TEST_HOUR_NS);
    run_apply(&run, t + 2 * TEST_HOUR_NS, 2.0); /* exactly the limit: not stale */
    run_apply(&run, t + 5 * TEST_HOUR_NS, 3.0);
    run_apply(&run, t + 4 * TEST_HOUR_NS, 2.5); /* late: not a gap */
    cr_assert_eq(test_events_count(&run.out, STREAM_EVENT_STALE), 1);
    const struct stream_emission *stale = test_event_find(&run.out, STREAM_EVENT_STALE);
    cr_expect_eq(stale->timestamp_ns, t + 5 * TEST_HOUR_NS);
    cr_expect_eq(stale->value, 3.0);
    cr_expect(strstr(stale->detail, "3.0 h") && strstr(stale->detail, "2024-01-01T02:00:00Z") &&
                  strstr(stale->detail, "2.0 h configured"),
              "detail: %s", stale->detail);
    cr_expect_str_eq(stream_event_kind_name(stale->event), "stale");
    cr_expect_eq(run.meter.stale_count, 1);
    run_finish(&run);
}

Test(stream_meter_checks, stale_learned_from_the_cadence_with_a_minimum_of_a_day)
{
    struct run run;
    const struct config_meter_limits limits = {0};
    run_start(&run, &limits);
    /* Every 10 minutes: 6 x 10 min is below the minimum, so 24 h. */
    int64_t t = test_utc_ns(2024, 1, 1, 0), step = TEST_HOUR_NS / 6;
    double value = 0.0;
    run_apply(&run, t, value);
    for (int i = 0; i < STREAM_METER_STALE_MIN_INTERVALS; i++) {
        cr_expect_eq(run.meter.stale_after_ns, 0, "not learned after %d intervals", i);
        run_apply(&run, t += step, value += 0.1);
    }
    cr_expect_eq(run.meter.stale_after_ns, TEST_DAY_NS);
    run_apply(&run, t += 23 * TEST_HOUR_NS, value += 0.1);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_STALE), 0);
    /* The 23 h gap was learned as the 9th interval: (8 ln(600 s) + ln(82800 s)) / 9 is
     * ln(1037 s), and 6 x 1037 s is still less than a day. */
    cr_expect(fabs(run.meter.cadence_log - (8 * log(600.0) + log(82800.0)) / 9) < 1e-12);
    cr_expect_eq(run.meter.stale_after_ns, TEST_DAY_NS);
    run_apply(&run, t += 25 * TEST_HOUR_NS, value += 0.1);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_STALE), 1);
    run_finish(&run);

    /* Daily readings: 6 days. */
    run_start(&run, &limits);
    t = test_utc_ns(2024, 1, 1, 12);
    for (int i = 0; i <= STREAM_METER_STALE_MIN_INTERVALS; i++)
        run_apply(&run, t + i * TEST_DAY_NS, 10.0 * i);
    cr_expect(llabs(run.meter.stale_after_ns - 6 * TEST_DAY_NS) < STREAM_CALENDAR_NS_PER_SECOND,
              "limit %lld ns", (long long)run.meter.stale_after_ns);
    run_apply(&run, t + (STREAM_METER_STALE_MIN_INTERVALS + 7) * TEST_DAY_NS, 1000.0);
    cr_expect_eq(test_events_count(&run.out, STREAM_EVENT_STALE), 1);
    run_finish(&run);
}

Test(stream_meter_checks, stale_cadence_weighs_each_new_interval_a_sixteenth)
{
    struct run run;
    const struct config_meter_limits limits = {0};
    run_start(&run, &limits);
    int64_t t = test_utc_ns(2024, 1, 1, 0);
    double value = 0.0;
    run_apply(&run, t, value);
    for (int i = 0; i < 20; i++)
        run_apply(&run, t += 600 * STREAM_CALENDAR_NS_PER_SECOND, value += 0.1);
    cr_expect_eq(run.meter.cadence_count, STREAM_METER_CADENCE_WEIGHT);
    cr_expect(fabs(run.meter.cadence_log - log(600.0)) < 1e-12);
    run_apply(&run, t += 1200 * STREAM_CALENDAR_NS_PER_SECOND, value += 0.1);
    cr_expect(fabs(run.meter.cadence_log - (log(600.0) + log(2.0) / 16)) < 1e-12,
              "cadence_log %.17g", run.meter.cadence_log);
    cr_expect_eq(run.meter.stale_after_ns, TEST_DAY_NS, "6 x 626 s is below the minimum");
    run_finish(&run);
}

/* A meter read by hand once a week, and a reading with a digit too many: the days it interpolates
 * are closed before its rate is checked, and once the window has taken a few of them in they are
 * learned, so judged against the limit as of its own last day (mean + 3 std of those days) the
 * reading was no spike. It is judged against what the meter had learned before it. */
Test(stream_meter_checks, learned_spike_rate_judges_a_reading_by_the_days_before_it)
{
    struct run run;
    const struct config_meter_limits limits = {0};
    run_start(&run, &limits);
    double value = 10000.0;
    int64_t t = test_utc_ns(2024, 1, 1, 18);
    for (int week = 0; week < 30; week++, value += week % 2 ? 63.0 : 77.0)
        run_apply(&run, t + week * 7 * TEST_DAY_NS, value);
    struct stream_detector_summary summary;
    stream_detector_summarize(&run.meter.detector, &summary);
    cr_assert(summary.warm);
    double limit = run.meter.rate_limit;
    cr_assert(limit > 0 && limit < 20, "limit %g", limit);
    cr_assert_eq(test_events_count(&run.out, STREAM_EVENT_SPIKE_RATE), 0);
    /* 12345.6 typed as 123456: over 100 000 in a week, some 650 per hour. */
    double typo = 10.0 * value;
    run_apply(&run, t + 30 * 7 * TEST_DAY_NS, typo);
    const struct stream_emission *spike = test_event_find(&run.out, STREAM_EVENT_SPIKE_RATE);
    cr_assert_not_null(spike, "a week's rise of %g is no spike to the limit of %g it taught",
                       typo - value, run.meter.rate_limit);
    cr_expect_eq(spike->timestamp_ns, t + 30 * 7 * TEST_DAY_NS);
    char expected[64];
    snprintf(expected, sizeof expected, "limit of %.6g per hour", limit);
    cr_expect(strstr(spike->detail, expected), "detail: %s (expected %s)", spike->detail, expected);
    run_finish(&run);
}
