#include <criterion/criterion.h>

#include <time.h>

#include "config/clock.h"

Test(clock_fake, moves_only_when_told)
{
    struct clock_fake fake = {.realtime_ns = INT64_C(1700000000000000000), .monotonic_ns = 5};
    struct clock clock = clock_fake_make(&fake);
    cr_assert_eq(clock_realtime_ns(&clock), INT64_C(1700000000000000000));
    cr_assert_eq(clock_monotonic_ns(&clock), 5);
    clock_fake_advance(&fake, INT64_C(86400000000000));
    cr_assert_eq(clock_realtime_ns(&clock), INT64_C(1700086400000000000));
    cr_assert_eq(clock_monotonic_ns(&clock), INT64_C(86400000000005));
    fake.realtime_ns = 0; /* a test may also set a reading directly, e.g. jump the wall clock */
    cr_assert_eq(clock_realtime_ns(&clock), 0);
    cr_assert_eq(clock_monotonic_ns(&clock), INT64_C(86400000000005));
}

Test(clock_system, reads_the_real_clocks)
{
    struct clock clock = clock_system();
    int64_t before = (int64_t)time(NULL);
    int64_t realtime = clock_realtime_ns(&clock);
    int64_t after = (int64_t)time(NULL);
    cr_assert_geq(realtime / 1000000000, before);
    cr_assert_leq(realtime / 1000000000, after);
    int64_t first = clock_monotonic_ns(&clock);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 2000000};
    cr_assert_eq(nanosleep(&pause, NULL), 0);
    int64_t second = clock_monotonic_ns(&clock);
    cr_assert_geq(second - first, 2000000);
}
