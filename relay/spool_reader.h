/* A read-only walk over every record of a spool directory, for `meter-relay spool-dump`. It takes
 * no LOCK and changes nothing, so it runs beside a relay appending to the same directory: it lists
 * the segments once at open, reads each one up to its size when it gets there, and gives a record
 * that is still being written a moment to complete before calling it torn. */
#ifndef NEBENKOSTEN_RELAY_SPOOL_READER_H
#define NEBENKOSTEN_RELAY_SPOOL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "relay/spool.h"

struct spool_directory_reader;

/* Opens a walk over the spool in dir (borrowed during the call) from sequence number from on
 * (0 = the oldest record); segments wholly before from are skipped unread. Returns 0 and an owned
 * reader in *out (free with spool_directory_reader_close), or a negative errno (-ENOENT: no seg/
 * directory, -ENOMEM, -ENAMETOOLONG) with a message in error. */
int spool_directory_reader_open(const char *dir, uint64_t from, struct spool_directory_reader **out,
                                char *error, size_t error_size);

/* Yields the next record at or after from into *record (borrowed: its slices stay valid until the
 * next call or close). Returns
 *   1        a record;
 *   0        no more records;
 *   -EBADMSG a damaged record, described in error. Damage in a segment followed by segments that
 *            hold records is corruption: the rest of that segment is skipped and the next call
 *            goes on with the next segment. Damage in the last segment holding records is a torn
 *            tail: the walk ends (the next call returns 0);
 *   -EIO, -ENOMEM (message in error; the walk cannot go on). */
int spool_directory_reader_next(struct spool_directory_reader *reader, struct spool_record *record,
                                char *error, size_t error_size);

/* Frees reader (owned; NULL is fine). */
void spool_directory_reader_close(struct spool_directory_reader *reader);

/* Prints the routing line spool-dump and `dlq show` put before a record's lines:
 * "# seq=SEQUENCE db=.. rp=.. bucket=.. org=.. consumers=a,b" ("*" for every consumer), plus
 * " origin=stream" for the stream processor's records (flags has SPOOL_RECORD_FLAG_DERIVED).
 * sequence (NUL-terminated, e.g. "5" or "2..4") and routing are borrowed; with escape, control
 * characters in the names are shown as terminal_text_write shows them. Returns 0 or -1 (the write
 * failed). */
int spool_routing_print(FILE *out, const char *sequence, const struct spool_routing *routing,
                        uint8_t flags, bool escape);

#endif
