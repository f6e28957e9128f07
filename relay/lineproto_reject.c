/* The rejections of the parser: the reason a user reads, and the move to the next line. Cold
 * code, kept out of relay/lineproto.c so the hot path stays small. */
#include "relay/lineproto.h"
#include "relay/lineproto_internal.h"

#include <stdarg.h>
#include <stdio.h>

/* Describes the byte at p for "found ..." in messages: 'c', '\xNN' or end of line. */
const char *lineproto_byte_describe(char out[16], const char *p, const char *end)
{
    if (p >= end || *p == '\n' || *p == '\r')
        return "end of line";
    unsigned char c = (unsigned char)*p;
    if (c < 0x20 || c >= 0x7F)
        snprintf(out, 16, "'\\x%02X'", c);
    else
        snprintf(out, 16, "'%c'", c);
    return out;
}

/* Fills error for the line starting at line_start, with the problem at position, and moves the
 * parser to the line after it. Always returns LINEPROTO_INVALID. */
enum lineproto_status lineproto_reject(struct lineproto_parser *parser,
                                       struct lineproto_error *error, const char *line_start,
                                       const char *position, const char *format, ...)
{
    const char *end = parser->end;
    if (position > end)
        position = end;
    const char *newline = memchr(position, '\n', (size_t)(end - position));
    const char *line_end = newline ? newline : end;
    const char *text_end = line_end;
    if (text_end > line_start && text_end[-1] == '\r')
        text_end--;
    error->line_number = parser->line_number;
    error->column = (size_t)(position - line_start) + 1;
    error->line.data = line_start;
    error->line.length = (size_t)(text_end - line_start);
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error->reason, sizeof error->reason, format, arguments);
    va_end(arguments);
    /* Newlines inside string values belong to this line. */
    for (const char *p = line_start; (p = memchr(p, '\n', (size_t)(line_end - p))) != NULL; p++)
        parser->line_number++;
    if (newline) {
        parser->line_number++;
        parser->cursor = newline + 1;
    } else {
        parser->cursor = end;
    }
    return LINEPROTO_INVALID;
}

/* The unit a timestamp is counted in, for messages. */
const char *lineproto_unit_name(enum lineproto_precision precision)
{
    static const char *const names[] = {"nanoseconds", "microseconds", "milliseconds",
                                        "seconds",     "minutes",      "hours"};
    return (unsigned)precision < sizeof names / sizeof names[0] ? names[precision] : "?";
}

/* The error for a name whose scan stopped at a control character or invalid UTF-8. */
enum lineproto_status lineproto_name_reject(struct lineproto_parser *parser,
                                            struct lineproto_error *error, const char *line_start,
                                            const char *what, const char *name, const char *bad)
{
    char quoted[LINEPROTO_QUOTE_SIZE];
    lineproto_quote(quoted, sizeof quoted, name, (size_t)(bad - name) + 1, LINEPROTO_QUOTE_LIMIT);
    if ((unsigned char)*bad >= 0x80)
        return lineproto_reject(parser, error, line_start, bad,
                                "invalid UTF-8 (byte 0x%02X) in %s %s", (unsigned char)*bad, what,
                                quoted);
    return lineproto_reject(parser, error, line_start, bad,
                            "invalid character 0x%02X in %s %s: names must not contain control "
                            "characters",
                            (unsigned char)*bad, what, quoted);
}

/* The error for a field value that is neither number, string nor boolean. */
enum lineproto_status lineproto_value_reject(struct lineproto_parser *parser,
                                             struct lineproto_error *error, const char *line_start,
                                             const struct lineproto_field *field, const char *value,
                                             const char *value_end,
                                             enum lineproto_number_status status)
{
    char key[LINEPROTO_QUOTE_SIZE], text[LINEPROTO_QUOTE_SIZE];
    lineproto_quote(key, sizeof key, field->key.data, field->key.length, LINEPROTO_QUOTE_LIMIT);
    lineproto_quote(text, sizeof text, value, (size_t)(value_end - value), LINEPROTO_QUOTE_LIMIT);
    if (status == LINEPROTO_NUMBER_NEGATIVE_UNSIGNED)
        return lineproto_reject(parser, error, line_start, value,
                                "invalid unsigned integer value %s for field %s: unsigned "
                                "integers cannot be negative",
                                text, key);
    if (status == LINEPROTO_NUMBER_RANGE) {
        if (field->type == LINEPROTO_VALUE_INTEGER)
            return lineproto_reject(parser, error, line_start, value,
                                    "integer value %s for field %s is out of range: expected "
                                    "-9223372036854775808i to 9223372036854775807i",
                                    text, key);
        if (field->type == LINEPROTO_VALUE_UNSIGNED)
            return lineproto_reject(parser, error, line_start, value,
                                    "unsigned integer value %s for field %s is out of range: "
                                    "expected 0u to 18446744073709551615u",
                                    text, key);
        return lineproto_reject(parser, error, line_start, value,
                                "float value %s for field %s is out of range: its magnitude "
                                "must not exceed 1.7976931348623157e308",
                                text, key);
    }
    return lineproto_reject(parser, error, line_start, value,
                            "invalid field value %s for field %s: expected a number (like 1.5, "
                            "-3i or 7u), a string in double quotes, or a boolean (true/false)",
                            text, key);
}
