/* Numbers of the line protocol: precisions, the float range limit, float conversion on demand
 * and decimal formatting of integers and floats. */
#include "relay/lineproto.h"
#include "relay/lineproto_internal.h"

#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The decimal digits of 2^1024 - 2^970: the smallest magnitude that rounds to infinity (the
 * midpoint between DBL_MAX and 2^1024, which round-half-even sends upwards). */
static const char lineproto_float_overflow_digits[] =
    "17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797"
    "75872070963302864166928879109465555478519404026306574886715058206819089020007083836762738548"
    "45817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711"
    "559699508093042880177904174497792";

bool lineproto_float_digits_overflow(const struct lineproto_float_digits *digits)
{
    const char *parts[2][2] = {{digits->integer_start, digits->integer_end},
                               {digits->fraction_start, digits->fraction_end}};
    size_t index = 0;
    const size_t limit_length = sizeof lineproto_float_overflow_digits - 1;
    for (size_t part = 0; part < 2; part++) {
        for (const char *p = parts[part][0]; p < parts[part][1]; p++, index++) {
            char limit = index < limit_length ? lineproto_float_overflow_digits[index] : '0';
            if (*p != limit)
                return *p > limit;
        }
    }
    /* Equal so far: the literal is a prefix of the limit, i.e. >= it only if the rest is zeros. */
    for (; index < limit_length; index++)
        if (lineproto_float_overflow_digits[index] != '0')
            return false;
    return true;
}

/* Clinger's fast path: when the digits form an integer below 2^53 and the power of ten is within
 * 10^22, both are exact doubles and one IEEE multiplication or division rounds correctly, so the
 * result equals strtod's. Meter readings ("12345.678") nearly always qualify, and strtod costs
 * several times more. Returns false to leave the literal to strtod. */
static bool float_fast_parse(const char *text, size_t length, double *out)
{
    static const double powers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t at = 0;
    bool negative = at < length && text[at] == '-';
    at += negative;
    uint64_t mantissa = 0;
    int digits = 0, exponent = 0;
    bool fraction = false;
    for (; at < length; at++) {
        char c = text[at];
        if (c == '.' && !fraction) {
            fraction = true;
            continue;
        }
        if (c < '0' || c > '9')
            break;
        if (mantissa == 0 && c == '0') {
            exponent -= fraction; /* a leading zero only shifts the point */
            continue;
        }
        if (++digits > 19)
            return false;
        mantissa = mantissa * 10 + (uint64_t)(c - '0');
        exponent -= fraction;
    }
    if (at < length && (text[at] == 'e' || text[at] == 'E')) {
        at++;
        bool exponent_negative = at < length && text[at] == '-';
        at += at < length && (text[at] == '-' || text[at] == '+');
        int written = 0;
        for (; at < length && text[at] >= '0' && text[at] <= '9'; at++)
            if ((written = written * 10 + (text[at] - '0')) > 1000)
                return false;
        exponent += exponent_negative ? -written : written;
    }
    if (at != length || mantissa > (UINT64_C(1) << 53) || exponent < -22 || exponent > 22)
        return false;
    double value = (double)mantissa;
    value = exponent < 0 ? value / powers[-exponent] : value * powers[exponent];
    *out = negative ? -value : value;
    return true;
}

/* Whether text[0 .. length) is [-+]digits[.digits][e[-+]digits] with at least one mantissa digit
 * (or the same with the point first). */
static bool float_syntax_valid(const char *text, size_t length)
{
    size_t at = 0, digits = 0;
    if (at < length && (text[at] == '-' || text[at] == '+'))
        at++;
    for (; at < length && lineproto_is_digit(text[at]); at++)
        digits++;
    if (at < length && text[at] == '.')
        for (at++; at < length && lineproto_is_digit(text[at]); at++)
            digits++;
    if (digits == 0)
        return false;
    if (at < length && (text[at] == 'e' || text[at] == 'E')) {
        at++;
        if (at < length && (text[at] == '-' || text[at] == '+'))
            at++;
        size_t exponent_digits = 0;
        for (; at < length && lineproto_is_digit(text[at]); at++)
            exponent_digits++;
        if (exponent_digits == 0)
            return false;
    }
    return at == length;
}

int lineproto_float_parse(const char *text, size_t length, double *out)
{
    if (!float_syntax_valid(text, length))
        return -1;
    if (float_fast_parse(text, length, out))
        return 0;
    char local[128];
    if (length == 0 || length >= sizeof local)
        return -1;
    memcpy(local, text, length);
    local[length] = '\0';
    char *end;
    double value = strtod(local, &end);
    if (end != local + length || !isfinite(value))
        return -1;
    *out = value;
    return 0;
}

int lineproto_field_float(const struct lineproto_field *field, double *out)
{
    if (field->type != LINEPROTO_VALUE_FLOAT)
        return -1;
    if (float_fast_parse(field->value.data, field->value.length, out))
        return 0;
    /* strtod needs a terminated copy: the literal is followed by more input (or nothing). */
    char local[128];
    char *text = local;
    if (field->value.length >= sizeof local) {
        text = malloc(field->value.length + 1);
        if (!text)
            return -1;
    }
    memcpy(text, field->value.data, field->value.length);
    text[field->value.length] = '\0';
    /* The parser validated the syntax and the range: strtod sees digits, '.', 'e' and signs only,
     * and may report ERANGE just for an underflow to zero or a subnormal, which is fine. */
    *out = strtod(text, NULL);
    if (text != local)
        free(text);
    return 0;
}

int lineproto_precision_parse(const char *text, size_t length, enum lineproto_precision *out)
{
    static const struct {
        const char *name;
        size_t length;
        enum lineproto_precision precision;
    } names[] = {
        {"n", 1, LINEPROTO_PRECISION_NANOSECOND},
        {"ns", 2, LINEPROTO_PRECISION_NANOSECOND},
        {"u", 1, LINEPROTO_PRECISION_MICROSECOND},
        {"us", 2, LINEPROTO_PRECISION_MICROSECOND},
        {"\xC2\xB5", 2, LINEPROTO_PRECISION_MICROSECOND}, /* µ */
        {"ms", 2, LINEPROTO_PRECISION_MILLISECOND},
        {"s", 1, LINEPROTO_PRECISION_SECOND},
        {"m", 1, LINEPROTO_PRECISION_MINUTE},
        {"h", 1, LINEPROTO_PRECISION_HOUR},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].length == length && memcmp(names[i].name, text, length) == 0) {
            *out = names[i].precision;
            return 0;
        }
    return -1;
}

const char *lineproto_precision_name(enum lineproto_precision precision)
{
    switch (precision) {
    case LINEPROTO_PRECISION_NANOSECOND:
        return "ns";
    case LINEPROTO_PRECISION_MICROSECOND:
        return "us";
    case LINEPROTO_PRECISION_MILLISECOND:
        return "ms";
    case LINEPROTO_PRECISION_SECOND:
        return "s";
    case LINEPROTO_PRECISION_MINUTE:
        return "m";
    case LINEPROTO_PRECISION_HOUR:
        return "h";
    }
    return "?";
}

int64_t lineproto_precision_nanoseconds(enum lineproto_precision precision)
{
    switch (precision) {
    case LINEPROTO_PRECISION_NANOSECOND:
        return 1;
    case LINEPROTO_PRECISION_MICROSECOND:
        return 1000;
    case LINEPROTO_PRECISION_MILLISECOND:
        return 1000000;
    case LINEPROTO_PRECISION_SECOND:
        return 1000000000;
    case LINEPROTO_PRECISION_MINUTE:
        return 60 * (int64_t)1000000000;
    case LINEPROTO_PRECISION_HOUR:
        return 3600 * (int64_t)1000000000;
    }
    return 1;
}

int64_t lineproto_time_truncate(int64_t receive_time, enum lineproto_precision precision)
{
    int64_t unit = lineproto_precision_nanoseconds(precision);
    int64_t remainder = receive_time % unit;
    if (remainder < 0)
        remainder += unit;
    return receive_time - remainder;
}

size_t lineproto_int64_format(int64_t value, char *out)
{
    char digits[24];
    size_t count = 0;
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    size_t length = 0;
    if (value < 0)
        out[length++] = '-';
    while (count > 0)
        out[length++] = digits[--count];
    out[length] = '\0';
    return length;
}

/* The shortest %g text by trying precisions 15, 16 and 17 with snprintf and strtod: exact, but
 * two or three conversions each way. For normal doubles, decimals of 15 significant digits are
 * spaced wider than the doubles, so at most one lies in the interval that rounds to value: when a
 * decimal of <= 15 digits reads back as value, %.15g (the nearest 15-digit decimal, trailing zeros
 * dropped) is it; otherwise the first of 16 and 17 digits that reads back is the shortest (17
 * always does). Subnormals are spaced wider than that, so there every precision is tried. */
static size_t float_format_search(double value, char *out, int precision)
{
    if (fabs(value) < DBL_MIN)
        precision = 1;
    int length = 0;
    for (; precision <= 17; precision++) {
        length = snprintf(out, LINEPROTO_NUMBER_SIZE, "%.*g", precision, value);
        if (strtod(out, NULL) == value)
            break;
    }
    return length > 0 ? (size_t)length : 0;
}

/* Writes digits[0].digits[1 .. precision) x 10^exponent (digits[0] != '0') as %.{precision}g
 * would: trailing zeros dropped, exponential when exponent < -4 or >= precision. Returns the
 * length. */
static size_t float_text_write(bool negative, const char *digits, int precision, int exponent,
                               char *out)
{
    int count = precision;
    while (count > 1 && digits[count - 1] == '0')
        count--;
    size_t at = 0;
    if (negative)
        out[at++] = '-';
    if (exponent < -4 || exponent >= precision) {
        out[at++] = digits[0];
        if (count > 1) {
            out[at++] = '.';
            for (int i = 1; i < count; i++)
                out[at++] = digits[i];
        }
        out[at++] = 'e';
        out[at++] = exponent < 0 ? '-' : '+';
        int magnitude = exponent < 0 ? -exponent : exponent;
        if (magnitude >= 100)
            out[at++] = (char)('0' + magnitude / 100);
        out[at++] = (char)('0' + magnitude / 10 % 10);
        out[at++] = (char)('0' + magnitude % 10);
    } else if (exponent < 0) {
        out[at++] = '0';
        out[at++] = '.';
        for (int i = -1; i > exponent; i--)
            out[at++] = '0';
        for (int i = 0; i < count; i++)
            out[at++] = digits[i];
    } else {
        for (int i = 0; i <= exponent; i++)
            out[at++] = i < count ? digits[i] : '0';
        if (count > exponent + 1) {
            out[at++] = '.';
            for (int i = exponent + 1; i < count; i++)
                out[at++] = digits[i];
        }
    }
    out[at] = '\0';
    return at;
}

size_t lineproto_float_format(double value, char *out)
{
    if (!isfinite(value) || fabs(value) < DBL_MIN)
        return float_format_search(value, out, 15);
    /* One conversion to 21 significant digits (correctly rounded by glibc), then the candidates of
     * 15, 16 and 17 digits are rounded from that text. Rounding the 21-digit text gives the same
     * digits as rounding the exact value, except when the digits cut off are exactly 5000...: the
     * exact tail may lie on either side of the half then, and snprintf decides that precision. A
     * candidate is taken when it reads back as value (Clinger's fast path first, then strtod). */
    char text[40];
    int length = snprintf(text, sizeof text, "%.20e", fabs(value));
    if (length < 25 || text[1] != '.')
        return float_format_search(value, out, 15);
    char exact[21];
    exact[0] = text[0];
    memcpy(exact + 1, text + 2, 20);
    int exponent = atoi(text + 23);
    bool negative = signbit(value);
    for (int precision = 15; precision <= 17; precision++) {
        bool tie = exact[precision] == '5';
        for (int i = precision + 1; i < 21 && tie; i++)
            tie = exact[i] == '0';
        if (tie) {
            size_t written = float_format_search(value, out, precision);
            if (strtod(out, NULL) == value)
                return written;
            continue;
        }
        char digits[18];
        memcpy(digits, exact, (size_t)precision);
        int candidate_exponent = exponent;
        if (exact[precision] >= '5') {
            int i = precision - 1;
            for (; i >= 0 && digits[i] == '9'; i--)
                digits[i] = '0';
            if (i >= 0) {
                digits[i]++;
            } else {
                digits[0] = '1';
                candidate_exponent++;
            }
        }
        size_t written = float_text_write(negative, digits, precision, candidate_exponent, out);
        double back;
        if (!float_fast_parse(out, written, &back))
            back = strtod(out, NULL);
        if (back == value)
            return written;
    }
    return float_format_search(value, out, 17);
}
