#include <unistd.h>

#include "config/utf8.h"
#include "relay/terminal_text.h"

bool terminal_text_is_terminal(FILE *out)
{
    return isatty(fileno(out)) == 1;
}

/* The length of the run at text that a terminal shows as text: printable ASCII, tab, newline and
 * UTF-8 sequences of code points above the C1 controls. */
static size_t terminal_text_safe_length(const char *text, const char *end)
{
    const char *at = text;
    while (at < end) {
        unsigned char c = (unsigned char)*at;
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
                break;
            at++;
            continue;
        }
        size_t sequence = utf8_sequence_length(at, end);
        if (sequence == 0 || (c == 0xC2 && (unsigned char)at[1] < 0xA0))
            break;
        at += sequence;
    }
    return (size_t)(at - text);
}

int terminal_text_write(FILE *out, const char *text, size_t length, bool escape)
{
    if (!escape)
        return fwrite(text, 1, length, out) == length ? 0 : -1;
    const char *end = text + length;
    while (text < end) {
        size_t safe = terminal_text_safe_length(text, end);
        if (safe > 0 && fwrite(text, 1, safe, out) != safe)
            return -1;
        text += safe;
        if (text == end)
            break;
        /* A C1 control's two bytes, else the one byte that stopped the run. */
        size_t unsafe =
            (unsigned char)*text == 0xC2 && utf8_sequence_length(text, end) == 2 ? 2 : 1;
        for (size_t i = 0; i < unsafe; i++)
            if (fprintf(out, "\\x%02X", (unsigned char)text[i]) < 0)
                return -1;
        text += unsafe;
    }
    return 0;
}
