/* Point keys: which points a run of spooled lines writes, as 64-bit hashes of each line's series
 * key (measurement and tags, as written) and timestamp. InfluxDB keeps the last write of a point,
 * so two batches may be in flight at once, in either order, only when they write no point in
 * common; the forwarder checks that with these keys before it sends a batch beside others. A hash
 * collision only makes two batches wait for each other, never lets a point's writes swap. */
#ifndef NEBENKOSTEN_RELAY_POINT_KEYS_H
#define NEBENKOSTEN_RELAY_POINT_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct point_keys {
    uint64_t *hashes; /* sorted ascending, duplicates kept; 2 * capacity allocated, the second
                         half is scratch for the sort */
    size_t count, capacity;
};

#define POINT_KEYS_INITIALIZER                                                                     \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Replaces keys with the keys of lines (spool payloads: every line ends in "\n" and in its
 * timestamp; a string field may hold spaces, quotes escaped, and newlines). Returns 0 or
 * -ENOMEM (keys then empty). */
int point_keys_collect(struct point_keys *keys, const char *lines, size_t length);

/* Do a and b name a point in common? */
bool point_keys_overlap(const struct point_keys *a, const struct point_keys *b);

void point_keys_release(struct point_keys *keys);

#endif
