/* Dead letters: batches an upstream rejected for good (400, 422, "partial write", "unable to
 * parse", "points beyond retention policy", a single record still 413; spec/spool.md, Delivery).
 * The forwarder writes one with dead_letter_write() and advances its cursor; `meter-relay dlq`
 * lists, shows, drops and replays them.
 *
 * Layout: <spool dir>/dlq/<upstream>/<20-digit first sequence>.dlq, so names sort by sequence
 * within an upstream and two upstreams rejecting the same batch never collide. Written as
 * dlq/<upstream>/.<20 digits>.tmp, fsynced, renamed, directory fsynced; names starting with '.'
 * are never listed. A batch rejected again with the same first sequence (re-sent after a restart
 * with a stale cursor) replaces its entry: the spool's records never change, so it holds the same
 * lines, with the newer answer.
 *
 * File format: the spool's record format (spool.h), nothing after the last record:
 *   segment header (64 bytes): id and first sequence = the batch's first sequence, creation
 *     time = the rejection time (time_ns), a random salt;
 *   record type 1 (data), seq = first sequence: meta = the batch's routing, payload = the lines
 *     exactly as sent;
 *   record type 2 (answer), seq = last sequence, no meta: payload = one JSON object (cJSON,
 *     unformatted) {"upstream":"a","status":400,"first_sequence":42,"last_sequence":44,
 *     "line_count":3,"time":"2024-05-01T12:00:00.123456789Z","answer":"...","answer_bytes":17}.
 *     The answer keeps at most DEAD_LETTER_ANSWER_MAX bytes (when the cut leaves 1-3 bytes that
 *     are not UTF-8 at the end, they go too, so a long text answer stays text); answer_bytes is
 *     its length before the cut. An answer that is not valid UTF-8 or holds a NUL byte is
 *     stored as "answer_hex" (two lowercase hex digits per byte) instead of "answer", so every
 *     byte survives. The record headers are authoritative for the sequences and the segment
 *     header for the time; the JSON repeats them (checked on read) for a human with a hex dump. */
#ifndef NEBENKOSTEN_RELAY_DEAD_LETTER_H
#define NEBENKOSTEN_RELAY_DEAD_LETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/spool.h"

/* Most answer bytes kept. */
#define DEAD_LETTER_ANSWER_MAX (64u * 1024u)
/* Record type of the answer record (type 1 is the spool's data record). */
#define DEAD_LETTER_RECORD_TYPE_ANSWER 2
/* Room for an id as text: upstream, '/', 20 digits, NUL. */
#define DEAD_LETTER_ID_TEXT_SIZE (SPOOL_CONSUMER_NAME_MAX + 22)

/* One rejected batch. Every pointer is borrowed. */
struct dead_letter {
    const char *upstream;         /* consumer name of the upstream, [A-Za-z0-9_.-], NUL-ended */
    struct spool_routing routing; /* of the batch (one routing per batch) */
    uint64_t first_sequence, last_sequence; /* spool sequences the batch covered */
    const char *lines;                      /* the batch as sent: whole normalised lines, */
    size_t lines_length;                    /* each ending in \n */
    size_t line_count;
    int status;           /* HTTP status of the rejection */
    const char *answer;   /* the upstream's answer body (any bytes; at most */
    size_t answer_length; /* DEAD_LETTER_ANSWER_MAX are kept) */
    int64_t time_ns;      /* when it was rejected (realtime) */
};

/* Writes letter (borrowed) to <spool_dir>/dlq/<upstream>/ durably: temp file, fsync, rename,
 * directory fsync (dlq/ and dlq/<upstream>/ are created when missing, their parents fsynced).
 * spool_dir is borrowed. Returns 0, or a negative errno with a message naming the path in error
 * (caller-owned, error_size bytes): -EINVAL (bad upstream name, first sequence 0 or after the
 * last, too many consumers), -EMSGSIZE (routing and lines over SPOOL_RECORD_MAX), -ENOMEM,
 * -ENOSPC, -EIO or another errno of the file system. */
int dead_letter_write(const char *spool_dir, const struct dead_letter *letter, char *error,
                      size_t error_size);

/* Names one entry: its upstream and the first sequence of its batch. As text "UPSTREAM/SEQ". */
struct dead_letter_id {
    char upstream[SPOOL_CONSUMER_NAME_MAX + 1];
    uint64_t first_sequence;
};

/* Parses "UPSTREAM/SEQ" (text borrowed, length bytes, SEQ decimal without sign) into *id.
 * Returns 0 or -EINVAL. */
int dead_letter_id_parse(const char *text, size_t length, struct dead_letter_id *id);

/* Writes id (borrowed) as "UPSTREAM/SEQ" into out (DEAD_LETTER_ID_TEXT_SIZE bytes, borrowed). */
void dead_letter_id_format(const struct dead_letter_id *id, char *out);

/* True when name (borrowed, length bytes) is a valid upstream (consumer) name. */
bool dead_letter_upstream_valid(const char *name, size_t length);

/* Lists the entries under <spool_dir>/dlq (spool_dir borrowed), of one upstream when upstream
 * (borrowed) is not NULL, sorted by upstream name, then first sequence. Looks at names only:
 * dead_letter_entry_read() checks the contents. A missing dlq/ (or dlq/<upstream>/) is an empty
 * list. Returns 0 with an owned array in *ids (free() it; NULL when *count is 0), or a negative
 * errno with a message in error. */
int dead_letter_entries_list(const char *spool_dir, const char *upstream,
                             struct dead_letter_id **ids, size_t *count, char *error,
                             size_t error_size);

/* One entry read back from its file. */
struct dead_letter_entry;

/* Reads and checks the entry id (borrowed) under spool_dir (borrowed): header, both records' CRCs,
 * the JSON, that the name, header and JSON agree, and that nothing follows the last record.
 * Returns 0 with an owned entry in *out (free with dead_letter_entry_free), or a negative errno
 * with a message naming the file in error: -ENOENT (no such entry), -EBADMSG (damaged: what is
 * wrong), -ENOMEM, -EIO. */
int dead_letter_entry_read(const char *spool_dir, const struct dead_letter_id *id,
                           struct dead_letter_entry **out, char *error, size_t error_size);

/* The entry as a letter (borrowed from entry, valid until dead_letter_entry_free): every field
 * as written, except that answer holds the kept bytes only. */
const struct dead_letter *dead_letter_entry_letter(const struct dead_letter_entry *entry);

/* The answer's length before it was cut to DEAD_LETTER_ANSWER_MAX bytes. */
uint64_t dead_letter_entry_answer_bytes(const struct dead_letter_entry *entry);

/* Frees entry (owned; NULL is fine). */
void dead_letter_entry_free(struct dead_letter_entry *entry);

/* Deletes the entry id (borrowed) under spool_dir (borrowed) durably: unlink, directory fsync.
 * Returns 0, or a negative errno with a message in error: -ENOENT (no such entry), -EIO, ... */
int dead_letter_entry_remove(const char *spool_dir, const struct dead_letter_id *id, char *error,
                             size_t error_size);

/* Writes time_ns as RFC 3339 UTC with nanoseconds ("2024-05-01T12:00:00.123456789Z") into out
 * (borrowed, out_size bytes, NUL-terminated; 40 bytes are enough). */
void dead_letter_time_format(int64_t time_ns, char *out, size_t out_size);

/* Writes the first characters of answer (borrowed, length bytes) on one line into out (borrowed,
 * out_size bytes, NUL-terminated; 4 * characters + 4 bytes are enough): control characters and
 * bytes that are not UTF-8 shown as \xNN, a backslash as \\, "..." appended when the preview
 * stops before the end or cut says the answer was cut when stored. Returns the length written. */
size_t dead_letter_answer_preview(const char *answer, size_t length, bool cut, size_t characters,
                                  char *out, size_t out_size);

#endif
