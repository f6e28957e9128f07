/* Numbers: integer and float range edges, timestamps in every precision, formatting. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/lineproto.h"

static struct lineproto_parser *parser;
static char *input;
static struct lineproto_point point;
static struct lineproto_error error;

static void numbers_setup(void)
{
    parser = lineproto_parser_create();
    cr_assert_not_null(parser);
}

static void numbers_teardown(void)
{
    lineproto_parser_destroy(parser);
    free(input);
    input = NULL;
}

TestSuite(lineproto_numbers, .init = numbers_setup, .fini = numbers_teardown);

static enum lineproto_status parse_in(const char *text, enum lineproto_precision precision)
{
    size_t length = strlen(text);
    free(input);
    input = malloc(length);
    cr_assert_not_null(input);
    memcpy(input, text, length);
    lineproto_parser_start(parser, input, length, precision);
    return lineproto_parser_next(parser, &point, &error);
}

static enum lineproto_status parse(const char *text)
{
    return parse_in(text, LINEPROTO_PRECISION_NANOSECOND);
}

static void value_rejected(const char *value, const char *reason_start)
{
    char line[512];
    snprintf(line, sizeof line, "m f=%s", value);
    cr_assert_eq(parse(line), LINEPROTO_INVALID, "%s accepted", value);
    cr_assert(strncmp(error.reason, reason_start, strlen(reason_start)) == 0, "%s: %s", value,
              error.reason);
}

Test(lineproto_numbers, integer_range_edges)
{
    cr_assert_eq(parse("m f=9223372036854775807i"), LINEPROTO_POINT);
    cr_assert_eq(point.fields[0].as.integer, INT64_MAX);
    cr_assert_eq(parse("m f=-9223372036854775808i"), LINEPROTO_POINT);
    cr_assert_eq(point.fields[0].as.integer, INT64_MIN);
    cr_assert_eq(parse("m f=-0i"), LINEPROTO_POINT);
    cr_assert_eq(point.fields[0].as.integer, 0);
    cr_assert_eq(parse("m f=0000000000000000000000000042i"), LINEPROTO_POINT);
    cr_assert_eq(point.fields[0].as.integer, 42);
    cr_assert_eq(parse("m f=-12345678i"), LINEPROTO_POINT);
    cr_assert_eq(point.fields[0].as.integer, -12345678);
    value_rejected("9223372036854775808i", "integer value \"9223372036854775808i\" for field "
                                           "\"f\" is out of range: expected "
                                           "-9223372036854775808i to 9223372036854775807i");
    value_rejected("-9223372036854775809i", "integer value \"-9223372036854775809i\" for field");
    value_rejected("99999999999999999999999i", "integer value");
}

Test(lineproto_numbers, unsigned_range_edges)
{
    cr_assert_eq(parse("m f=18446744073709551615u"), LINEPROTO_POINT);
    cr_assert_eq(point.fields[0].as.unsigned_integer, UINT64_MAX);
    cr_assert_eq(parse("m f=0u"), LINEPROTO_POINT);
    cr_assert_eq(point.fields[0].as.unsigned_integer, 0);
    cr_assert_eq(parse("m f=000018446744073709551615u"), LINEPROTO_POINT);
    cr_assert_eq(point.fields[0].as.unsigned_integer, UINT64_MAX);
    value_rejected("18446744073709551616u", "unsigned integer value \"18446744073709551616u\" for "
                                            "field \"f\" is out of range: expected 0u to "
                                            "18446744073709551615u");
    value_rejected("-1u", "invalid unsigned integer value \"-1u\" for field \"f\": unsigned "
                          "integers cannot be negative");
    value_rejected("-0u", "invalid unsigned integer value \"-0u\"");
}

Test(lineproto_numbers, every_integer_digit_count)
{
    /* Crosses the 8-digit blocks of the digit parser. */
    int64_t value = 0;
    char line[64];
    for (int digits = 1; digits <= 18; digits++) {
        value = value * 10 + digits % 10;
        snprintf(line, sizeof line, "m f=%lldi,g=-%lldi", (long long)value, (long long)value);
        cr_assert_eq(parse(line), LINEPROTO_POINT);
        cr_assert_eq(point.fields[0].as.integer, value, "%d digits", digits);
        cr_assert_eq(point.fields[1].as.integer, -value);
    }
}

Test(lineproto_numbers, float_range_edges)
{
    cr_assert_eq(parse("m f=1.7976931348623157e308"), LINEPROTO_POINT);
    /* Rounds down to DBL_MAX: still finite. */
    cr_assert_eq(parse("m f=1.7976931348623158e308,g=-1.7976931348623158e308"), LINEPROTO_POINT);
    double value;
    cr_assert_eq(lineproto_field_float(&point.fields[0], &value), 0);
    cr_assert(isfinite(value));
    cr_assert_eq(parse("m f=0.00017976931348623158e312"), LINEPROTO_POINT);
    /* 2^1024 - 2^970 is the first value that rounds to infinity. */
    cr_assert_eq(parse("m f=1.79769313486231580793728971405303415079934132710037826936173778980"
                       "4449682927647509466490179775872070963302864166928879109465555478519404"
                       "0263065748867150582068190890200070838367627385484581771153176447573027"
                       "0069855571366959622842914819860834936475292719074168444365510704342711"
                       "559699508093042880177904174497791e308"),
                 LINEPROTO_POINT);
    value_rejected("1.79769313486231580793728971405303415079934132710037826936173778980"
                   "4449682927647509466490179775872070963302864166928879109465555478519404"
                   "0263065748867150582068190890200070838367627385484581771153176447573027"
                   "0069855571366959622842914819860834936475292719074168444365510704342711"
                   "559699508093042880177904174497792e308",
                   "float value");
    value_rejected("1.7976931348623159e308", "float value \"1.7976931348623159e308\" for field "
                                             "\"f\" is out of range: its magnitude must not "
                                             "exceed 1.7976931348623157e308");
    value_rejected("-1.7976931348623159e308", "float value");
    value_rejected("1e309", "float value");
    value_rejected("1e400", "float value");
    value_rejected("0.1e310", "float value");
    value_rejected("1000e306", "float value");
    value_rejected("1e99999999999999999999999", "float value");
    cr_assert_eq(parse("m f=1e308,g=0.1e309,h=10e307,i=0e99999,j=0.000e400"), LINEPROTO_POINT);
    /* Underflow is not an error: it reads as zero (or a subnormal). */
    cr_assert_eq(parse("m f=1e-400,g=4.9e-324,h=1e-99999999999999999999"), LINEPROTO_POINT);
    cr_assert_eq(lineproto_field_float(&point.fields[0], &value), 0);
    cr_assert_eq(value, 0.0);
    cr_assert_eq(lineproto_field_float(&point.fields[1], &value), 0);
    cr_assert_gt(value, 0.0);
}

Test(lineproto_numbers, timestamp_range_edges_in_nanoseconds)
{
    cr_assert_eq(parse("m f=1 9223372036854775806"), LINEPROTO_POINT);
    cr_assert_eq(point.time, LINEPROTO_TIME_MAX);
    cr_assert_eq(parse("m f=1 -9223372036854775806"), LINEPROTO_POINT);
    cr_assert_eq(point.time, LINEPROTO_TIME_MIN);
    cr_assert_eq(parse("m f=1 0"), LINEPROTO_POINT);
    cr_assert_eq(point.time, 0);
    cr_assert_eq(parse("m f=1 -0"), LINEPROTO_POINT);
    cr_assert_eq(point.time, 0);
    const char *too_far[] = {"9223372036854775807", "-9223372036854775807", "-9223372036854775808",
                             "9223372036854775808", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof too_far / sizeof too_far[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "m f=1 %s", too_far[i]);
        cr_assert_eq(parse(line), LINEPROTO_INVALID, "%s", too_far[i]);
        char expected[256];
        snprintf(expected, sizeof expected,
                 "timestamp \"%s\" (in nanoseconds) is out of range: it must lie within "
                 "-9223372036854775806 and 9223372036854775806 ns",
                 too_far[i]);
        cr_assert_str_eq(error.reason, expected);
    }
}

Test(lineproto_numbers, timestamps_scale_by_precision)
{
    static const struct {
        enum lineproto_precision precision;
        const char *largest; /* largest value that fits after scaling */
        int64_t largest_ns;
        const char *overflow; /* one more */
        const char *unit;
    } cases[] = {
        {LINEPROTO_PRECISION_MICROSECOND, "9223372036854775", 9223372036854775000,
         "9223372036854776", "microseconds"},
        {LINEPROTO_PRECISION_MILLISECOND, "9223372036854", 9223372036854000000, "9223372036855",
         "milliseconds"},
        {LINEPROTO_PRECISION_SECOND, "9223372036", 9223372036000000000, "9223372037", "seconds"},
        {LINEPROTO_PRECISION_MINUTE, "153722867", 9223372020000000000, "153722868", "minutes"},
        {LINEPROTO_PRECISION_HOUR, "2562047", 9223369200000000000, "2562048", "hours"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "m f=1 %s", cases[i].largest);
        cr_assert_eq(parse_in(line, cases[i].precision), LINEPROTO_POINT, "%s", cases[i].unit);
        cr_assert_eq(point.time, cases[i].largest_ns);
        snprintf(line, sizeof line, "m f=1 -%s", cases[i].largest);
        cr_assert_eq(parse_in(line, cases[i].precision), LINEPROTO_POINT);
        cr_assert_eq(point.time, -cases[i].largest_ns);
        snprintf(line, sizeof line, "m f=1 %s", cases[i].overflow);
        cr_assert_eq(parse_in(line, cases[i].precision), LINEPROTO_INVALID);
        char expected[256];
        snprintf(expected, sizeof expected,
                 "timestamp \"%s\" (in %s) is out of range: it must lie within "
                 "-9223372036854775806 and 9223372036854775806 ns",
                 cases[i].overflow, cases[i].unit);
        cr_assert_str_eq(error.reason, expected);
        snprintf(line, sizeof line, "m f=1 -%s", cases[i].overflow);
        cr_assert_eq(parse_in(line, cases[i].precision), LINEPROTO_INVALID);
    }
    cr_assert_eq(parse_in("m f=1 1600000000", LINEPROTO_PRECISION_SECOND), LINEPROTO_POINT);
    cr_assert_eq(point.time, 1600000000000000000);
    cr_assert_eq(parse_in("m f=1 -3", LINEPROTO_PRECISION_MILLISECOND), LINEPROTO_POINT);
    cr_assert_eq(point.time, -3000000);
}

Test(lineproto_numbers, precision_names)
{
    static const struct {
        const char *text;
        enum lineproto_precision precision;
        int64_t nanoseconds;
    } cases[] = {
        {"n", LINEPROTO_PRECISION_NANOSECOND, 1},
        {"ns", LINEPROTO_PRECISION_NANOSECOND, 1},
        {"u", LINEPROTO_PRECISION_MICROSECOND, 1000},
        {"us", LINEPROTO_PRECISION_MICROSECOND, 1000},
        {"\xC2\xB5", LINEPROTO_PRECISION_MICROSECOND, 1000},
        {"ms", LINEPROTO_PRECISION_MILLISECOND, 1000000},
        {"s", LINEPROTO_PRECISION_SECOND, 1000000000},
        {"m", LINEPROTO_PRECISION_MINUTE, 60000000000},
        {"h", LINEPROTO_PRECISION_HOUR, 3600000000000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum lineproto_precision precision = LINEPROTO_PRECISION_HOUR;
        cr_assert_eq(lineproto_precision_parse(cases[i].text, strlen(cases[i].text), &precision), 0,
                     "%s", cases[i].text);
        cr_assert_eq(precision, cases[i].precision);
        cr_assert_eq(lineproto_precision_nanoseconds(precision), cases[i].nanoseconds);
    }
    enum lineproto_precision precision = LINEPROTO_PRECISION_SECOND;
    const char *bad[] = {"", "S", "sec", "d", "nss", "mu", "µs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(lineproto_precision_parse(bad[i], strlen(bad[i]), &precision), -1, "%s",
                     bad[i]);
    cr_assert_eq(precision, LINEPROTO_PRECISION_SECOND);
    cr_assert_str_eq(lineproto_precision_name(LINEPROTO_PRECISION_MICROSECOND), "us");
    cr_assert_str_eq(lineproto_precision_name(LINEPROTO_PRECISION_MINUTE), "m");
}

Test(lineproto_numbers, time_truncate_rounds_towards_the_past)
{
    int64_t now = 1600000000123456789;
    cr_assert_eq(lineproto_time_truncate(now, LINEPROTO_PRECISION_NANOSECOND), now);
    cr_assert_eq(lineproto_time_truncate(now, LINEPROTO_PRECISION_MICROSECOND),
                 1600000000123456000);
    cr_assert_eq(lineproto_time_truncate(now, LINEPROTO_PRECISION_MILLISECOND),
                 1600000000123000000);
    cr_assert_eq(lineproto_time_truncate(now, LINEPROTO_PRECISION_SECOND), 1600000000000000000);
    cr_assert_eq(lineproto_time_truncate(now, LINEPROTO_PRECISION_MINUTE), 1599999960000000000);
    cr_assert_eq(lineproto_time_truncate(now, LINEPROTO_PRECISION_HOUR), 1599998400000000000);
    cr_assert_eq(lineproto_time_truncate(-1, LINEPROTO_PRECISION_SECOND), -1000000000);
}

Test(lineproto_numbers, int64_format)
{
    char text[LINEPROTO_NUMBER_SIZE];
    cr_assert_eq(lineproto_int64_format(0, text), 1);
    cr_assert_str_eq(text, "0");
    cr_assert_eq(lineproto_int64_format(INT64_MIN, text), 20);
    cr_assert_str_eq(text, "-9223372036854775808");
    lineproto_int64_format(INT64_MAX, text);
    cr_assert_str_eq(text, "9223372036854775807");
    lineproto_int64_format(-42, text);
    cr_assert_str_eq(text, "-42");
}

Test(lineproto_numbers, float_format_is_shortest_round_trip)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {1.5, "1.5"},
        {0.1, "0.1"},
        {100, "100"},
        {-0.0, "-0"},
        {1e300, "1e+300"},
        {0.30000000000000004, "0.30000000000000004"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {5e-324, "5e-324"},
        {2.5e-320, "2.5e-320"},
        {0.0, "0"},
        {123456.789, "123456.789"},
        {9007199254740993.0, "9007199254740992"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[LINEPROTO_NUMBER_SIZE];
        size_t length = lineproto_float_format(cases[i].value, text);
        cr_assert_str_eq(text, cases[i].text);
        cr_assert_eq(length, strlen(cases[i].text));
        cr_assert_eq(strtod(text, NULL), cases[i].value);
    }
}

/* lineproto_field_float reads short literals without strtod; it must give strtod's double, bit for
 * bit, across digit counts, leading and trailing zeros, exponents and signs. */
Test(lineproto_numbers, float_conversion_equals_strtod)
{
    static const char *const fixed[] = {"0",
                                        "-0",
                                        "0.0",
                                        "1",
                                        "12345.678",
                                        "0.001",
                                        "000123.4",
                                        "1e22",
                                        "1e23",
                                        "9007199254740993",
                                        "9007199254740992",
                                        "123456789012345678901",
                                        "0.1",
                                        "-2.5e-3",
                                        "1.7976931348623157e308",
                                        "4.9e-324",
                                        ".5",
                                        "5.",
                                        "1E+5",
                                        "3.14159265358979323846"};
    char literal[64];
    uint64_t state = 88172645463325252u;
    for (size_t i = 0; i < 200000; i++) {
        if (i < sizeof fixed / sizeof fixed[0]) {
            snprintf(literal, sizeof literal, "%s", fixed[i]);
        } else {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            int digits = 1 + (int)(state % 20), dot = (int)((state >> 8) % (size_t)(digits + 1));
            size_t at = 0;
            if ((state >> 16) & 1)
                literal[at++] = '-';
            for (int d = 0; d < digits; d++) {
                if (d == dot && d > 0)
                    literal[at++] = '.';
                literal[at++] = (char)('0' + (state >> (20 + d * 2)) % 10);
            }
            if ((state >> 62) & 1)
                at += (size_t)snprintf(literal + at, sizeof literal - at, "e%d",
                                       (int)((state >> 40) % 60) - 30);
            literal[at] = '\0';
        }
        struct lineproto_field field = {.type = LINEPROTO_VALUE_FLOAT,
                                        .value = {literal, strlen(literal)}};
        double fast = 0.0;
        cr_assert_eq(lineproto_field_float(&field, &fast), 0);
        double expected = strtod(literal, NULL);
        cr_assert(memcmp(&fast, &expected, sizeof fast) == 0, "%s: %.17g, strtod says %.17g",
                  literal, fast, expected);
    }
}

/* The first %.Pg text that reads back, trying every precision from 15 (from 1 for subnormals,
 * whose spacing is wider): the definition lineproto_float_format must meet with fewer
 * conversions. */
static size_t float_shortest_reference(double value, char *out)
{
    int length = 0;
    for (int precision = fabs(value) < 0x1p-1022 ? 1 : 15; precision <= 17; precision++) {
        length = snprintf(out, LINEPROTO_NUMBER_SIZE, "%.*g", precision, value);
        if (strtod(out, NULL) == value)
            break;
    }
    return (size_t)length;
}

static uint64_t float_test_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Random bit patterns, meter-like decimals (readings, their differences and interpolations) and
 * values near powers of ten and ties: the same text as the exhaustive search, every time. */
Test(lineproto_numbers, float_format_equals_the_exhaustive_shortest_search)
{
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    size_t compared = 0;
    for (int i = 0; i < 300000; i++) {
        double value;
        uint64_t bits = float_test_random(&state);
        switch (i % 4) {
        case 0:
            memcpy(&value, &bits, sizeof value);
            break;
        case 1:
            value = (double)(bits % 100000000) / 1000.0;
            break;
        case 2:
            value = (double)(bits % 1000000007) / 7919.0 + (double)(bits % 97) * 1e5;
            break;
        default:
            value = ldexp(1.0, (int)(bits % 200) - 100) * (double)(bits % 1000003);
            break;
        }
        if (!isfinite(value))
            continue;
        char ours[LINEPROTO_NUMBER_SIZE], expected[LINEPROTO_NUMBER_SIZE];
        size_t length = lineproto_float_format(value, ours);
        float_shortest_reference(value, expected);
        cr_assert_str_eq(ours, expected, "value %a", value);
        cr_assert_eq(length, strlen(expected));
        compared++;
    }
    cr_assert_gt(compared, 250000);
}

Test(lineproto_numbers, float_parse_reads_whole_literals_only)
{
    double value;
    cr_assert_eq(lineproto_float_parse("12345.678", 9, &value), 0);
    cr_assert_eq(value, 12345.678);
    cr_assert_eq(lineproto_float_parse("1.7976931348623157e308x", 22, &value), 0);
    cr_assert_eq(value, 1.7976931348623157e308);
    cr_assert_eq(lineproto_float_parse("12a", 3, &value), -1);
    cr_assert_eq(lineproto_float_parse("", 0, &value), -1);
    cr_assert_eq(lineproto_float_parse("1e999", 5, &value), -1);
}
