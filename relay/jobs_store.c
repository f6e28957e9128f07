/* The files of the batch jobs in <relay.spool.dir>/jobs/: state.json, the run records, logs and
 * reports (relay/jobs.h). Everything the relay writes there is replaced atomically, so a crash
 * leaves the previous version or the new one. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/error.h"
#include "relay/jobs.h"

/* Run records and the state file are a few hundred bytes; anything far larger is not ours. */
#define JOBS_RECORD_MAX_BYTES (64 * 1024)
#define JOBS_PATH_SIZE 4096
#define JOBS_RECORD_SUFFIX ".run.json"

/* Reads all of path (at most max_bytes) into an owned NUL-terminated buffer. Returns NULL with
 * errno set (EFBIG when larger). */
static char *jobs_file_read(const char *path, size_t max_bytes, size_t *length)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat status;
    char *data = NULL;
    int code = 0;
    if (fstat(fd, &status) != 0) {
        code = errno;
        goto cleanup;
    }
    if ((uint64_t)status.st_size > max_bytes) {
        code = EFBIG;
        goto cleanup;
    }
    size_t size = (size_t)status.st_size;
    if (!(data = malloc(size + 1))) {
        code = ENOMEM;
        goto cleanup;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t got = read(fd, data + done, size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            code = got < 0 ? errno : EIO;
            break;
        }
        done += (size_t)got;
    }
    data[done] = '\0';
    *length = done;
cleanup:
    close(fd);
    if (code != 0) {
        free(data);
        errno = code;
        return NULL;
    }
    return data;
}

static int jobs_directory_sync(const char *path, char *error, size_t error_size)
{
    char directory[JOBS_PATH_SIZE];
    const char *slash = strrchr(path, '/');
    snprintf(directory, sizeof directory, "%.*s", slash ? (int)(slash - path) : 1,
             slash ? path : ".");
    if (directory[0] == '\0')
        snprintf(directory, sizeof directory, "/");
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int code = errno;
        if (fd >= 0)
            close(fd);
        error_message_set(error, error_size, "%s: cannot sync the directory: %s", directory,
                          strerror(code));
        return -1;
    }
    if (close(fd) != 0) {
        error_message_set(error, error_size, "%s: cannot close the directory: %s", directory,
                          strerror(errno));
        return -1;
    }
    return 0;
}

int jobs_file_replace(const char *path, const char *data, size_t length, char *error,
                      size_t error_size)
{
    char temporary[JOBS_PATH_SIZE];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", path) >= (int)sizeof temporary) {
        error_message_set(error, error_size, "%s: path too long", path);
        return -1;
    }
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        error_message_set(error, error_size, "%s: cannot create: %s", temporary, strerror(errno));
        return -1;
    }
    int code = 0;
    for (size_t done = 0; done < length && code == 0;) {
        ssize_t written = write(fd, data + done, length - done);
        if (written > 0)
            done += (size_t)written;
        else if (written == 0 || errno != EINTR)
            code = written == 0 ? EIO : errno;
    }
    if (code == 0 && fsync(fd) != 0)
        code = errno;
    if (close(fd) != 0 && code == 0)
        code = errno;
    if (code == 0 && rename(temporary, path) != 0)
        code = errno;
    if (code != 0) {
        error_message_set(error, error_size, "%s: cannot write: %s (is the disk full?)", path,
                          strerror(code));
        (void)unlink(temporary); /* best effort: the next write truncates it anyway */
        return -1;
    }
    return jobs_directory_sync(path, error, error_size);
}

int jobs_state_read(const char *path, struct jobs_state *state, char *error, size_t error_size)
{
    for (int kind = 0; kind < JOB_KIND_COUNT; kind++)
        state->last_fire[kind] = -1;
    size_t length = 0;
    char *data = jobs_file_read(path, JOBS_RECORD_MAX_BYTES, &length);
    if (!data) {
        if (errno == ENOENT)
            return 1;
        error_message_set(error, error_size, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(data, length);
    free(data);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        error_message_set(error, error_size,
                          "%s: not a JSON object; delete it to start the schedule afresh", path);
        return -1;
    }
    int status = 0;
    for (int kind = 0; kind < JOB_KIND_COUNT && status == 0; kind++) {
        const cJSON *job = cJSON_GetObjectItemCaseSensitive(root, job_kind_name(kind));
        if (!job)
            continue;
        const cJSON *fire = cJSON_GetObjectItemCaseSensitive(job, "last_fire");
        int64_t ns = 0;
        if (cJSON_IsNull(fire))
            continue;
        if (!cJSON_IsString(fire) || jobs_time_parse(fire->valuestring, &ns) != 0) {
            error_message_set(error, error_size,
                              "%s: %s.last_fire is not a time such as "
                              "\"2024-01-15T02:00:00.000Z\"; correct or delete the file",
                              path, job_kind_name(kind));
            status = -1;
            break;
        }
        state->last_fire[kind] = ns / 1000000000;
    }
    cJSON_Delete(root);
    return status;
}

int jobs_state_write(const char *path, const struct jobs_state *state, char *error,
                     size_t error_size)
{
    cJSON *root = cJSON_CreateObject();
    for (int kind = 0; root && kind < JOB_KIND_COUNT; kind++) {
        cJSON *job = cJSON_AddObjectToObject(root, job_kind_name(kind));
        if (!job)
            break;
        if (state->last_fire[kind] < 0) {
            cJSON_AddNullToObject(job, "last_fire");
            continue;
        }
        char text[JOB_TIME_SIZE];
        jobs_time_format(state->last_fire[kind] * 1000000000, text, sizeof text);
        cJSON_AddStringToObject(job, "last_fire", text);
    }
    char *data = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!data) {
        error_message_set(error, error_size, "%s: out of memory", path);
        return -1;
    }
    int status = jobs_file_replace(path, data, strlen(data), error, error_size);
    cJSON_free(data);
    return status;
}

int jobs_run_record_write(const char *directory, const struct job_run *run, char *error,
                          size_t error_size)
{
    char path[JOBS_PATH_SIZE];
    snprintf(path, sizeof path, "%s/%s" JOBS_RECORD_SUFFIX, directory, run->id);
    cJSON *object = jobs_run_json(run, 0);
    char *data = object ? cJSON_Print(object) : NULL;
    cJSON_Delete(object);
    if (!data) {
        error_message_set(error, error_size, "%s: out of memory", path);
        return -1;
    }
    int status = jobs_file_replace(path, data, strlen(data), error, error_size);
    cJSON_free(data);
    return status;
}

void jobs_runs_free(struct job_run **runs, size_t count)
{
    for (size_t i = 0; runs && i < count; i++)
        free(runs[i]);
    free(runs);
}

/* Newest first; equal start times by id, so the order is stable across loads. */
static int jobs_run_compare(const void *a, const void *b)
{
    const struct job_run *left = *(struct job_run *const *)a;
    const struct job_run *right = *(struct job_run *const *)b;
    if (left->started_ns != right->started_ns)
        return left->started_ns > right->started_ns ? -1 : 1;
    return -strcmp(left->id, right->id);
}

/* Reads the record file name in directory into a new run; NULL when it is damaged. */
static struct job_run *jobs_record_load(const char *directory, const char *name)
{
    char path[JOBS_PATH_SIZE];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    size_t length = 0;
    char *data = jobs_file_read(path, JOBS_RECORD_MAX_BYTES, &length);
    cJSON *object = data ? cJSON_ParseWithLength(data, length) : NULL;
    free(data);
    struct job_run *run = malloc(sizeof *run);
    size_t id_length = strlen(name) - strlen(JOBS_RECORD_SUFFIX);
    if (!run || !object || jobs_run_from_json(object, run) != 0 || strlen(run->id) != id_length ||
        memcmp(run->id, name, id_length) != 0) {
        free(run);
        cJSON_Delete(object);
        return NULL;
    }
    cJSON_Delete(object);
    if (run->status == JOB_STATUS_RUNNING) {
        /* The relay that started it died without seeing it end. */
        run->status = JOB_STATUS_INTERRUPTED;
        run->pid = 0;
    }
    return run;
}

int jobs_runs_load(const char *directory, struct job_run ***runs, size_t *count, size_t *skipped,
                   char *error, size_t error_size)
{
    *runs = NULL;
    *count = 0;
    *skipped = 0;
    DIR *stream = opendir(directory);
    if (!stream) {
        error_message_set(error, error_size, "%s: cannot list: %s", directory, strerror(errno));
        return -1;
    }
    struct job_run **list = NULL;
    size_t used = 0, capacity = 0;
    int status = 0;
    struct dirent *entry;
    while ((entry = readdir(stream))) {
        size_t length = strlen(entry->d_name);
        size_t suffix = strlen(JOBS_RECORD_SUFFIX);
        if (length <= suffix || strcmp(entry->d_name + length - suffix, JOBS_RECORD_SUFFIX) != 0)
            continue;
        struct job_run *run = jobs_record_load(directory, entry->d_name);
        if (!run) {
            (*skipped)++;
            continue;
        }
        if (used == capacity) {
            size_t grown = capacity ? capacity * 2 : 32;
            struct job_run **bigger = realloc(list, grown * sizeof *bigger);
            if (!bigger) {
                free(run);
                error_message_set(error, error_size, "out of memory loading the job runs");
                status = -1;
                break;
            }
            list = bigger;
            capacity = grown;
        }
        list[used++] = run;
    }
    closedir(stream);
    if (status != 0) {
        jobs_runs_free(list, used);
        return -1;
    }
    if (used > 1)
        qsort(list, used, sizeof *list, jobs_run_compare);
    *runs = list;
    *count = used;
    return 0;
}

int jobs_run_files_remove(const char *directory, const char *id, char *error, size_t error_size)
{
    DIR *stream = opendir(directory);
    if (!stream) {
        error_message_set(error, error_size, "%s: cannot list: %s", directory, strerror(errno));
        return -1;
    }
    size_t id_length = strlen(id);
    int status = 0;
    struct dirent *entry;
    while ((entry = readdir(stream))) {
        /* "<id>." and nothing else: "reconcile-...Z-2.log" is not a file of "reconcile-...Z". */
        if (strncmp(entry->d_name, id, id_length) != 0 || entry->d_name[id_length] != '.')
            continue;
        char path[JOBS_PATH_SIZE];
        snprintf(path, sizeof path, "%s/%s", directory, entry->d_name);
        if (unlink(path) != 0 && errno != ENOENT) {
            error_message_set(error, error_size, "%s: cannot delete: %s", path, strerror(errno));
            status = -1;
        }
    }
    closedir(stream);
    return status;
}

/* Length of the valid UTF-8 sequence at text (available bytes), or 0 when it is not one. */
static size_t jobs_utf8_sequence(const unsigned char *text, size_t available)
{
    unsigned char c = text[0];
    size_t length = c < 0x80                 ? 1
                    : c >= 0xc2 && c <= 0xdf ? 2
                    : (c & 0xf0) == 0xe0     ? 3
                    : c >= 0xf0 && c <= 0xf4 ? 4
                                             : 0;
    if (length == 0 || length > available)
        return 0;
    for (size_t i = 1; i < length; i++)
        if ((text[i] & 0xc0) != 0x80)
            return 0;
    /* Overlong three-byte forms, surrogates and code points above U+10FFFF. */
    if ((c == 0xe0 && text[1] < 0xa0) || (c == 0xed && text[1] >= 0xa0) ||
        (c == 0xf0 && text[1] < 0x90) || (c == 0xf4 && text[1] >= 0x90))
        return 0;
    return length;
}

char *jobs_log_tail_read(const char *path, size_t max_bytes, size_t *length, uint64_t *total)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat status;
    if (fstat(fd, &status) != 0) {
        int code = errno;
        close(fd);
        errno = code;
        return NULL;
    }
    uint64_t size = (uint64_t)status.st_size;
    uint64_t start = size > max_bytes ? size - max_bytes : 0;
    size_t wanted = (size_t)(size - start);
    char *text = malloc(wanted + 1);
    size_t done = 0;
    while (text && done < wanted) {
        ssize_t got = pread(fd, text + done, wanted - done, (off_t)(start + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* the child may still be writing: what was there is enough */
        done += (size_t)got;
    }
    close(fd);
    if (!text) {
        errno = ENOMEM;
        return NULL;
    }
    size_t from = 0;
    if (start > 0) {
        /* Cut at a line start, unless one line fills the whole tail. */
        char *newline = memchr(text, '\n', done);
        if (newline && (size_t)(newline - text) + 1 < done)
            from = (size_t)(newline - text) + 1;
    }
    /* JSON answers need valid UTF-8: anything else (and NUL) becomes '?'. */
    size_t out = 0;
    for (size_t at = from; at < done;) {
        size_t sequence = jobs_utf8_sequence((unsigned char *)text + at, done - at);
        if (sequence == 0 || text[at] == '\0') {
            text[out++] = '?';
            at++;
            continue;
        }
        memmove(text + out, text + at, sequence);
        out += sequence;
        at += sequence;
    }
    text[out] = '\0';
    *length = out;
    *total = size;
    return text;
}

cJSON *jobs_report_read(const char *path, size_t max_bytes, const char **problem)
{
    *problem = NULL;
    size_t length = 0;
    char *data = jobs_file_read(path, max_bytes, &length);
    if (!data) {
        if (errno == EFBIG)
            *problem = "the report is too large to show; read the file";
        else if (errno != ENOENT)
            *problem = "the report cannot be read";
        return NULL;
    }
    cJSON *report = cJSON_ParseWithLength(data, length);
    free(data);
    if (!report)
        *problem = "the report is not JSON";
    return report;
}
