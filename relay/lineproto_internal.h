/* Private to relay/lineproto*.c: the byte classes and scanners of the parser's hot path (inline,
 * so each call site compiles to a tight loop), and helpers shared between the codec's files. */
#ifndef NEBENKOSTEN_RELAY_LINEPROTO_INTERNAL_H
#define NEBENKOSTEN_RELAY_LINEPROTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "config/utf8.h"
#include "relay/lineproto.h"

/* For the scanners of the hot path: the compiler's size heuristics must not outline them. */
#define LINEPROTO_INLINE __attribute__((always_inline)) static inline

/* Byte classes (one table lookup answers "does this byte end the current token?"). */
enum {
    /* ends a measurement scan: , space \ control, non-ASCII (validated separately) */
    LINEPROTO_CLASS_MEASUREMENT_STOP = 1 << 0,
    /* ends a tag key, tag value or field key scan: the above and = */
    LINEPROTO_CLASS_KEY_STOP = 1 << 1,
    /* ends a string value scan: " \ newline, non-ASCII */
    LINEPROTO_CLASS_STRING_STOP = 1 << 2,
    /* ends a number, boolean or timestamp token: , space CR LF */
    LINEPROTO_CLASS_VALUE_END = 1 << 3,
    /* control characters 0x00-0x1F and 0x7F */
    LINEPROTO_CLASS_CONTROL = 1 << 4,
    /* what the blank/comment line skipper looks at: space CR LF # */
    LINEPROTO_CLASS_LINE_SKIP = 1 << 5,
};

extern const uint8_t lineproto_byte_class[256];

static inline bool lineproto_is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* First byte in [p, end) that may end a measurement (!key) or a key or tag value (key), or end:
 * , space \ control characters, bytes >= 0x80 (for UTF-8 validation), and = for keys. With SSE2
 * 16 bytes at a time (a signed compare below 0x20 catches control bytes and those >= 0x80 at
 * once), else through the class table. */
LINEPROTO_INLINE const char *lineproto_name_scan(const char *p, const char *end, bool key)
{
#if defined(__SSE2__)
    const __m128i comma = _mm_set1_epi8(',');
    const __m128i space = _mm_set1_epi8(' ');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i equals = _mm_set1_epi8('=');
    const __m128i delete_character = _mm_set1_epi8(0x7F);
    const __m128i first_printable = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i stop = _mm_or_si128(_mm_cmpeq_epi8(bytes, comma), _mm_cmpeq_epi8(bytes, space));
        stop = _mm_or_si128(stop, _mm_cmpeq_epi8(bytes, backslash));
        if (key)
            stop = _mm_or_si128(stop, _mm_cmpeq_epi8(bytes, equals));
        stop = _mm_or_si128(stop, _mm_cmplt_epi8(bytes, first_printable));
        stop = _mm_or_si128(stop, _mm_cmpeq_epi8(bytes, delete_character));
        unsigned mask = (unsigned)_mm_movemask_epi8(stop);
        if (mask != 0)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    uint8_t stop = key ? LINEPROTO_CLASS_KEY_STOP : LINEPROTO_CLASS_MEASUREMENT_STOP;
    while (p < end && !(lineproto_byte_class[(unsigned char)*p] & stop))
        p++;
    return p;
}

/* First byte in [p, end) that is " \ newline or >= 0x80, or end. */
LINEPROTO_INLINE const char *lineproto_string_scan(const char *p, const char *end)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i newline = _mm_set1_epi8('\n');
    while (end - p >= 16) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i stop = _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, newline));
        stop = _mm_or_si128(stop, _mm_cmpeq_epi8(bytes, backslash));
        unsigned mask = (unsigned)_mm_movemask_epi8(stop) | (unsigned)_mm_movemask_epi8(bytes);
        if (mask != 0)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    while (p < end && !(lineproto_byte_class[(unsigned char)*p] & LINEPROTO_CLASS_STRING_STOP))
        p++;
    return p;
}

/* First byte in [p, end) that ends a value token (, space CR LF), or end. */
LINEPROTO_INLINE const char *lineproto_value_scan(const char *p, const char *end)
{
    while (p < end && !(lineproto_byte_class[(unsigned char)*p] & LINEPROTO_CLASS_VALUE_END))
        p++;
    return p;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LINEPROTO_SWAR_DIGITS 1
/* How many of the 8 bytes (loaded little-endian: first byte lowest) are ASCII digits before the
 * first other byte. A byte is a digit when xor '0' leaves 0..9: no bit in the high nibble, before
 * or after adding 6. Only a non-digit byte (>= 0xFA after the xor) can carry into the next byte,
 * which lies after the first non-digit anyway. */
LINEPROTO_INLINE unsigned lineproto_eight_digits_count(uint64_t bytes)
{
    uint64_t digits = bytes ^ 0x3030303030303030u;
    uint64_t other = (digits | (digits + 0x0606060606060606u)) & 0xF0F0F0F0F0F0F0F0u;
    return other ? (unsigned)__builtin_ctzll(other) / 8 : 8;
}

/* The value of 8 ASCII digits loaded little-endian (first digit in the lowest byte). */
LINEPROTO_INLINE uint64_t lineproto_eight_digits_value(uint64_t bytes)
{
    bytes -= 0x3030303030303030u;
    bytes = (bytes * 10) + (bytes >> 8);
    bytes = (((bytes & 0x000000FF000000FFu) * (100 + (1000000ull << 32))) +
             (((bytes >> 16) & 0x000000FF000000FFu) * (1 + (10000ull << 32)))) >>
            32;
    return bytes;
}

/* The value of the first count (1..8) digits of the 8 bytes: the digits move to the top and
 * '0's fill in below them, which does not change the value. */
LINEPROTO_INLINE uint64_t lineproto_digits_value(uint64_t bytes, unsigned count)
{
    if (count < 8)
        bytes = (bytes << (64 - 8 * count)) | (0x3030303030303030u >> (8 * count));
    return lineproto_eight_digits_value(bytes);
}
#endif

static const uint64_t lineproto_powers_of_ten[9] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
};

/* Reads the digits at [p, end) into *value (uint64; *overflow set when it does not fit) and
 * returns the position after them. */
LINEPROTO_INLINE const char *lineproto_digits_parse(const char *p, const char *end, uint64_t *value,
                                                    bool *overflow)
{
    uint64_t accumulated = 0;
    bool overflowed = false;
#if defined(LINEPROTO_SWAR_DIGITS)
    while (end - p >= 8) {
        uint64_t bytes;
        memcpy(&bytes, p, 8);
        unsigned count = lineproto_eight_digits_count(bytes);
        if (count == 0)
            goto done;
        overflowed |=
            __builtin_mul_overflow(accumulated, lineproto_powers_of_ten[count], &accumulated);
        overflowed |=
            __builtin_add_overflow(accumulated, lineproto_digits_value(bytes, count), &accumulated);
        p += count;
        if (count < 8)
            goto done;
    }
#endif
    while (p < end && lineproto_is_digit(*p)) {
        overflowed |= __builtin_mul_overflow(accumulated, 10u, &accumulated);
        overflowed |= __builtin_add_overflow(accumulated, (uint64_t)(*p - '0'), &accumulated);
        p++;
    }
#if defined(LINEPROTO_SWAR_DIGITS)
done:
#endif
    *value = accumulated;
    *overflow = overflowed;
    return p;
}

/* Position after the run of digits at [p, end). */
LINEPROTO_INLINE const char *lineproto_digits_skip(const char *p, const char *end)
{
#if defined(LINEPROTO_SWAR_DIGITS)
    while (end - p >= 8) {
        uint64_t bytes;
        memcpy(&bytes, p, 8);
        unsigned count = lineproto_eight_digits_count(bytes);
        p += count;
        if (count < 8)
            return p;
    }
#endif
    while (p < end && lineproto_is_digit(*p))
        p++;
    return p;
}

/* The significant digits of a float literal: [integer_start, integer_end) then
 * [fraction_start, fraction_end), without leading zeros, for lineproto_float_digits_overflow. */
struct lineproto_float_digits {
    const char *integer_start, *integer_end;
    const char *fraction_start, *fraction_end;
};

/* Whether a literal 0.DIGITS x 10^309 rounds to infinity (is >= 2^1024 - 2^970). */
bool lineproto_float_digits_overflow(const struct lineproto_float_digits *digits);

/* The parser's state (opaque to everything but relay/lineproto*.c). */
struct lineproto_parser {
    const char *cursor; /* start of the next line */
    const char *end;
    size_t line_number; /* of the line at cursor */
    enum lineproto_precision precision;
    int64_t unit; /* ns per precision unit */
    struct lineproto_tag *tags;
    size_t tag_capacity;
    struct lineproto_field *fields;
    size_t field_capacity;
    struct lineproto_slice *sorted_keys; /* scratch for the duplicate-tag check of long tag sets */
    size_t sorted_key_capacity;
    uint32_t *field_slots; /* scratch for the field-type check of wide lines (field index + 1) */
    size_t field_slot_capacity;
};

/* Outcome of a numeric value check. */
enum lineproto_number_status {
    LINEPROTO_NUMBER_OK,
    LINEPROTO_NUMBER_SYNTAX,
    LINEPROTO_NUMBER_RANGE,
    LINEPROTO_NUMBER_NEGATIVE_UNSIGNED,
};

/* Whether p is at the end of a value token: end of input, ',', space, CR or LF. */
LINEPROTO_INLINE bool lineproto_value_ends(const char *p, const char *end)
{
    return p == end || (lineproto_byte_class[(unsigned char)*p] & LINEPROTO_CLASS_VALUE_END);
}

/* Parses the number value at p into field in one pass. Returns the position after it (a value
 * end) and sets *status; on an error the caller rescans the token for the message. */
LINEPROTO_INLINE const char *lineproto_number_parse(const char *p, const char *end,
                                                    struct lineproto_field *field,
                                                    enum lineproto_number_status *status)
{
    const char *start = p;
    bool negative = *p == '-';
    if (negative)
        p++;
    const char *integer_start = p;
    p = lineproto_digits_skip(p, end);
    *status = LINEPROTO_NUMBER_SYNTAX;
    if (p < end && (*p == 'i' || *p == 'u')) {
        if (p == integer_start || !lineproto_value_ends(p + 1, end))
            return p;
        field->value.data = start;
        field->value.length = (size_t)(p - start);
        uint64_t magnitude;
        bool overflow;
        lineproto_digits_parse(integer_start, p, &magnitude, &overflow);
        if (*p == 'i') {
            field->type = LINEPROTO_VALUE_INTEGER;
            if (overflow || magnitude > (uint64_t)INT64_MAX + negative) {
                *status = LINEPROTO_NUMBER_RANGE;
                return p;
            }
            field->as.integer = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
        } else {
            field->type = LINEPROTO_VALUE_UNSIGNED;
            if (negative || overflow) {
                *status = negative ? LINEPROTO_NUMBER_NEGATIVE_UNSIGNED : LINEPROTO_NUMBER_RANGE;
                return p;
            }
            field->as.unsigned_integer = magnitude;
        }
        *status = LINEPROTO_NUMBER_OK;
        return p + 1;
    }
    /* A float: check the syntax and whether it is finite; strtod runs only when asked. */
    field->type = LINEPROTO_VALUE_FLOAT;
    struct lineproto_float_digits digits = {integer_start, p, p, p};
    size_t digit_count = (size_t)(p - integer_start);
    if (p < end && *p == '.') {
        p++;
        digits.fraction_start = p;
        p = lineproto_digits_skip(p, end);
        digits.fraction_end = p;
        digit_count += (size_t)(p - digits.fraction_start);
    }
    if (digit_count == 0)
        return p;
    int64_t exponent = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool exponent_negative = false;
        if (p < end && (*p == '+' || *p == '-')) {
            exponent_negative = *p == '-';
            p++;
        }
        if (p == end || !lineproto_is_digit(*p))
            return p;
        /* Saturates far beyond any digit count a buffer can hold, so the sign test stays exact. */
        for (; p < end && lineproto_is_digit(*p); p++)
            if (exponent < 100000000000000000)
                exponent = exponent * 10 + (*p - '0');
        if (exponent_negative)
            exponent = -exponent;
    }
    if (!lineproto_value_ends(p, end))
        return p;
    field->value.data = start;
    field->value.length = (size_t)(p - start);
    *status = LINEPROTO_NUMBER_OK;
    /* Below 10^308 nothing can overflow: the common case ends here. */
    if (exponent <= 0 && digits.integer_end - integer_start <= 308)
        return p;
    /* The value is 0.D1D2... x 10^scale with D1 its first non-zero digit. */
    while (digits.integer_start < digits.integer_end && *digits.integer_start == '0')
        digits.integer_start++;
    int64_t scale;
    if (digits.integer_start < digits.integer_end) {
        scale = (int64_t)(digits.integer_end - digits.integer_start) + exponent;
    } else {
        const char *first = digits.fraction_start;
        while (first < digits.fraction_end && *first == '0')
            first++;
        if (first == digits.fraction_end)
            return p; /* zero */
        scale = exponent - (int64_t)(first - digits.fraction_start);
        digits.fraction_start = first;
    }
    if (scale >= 310 || (scale == 309 && lineproto_float_digits_overflow(&digits)))
        *status = LINEPROTO_NUMBER_RANGE;
    return p;
}

/* Parses the timestamp at p into *time (ns) in one pass. Returns the position after it and sets
 * *status; on an error the caller rescans the token for the message. */
LINEPROTO_INLINE const char *lineproto_time_parse(const struct lineproto_parser *parser,
                                                  const char *p, const char *end, int64_t *time,
                                                  enum lineproto_number_status *status)
{
    *status = LINEPROTO_NUMBER_SYNTAX;
    bool negative = *p == '-';
    if (negative)
        p++;
    uint64_t magnitude;
    bool overflow;
    const char *digits = p;
    p = lineproto_digits_parse(p, end, &magnitude, &overflow);
    /* Only a space or a line end may follow: a ',' is no separator after the timestamp. */
    if (p == digits || (p < end && *p != ' ' && *p != '\n' && *p != '\r'))
        return p;
    *status = LINEPROTO_NUMBER_RANGE;
    if (overflow || magnitude > (uint64_t)INT64_MAX)
        return p;
    int64_t value = negative ? -(int64_t)magnitude : (int64_t)magnitude;
    if (__builtin_mul_overflow(value, parser->unit, &value))
        return p;
    if (value < LINEPROTO_TIME_MIN || value > LINEPROTO_TIME_MAX)
        return p;
    *time = value;
    *status = LINEPROTO_NUMBER_OK;
    return p;
}

/* Describes the byte at p for "found ..." in messages: 'c', '\xNN' or "end of line"; out holds at
 * least 16 bytes and may be what is returned. */
const char *lineproto_byte_describe(char out[16], const char *p, const char *end);

/* The unit a timestamp is counted in, for messages ("seconds"); static storage. */
const char *lineproto_unit_name(enum lineproto_precision precision);

/* Fills error (caller-owned) for the line starting at line_start (borrowed, inside the parser's
 * input) with the problem at position, and moves the parser to the line after it. Always
 * returns LINEPROTO_INVALID. */
__attribute__((format(printf, 5, 6))) enum lineproto_status
lineproto_reject(struct lineproto_parser *parser, struct lineproto_error *error,
                 const char *line_start, const char *position, const char *format, ...);

/* The rejection of a name (what: "measurement", "tag key", ...) starting at name whose scan
 * stopped at bad: a control character or invalid UTF-8. Returns LINEPROTO_INVALID. */
enum lineproto_status lineproto_name_reject(struct lineproto_parser *parser,
                                            struct lineproto_error *error, const char *line_start,
                                            const char *what, const char *name, const char *bad);

/* The rejection of field's value [value, value_end) for status (syntax or range). Returns
 * LINEPROTO_INVALID. */
enum lineproto_status lineproto_value_reject(struct lineproto_parser *parser,
                                             struct lineproto_error *error, const char *line_start,
                                             const struct lineproto_field *field, const char *value,
                                             const char *value_end,
                                             enum lineproto_number_status status);

#endif
