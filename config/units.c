#include "config/units.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define UNITS_FRACTION_DIGITS 9

/* A decimal number split into an integer part and up to 9 fraction digits, so sizes and
 * durations are computed exactly instead of through a double. */
struct units_decimal {
    uint64_t integer;
    uint64_t fraction; /* fraction / 10^9 */
};

static bool units_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool units_is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Reads digits[.digits] at text[*position]. Returns -1 when there is no digit or the integer part
 * does not fit; extra fraction digits beyond nanosecond precision are ignored. */
static int units_decimal_read(const char *text, size_t length, size_t *position,
                              struct units_decimal *out)
{
    size_t i = *position;
    bool any_digit = false;
    out->integer = 0;
    out->fraction = 0;
    while (i < length && units_is_digit(text[i])) {
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (out->integer > (UINT64_MAX - digit) / 10)
            return -1;
        out->integer = out->integer * 10 + digit;
        any_digit = true;
        i++;
    }
    if (i < length && text[i] == '.') {
        i++;
        uint64_t scale = 100000000; /* the first fraction digit is worth 10^8 / 10^9 */
        while (i < length && units_is_digit(text[i])) {
            out->fraction += (uint64_t)(text[i] - '0') * scale;
            scale /= 10;
            any_digit = true;
            i++;
        }
    }
    if (!any_digit)
        return -1;
    *position = i;
    return 0;
}

/* value x unit, exactly; -1 on overflow or when the result is not whole and whole is required. */
static int units_decimal_scale(const struct units_decimal *value, uint64_t unit, bool whole,
                               uint64_t *out)
{
    unsigned __int128 total = (unsigned __int128)value->integer * unit;
    unsigned __int128 fraction = (unsigned __int128)value->fraction * unit;
    if (whole && fraction % 1000000000u != 0)
        return -1;
    total += fraction / 1000000000u;
    if (total > UINT64_MAX)
        return -1;
    *out = (uint64_t)total;
    return 0;
}

struct units_name {
    const char *name;
    uint64_t factor;
};

static const struct units_name units_sizes[] = {
    {"B", 1},
    {"kB", UINT64_C(1000)},
    {"MB", UINT64_C(1000000)},
    {"GB", UINT64_C(1000000000)},
    {"TB", UINT64_C(1000000000000)},
    {"KiB", UINT64_C(1) << 10},
    {"MiB", UINT64_C(1) << 20},
    {"GiB", UINT64_C(1) << 30},
    {"TiB", UINT64_C(1) << 40},
};

#define UNITS_SIZE_EXPECTED                                                                        \
    "a size: bytes, or a number with B, kB, MB, GB, TB, KiB, MiB, GiB or TiB such as 64MiB"

int units_size_parse(const char *text, size_t length, uint64_t *bytes, char *why, size_t why_size)
{
    size_t position = 0;
    struct units_decimal value;
    if (units_decimal_read(text, length, &position, &value) != 0) {
        if (position < length && units_is_digit(text[position]))
            snprintf(why, why_size, "is too large for a size");
        else
            snprintf(why, why_size, "is not %s", UNITS_SIZE_EXPECTED);
        return -1;
    }
    while (position < length && units_is_space(text[position]))
        position++;
    uint64_t factor = 1;
    if (position < length) {
        size_t unit_length = length - position;
        bool found = false;
        for (size_t i = 0; i < sizeof units_sizes / sizeof units_sizes[0]; i++) {
            if (strlen(units_sizes[i].name) == unit_length &&
                strncasecmp(units_sizes[i].name, text + position, unit_length) == 0) {
                factor = units_sizes[i].factor;
                found = true;
                break;
            }
        }
        if (!found) {
            snprintf(why, why_size, "is not %s", UNITS_SIZE_EXPECTED);
            return -1;
        }
    }
    if (units_decimal_scale(&value, factor, true, bytes) != 0) {
        if (units_decimal_scale(&value, factor, false, bytes) == 0)
            snprintf(why, why_size, "is not a whole number of bytes");
        else
            snprintf(why, why_size, "is too large for a size (at most 16EiB)");
        return -1;
    }
    return 0;
}

static const struct units_name units_durations[] = {
    /* Longest names first, so "ms" is not read as "m" followed by "s". */
    {"ns", UINT64_C(1)},
    {"us", UINT64_C(1000)},
    {"\xc2\xb5s", UINT64_C(1000)}, /* µs */
    {"ms", UINT64_C(1000000)},
    {"s", UINT64_C(1000000000)},
    {"m", UINT64_C(60000000000)},
    {"h", UINT64_C(3600000000000)},
    {"d", UINT64_C(86400000000000)},
};

#define UNITS_DURATION_EXPECTED                                                                    \
    "a duration: a number with ns, us, ms, s, m, h or d such as 10s, 500ms or 1h30m"

/* Finds the unit at text[position..]; the longest match wins. */
static const struct units_name *units_duration_unit(const char *text, size_t length,
                                                    size_t position)
{
    const struct units_name *best = NULL;
    size_t best_length = 0;
    for (size_t i = 0; i < sizeof units_durations / sizeof units_durations[0]; i++) {
        size_t name_length = strlen(units_durations[i].name);
        if (name_length <= length - position && name_length > best_length &&
            memcmp(units_durations[i].name, text + position, name_length) == 0) {
            best = &units_durations[i];
            best_length = name_length;
        }
    }
    return best;
}

int units_duration_parse(const char *text, size_t length, int64_t plain_unit_ns,
                         int64_t *nanoseconds, char *why, size_t why_size)
{
    size_t position = 0;
    uint64_t total = 0;
    char plain_hint[48] = "";
    if (plain_unit_ns == UNITS_SECOND)
        snprintf(plain_hint, sizeof plain_hint, ", or plain seconds");
    else if (plain_unit_ns == UNITS_MILLISECOND)
        snprintf(plain_hint, sizeof plain_hint, ", or plain milliseconds");
    else if (plain_unit_ns == UNITS_MICROSECOND)
        snprintf(plain_hint, sizeof plain_hint, ", or plain microseconds");
    if (length > 0 && text[0] == '-') {
        snprintf(why, why_size, "is negative; expected %s%s", UNITS_DURATION_EXPECTED, plain_hint);
        return -1;
    }
    bool first = true;
    do {
        while (position < length && units_is_space(text[position]))
            position++;
        struct units_decimal value;
        if (units_decimal_read(text, length, &position, &value) != 0) {
            if (position < length && units_is_digit(text[position]))
                snprintf(why, why_size, "is too long for a duration");
            else
                snprintf(why, why_size, "is not %s%s", UNITS_DURATION_EXPECTED, plain_hint);
            return -1;
        }
        while (position < length && units_is_space(text[position]))
            position++;
        uint64_t unit;
        if (position == length && first) {
            unit = (uint64_t)plain_unit_ns; /* a plain number */
        } else {
            const struct units_name *name = units_duration_unit(text, length, position);
            if (!name) {
                snprintf(why, why_size, "is not %s%s", UNITS_DURATION_EXPECTED, plain_hint);
                return -1;
            }
            unit = name->factor;
            position += strlen(name->name);
        }
        uint64_t part;
        if (units_decimal_scale(&value, unit, false, &part) != 0 || part > INT64_MAX - total) {
            snprintf(why, why_size, "is too long for a duration (at most about 292 years)");
            return -1;
        }
        total += part;
        first = false;
    } while (position < length);
    *nanoseconds = (int64_t)total;
    return 0;
}

void units_size_format(uint64_t bytes, char *out, size_t out_size)
{
    /* Binary units first: 64MiB reads better than 67.108864MB. */
    static const int order[] = {8, 7, 6, 5, 4, 3, 2, 1};
    if (bytes != 0) {
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            const struct units_name *unit = &units_sizes[order[i]];
            if (bytes % unit->factor == 0) {
                snprintf(out, out_size, "%llu%s", (unsigned long long)(bytes / unit->factor),
                         unit->name);
                return;
            }
        }
    }
    snprintf(out, out_size, "%llu", (unsigned long long)bytes);
}

void units_duration_format(int64_t nanoseconds, char *out, size_t out_size)
{
    static const struct units_name names[] = {
        {"h", UINT64_C(3600000000000)}, {"m", UINT64_C(60000000000)}, {"s", UINT64_C(1000000000)},
        {"ms", UINT64_C(1000000)},      {"us", UINT64_C(1000)},       {"ns", UINT64_C(1)},
    };
    if (nanoseconds <= 0) {
        snprintf(out, out_size, "0s");
        return;
    }
    uint64_t value = (uint64_t)nanoseconds;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (value % names[i].factor == 0) {
            snprintf(out, out_size, "%llu%s", (unsigned long long)(value / names[i].factor),
                     names[i].name);
            return;
        }
    }
}

enum units_family { UNITS_ENERGY, UNITS_VOLUME };

struct units_measure {
    const char *name;
    enum units_family family;
    double factor; /* in kWh or m³ */
};

static const struct units_measure units_measures[] = {
    {"Wh", UNITS_ENERGY, 0.001},      {"kWh", UNITS_ENERGY, 1.0},
    {"MWh", UNITS_ENERGY, 1000.0},    {"GWh", UNITS_ENERGY, 1000000.0},
    {"m\xc2\xb3", UNITS_VOLUME, 1.0}, {"m3", UNITS_VOLUME, 1.0},
    {"m^3", UNITS_VOLUME, 1.0},       {"l", UNITS_VOLUME, 0.001},
    {"L", UNITS_VOLUME, 0.001},
};

/* Unit names compare without case, as the reference pipeline's do: a meters.yaml it reads with
 * "kwh" in one place and "kWh" in another must load here too (no two units of the table differ
 * only in case but l and L, which are the same). */
static const struct units_measure *units_measure_find(const char *name)
{
    for (size_t i = 0; i < sizeof units_measures / sizeof units_measures[0]; i++)
        if (strcasecmp(units_measures[i].name, name) == 0)
            return &units_measures[i];
    return NULL;
}

int units_conversion_factor(const char *from_unit, const char *to_unit, double kwh_per_cubic_metre,
                            double *factor)
{
    if (strcasecmp(from_unit, to_unit) == 0) {
        *factor = 1.0;
        return 0;
    }
    const struct units_measure *from = units_measure_find(from_unit);
    const struct units_measure *to = units_measure_find(to_unit);
    if (!from || !to)
        return -1;
    if (from->family == to->family) {
        *factor = from->factor / to->factor;
        return 0;
    }
    if (kwh_per_cubic_metre <= 0)
        return -1;
    if (from->family == UNITS_VOLUME) /* m³ -> kWh -> to */
        *factor = from->factor * kwh_per_cubic_metre / to->factor;
    else /* from -> kWh -> m³ -> to */
        *factor = from->factor / kwh_per_cubic_metre / to->factor;
    return 0;
}
