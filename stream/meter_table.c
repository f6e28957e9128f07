#include "stream/meter_table.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a: meter ids are short, and a table of user-chosen names needs no keyed hash. */
static uint64_t id_hash(const char *id, size_t length)
{
    uint64_t hash = 0xcbf29ce484222325u;
    for (size_t i = 0; i < length; i++) {
        hash ^= (unsigned char)id[i];
        hash *= 0x100000001b3u;
    }
    return hash;
}

void stream_meter_table_release(struct stream_meter_table *table)
{
    for (size_t i = 0; i < table->chunk_count; i++)
        free(table->chunks[i]);
    free(table->chunks);
    free(table->index);
    free(table->ids);
    memset(table, 0, sizeof *table);
}

static uint32_t entry_slot(uint64_t entry)
{
    return (uint32_t)entry;
}

static uint64_t entry_make(uint64_t hash, size_t slot_number)
{
    return (hash & ~UINT64_C(0xffffffff)) | (uint64_t)(slot_number + 1);
}

static size_t table_probe(const struct stream_meter_table *table, const char *id, size_t length,
                          uint64_t hash)
{
    size_t mask = table->index_size - 1;
    for (size_t at = (size_t)hash & mask;; at = (at + 1) & mask) {
        uint64_t entry = table->index[at];
        if (entry == 0)
            return at;
        if ((entry ^ hash) >> 32)
            continue;
        const struct stream_meter_slot *slot =
            stream_meter_table_slot(table, entry_slot(entry) - 1);
        if (slot->id_length == length &&
            memcmp(stream_meter_table_id(table, slot), id, length) == 0)
            return at;
    }
}

struct stream_meter_slot *stream_meter_table_find(const struct stream_meter_table *table,
                                                  const char *id, size_t length)
{
    if (table->index_size == 0)
        return NULL;
    uint64_t entry = table->index[table_probe(table, id, length, id_hash(id, length))];
    return entry ? stream_meter_table_slot(table, entry_slot(entry) - 1) : NULL;
}

/* Doubles the index (kept at most half full, so probes stay short). */
static int table_index_grow(struct stream_meter_table *table)
{
    size_t size = table->index_size ? table->index_size * 2 : 64;
    uint64_t *index = calloc(size, sizeof *index);
    if (!index)
        return -1;
    free(table->index);
    table->index = index;
    table->index_size = size;
    for (size_t i = 0; i < table->count; i++) {
        const struct stream_meter_slot *slot = stream_meter_table_slot(table, i);
        const char *id = stream_meter_table_id(table, slot);
        uint64_t hash = id_hash(id, slot->id_length);
        index[table_probe(table, id, slot->id_length, hash)] = entry_make(hash, i);
    }
    return 0;
}

static int table_reserve(struct stream_meter_table *table, size_t id_length)
{
    if ((table->count + 1) * 2 > table->index_size && table_index_grow(table) != 0)
        return -1;
    if (table->count == table->chunk_count * STREAM_METER_TABLE_CHUNK) {
        struct stream_meter_slot **chunks =
            realloc(table->chunks, (table->chunk_count + 1) * sizeof *chunks);
        if (!chunks)
            return -1;
        table->chunks = chunks;
        if (!(chunks[table->chunk_count] = malloc(STREAM_METER_TABLE_CHUNK * sizeof **chunks)))
            return -1;
        table->chunk_count++;
    }
    if (id_length > STREAM_METER_ID_INLINE && table->ids_capacity - table->ids_length < id_length) {
        size_t capacity = table->ids_capacity ? table->ids_capacity * 2 : 1024;
        while (capacity - table->ids_length < id_length)
            capacity *= 2;
        char *ids = realloc(table->ids, capacity);
        if (!ids)
            return -1;
        table->ids = ids;
        table->ids_capacity = capacity;
    }
    return 0;
}

struct stream_meter_slot *stream_meter_table_add(struct stream_meter_table *table, const char *id,
                                                 size_t length, int *added)
{
    *added = 0;
    uint64_t hash = id_hash(id, length);
    if (table->index_size) {
        uint64_t entry = table->index[table_probe(table, id, length, hash)];
        if (entry)
            return stream_meter_table_slot(table, entry_slot(entry) - 1);
    }
    if (length > UINT32_MAX || table->count >= UINT32_MAX - 1 || table_reserve(table, length) != 0)
        return NULL;
    struct stream_meter_slot *slot = stream_meter_table_slot(table, table->count);
    memset(slot, 0, sizeof *slot);
    slot->id_length = (uint32_t)length;
    if (length <= STREAM_METER_ID_INLINE) {
        memcpy(slot->id_inline, id, length);
    } else {
        memcpy(table->ids + table->ids_length, id, length);
        slot->id_offset = table->ids_length;
        table->ids_length += length;
    }
    table->index[table_probe(table, id, length, hash)] = entry_make(hash, table->count);
    table->count++;
    *added = 1;
    return slot;
}

size_t stream_meter_table_bytes(const struct stream_meter_table *table)
{
    return table->chunk_count * (STREAM_METER_TABLE_CHUNK * sizeof(struct stream_meter_slot) +
                                 sizeof *table->chunks) +
           table->index_size * sizeof *table->index + table->ids_capacity;
}
