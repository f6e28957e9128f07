/* gzip decoding of request bodies with a hard limit on the decoded size, enforced while
 * inflating, so a small compressed body cannot make the relay allocate more than the limit. */
#ifndef NEBENKOSTEN_RELAY_GZIP_INFLATE_H
#define NEBENKOSTEN_RELAY_GZIP_INFLATE_H

#include <stddef.h>

#include "relay/buffer.h"

/* Appends the decoded form of the gzip data input (borrowed, length bytes; one or more
 * concatenated gzip members) to out (caller-owned). Never lets out grow by more than limit bytes
 * plus one inflate chunk. Returns 0, or
 *   -EMSGSIZE  the decoded data exceeds limit bytes
 *   -EINVAL    not gzip, corrupt, truncated, or followed by garbage (message in error)
 *   -ENOMEM
 * On failure out holds partial data the caller must discard. error is caller-owned (may be
 * NULL). */
int gzip_inflate(const char *input, size_t length, size_t limit, struct buffer *out, char *error,
                 size_t error_size);

#endif
