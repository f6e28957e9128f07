/* The per-reading rules of spec/analytics.md "Stream" steps 1-3, against hand-computed values. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "config/tz.h"
#include "stream/meter.h"

#define HOUR_NS (3600 * STREAM_CALENDAR_NS_PER_SECOND)

static int64_t utc_ns(int year, int month, int day, int hour)
{
    return (tz_days_from_civil(year, month, day) * 86400 + hour * 3600) *
           STREAM_CALENDAR_NS_PER_SECOND;
}

struct collected {
    struct stream_emission emissions[64];
    size_t count;
};

static void collect(const struct stream_emission *emission, void *argument)
{
    struct collected *collected = argument;
    cr_assert_lt(collected->count, 64, "more emissions than any test expects");
    collected->emissions[collected->count++] = *emission;
}

/* The n-th emission of a kind, or NULL. */
static const struct stream_emission *nth(const struct collected *collected,
                                         enum stream_emission_kind kind, size_t n)
{
    for (size_t i = 0; i < collected->count; i++)
        if (collected->emissions[i].kind == kind && n-- == 0)
            return &collected->emissions[i];
    return NULL;
}

static size_t count_of(const struct collected *collected, enum stream_emission_kind kind)
{
    size_t count = 0;
    while (nth(collected, kind, count))
        count++;
    return count;
}

static void expect_emission(const struct collected *collected, enum stream_emission_kind kind,
                            size_t n, int64_t timestamp_ns, double value)
{
    const struct stream_emission *emission = nth(collected, kind, n);
    cr_assert_not_null(emission, "no emission %zu of kind %d", n, kind);
    cr_expect_eq(emission->timestamp_ns, timestamp_ns, "kind %d #%zu: at %lld, expected %lld", kind,
                 n, (long long)emission->timestamp_ns, (long long)timestamp_ns);
    cr_expect(fabs(emission->value - value) <= 1e-9, "kind %d #%zu: %.17g, expected %.17g", kind, n,
              emission->value, value);
}

static void apply(struct stream_meter *meter, const struct stream_calendar *calendar, int64_t t,
                  double value, struct collected *collected)
{
    const struct stream_meter_context context = {.calendar = calendar};
    stream_meter_reading_apply(meter, &context, t, value, collect, collected);
}

Test(stream_meter, interpolates_every_midnight_between_two_readings)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 100.0, &out);
    cr_assert_eq(out.count, 0, "a first reading between midnights emits nothing");
    apply(&meter, &utc, utc_ns(2024, 1, 4, 12), 130.0, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_DAILY), 3);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 2, 0), 105.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 1, 3, 0), 115.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 2, utc_ns(2024, 1, 4, 0), 125.0);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_CONSUMPTION), 3);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 0, utc_ns(2024, 1, 2, 0), 0.0);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 1, utc_ns(2024, 1, 3, 0), 10.0);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 2, utc_ns(2024, 1, 4, 0), 10.0);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_MONTHLY), 0);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 0);

    /* The next reading continues from the last one: 125 -> 130 at noon -> 140 at the 5th noon. */
    out.count = 0;
    apply(&meter, &utc, utc_ns(2024, 1, 5, 12), 140.0, &out);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 5, 0), 135.0);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 0, utc_ns(2024, 1, 5, 0), 10.0);
    cr_assert_eq(meter.reading_count, 3);
}

Test(stream_meter, reading_at_midnight_is_that_midnight_register)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 3, 1, 0), 7.5, &out);
    cr_assert_eq(out.count, 2);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 3, 1, 0), 7.5);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 0, utc_ns(2024, 3, 1, 0), 0.0);
    out.count = 0;
    apply(&meter, &utc, utc_ns(2024, 3, 2, 0), 9.25, &out);
    cr_assert_eq(out.count, 2, "one midnight, no more");
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 3, 2, 0), 9.25);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 0, utc_ns(2024, 3, 2, 0), 1.75);
}

Test(stream_meter, monthly_at_the_midnight_that_begins_a_month_last_day)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 29, 12), 10.0, &out);
    apply(&meter, &utc, utc_ns(2024, 2, 1, 12), 40.0, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_DAILY), 3);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 30, 0), 15.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 1, 31, 0), 25.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 2, utc_ns(2024, 2, 1, 0), 35.0);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_MONTHLY), 1);
    expect_emission(&out, STREAM_EMISSION_MONTHLY, 0, utc_ns(2024, 1, 31, 0), 25.0);
}

Test(stream_meter, late_reading_is_an_event_and_changes_nothing_else)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 100.0, &out);
    struct stream_meter before = meter;
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 101.0, &out);
    apply(&meter, &utc, utc_ns(2023, 12, 30, 12), 50.0, &out);
    cr_assert_eq(out.count, 2);
    expect_emission(&out, STREAM_EMISSION_EVENT, 0, utc_ns(2024, 1, 1, 12), 101.0);
    expect_emission(&out, STREAM_EMISSION_EVENT, 1, utc_ns(2023, 12, 30, 12), 50.0);
    cr_assert_eq(out.emissions[0].event, STREAM_EVENT_LATE_READING);
    cr_assert_str_eq(stream_event_kind_name(out.emissions[1].event), "late_reading");
    cr_assert_eq(meter.late_count, 2);
    meter.late_count = before.late_count;
    cr_assert_eq(memcmp(&meter, &before, sizeof meter), 0, "a late reading changed the state");

    out.count = 0;
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), 110.0, &out);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 2, 0), 105.0);
}

/* A device whose clock says 2036 must not hold the meter's later readings as late for years. */
Test(stream_meter, future_reading_is_an_event_stamped_now_and_changes_nothing_else)
{
    struct stream_calendar utc = stream_calendar_utc();
    const int64_t now = utc_ns(2024, 1, 2, 18);
    const struct stream_meter_context context = {.calendar = &utc, .now_ns = now};
    struct stream_meter meter = {0};
    struct collected out = {0};
    stream_meter_reading_apply(&meter, &context, utc_ns(2024, 1, 1, 12), 100.0, collect, &out);
    struct stream_meter before = meter;
    stream_meter_reading_apply(&meter, &context, utc_ns(2036, 2, 7, 6), 99999.0, collect, &out);
    cr_assert_eq(out.count, 1);
    expect_emission(&out, STREAM_EMISSION_EVENT, 0, now, 99999.0);
    cr_assert_str_eq(stream_event_kind_name(out.emissions[0].event), "future_reading");
    cr_expect_str_eq(out.emissions[0].detail, "dated 2036-02-07T06:00:00Z, more than a day after "
                                              "the relay's clock: a device clock error, ignored");
    cr_assert(meter.flags & STREAM_METER_FUTURE_OPEN);
    meter.flags &= ~(uint32_t)STREAM_METER_FUTURE_OPEN;
    cr_assert_eq(memcmp(&meter, &before, sizeof meter), 0, "a future reading changed the state");
    meter.flags |= STREAM_METER_FUTURE_OPEN;

    /* Within a day of the clock: a reading (a device sending local time as UTC). */
    out.count = 0;
    stream_meter_reading_apply(&meter, &context, now + 23 * 3600 * 1000000000LL, 110.0, collect,
                               &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 0);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_DAILY), 2, "midnights of Jan 2 and Jan 3");
    cr_assert_eq(meter.last_raw, 110.0);
    cr_assert_not(meter.flags & STREAM_METER_FUTURE_OPEN, "taken readings close the run");

    /* Without a clock (now_ns 0) nothing is checked. */
    const struct stream_meter_context unchecked = {.calendar = &utc};
    out.count = 0;
    stream_meter_reading_apply(&meter, &unchecked, utc_ns(2024, 1, 9, 6), 120.0, collect, &out);
    cr_assert_eq(meter.last_raw, 120.0);
}

/* A device that sends before it has the time counts from 1970 (or from 2000, its clock chip's
 * start): taken as the meter's first reading, every midnight since 1970 was emitted. */
Test(stream_meter, reading_before_2001_is_an_unset_clock_event_stamped_now)
{
    struct stream_calendar utc = stream_calendar_utc();
    const int64_t now = utc_ns(2024, 1, 2, 18);
    const struct stream_meter_context context = {.calendar = &utc, .now_ns = now};
    struct stream_meter meter = {0};
    struct collected out = {0};
    stream_meter_reading_apply(&meter, &context, 7000000000LL, 0.0, collect, &out);
    cr_assert_eq(out.count, 1);
    expect_emission(&out, STREAM_EMISSION_EVENT, 0, now, 0.0);
    cr_assert_str_eq(stream_event_kind_name(out.emissions[0].event), "unset_clock");
    cr_expect_str_eq(out.emissions[0].detail, "dated 1970-01-01T00:00:07Z, before 2001: the "
                                              "device's clock was not set, ignored");
    cr_assert_eq(meter.flags, (uint32_t)STREAM_METER_UNSET_CLOCK_OPEN, "nothing else changed");
    out.count = 0;
    stream_meter_reading_apply(&meter, &context, utc_ns(2000, 12, 31, 23), 5.0, collect, &out);
    cr_assert_str_eq(stream_event_kind_name(out.emissions[0].event), "unset_clock",
                     "a clock chip started at 2000-01-01");

    /* The first reading with the time set is the meter's first: no midnight before it. */
    out.count = 0;
    stream_meter_reading_apply(&meter, &context, utc_ns(2024, 1, 1, 12), 100.0, collect, &out);
    cr_assert_eq(out.count, 0);
    cr_assert_eq(meter.last_raw, 100.0);
    cr_assert_not(meter.flags & STREAM_METER_UNSET_CLOCK_OPEN, "taken readings close the run");
    stream_meter_reading_apply(&meter, &context, utc_ns(2024, 1, 2, 12), 110.0, collect, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_DAILY), 1, "only the midnight of Jan 2");

    /* A reboot later: the reading before the clock is set is not late, and changes nothing. */
    struct stream_meter before = meter;
    out.count = 0;
    stream_meter_reading_apply(&meter, &context, 12000000000LL, 111.0, collect, &out);
    cr_assert_str_eq(stream_event_kind_name(out.emissions[0].event), "unset_clock");
    cr_assert_eq(meter.late_count, 0);
    meter.flags &= ~(uint32_t)STREAM_METER_UNSET_CLOCK_OPEN;
    cr_assert_eq(memcmp(&meter, &before, sizeof meter), 0, "an unset clock changed the state");

    /* 2001-01-01T00:00:00Z itself is a reading. */
    cr_assert_not(stream_meter_reading_is_misdated(&context, utc_ns(2001, 1, 1, 0)));
    cr_assert(stream_meter_reading_is_misdated(&context, utc_ns(2001, 1, 1, 0) - 1));
    /* Without a clock (now_ns 0) nothing is checked, as for future readings. */
    const struct stream_meter_context unchecked = {.calendar = &utc};
    cr_assert_not(stream_meter_reading_is_misdated(&unchecked, 7000000000LL));
}

Test(stream_meter, small_dip_is_noise_and_discarded)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 100.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), 95.0, &out);
    cr_assert_eq(out.count, 1, "a dip emits its event and no day");
    expect_emission(&out, STREAM_EMISSION_EVENT, 0, utc_ns(2024, 1, 2, 12), 95.0);
    cr_assert_eq(out.emissions[0].event, STREAM_EVENT_NEGATIVE_DELTA);
    cr_assert_str_eq(stream_event_kind_name(STREAM_EVENT_NEGATIVE_DELTA), "negative_delta");
    cr_assert_eq(meter.negative_delta_count, 1);

    /* The register holds at 100: the next reading is interpolated from 100 on Jan 1st, 12:00. */
    out.count = 0;
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 110.0, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_DAILY), 2);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 2, 0), 102.5);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 1, 3, 0), 107.5);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 1, utc_ns(2024, 1, 3, 0), 5.0);
}

Test(stream_meter, ninety_percent_is_still_a_dip_and_below_is_held)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 100.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), 90.0, &out);
    cr_assert_eq(out.count, 1);
    cr_assert_eq(out.emissions[0].event, STREAM_EVENT_NEGATIVE_DELTA);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 89.99, &out);
    cr_assert_eq(out.count, 1, "a larger drop waits for the next reading");
    cr_assert(meter.flags & STREAM_METER_PENDING);
}

Test(stream_meter, transient_zeros_are_a_glitch_and_book_nothing)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 100.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), 0.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 0.0, &out);
    cr_assert_eq(out.count, 0, "held readings emit nothing yet");
    apply(&meter, &utc, utc_ns(2024, 1, 4, 12), 130.0, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 1);
    expect_emission(&out, STREAM_EMISSION_EVENT, 0, utc_ns(2024, 1, 2, 12), 0.0);
    cr_assert_eq(nth(&out, STREAM_EMISSION_EVENT, 0)->event, STREAM_EVENT_GLITCH);
    cr_assert_str_eq(stream_event_kind_name(STREAM_EVENT_GLITCH), "glitch");
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 2, 0), 105.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 1, 3, 0), 115.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 2, utc_ns(2024, 1, 4, 0), 125.0);
    for (size_t i = 0; i < 3; i++)
        cr_expect_leq(nth(&out, STREAM_EMISSION_CONSUMPTION, i)->value, 10.0);
    cr_assert_eq(meter.glitch_count, 1);
    cr_assert_eq(meter.reset_count, 0);
    cr_assert_eq(meter.offset, 0.0);
    cr_assert_not(meter.flags & STREAM_METER_PENDING);
}

Test(stream_meter, glitch_then_small_dip_reports_both)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 100.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), 3.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 99.0, &out);
    cr_assert_eq(out.count, 2);
    cr_assert_eq(out.emissions[0].event, STREAM_EVENT_GLITCH);
    expect_emission(&out, STREAM_EMISSION_EVENT, 1, utc_ns(2024, 1, 3, 12), 99.0);
    cr_assert_eq(out.emissions[1].event, STREAM_EVENT_NEGATIVE_DELTA);
}

Test(stream_meter, reset_keeps_the_register_level_and_continues)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 9998.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), 2.0, &out);
    cr_assert_eq(out.count, 0);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 6.0, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 1);
    const struct stream_emission *reset = nth(&out, STREAM_EMISSION_EVENT, 0);
    cr_assert_eq(reset->event, STREAM_EVENT_RESET);
    cr_assert_str_eq(stream_event_kind_name(reset->event), "reset");
    expect_emission(&out, STREAM_EMISSION_EVENT, 0, utc_ns(2024, 1, 2, 12), 2.0);
    cr_assert_eq(reset->offset, 9996.0);
    cr_assert_eq(meter.offset, 9996.0);
    /* Level across the drop (9998 until the reset reading), then 4 per day from there. */
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 2, 0), 9998.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 1, 3, 0), 10000.0);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 0, utc_ns(2024, 1, 2, 0), 0.0);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 1, utc_ns(2024, 1, 3, 0), 2.0);
    cr_assert_eq(nth(&out, STREAM_EMISSION_DAILY, 1)->offset, 9996.0);
    cr_assert_eq(meter.reset_count, 1);
}

Test(stream_meter, reset_to_zero_with_repeated_zeros_stays_level_until_it_runs)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 500.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), 0.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 0.0, &out);
    cr_assert_eq(out.count, 0);
    apply(&meter, &utc, utc_ns(2024, 1, 4, 12), 1.0, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 1);
    cr_assert_eq(nth(&out, STREAM_EMISSION_EVENT, 0)->event, STREAM_EVENT_RESET);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 2, 0), 500.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 1, 3, 0), 500.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 2, utc_ns(2024, 1, 4, 0), 500.5);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 1, utc_ns(2024, 1, 3, 0), 0.0);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 2, utc_ns(2024, 1, 4, 0), 0.5);
}

/* The last emission of a kind stamped t: what InfluxDB holds once every point is written. */
static const struct stream_emission *latest_at(const struct collected *collected,
                                               enum stream_emission_kind kind, int64_t t)
{
    const struct stream_emission *latest = NULL;
    for (size_t i = 0; i < collected->count; i++)
        if (collected->emissions[i].kind == kind && collected->emissions[i].timestamp_ns == t)
            latest = &collected->emissions[i];
    cr_assert_not_null(latest, "no emission of kind %d at %lld", kind, (long long)t);
    return latest;
}

/* A hand-read water meter: 1357 typed as 13595, corrected seven minutes later. The drop from the
 * typo is no replacement (which would book 12 238 m³): the correction lies at or above the
 * reading before the typo, so the typo is the outlier. The days it had made are emitted again. */
static void typo_corrected_books_nothing(bool correction_repeated)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    int64_t before_t = utc_ns(2024, 1, 3, 12), typo_t = utc_ns(2024, 1, 5, 12);
    int64_t correction_t = typo_t + 7 * 60 * STREAM_CALENDAR_NS_PER_SECOND;
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 1350.0, &out);
    apply(&meter, &utc, before_t, 1357.0, &out);
    apply(&meter, &utc, typo_t, 13595.0, &out);
    cr_assert_gt(latest_at(&out, STREAM_EMISSION_DAILY, utc_ns(2024, 1, 5, 0))->value, 10000.0,
                 "the stream cannot know yet");
    apply(&meter, &utc, correction_t, 1359.5, &out);
    if (correction_repeated)
        apply(&meter, &utc, correction_t + HOUR_NS, 1359.5, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 7, 12), 1366.0, &out);

    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 1);
    const struct stream_emission *event = nth(&out, STREAM_EMISSION_EVENT, 0);
    cr_expect_eq(event->event, STREAM_EVENT_GLITCH);
    expect_emission(&out, STREAM_EMISSION_EVENT, 0, typo_t, 13595.0);
    cr_expect_eq(meter.glitch_count, 1);
    cr_expect_eq(meter.reset_count + meter.replacement_count, 0);
    cr_expect_eq(meter.offset, 0.0);
    cr_expect_eq(meter.last_raw, 1366.0);
    cr_expect_eq(meter.reading_count, 4 + (correction_repeated ? 1 : 0));

    /* Every midnight as if the typo had never been read. */
    double correction_span = (double)(correction_t - before_t);
    double jan4 = 1357.0 + 2.5 * (double)(utc_ns(2024, 1, 4, 0) - before_t) / correction_span;
    double jan5 = 1357.0 + 2.5 * (double)(utc_ns(2024, 1, 5, 0) - before_t) / correction_span;
    double jan2 = 1350.0 + 7.0 * 12.0 / 48.0, jan3 = 1350.0 + 7.0 * 36.0 / 48.0;
    double expected[][2] = {
        {jan3, jan3 - jan2}, {jan4, jan4 - jan3}, {jan5, jan5 - jan4}, {0.0, 0.0}, {0.0, 0.0}};
    int64_t correction_held_t = correction_t + (correction_repeated ? HOUR_NS : 0);
    double rate = 6.5 / (double)(utc_ns(2024, 1, 7, 12) - correction_held_t);
    expected[3][0] = 1359.5 + rate * (double)(utc_ns(2024, 1, 6, 0) - correction_held_t);
    expected[3][1] = expected[3][0] - jan5;
    expected[4][0] = 1359.5 + rate * (double)(utc_ns(2024, 1, 7, 0) - correction_held_t);
    expected[4][1] = expected[4][0] - expected[3][0];
    double booked = 0;
    for (int day = 0; day < 5; day++) {
        int64_t midnight = utc_ns(2024, 1, 3 + day, 0);
        const struct stream_emission *daily = latest_at(&out, STREAM_EMISSION_DAILY, midnight);
        const struct stream_emission *used = latest_at(&out, STREAM_EMISSION_CONSUMPTION, midnight);
        cr_expect(fabs(daily->value - expected[day][0]) < 1e-9, "Jan %d: register %.17g, not %.17g",
                  3 + day, daily->value, expected[day][0]);
        cr_expect(fabs(used->value - expected[day][1]) < 1e-9,
                  "Jan %d: consumption %.17g, not %.17g", 3 + day, used->value, expected[day][1]);
        booked += used->value;
    }
    cr_expect(fabs(booked - (expected[4][0] - jan2)) < 1e-9, "booked %.17g", booked);
}

Test(stream_meter, typo_corrected_at_once_books_nothing)
{
    typo_corrected_books_nothing(false);
}

Test(stream_meter, typo_corrected_twice_books_nothing)
{
    typo_corrected_books_nothing(true);
}

/* A typo within 10 %: 1359.5 typed as 1395.5, the next weekly readings below it. Without the rule
 * each would be a negative_delta until the meter passes 1395.5, three months without a day. */
Test(stream_meter, small_typo_is_discarded_once_the_next_readings_continue_below_it)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 1350.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 1357.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 5, 12), 1395.5, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 7, 12), 1359.5, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 0, "the dip waits for the next reading");
    cr_assert(meter.flags & STREAM_METER_PENDING);
    apply(&meter, &utc, utc_ns(2024, 1, 9, 12), 1363.5, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 1);
    cr_expect_eq(nth(&out, STREAM_EMISSION_EVENT, 0)->event, STREAM_EVENT_GLITCH);
    expect_emission(&out, STREAM_EMISSION_EVENT, 0, utc_ns(2024, 1, 5, 12), 1395.5);
    cr_expect_eq(meter.negative_delta_count, 0);
    cr_expect_eq(meter.last_raw, 1363.5);
    /* 1357 at the 3rd noon, 1359.5 at the 7th, 1363.5 at the 9th: 0.625 a day, then 2 a day. */
    static const double registers[] = {1357.0 + 0.625 * 0.5, 1357.0 + 0.625 * 1.5,
                                       1357.0 + 0.625 * 2.5, 1357.0 + 0.625 * 3.5,
                                       1359.5 + 2.0 * 0.5,   1359.5 + 2.0 * 1.5};
    for (int day = 0; day < 6; day++) {
        int64_t midnight = utc_ns(2024, 1, 4 + day, 0);
        double value = latest_at(&out, STREAM_EMISSION_DAILY, midnight)->value;
        cr_expect(fabs(value - registers[day]) < 1e-9, "Jan %d: %.17g, not %.17g", 4 + day, value,
                  registers[day]);
    }
}

/* A meter that jitters by its last digit: a dip that the next reading passes is noise. */
Test(stream_meter, dip_the_next_reading_passes_is_noise)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 100.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), 100.2, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 13), 100.1, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 100.3, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 1);
    cr_expect_eq(nth(&out, STREAM_EMISSION_EVENT, 0)->event, STREAM_EVENT_NEGATIVE_DELTA);
    expect_emission(&out, STREAM_EMISSION_EVENT, 0, utc_ns(2024, 1, 2, 13), 100.1);
    cr_expect_eq(meter.glitch_count, 0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 1, 3, 0), 100.25);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_DAILY), 2, "no midnight written twice");
}

/* A drop below the reading before last is no typo: the meter restarted (or was replaced). */
Test(stream_meter, drop_below_the_reading_before_last_stays_a_reset)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 9990.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), 9998.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 9989.0 * 0.5, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 4, 12), 9989.0 * 0.5 + 4.0, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_EVENT), 1);
    cr_expect_eq(nth(&out, STREAM_EMISSION_EVENT, 0)->event, STREAM_EVENT_REPLACEMENT);
    cr_expect_eq(meter.glitch_count, 0);
    cr_expect_eq(meter.offset, 9998.0 - 9989.0 * 0.5);
}

Test(stream_meter, value_that_is_not_a_number_is_a_glitch)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 100.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 12), NAN, &out);
    cr_assert_eq(out.count, 1);
    cr_assert_eq(out.emissions[0].event, STREAM_EVENT_GLITCH);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 120.0, &out);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 2, 0), 105.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 1, 3, 0), 115.0);
}

/* Integrations report "unavailable" as 2^64 - 1 (or 2^63 - 1): booked, it would become a day of
 * 1.8e19 and then a reset whose offset rounds every later consumption to 0. */
Test(stream_meter, value_beyond_two_to_the_53_is_a_glitch)
{
    struct stream_calendar utc = stream_calendar_utc();
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &utc, utc_ns(2024, 1, 1, 12), 100.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 6), 18446744073709551615.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 7), -9223372036854775807.0, &out);
    apply(&meter, &utc, utc_ns(2024, 1, 2, 8), 9007199254740992.0, &out);
    cr_assert_eq(out.count, 3);
    for (size_t i = 0; i < 3; i++)
        cr_expect_eq(out.emissions[i].event, STREAM_EVENT_GLITCH);
    apply(&meter, &utc, utc_ns(2024, 1, 3, 12), 120.0, &out);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 1, 2, 0), 105.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 1, 3, 0), 115.0);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 1, utc_ns(2024, 1, 3, 0), 10.0);
    cr_expect_eq(meter.glitch_count, 3);
    cr_expect_eq(meter.reset_count, 0);

    /* Just under the limit is a reading like any other. */
    apply(&meter, &utc, utc_ns(2024, 1, 4, 12), 9007199254740990.0, &out);
    cr_expect_eq(meter.last_raw, 9007199254740990.0);
}

static struct tz_zone *zone_load(const char *name)
{
    char error[512] = "";
    struct tz_zone *zone = tz_zone_load(name, error, sizeof error);
    cr_assert_not_null(zone, "loading %s: %s", name, error);
    return zone;
}

Test(stream_meter, berlin_spring_day_books_23_hours)
{
    struct tz_zone *berlin = zone_load("Europe/Berlin");
    struct stream_calendar calendar = stream_calendar_zone(berlin);
    struct stream_meter meter = {0};
    struct collected out = {0};
    /* One unit per hour. */
    apply(&meter, &calendar, utc_ns(2024, 3, 30, 12), 0.0, &out);
    apply(&meter, &calendar, utc_ns(2024, 4, 1, 12), 48.0, &out);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_DAILY), 2);
    expect_emission(&out, STREAM_EMISSION_DAILY, 0, utc_ns(2024, 3, 30, 23), 11.0);
    expect_emission(&out, STREAM_EMISSION_DAILY, 1, utc_ns(2024, 3, 31, 22), 34.0);
    expect_emission(&out, STREAM_EMISSION_CONSUMPTION, 1, utc_ns(2024, 3, 31, 22), 23.0);
    expect_emission(&out, STREAM_EMISSION_MONTHLY, 0, utc_ns(2024, 3, 30, 23), 11.0);
    cr_assert_eq(count_of(&out, STREAM_EMISSION_MONTHLY), 1);
    tz_zone_free(berlin);
}

Test(stream_meter, berlin_autumn_day_books_25_hours_and_local_month_end)
{
    struct tz_zone *berlin = zone_load("Europe/Berlin");
    struct stream_calendar calendar = stream_calendar_zone(berlin);
    struct stream_meter meter = {0};
    struct collected out = {0};
    apply(&meter, &calendar, utc_ns(2024, 10, 26, 12), 0.0, &out);
    apply(&meter, &calendar, utc_ns(2024, 11, 1, 12), 144.0, &out);
    static const double registers[] = {10, 35, 59, 83, 107, 131};
    static const double consumption[] = {0, 25, 24, 24, 24, 24};
    static const int64_t utc_hours[] = {22, 23, 23, 23, 23, 23};
    cr_assert_eq(count_of(&out, STREAM_EMISSION_DAILY), 6);
    for (size_t i = 0; i < 6; i++) {
        int64_t midnight =
            utc_ns(2024, 10, 26, 0) + (int64_t)i * 24 * HOUR_NS + utc_hours[i] * HOUR_NS;
        expect_emission(&out, STREAM_EMISSION_DAILY, i, midnight, registers[i]);
        expect_emission(&out, STREAM_EMISSION_CONSUMPTION, i, midnight, consumption[i]);
    }
    cr_assert_eq(count_of(&out, STREAM_EMISSION_MONTHLY), 1);
    expect_emission(&out, STREAM_EMISSION_MONTHLY, 0, utc_ns(2024, 10, 30, 23), 107.0);
    tz_zone_free(berlin);
}

Test(stream_meter, state_is_small_and_event_names_match_the_schema)
{
    cr_assert_leq(sizeof(struct stream_meter), 1024);
    static const char *const names[] = {
        "reset", "replacement", "glitch",       "negative_delta", "stuck",      "leak",
        "stale", "spike_rate",  "late_reading", "future_reading", "unset_clock"};
    for (int kind = STREAM_EVENT_RESET; kind < STREAM_EVENT_KIND_COUNT; kind++)
        cr_expect_str_eq(stream_event_kind_name((enum stream_event_kind)kind), names[kind]);
}
