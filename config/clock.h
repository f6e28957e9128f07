/* The clock seam: every component asks a struct clock for the time, so tests can drive days,
 * midnights and timeouts without sleeping. */
#ifndef NEBENKOSTEN_CONFIG_CLOCK_H
#define NEBENKOSTEN_CONFIG_CLOCK_H

#include <stdint.h>

struct clock {
    /* Wall-clock time in nanoseconds since the Unix epoch (UTC). */
    int64_t (*realtime_ns)(void *context);
    /* A clock that never jumps, for timeouts and durations; ns from an arbitrary origin. */
    int64_t (*monotonic_ns)(void *context);
    void *context; /* borrowed; passed to both callbacks */
};

/* The real clocks (CLOCK_REALTIME, CLOCK_MONOTONIC). */
struct clock clock_system(void);

/* A clock for tests: both readings come from *fake and move only when the test says so. */
struct clock_fake {
    int64_t realtime_ns;
    int64_t monotonic_ns;
};
/* fake is borrowed and must outlive the returned clock. */
struct clock clock_fake_make(struct clock_fake *fake);
/* Moves both readings forward by delta_ns. */
void clock_fake_advance(struct clock_fake *fake, int64_t delta_ns);

int64_t clock_realtime_ns(const struct clock *clock);
int64_t clock_monotonic_ns(const struct clock *clock);

#endif
