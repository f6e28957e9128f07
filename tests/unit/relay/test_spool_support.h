/* Helpers shared by the spool tests: temporary spool directories, a fault-injecting I/O seam,
 * and record builders. */
#ifndef NEBENKOSTEN_TESTS_SPOOL_SUPPORT_H
#define NEBENKOSTEN_TESTS_SPOOL_SUPPORT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/crc32c.h"
#include "relay/spool.h"
#include "relay/spool_internal.h"

/* Faults a test arms; every call goes to the real system call unless a fault fires. */
struct fault_io {
    struct spool_io real;
    int pwritev_countdown;   /* > 0: the n-th pwritev from now fails */
    int pwritev_errno;       /* errno of that failure; 0 = a short write of half the bytes */
    int fdatasync_countdown; /* > 0: the n-th fdatasync from now fails with EIO */
    uint64_t free_bytes;     /* statvfs answer when use_free_bytes */
    int use_free_bytes;
    int fdatasync_calls;
    int pwritev_calls;
    off_t pwritev_last_offset; /* of the last pwritev tried */
    size_t pwritev_last_bytes;
    /* != 0: an open with every flag of open_fail_flags of a path ending in open_fail_suffix
     * fails with it. */
    int open_fail_errno;
    int open_fail_flags;
    const char *open_fail_suffix;
    /* When armed, closing close_fail_fd closes it but reports EIO (as NFS may), once. */
    int close_fail_armed;
    int close_fail_fd;
    int close_ebadf_count; /* closes of a descriptor that was not open: double closes */
};

static inline int fault_close(void *context, int fd)
{
    struct fault_io *fault = context;
    int result = fault->real.close(NULL, fd);
    if (result != 0 && errno == EBADF)
        fault->close_ebadf_count++;
    if (result == 0 && fault->close_fail_armed && fd == fault->close_fail_fd) {
        fault->close_fail_armed = 0;
        errno = EIO;
        return -1;
    }
    return result;
}

static inline int fault_open(void *context, const char *path, int flags, mode_t mode)
{
    struct fault_io *fault = context;
    size_t length = strlen(path);
    const char *suffix = fault->open_fail_suffix ? fault->open_fail_suffix : "";
    size_t suffix_length = strlen(suffix);
    if (fault->open_fail_errno != 0 && (flags & fault->open_fail_flags) == fault->open_fail_flags &&
        length >= suffix_length && strcmp(path + length - suffix_length, suffix) == 0) {
        errno = fault->open_fail_errno;
        return -1;
    }
    return fault->real.open(NULL, path, flags, mode);
}

static inline ssize_t fault_pwritev(void *context, int fd, const struct iovec *iov, int count,
                                    off_t offset)
{
    struct fault_io *fault = context;
    fault->pwritev_calls++;
    fault->pwritev_last_offset = offset;
    fault->pwritev_last_bytes = 0;
    for (int i = 0; i < count; i++)
        fault->pwritev_last_bytes += iov[i].iov_len;
    if (fault->pwritev_countdown > 0 && --fault->pwritev_countdown == 0) {
        if (fault->pwritev_errno != 0) {
            errno = fault->pwritev_errno;
            return -1;
        }
        size_t total = 0;
        for (int i = 0; i < count; i++)
            total += iov[i].iov_len;
        /* Really write the first half, as a full disk would. */
        size_t half = total / 2, done = 0;
        for (int i = 0; i < count && done < half; i++) {
            size_t length = iov[i].iov_len < half - done ? iov[i].iov_len : half - done;
            struct iovec part = {.iov_base = iov[i].iov_base, .iov_len = length};
            ssize_t written = fault->real.pwritev(NULL, fd, &part, 1, offset + (off_t)done);
            if (written < 0)
                return written;
            done += (size_t)written;
        }
        return (ssize_t)done;
    }
    return fault->real.pwritev(NULL, fd, iov, count, offset);
}

static inline int fault_fdatasync(void *context, int fd)
{
    struct fault_io *fault = context;
    fault->fdatasync_calls++;
    if (fault->fdatasync_countdown > 0 && --fault->fdatasync_countdown == 0) {
        errno = EIO;
        return -1;
    }
    return fault->real.fdatasync(NULL, fd);
}

static inline int fault_statvfs(void *context, const char *path, struct statvfs *out)
{
    struct fault_io *fault = context;
    int result = fault->real.statvfs(NULL, path, out);
    if (result == 0 && fault->use_free_bytes) {
        out->f_frsize = 1;
        out->f_bavail = fault->free_bytes;
    }
    return result;
}

/* A seam in io whose context is fault (both borrowed, fault must outlive the spool). */
static inline struct spool_io fault_io_make(struct fault_io *fault)
{
    memset(fault, 0, sizeof *fault);
    fault->real = spool_io_system();
    struct spool_io io = fault->real;
    io.open = fault_open;
    io.close = fault_close;
    io.pwritev = fault_pwritev;
    io.fdatasync = fault_fdatasync;
    io.statvfs = fault_statvfs;
    io.context = fault;
    return io;
}

static inline int remove_entry(const char *path, const struct stat *status, int type,
                               struct FTW *walk)
{
    (void)status;
    (void)type;
    (void)walk;
    return remove(path);
}

/* mkdtemp'd directory; the caller frees the string and calls temp_dir_remove. */
static inline char *temp_dir_make(void)
{
    char *path = strdup("/tmp/spool-test-XXXXXX");
    cr_assert_not_null(path);
    cr_assert_not_null(mkdtemp(path));
    return path;
}

static inline void temp_dir_remove(char *path)
{
    if (!path)
        return;
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
}

static inline struct spool_options test_options(const char *dir, const struct spool_io *io)
{
    return (struct spool_options){
        .dir = dir,
        .sync_mode = CONFIG_SYNC_ALWAYS,
        .segment_bytes = 4096,
        .reserve_bytes = 4096,
        .io = io,
    };
}

static inline struct spool *test_spool_open(const struct spool_options *options,
                                            struct spool_recovery_report *report)
{
    struct spool *spool = NULL;
    char error[512] = "";
    int result = spool_open(options, &spool, report, error, sizeof error);
    cr_assert_eq(result, 0, "spool_open: %d %s", result, error);
    return spool;
}

static inline struct spool_routing test_routing(void)
{
    struct spool_routing routing = {0};
    routing.db = (struct spool_slice){"home", 4};
    routing.rp = (struct spool_slice){"autogen", 7};
    return routing;
}

/* The payload of record number n: "m,n=<n> v=<n>i <n>\n" into buffer (64 bytes). */
static inline size_t test_payload(char *buffer, uint64_t n)
{
    return (size_t)snprintf(buffer, 64, "m,n=%" PRIu64 " v=%" PRIu64 "i %" PRIu64 "\n", n, n, n);
}

/* Appends record n and returns its sequence number (asserting success). */
static inline uint64_t test_append(struct spool *spool, uint64_t n)
{
    char payload[64];
    size_t length = test_payload(payload, n);
    struct spool_routing routing = test_routing();
    uint64_t sequence = 0;
    int result = spool_append(spool, &routing, payload, length, &sequence);
    cr_assert_eq(result, 0, "append %" PRIu64 ": %d", n, result);
    return sequence;
}

static inline void test_commit(struct spool *spool, uint64_t expected)
{
    uint64_t committed = 0;
    cr_assert_eq(spool_commit(spool, &committed), 0);
    cr_assert_eq(committed, expected);
}

/* Reads every committed record for consumer from sequence first on and checks the payloads are
 * test_payload(n) for consecutive n; returns the number read. */
static inline uint64_t test_read_all(struct spool_cursor *cursor, uint64_t first)
{
    struct spool_record record;
    uint64_t count = 0;
    int result;
    while ((result = spool_cursor_next(cursor, &record)) == 1) {
        char expected[64];
        size_t length = test_payload(expected, first + count);
        cr_assert_eq(record.sequence, first + count);
        cr_assert_eq(record.payload_length, length);
        cr_assert_eq(memcmp(record.payload, expected, length), 0);
        count++;
    }
    cr_assert_eq(result, 0);
    return count;
}

static inline uint64_t file_size(const char *path)
{
    struct stat status;
    cr_assert_eq(stat(path, &status), 0, "stat %s", path);
    return (uint64_t)status.st_size;
}

static inline int path_exists(const char *path)
{
    struct stat status;
    return stat(path, &status) == 0;
}

/* Rewrites the segment header of the file at path (a segment or a dead letter) as a relay with
 * spool format version `version` would have written it: the same fields, that version, a valid
 * header CRC. */
static inline void test_segment_version_set(const char *path, uint32_t version)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "open %s", path);
    uint8_t header[SPOOL_SEGMENT_HEADER_SIZE];
    cr_assert_eq(pread(fd, header, sizeof header, 0), (ssize_t)sizeof header);
    spool_put_u32(header + 8, version);
    spool_put_u32(header + 60, crc32c_update(0, header, 60));
    cr_assert_eq(pwrite(fd, header, sizeof header, 0), (ssize_t)sizeof header);
    cr_assert_eq(close(fd), 0);
}

/* Writes slot 0 of the cursor file at path as a relay with spool format version `version` would:
 * sequence, generation, that version, a valid slot CRC. */
static inline void test_cursor_slot_version_write(const char *path, uint64_t sequence,
                                                  uint64_t generation, uint32_t version)
{
    uint8_t slot[SPOOL_CURSOR_SLOT_BYTES];
    spool_cursor_slot_encode(slot, sequence, generation);
    spool_put_u32(slot + 4, version);
    spool_put_u32(slot + 28, crc32c_update(0, slot, 28));
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "open %s", path);
    cr_assert_eq(pwrite(fd, slot, sizeof slot, 0), (ssize_t)sizeof slot);
    cr_assert_eq(close(fd), 0);
}

#endif
