#include "config/log.h"
#include "config/tz.h"
#include "config/utf8.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_FILE_MODE 0640

struct logger {
    enum log_level level;
    enum log_format format;
    char *path; /* NULL: stderr */
    uint64_t max_bytes;
    int backup_count;
    struct clock clock;
    int fd;
    uint64_t size; /* bytes in the file, as of the last line written */
    bool failure_reported;
    bool follow_failure_reported;
};

/* A growing line buffer; on allocation failure it stays marked failed and the line is dropped. */
struct log_buffer {
    char *data;
    size_t length, capacity;
    bool failed;
};

static void log_buffer_append(struct log_buffer *buffer, const char *data, size_t length)
{
    if (buffer->failed)
        return;
    if (buffer->length + length + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 256;
        while (buffer->length + length + 1 > capacity)
            capacity *= 2;
        char *bigger = realloc(buffer->data, capacity);
        if (!bigger) {
            buffer->failed = true;
            return;
        }
        buffer->data = bigger;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->length, data, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
}

static void log_buffer_append_string(struct log_buffer *buffer, const char *text)
{
    log_buffer_append(buffer, text, strlen(text));
}

static const char *const log_level_names[] = {"debug", "info", "warning", "error"};
static const char *const log_level_text_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

const char *log_level_name(enum log_level level)
{
    return level >= LOG_LEVEL_DEBUG && level <= LOG_LEVEL_ERROR ? log_level_names[level] : "error";
}

int log_level_parse(const char *text, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {
        {"debug", LOG_LEVEL_DEBUG},  {"info", LOG_LEVEL_INFO},   {"warning", LOG_LEVEL_WARNING},
        {"warn", LOG_LEVEL_WARNING}, {"error", LOG_LEVEL_ERROR}, {"critical", LOG_LEVEL_ERROR},
    };
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(text, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

/* "2026-11-26T17:56:21.123Z" */
static void log_timestamp_format(int64_t realtime_ns, char *out, size_t out_size)
{
    int64_t seconds = realtime_ns / 1000000000;
    int64_t nanoseconds = realtime_ns % 1000000000;
    if (nanoseconds < 0) {
        seconds--;
        nanoseconds += 1000000000;
    }
    int64_t days = seconds / 86400;
    int64_t second_of_day = seconds % 86400;
    if (second_of_day < 0) {
        days--;
        second_of_day += 86400;
    }
    int year, month, day;
    tz_civil_from_days(days, &year, &month, &day);
    snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, day,
             (int)(second_of_day / 3600), (int)(second_of_day / 60 % 60), (int)(second_of_day % 60),
             (int)(nanoseconds / 1000000));
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void log_number_format(double value, char *out, size_t out_size)
{
    snprintf(out, out_size, "%.15g", value);
    if (isfinite(value) && strtod(out, NULL) != value)
        snprintf(out, out_size, "%.17g", value);
}

/* Length of the well-formed UTF-8 character at text (NUL-terminated: strnlen keeps the check
 * within it), or 0 when the byte there starts none. */
static size_t log_utf8_sequence_length(const char *text)
{
    if ((unsigned char)text[0] < 0x80)
        return 1;
    return utf8_sequence_length(text, text + strnlen(text, 4));
}

/* Strings in log lines carry clients' bytes (a request's path, its headers): a JSON line must stay
 * UTF-8, or strict parsers refuse it and journalctl shows it only as "[blob data]". Returns text
 * itself when it is UTF-8, else a copy in *owned (the caller frees it) where each byte that is not
 * is replaced by U+FFFD, as Go's encoding/json does; NULL when out of memory. */
static const char *log_json_text(const char *text, char **owned)
{
    *owned = NULL;
    size_t length = 0, invalid = 0;
    while (text[length] != '\0') {
        size_t sequence = log_utf8_sequence_length(text + length);
        invalid += sequence == 0;
        length += sequence ? sequence : 1;
    }
    if (invalid == 0)
        return text;
    char *copy = malloc(length + 2 * invalid + 1);
    if (!copy)
        return NULL;
    size_t out = 0;
    for (size_t in = 0; in < length;) {
        size_t sequence = log_utf8_sequence_length(text + in);
        if (sequence == 0) {
            memcpy(copy + out, "\xef\xbf\xbd", 3);
            out += 3;
            in++;
        } else {
            memcpy(copy + out, text + in, sequence);
            out += sequence;
            in += sequence;
        }
    }
    copy[out] = '\0';
    *owned = copy;
    return copy;
}

/* One JSON object per line, built with cJSON; integers go in as raw text because a double would
 * round nanosecond timestamps. */
static void log_line_json(struct log_buffer *buffer, const char *timestamp, enum log_level level,
                          const char *message, const struct log_field *fields, size_t field_count)
{
    cJSON *root = cJSON_CreateObject();
    char *owned = NULL;
    const char *text = log_json_text(message ? message : "", &owned);
    bool ok = root && text && cJSON_AddStringToObject(root, "ts", timestamp) &&
              cJSON_AddStringToObject(root, "level", log_level_name(level)) &&
              cJSON_AddStringToObject(root, "msg", text);
    free(owned);
    for (size_t i = 0; ok && i < field_count; i++) {
        const struct log_field *field = &fields[i];
        const char *key = field->key ? field->key : "";
        char number[32];
        switch (field->type) {
        case LOG_FIELD_STRING:
            if (!field->value.string) {
                ok = cJSON_AddNullToObject(root, key) != NULL;
                break;
            }
            text = log_json_text(field->value.string, &owned);
            ok = text && cJSON_AddStringToObject(root, key, text) != NULL;
            free(owned);
            break;
        case LOG_FIELD_INTEGER:
            snprintf(number, sizeof number, "%" PRId64, field->value.integer);
            ok = cJSON_AddRawToObject(root, key, number) != NULL;
            break;
        case LOG_FIELD_NUMBER:
            if (isfinite(field->value.number)) {
                log_number_format(field->value.number, number, sizeof number);
                ok = cJSON_AddRawToObject(root, key, number) != NULL;
            } else {
                ok = cJSON_AddNullToObject(root, key) != NULL; /* JSON has no NaN or Infinity */
            }
            break;
        }
    }
    char *line = ok ? cJSON_PrintUnformatted(root) : NULL;
    if (line) {
        log_buffer_append_string(buffer, line);
        log_buffer_append(buffer, "\n", 1);
        cJSON_free(line);
    } else {
        buffer->failed = true;
    }
    cJSON_Delete(root);
}

/* How many bytes at p form one character of a text line, and whether they are written escaped:
 * control characters would split or garble the line, C1 controls (U+0080-U+009F) and bytes that
 * are not UTF-8 would reach the terminal of whoever reads it raw (U+009B starts an escape
 * sequence as ESC [ does). */
static size_t log_text_character(const char *p, bool *escaped)
{
    unsigned char c = (unsigned char)*p;
    size_t length = log_utf8_sequence_length(p);
    if (length == 0) {
        *escaped = true;
        return 1;
    }
    *escaped = c < 0x20 || c == 0x7f || (c == 0xc2 && (unsigned char)p[1] < 0xa0);
    return length;
}

static void log_text_escaped_append(struct log_buffer *buffer, const char *text, bool quote)
{
    for (const char *p = text; *p;) {
        char c = *p;
        char escape[8];
        bool escaped;
        size_t length = log_text_character(p, &escaped);
        if (c == '\n')
            log_buffer_append(buffer, "\\n", 2);
        else if (c == '\r')
            log_buffer_append(buffer, "\\r", 2);
        else if (c == '\t')
            log_buffer_append(buffer, "\\t", 2);
        else if (quote && (c == '"' || c == '\\')) {
            escape[0] = '\\';
            escape[1] = c;
            log_buffer_append(buffer, escape, 2);
        } else if (escaped) {
            for (size_t i = 0; i < length; i++) {
                snprintf(escape, sizeof escape, "\\x%02x", (unsigned char)p[i]);
                log_buffer_append_string(buffer, escape);
            }
        } else {
            log_buffer_append(buffer, p, length);
        }
        p += length;
    }
}

static void log_text_value_append(struct log_buffer *buffer, const char *value)
{
    bool quote = value[0] == '\0';
    for (const char *p = value; *p && !quote;) {
        bool escaped;
        size_t length = log_text_character(p, &escaped);
        quote = *p == ' ' || *p == '"' || *p == '=' || *p == '\\' || escaped;
        p += length;
    }
    if (quote)
        log_buffer_append(buffer, "\"", 1);
    log_text_escaped_append(buffer, value, quote);
    if (quote)
        log_buffer_append(buffer, "\"", 1);
}

/* "2026-11-26T17:56:21.123Z INFO message key=value key=\"two words\"" */
static void log_line_text(struct log_buffer *buffer, const char *timestamp, enum log_level level,
                          const char *message, const struct log_field *fields, size_t field_count)
{
    log_buffer_append_string(buffer, timestamp);
    log_buffer_append(buffer, " ", 1);
    log_buffer_append_string(buffer, log_level_text_names[level]);
    log_buffer_append(buffer, " ", 1);
    log_text_escaped_append(buffer, message ? message : "", false);
    for (size_t i = 0; i < field_count; i++) {
        const struct log_field *field = &fields[i];
        char number[32];
        log_buffer_append(buffer, " ", 1);
        log_text_escaped_append(buffer, field->key ? field->key : "", false);
        log_buffer_append(buffer, "=", 1);
        switch (field->type) {
        case LOG_FIELD_STRING:
            log_text_value_append(buffer, field->value.string ? field->value.string : "(null)");
            break;
        case LOG_FIELD_INTEGER:
            snprintf(number, sizeof number, "%" PRId64, field->value.integer);
            log_buffer_append_string(buffer, number);
            break;
        case LOG_FIELD_NUMBER:
            log_number_format(field->value.number, number, sizeof number);
            log_buffer_append_string(buffer, number);
            break;
        }
    }
    log_buffer_append(buffer, "\n", 1);
}

static int log_fd_write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += written;
        length -= (size_t)written;
    }
    return 0;
}

/* Tells the operator once (per run of failures) that log lines are being lost. */
static void log_failure_report(struct logger *logger, const char *what, int error_number)
{
    if (logger->failure_reported)
        return;
    logger->failure_reported = true;
    char line[PATH_MAX + 256];
    int length =
        snprintf(line, sizeof line, "log: %s %s: %s; log lines may be lost until this is fixed\n",
                 what, logger->path ? logger->path : "stderr", strerror(error_number));
    if (length > 0 && logger->fd != STDERR_FILENO &&
        log_fd_write_all(STDERR_FILENO, line, (size_t)length) < 0) {
        /* stderr is gone as well: there is nobody left to tell. */
    }
}

static int log_file_open(const char *path, bool truncate, uint64_t *size)
{
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | (truncate ? O_TRUNC : 0);
    int fd = open(path, flags, LOG_FILE_MODE);
    if (fd < 0)
        return -1;
    struct stat status;
    if (fstat(fd, &status) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    *size = (uint64_t)status.st_size;
    return fd;
}

/* Replaces the logger's descriptor with fd, reporting (not failing on) a close error. */
static void log_fd_replace(struct logger *logger, int fd, uint64_t size)
{
    int old = logger->fd;
    logger->fd = fd;
    logger->size = size;
    if (old >= 0 && old != STDERR_FILENO && close(old) < 0)
        log_failure_report(logger, "cannot close", errno);
}

/* file -> file.1 -> ... -> file.N, the oldest dropped (renamed over). */
static void log_rotate(struct logger *logger)
{
    char from[PATH_MAX + 16], to[PATH_MAX + 16];
    for (int i = logger->backup_count; i >= 1; i--) {
        if (i == 1)
            snprintf(from, sizeof from, "%s", logger->path);
        else
            snprintf(from, sizeof from, "%s.%d", logger->path, i - 1);
        snprintf(to, sizeof to, "%s.%d", logger->path, i);
        if (rename(from, to) < 0 && errno != ENOENT) {
            log_failure_report(logger, "cannot rotate", errno);
            return;
        }
    }
    uint64_t size = 0;
    int fd = log_file_open(logger->path, logger->backup_count == 0, &size);
    if (fd < 0) {
        log_failure_report(logger, "cannot open after rotating", errno);
        return;
    }
    log_fd_replace(logger, fd, size);
}

/* The relay and the meter-batch runs it starts (or systemd's timers start) share logging.file,
 * and each rotates it at max_bytes: after another process rotated, the path names a new file and
 * this descriptor the renamed one, which would take this process's lines until it was rotated
 * away. So before each line the path is looked up again and reopened when it names another file
 * (or none: deleted), as Python's WatchedFileHandler does, and the size that decides rotation is
 * the file's, which every process appends to. A stat and an fstat per line: lines are few. */
static void log_file_follow(struct logger *logger)
{
    struct stat at_path, open_file;
    if (fstat(logger->fd, &open_file) < 0)
        return;
    if (stat(logger->path, &at_path) == 0 && at_path.st_dev == open_file.st_dev &&
        at_path.st_ino == open_file.st_ino) {
        logger->size = (uint64_t)open_file.st_size;
        logger->follow_failure_reported = false;
        return;
    }
    uint64_t size = 0;
    int fd = log_file_open(logger->path, false, &size);
    if (fd < 0) {
        /* Keeps writing to the file it has; said once, not per line. */
        if (!logger->follow_failure_reported)
            log_failure_report(logger, "cannot reopen", errno);
        logger->follow_failure_reported = true;
        return;
    }
    log_fd_replace(logger, fd, size);
    logger->follow_failure_reported = false;
}

struct logger *log_open(const struct log_options *options, const struct clock *clock, char *error,
                        size_t error_size)
{
    struct logger *logger = calloc(1, sizeof *logger);
    if (!logger) {
        snprintf(error, error_size, "log: out of memory");
        return NULL;
    }
    logger->level = options->level;
    logger->format = options->format;
    logger->max_bytes = options->max_bytes;
    logger->backup_count = options->backup_count > 0 ? options->backup_count : 0;
    logger->clock = clock ? *clock : clock_system();
    logger->fd = STDERR_FILENO;
    if (options->file && options->file[0] != '\0') {
        if (strlen(options->file) >= PATH_MAX) {
            snprintf(error, error_size, "log file %.64s...: path too long", options->file);
            free(logger);
            return NULL;
        }
        logger->path = strdup(options->file);
        if (!logger->path) {
            snprintf(error, error_size, "log: out of memory");
            free(logger);
            return NULL;
        }
        logger->fd = log_file_open(logger->path, false, &logger->size);
        if (logger->fd < 0) {
            snprintf(error, error_size,
                     "cannot open log file %s: %s (check logging.file: its directory must exist "
                     "and be writable)",
                     logger->path, strerror(errno));
            free(logger->path);
            free(logger);
            return NULL;
        }
    }
    return logger;
}

void log_close(struct logger *logger)
{
    if (!logger)
        return;
    log_fd_replace(logger, -1, 0);
    free(logger->path);
    free(logger);
}

int log_reopen(struct logger *logger)
{
    if (!logger || !logger->path)
        return 0;
    uint64_t size = 0;
    int fd = log_file_open(logger->path, false, &size);
    if (fd < 0) {
        log_failure_report(logger, "cannot reopen", errno);
        return -1;
    }
    log_fd_replace(logger, fd, size);
    logger->failure_reported = false;
    return 0;
}

void log_write(struct logger *logger, enum log_level level, const char *message,
               const struct log_field *fields, size_t field_count)
{
    if (level < LOG_LEVEL_DEBUG || level > LOG_LEVEL_ERROR)
        level = LOG_LEVEL_ERROR;
    if (logger && level < logger->level)
        return;
    struct clock system = clock_system();
    const struct clock *clock = logger ? &logger->clock : &system;
    char timestamp[40];
    log_timestamp_format(clock_realtime_ns(clock), timestamp, sizeof timestamp);
    struct log_buffer buffer = {0};
    if (logger && logger->format == LOG_FORMAT_TEXT)
        log_line_text(&buffer, timestamp, level, message, fields, field_count);
    else
        log_line_json(&buffer, timestamp, level, message, fields, field_count);
    if (buffer.failed) {
        if (logger)
            log_failure_report(logger, "out of memory formatting a line for", ENOMEM);
        free(buffer.data);
        return;
    }
    if (!logger) {
        if (log_fd_write_all(STDERR_FILENO, buffer.data, buffer.length) < 0) {
            /* No logger, no other place to report to. */
        }
        free(buffer.data);
        return;
    }
    if (logger->path)
        log_file_follow(logger);
    if (logger->path && logger->max_bytes > 0 && logger->size > 0 &&
        logger->size + buffer.length > logger->max_bytes)
        log_rotate(logger);
    if (log_fd_write_all(logger->fd, buffer.data, buffer.length) < 0) {
        log_failure_report(logger, "cannot write to", errno);
    } else {
        logger->size += buffer.length;
        logger->failure_reported = false;
    }
    free(buffer.data);
}

void log_event(struct logger *logger, enum log_level level, const char *message, ...)
{
    struct log_field fields[LOG_EVENT_MAX_FIELDS];
    size_t count = 0;
    va_list arguments;
    va_start(arguments, message);
    while (count < LOG_EVENT_MAX_FIELDS) {
        struct log_field field = va_arg(arguments, struct log_field);
        if (!field.key)
            break;
        fields[count++] = field;
    }
    va_end(arguments);
    log_write(logger, level, message, fields, count);
}
