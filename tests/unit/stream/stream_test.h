/* Helpers shared by the stream unit tests: UTC instants and an emission collector. */
#ifndef NEBENKOSTEN_TESTS_STREAM_TEST_H
#define NEBENKOSTEN_TESTS_STREAM_TEST_H

#include <criterion/criterion.h>
#include <stdlib.h>

#include "config/tz.h"
#include "stream/meter.h"

#define TEST_HOUR_NS (3600 * STREAM_CALENDAR_NS_PER_SECOND)
#define TEST_DAY_NS STREAM_CALENDAR_NS_PER_DAY

static inline int64_t test_utc_ns(int year, int month, int day, int hour)
{
    return (tz_days_from_civil(year, month, day) * 86400 + hour * 3600) *
           STREAM_CALENDAR_NS_PER_SECOND;
}

/* Every emission, in order; free items when done. */
struct test_emissions {
    struct stream_emission *items;
    size_t count, capacity;
};

static inline void test_emissions_collect(const struct stream_emission *emission, void *argument)
{
    struct test_emissions *emissions = argument;
    if (emissions->count == emissions->capacity) {
        emissions->capacity = emissions->capacity ? 2 * emissions->capacity : 64;
        emissions->items =
            realloc(emissions->items, emissions->capacity * sizeof *emissions->items);
        cr_assert_not_null(emissions->items);
    }
    emissions->items[emissions->count++] = *emission;
}

/* How many events of kind were emitted. */
static inline size_t test_events_count(const struct test_emissions *emissions,
                                       enum stream_event_kind kind)
{
    size_t count = 0;
    for (size_t i = 0; i < emissions->count; i++)
        count +=
            emissions->items[i].kind == STREAM_EMISSION_EVENT && emissions->items[i].event == kind;
    return count;
}

/* The first event of kind, or NULL. */
static inline const struct stream_emission *test_event_find(const struct test_emissions *emissions,
                                                            enum stream_event_kind kind)
{
    for (size_t i = 0; i < emissions->count; i++)
        if (emissions->items[i].kind == STREAM_EMISSION_EVENT && emissions->items[i].event == kind)
            return &emissions->items[i];
    return NULL;
}

/* The anomaly stamped at t_ns, or NULL. */
static inline const struct stream_emission *
test_anomaly_find(const struct test_emissions *emissions, int64_t t_ns)
{
    for (size_t i = 0; i < emissions->count; i++)
        if (emissions->items[i].kind == STREAM_EMISSION_ANOMALY &&
            emissions->items[i].timestamp_ns == t_ns)
            return &emissions->items[i];
    return NULL;
}

static inline size_t test_kind_count(const struct test_emissions *emissions,
                                     enum stream_emission_kind kind)
{
    size_t count = 0;
    for (size_t i = 0; i < emissions->count; i++)
        count += emissions->items[i].kind == kind;
    return count;
}

#endif
