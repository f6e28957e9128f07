/* Point keys of spooled lines: see relay/point_keys.h. */
#include "relay/point_keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define POINT_KEYS_FNV_OFFSET 0xcbf29ce484222325ULL
#define POINT_KEYS_FNV_PRIME 0x100000001b3ULL

static uint64_t point_keys_mix(uint64_t hash, const char *data, size_t length)
{
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ (unsigned char)data[i]) * POINT_KEYS_FNV_PRIME;
    return hash;
}

/* The end of the series key: the first space that is not escaped, or the line's end. */
static const char *point_keys_series_end(const char *line, const char *end)
{
    for (const char *at = line; at < end; at++) {
        if (*at == '\\' && at + 1 < end)
            at++;
        else if (*at == ' ' || *at == '\n')
            return at;
    }
    return end;
}

/* From the space after the series key: the newline that ends the line (not one inside a quoted
 * string field) and, in *last_space, the last space before it outside quotes. */
static const char *point_keys_line_end(const char *at, const char *end, const char **last_space)
{
    const char *newline = memchr(at, '\n', (size_t)(end - at));
    if (!newline)
        newline = end;
    if (!memchr(at, '"', (size_t)(newline - at))) {
        /* No string field: the timestamp is the last word. */
        const char *space = newline;
        while (space > at && space[-1] != ' ')
            space--;
        *last_space = space > at ? space - 1 : at;
        return newline;
    }
    bool quoted = false;
    *last_space = at;
    for (; at < end; at++) {
        char c = *at;
        if (c == '\\' && at + 1 < end) {
            at++;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == ' ') {
            *last_space = at;
        } else if (!quoted && c == '\n') {
            return at;
        }
    }
    return end;
}

static int point_keys_compare(const void *left, const void *right)
{
    uint64_t a = *(const uint64_t *)left, b = *(const uint64_t *)right;
    return a < b ? -1 : a > b;
}

int point_keys_collect(struct point_keys *keys, const char *lines, size_t length)
{
    keys->count = 0;
    const char *at = lines, *end = lines + length;
    while (at < end) {
        const char *series_end = point_keys_series_end(at, end);
        const char *last_space = series_end;
        const char *line_end = series_end < end && *series_end == ' '
                                   ? point_keys_line_end(series_end, end, &last_space)
                                   : series_end;
        uint64_t hash = point_keys_mix(POINT_KEYS_FNV_OFFSET, at, (size_t)(series_end - at));
        hash = point_keys_mix(hash ^ 0xff, last_space, (size_t)(line_end - last_space));
        if (keys->count == keys->capacity) {
            size_t capacity = keys->capacity ? keys->capacity * 2 : 1024;
            uint64_t *grown = realloc(keys->hashes, capacity * sizeof *grown);
            if (!grown) {
                keys->count = 0;
                return -ENOMEM;
            }
            keys->hashes = grown;
            keys->capacity = capacity;
        }
        keys->hashes[keys->count++] = hash;
        at = line_end < end ? line_end + 1 : end;
    }
    if (keys->count > 1)
        qsort(keys->hashes, keys->count, sizeof *keys->hashes, point_keys_compare);
    return 0;
}

bool point_keys_overlap(const struct point_keys *a, const struct point_keys *b)
{
    size_t i = 0, j = 0;
    while (i < a->count && j < b->count) {
        if (a->hashes[i] == b->hashes[j])
            return true;
        if (a->hashes[i] < b->hashes[j])
            i++;
        else
            j++;
    }
    return false;
}

void point_keys_release(struct point_keys *keys)
{
    free(keys->hashes);
    *keys = (struct point_keys)POINT_KEYS_INITIALIZER;
}
