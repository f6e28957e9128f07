#include "stream/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/error.h"
#include "relay/crc32c.h"

#define CHECKPOINT_MAGIC "NKSTREAM"
/* The meter state is stored as its bytes: any change of struct stream_meter's layout, even at
 * the same size, must bump the version, or an old checkpoint would be misread. */
#define CHECKPOINT_VERSION 5u
/* The versions before are the meter state cut short: version 4 ends before
 * stream_meter.previous_t (loaded, a meter takes the outlier rule up from its next reading),
 * version 3 also before offset_t (loaded, it gets one). */
#define CHECKPOINT_VERSION_NO_PREVIOUS 4u
#define CHECKPOINT_VERSION_NO_OFFSET_TIME 3u
#define CHECKPOINT_NAME "checkpoint"
#define CHECKPOINT_TEMPORARY "checkpoint.tmp"

static int put_bytes(struct buffer *out, const void *bytes, size_t length)
{
    return buffer_append(out, bytes, length);
}

static int put_u16(struct buffer *out, uint16_t value)
{
    uint8_t bytes[2] = {(uint8_t)value, (uint8_t)(value >> 8)};
    return put_bytes(out, bytes, sizeof bytes);
}

static int put_u32(struct buffer *out, uint32_t value)
{
    uint8_t bytes[4];
    for (int i = 0; i < 4; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
    return put_bytes(out, bytes, sizeof bytes);
}

static int put_u64(struct buffer *out, uint64_t value)
{
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
    return put_bytes(out, bytes, sizeof bytes);
}

int stream_checkpoint_image_build(struct buffer *out,
                                  const struct stream_checkpoint_position *position,
                                  const char *zone, const struct stream_meter_table *table)
{
    size_t zone_length = strlen(zone);
    if (zone_length > UINT16_MAX)
        return -1;
    buffer_clear(out);
    /* One allocation of the exact size: growing a buffer of tens of MiB step by step copies it
     * again and again, on the loop. */
    size_t size = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 2 + zone_length + 8 + 4;
    for (size_t i = 0; i < table->count; i++)
        size += 2 + stream_meter_table_slot(table, i)->id_length + sizeof(struct stream_meter);
    if (buffer_reserve(out, size) != 0)
        return -1;
    if (put_bytes(out, CHECKPOINT_MAGIC, 8) != 0 || put_u32(out, CHECKPOINT_VERSION) != 0 ||
        put_u32(out, (uint32_t)sizeof(struct stream_meter)) != 0 ||
        put_u64(out, position->position) != 0 || put_u64(out, position->derived_sequence) != 0 ||
        put_u64(out, (uint64_t)position->baseline_mtime_ns) != 0 ||
        put_u64(out, position->baseline_size) != 0 || put_u16(out, (uint16_t)zone_length) != 0 ||
        put_bytes(out, zone, zone_length) != 0 || put_u64(out, table->count) != 0)
        return -1;
    for (size_t i = 0; i < table->count; i++) {
        const struct stream_meter_slot *slot = stream_meter_table_slot(table, i);
        if (slot->id_length > UINT16_MAX || put_u16(out, (uint16_t)slot->id_length) != 0 ||
            put_bytes(out, stream_meter_table_id(table, slot), slot->id_length) != 0 ||
            put_bytes(out, &slot->meter, sizeof slot->meter) != 0)
            return -1;
    }
    return 0;
}

static int write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return -1;
        data += written;
        length -= (size_t)written;
    }
    return 0;
}

static int directory_sync(const char *directory)
{
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int status = fsync(fd);
    if (close(fd) != 0)
        status = -1;
    return status;
}

int stream_checkpoint_image_write(const char *directory, const char *image, size_t length,
                                  char *error, size_t error_size)
{
    char path[4096], temporary[4096];
    if (snprintf(path, sizeof path, "%s/%s", directory, CHECKPOINT_NAME) >= (int)sizeof path ||
        snprintf(temporary, sizeof temporary, "%s/%s", directory, CHECKPOINT_TEMPORARY) >=
            (int)sizeof temporary) {
        error_message_set(error, error_size, "%s: path too long for the stream checkpoint",
                          directory);
        return -1;
    }
    if (mkdir(directory, 0700) != 0 && errno != EEXIST) {
        error_message_set(error, error_size, "%s: cannot create the directory: %s", directory,
                          strerror(errno));
        return -1;
    }
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_message_set(error, error_size, "%s: cannot create: %s", temporary, strerror(errno));
        return -1;
    }
    uint32_t crc = crc32c_update(0, image, length);
    uint8_t trailer[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
                          (uint8_t)(crc >> 24)};
    int status = write_all(fd, image, length) == 0 &&
                         write_all(fd, (const char *)trailer, sizeof trailer) == 0 && fsync(fd) == 0
                     ? 0
                     : -1;
    int saved = errno;
    if (close(fd) != 0 && status == 0) {
        status = -1;
        saved = errno;
    }
    if (status != 0) {
        error_message_set(error, error_size, "%s: cannot write: %s (is the disk full?)", temporary,
                          strerror(saved));
        unlink(temporary);
        return -1;
    }
    if (rename(temporary, path) != 0 || directory_sync(directory) != 0) {
        error_message_set(error, error_size, "%s: cannot replace the checkpoint: %s", path,
                          strerror(errno));
        return -1;
    }
    return 0;
}

int stream_checkpoint_write(const char *directory,
                            const struct stream_checkpoint_position *position, const char *zone,
                            const struct stream_meter_table *table, struct buffer *scratch,
                            char *error, size_t error_size)
{
    if (stream_checkpoint_image_build(scratch, position, zone, table) != 0) {
        error_message_set(error, error_size,
                          "%s/%s: cannot build the image (out of memory, or a meter id longer "
                          "than 65535 bytes)",
                          directory, CHECKPOINT_NAME);
        return -1;
    }
    return stream_checkpoint_image_write(directory, scratch->data, scratch->length, error,
                                         error_size);
}

/* A bounds-checked reader over the loaded image. */
struct image {
    const uint8_t *data;
    size_t length;
    size_t at;
};

static const uint8_t *take(struct image *image, size_t length)
{
    if (image->length - image->at < length)
        return NULL;
    const uint8_t *bytes = image->data + image->at;
    image->at += length;
    return bytes;
}

static int take_u64(struct image *image, uint64_t *value)
{
    const uint8_t *bytes = take(image, 8);
    if (!bytes)
        return -1;
    *value = 0;
    for (int i = 7; i >= 0; i--)
        *value = *value << 8 | bytes[i];
    return 0;
}

static int take_u32(struct image *image, uint32_t *value)
{
    const uint8_t *bytes = take(image, 4);
    if (!bytes)
        return -1;
    *value = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
             (uint32_t)bytes[3] << 24;
    return 0;
}

static int take_u16(struct image *image, uint16_t *value)
{
    const uint8_t *bytes = take(image, 2);
    if (!bytes)
        return -1;
    *value = (uint16_t)(bytes[0] | bytes[1] << 8);
    return 0;
}

static int file_read(const char *path, struct buffer *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    int status = 0;
    for (;;) {
        if (buffer_reserve(out, 1 << 16) != 0) {
            status = -1;
            break;
        }
        ssize_t got = read(fd, out->data + out->length, out->capacity - out->length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            status = -1;
        if (got <= 0)
            break;
        out->length += (size_t)got;
    }
    close(fd);
    return status;
}

/* Decodes image into table; returns a reason or NULL. */
static const char *checkpoint_image_decode(struct image *image, const char *zone,
                                           struct stream_checkpoint_position *position,
                                           struct stream_meter_table *table, char *reason,
                                           size_t reason_size)
{
    if (image->length < 12 || memcmp(image->data, CHECKPOINT_MAGIC, 8) != 0)
        return "not a stream checkpoint";
    uint32_t stored = 0;
    struct image trailer = {image->data + image->length - 4, 4, 0};
    if (take_u32(&trailer, &stored) != 0 ||
        stored != crc32c_update(0, image->data, image->length - 4))
        return "checksum mismatch (a damaged file)";
    image->length -= 4;
    image->at = 8;
    uint32_t version, state_size;
    uint16_t zone_length;
    uint64_t count;
    if (take_u32(image, &version) != 0)
        return "truncated header";
    size_t expected_size;
    if (version == CHECKPOINT_VERSION)
        expected_size = sizeof(struct stream_meter);
    else if (version == CHECKPOINT_VERSION_NO_PREVIOUS)
        expected_size = offsetof(struct stream_meter, previous_t);
    else if (version == CHECKPOINT_VERSION_NO_OFFSET_TIME)
        expected_size = offsetof(struct stream_meter, offset_t);
    else {
        snprintf(reason, reason_size,
                 "written by checkpoint version %" PRIu32 "; this build reads versions %u to %u",
                 version, CHECKPOINT_VERSION_NO_OFFSET_TIME, CHECKPOINT_VERSION);
        return reason;
    }
    if (take_u32(image, &state_size) != 0 || state_size != expected_size)
        return "written by a build with another meter state layout";
    uint64_t baseline_mtime;
    if (take_u64(image, &position->position) != 0 ||
        take_u64(image, &position->derived_sequence) != 0 ||
        take_u64(image, &baseline_mtime) != 0 || take_u64(image, &position->baseline_size) != 0 ||
        take_u16(image, &zone_length) != 0)
        return "truncated header";
    position->baseline_mtime_ns = (int64_t)baseline_mtime;
    const uint8_t *zone_bytes = take(image, zone_length);
    if (!zone_bytes || zone_length != strlen(zone) || memcmp(zone_bytes, zone, zone_length) != 0)
        return "written for another analytics.timezone";
    if (take_u64(image, &count) != 0)
        return "truncated header";
    for (uint64_t i = 0; i < count; i++) {
        uint16_t id_length;
        const uint8_t *id, *state;
        if (take_u16(image, &id_length) != 0 || !(id = take(image, id_length)) ||
            !(state = take(image, state_size)))
            return "truncated meter list";
        int added;
        struct stream_meter_slot *slot =
            stream_meter_table_add(table, (const char *)id, id_length, &added);
        if (!slot)
            return "out of memory";
        if (!added)
            return "a meter id appears twice";
        slot->meter = (struct stream_meter){0};
        memcpy(&slot->meter, state, state_size);
        /* Unknown: the last reading is the safe guess (a re-seed takes the batch's offset only
         * where no reset of the stream's can be newer than the batch's history). */
        if (version == CHECKPOINT_VERSION_NO_OFFSET_TIME && slot->meter.offset != 0)
            slot->meter.offset_t = slot->meter.last_t;
    }
    return image->at == image->length ? NULL : "bytes after the meter list";
}

int stream_checkpoint_load(const char *directory, const char *zone,
                           struct stream_checkpoint_position *position,
                           struct stream_meter_table *table, char *error, size_t error_size)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", directory, CHECKPOINT_NAME) >= (int)sizeof path) {
        error_message_set(error, error_size, "%s: path too long for the stream checkpoint",
                          directory);
        return -1;
    }
    struct buffer contents = BUFFER_INITIALIZER;
    int status = file_read(path, &contents);
    if (status != 0) {
        if (status < 0)
            error_message_set(error, error_size, "%s: cannot read: %s", path, strerror(errno));
        buffer_release(&contents);
        return status;
    }
    struct image image = {(const uint8_t *)contents.data, contents.length, 0};
    char version_reason[128];
    const char *reason = checkpoint_image_decode(&image, zone, position, table, version_reason,
                                                 sizeof version_reason);
    buffer_release(&contents);
    if (reason) {
        stream_meter_table_release(table);
        memset(position, 0, sizeof *position);
        error_message_set(error, error_size, "%s: %s", path, reason);
        return -1;
    }
    return 0;
}
