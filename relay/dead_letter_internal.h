/* What dead_letter.c takes from dead_letter_text.c. Not for other files. */
#ifndef NEBENKOSTEN_RELAY_DEAD_LETTER_INTERNAL_H
#define NEBENKOSTEN_RELAY_DEAD_LETTER_INTERNAL_H

#include <stddef.h>

/* Length of the longest prefix of bytes (borrowed) that is valid UTF-8 without a NUL byte. */
size_t dead_letter_text_prefix(const char *bytes, size_t length);
/* Lowercase hex of bytes (borrowed) as an owned NUL-terminated string, or NULL (no memory). */
char *dead_letter_hex_encode(const char *bytes, size_t length);
/* Decodes hex text (borrowed, NUL-terminated) into an owned buffer *out of *length bytes.
 * Returns 0, -1 (not hex) or -ENOMEM. */
int dead_letter_hex_decode(const char *text, char **out, size_t *length);

#endif
