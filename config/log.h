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
    const char *file;   /* borrowed; NULL or "" = stderr */
    uint64_t max_bytes; /* rotate when the file would grow past this; 0 = never */
    int backup_count;   /* keep file.1 .. file.N (newest is .1); 0 = start the file afresh */
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
#define LOG_STRING(k, v)                                                                           \
    ((struct log_field){.key = (k), .type = LOG_FIELD_STRING, .value.string = (v)})
#define LOG_INTEGER(k, v)                                                                          \
    ((struct log_field){.key = (k), .type = LOG_FIELD_INTEGER, .value.integer = (v)})
#define LOG_NUMBER(k, v)                                                                           \
    ((struct log_field){.key = (k), .type = LOG_FIELD_NUMBER, .value.number = (v)})
/* Ends the field list of log_event; the macros below add it. */
#define LOG_END ((struct log_field){.key = NULL})

struct logger;

/* Opens a logger. options (with the file name) and *clock are copied; clock->context is borrowed
 * and must outlive the logger; a NULL clock means clock_system(). The file is opened O_APPEND
 * (created with mode 0640); rotation renames file -> file.1 -> ... -> file.N before a line that
 * would take the file past max_bytes. Several processes may share the file: each line goes to
 * the file the path names at that moment (reopened after another process or logrotate moved it).
 * Returns an owned logger or NULL with a message in error (e.g. the
 * log file cannot be opened). */
struct logger *log_open(const struct log_options *options, const struct clock *clock, char *error,
                        size_t error_size);
/* Closes the file and frees logger (owned; NULL is fine). */
void log_close(struct logger *logger);
/* Reopens the log file now (after logrotate moved it, the next line would; call it from the
 * SIGUSR1 handler's event, not from the signal handler itself). Returns 0 (also for stderr) or -1
 * (and keeps the old handle). */
int log_reopen(struct logger *logger);
/* "debug", "info", "warning" (or "warn"), "error", in any case (Python's "INFO" works; so does
 * "critical", read as error). Returns 0, or -1 leaving *out alone. text borrowed. */
int log_level_parse(const char *text, enum log_level *out);
/* "debug", "info", "warning", "error": a static string. */
const char *log_level_name(enum log_level level);

/* Writes one line when level is at or above the logger's level. fields are borrowed. A NULL
 * logger writes JSON at every level to stderr, so code paths before configuration still log.
 * A failed write is reported once on stderr and otherwise ignored: logging never stops the
 * program. The line is written with one write(2), so lines of processes sharing a file (O_APPEND)
 * do not interleave. */
void log_write(struct logger *logger, enum log_level level, const char *message,
               const struct log_field *fields, size_t field_count);

/* log_write with the fields as arguments: struct log_field values (LOG_STRING, LOG_INTEGER,
 * LOG_NUMBER) ended by LOG_END; at most LOG_EVENT_MAX_FIELDS are written. Everything is borrowed.
 * Prefer the macros, which add LOG_END:
 *     log_info(logger, "upstream is back", LOG_STRING("upstream", name), LOG_INTEGER("lag", n));
 *     log_error(logger, "spool is full");  */
#define LOG_EVENT_MAX_FIELDS 32
void log_event(struct logger *logger, enum log_level level, const char *message, ...);
#define log_debug(logger, ...) log_event((logger), LOG_LEVEL_DEBUG, __VA_ARGS__, LOG_END)
#define log_info(logger, ...) log_event((logger), LOG_LEVEL_INFO, __VA_ARGS__, LOG_END)
#define log_warning(logger, ...) log_event((logger), LOG_LEVEL_WARNING, __VA_ARGS__, LOG_END)
#define log_error(logger, ...) log_event((logger), LOG_LEVEL_ERROR, __VA_ARGS__, LOG_END)

#endif
