/* The text side of dead letters: UTF-8 checks, hex for answers that are not text, RFC 3339 times
 * and the one-line answer preview of `dlq list`. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/utf8.h"
#include "relay/dead_letter.h"
#include "relay/dead_letter_internal.h"

size_t dead_letter_text_prefix(const char *bytes, size_t length)
{
    size_t at = 0;
    while (at < length) {
        unsigned char c = (unsigned char)bytes[at];
        size_t sequence = c >= 0x80 ? utf8_sequence_length(bytes + at, bytes + length) : c != 0;
        if (sequence == 0)
            break;
        at += sequence;
    }
    return at;
}

char *dead_letter_hex_encode(const char *bytes, size_t length)
{
    char *out = malloc(2 * length + 1);
    for (size_t i = 0; out && i < length; i++)
        snprintf(out + 2 * i, 3, "%02x", (unsigned char)bytes[i]);
    if (out)
        out[2 * length] = '\0';
    return out;
}

int dead_letter_hex_decode(const char *text, char **out, size_t *length)
{
    size_t text_length = strlen(text);
    if (text_length % 2 != 0 || strspn(text, "0123456789abcdef") != text_length)
        return -1;
    char *bytes = malloc(text_length / 2 + 1);
    if (!bytes)
        return -ENOMEM;
    for (size_t i = 0; i < text_length / 2; i++) {
        char pair[3] = {text[2 * i], text[2 * i + 1], '\0'};
        bytes[i] = (char)strtoul(pair, NULL, 16);
    }
    *out = bytes;
    *length = text_length / 2;
    return 0;
}

void dead_letter_time_format(int64_t time_ns, char *out, size_t out_size)
{
    int64_t seconds = time_ns / 1000000000, fraction = time_ns % 1000000000;
    if (fraction < 0) {
        fraction += 1000000000;
        seconds--;
    }
    time_t when = (time_t)seconds;
    struct tm utc;
    if (!gmtime_r(&when, &utc)) {
        snprintf(out, out_size, "%" PRId64 "ns", time_ns);
        return;
    }
    snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", utc.tm_year + 1900,
             utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, fraction);
}

size_t dead_letter_answer_preview(const char *answer, size_t length, bool cut, size_t characters,
                                  char *out, size_t out_size)
{
    if (out_size == 0)
        return 0;
    size_t at = 0, used = 0;
    for (size_t shown = 0; at < length && shown < characters; shown++) {
        unsigned char c = (unsigned char)answer[at];
        size_t sequence = c >= 0x80 ? utf8_sequence_length(answer + at, answer + length) : 1;
        char piece[8];
        size_t piece_length = sequence;
        if (c < 0x20 || c == 0x7F || sequence == 0) {
            piece_length = (size_t)snprintf(piece, sizeof piece, "\\x%02X", c);
            sequence = 1;
        } else if (c == '\\') {
            piece_length = (size_t)snprintf(piece, sizeof piece, "\\\\");
        } else {
            memcpy(piece, answer + at, sequence);
        }
        if (used + piece_length >= out_size)
            break;
        memcpy(out + used, piece, piece_length);
        used += piece_length;
        at += sequence;
    }
    if ((at < length || cut) && used + 3 < out_size) {
        memcpy(out + used, "...", 3);
        used += 3;
    }
    out[used] = '\0';
    return used;
}
