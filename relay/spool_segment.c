/* Segment files: names, creation (header, fdatasync, directory fsync) and the pre-created next
 * segment. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "relay/spool_internal.h"

int spool_path_join(char *out, size_t out_size, const char *directory, const char *name)
{
    int written = snprintf(out, out_size, "%s/%s", directory, name);
    if (written < 0 || (size_t)written >= out_size)
        return -ENAMETOOLONG;
    return 0;
}

int spool_segment_path(const struct spool *spool, uint64_t id, char *out, size_t out_size)
{
    int written = snprintf(out, out_size, "%s/%020" PRIu64 ".seg", spool->segment_dir, id);
    if (written < 0 || (size_t)written >= out_size)
        return -ENAMETOOLONG;
    return 0;
}

int spool_directory_sync(const struct spool *spool, const char *directory)
{
    const struct spool_io *io = &spool->io;
    int fd = io->open(io->context, directory, O_RDONLY | O_DIRECTORY, 0);
    int result = 0, error = 0;
    if (fd < 0) {
        error = errno;
        result = -error;
    } else {
        if (io->fsync(io->context, fd) != 0) {
            error = errno;
            result = -EIO;
        }
        if (io->close(io->context, fd) != 0 && result == 0) {
            error = errno;
            result = -EIO;
        }
    }
    /* The cause as the system call gave it: an EMFILE here needs a higher descriptor limit, not
     * a disk check. */
    if (result != 0)
        log_error(spool->logger, "fsync of a spool directory failed; the relay stops",
                  LOG_STRING("directory", directory), LOG_STRING("error", strerror(error)));
    return result;
}

static uint32_t segment_salt_make(const struct spool *spool)
{
    uint32_t salt = 0;
    if (getrandom(&salt, sizeof salt, GRND_NONBLOCK) != (ssize_t)sizeof salt)
        salt = (uint32_t)clock_monotonic_ns(&spool->clock) ^
               (uint32_t)(clock_realtime_ns(&spool->clock) >> 17);
    return salt;
}

int spool_segment_preallocate(struct spool *spool, int fd, uint64_t from)
{
    if (spool->offline || spool->segment_bytes <= from)
        return 0;
    const struct spool_io *io = &spool->io;
    if (io->fallocate(io->context, fd, (off_t)from, (off_t)(spool->segment_bytes - from)) == 0)
        return 0;
    if (errno == ENOSPC || errno == EDQUOT)
        return -ENOSPC;
    if (errno == EOPNOTSUPP || errno == ENOSYS)
        return 0; /* a file system without fallocate: appends extend the file instead */
    log_error(spool->logger, "cannot preallocate a spool segment",
              LOG_STRING("error", strerror(errno)));
    return -EIO;
}

void spool_segment_prefetch(int fd, uint64_t from, uint64_t to)
{
    /* Advice only: appends work without it, just slower. */
    if (to > from)
        (void)posix_fadvise(fd, (off_t)from, (off_t)(to - from), POSIX_FADV_WILLNEED);
}

#define WRITE_AHEAD_COMMIT_MAX ((uint64_t)64 * 1024)
#define WRITE_AHEAD_LOW ((uint64_t)256 * 1024) /* written ahead: refilled below this */
#define WRITE_AHEAD_BLOCK ((uint64_t)4096)
#define WRITE_AHEAD_BLOCKS 256 /* one write of 1 MiB */

void spool_segment_write_ahead(struct spool *spool)
{
    static const uint8_t zeros[WRITE_AHEAD_BLOCK];
    if (spool->offline)
        return;
    const struct spool_segment *active = &spool->segments[spool->segment_count - 1];
    if (spool->written_segment_id != active->id) {
        spool->written_segment_id = active->id;
        spool->written_until = spool->written_commit_end = SPOOL_SEGMENT_HEADER_SIZE;
    }
    uint64_t commit_bytes = active->bytes - spool->written_commit_end;
    spool->written_commit_end = active->bytes;
    if (spool->written_until < active->bytes)
        spool->written_until = active->bytes;
    uint64_t start = spool->written_until;
    if (commit_bytes > WRITE_AHEAD_COMMIT_MAX || start - active->bytes >= WRITE_AHEAD_LOW ||
        start >= spool->segment_bytes)
        return;
    uint64_t end = (start + WRITE_AHEAD_BLOCKS * WRITE_AHEAD_BLOCK) & ~(WRITE_AHEAD_BLOCK - 1);
    if (end > spool->segment_bytes)
        end = spool->segment_bytes;
    struct iovec iov[WRITE_AHEAD_BLOCKS + 1];
    int count = 0;
    for (uint64_t offset = start; offset < end; count++) {
        uint64_t length = WRITE_AHEAD_BLOCK - offset % WRITE_AHEAD_BLOCK;
        if (length > end - offset)
            length = end - offset;
        iov[count] = (struct iovec){.iov_base = (void *)zeros, .iov_len = length};
        offset += length;
    }
    const struct spool_io *io = &spool->io;
    ssize_t written;
    do {
        written = io->pwritev(io->context, spool->active_fd, iov, count, (off_t)start);
    } while (written < 0 && errno == EINTR);
    spool->written_until = written == (ssize_t)(end - start) ? end : spool->segment_bytes;
}

int spool_segment_create(struct spool *spool, uint64_t id, uint64_t first_sequence,
                         struct spool_segment *segment)
{
    const struct spool_io *io = &spool->io;
    char path[4096];
    if (spool_segment_path(spool, id, path, sizeof path) != 0)
        return -ENAMETOOLONG;
    struct spool_segment_header header = {
        .id = id,
        .created_ns = clock_realtime_ns(&spool->clock),
        .first_sequence = first_sequence,
        .salt = segment_salt_make(spool),
    };
    uint8_t bytes[SPOOL_SEGMENT_HEADER_SIZE];
    spool_segment_header_encode(&header, bytes);

    int fd = io->open(io->context, path, O_RDWR | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) {
        int error = errno;
        log_error(spool->logger, "cannot create a spool segment", LOG_STRING("path", path),
                  LOG_STRING("error", strerror(error)));
        return error == ENOSPC || error == EDQUOT ? -ENOSPC : -error;
    }
    struct iovec iov = {.iov_base = bytes, .iov_len = sizeof bytes};
    ssize_t written = io->pwritev(io->context, fd, &iov, 1, 0);
    int result = 0;
    if (written != (ssize_t)sizeof bytes) {
        int error = written < 0 ? errno : ENOSPC;
        result = error == ENOSPC || error == EDQUOT ? -ENOSPC : -error;
        log_warning(spool->logger, "cannot write a spool segment header", LOG_STRING("path", path),
                    LOG_STRING("error", strerror(error)));
        goto fail;
    }
    if ((result = spool_segment_preallocate(spool, fd, SPOOL_SEGMENT_HEADER_SIZE)) != 0)
        goto fail;
    if (io->fdatasync(io->context, fd) != 0) {
        result = -EIO;
        log_error(spool->logger, "fdatasync of a new spool segment failed; the relay stops",
                  LOG_STRING("path", path), LOG_STRING("error", strerror(errno)));
        goto fail;
    }
    result = spool_directory_sync(spool, spool->segment_dir);
    if (result != 0)
        goto fail;
    spool_segment_prefetch(fd, SPOOL_SEGMENT_HEADER_SIZE, spool->segment_bytes);
    *segment = (struct spool_segment){
        .id = id,
        .first_sequence = 0,
        .last_sequence = 0,
        .bytes = SPOOL_SEGMENT_HEADER_SIZE,
        .salt = header.salt,
    };
    return fd;
fail:
    if (io->close(io->context, fd) != 0)
        result = -EIO;
    /* A header-less file left behind is harmless: recovery removes an invalid trailing segment. */
    if (io->unlink(io->context, path) != 0)
        log_warning(spool->logger, "cannot remove an incomplete spool segment",
                    LOG_STRING("path", path), LOG_STRING("error", strerror(errno)));
    return result;
}

size_t spool_segment_after(const struct spool *spool, uint64_t id)
{
    size_t low = 0, high = spool->segment_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (spool->segments[middle].id <= id)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

struct spool_segment *spool_segment_find(struct spool *spool, uint64_t id)
{
    size_t after = spool_segment_after(spool, id);
    if (after > 0 && spool->segments[after - 1].id == id)
        return &spool->segments[after - 1];
    return NULL;
}

int spool_segment_push(struct spool *spool, const struct spool_segment *segment)
{
    if (spool->segment_count == spool->segment_capacity) {
        size_t capacity = spool->segment_capacity ? spool->segment_capacity * 2 : 16;
        struct spool_segment *grown = realloc(spool->segments, capacity * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        spool->segments = grown;
        spool->segment_capacity = capacity;
    }
    spool->segments[spool->segment_count++] = *segment;
    return 0;
}

int spool_segment_prepare(struct spool *spool)
{
    if (spool->has_prepared)
        return 0;
    uint64_t id = spool->segment_count ? spool->segments[spool->segment_count - 1].id + 1 : 1;
    int fd = spool_segment_create(spool, id, 0, &spool->prepared);
    if (fd < 0)
        return fd;
    spool->prepared_fd = fd;
    spool->has_prepared = true;
    spool->total_bytes += SPOOL_SEGMENT_HEADER_SIZE;
    return 0;
}
