/* spool_directory_reader: the lock-free, read-only record walk behind `meter-relay spool-dump`. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/error.h"
#include "relay/spool_internal.h"
#include "relay/spool_reader.h"
#include "relay/terminal_text.h"

/* A running relay writes a record with one pwritev; a reader can see part of it for that long.
 * Re-reading a few times over ~100 ms tells such a record from a torn one. */
#define READER_TAIL_ATTEMPTS 5
#define READER_TAIL_WAIT_NS (20 * 1000 * 1000)

struct spool_directory_reader {
    struct spool spool; /* only io and segment_dir are used */
    char segment_dir[4096];
    struct spool_segment_scan *segments; /* ids, and file_size as listed at open */
    size_t segment_count;
    size_t index; /* segment being read, or the next to open */
    size_t tail;  /* last segment holding records at open; damage at or after it is a torn tail */
    uint64_t from;
    int fd; /* -1 when no segment is open */
    struct spool_reader reader;
    uint64_t expected;      /* sequence of the next record in this segment, 0 = unknown */
    bool complete;          /* the open segment's end was re-read after the next segment started */
    uint32_t newer_version; /* of the last header read, when a newer relay wrote it (else 0) */
};

/* True when the segment file at path holds a record (or part of one) after its header: the
 * first record header is not all zero. Segments are preallocated, so the size says nothing. */
static bool reader_path_has_records(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    uint8_t header[SPOOL_RECORD_HEADER_SIZE];
    bool started = pread(fd, header, sizeof header, SPOOL_SEGMENT_HEADER_SIZE) > 0 &&
                   !spool_record_is_end(header);
    close(fd); /* read-only descriptor: nothing to lose */
    return started;
}

int spool_directory_reader_open(const char *dir, uint64_t from, struct spool_directory_reader **out,
                                char *error, size_t error_size)
{
    struct spool_directory_reader *reader = calloc(1, sizeof *reader);
    if (!reader) {
        error_message_set(error, error_size, "out of memory opening the spool %s", dir);
        return -ENOMEM;
    }
    reader->fd = -1;
    reader->from = from;
    reader->spool.io = spool_io_system();
    reader->spool.lock_fd = -1;
    if (spool_path_join(reader->segment_dir, sizeof reader->segment_dir, dir, "seg") != 0) {
        error_message_set(error, error_size, "spool directory name too long: %s", dir);
        free(reader);
        return -ENAMETOOLONG;
    }
    reader->spool.segment_dir = reader->segment_dir;
    int result = spool_segments_list(&reader->spool, &reader->segments, &reader->segment_count,
                                     error, error_size);
    if (result != 0) {
        free(reader);
        return result;
    }
    for (size_t i = 0; i < reader->segment_count; i++) {
        char path[4096 + 32];
        struct stat status;
        if (spool_segment_path(&reader->spool, reader->segments[i].id, path, sizeof path) != 0 ||
            stat(path, &status) != 0)
            continue;
        reader->segments[i].file_size = (uint64_t)status.st_size;
        if (reader_path_has_records(path))
            reader->tail = i;
    }
    *out = reader;
    return 0;
}

static void reader_segment_close(struct spool_directory_reader *reader)
{
    if (reader->fd < 0)
        return;
    spool_reader_release(&reader->reader);
    close(reader->fd); /* read-only descriptor: nothing to lose */
    reader->fd = -1;
    reader->index++;
}

/* Reads the header of segment index into *header. Returns 0, -ENOENT (gone: delivered and deleted
 * by a running relay), -EBADMSG (short or invalid), -EIO. The fd (may be NULL) gets the open
 * descriptor on success (owned by the caller). */
static int reader_header_read(struct spool_directory_reader *reader, size_t index,
                              struct spool_segment_header *header, int *fd_out)
{
    char path[4096 + 32];
    if (spool_segment_path(&reader->spool, reader->segments[index].id, path, sizeof path) != 0)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : -EIO;
    uint8_t bytes[SPOOL_SEGMENT_HEADER_SIZE];
    ssize_t got = pread(fd, bytes, sizeof bytes, 0);
    int result = 0;
    if (got < 0)
        result = -EIO;
    else if (got != (ssize_t)sizeof bytes || spool_segment_header_decode(bytes, header) != 0 ||
             header->id != reader->segments[index].id)
        result = -EBADMSG;
    reader->newer_version = result == -EBADMSG && got == (ssize_t)sizeof bytes
                                ? spool_segment_header_newer_version(bytes)
                                : 0;
    if (result != 0 || !fd_out)
        close(fd); /* read-only descriptor: nothing to lose */
    else
        *fd_out = fd;
    return result;
}

/* True when segment index holds only records before reader->from: the next segment starts at or
 * below it. */
static bool reader_segment_skippable(struct spool_directory_reader *reader, size_t index)
{
    if (reader->from == 0 || index + 1 >= reader->segment_count)
        return false;
    struct spool_segment_header next;
    if (reader_header_read(reader, index + 1, &next, NULL) != 0)
        return false;
    return next.first_sequence != 0 && next.first_sequence <= reader->from;
}

/* Opens segment reader->index. Returns 0 (open, or skipped: index moved on), -EBADMSG (header
 * invalid; index moved on), -EIO. */
static int reader_segment_open(struct spool_directory_reader *reader, char *error,
                               size_t error_size)
{
    size_t index = reader->index;
    uint64_t id = reader->segments[index].id;
    if (reader_segment_skippable(reader, index)) {
        reader->index++;
        return 0;
    }
    struct spool_segment_header header;
    int fd = -1;
    int result = reader_header_read(reader, index, &header, &fd);
    if (result == -ENOENT ||
        (result == -EBADMSG && reader->segments[index].file_size == 0 && index >= reader->tail)) {
        reader->index++; /* deleted after delivery, or being created right now */
        return 0;
    }
    if (result == -EBADMSG && reader->newer_version != 0) {
        /* Not corruption: neither the relay nor --fix touches it (spool_recovery_run). */
        error_message_set(error, error_size,
                          "%s/%020" PRIu64 ".seg: written by a newer meter-relay (spool format "
                          "version %" PRIu32 "; this one reads %d); its records are skipped",
                          reader->segment_dir, id, reader->newer_version, SPOOL_FORMAT_VERSION);
        reader->index++;
        return -EBADMSG;
    }
    if (result != 0) {
        error_message_set(error, error_size,
                          "%s/%020" PRIu64 ".seg: %s; its records are skipped (spool-check "
                          "reports it, spool-check --fix quarantines it)",
                          reader->segment_dir, id,
                          result == -EBADMSG ? "segment header invalid" : "cannot read");
        reader->index++;
        return result == -EBADMSG ? -EBADMSG : -EIO;
    }
    struct stat status;
    if (fstat(fd, &status) != 0) {
        close(fd); /* read-only descriptor: nothing to lose */
        error_message_set(error, error_size, "%s/%020" PRIu64 ".seg: cannot stat: %s",
                          reader->segment_dir, id, strerror(errno));
        return -EIO;
    }
    reader->fd = fd;
    reader->complete = false;
    reader->expected = header.first_sequence;
    spool_reader_init(&reader->reader, &reader->spool.io, fd, header.salt,
                      SPOOL_SEGMENT_HEADER_SIZE, (uint64_t)status.st_size);
    return 0;
}

/* True when the segment listed after the open one holds a record. A relay finishes a segment
 * before it writes to the next, so the open one is then complete. */
static bool reader_next_segment_started(const struct spool_directory_reader *reader)
{
    if (reader->index + 1 >= reader->segment_count)
        return false;
    char path[4096 + 32];
    if (spool_segment_path(&reader->spool, reader->segments[reader->index + 1].id, path,
                           sizeof path) != 0)
        return false;
    return reader_path_has_records(path);
}

/* At the end of the open segment as last seen: returns 1 to go on reading it (a running relay
 * appended to it before moving on to the next segment), 0 to go to the next segment, 2 when this
 * is the newest data (stop here, so the dump stays a gap-free prefix), -EIO. */
static int reader_segment_end(struct spool_directory_reader *reader)
{
    if (reader->complete)
        return 0;
    if (!reader_next_segment_started(reader))
        return 2;
    reader->complete = true;
    struct stat status;
    if (fstat(reader->fd, &status) != 0)
        return -EIO;
    /* Re-read from the offset: what looked like the end (zeros, or the file's end) may have been
     * written since. */
    reader->reader.end = (uint64_t)status.st_size;
    buffer_clear(&reader->reader.window);
    return 1;
}

/* Re-reads the record at the reader's offset a few times: a running relay may be writing it.
 * Returns its padded size once it decodes with the expected sequence, or -EBADMSG, -EIO, -ENOMEM.
 */
static int64_t reader_tail_retry(struct spool_directory_reader *reader,
                                 struct spool_record_view *view)
{
    int64_t padded = -EBADMSG;
    for (int attempt = 0; attempt < READER_TAIL_ATTEMPTS; attempt++) {
        struct timespec wait = {.tv_sec = 0, .tv_nsec = READER_TAIL_WAIT_NS};
        nanosleep(&wait, NULL);
        struct stat status;
        if (fstat(reader->fd, &status) != 0)
            return -EIO;
        reader->reader.end = (uint64_t)status.st_size;
        buffer_clear(&reader->reader.window); /* drop what was read before the write completed */
        padded = spool_reader_peek(&reader->reader, view);
        if (padded == -EIO || padded == -ENOMEM)
            return padded;
        if (padded == 0)
            continue; /* nothing new at the end after all */
        if (padded > 0 && (reader->expected == 0 || view->sequence == reader->expected))
            return padded;
        padded = -EBADMSG;
    }
    return padded;
}

int spool_directory_reader_next(struct spool_directory_reader *reader, struct spool_record *record,
                                char *error, size_t error_size)
{
    for (;;) {
        if (reader->fd < 0) {
            if (reader->index >= reader->segment_count)
                return 0;
            int result = reader_segment_open(reader, error, error_size);
            if (result != 0)
                return result;
            continue;
        }
        struct spool_record_view view;
        int64_t padded = spool_reader_peek(&reader->reader, &view);
        if (padded == 0) {
            int end = reader_segment_end(reader);
            if (end == 1)
                continue;
            if (end < 0) {
                error_message_set(error, error_size, "%s/%020" PRIu64 ".seg: cannot stat: %s",
                                  reader->segment_dir, reader->segments[reader->index].id,
                                  strerror(errno));
                return end;
            }
            reader_segment_close(reader);
            if (end == 2)
                reader->index = reader->segment_count;
            continue;
        }
        if (padded > 0 && reader->expected != 0 && view.sequence != reader->expected)
            padded = -EBADMSG;
        bool tail = reader->index >= reader->tail;
        if (padded == -EBADMSG && tail)
            padded = reader_tail_retry(reader, &view);
        if (padded == -EIO || padded == -ENOMEM) {
            error_message_set(error, error_size, "%s/%020" PRIu64 ".seg: %s", reader->segment_dir,
                              reader->segments[reader->index].id,
                              padded == -EIO ? "read failed" : "out of memory");
            return (int)padded;
        }
        if (padded < 0) {
            uint64_t offset = reader->reader.offset;
            uint64_t size = reader->reader.end;
            error_message_set(
                error, error_size,
                tail ? "%s/%020" PRIu64 ".seg: torn tail at offset %" PRIu64 " (%" PRIu64
                       " bytes after the last good record): the relay truncates it at its next "
                       "start, spool-check --fix does it now"
                     : "%s/%020" PRIu64 ".seg: corrupt record at offset %" PRIu64 " (%" PRIu64
                       " bytes left in the segment are skipped): spool-check --fix quarantines it",
                reader->segment_dir, reader->segments[reader->index].id, offset, size - offset);
            reader_segment_close(reader);
            if (tail)
                reader->index = reader->segment_count;
            return -EBADMSG;
        }
        reader->reader.offset += (uint64_t)padded;
        reader->expected = view.sequence + 1;
        if (view.sequence < reader->from)
            continue;
        record->sequence = view.sequence;
        record->flags = view.flags;
        record->routing = view.routing;
        record->payload = view.payload;
        record->payload_length = view.payload_length;
        return 1;
    }
}

void spool_directory_reader_close(struct spool_directory_reader *reader)
{
    if (!reader)
        return;
    if (reader->fd >= 0) {
        spool_reader_release(&reader->reader);
        close(reader->fd); /* read-only descriptor: nothing to lose */
    }
    free(reader->segments);
    free(reader);
}

int spool_routing_print(FILE *out, const char *sequence, const struct spool_routing *routing,
                        uint8_t flags, bool escape)
{
    const struct {
        const char *label;
        const struct spool_slice *value;
    } names[] = {
        {" db=", &routing->db},
        {" rp=", &routing->rp},
        {" bucket=", &routing->bucket},
        {" org=", &routing->org},
    };
    if (fprintf(out, "# seq=%s", sequence) < 0)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (fputs(names[i].label, out) == EOF ||
            terminal_text_write(out, names[i].value->data, names[i].value->length, escape) != 0)
            return -1;
    if (fputs(" consumers=", out) == EOF ||
        (routing->consumer_count == 0 && fputc('*', out) == EOF))
        return -1;
    for (size_t i = 0; i < routing->consumer_count; i++)
        if ((i > 0 && fputc(',', out) == EOF) ||
            terminal_text_write(out, routing->consumers[i].data, routing->consumers[i].length,
                                escape) != 0)
            return -1;
    if ((flags & SPOOL_RECORD_FLAG_DERIVED) && fputs(" origin=stream", out) == EOF)
        return -1;
    return fputc('\n', out) == EOF ? -1 : 0;
}
