/* Recovery at open: lists the segments, checks every record (bounds, CRC, salt, sequence
 * continuity), truncates a torn tail, quarantines corrupt earlier segments, and leaves the spool
 * ready to append. Data problems never stop start-up; they are counted and logged. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/error.h"
#include "relay/spool_internal.h"

static int compare_ids(const void *a, const void *b)
{
    uint64_t left = ((const struct spool_segment_scan *)a)->id;
    uint64_t right = ((const struct spool_segment_scan *)b)->id;
    return left < right ? -1 : left > right;
}

static bool segment_name_parse(const char *name, uint64_t *id)
{
    if (strlen(name) != 24 || strcmp(name + 20, ".seg") != 0)
        return false;
    uint64_t value = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t digit = (uint64_t)(name[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *id = value;
    return true;
}

int spool_segments_list(const struct spool *spool, struct spool_segment_scan **out, size_t *count,
                        char *error, size_t error_size)
{
    DIR *directory = opendir(spool->segment_dir);
    if (!directory) {
        int code = errno;
        error_message_set(error, error_size, "%s: cannot list segments: %s", spool->segment_dir,
                          strerror(code));
        return -code;
    }
    struct spool_segment_scan *scans = NULL;
    size_t used = 0, capacity = 0;
    int result = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        uint64_t id;
        if (!segment_name_parse(entry->d_name, &id))
            continue;
        if (used == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            struct spool_segment_scan *grown = realloc(scans, capacity * sizeof *grown);
            if (!grown) {
                result = -ENOMEM;
                error_message_set(error, error_size, "out of memory listing %s",
                                  spool->segment_dir);
                break;
            }
            scans = grown;
        }
        scans[used++] = (struct spool_segment_scan){.id = id};
    }
    closedir(directory);
    if (result != 0) {
        free(scans);
        return result;
    }
    if (used > 1)
        qsort(scans, used, sizeof *scans, compare_ids);
    *out = scans;
    *count = used;
    return 0;
}

/* Finds scan->data_end: just past the last non-zero byte at or after scan->valid_end, reading
 * backwards from the end of the file (a preallocated segment is zero after its data). Returns 0
 * or -EIO, -ENOMEM. */
static int scan_data_end(const struct spool_io *io, int fd, struct spool_segment_scan *scan)
{
    enum { CHUNK = 64 * 1024 };
    uint8_t *chunk = malloc(CHUNK);
    if (!chunk)
        return -ENOMEM;
    uint64_t end = scan->file_size;
    int result = 0;
    scan->data_end = scan->valid_end;
    while (end > scan->valid_end) {
        uint64_t start = end - scan->valid_end > CHUNK ? end - CHUNK : scan->valid_end;
        size_t length = (size_t)(end - start);
        if (io->pread(io->context, fd, chunk, length, (off_t)start) != (ssize_t)length) {
            result = -EIO;
            break;
        }
        size_t last = length;
        while (last > 0 && chunk[last - 1] == 0)
            last--;
        if (last > 0) {
            /* Records are 8-byte aligned: a record's zero padding counts as its bytes. */
            scan->data_end = (start + last + 7) & ~(uint64_t)7;
            if (scan->data_end > scan->file_size)
                scan->data_end = scan->file_size;
            break;
        }
        end = start;
    }
    free(chunk);
    return result;
}

/* Looks for any good record at an 8-byte boundary after the damage: a torn write leaves none
 * (only the records of the last, unsynced commit can be torn), corruption usually does. */
static int scan_after_damage(struct spool_reader *reader, struct spool_segment_scan *scan)
{
    uint64_t offset = scan->valid_end + 8;
    reader->end = scan->data_end;
    while (offset + SPOOL_RECORD_HEADER_SIZE <= reader->end) {
        struct spool_record_view view;
        reader->offset = offset;
        int64_t padded = spool_reader_peek(reader, &view);
        if (padded == -EIO || padded == -ENOMEM)
            return (int)padded;
        if (padded > 0) {
            scan->records_after_damage = true;
            if (view.sequence > scan->highest_sequence)
                scan->highest_sequence = view.sequence;
            offset += (uint64_t)padded;
        } else {
            offset += 8;
        }
    }
    return 0;
}

/* Reads the header and every record of one segment into *scan. Returns 0 or -EIO. */
int spool_segment_scan_run(struct spool *spool, int fd, struct spool_segment_scan *scan)
{
    const struct spool_io *io = &spool->io;
    struct stat status;
    if (io->fstat(io->context, fd, &status) != 0)
        return -EIO;
    scan->file_size = (uint64_t)status.st_size;
    scan->valid_end = scan->data_end = 0;
    uint8_t header[SPOOL_SEGMENT_HEADER_SIZE];
    if (scan->file_size < SPOOL_SEGMENT_HEADER_SIZE) {
        scan->damaged = scan->file_size > 0;
        scan->data_end = scan->file_size;
        return 0;
    }
    if (io->pread(io->context, fd, header, sizeof header, 0) != (ssize_t)sizeof header)
        return -EIO;
    if ((scan->newer_version = spool_segment_header_newer_version(header)) != 0)
        return 0;
    if (spool_segment_header_decode(header, &scan->header) != 0 || scan->header.id != scan->id) {
        scan->damaged = true;
        return scan_data_end(io, fd, scan);
    }
    scan->header_valid = true;
    scan->valid_end = SPOOL_SEGMENT_HEADER_SIZE;
    struct spool_reader reader;
    spool_reader_init(&reader, io, fd, scan->header.salt, SPOOL_SEGMENT_HEADER_SIZE,
                      scan->file_size);
    uint64_t expected = scan->header.first_sequence;
    int result = 0;
    for (;;) {
        struct spool_record_view view;
        int64_t padded = spool_reader_peek(&reader, &view);
        if (padded == -EIO || padded == -ENOMEM) {
            result = (int)padded;
            break;
        }
        if (padded == 0)
            break;
        if (padded < 0 || (expected != 0 && view.sequence != expected) || view.sequence == 0) {
            scan->damaged = true;
            result = scan_data_end(io, fd, scan);
            if (result == 0)
                result = scan_after_damage(&reader, scan);
            break;
        }
        if (scan->records == 0)
            scan->first_sequence = view.sequence;
        scan->last_sequence = view.sequence;
        scan->highest_sequence = view.sequence;
        scan->records++;
        expected = view.sequence + 1;
        reader.offset += (uint64_t)padded;
        scan->valid_end = scan->data_end = reader.offset;
    }
    spool_reader_release(&reader);
    return result;
}

/* A free name under quarantine/ for segment id: "<id>.seg", else "<id>.seg.<n>" (an operator
 * may have restarted the numbering; nothing in quarantine is ever overwritten). */
static int quarantine_path(const struct spool *spool, uint64_t id, char *out, size_t out_size)
{
    for (unsigned attempt = 0; attempt < 1000; attempt++) {
        int written = attempt == 0 ? snprintf(out, out_size, "%s/%020" PRIu64 ".seg",
                                              spool->quarantine_dir, id)
                                   : snprintf(out, out_size, "%s/%020" PRIu64 ".seg.%u",
                                              spool->quarantine_dir, id, attempt);
        if (written < 0 || (size_t)written >= out_size)
            return -ENAMETOOLONG;
        struct stat status;
        if (stat(out, &status) != 0 && errno == ENOENT)
            return 0;
    }
    return -EEXIST;
}

static int segment_quarantine(struct spool *spool, uint64_t id)
{
    char from[4096], to[4096];
    if (spool_segment_path(spool, id, from, sizeof from) != 0 ||
        quarantine_path(spool, id, to, sizeof to) != 0)
        return -ENAMETOOLONG;
    if (spool->io.rename(spool->io.context, from, to) != 0) {
        log_error(spool->logger, "cannot move a corrupt spool segment to quarantine",
                  LOG_STRING("path", from), LOG_STRING("error", strerror(errno)));
        return -EIO;
    }
    log_warning(spool->logger, "corrupt spool segment moved to quarantine; its records are lost",
                LOG_STRING("path", to));
    int result = spool_directory_sync(spool, spool->quarantine_dir);
    if (result == 0)
        result = spool_directory_sync(spool, spool->segment_dir);
    return result;
}

/* Copies the whole segment in fd (borrowed) to quarantine/ before its corrupt end is cut off, so
 * the records after the corruption are kept for the operator. Returns 0 or -EIO. */
static int segment_quarantine_copy(struct spool *spool, int fd,
                                   const struct spool_segment_scan *scan)
{
    const struct spool_io *io = &spool->io;
    char to[4096];
    if (quarantine_path(spool, scan->id, to, sizeof to) != 0)
        return -EIO;
    int copy = io->open(io->context, to, O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (copy < 0) {
        log_error(spool->logger, "cannot create a quarantine copy", LOG_STRING("path", to),
                  LOG_STRING("error", strerror(errno)));
        return -EIO;
    }
    int result = 0;
    struct buffer chunk = BUFFER_INITIALIZER;
    if (buffer_reserve(&chunk, 1u << 20) != 0) {
        result = -ENOMEM;
        goto cleanup;
    }
    for (uint64_t offset = 0; offset < scan->data_end;) {
        size_t length = chunk.capacity;
        if (length > scan->data_end - offset)
            length = (size_t)(scan->data_end - offset);
        ssize_t got = io->pread(io->context, fd, chunk.data, length, (off_t)offset);
        if (got <= 0) {
            result = -EIO;
            goto cleanup;
        }
        struct iovec iov = {.iov_base = chunk.data, .iov_len = (size_t)got};
        if (io->pwritev(io->context, copy, &iov, 1, (off_t)offset) != got) {
            result = -EIO;
            goto cleanup;
        }
        offset += (uint64_t)got;
    }
    if (io->fsync(io->context, copy) != 0)
        result = -EIO;
cleanup:
    buffer_release(&chunk);
    if (io->close(io->context, copy) != 0 && result == 0)
        result = -EIO;
    if (result == 0)
        result = spool_directory_sync(spool, spool->quarantine_dir);
    if (result != 0)
        log_error(spool->logger, "cannot copy a corrupt spool segment to quarantine",
                  LOG_STRING("path", to), LOG_STRING("error", strerror(-result)));
    else
        log_error(spool->logger,
                  "corruption (not a torn write) in the newest spool segment: the records after it "
                  "are cut off; the whole segment is kept in quarantine",
                  LOG_STRING("path", to), LOG_INTEGER("offset", (int64_t)scan->valid_end));
    return result;
}

static int segment_remove(struct spool *spool, uint64_t id)
{
    char path[4096];
    if (spool_segment_path(spool, id, path, sizeof path) != 0)
        return -ENAMETOOLONG;
    if (spool->io.unlink(spool->io.context, path) != 0) {
        log_error(spool->logger, "cannot remove an empty spool segment", LOG_STRING("path", path),
                  LOG_STRING("error", strerror(errno)));
        return -EIO;
    }
    return spool_directory_sync(spool, spool->segment_dir);
}

/* Makes everything after scan->valid_end of the segment in fd zero again and syncs it: cuts a
 * torn tail off, and also bytes a crash left beyond an all-zero record header (a write whose
 * first sector was lost), which a later append would otherwise leave behind its records. Then
 * preallocates and prefetches the segment again for appending. */
static int segment_tail_reset(struct spool *spool, int fd, const struct spool_segment_scan *scan)
{
    const struct spool_io *io = &spool->io;
    int result = 0;
    if (scan->records == 0 && scan->header.first_sequence != 0) {
        /* The scan demands that the first record carries the header's first sequence, but the
         * next append takes the spool's next sequence: a header naming one would make the next
         * start cut the acknowledged record off as torn. 0 lets the first record assign it. */
        struct spool_segment_header header = scan->header;
        header.first_sequence = 0;
        uint8_t bytes[SPOOL_SEGMENT_HEADER_SIZE];
        spool_segment_header_encode(&header, bytes);
        struct iovec iov = {.iov_base = bytes, .iov_len = sizeof bytes};
        if (io->pwritev(io->context, fd, &iov, 1, 0) != (ssize_t)sizeof bytes)
            result = -EIO;
    }
    if (result == 0 && io->ftruncate(io->context, fd, (off_t)scan->valid_end) != 0)
        result = -EIO;
    if (result == 0 && (result = spool_segment_preallocate(spool, fd, scan->valid_end)) == -ENOSPC)
        result = 0; /* appends extend the file instead; admission sees the full disk */
    if (result == 0 && io->fsync(io->context, fd) != 0)
        result = -EIO;
    if (result != 0) {
        log_error(spool->logger, "cannot truncate the tail of the spool",
                  LOG_INTEGER("segment", (int64_t)scan->id), LOG_STRING("error", strerror(errno)));
        return result;
    }
    if (scan->damaged)
        log_warning(spool->logger, "torn spool tail truncated (a write the crash interrupted)",
                    LOG_INTEGER("segment", (int64_t)scan->id),
                    LOG_INTEGER("bytes", (int64_t)(scan->data_end - scan->valid_end)));
    spool_segment_prefetch(fd, scan->valid_end, spool->segment_bytes);
    return 0;
}

static int segment_open(struct spool *spool, uint64_t id, int *fd)
{
    char path[4096];
    if (spool_segment_path(spool, id, path, sizeof path) != 0)
        return -ENAMETOOLONG;
    *fd = spool->io.open(spool->io.context, path, O_RDWR, 0);
    if (*fd < 0) {
        log_error(spool->logger, "cannot open a spool segment", LOG_STRING("path", path),
                  LOG_STRING("error", strerror(errno)));
        return -EIO;
    }
    return 0;
}

static struct spool_segment segment_from_scan(const struct spool_segment_scan *scan)
{
    return (struct spool_segment){
        .id = scan->id,
        .first_sequence = scan->first_sequence,
        .last_sequence = scan->last_sequence,
        .bytes = scan->valid_end,
        .salt = scan->header.salt,
    };
}

/* Decides what happens to segment i of the scan (last = index of the last segment holding a
 * record, or -1): keep, truncate, quarantine or remove. Keeps the active fd open. */
static int recovery_segment_settle(struct spool *spool, struct spool_segment_scan *scans, size_t i,
                                   long last, int fd, struct spool_recovery_report *report)
{
    struct spool_segment_scan *scan = &scans[i];
    const struct spool_io *io = &spool->io;
    int result = 0;
    bool keep_fd = false;
    if ((long)i < last) {
        if (scan->damaged || !scan->header_valid) {
            result = segment_quarantine(spool, scan->id);
            report->quarantined_segments++;
        } else {
            result = spool_segment_push(spool, &(struct spool_segment){0});
            if (result == 0)
                spool->segments[spool->segment_count - 1] = segment_from_scan(scan);
            report->records += scan->records;
        }
    } else if ((long)i == last || (last < 0 && spool->segment_count == 0 && scan->header_valid)) {
        /* The active segment: the last one with records, or the first empty one. */
        if (scan->damaged && scan->records_after_damage) {
            result = segment_quarantine_copy(spool, fd, scan);
            report->quarantined_segments++;
        }
        if (result == 0)
            result = segment_tail_reset(spool, fd, scan);
        if (scan->damaged)
            report->truncated_bytes += scan->data_end - scan->valid_end;
        if (result == 0)
            result = spool_segment_push(spool, &(struct spool_segment){0});
        if (result == 0) {
            spool->segments[spool->segment_count - 1] = segment_from_scan(scan);
            spool->active_fd = fd;
            keep_fd = true;
            report->records += scan->records;
        }
    } else if (!spool->has_prepared && scan->header_valid && !scan->damaged && scan->records == 0) {
        /* The relay preallocated its pre-created segment to its segment_bytes: an offline
         * command (which does not know them) rolls over where the relay would. */
        if (spool->offline && scan->file_size > SPOOL_SEGMENT_HEADER_SIZE)
            spool->segment_bytes = scan->file_size;
        result = segment_tail_reset(spool, fd, scan);
        spool->prepared = segment_from_scan(scan);
        spool->prepared_fd = fd;
        spool->has_prepared = result == 0;
        keep_fd = result == 0;
    } else if (scan->records_after_damage ||
               (!scan->header_valid && scan->data_end > SPOOL_SEGMENT_HEADER_SIZE)) {
        /* Good records behind a bad first one, or data behind a broken header (headers are
         * synced at creation, before any record): corruption, not an interrupted pre-creation
         * or a torn first write. Its records may have been acknowledged: never delete it. */
        result = segment_quarantine(spool, scan->id);
        report->quarantined_segments++;
    } else {
        /* Empty or header-less leftovers after the tail (an interrupted pre-creation). */
        report->truncated_bytes += scan->data_end;
        result = segment_remove(spool, scan->id);
    }
    if (!keep_fd && io->close(io->context, fd) != 0 && result == 0)
        result = -EIO;
    return result;
}

int spool_recovery_run(struct spool *spool, struct spool_recovery_report *report, char *error,
                       size_t error_size)
{
    struct spool_segment_scan *scans = NULL;
    size_t count = 0;
    int result = spool_segments_list(spool, &scans, &count, error, error_size);
    if (result != 0)
        return result;
    for (size_t i = 0; i < count; i++) {
        int fd;
        result = segment_open(spool, scans[i].id, &fd);
        if (result == 0) {
            result = spool_segment_scan_run(spool, fd, &scans[i]);
            if (spool->io.close(spool->io.context, fd) != 0 && result == 0)
                result = -EIO;
        }
        if (result != 0) {
            error_message_set(error, error_size, "%s/%020" PRIu64 ".seg: cannot read: %s",
                              spool->segment_dir, scans[i].id, strerror(-result));
            goto cleanup;
        }
    }
    /* Before anything changes: a rolled-back package must not quarantine, cut or delete the
     * acknowledged records a newer relay spooled. */
    for (size_t i = 0; i < count; i++) {
        if (scans[i].newer_version != 0) {
            char name[32];
            snprintf(name, sizeof name, "%020" PRIu64 ".seg", scans[i].id);
            spool_newer_version_refusal_set(spool, spool->segment_dir, name, scans[i].newer_version,
                                            error, error_size);
            result = -EPROTO;
            goto cleanup;
        }
    }
    long last = -1;
    for (size_t i = 0; i < count; i++) {
        if (scans[i].records > 0)
            last = (long)i;
        if (scans[i].highest_sequence > spool->highest_sequence_seen)
            spool->highest_sequence_seen = scans[i].highest_sequence;
    }
    for (size_t i = 0; i < count; i++) {
        int fd;
        result = segment_open(spool, scans[i].id, &fd);
        if (result == 0)
            result = recovery_segment_settle(spool, scans, i, last, fd, report);
        if (result != 0) {
            error_message_set(error, error_size,
                              "%s/%020" PRIu64 ".seg: recovery failed (%s); check the disk and "
                              "the permissions of %s",
                              spool->segment_dir, scans[i].id, strerror(-result), spool->dir);
            goto cleanup;
        }
    }
    uint64_t previous_last = 0;
    for (size_t i = 0; i < spool->segment_count; i++) {
        const struct spool_segment *segment = &spool->segments[i];
        if (segment->first_sequence == 0)
            continue;
        if (previous_last != 0 && segment->first_sequence != previous_last + 1)
            log_warning(spool->logger, "gap in spool sequence numbers",
                        LOG_INTEGER("after", (int64_t)previous_last),
                        LOG_INTEGER("next", (int64_t)segment->first_sequence));
        if (report->first_sequence == 0)
            report->first_sequence = segment->first_sequence;
        report->last_sequence = segment->last_sequence;
        previous_last = segment->last_sequence;
    }
cleanup:
    free(scans);
    return result;
}
