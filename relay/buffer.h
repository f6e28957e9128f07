/* A growable byte buffer: the output of the line-protocol normaliser and anything else that
 * builds a request or record body piece by piece. Not NUL-terminated. */
#ifndef NEBENKOSTEN_RELAY_BUFFER_H
#define NEBENKOSTEN_RELAY_BUFFER_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

struct buffer {
    char *data;      /* owned by the buffer; NULL while capacity is 0 */
    size_t length;   /* bytes in use */
    size_t capacity; /* bytes allocated */
};

#define BUFFER_INITIALIZER                                                                         \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Makes room for at least `additional` more bytes after length. Returns 0, or -ENOMEM (the
 * buffer is unchanged then). Grows geometrically, so appending n bytes costs O(n) overall. */
int buffer_reserve_slow(struct buffer *buffer, size_t additional);

static inline int buffer_reserve(struct buffer *buffer, size_t additional)
{
    if (buffer->capacity - buffer->length >= additional)
        return 0;
    return buffer_reserve_slow(buffer, additional);
}

/* Appends bytes (borrowed; copied). Returns 0 or -ENOMEM. */
static inline int buffer_append(struct buffer *buffer, const void *bytes, size_t length)
{
    if (buffer_reserve(buffer, length) != 0)
        return -ENOMEM;
    if (length > 0)
        memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
    return 0;
}

/* Empties the buffer and keeps its memory for reuse. */
static inline void buffer_clear(struct buffer *buffer)
{
    buffer->length = 0;
}

/* Frees the memory; the buffer is empty and reusable afterwards. */
void buffer_release(struct buffer *buffer);

#endif
