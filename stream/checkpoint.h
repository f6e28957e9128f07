/* The stream processor's checkpoint: every meter's state and the spool position it reflects, in
 * one file written atomically (temp file, fsync, rename, directory fsync), so after a crash the
 * processor resumes from a consistent state and replays the spool from that position.
 *
 * File `checkpoint` in the directory given (the relay uses <spool.dir>/stream/), little-endian:
 * magic "NKSTREAM", version u32, meter state size u32, position u64, derived sequence u64, the
 * applied baselines file's modification time i64 (ns) and size u64, time zone name (u16 length +
 * bytes), meter count u64, then per meter the id (u16 length + bytes) and
 * the state's bytes; CRC-32C u32 of everything before it. */
#ifndef NEBENKOSTEN_STREAM_CHECKPOINT_H
#define NEBENKOSTEN_STREAM_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "relay/buffer.h"
#include "stream/meter_table.h"

struct stream_checkpoint_position {
    uint64_t position;         /* every spool record up to this sequence is in the state */
    uint64_t derived_sequence; /* the last record the processor appended (0: none yet) */
    /* The baselines file last applied (0, 0: none), so a restart does not apply it again. */
    int64_t baseline_mtime_ns;
    uint64_t baseline_size;
};

/* Builds the checkpoint image of table (borrowed) with position and zone (the name of the
 * calendar's zone, "UTC" for UTC days) into out (caller-owned, cleared first), all but the CRC,
 * which stream_checkpoint_image_write adds. Returns 0 or -1 (out of memory, or an id or zone
 * name too long for the format). */
int stream_checkpoint_image_build(struct buffer *out,
                                  const struct stream_checkpoint_position *position,
                                  const char *zone, const struct stream_meter_table *table);

/* Makes image (length bytes, borrowed) plus its CRC the checkpoint of directory (created when
 * missing): temporary file, fsync, rename, directory fsync. Touches nothing else, so it may run on
 * another thread while the caller goes on. Returns 0, or -1 with a message naming the file in
 * error. */
int stream_checkpoint_image_write(const char *directory, const char *image, size_t length,
                                  char *error, size_t error_size);

/* stream_checkpoint_image_build into scratch (caller-owned), then stream_checkpoint_image_write.
 * Returns 0, or -1 with a message naming the file in error. */
int stream_checkpoint_write(const char *directory,
                            const struct stream_checkpoint_position *position, const char *zone,
                            const struct stream_meter_table *table, struct buffer *scratch,
                            char *error, size_t error_size);

/* Loads directory's checkpoint into table (empty, caller-owned) and *position. Returns 1 when
 * there is no checkpoint, 0 when loaded, or -1 with a message in error when it cannot be used:
 * unreadable, damaged, written by another state layout or for another zone than zone (the state
 * must then start afresh; the table is left empty). */
int stream_checkpoint_load(const char *directory, const char *zone,
                           struct stream_checkpoint_position *position,
                           struct stream_meter_table *table, char *error, size_t error_size);

#endif
