#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "config/units.h"

static int size_of(const char *text, uint64_t *bytes, char *why)
{
    return units_size_parse(text, strlen(text), bytes, why, 256);
}

static int duration_of(const char *text, int64_t plain_unit, int64_t *nanoseconds, char *why)
{
    return units_duration_parse(text, strlen(text), plain_unit, nanoseconds, why, 256);
}

Test(units_size, accepts_binary_decimal_and_plain_sizes)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {
        {"0", 0},
        {"1", 1},
        {"4096", 4096},
        {"64MiB", 67108864},
        {"512KiB", 524288},
        {"1GB", 1000000000},
        {"1gb", 1000000000},
        {"2 GiB", 2147483648},
        {"1kB", 1000},
        {"1KB", 1000},
        {"1.5KiB", 1536},
        {"0.5MiB", 524288},
        {"3TiB", 3298534883328},
        {"10B", 10},
        {"18446744073709551615", UINT64_MAX},
    };
    char why[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t bytes = 12345;
        cr_expect_eq(size_of(cases[i].text, &bytes, why), 0, "%s: %s", cases[i].text, why);
        cr_expect_eq(bytes, cases[i].bytes, "%s gave %llu", cases[i].text,
                     (unsigned long long)bytes);
    }
}

Test(units_size, refuses_what_is_not_a_size)
{
    static const char *const refused[] = {"",    "MiB",  "-1",   "1.5", "1 MiBs", "64XB",
                                          "1e3", "0x10", "1..2", " 1",  "1.1B",   "16384PiB"};
    char why[256];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        uint64_t bytes;
        cr_expect_eq(size_of(refused[i], &bytes, why), -1, "\"%s\" was accepted", refused[i]);
    }
    uint64_t bytes;
    size_of("64XB", &bytes, why);
    cr_expect_str_eq(why, "is not a size: bytes, or a number with B, kB, MB, GB, TB, KiB, MiB, "
                          "GiB or TiB such as 64MiB");
    size_of("1.5", &bytes, why);
    cr_expect_str_eq(why, "is not a whole number of bytes");
    size_of("16EiB", &bytes, why);
    cr_expect_str_eq(why, "is not a size: bytes, or a number with B, kB, MB, GB, TB, KiB, MiB, "
                          "GiB or TiB such as 64MiB");
    size_of("17000000TiB", &bytes, why);
    cr_expect_str_eq(why, "is too large for a size (at most 16EiB)");
    size_of("99999999999999999999", &bytes, why);
    cr_expect_str_eq(why, "is too large for a size");
}

Test(units_size, formats_with_the_largest_exact_unit)
{
    static const struct {
        uint64_t bytes;
        const char *text;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {1023, "1023"},
        {1024, "1KiB"},
        {1536, "1536"},
        {67108864, "64MiB"},
        {1000, "1kB"},
        {1000000000, "1GB"},
        {1073741824, "1GiB"},
        {3298534883328, "3TiB"},
        {2500000, "2500kB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[32];
        units_size_format(cases[i].bytes, text, sizeof text);
        cr_expect_str_eq(text, cases[i].text);
        uint64_t back;
        char why[256];
        cr_expect_eq(size_of(text, &back, why), 0);
        cr_expect_eq(back, cases[i].bytes, "%s does not read back", text);
    }
}

Test(units_duration, accepts_units_compounds_and_plain_numbers)
{
    static const struct {
        const char *text;
        int64_t plain;
        int64_t nanoseconds;
    } cases[] = {
        {"10s", UNITS_SECOND, 10 * UNITS_SECOND},
        {"500ms", UNITS_SECOND, 500 * UNITS_MILLISECOND},
        {"5m", UNITS_SECOND, 300 * UNITS_SECOND},
        {"1h", UNITS_SECOND, 3600 * UNITS_SECOND},
        {"1d", UNITS_SECOND, 86400 * UNITS_SECOND},
        {"1h30m", UNITS_SECOND, 5400 * UNITS_SECOND},
        {"1h 30m 15s", UNITS_SECOND, 5415 * UNITS_SECOND},
        {"1.5s", UNITS_SECOND, 1500 * UNITS_MILLISECOND},
        {"0.25h", UNITS_SECOND, 900 * UNITS_SECOND},
        {"30", UNITS_SECOND, 30 * UNITS_SECOND},
        {"2.5", UNITS_SECOND, 2500 * UNITS_MILLISECOND},
        {"250", UNITS_MICROSECOND, 250 * UNITS_MICROSECOND},
        {"250us", UNITS_MICROSECOND, 250 * UNITS_MICROSECOND},
        {"250\xc2\xb5s", UNITS_MICROSECOND, 250 * UNITS_MICROSECOND},
        {"7ns", UNITS_SECOND, 7},
        {"0", UNITS_SECOND, 0},
        {"0s", UNITS_SECOND, 0},
        {"10 s", UNITS_SECOND, 10 * UNITS_SECOND},
        {"9223372036s", UNITS_SECOND, INT64_C(9223372036) * UNITS_SECOND},
    };
    char why[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t nanoseconds = -1;
        cr_expect_eq(duration_of(cases[i].text, cases[i].plain, &nanoseconds, why), 0, "%s: %s",
                     cases[i].text, why);
        cr_expect_eq(nanoseconds, cases[i].nanoseconds, "%s gave %lld", cases[i].text,
                     (long long)nanoseconds);
    }
}

Test(units_duration, refuses_what_is_not_a_duration)
{
    static const char *const refused[] = {"",   "s",   "10x",  "-5s",   "1h30",       "10 sec",
                                          "1w", "+1s", "1e3s", "1..2s", "9223372037s"};
    char why[256];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int64_t nanoseconds;
        cr_expect_eq(duration_of(refused[i], UNITS_SECOND, &nanoseconds, why), -1,
                     "\"%s\" was accepted", refused[i]);
    }
    int64_t nanoseconds;
    duration_of("10x", UNITS_SECOND, &nanoseconds, why);
    cr_expect_str_eq(why, "is not a duration: a number with ns, us, ms, s, m, h or d such as 10s, "
                          "500ms or 1h30m, or plain seconds");
    duration_of("-5s", UNITS_SECOND, &nanoseconds, why);
    cr_expect_str_eq(why, "is negative; expected a duration: a number with ns, us, ms, s, m, h or "
                          "d such as 10s, 500ms or 1h30m, or plain seconds");
    duration_of("x", UNITS_MICROSECOND, &nanoseconds, why);
    cr_expect_str_eq(why, "is not a duration: a number with ns, us, ms, s, m, h or d such as 10s, "
                          "500ms or 1h30m, or plain microseconds");
    duration_of("9223372037s", UNITS_SECOND, &nanoseconds, why);
    cr_expect_str_eq(why, "is too long for a duration (at most about 292 years)");
}

Test(units_duration, formats_with_the_largest_exact_unit)
{
    static const struct {
        int64_t nanoseconds;
        const char *text;
    } cases[] = {
        {0, "0s"},
        {3600 * UNITS_SECOND, "1h"},
        {90 * UNITS_SECOND, "90s"},
        {120 * UNITS_SECOND, "2m"},
        {500 * UNITS_MILLISECOND, "500ms"},
        {1500 * UNITS_MICROSECOND, "1500us"},
        {7, "7ns"},
        {86400 * UNITS_SECOND, "24h"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[32];
        units_duration_format(cases[i].nanoseconds, text, sizeof text);
        cr_expect_str_eq(text, cases[i].text);
        int64_t back;
        char why[256];
        cr_expect_eq(duration_of(text, UNITS_SECOND, &back, why), 0);
        cr_expect_eq(back, cases[i].nanoseconds, "%s does not read back", text);
    }
}

Test(units_conversion, converts_energy_volume_and_gas)
{
    double factor = 0;
    const double gas = 11.504 * 0.8885;
    cr_expect_eq(units_conversion_factor("kWh", "kWh", gas, &factor), 0);
    cr_expect_eq(factor, 1.0);
    cr_expect_eq(units_conversion_factor("°C", "°C", gas, &factor), 0);
    cr_expect_eq(factor, 1.0);
    cr_expect_eq(units_conversion_factor("MWh", "kWh", gas, &factor), 0);
    cr_expect_eq(factor, 1000.0);
    cr_expect_eq(units_conversion_factor("Wh", "kWh", gas, &factor), 0);
    cr_expect_eq(factor, 0.001);
    cr_expect_eq(units_conversion_factor("m³", "kWh", gas, &factor), 0);
    cr_expect(fabs(factor - 10.221304) < 1e-9, "m³ -> kWh: %.9f", factor);
    cr_expect_eq(units_conversion_factor("kWh", "m³", gas, &factor), 0);
    cr_expect(fabs(factor - 1.0 / 10.221304) < 1e-12, "kWh -> m³: %.12f", factor);
    cr_expect_eq(units_conversion_factor("m3", "MWh", gas, &factor), 0);
    cr_expect(fabs(factor - 0.010221304) < 1e-12, "m3 -> MWh: %.12f", factor);
    cr_expect_eq(units_conversion_factor("l", "m³", gas, &factor), 0);
    cr_expect_eq(factor, 0.001);
    cr_expect_eq(units_conversion_factor("kwh", "kWh", gas, &factor), 0, "case as the reference");
    cr_expect_eq(factor, 1.0);
    cr_expect_eq(units_conversion_factor("M3", "kwh", gas, &factor), 0);
    cr_expect(fabs(factor - 10.221304) < 1e-9, "M3 -> kwh: %.9f", factor);
    cr_expect_eq(units_conversion_factor("kWh", "°C", gas, &factor), -1);
    cr_expect_eq(units_conversion_factor("kWh", "m³", 0, &factor), -1);
}
