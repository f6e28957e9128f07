/* The I/O seam of the spool: every system call the spool makes on its files goes through a
 * struct spool_io, so unit tests can inject short writes, ENOSPC, EIO and fsync failures.
 * Each function behaves like the system call of the same name: it returns what the call returns
 * and sets errno on failure (fallocate too: -1 and errno, unlike posix_fallocate). */
#ifndef NEBENKOSTEN_RELAY_SPOOL_IO_H
#define NEBENKOSTEN_RELAY_SPOOL_IO_H

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>

struct spool_io {
    /* path is borrowed. */
    int (*open)(void *context, const char *path, int flags, mode_t mode);
    int (*close)(void *context, int fd);
    /* iov is borrowed. */
    ssize_t (*pwritev)(void *context, int fd, const struct iovec *iov, int iov_count, off_t offset);
    /* buffer is borrowed (length writable bytes). */
    ssize_t (*pread)(void *context, int fd, void *buffer, size_t length, off_t offset);
    int (*fdatasync)(void *context, int fd);
    int (*fsync)(void *context, int fd);
    int (*ftruncate)(void *context, int fd, off_t length);
    int (*fallocate)(void *context, int fd, off_t offset, off_t length);
    /* out is borrowed. */
    int (*fstat)(void *context, int fd, struct stat *out);
    /* Paths are borrowed. */
    int (*rename)(void *context, const char *from, const char *to);
    int (*unlink)(void *context, const char *path);
    /* path and out are borrowed. */
    int (*statvfs)(void *context, const char *path, struct statvfs *out);
    void *context; /* borrowed; passed to every function */
};

/* The real system calls (context unused). */
struct spool_io spool_io_system(void);

#endif
