/* gzip encoding of upstream batches. */
#ifndef NEBENKOSTEN_RELAY_GZIP_DEFLATE_H
#define NEBENKOSTEN_RELAY_GZIP_DEFLATE_H

#include <stddef.h>

#include "relay/buffer.h"

/* Level for batches: line protocol compresses ~8-12x at level 1 already; higher levels cost the
 * loop 3-5x the CPU for a few per cent less. */
#define GZIP_DEFLATE_LEVEL 1

/* Replaces the contents of out (caller-owned) with one gzip member holding input (borrowed,
 * length bytes) compressed at level. Returns 0 or -ENOMEM. */
int gzip_deflate(const char *input, size_t length, int level, struct buffer *out);

#endif
