#include "relay/buffer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int buffer_reserve_slow(struct buffer *buffer, size_t additional)
{
    if (additional > SIZE_MAX - buffer->length)
        return -ENOMEM;
    size_t needed = buffer->length + additional;
    size_t capacity = buffer->capacity < 256 ? 256 : buffer->capacity;
    while (capacity < needed)
        capacity = capacity > SIZE_MAX / 2 ? needed : capacity * 2;
    char *data = realloc(buffer->data, capacity);
    if (!data)
        return -ENOMEM;
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

void buffer_release(struct buffer *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
}
