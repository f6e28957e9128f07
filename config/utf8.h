/* UTF-8 as InfluxDB checks it (Go's utf8.Valid): one rule for the line-protocol parser, the
 * dead-letter texts, the terminal escapes and the log lines, so that what one of them takes as
 * text no other shows as bytes. */
#ifndef NEBENKOSTEN_CONFIG_UTF8_H
#define NEBENKOSTEN_CONFIG_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 sequence starting at text (a byte >= 0x80) with the bytes up to
 * end available, or 0 when it is not one: truncated, overlong, a surrogate or beyond U+10FFFF.
 * Each continuation byte is read only after the one before it matched, so a NUL-terminated string
 * may pass an end up to 4 bytes on (a NUL is no continuation byte). */
static inline size_t utf8_sequence_length(const char *text, const char *end)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t available = (size_t)(end - text);
    unsigned lead = p[0];
    if (lead < 0xC2 || lead > 0xF4)
        return 0;
    if (lead < 0xE0)
        return available >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (lead < 0xF0) {
        if (available < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((lead == 0xE0 && p[1] < 0xA0) || (lead == 0xED && p[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (available < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
        return 0;
    if ((lead == 0xF0 && p[1] < 0x90) || (lead == 0xF4 && p[1] >= 0x90))
        return 0;
    return 4;
}

#endif
