/* The durable spool of meter-relay (spec/spool.md): append-only segments of CRC-protected
 * records, group commit with one fdatasync, per-consumer cursors, recovery at open.
 *
 * Single-threaded API: the HTTP layer calls spool_append() for each validated request and
 * spool_commit() (or spool_commit_start() with the sync thread) once per loop pass, then answers
 * every request whose sequence number is at or below the committed one. Consumers (upstreams,
 * the stream processor) read through cursors. The only other thread is the optional sync thread,
 * which runs nothing but fdatasync.
 *
 * Layout under the spool directory: seg/<20-digit id>.seg, cursor/<consumer>.cur, quarantine/,
 * reserve, LOCK. Segment header (64 bytes, little-endian): magic "NKSPOOL\0", version u32,
 * header size u32, segment id u64, creation time ns i64, first sequence u64 (0 in a segment
 * pre-created before its first record: the first record then carries it), salt u32, reserved,
 * header CRC-32C u32 at offset 60 over bytes 0..59. Record: len u32 (header + meta + payload,
 * without padding) | type u8 | flags u8 | meta_len u16 | seq u64 | salt u32 | crc32c u32 | meta |
 * payload, padded with zeros to a multiple of 8; the CRC covers the 24 header bytes (crc field
 * zero), meta and payload. Meta: version u8 (1), then db, rp, bucket, org each as u16 length +
 * bytes, then a u8 consumer count and each consumer name as u8 length + bytes.
 * Segments are preallocated to segment_bytes (fallocate) and are zero after their last record: an
 * all-zero record header ends the data, so does the end of the file (a file system that cannot
 * preallocate, or a segment cut after a failed write).
 * Versions: a segment header or cursor slot with the magic, a version above this build's and a
 * valid CRC is a newer relay's; spool_open refuses the spool (-EPROTO, the file and both versions
 * in the message) and changes nothing. A newer format must keep those fields where they are, and
 * bump the version for any change an older build would misread (a record flag or meta version it
 * does not know makes the record look torn or corrupt). */
#ifndef NEBENKOSTEN_RELAY_SPOOL_H
#define NEBENKOSTEN_RELAY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/clock.h"
#include "config/config.h"
#include "config/log.h"
#include "relay/spool_io.h"

#define SPOOL_SEGMENT_HEADER_SIZE 64
#define SPOOL_RECORD_HEADER_SIZE 24
/* Largest record (header + meta + payload); a bigger append gets -EMSGSIZE. */
#define SPOOL_RECORD_MAX (64u * 1024u * 1024u)
/* Most target consumers one record can name. */
#define SPOOL_CONSUMERS_MAX 16
/* Longest consumer name (cursor file name without ".cur"). */
#define SPOOL_CONSUMER_NAME_MAX 64
#define SPOOL_RESERVE_BYTES_DEFAULT (16u * 1024u * 1024u)

/* A borrowed byte range; not NUL-terminated. */
struct spool_slice {
    const char *data;
    size_t length;
};

/* Where a record goes. All slices are borrowed. consumer_count 0 means every consumer; otherwise
 * only the named consumers' cursors yield the record (the others step over it). */
struct spool_routing {
    struct spool_slice db;
    struct spool_slice rp;
    struct spool_slice bucket;
    struct spool_slice org;
    struct spool_slice consumers[SPOOL_CONSUMERS_MAX];
    size_t consumer_count;
};

/* Record flags (the header's flags byte, covered by the CRC). */
/* Written by the relay's stream processor from earlier records (its processed points). */
#define SPOOL_RECORD_FLAG_DERIVED 0x01u
/* The last derived record of one source record: the stream counts these to know which sources'
 * points are already in the spool after a crash. */
#define SPOOL_RECORD_FLAG_DERIVED_LAST 0x02u
#define SPOOL_RECORD_FLAGS_KNOWN (SPOOL_RECORD_FLAG_DERIVED | SPOOL_RECORD_FLAG_DERIVED_LAST)

/* One record as a cursor yields it; routing slices and payload point into the cursor's buffer and
 * stay valid until the next spool_cursor_next() or spool_cursor_close() on that cursor. */
struct spool_record {
    uint64_t sequence;
    uint8_t flags; /* SPOOL_RECORD_FLAG_* */
    struct spool_routing routing;
    const char *payload; /* normalised line protocol */
    size_t payload_length;
};

struct spool_options {
    const char *dir; /* borrowed during spool_open only */
    enum config_sync_mode sync_mode;
    int64_t sync_interval_ms; /* CONFIG_SYNC_INTERVAL only */
    uint64_t max_bytes;       /* size cap of all segments; 0 = none */
    uint64_t min_free_bytes;  /* free-space floor of the file system */
    uint64_t segment_bytes;   /* roll over to a new segment beyond this size */
    uint64_t reserve_bytes;   /* size of the `reserve` file; 0 = no reserve file */
    /* An operator's command on a stopped relay's spool (spool-check --fix, dlq replay), which
     * does not know the relay's segment_bytes: segments are neither preallocated nor written
     * ahead nor pre-created, so the spool gets no segment of the wrong size (64 MiB in one
     * configured for less, beyond its max_bytes); the relay sizes them at its next start.
     * Appends roll over at the size of the segment the relay pre-created (its segment_bytes),
     * else at segment_bytes. */
    bool offline;
    const struct spool_io *io; /* copied; NULL = spool_io_system() */
    const struct clock *clock; /* copied; NULL = clock_system() */
    struct logger *logger;     /* borrowed, must outlive the spool; NULL = stderr */
    /* Told once when the spool fails (EIO, a failed fsync, a cursor that cannot be stored), from
     * inside the call that failed, whoever made it: a cursor store of an idle relay fails no
     * commit that would tell the relay to stop. Only schedule the stop there. NULL = not told. */
    void (*failed)(void *argument);
    void *failed_argument;
};

/* Fills options from the configuration (config borrowed; options->dir points into it) with the
 * default reserve size and the system I/O and clock. */
void spool_options_from_config(struct spool_options *options, const struct config_spool *config);

/* What recovery found at spool_open(); for the log and /metrics. */
struct spool_recovery_report {
    int64_t duration_ns;
    uint64_t segments;             /* segments kept (pre-created empty one included) */
    uint64_t records;              /* valid records found */
    uint64_t truncated_bytes;      /* torn tail cut off */
    uint64_t quarantined_segments; /* corrupt non-tail segments moved to quarantine/ */
    uint64_t first_sequence;       /* oldest record, 0 when empty */
    uint64_t last_sequence;        /* newest record, 0 when empty */
    uint64_t consumers;            /* cursor files loaded */
};

struct spool;

/* Opens (creating the directories when missing) and recovers the spool in options->dir: takes
 * the LOCK (a second process on the same directory gets -EWOULDBLOCK and a message naming the
 * directory), scans every segment, truncates a torn tail, quarantines corrupt earlier segments,
 * loads cursors, pre-creates the next segment and the reserve file. Data problems never make it
 * fail; only environment problems do (permissions, lock held, I/O errors), and files a newer
 * spool format version wrote (-EPROTO, nothing changed). options is borrowed;
 * *report (may be NULL) is filled. Returns 0 and an owned spool in *out (free with spool_close),
 * or a negative errno with a message in error. */
int spool_open(const struct spool_options *options, struct spool **out,
               struct spool_recovery_report *report, char *error, size_t error_size);

/* Closes every cursor still open (without storing them), the files and the lock; frees spool
 * (owned; NULL is fine). Does not sync: call spool_flush() first for a clean shutdown. */
void spool_close(struct spool *spool);

/* Appends one record (routing and payload borrowed, copied to the segment) and stores its
 * sequence number in *sequence. The record is not durable until spool_commit() says so.
 * Returns 0 or a negative errno:
 *   -EMSGSIZE  record larger than SPOOL_RECORD_MAX or routing fields too long (client error)
 *   -EINVAL    routing has more than SPOOL_CONSUMERS_MAX consumers or a name over 255 bytes
 *   -ENOBUFS   admission: the spool holds max_bytes already (retry later: 503)
 *   -ENOSPC    admission: the file system is below min_free_bytes, or the write hit ENOSPC or
 *              was short (the spool then truncated the partial record and is read-only) (503)
 *   -EROFS     read-only after an earlier ENOSPC; left automatically once a statvfs (at most
 *              every second) shows room again, or by spool_read_only_retry() (503)
 *   -ENOMEM
 *   -EIO       fatal: an I/O error or failed truncation; every later call returns -EIO, the
 *              relay should answer 503 to pending requests and exit non-zero. */
int spool_append(struct spool *spool, const struct spool_routing *routing, const char *payload,
                 size_t length, uint64_t *sequence);
/* spool_append() with record flags (SPOOL_RECORD_FLAGS_KNOWN bits; others are -EINVAL). */
int spool_append_flagged(struct spool *spool, const struct spool_routing *routing, uint8_t flags,
                         const char *payload, size_t length, uint64_t *sequence);

/* spool_append() for the ingest path, where the requests wait for the commit anyway: a small
 * record is only encoded into memory here, and everything deferred is written with one pwrite
 * at the next commit (or at a write-through append, a segment roll-over, or once
 * SPOOL_DEFERRED_BYTES_MAX collected), so many requests per loop pass cost one write instead of
 * one each. Records of SPOOL_DEFERRED_RECORD_MAX bytes or more are written at once. Returns what
 * spool_append() returns for the admission and for a write done here; a deferred write that fails
 * later with ENOSPC loses its records (none was acknowledged) and reports them through
 * spool_dropped_take(). */
#define SPOOL_DEFERRED_RECORD_MAX (64u * 1024u)
#define SPOOL_DEFERRED_BYTES_MAX (256u * 1024u)
int spool_append_deferred(struct spool *spool, const struct spool_routing *routing,
                          const char *payload, size_t length, uint64_t *sequence);

/* Deferred records that were lost because their write hit a full disk (the spool went read-only,
 * as after a failed spool_append): their requests must be answered 503, never acknowledged,
 * even though later commits name higher sequence numbers. Returns true once with the range
 * [*first, *last], then forgets it; call it after every spool_commit*() and before answering the
 * commit's requests. */
bool spool_dropped_take(struct spool *spool, uint64_t *first, uint64_t *last);

/* Makes what spool_append() wrote visible to cursors and, per sync mode, durable:
 *   always        one fdatasync covering every record appended since the last commit;
 *   interval:<ms> at most one fdatasync per interval; in between the records are committed
 *                 without one (durable against a process crash, not against power loss) -- the
 *                 caller must keep calling commit (e.g. on a timer) so the last ones get synced;
 *   none          never an fdatasync (only spool_flush syncs).
 * Afterwards pre-creates the next segment if there is none. Stores the highest committed
 * sequence number (every record up to it may be acknowledged) in *committed (borrowed; may be
 * NULL). Returns 0 or -EIO (fatal: the fdatasync failed, the data may be lost; exit non-zero). */
int spool_commit(struct spool *spool, uint64_t *committed);

/* Starts the sync thread (sync mode always only): from now on spool_commit_start() hands the
 * fdatasync to it, so the caller's loop keeps accepting while the disk syncs. Returns the eventfd
 * (owned by the spool) that becomes readable when a commit finished: call
 * spool_commit_complete() then. Returns -ENOTSUP in other sync modes, or another negative errno
 * (the synchronous commit stays in use). */
int spool_sync_thread_start(struct spool *spool);

/* spool_commit() for an event loop. Returns 1 when the commit finished here (no sync thread, or
 * nothing new to sync; *committed set as by spool_commit), 0 when its fdatasync is in flight on
 * the sync thread (or one already was: its completion starts nothing by itself, so call this
 * again after spool_commit_complete), or -EIO. */
int spool_commit_start(struct spool *spool, uint64_t *committed);

/* Collects the commit in flight once the eventfd of spool_sync_thread_start() is readable.
 * Returns 0 with the highest committed sequence in *committed, -EAGAIN (nothing finished), or
 * -EIO (the fdatasync failed: fatal as in spool_commit). */
int spool_commit_complete(struct spool *spool, uint64_t *committed);

/* spool_commit() with an fdatasync whatever the sync mode (shutdown, end of an interval); with
 * sync: none also of the full segments closed unsynced since the last flush. */
int spool_flush(struct spool *spool, uint64_t *committed);

/* Highest sequence appended, committed or not (0 = none yet). */
uint64_t spool_appended_sequence(const struct spool *spool);
/* Highest committed sequence (0 = none yet). */
uint64_t spool_committed_sequence(const struct spool *spool);
/* Highest sequence covered by an fdatasync (equals the committed one in sync mode always). */
uint64_t spool_durable_sequence(const struct spool *spool);
/* Bytes of the segments holding records after sequence (whole segments: an estimate of what a
 * consumer at that position still has to read). */
uint64_t spool_backlog_bytes(const struct spool *spool, uint64_t sequence);
/* Bytes of all segments (what max_bytes limits). */
uint64_t spool_size_bytes(const struct spool *spool);
/* Number of segment files (including the pre-created one). */
size_t spool_segment_count(const struct spool *spool);
/* The sync mode the spool was opened with (a reload does not change it). */
enum config_sync_mode spool_sync_mode(const struct spool *spool);
bool spool_is_read_only(const struct spool *spool);
bool spool_has_failed(const struct spool *spool);
/* -ENOBUFS (max_bytes) or -ENOSPC (min_free_bytes) when the last write was refused for room and no
 * write was admitted nor segment deleted since, else 0: what /health reports while clients get
 * 503 from a writable spool. */
int spool_admission_refused(const struct spool *spool);

/* Leaves read-only mode now if a fresh statvfs shows min_free_bytes plus the reserve free and the
 * reserve file can be recreated. Returns 0 (writable again), -EROFS (still no room), -EIO. */
int spool_read_only_retry(struct spool *spool);

/* A short English reason for an error code of this API ("spool is full (max_bytes)", ...);
 * static string. */
const char *spool_error_reason(int code);

/* Deletes every segment (except the active one) whose records all lie at or below every
 * consumer's durable cursor: unlink, then one fsync of seg/. Nothing is deleted while no consumer
 * is known. Stores the number deleted in *released (may be NULL). Returns 0 or -EIO. */
int spool_segments_release(struct spool *spool, size_t *released);

/* Offline check of the spool in dir (borrowed) for `meter-relay spool-check [--fix] DIR`: prints
 * every segment (records, sequence range, problems), every cursor and a summary to out
 * (borrowed). Without fix nothing is changed; with fix the recovery of spool_open() runs and its
 * report is printed. Refuses while a relay holds the LOCK, printing nothing. Returns 0 (clean), 1
 * (problems found, or repaired with fix), or a negative errno (-EWOULDBLOCK when locked, -ENOENT,
 * -EIO). */
int spool_check(const char *dir, bool fix, FILE *out);

struct spool_cursor;

/* Opens the cursor of consumer (borrowed; [A-Za-z0-9_.-], not starting with '.', at most
 * SPOOL_CONSUMER_NAME_MAX bytes). Its position is the stored cursor file's, else just before the
 * oldest record; a missing cursor file is created (4 KiB, synced). Returns 0 and the cursor in
 * *out (owned by the spool; close with spool_cursor_close or let spool_close do it), -EINVAL (bad
 * name), -EBUSY (already open), -ENOMEM, -EIO, or the errno of a cursor file that cannot be
 * opened (-EACCES, -EMFILE...). */
int spool_cursor_open(struct spool *spool, const char *consumer, struct spool_cursor **out);

/* Closes cursor (NULL is fine) without storing it; its stored position keeps counting for
 * segment deletion. */
void spool_cursor_close(struct spool_cursor *cursor);

/* Yields the next committed record addressed to this consumer into *record (borrowed; see struct
 * spool_record for how long its slices live). Records for other consumers are stepped over; they
 * count as acknowledged once every record yielded before them is. Returns 1 (a record), 0 (none
 * committed yet; call again later), -EBADMSG (a record failed its CRC on re-read), -EIO. */
int spool_cursor_next(struct spool_cursor *cursor, struct spool_record *record);

/* Marks every record up to sequence as done (in memory; spool_cursor_store makes it durable);
 * acknowledging the last yielded record also covers the records stepped over after it. Going
 * backwards is ignored. */
void spool_cursor_acknowledge(struct spool_cursor *cursor, uint64_t sequence);

/* Writes the acknowledged position to the other slot of the cursor file and fdatasyncs it. A
 * stale cursor only re-sends, so callers store lazily (every second and at shutdown).
 * Returns 0 or -EIO. */
int spool_cursor_store(struct spool_cursor *cursor);

uint64_t spool_cursor_acknowledged(const struct spool_cursor *cursor);

/* Stores in names (caller-owned array of max entries; the strings are borrowed from the spool) the
 * consumers whose cursor file exists but which nobody opened -- an upstream removed from the
 * configuration, a disabled stream processor -- and returns how many there are (may exceed max).
 * Their stored positions still hold back segment deletion: data leaves the spool only by
 * delivery or by an operator's decision. */
size_t spool_unopened_consumers(const struct spool *spool, const char **names, size_t max);
/* Does consumer (borrowed) have a cursor in the spool: a cursor file found at open, or opened
 * since? Records addressed only to a consumer without one are stepped over by every cursor. */
bool spool_consumer_known(const struct spool *spool, const char *consumer);
/* The position last made durable by spool_cursor_store (or loaded at open). */
uint64_t spool_cursor_durable(const struct spool_cursor *cursor);
/* When the position was last stored, also by an earlier run (realtime ns, the modification time
 * of the cursor file, which only a store, its creation or spool_cursor_stored_ns_set changes); 0
 * when unknown. */
int64_t spool_cursor_stored_ns(const struct spool_cursor *cursor);
/* Sets what spool_cursor_stored_ns reads at the next start to realtime_ns: at shutdown, when the
 * oldest waiting record began to wait, which can be later than the last store (a record that came
 * after an idle time). Returns 0 or a negative errno. */
int spool_cursor_stored_ns_set(struct spool_cursor *cursor, int64_t realtime_ns);

#endif
