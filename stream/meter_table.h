/* The stream processor's meters by id: an open-addressing hash table over slots kept in chunks
 * of STREAM_METER_TABLE_CHUNK, so a lookup is one hash and usually one probe, slots never move
 * (pointers stay valid), and growing wastes at most one chunk instead of half an array. Slots
 * are never removed; their order is the order meters first appeared. */
#ifndef NEBENKOSTEN_STREAM_METER_TABLE_H
#define NEBENKOSTEN_STREAM_METER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "stream/meter.h"

/* Ids up to this long live in the slot itself, so finding a meter touches the index entry and
 * the slot, which the meter rules read next anyway; longer ones live in the table's id text. */
#define STREAM_METER_ID_INLINE 48

struct stream_meter_slot {
    uint32_t id_length;
    char id_inline[STREAM_METER_ID_INLINE];
    uint64_t id_offset; /* into the table's id text, for longer ids */
    /* What the configuration says about this meter, resolved when the slot was made. */
    const struct config_meter_limits *limits; /* borrowed from the table's owner */
    const double *seasonal_percentages;       /* 12 values or NULL, borrowed likewise */
    struct stream_meter meter;
};

#define STREAM_METER_TABLE_CHUNK 1024

struct stream_meter_table {
    struct stream_meter_slot **chunks; /* each STREAM_METER_TABLE_CHUNK slots */
    size_t chunk_count;
    size_t count;
    /* Per entry: the id hash's high 32 bits, then slot number + 1 (0 = empty); index_size is a
     * power of two. The hash bits spare a visit to the slot's id on most mismatches. */
    uint64_t *index;
    size_t index_size;
    char *ids; /* the ids longer than STREAM_METER_ID_INLINE, back to back, not NUL-terminated */
    size_t ids_length;
    size_t ids_capacity;
};

/* table is caller-owned storage; all zero is an empty table. Frees what the table allocated. */
void stream_meter_table_release(struct stream_meter_table *table);

/* The slot of id (borrowed, length bytes), or NULL. */
struct stream_meter_slot *stream_meter_table_find(const struct stream_meter_table *table,
                                                  const char *id, size_t length);

/* The slot of id, added with a zero meter when new (*added says which). Slot pointers stay valid
 * until the table is released. Returns NULL when out of memory. */
struct stream_meter_slot *stream_meter_table_add(struct stream_meter_table *table, const char *id,
                                                 size_t length, int *added);

/* Slot number (0 .. count - 1, in order of first appearance). */
static inline struct stream_meter_slot *
stream_meter_table_slot(const struct stream_meter_table *table, size_t number)
{
    return &table->chunks[number / STREAM_METER_TABLE_CHUNK][number % STREAM_METER_TABLE_CHUNK];
}

/* The id of slot (borrowed from the table, id_length bytes, not NUL-terminated). */
static inline const char *stream_meter_table_id(const struct stream_meter_table *table,
                                                const struct stream_meter_slot *slot)
{
    return slot->id_length <= STREAM_METER_ID_INLINE ? slot->id_inline
                                                     : table->ids + slot->id_offset;
}

/* Bytes the table holds (slots, index, ids), for memory per meter. */
size_t stream_meter_table_bytes(const struct stream_meter_table *table);

#endif
