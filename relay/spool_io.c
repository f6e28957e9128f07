#include "relay/spool_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int system_open(void *context, const char *path, int flags, mode_t mode)
{
    (void)context;
    return open(path, flags | O_CLOEXEC, mode);
}

static int system_close(void *context, int fd)
{
    (void)context;
    return close(fd);
}

static ssize_t system_pwritev(void *context, int fd, const struct iovec *iov, int iov_count,
                              off_t offset)
{
    (void)context;
    return pwritev(fd, iov, iov_count, offset);
}

static ssize_t system_pread(void *context, int fd, void *buffer, size_t length, off_t offset)
{
    (void)context;
    return pread(fd, buffer, length, offset);
}

static int system_fdatasync(void *context, int fd)
{
    (void)context;
    return fdatasync(fd);
}

static int system_fsync(void *context, int fd)
{
    (void)context;
    return fsync(fd);
}

static int system_ftruncate(void *context, int fd, off_t length)
{
    (void)context;
    return ftruncate(fd, length);
}

static int system_fallocate(void *context, int fd, off_t offset, off_t length)
{
    (void)context;
    int result = posix_fallocate(fd, offset, length);
    if (result != 0) {
        errno = result;
        return -1;
    }
    return 0;
}

static int system_fstat(void *context, int fd, struct stat *out)
{
    (void)context;
    return fstat(fd, out);
}

static int system_rename(void *context, const char *from, const char *to)
{
    (void)context;
    return rename(from, to);
}

static int system_unlink(void *context, const char *path)
{
    (void)context;
    return unlink(path);
}

static int system_statvfs(void *context, const char *path, struct statvfs *out)
{
    (void)context;
    return statvfs(path, out);
}

struct spool_io spool_io_system(void)
{
    return (struct spool_io){
        .open = system_open,
        .close = system_close,
        .pwritev = system_pwritev,
        .pread = system_pread,
        .fdatasync = system_fdatasync,
        .fsync = system_fsync,
        .ftruncate = system_ftruncate,
        .fallocate = system_fallocate,
        .fstat = system_fstat,
        .rename = system_rename,
        .unlink = system_unlink,
        .statvfs = system_statvfs,
        .context = NULL,
    };
}
