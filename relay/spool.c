/* The spool's write path: open and close, admission (size cap, free-space floor, read-only),
 * append with one pwritev per record, group commit, and the reserve file. */
#include "relay/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/error.h"
#include "relay/spool_internal.h"

#define FREE_SPACE_CACHE_NS 1000000000LL

void spool_options_from_config(struct spool_options *options, const struct config_spool *config)
{
    *options = (struct spool_options){
        .dir = config->dir,
        .sync_mode = config->sync.mode,
        .sync_interval_ms = config->sync.interval_ms,
        .max_bytes = config->max_bytes,
        .min_free_bytes = config->min_free_bytes,
        .segment_bytes = config->segment_bytes,
        .reserve_bytes = SPOOL_RESERVE_BYTES_DEFAULT,
    };
}

const char *spool_error_reason(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case -EMSGSIZE:
        return "record too large for the spool (larger than spool.max_bytes allows, or 64 MiB)";
    case -EINVAL:
        return "invalid routing (too many consumers or a name too long)";
    case -ENOBUFS:
        return "spool is full (spool.max_bytes reached); waiting for delivery";
    case -ENOSPC:
        return "file system below spool.min_free_bytes or full";
    case -EROFS:
        return "spool is read-only after the disk filled up; waiting for free space";
    case -ENOMEM:
        return "out of memory";
    case -EIO:
        return "spool I/O error; the relay must restart";
    default:
        return "spool error";
    }
}

static char *path_make(const char *directory, const char *name)
{
    size_t length = strlen(directory) + strlen(name) + 2;
    char *path = malloc(length);
    if (path)
        snprintf(path, length, "%s/%s", directory, name);
    return path;
}

static int directory_ensure(const char *path, char *error, size_t error_size)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST)
        return 0;
    int code = errno;
    error_message_set(error, error_size, "%s: cannot create the spool directory: %s", path,
                      strerror(code));
    return -code;
}

/* Refreshes the cached statvfs when it is older than a second (or when forced). Returns 0 or
 * -EIO (statvfs failed: treated as no room, logged). */
static int free_space_refresh(struct spool *spool, bool force)
{
    int64_t now = clock_monotonic_ns(&spool->clock);
    if (!force && spool->free_checked_ns != 0 && now - spool->free_checked_ns < FREE_SPACE_CACHE_NS)
        return 0;
    struct statvfs status;
    if (spool->io.statvfs(spool->io.context, spool->dir, &status) != 0) {
        log_warning(spool->logger, "statvfs of the spool directory failed",
                    LOG_STRING("dir", spool->dir), LOG_STRING("error", strerror(errno)));
        spool->free_bytes = 0;
        spool->free_checked_ns = now ? now : 1;
        spool->appended_since_check = 0;
        return -EIO;
    }
    spool->free_bytes = (uint64_t)status.f_bavail * (uint64_t)status.f_frsize;
    spool->free_checked_ns = now ? now : 1;
    spool->appended_since_check = 0;
    return 0;
}

static uint64_t free_space_estimate(const struct spool *spool)
{
    return spool->free_bytes > spool->appended_since_check
               ? spool->free_bytes - spool->appended_since_check
               : 0;
}

/* -ENOSPC for a full disk or quota, else -error. */
static int space_error(int error)
{
    return error == ENOSPC || error == EDQUOT ? -ENOSPC : -error;
}

/* Creates the reserve file at its full size. Returns 0, -ENOSPC (removed again), or the negative
 * errno of the step that failed (fatal; the caller names it). */
static int reserve_create(struct spool *spool)
{
    const struct spool_io *io = &spool->io;
    if (spool->reserve_bytes == 0)
        return 0;
    int fd = io->open(io->context, spool->reserve_path, O_RDWR | O_CREAT, 0640);
    if (fd < 0)
        return space_error(errno);
    int result = 0;
    struct stat status;
    if (io->fstat(io->context, fd, &status) != 0) {
        result = -errno;
    } else if ((uint64_t)status.st_size < spool->reserve_bytes) {
        if (io->fallocate(io->context, fd, 0, (off_t)spool->reserve_bytes) != 0)
            result = space_error(errno);
        else if (io->fsync(io->context, fd) != 0)
            result = -EIO;
    }
    if (io->close(io->context, fd) != 0 && result == 0)
        result = -EIO;
    if (result == -ENOSPC && io->unlink(io->context, spool->reserve_path) != 0)
        log_warning(spool->logger, "cannot remove a partial spool reserve file",
                    LOG_STRING("path", spool->reserve_path));
    if (result == 0)
        result = spool_directory_sync(spool, spool->dir);
    return result;
}

/* Frees the reserve's space for recovery and cursor writes after ENOSPC. */
static void reserve_release(struct spool *spool)
{
    if (spool->reserve_bytes == 0)
        return;
    if (spool->io.unlink(spool->io.context, spool->reserve_path) != 0 && errno != ENOENT)
        log_warning(spool->logger, "cannot delete the spool reserve file",
                    LOG_STRING("path", spool->reserve_path), LOG_STRING("error", strerror(errno)));
}

static int lock_take(struct spool *spool, char *error, size_t error_size)
{
    char *path = path_make(spool->dir, "LOCK");
    if (!path)
        return -ENOMEM;
    int result = 0;
    spool->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (spool->lock_fd < 0) {
        result = -errno;
        error_message_set(error, error_size, "%s: cannot open the spool lock: %s", path,
                          strerror(errno));
    } else if (flock(spool->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        result = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
        error_message_set(error, error_size,
                          "%s: the spool directory %s is in use by another meter-relay (LOCK is "
                          "held); stop that process or give this one another spool.dir",
                          path, spool->dir);
    }
    free(path);
    return result;
}

static int spool_paths_make(struct spool *spool, const char *dir)
{
    spool->dir = strdup(dir);
    if (!spool->dir)
        return -ENOMEM;
    spool->segment_dir = path_make(dir, "seg");
    spool->cursor_dir = path_make(dir, "cursor");
    spool->quarantine_dir = path_make(dir, "quarantine");
    spool->reserve_path = path_make(dir, "reserve");
    if (!spool->segment_dir || !spool->cursor_dir || !spool->quarantine_dir || !spool->reserve_path)
        return -ENOMEM;
    return 0;
}

int spool_open(const struct spool_options *options, struct spool **out,
               struct spool_recovery_report *report, char *error, size_t error_size)
{
    int64_t started;
    struct spool_recovery_report local = {0};
    struct spool *spool = calloc(1, sizeof *spool);
    if (!spool) {
        error_message_set(error, error_size, "out of memory opening the spool");
        return -ENOMEM;
    }
    spool->io = options->io ? *options->io : spool_io_system();
    spool->clock = options->clock ? *options->clock : clock_system();
    spool->logger = options->logger;
    spool->failed_notify = options->failed;
    spool->failed_argument = options->failed_argument;
    spool->sync_mode = options->sync_mode;
    spool->sync_interval_ns = options->sync_interval_ms * 1000000LL;
    spool->max_bytes = options->max_bytes;
    spool->min_free_bytes = options->min_free_bytes;
    spool->segment_bytes = options->segment_bytes ? options->segment_bytes : 64u << 20;
    spool->reserve_bytes = options->reserve_bytes;
    spool->offline = options->offline;
    spool->lock_fd = spool->active_fd = spool->prepared_fd = -1;
    spool->scratch = (struct buffer)BUFFER_INITIALIZER;
    started = clock_monotonic_ns(&spool->clock);

    int result = spool_paths_make(spool, options->dir);
    if (result != 0) {
        error_message_set(error, error_size, "out of memory opening the spool");
        goto fail;
    }
    if ((result = directory_ensure(spool->dir, error, error_size)) != 0 ||
        (result = lock_take(spool, error, error_size)) != 0 ||
        (result = directory_ensure(spool->segment_dir, error, error_size)) != 0 ||
        (result = directory_ensure(spool->cursor_dir, error, error_size)) != 0 ||
        (result = directory_ensure(spool->quarantine_dir, error, error_size)) != 0)
        goto fail;
    /* The subdirectories may be new: make their entries durable before anything is put in them. */
    if ((result = spool_directory_sync(spool, spool->dir)) != 0) {
        error_message_set(error, error_size, "%s: fsync of the spool directory failed", spool->dir);
        goto fail;
    }
    if ((result = spool_consumers_load(spool, error, error_size)) != 0)
        goto fail;
    local.consumers = spool->consumer_count;
    if ((result = spool_recovery_run(spool, &local, error, error_size)) != 0)
        goto fail;

    /* Never reuse a sequence number something may have seen: a record cut off or quarantined,
     * or one a consumer stored after reading it uncommitted to disk (sync interval/none). */
    spool->next_sequence = local.last_sequence + 1;
    if (spool->highest_sequence_seen >= spool->next_sequence)
        spool->next_sequence = spool->highest_sequence_seen + 1;
    for (size_t i = 0; i < spool->consumer_count; i++)
        if (spool->consumers[i].durable >= spool->next_sequence)
            spool->next_sequence = spool->consumers[i].durable + 1;
    spool->committed_sequence = spool->synced_sequence = spool->next_sequence - 1;
    for (size_t i = 0; i < spool->segment_count; i++)
        spool->total_bytes += spool->segments[i].bytes;
    if (spool->has_prepared)
        spool->total_bytes += spool->prepared.bytes;
    if (spool->segment_count == 0) {
        /* No usable segment: start one; a prepared one becomes the active one. */
        struct spool_segment segment;
        if (spool->has_prepared) {
            segment = spool->prepared;
            spool->active_fd = spool->prepared_fd;
            spool->has_prepared = false;
        } else {
            uint64_t id = 1;
            spool->active_fd = spool_segment_create(spool, id, 0, &segment);
            if (spool->active_fd < 0) {
                result = spool->active_fd;
                error_message_set(error, error_size, "%s: cannot create the first segment: %s",
                                  spool->segment_dir, strerror(-result));
                goto fail;
            }
            spool->total_bytes += segment.bytes;
        }
        if ((result = spool_segment_push(spool, &segment)) != 0)
            goto fail;
    }
    result = spool->offline ? 0 : spool_segment_prepare(spool);
    if (result != 0 && result != -ENOSPC) {
        error_message_set(error, error_size, "%s: cannot pre-create the next segment: %s",
                          spool->segment_dir, strerror(-result));
        goto fail;
    }
    result = reserve_create(spool);
    if (result != 0 && result != -ENOSPC) {
        error_message_set(error, error_size, "%s: cannot create the reserve file: %s",
                          spool->reserve_path, strerror(-result));
        goto fail;
    }
    if (result == -ENOSPC)
        log_warning(spool->logger,
                    "no room for the spool reserve file; recovery from a full "
                    "disk may need manual help",
                    LOG_STRING("path", spool->reserve_path));
    spool->last_sync_ns = clock_monotonic_ns(&spool->clock);
    local.segments = spool->segment_count + (spool->has_prepared ? 1 : 0);
    local.duration_ns = clock_monotonic_ns(&spool->clock) - started;
    if (report)
        *report = local;
    *out = spool;
    return 0;
fail:
    spool_close(spool);
    return result;
}

static int deferred_write(struct spool *spool);

void spool_close(struct spool *spool)
{
    if (!spool)
        return;
    const struct spool_io *io = &spool->io;
    spool_sync_thread_stop(spool);
    /* Not durable without spool_flush(), but a clean close keeps every appended record. */
    if (!spool->failed && spool->active_fd >= 0)
        deferred_write(spool);
    buffer_release(&spool->deferred);
    spool_consumers_release(spool);
    if (spool->active_fd >= 0 && io->close(io->context, spool->active_fd) != 0)
        log_warning(spool->logger, "close of the active spool segment failed");
    if (spool->has_prepared && io->close(io->context, spool->prepared_fd) != 0)
        log_warning(spool->logger, "close of the pre-created spool segment failed");
    if (spool->lock_fd >= 0)
        close(spool->lock_fd); /* releases the flock; nothing was written to it */
    free(spool->segments);
    buffer_release(&spool->scratch);
    free(spool->dir);
    free(spool->segment_dir);
    free(spool->cursor_dir);
    free(spool->quarantine_dir);
    free(spool->reserve_path);
    free(spool);
}

void spool_failed_mark(struct spool *spool)
{
    if (spool->failed)
        return;
    spool->failed = true;
    if (spool->failed_notify)
        spool->failed_notify(spool->failed_argument);
}

static int spool_fail(struct spool *spool, const char *what, int error)
{
    log_error(spool->logger, what, LOG_STRING("dir", spool->dir),
              LOG_STRING("error", strerror(error)));
    spool_failed_mark(spool);
    return -EIO;
}

/* Takes the result of the sync thread's job (result and sequence from
 * spool_sync_thread_collect). Returns 0 or -EIO. */
static int sync_result_apply(struct spool *spool, int result, uint64_t sequence)
{
    if (result != 0)
        return spool_fail(spool, "fdatasync of the spool failed; the relay stops", -result);
    if (sequence > spool->synced_sequence)
        spool->synced_sequence = sequence;
    if (spool->synced_sequence > spool->committed_sequence)
        spool->committed_sequence = spool->synced_sequence;
    spool->last_sync_ns = clock_monotonic_ns(&spool->clock);
    return 0;
}

/* Waits for the sync thread's job in flight, if any, and takes its result: before the active
 * segment is closed, or a synchronous commit. Returns 0 or -EIO. */
static int sync_in_flight_settle(struct spool *spool)
{
    if (!spool->sync_in_flight)
        return 0;
    uint64_t sequence = 0;
    int result = spool_sync_thread_collect(spool, true, &sequence);
    return sync_result_apply(spool, result, sequence);
}

/* Switches appends to the pre-created segment, syncing the one it leaves first so that a commit
 * (which syncs only the active segment) covers everything appended. */
static int segment_roll_over(struct spool *spool)
{
    const struct spool_io *io = &spool->io;
    int written = deferred_write(spool);
    if (written != 0)
        return written;
    if (sync_in_flight_settle(spool) != 0)
        return -EIO;
    if (!spool->has_prepared) {
        int result = spool_segment_prepare(spool);
        if (result != 0)
            return result == -ENOSPC ? -ENOSPC
                                     : spool_fail(spool, "segment creation failed", -result);
    }
    if (spool->sync_mode != CONFIG_SYNC_NONE && spool->synced_sequence < spool->next_sequence - 1) {
        if (io->fdatasync(io->context, spool->active_fd) != 0)
            return spool_fail(spool, "fdatasync of a spool segment failed; the relay stops", errno);
        spool->synced_sequence = spool->next_sequence - 1;
        spool->last_sync_ns = clock_monotonic_ns(&spool->clock);
    }
    /* Listed first: a failure leaves the spool as it was. close() releases the descriptor even
     * when it reports an error, so the full segment's is forgotten before it is closed. */
    int result = spool_segment_push(spool, &spool->prepared);
    if (result != 0)
        return result;
    int full_fd = spool->active_fd;
    spool->active_fd = spool->prepared_fd;
    spool->prepared_fd = -1;
    spool->has_prepared = false;
    if (io->close(io->context, full_fd) != 0)
        return spool_fail(spool, "close of a full spool segment failed", errno);
    return 0;
}

static int read_only_leave(struct spool *spool)
{
    if (spool->free_bytes < spool->min_free_bytes + spool->reserve_bytes)
        return -EROFS;
    int result = reserve_create(spool);
    if (result == -ENOSPC)
        return -EROFS;
    if (result != 0)
        return spool_fail(spool, "cannot recreate the spool reserve file", -result);
    spool->read_only = false;
    log_info(spool->logger, "spool writable again: free space returned",
             LOG_STRING("dir", spool->dir));
    return 0;
}

int spool_read_only_retry(struct spool *spool)
{
    if (spool->failed)
        return -EIO;
    if (!spool->read_only)
        return 0;
    free_space_refresh(spool, true);
    return read_only_leave(spool);
}

/* The write failed (short or with an error): cut the partial record off and decide whether the
 * spool goes read-only (disk full) or has failed. */
static int append_failure(struct spool *spool, int error)
{
    const struct spool_io *io = &spool->io;
    struct spool_segment *active = &spool->segments[spool->segment_count - 1];
    if (error != ENOSPC && error != EDQUOT)
        return spool_fail(spool, "write to the spool failed; the relay stops", error);
    if (io->ftruncate(io->context, spool->active_fd, (off_t)active->bytes) != 0)
        return spool_fail(spool, "cannot truncate a partial spool record", errno);
    spool->read_only = true;
    reserve_release(spool);
    spool->free_checked_ns = 0;
    log_error(spool->logger,
              "spool disk full: ingestion is read-only until delivery or the operator frees space",
              LOG_STRING("dir", spool->dir));
    return -ENOSPC;
}

/* Admission for a record of padded bytes. Returns 0 or the refusal. */
static int append_admit_check(struct spool *spool, uint64_t padded)
{
    if (spool->read_only) {
        free_space_refresh(spool, false);
        int result = read_only_leave(spool);
        if (result != 0)
            return result;
    }
    if (spool->max_bytes != 0 &&
        spool->total_bytes + spool->deferred.length + padded > spool->max_bytes)
        return -ENOBUFS;
    if (spool->min_free_bytes != 0) {
        free_space_refresh(spool, false);
        if (free_space_estimate(spool) < spool->min_free_bytes + padded)
            return -ENOSPC;
    }
    return 0;
}

/* append_admit_check, remembering a refusal for room for /health. */
static int append_admit(struct spool *spool, uint64_t padded)
{
    int result = append_admit_check(spool, padded);
    spool->admission_refused = result == -ENOBUFS || result == -ENOSPC ? result : 0;
    return result;
}

int spool_append(struct spool *spool, const struct spool_routing *routing, const char *payload,
                 size_t length, uint64_t *sequence)
{
    return spool_append_flagged(spool, routing, 0, payload, length, sequence);
}

/* Writes the deferred records after the active segment's bytes, in one pwrite. Returns 0,
 * -ENOSPC (disk full: they are lost, reported by spool_dropped_take, and the spool is read-only)
 * or -EIO. */
static int deferred_write(struct spool *spool)
{
    size_t length = spool->deferred.length;
    if (length == 0)
        return 0;
    const struct spool_io *io = &spool->io;
    struct spool_segment *active = &spool->segments[spool->segment_count - 1];
    struct iovec iov = {.iov_base = spool->deferred.data, .iov_len = length};
    ssize_t written;
    do {
        written = io->pwritev(io->context, spool->active_fd, &iov, 1, (off_t)active->bytes);
    } while (written < 0 && errno == EINTR);
    int error = written < 0 ? errno : ENOSPC;
    uint64_t first = spool->deferred_first;
    uint64_t last = spool->next_sequence - 1;
    buffer_clear(&spool->deferred);
    spool->deferred_first = 0;
    if (written != (ssize_t)length) {
        int result = append_failure(spool, error);
        if (result == -ENOSPC) {
            /* Two losses before the relay took the first are reported as one range: in between
             * the spool was read-only, so nothing else was appended. */
            if (spool->dropped_first == 0)
                spool->dropped_first = first;
            spool->dropped_last = last;
        }
        return result;
    }
    active->bytes += length;
    if (active->first_sequence == 0)
        active->first_sequence = first;
    active->last_sequence = last;
    spool->total_bytes += length;
    return 0;
}

/* Everything an append checks before the record is placed: the flags, the routing (encoded into
 * spool->scratch), the size, the admission, and room in the active segment (rolled over when
 * full). Stores the record's unpadded and padded sizes. Returns 0 or what spool_append returns. */
static int append_prepare(struct spool *spool, const struct spool_routing *routing, uint8_t flags,
                          size_t length, uint64_t *record_length, uint64_t *padded)
{
    if (spool->failed)
        return -EIO;
    if (flags & ~SPOOL_RECORD_FLAGS_KNOWN)
        return -EINVAL;
    buffer_clear(&spool->scratch);
    int result = spool_meta_encode(routing, &spool->scratch);
    if (result != 0)
        return result;
    *record_length = SPOOL_RECORD_HEADER_SIZE + spool->scratch.length + (uint64_t)length;
    if (*record_length > SPOOL_RECORD_MAX)
        return -EMSGSIZE;
    *padded = spool_record_padded(*record_length);
    /* Even a spool with everything delivered keeps the headers of its active and pre-created
     * segments: a record that does not fit beside them never will, and "full; waiting for
     * delivery" (503) would have the client retry it for ever. */
    if (spool->max_bytes != 0 && *padded + 2 * SPOOL_SEGMENT_HEADER_SIZE > spool->max_bytes)
        return -EMSGSIZE;
    if ((result = append_admit(spool, *padded)) != 0)
        return result;
    const struct spool_segment *active = &spool->segments[spool->segment_count - 1];
    uint64_t tail = active->bytes + spool->deferred.length;
    uint64_t last = spool->deferred_first != 0 ? spool->next_sequence - 1 : active->last_sequence;
    /* Sequence numbers are gap-free within a segment: after recovery skipped numbers (or a
     * deferred write was lost), the next record starts a new segment. */
    if (tail > SPOOL_SEGMENT_HEADER_SIZE &&
        (tail + *padded > spool->segment_bytes || last + 1 != spool->next_sequence))
        return segment_roll_over(spool);
    return 0;
}

/* The record's sequence number is taken: counts it. */
static uint64_t append_sequence_take(struct spool *spool, uint64_t padded)
{
    spool->appended_since_check += padded;
    return spool->next_sequence++;
}

int spool_append_flagged(struct spool *spool, const struct spool_routing *routing, uint8_t flags,
                         const char *payload, size_t length, uint64_t *sequence)
{
    uint64_t record_length, padded;
    int result = append_prepare(spool, routing, flags, length, &record_length, &padded);
    if (result != 0)
        return result;
    /* What was deferred comes first in the file, as in sequence. */
    if ((result = deferred_write(spool)) != 0)
        return result;
    struct spool_segment *active = &spool->segments[spool->segment_count - 1];
    uint64_t assigned = spool->next_sequence;
    uint8_t header[SPOOL_RECORD_HEADER_SIZE];
    static const uint8_t padding[8] = {0};
    spool_record_header_build(header, assigned, active->salt, flags, spool->scratch.data,
                              spool->scratch.length, payload, length);
    struct iovec iov[4] = {
        {.iov_base = header, .iov_len = sizeof header},
        {.iov_base = spool->scratch.data, .iov_len = spool->scratch.length},
        {.iov_base = (void *)payload, .iov_len = length},
        {.iov_base = (void *)padding, .iov_len = (size_t)(padded - record_length)},
    };
    const struct spool_io *io = &spool->io;
    ssize_t written;
    do {
        written = io->pwritev(io->context, spool->active_fd, iov, 4, (off_t)active->bytes);
    } while (written < 0 && errno == EINTR);
    if (written != (ssize_t)padded)
        return append_failure(spool, written < 0 ? errno : ENOSPC);

    append_sequence_take(spool, padded);
    active->bytes += padded;
    if (active->first_sequence == 0)
        active->first_sequence = assigned;
    active->last_sequence = assigned;
    spool->total_bytes += padded;
    *sequence = assigned;
    return 0;
}

int spool_append_deferred(struct spool *spool, const struct spool_routing *routing,
                          const char *payload, size_t length, uint64_t *sequence)
{
    if (length >= SPOOL_DEFERRED_RECORD_MAX)
        return spool_append_flagged(spool, routing, 0, payload, length, sequence);
    uint64_t record_length, padded;
    int result = append_prepare(spool, routing, 0, length, &record_length, &padded);
    if (result != 0)
        return result;
    struct buffer *deferred = &spool->deferred;
    size_t at = deferred->length;
    if (buffer_reserve(deferred, (size_t)padded) != 0)
        return -ENOMEM;
    const struct spool_segment *active = &spool->segments[spool->segment_count - 1];
    uint8_t *record = (uint8_t *)deferred->data + at;
    spool_record_header_build(record, spool->next_sequence, active->salt, 0, spool->scratch.data,
                              spool->scratch.length, payload, length);
    memcpy(record + SPOOL_RECORD_HEADER_SIZE, spool->scratch.data, spool->scratch.length);
    memcpy(record + SPOOL_RECORD_HEADER_SIZE + spool->scratch.length, payload, length);
    memset(record + record_length, 0, (size_t)(padded - record_length));
    deferred->length += (size_t)padded;
    if (spool->deferred_first == 0)
        spool->deferred_first = spool->next_sequence;
    uint64_t assigned = append_sequence_take(spool, padded);
    if (deferred->length >= SPOOL_DEFERRED_BYTES_MAX && (result = deferred_write(spool)) != 0)
        return result;
    *sequence = assigned;
    return 0;
}

bool spool_dropped_take(struct spool *spool, uint64_t *first, uint64_t *last)
{
    if (spool->dropped_first == 0)
        return false;
    *first = spool->dropped_first;
    *last = spool->dropped_last;
    spool->dropped_first = 0;
    spool->dropped_last = 0;
    return true;
}

/* Off the ack path of a commit: its caller answers first, so preparing the next segment here
 * only delays the next loop pass, and only once per segment. Returns 0 or -EIO. */
static int next_segment_prepare(struct spool *spool)
{
    if (spool->has_prepared || spool->read_only || spool->offline)
        return 0;
    int result = spool_segment_prepare(spool);
    if (result != 0 && result != -ENOSPC)
        return spool_fail(spool, "cannot pre-create the next spool segment", -result);
    return 0;
}

/* sync: none closes full segments without an fdatasync; before spool_flush (shutdown) calls
 * their records durable it syncs them by name (segments deleted meanwhile were delivered).
 * Returns 0 or -EIO. */
static int closed_segments_sync(struct spool *spool)
{
    const struct spool_io *io = &spool->io;
    for (size_t i = 0; i + 1 < spool->segment_count; i++) {
        const struct spool_segment *segment = &spool->segments[i];
        if (segment->first_sequence == 0 || segment->last_sequence <= spool->synced_sequence)
            continue;
        char path[4096];
        if (spool_segment_path(spool, segment->id, path, sizeof path) != 0)
            return spool_fail(spool, "spool segment path too long", ENAMETOOLONG);
        int fd = io->open(io->context, path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
            return spool_fail(spool, "cannot open a spool segment to sync it", errno);
        int synced = io->fdatasync(io->context, fd);
        int error = errno;
        if (io->close(io->context, fd) != 0 && synced == 0) {
            synced = -1;
            error = errno;
        }
        if (synced != 0)
            return spool_fail(spool, "fdatasync of a spool segment failed; the relay stops", error);
    }
    return 0;
}

static int commit_run(struct spool *spool, bool force, uint64_t *committed)
{
    if (spool->failed || sync_in_flight_settle(spool) != 0)
        return -EIO;
    /* A full disk loses only the deferred records (spool_dropped_take); the rest commits. */
    if (deferred_write(spool) == -EIO)
        return -EIO;
    uint64_t appended = spool->next_sequence - 1;
    bool sync = false;
    if (appended > spool->synced_sequence) {
        if (force || spool->sync_mode == CONFIG_SYNC_ALWAYS)
            sync = true;
        else if (spool->sync_mode == CONFIG_SYNC_INTERVAL)
            sync =
                clock_monotonic_ns(&spool->clock) - spool->last_sync_ns >= spool->sync_interval_ns;
    }
    if (sync) {
        if (spool->sync_mode == CONFIG_SYNC_NONE && closed_segments_sync(spool) != 0)
            return -EIO;
        if (spool->io.fdatasync(spool->io.context, spool->active_fd) != 0)
            return spool_fail(spool, "fdatasync of the spool failed; the relay stops", errno);
        spool->synced_sequence = appended;
        spool->last_sync_ns = clock_monotonic_ns(&spool->clock);
    }
    spool->committed_sequence = appended;
    if (committed)
        *committed = appended;
    return next_segment_prepare(spool);
}

int spool_commit_start(struct spool *spool, uint64_t *committed)
{
    if (spool->failed)
        return -EIO;
    if (spool->sync_in_flight)
        return 0;
    if (deferred_write(spool) == -EIO)
        return -EIO;
    uint64_t appended = spool->next_sequence - 1;
    if (!spool->syncer || appended <= spool->synced_sequence)
        return commit_run(spool, false, committed) == 0 ? 1 : -EIO;
    spool_sync_thread_hand_over(spool, spool->active_fd, appended);
    /* After the handover: the zeros are not on this commit's way to its answer. */
    spool_segment_write_ahead(spool);
    return 0;
}

int spool_commit_complete(struct spool *spool, uint64_t *committed)
{
    uint64_t sequence = 0;
    int result = spool_sync_thread_collect(spool, false, &sequence);
    if (result == -EAGAIN)
        return -EAGAIN;
    if (sync_result_apply(spool, result, sequence) != 0)
        return -EIO;
    if (committed)
        *committed = spool->committed_sequence;
    return next_segment_prepare(spool);
}

int spool_commit(struct spool *spool, uint64_t *committed)
{
    return commit_run(spool, false, committed);
}

int spool_flush(struct spool *spool, uint64_t *committed)
{
    return commit_run(spool, true, committed);
}

uint64_t spool_appended_sequence(const struct spool *spool)
{
    return spool->next_sequence - 1;
}

uint64_t spool_committed_sequence(const struct spool *spool)
{
    return spool->committed_sequence;
}

uint64_t spool_durable_sequence(const struct spool *spool)
{
    return spool->synced_sequence;
}

uint64_t spool_backlog_bytes(const struct spool *spool, uint64_t sequence)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < spool->segment_count; i++)
        if (spool->segments[i].first_sequence != 0 && spool->segments[i].last_sequence > sequence)
            bytes += spool->segments[i].bytes;
    return bytes;
}

uint64_t spool_size_bytes(const struct spool *spool)
{
    return spool->total_bytes;
}

size_t spool_segment_count(const struct spool *spool)
{
    return spool->segment_count + (spool->has_prepared ? 1 : 0);
}

enum config_sync_mode spool_sync_mode(const struct spool *spool)
{
    return spool->sync_mode;
}

bool spool_is_read_only(const struct spool *spool)
{
    return spool->read_only;
}

int spool_admission_refused(const struct spool *spool)
{
    return spool->admission_refused;
}

bool spool_has_failed(const struct spool *spool)
{
    return spool->failed;
}
