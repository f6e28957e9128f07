/* Internals shared by the spool_*.c files (and their unit tests): the on-disk codecs, the
 * buffered record reader, and struct spool itself. Not for other modules. */
#ifndef NEBENKOSTEN_RELAY_SPOOL_INTERNAL_H
#define NEBENKOSTEN_RELAY_SPOOL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/buffer.h"
#include "relay/spool.h"

#define SPOOL_RECORD_TYPE_DATA 1
#define SPOOL_META_VERSION 1
#define SPOOL_FORMAT_VERSION 1
#define SPOOL_CURSOR_FILE_BYTES 4096
#define SPOOL_CURSOR_SLOT_OFFSET 2048 /* slot 1; slot 0 at offset 0 */
#define SPOOL_CURSOR_SLOT_BYTES 32

struct spool_segment_header {
    uint64_t id;
    int64_t created_ns;
    uint64_t first_sequence; /* 0 = assigned by the first record */
    uint32_t salt;
};

/* Encodes into out[SPOOL_SEGMENT_HEADER_SIZE] (borrowed). */
void spool_segment_header_encode(const struct spool_segment_header *header, uint8_t *out);
/* Decodes in[SPOOL_SEGMENT_HEADER_SIZE] (borrowed) into *header. Returns 0 or -1 (magic,
 * version, size or CRC wrong). */
int spool_segment_header_decode(const uint8_t *in, struct spool_segment_header *header);
/* The format version of in[SPOOL_SEGMENT_HEADER_SIZE] (borrowed) when a newer relay wrote it
 * (our magic, a version above SPOOL_FORMAT_VERSION, the CRC of bytes 0-59 at 60), else 0.
 * Such a segment holds records this build cannot read: not corruption to quarantine. */
uint32_t spool_segment_header_newer_version(const uint8_t *in);
/* Sets error to why spool_open refuses the spool: directory/file_name was written by a newer relay
 * in spool format version `version`. */
void spool_newer_version_refusal_set(const struct spool *spool, const char *directory,
                                     const char *file_name, uint32_t version, char *error,
                                     size_t error_size);

/* Padded size on disk of a record of length bytes. */
static inline uint64_t spool_record_padded(uint64_t length)
{
    return (length + 7u) & ~(uint64_t)7u;
}

/* Appends the meta encoding of routing (borrowed) to out, after what out holds. Returns 0,
 * -EMSGSIZE (a field or the whole encoding over 65535 bytes), -EINVAL (too many consumers, a name
 * over 255 bytes), -ENOMEM; on an error out is as it was. */
int spool_meta_encode(const struct spool_routing *routing, struct buffer *out);
/* Decodes length bytes of meta (borrowed; *routing's slices point into it). Returns 0 or -1. */
int spool_meta_decode(const uint8_t *meta, size_t length, struct spool_routing *routing);

/* Fills header[SPOOL_RECORD_HEADER_SIZE] (borrowed) for a record of the given meta and payload
 * (borrowed), CRC included. */
void spool_record_header_build(uint8_t *header, uint64_t sequence, uint32_t salt, uint8_t flags,
                               const void *meta, size_t meta_length, const void *payload,
                               size_t payload_length);

/* True when the length bytes at bytes (borrowed) are all zero. */
static inline bool spool_bytes_are_zero(const uint8_t *bytes, size_t length)
{
    uint8_t any = 0;
    for (size_t i = 0; i < length; i++)
        any |= bytes[i];
    return any == 0;
}

/* True when the SPOOL_RECORD_HEADER_SIZE bytes at header (borrowed) are all zero: the end of the
 * data in a preallocated segment. A torn write that lost only some header bytes is not an end. */
static inline bool spool_record_is_end(const uint8_t *header)
{
    return spool_bytes_are_zero(header, SPOOL_RECORD_HEADER_SIZE);
}

/* A record checked in place: slices point into the bytes given to spool_record_decode. */
struct spool_record_view {
    uint64_t sequence;
    uint8_t flags;
    uint32_t length; /* unpadded */
    struct spool_routing routing;
    const char *payload;
    size_t payload_length;
};

/* Checks and decodes the record at bytes (borrowed; available bytes readable). Returns the padded
 * size (> 0), 0 when more bytes are needed than available (*needed says how many; a header that
 * cannot be a record returns -1 instead), or -1 (bounds, type, salt, CRC or meta wrong). */
int64_t spool_record_decode(const uint8_t *bytes, size_t available, uint32_t salt,
                            struct spool_record_view *view, size_t *needed);

/* Reads records of one segment file through a window buffer (one pread per window, not per
 * record). */
struct spool_reader {
    const struct spool_io *io; /* borrowed */
    int fd;                    /* borrowed */
    uint32_t salt;
    uint64_t offset; /* next record */
    uint64_t end;    /* nothing at or past it is read */
    struct buffer window;
    uint64_t window_offset; /* file offset of window.data[0] */
};

void spool_reader_init(struct spool_reader *reader, const struct spool_io *io, int fd,
                       uint32_t salt, uint64_t offset, uint64_t end);
void spool_reader_release(struct spool_reader *reader);
/* Decodes the record at reader->offset without moving past it (view borrowed into the window,
 * valid until the next call). Returns its padded size, 0 at end (reader->end, or an all-zero
 * record header), -EBADMSG (bad or partial
 * record), -EIO (read failed), -ENOMEM. */
int64_t spool_reader_peek(struct spool_reader *reader, struct spool_record_view *view);

struct spool_segment {
    uint64_t id;
    uint64_t first_sequence; /* 0 while it holds no record */
    uint64_t last_sequence;
    uint64_t bytes; /* file size in use, header included */
    uint32_t salt;
};

/* A known consumer: from a cursor file found at open, or opened since. */
struct spool_consumer {
    char name[SPOOL_CONSUMER_NAME_MAX + 1];
    uint64_t durable;            /* last stored (or loaded) acknowledged sequence */
    uint64_t generation;         /* of the slot holding durable */
    int fd;                      /* cursor file, -1 until opened */
    struct spool_cursor *cursor; /* NULL when not open */
};

struct spool {
    struct spool_io io;
    struct clock clock;
    struct logger *logger;
    void (*failed_notify)(void *argument); /* spool_options.failed */
    void *failed_argument;
    enum config_sync_mode sync_mode;
    int64_t sync_interval_ns;
    uint64_t max_bytes;
    uint64_t min_free_bytes;
    uint64_t segment_bytes;
    uint64_t reserve_bytes;
    bool offline; /* spool_options.offline: no preallocation, write-ahead or pre-creation */
    char *dir, *segment_dir, *cursor_dir, *quarantine_dir, *reserve_path;
    int lock_fd;

    struct spool_segment *segments; /* sorted by id; the last is the active one */
    size_t segment_count, segment_capacity;
    int active_fd;
    bool has_prepared; /* a pre-created empty segment after the active one */
    struct spool_segment prepared;
    int prepared_fd;

    uint64_t next_sequence;
    uint64_t highest_sequence_seen; /* by recovery, in any segment, cut off or quarantined too */
    uint64_t committed_sequence;
    uint64_t synced_sequence;
    uint64_t total_bytes;
    int64_t last_sync_ns;

    bool read_only;
    bool failed;
    /* The last admission was refused for max_bytes or min_free_bytes (-ENOBUFS or -ENOSPC): the
     * clients get 503 although the spool is writable. Cleared by an admitted record and when
     * segments are deleted, as either may let the next write in. */
    int admission_refused;
    int64_t free_checked_ns; /* monotonic time of the cached statvfs; 0 = none */
    uint64_t free_bytes;     /* from that statvfs */
    uint64_t appended_since_check;

    struct spool_consumer *consumers;
    size_t consumer_count, consumer_capacity;
    struct buffer scratch; /* meta of the record being appended */

    /* Records of spool_append_deferred not written yet, encoded as on disk: they follow the
     * active segment's bytes, with sequences deferred_first .. next_sequence - 1. */
    struct buffer deferred;
    uint64_t deferred_first; /* 0 when nothing is deferred */
    /* Deferred records a failed write lost (disk full), for spool_dropped_take; 0 = none. */
    uint64_t dropped_first, dropped_last;

    /* Blocks of the active segment written once (records or zeros) up to written_until: an
     * fdatasync after writes into them commits no extent conversion (spool_segment_write_ahead). */
    uint64_t written_segment_id;
    uint64_t written_until;
    uint64_t written_commit_end; /* the active segment's bytes at the last commit */

    struct spool_syncer *syncer; /* NULL until spool_sync_thread_start */
    bool sync_in_flight;         /* a job was handed to the sync thread and not collected */
};

/* Sync thread (spool_sync.c). Hands the fdatasync of fd covering every record up to sequence to
 * the thread; false when there is no thread. */
bool spool_sync_thread_hand_over(struct spool *spool, int fd, uint64_t sequence);
/* Collects the result of the job in flight, waiting for it when wait is set. Returns 0 with the
 * job's sequence in *sequence, -EAGAIN (no job, or not finished), or the fdatasync's -errno. */
int spool_sync_thread_collect(struct spool *spool, bool wait, uint64_t *sequence);
/* Stops and joins the thread (after the job in flight). */
void spool_sync_thread_stop(struct spool *spool);

/* path helpers: "<directory>/<name>" into out (out_size bytes). Returns 0 or -ENAMETOOLONG. */
int spool_path_join(char *out, size_t out_size, const char *directory, const char *name);
/* Segment file path of id into out. */
int spool_segment_path(const struct spool *spool, uint64_t id, char *out, size_t out_size);
/* Marks the spool failed (every later write and commit gets -EIO) and tells the owner once. */
void spool_failed_mark(struct spool *spool);
/* fsync of a directory. Returns 0 or -errno. */
int spool_directory_sync(const struct spool *spool, const char *directory);
/* Creates segment id (header with first_sequence, preallocated to segment_bytes, fdatasync,
 * directory fsync, prefetched); returns its fd, -ENOSPC (disk full), or the negative errno of the
 * step that failed (-EIO, -EMFILE, ...), so that the fatal error names its real cause. *segment
 * is filled. */
int spool_segment_create(struct spool *spool, uint64_t id, uint64_t first_sequence,
                         struct spool_segment *segment);
/* Allocates segment fd (borrowed) up to segment_bytes from offset from, so a commit's fdatasync
 * never waits for block allocation and a full disk shows at segment creation, not in the middle
 * of a write. Returns 0 (also when the file system cannot preallocate), -ENOSPC, -EIO. */
int spool_segment_preallocate(struct spool *spool, int fd, uint64_t from);
/* Asks the kernel to bring the preallocated range [from, to) of fd into the page cache: writing
 * into cached pages costs a tenth of creating them during the write (measured: 4.4 GB/s against
 * 0.45 GB/s), which is most of the loop's time on large batches. */
void spool_segment_prefetch(int fd, uint64_t from, uint64_t to);
/* Index of the first segment with id > id, or segment_count (binary search). */
size_t spool_segment_after(const struct spool *spool, uint64_t id);
/* The listed segment with this id (borrowed; valid until the list changes), or NULL. */
struct spool_segment *spool_segment_find(struct spool *spool, uint64_t id);
/* Appends *segment (copied) to spool->segments. Returns 0 or -ENOMEM. */
int spool_segment_push(struct spool *spool, const struct spool_segment *segment);
/* Writes zeros ahead of the active segment's records when the commit just handed over was small:
 * the first write into preallocated (unwritten) blocks turns them into written ones, a metadata
 * change every following fdatasync would commit through the file system's journal; written once
 * ahead, a commit's fdatasync only flushes data (bench/README: +11 % single-line writes a second).
 * Large commits get none: they would write their bytes twice. Best effort: a failed write ends it
 * for this segment (the records' own writes report the disk's errors). */
void spool_segment_write_ahead(struct spool *spool);
/* Makes sure a pre-created segment exists. Returns 0, -ENOSPC (none now, retried later), or
 * another negative errno (fatal; spool_segment_create says which). */
int spool_segment_prepare(struct spool *spool);

/* What a scan of one segment file found. */
struct spool_segment_scan {
    uint64_t id;
    bool header_valid;
    struct spool_segment_header header;
    uint64_t file_size;
    uint64_t valid_end;        /* offset just past the last good record */
    uint64_t data_end;         /* just past the last non-zero byte (= valid_end unless damaged) */
    bool damaged;              /* something after valid_end that is not a good record */
    bool records_after_damage; /* a good record further on: corruption, not a torn write */
    uint64_t highest_sequence; /* of any good record, those after damage included */
    uint64_t records;
    uint64_t first_sequence, last_sequence;
    uint32_t newer_version; /* != 0: written by a newer relay in this format version, not read */
};
/* Lists the seg/<id>.seg files sorted by id into *out (owned by the caller, free()) with only id
 * set. Returns 0 or a negative errno with a message in error. */
int spool_segments_list(const struct spool *spool, struct spool_segment_scan **out, size_t *count,
                        char *error, size_t error_size);
/* Reads the header and every record of the segment file fd (borrowed) into *scan (id set by the
 * caller). Changes nothing. Returns 0 or -EIO, -ENOMEM. */
int spool_segment_scan_run(struct spool *spool, int fd, struct spool_segment_scan *scan);

/* Recovery: scans seg/, fills spool->segments, active_fd, prepared, next_sequence. */
int spool_recovery_run(struct spool *spool, struct spool_recovery_report *report, char *error,
                       size_t error_size);

/* Cursors: loads every cursor/<name>.cur into spool->consumers. */
int spool_consumers_load(struct spool *spool, char *error, size_t error_size);
/* Frees cursors and consumer table. */
void spool_consumers_release(struct spool *spool);
/* Decodes the two slots of a cursor file image (SPOOL_CURSOR_FILE_BYTES, borrowed). Returns 0
 * with the winning slot's sequence and generation, or -1 when neither slot is valid. */
int spool_cursor_image_decode(const uint8_t *image, uint64_t *sequence, uint64_t *generation);
/* The format version of a slot of image (SPOOL_CURSOR_FILE_BYTES, borrowed) that a newer relay
 * wrote (our slot magic, a version above SPOOL_FORMAT_VERSION, the CRC of bytes 0-27 at 28),
 * else 0. Such a slot is no torn
 * one: falling back to the other slot, or to the oldest record, would re-send what it delivered. */
uint32_t spool_cursor_image_newer_version(const uint8_t *image);
/* Encodes one slot (SPOOL_CURSOR_SLOT_BYTES into out, borrowed). */
void spool_cursor_slot_encode(uint8_t *out, uint64_t sequence, uint64_t generation);

/* Little-endian accessors. */
static inline void spool_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void spool_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void spool_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t spool_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t spool_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t spool_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#endif
