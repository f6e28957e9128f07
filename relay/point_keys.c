/* Point keys of spooled lines: see relay/point_keys.h. */
#include "relay/point_keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Hashed a word at a time: the forwarder keys every line of every batch it sends beside others,
 * and a byte-at-a-time hash was the largest part of its CPU while draining into InfluxDB. */
#define POINT_KEYS_SEED 0x9e3779b97f4a7c15ULL
#define POINT_KEYS_MULTIPLIER 0xff51afd7ed558ccdULL

static uint64_t point_keys_mix(uint64_t hash, const char *data, size_t length)
{
    for (; length >= sizeof(uint64_t); data += sizeof(uint64_t), length -= sizeof(uint64_t)) {
        uint64_t word;
        memcpy(&word, data, sizeof word);
        hash = (hash ^ word) * POINT_KEYS_MULTIPLIER;
        hash ^= hash >> 29;
    }
    uint64_t tail = (uint64_t)length << 56;
    memcpy(&tail, data, length);
    hash = (hash ^ tail) * POINT_KEYS_MULTIPLIER;
    return hash ^ (hash >> 32);
}

/* Is the character at position `at` escaped, that is, preceded by an odd run of backslashes? */
static bool point_keys_escaped(const char *line, const char *at)
{
    size_t backslashes = 0;
    while (at - backslashes > line && at[-1 - (ptrdiff_t)backslashes] == '\\')
        backslashes++;
    return backslashes % 2 == 1;
}

/* The end of the series key: the first space or newline that is not escaped, or the line's end. */
static const char *point_keys_series_end(const char *line, const char *end)
{
    const char *at = line;
    while (at < end) {
        const char *space = memchr(at, ' ', (size_t)(end - at));
        const char *stop = space ? space : end;
        const char *newline = memchr(at, '\n', (size_t)(stop - at));
        if (newline)
            stop = newline;
        if (stop == end || !point_keys_escaped(line, stop))
            return stop;
        at = stop + 1;
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

/* The end of the tag key=value (or the measurement) starting at at: the next unescaped comma, or
 * end. */
static const char *point_keys_tag_end(const char *line, const char *at, const char *end)
{
    for (;;) {
        const char *comma = memchr(at, ',', (size_t)(end - at));
        if (!comma)
            return end;
        if (!point_keys_escaped(line, comma))
            return comma;
        at = comma + 1;
    }
}

/* The series key as InfluxDB sees it: the measurement, then the tags in any order (InfluxDB sorts
 * them by key, and a tag key appears at most once, so a sum of the tags' hashes is enough). */
static uint64_t point_keys_series_hash(const char *line, const char *end)
{
    const char *at = point_keys_tag_end(line, line, end);
    uint64_t hash = point_keys_mix(POINT_KEYS_SEED, line, (size_t)(at - line));
    uint64_t tags = 0;
    while (at < end) {
        const char *tag = at + 1;
        at = point_keys_tag_end(line, tag, end);
        tags += point_keys_mix(POINT_KEYS_SEED ^ 0x7a, tag, (size_t)(at - tag));
    }
    return hash ^ (tags * POINT_KEYS_MULTIPLIER);
}

/* The timestamp's value (" [-]digits" from the last space), so "0100" and "100" are one time. */
static uint64_t point_keys_time(const char *at, const char *end)
{
    while (at < end && *at == ' ')
        at++;
    bool negative = at < end && *at == '-';
    uint64_t value = 0;
    for (at += negative; at < end && *at >= '0' && *at <= '9'; at++)
        value = value * 10 + (uint64_t)(*at - '0');
    return negative ? 0 - value : value;
}

/* Sorts keys->hashes with an LSD radix sort, 8 bits a pass, through the scratch half of the
 * allocation; qsort's comparison calls cost as much as hashing. */
static void point_keys_sort(struct point_keys *keys)
{
    uint64_t *from = keys->hashes, *to = keys->hashes + keys->capacity;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t counts[256] = {0};
        for (size_t i = 0; i < keys->count; i++)
            counts[(from[i] >> shift) & 0xff]++;
        size_t offset = 0;
        for (size_t digit = 0; digit < 256; digit++) {
            size_t count = counts[digit];
            counts[digit] = offset;
            offset += count;
        }
        for (size_t i = 0; i < keys->count; i++)
            to[counts[(from[i] >> shift) & 0xff]++] = from[i];
        uint64_t *swap = from;
        from = to;
        to = swap;
    }
    /* An even number of passes: the sorted keys are back in the first half. */
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
        uint64_t hash = point_keys_series_hash(at, series_end);
        uint64_t time = point_keys_time(last_space, line_end);
        hash = point_keys_mix(hash ^ 0xff, (const char *)&time, sizeof time);
        if (keys->count == keys->capacity) {
            size_t capacity = keys->capacity ? keys->capacity * 2 : 1024;
            uint64_t *grown = realloc(keys->hashes, 2 * capacity * sizeof *grown);
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
        point_keys_sort(keys);
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
