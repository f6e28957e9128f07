/* Escaping and unescaping of line-protocol elements, and the text of error messages (which must
 * stay printable, valid UTF-8 whatever bytes the rejected line held). */
#include "relay/lineproto.h"
#include "relay/lineproto_internal.h"

#include <errno.h>
#include <stdio.h>

static bool lineproto_escapable(enum lineproto_element element, char c)
{
    switch (element) {
    case LINEPROTO_ELEMENT_MEASUREMENT:
        return c == ',' || c == ' ';
    case LINEPROTO_ELEMENT_TAG_KEY:
    case LINEPROTO_ELEMENT_TAG_VALUE:
    case LINEPROTO_ELEMENT_FIELD_KEY:
        return c == ',' || c == ' ' || c == '=';
    case LINEPROTO_ELEMENT_STRING:
        return c == '"' || c == '\\';
    }
    return false;
}

size_t lineproto_unescape(enum lineproto_element element, struct lineproto_slice escaped, char *out)
{
    const char *p = escaped.data;
    const char *end = p + escaped.length;
    char *written = out;
    while (p < end) {
        const char *backslash = memchr(p, '\\', (size_t)(end - p));
        if (!backslash) {
            memcpy(written, p, (size_t)(end - p));
            written += end - p;
            break;
        }
        memcpy(written, p, (size_t)(backslash - p));
        written += backslash - p;
        p = backslash;
        if (p + 1 < end && lineproto_escapable(element, p[1])) {
            *written++ = p[1];
            p += 2;
        } else {
            *written++ = '\\';
            p++;
        }
    }
    return (size_t)(written - out);
}

int lineproto_escape_append(struct buffer *out, enum lineproto_element element, const char *text,
                            size_t length)
{
    if (element != LINEPROTO_ELEMENT_STRING) {
        /* A trailing backslash would escape the separator that follows the name. */
        if (length == 0 || text[length - 1] == '\\')
            return -EINVAL;
        const char *end = text + length;
        for (const char *p = text; p < end;) {
            unsigned char c = (unsigned char)*p;
            if (lineproto_byte_class[c] & LINEPROTO_CLASS_CONTROL)
                return -EINVAL;
            size_t sequence = c < 0x80 ? 1 : utf8_sequence_length(p, end);
            if (sequence == 0)
                return -EINVAL;
            p += sequence;
        }
    }
    if (length == 0)
        return 0;
    if (buffer_reserve(out, 2 * length) != 0)
        return -ENOMEM;
    char *written = out->data + out->length;
    for (size_t i = 0; i < length; i++) {
        if (lineproto_escapable(element, text[i]))
            *written++ = '\\';
        *written++ = text[i];
    }
    out->length = (size_t)(written - out->data);
    return 0;
}

/* The printable form of the unit (character) at text: itself when printable ASCII or valid UTF-8,
 * \t \n \r, else \xNN. Writes it to unit (at least 5 bytes) and returns its length; *consumed is
 * the number of input bytes it stands for. */
static size_t lineproto_unit_render(const char *text, const char *end, char *unit, size_t *consumed)
{
    unsigned char c = (unsigned char)*text;
    *consumed = 1;
    if (c >= 0x20 && c < 0x7F) {
        unit[0] = (char)c;
        return 1;
    }
    if (c >= 0x80) {
        size_t length = utf8_sequence_length(text, end);
        if (length > 0) {
            memcpy(unit, text, length);
            *consumed = length;
            return length;
        }
    }
    if (c == '\t' || c == '\n' || c == '\r') {
        unit[0] = '\\';
        unit[1] = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
        return 2;
    }
    static const char hex[] = "0123456789ABCDEF";
    unit[0] = '\\';
    unit[1] = 'x';
    unit[2] = hex[c >> 4];
    unit[3] = hex[c & 15];
    return 4;
}

/* Writes the printable form of text into out, at most room bytes; when it does not fit, as many
 * whole characters as fit followed by "..." (room must be >= 3). Returns the length written. */
static size_t lineproto_render(char *out, size_t room, const char *text, size_t length)
{
    const char *end = text + length;
    char unit[8];
    size_t consumed;
    size_t total = 0;
    for (const char *p = text; p < end; p += consumed)
        total += lineproto_unit_render(p, end, unit, &consumed);
    bool cut = total > room;
    size_t limit = cut ? room - 3 : room;
    size_t written = 0;
    for (const char *p = text; p < end; p += consumed) {
        size_t unit_length = lineproto_unit_render(p, end, unit, &consumed);
        if (written + unit_length > limit)
            break;
        memcpy(out + written, unit, unit_length);
        written += unit_length;
    }
    if (cut) {
        memcpy(out + written, "...", 3);
        written += 3;
    }
    return written;
}

size_t lineproto_quote(char *out, size_t size, const char *text, size_t length, size_t limit)
{
    if (size < 6) {
        if (size > 0)
            out[0] = '\0';
        return 0;
    }
    if (limit > size - 3)
        limit = size - 3;
    size_t written = 0;
    out[written++] = '"';
    written += lineproto_render(out + written, limit, text, length);
    out[written++] = '"';
    out[written] = '\0';
    return written;
}

size_t lineproto_error_message(const struct lineproto_error *error, char *out, size_t size)
{
    static const char prefix[] = "unable to parse '";
    static const char middle[] = "': ";
    if (size == 0)
        return 0;
    size_t reason_length = strnlen(error->reason, sizeof error->reason);
    size_t fixed = sizeof prefix - 1 + sizeof middle - 1 + reason_length;
    if (fixed + 3 + 1 > size) { /* no room for even "...": the reason alone, cut */
        size_t length = reason_length < size - 1 ? reason_length : size - 1;
        memcpy(out, error->reason, length);
        out[length] = '\0';
        return length;
    }
    size_t written = 0;
    memcpy(out, prefix, sizeof prefix - 1);
    written += sizeof prefix - 1;
    written +=
        lineproto_render(out + written, size - 1 - fixed, error->line.data, error->line.length);
    memcpy(out + written, middle, sizeof middle - 1);
    written += sizeof middle - 1;
    memcpy(out + written, error->reason, reason_length);
    written += reason_length;
    out[written] = '\0';
    return written;
}
