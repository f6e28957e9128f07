/* Consumer cursors: cursor/<consumer>.cur files with two CRC-protected slots written alternately
 * in place, reading committed records in order across segments, and segment deletion once every
 * consumer has passed a segment. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/error.h"
#include "relay/crc32c.h"
#include "relay/spool_internal.h"

#define CURSOR_SLOT_MAGIC 0x55434B4Eu /* "NKCU" */

struct spool_cursor {
    struct spool *spool; /* borrowed */
    size_t consumer;     /* index into spool->consumers (entries are never removed) */
    uint64_t acknowledged;
    uint64_t position; /* last sequence yielded or stepped over */
    uint64_t yielded;  /* last sequence yielded to the caller */
    bool has_segment;
    uint64_t segment_id;
    int segment_fd;
    struct spool_reader reader;
};

void spool_cursor_slot_encode(uint8_t *out, uint64_t sequence, uint64_t generation)
{
    memset(out, 0, SPOOL_CURSOR_SLOT_BYTES);
    spool_put_u32(out, CURSOR_SLOT_MAGIC);
    spool_put_u32(out + 4, SPOOL_FORMAT_VERSION);
    spool_put_u64(out + 8, generation);
    spool_put_u64(out + 16, sequence);
    spool_put_u32(out + 28, crc32c_update(0, out, 28));
}

static int cursor_slot_decode(const uint8_t *slot, uint64_t *sequence, uint64_t *generation)
{
    if (spool_get_u32(slot) != CURSOR_SLOT_MAGIC ||
        spool_get_u32(slot + 4) != SPOOL_FORMAT_VERSION ||
        spool_get_u32(slot + 28) != crc32c_update(0, slot, 28))
        return -1;
    *generation = spool_get_u64(slot + 8);
    *sequence = spool_get_u64(slot + 16);
    return 0;
}

int spool_cursor_image_decode(const uint8_t *image, uint64_t *sequence, uint64_t *generation)
{
    uint64_t sequences[2], generations[2];
    bool valid[2];
    valid[0] = cursor_slot_decode(image, &sequences[0], &generations[0]) == 0;
    valid[1] =
        cursor_slot_decode(image + SPOOL_CURSOR_SLOT_OFFSET, &sequences[1], &generations[1]) == 0;
    if (!valid[0] && !valid[1])
        return -1;
    int winner;
    if (valid[0] && valid[1])
        winner = sequences[1] > sequences[0] ||
                         (sequences[1] == sequences[0] && generations[1] > generations[0])
                     ? 1
                     : 0;
    else
        winner = valid[0] ? 0 : 1;
    *sequence = sequences[winner];
    *generation = generations[winner];
    return 0;
}

uint32_t spool_cursor_image_newer_version(const uint8_t *image)
{
    const uint8_t *slots[2] = {image, image + SPOOL_CURSOR_SLOT_OFFSET};
    uint32_t newest = 0;
    for (size_t i = 0; i < 2; i++) {
        uint32_t version = spool_get_u32(slots[i] + 4);
        /* With its CRC, as for segment headers: a flipped bit is damage, not a newer relay. */
        if (spool_get_u32(slots[i]) == CURSOR_SLOT_MAGIC && version > SPOOL_FORMAT_VERSION &&
            spool_get_u32(slots[i] + 28) == crc32c_update(0, slots[i], 28) && version > newest)
            newest = version;
    }
    return newest;
}

static bool consumer_name_valid(const char *name, size_t length)
{
    if (length == 0 || length > SPOOL_CONSUMER_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

static int consumer_add(struct spool *spool, const char *name, size_t length, size_t *index)
{
    if (spool->consumer_count == spool->consumer_capacity) {
        size_t capacity = spool->consumer_capacity ? spool->consumer_capacity * 2 : 8;
        struct spool_consumer *grown = realloc(spool->consumers, capacity * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        spool->consumers = grown;
        spool->consumer_capacity = capacity;
    }
    struct spool_consumer *consumer = &spool->consumers[spool->consumer_count];
    memset(consumer, 0, sizeof *consumer);
    memcpy(consumer->name, name, length);
    consumer->name[length] = '\0';
    consumer->fd = -1;
    *index = spool->consumer_count++;
    return 0;
}

/* Opens (creating when asked) the cursor file of consumer and loads its position. Returns 0, a
 * negative errno, or -EPROTO with the version in *newer_version when a newer relay wrote it. */
static int consumer_file_open(struct spool *spool, struct spool_consumer *consumer, bool create,
                              uint32_t *newer_version)
{
    const struct spool_io *io = &spool->io;
    char file_name[SPOOL_CONSUMER_NAME_MAX + 8];
    char path[4096];
    snprintf(file_name, sizeof file_name, "%s.cur", consumer->name);
    if (spool_path_join(path, sizeof path, spool->cursor_dir, file_name) != 0)
        return -ENAMETOOLONG;
    int fd = io->open(io->context, path, O_RDWR | (create ? O_CREAT : 0), 0640);
    if (fd < 0) {
        /* Returned as it is: the callers' messages name it (EACCES and EMFILE are no disk
         * errors). */
        int error = errno;
        log_error(spool->logger, "cannot open a spool cursor file", LOG_STRING("path", path),
                  LOG_STRING("error", strerror(error)));
        return -error;
    }
    uint8_t image[SPOOL_CURSOR_FILE_BYTES];
    memset(image, 0, sizeof image);
    int result = -EIO;
    ssize_t got = io->pread(io->context, fd, image, sizeof image, 0);
    if (got < 0) {
        log_error(spool->logger, "cannot read a spool cursor file", LOG_STRING("path", path),
                  LOG_STRING("error", strerror(errno)));
        goto fail;
    }
    *newer_version = spool_cursor_image_newer_version(image);
    if (*newer_version != 0) {
        /* Before the file is sized or a slot written: the newer relay's position stays. */
        result = -EPROTO;
        goto fail;
    }
    if (got < (ssize_t)sizeof image) {
        /* New (or cut short): give it its full size now so slot writes never extend it. */
        if (io->ftruncate(io->context, fd, SPOOL_CURSOR_FILE_BYTES) != 0 ||
            io->fsync(io->context, fd) != 0) {
            log_error(spool->logger, "cannot create a spool cursor file", LOG_STRING("path", path),
                      LOG_STRING("error", strerror(errno)));
            goto fail;
        }
        /* It logs its cause itself; an open of the directory that failed (EMFILE) is returned
         * as it is, as for the file's own open. */
        if ((result = spool_directory_sync(spool, spool->cursor_dir)) != 0)
            goto fail;
    }
    if (spool_cursor_image_decode(image, &consumer->durable, &consumer->generation) != 0) {
        consumer->durable = 0;
        consumer->generation = 0;
        if (got > 0)
            log_warning(spool->logger,
                        "spool cursor file has no valid slot; the consumer starts at the oldest "
                        "record",
                        LOG_STRING("path", path));
    }
    consumer->fd = fd;
    return 0;
fail:
    if (io->close(io->context, fd) != 0)
        log_warning(spool->logger, "close of a spool cursor file failed", LOG_STRING("path", path));
    return result;
}

int spool_consumers_load(struct spool *spool, char *error, size_t error_size)
{
    DIR *directory = opendir(spool->cursor_dir);
    if (!directory) {
        error_message_set(error, error_size, "%s: cannot list cursors: %s", spool->cursor_dir,
                          strerror(errno));
        return -errno;
    }
    int result = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        size_t length = strlen(entry->d_name);
        if (length < 5 || strcmp(entry->d_name + length - 4, ".cur") != 0)
            continue;
        if (!consumer_name_valid(entry->d_name, length - 4))
            continue;
        size_t index;
        uint32_t newer_version = 0;
        result = consumer_add(spool, entry->d_name, length - 4, &index);
        if (result == 0)
            result = consumer_file_open(spool, &spool->consumers[index], false, &newer_version);
        if (result == -EPROTO) {
            spool_newer_version_refusal_set(spool, spool->cursor_dir, entry->d_name, newer_version,
                                            error, error_size);
            break;
        }
        if (result != 0) {
            error_message_set(error, error_size, "%s/%s: cannot load the cursor: %s",
                              spool->cursor_dir, entry->d_name, strerror(-result));
            break;
        }
    }
    closedir(directory);
    return result;
}

static void cursor_segment_leave(struct spool_cursor *cursor)
{
    const struct spool_io *io = &cursor->spool->io;
    if (!cursor->has_segment)
        return;
    spool_reader_release(&cursor->reader);
    if (io->close(io->context, cursor->segment_fd) != 0)
        log_warning(cursor->spool->logger, "close of a spool segment failed");
    cursor->has_segment = false;
}

static int cursor_segment_enter(struct spool_cursor *cursor, const struct spool_segment *segment)
{
    struct spool *spool = cursor->spool;
    char path[4096];
    if (spool_segment_path(spool, segment->id, path, sizeof path) != 0)
        return -EIO;
    int fd = spool->io.open(spool->io.context, path, O_RDONLY, 0);
    if (fd < 0) {
        log_error(spool->logger, "cannot open a spool segment for reading",
                  LOG_STRING("path", path), LOG_STRING("error", strerror(errno)));
        return -EIO;
    }
    cursor->segment_fd = fd;
    cursor->segment_id = segment->id;
    cursor->has_segment = true;
    spool_reader_init(&cursor->reader, &spool->io, fd, segment->salt, SPOOL_SEGMENT_HEADER_SIZE,
                      segment->bytes);
    return 0;
}

void spool_consumers_release(struct spool *spool)
{
    for (size_t i = 0; i < spool->consumer_count; i++) {
        struct spool_consumer *consumer = &spool->consumers[i];
        spool_cursor_close(consumer->cursor);
        if (consumer->fd >= 0 && spool->io.close(spool->io.context, consumer->fd) != 0)
            log_warning(spool->logger, "close of a spool cursor file failed",
                        LOG_STRING("consumer", consumer->name));
    }
    free(spool->consumers);
    spool->consumers = NULL;
    spool->consumer_count = spool->consumer_capacity = 0;
}

int spool_cursor_open(struct spool *spool, const char *consumer, struct spool_cursor **out)
{
    size_t length = strnlen(consumer, SPOOL_CONSUMER_NAME_MAX + 1);
    if (!consumer_name_valid(consumer, length))
        return -EINVAL;
    if (spool->failed)
        return -EIO;
    size_t index = spool->consumer_count;
    for (size_t i = 0; i < spool->consumer_count; i++)
        if (strcmp(spool->consumers[i].name, consumer) == 0)
            index = i;
    if (index < spool->consumer_count && spool->consumers[index].cursor)
        return -EBUSY;
    if (index == spool->consumer_count) {
        int result = consumer_add(spool, consumer, length, &index);
        if (result != 0)
            return result;
        uint32_t newer_version;
        result = consumer_file_open(spool, &spool->consumers[index], true, &newer_version);
        if (result != 0) {
            spool->consumer_count--;
            return result;
        }
    }
    struct spool_cursor *cursor = calloc(1, sizeof *cursor);
    if (!cursor)
        return -ENOMEM;
    cursor->spool = spool;
    cursor->consumer = index;
    cursor->acknowledged = spool->consumers[index].durable;
    cursor->position = cursor->acknowledged;
    cursor->yielded = cursor->acknowledged;
    spool->consumers[index].cursor = cursor;
    *out = cursor;
    return 0;
}

void spool_cursor_close(struct spool_cursor *cursor)
{
    if (!cursor)
        return;
    cursor_segment_leave(cursor);
    cursor->spool->consumers[cursor->consumer].cursor = NULL;
    free(cursor);
}

static bool cursor_is_addressed(const struct spool_cursor *cursor,
                                const struct spool_routing *routing)
{
    if (routing->consumer_count == 0)
        return true;
    const char *name = cursor->spool->consumers[cursor->consumer].name;
    size_t length = strlen(name);
    for (size_t i = 0; i < routing->consumer_count; i++)
        if (routing->consumers[i].length == length &&
            memcmp(routing->consumers[i].data, name, length) == 0)
            return true;
    return false;
}

/* The segment the cursor reads now: its own if still listed, else the next one. */
static const struct spool_segment *cursor_segment_find(struct spool_cursor *cursor, int *result)
{
    struct spool *spool = cursor->spool;
    *result = 0;
    if (cursor->has_segment) {
        const struct spool_segment *current = spool_segment_find(spool, cursor->segment_id);
        if (current)
            return current;
        cursor_segment_leave(cursor);
        size_t next = spool_segment_after(spool, cursor->segment_id);
        if (next == spool->segment_count)
            return NULL;
        *result = cursor_segment_enter(cursor, &spool->segments[next]);
        return *result == 0 ? &spool->segments[next] : NULL;
    }
    if (spool->segment_count == 0)
        return NULL;
    /* First read: the oldest segment holding a record past the position, else the active one. */
    size_t index = spool->segment_count - 1;
    for (size_t i = 0; i < spool->segment_count; i++)
        if (spool->segments[i].first_sequence != 0 &&
            spool->segments[i].last_sequence > cursor->position) {
            index = i;
            break;
        }
    *result = cursor_segment_enter(cursor, &spool->segments[index]);
    return *result == 0 ? &spool->segments[index] : NULL;
}

int spool_cursor_next(struct spool_cursor *cursor, struct spool_record *record)
{
    struct spool *spool = cursor->spool;
    for (;;) {
        int result;
        const struct spool_segment *segment = cursor_segment_find(cursor, &result);
        if (!segment)
            return result;
        cursor->reader.end = segment->bytes;
        struct spool_record_view view;
        int64_t padded = spool_reader_peek(&cursor->reader, &view);
        if (padded < 0) {
            log_error(spool->logger, "spool record unreadable on re-read",
                      LOG_STRING("consumer", spool->consumers[cursor->consumer].name),
                      LOG_INTEGER("segment", (int64_t)segment->id),
                      LOG_INTEGER("offset", (int64_t)cursor->reader.offset));
            return (int)padded;
        }
        if (padded == 0) {
            size_t next = spool_segment_after(spool, segment->id);
            if (next == spool->segment_count)
                return 0;
            cursor_segment_leave(cursor);
            result = cursor_segment_enter(cursor, &spool->segments[next]);
            if (result != 0)
                return result;
            continue;
        }
        if (view.sequence > spool->committed_sequence)
            return 0;
        cursor->reader.offset += (uint64_t)padded;
        if (view.sequence <= cursor->position)
            continue;
        if (!cursor_is_addressed(cursor, &view.routing)) {
            if (cursor->acknowledged >= cursor->yielded)
                cursor->acknowledged = view.sequence;
            cursor->position = view.sequence;
            continue;
        }
        cursor->position = view.sequence;
        cursor->yielded = view.sequence;
        record->sequence = view.sequence;
        record->flags = view.flags;
        record->routing = view.routing;
        record->payload = view.payload;
        record->payload_length = view.payload_length;
        return 1;
    }
}

void spool_cursor_acknowledge(struct spool_cursor *cursor, uint64_t sequence)
{
    if (sequence > cursor->acknowledged)
        cursor->acknowledged = sequence;
    /* Records stepped over after the last yielded one were never the caller's to acknowledge. */
    if (sequence >= cursor->yielded && cursor->position > cursor->acknowledged)
        cursor->acknowledged = cursor->position;
}

size_t spool_unopened_consumers(const struct spool *spool, const char **names, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < spool->consumer_count; i++) {
        if (spool->consumers[i].cursor)
            continue;
        if (count < max)
            names[count] = spool->consumers[i].name;
        count++;
    }
    return count;
}

bool spool_consumer_known(const struct spool *spool, const char *consumer)
{
    for (size_t i = 0; i < spool->consumer_count; i++)
        if (strcmp(spool->consumers[i].name, consumer) == 0)
            return true;
    return false;
}

uint64_t spool_cursor_acknowledged(const struct spool_cursor *cursor)
{
    return cursor->acknowledged;
}

uint64_t spool_cursor_durable(const struct spool_cursor *cursor)
{
    return cursor->spool->consumers[cursor->consumer].durable;
}

int64_t spool_cursor_stored_ns(const struct spool_cursor *cursor)
{
    const struct spool *spool = cursor->spool;
    struct stat status;
    if (spool->io.fstat(spool->io.context, spool->consumers[cursor->consumer].fd, &status) != 0)
        return 0;
    return (int64_t)status.st_mtim.tv_sec * 1000000000 + status.st_mtim.tv_nsec;
}

int spool_cursor_stored_ns_set(struct spool_cursor *cursor, int64_t realtime_ns)
{
    if (realtime_ns <= 0)
        return -EINVAL;
    /* Only the modification time changes: the slots, and so the position, stay as stored. Not
     * through spool_io: a time that cannot be set only makes the age look older, as before. */
    const struct timespec times[2] = {
        {.tv_sec = 0, .tv_nsec = UTIME_OMIT},
        {.tv_sec = (time_t)(realtime_ns / 1000000000), .tv_nsec = (long)(realtime_ns % 1000000000)},
    };
    if (futimens(cursor->spool->consumers[cursor->consumer].fd, times) != 0)
        return -errno;
    return 0;
}

int spool_cursor_store(struct spool_cursor *cursor)
{
    struct spool *spool = cursor->spool;
    struct spool_consumer *consumer = &spool->consumers[cursor->consumer];
    if (spool->failed)
        return -EIO;
    if (cursor->acknowledged == consumer->durable && consumer->generation != 0)
        return 0;
    uint64_t generation = consumer->generation + 1;
    uint8_t slot[SPOOL_CURSOR_SLOT_BYTES];
    spool_cursor_slot_encode(slot, cursor->acknowledged, generation);
    struct iovec iov = {.iov_base = slot, .iov_len = sizeof slot};
    off_t offset = (generation % 2) ? SPOOL_CURSOR_SLOT_OFFSET : 0;
    const struct spool_io *io = &spool->io;
    ssize_t written = io->pwritev(io->context, consumer->fd, &iov, 1, offset);
    if (written != (ssize_t)sizeof slot || io->fdatasync(io->context, consumer->fd) != 0) {
        /* A short write sets no errno: the one left would name an older failure. */
        int error = written >= 0 && written != (ssize_t)sizeof slot ? ENOSPC : errno;
        log_error(spool->logger, "cannot store a spool cursor; the relay stops",
                  LOG_STRING("consumer", consumer->name), LOG_STRING("error", strerror(error)));
        spool_failed_mark(spool);
        return -EIO;
    }
    consumer->durable = cursor->acknowledged;
    consumer->generation = generation;
    return 0;
}

int spool_segments_release(struct spool *spool, size_t *released)
{
    size_t count = 0;
    if (released)
        *released = 0;
    if (spool->failed)
        return -EIO;
    if (spool->consumer_count == 0)
        return 0;
    uint64_t floor = UINT64_MAX;
    for (size_t i = 0; i < spool->consumer_count; i++)
        if (spool->consumers[i].durable < floor)
            floor = spool->consumers[i].durable;
    while (count + 1 < spool->segment_count) {
        const struct spool_segment *segment = &spool->segments[count];
        if (segment->first_sequence != 0 && segment->last_sequence > floor)
            break;
        char path[4096];
        if (spool_segment_path(spool, segment->id, path, sizeof path) != 0 ||
            spool->io.unlink(spool->io.context, path) != 0) {
            log_error(spool->logger, "cannot delete a delivered spool segment",
                      LOG_STRING("path", path), LOG_STRING("error", strerror(errno)));
            break;
        }
        spool->total_bytes -= segment->bytes;
        spool->admission_refused = 0;
        count++;
    }
    if (count == 0)
        return 0;
    memmove(spool->segments, spool->segments + count,
            (spool->segment_count - count) * sizeof *spool->segments);
    spool->segment_count -= count;
    if (released)
        *released = count;
    if (spool_directory_sync(spool, spool->segment_dir) != 0) {
        spool_failed_mark(spool);
        return -EIO;
    }
    return 0;
}
