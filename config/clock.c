#include "config/clock.h"

#include <stddef.h>
#include <time.h>

static int64_t clock_system_read(clockid_t id)
{
    struct timespec now;
    /* clock_gettime cannot fail for these clock ids on Linux; a zero reading would be visible. */
    if (clock_gettime(id, &now) < 0)
        return 0;
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static int64_t clock_system_realtime(void *context)
{
    (void)context;
    return clock_system_read(CLOCK_REALTIME);
}

static int64_t clock_system_monotonic(void *context)
{
    (void)context;
    return clock_system_read(CLOCK_MONOTONIC);
}

struct clock clock_system(void)
{
    return (struct clock){clock_system_realtime, clock_system_monotonic, NULL};
}

static int64_t clock_fake_realtime(void *context)
{
    return ((const struct clock_fake *)context)->realtime_ns;
}

static int64_t clock_fake_monotonic(void *context)
{
    return ((const struct clock_fake *)context)->monotonic_ns;
}

struct clock clock_fake_make(struct clock_fake *fake)
{
    return (struct clock){clock_fake_realtime, clock_fake_monotonic, fake};
}

void clock_fake_advance(struct clock_fake *fake, int64_t delta_ns)
{
    fake->realtime_ns += delta_ns;
    fake->monotonic_ns += delta_ns;
}

int64_t clock_realtime_ns(const struct clock *clock)
{
    return clock->realtime_ns(clock->context);
}

int64_t clock_monotonic_ns(const struct clock *clock)
{
    return clock->monotonic_ns(clock->context);
}
