/* Structured logging: one JSON object per line ({"ts":..,"level":..,"msg":..,<context>}) or
 * `key=value` text for humans; to stderr or a file with size-based rotation. */
#ifndef NEBENKOSTEN_CONFIG_LOG_H
#define NEBENKOSTEN_CONFIG_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "config/clock.h"

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARNING, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_JSON, LOG_FORMAT_TEXT };

struct log_options {
    enum log_level level;
    enum log_format format;
    const char *file;      /* borrowed; NULL or "" = stderr */
    uint64_t max_bytes;    /* rotate when the file would grow past this; 0 = never */
    int backup_count;      /* keep file.1 .. file.N */
};

/* One context value of a log line. */
struct log_field {
    const char *key;
    enum { LOG_FIELD_STRING, LOG_FIELD_INTEGER, LOG_FIELD_NUMBER } type;
    union {
        const char *string;
        int64_t integer;
        double number;
    } value;
};
#define LOG_STRING(k, v) ((struct log_field){.key = (k), .type = LOG_FIELD_STRING, .value.string = (v)})
#define LOG_INTEGER(k, v) ((struct log_field){.key = (k), .type = LOG_FIELD_INTEGER, .value.integer = (v)})
#define LOG_NUMBER(k, v) ((struct log_field){.key = (k), .type = LOG_FIELD_NUMBER, .value.number = (v)})

struct logger;

/* Opens a logger. options and clock are copied/borrowed: clock must outlive the logger. Returns an
 * owned logger or NULL with a message in error (e.g. the log file cannot be opened). */
struct logger *log_open(const struct log_options *options, const struct clock *clock, char *error,
                        size_t error_size);
void log_close(struct logger *logger);
/* Reopens the log file (after logrotate moved it). Returns 0 or -1 (and keeps the old handle). */
int log_reopen(struct logger *logger);
int log_level_parse(const char *text, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Writes one line when level is at or above the logger's level. fields are borrowed. A NULL
 * logger writes JSON at every level to stderr, so code paths before configuration still log. */
void log_write(struct logger *logger, enum log_level level, const char *message,
               const struct log_field *fields, size_t field_count);

#endif
