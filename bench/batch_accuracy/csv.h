/* The few CSV and time helpers bench-batch-accuracy needs: UTC timestamps as the fixtures write
 * them
 * (`YYYY-MM-DDTHH:MM:SSZ`), and a reader of simple CSV files (no quoting: meter ids, timestamps,
 * numbers and words). */
#ifndef NEBENKOSTEN_BENCH_BATCH_ACCURACY_CSV_H
#define NEBENKOSTEN_BENCH_BATCH_ACCURACY_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ACCURACY_CSV_MAX_FIELDS 16
#define ACCURACY_TIMESTAMP_SIZE 21 /* "2024-12-31T00:00:00Z" and its NUL */
#define ACCURACY_DATE_SIZE 11      /* "2024-12-31" and its NUL */

/* Writes seconds since 1970 (UTC) as YYYY-MM-DDTHH:MM:SSZ into out. */
void accuracy_timestamp_format(int64_t seconds, char out[ACCURACY_TIMESTAMP_SIZE]);
/* Writes a day (days since 1970) as YYYY-MM-DD into out. */
void accuracy_date_format(int64_t day, char out[ACCURACY_DATE_SIZE]);
/* Parses YYYY-MM-DDTHH:MM:SSZ (text is NUL-terminated, borrowed). Returns 0, or -1 when text is
 * anything else. */
int accuracy_timestamp_parse(const char *text, int64_t *seconds);
/* Parses YYYY-MM-DD into days since 1970. Returns 0, or -1. */
int accuracy_date_parse(const char *text, int64_t *day);
/* Writes units x 10^-decimals as an exact decimal ("12.340" for 12340 and 3) into out. */
void accuracy_units_format(int64_t units, int decimals, char *out, size_t size);

struct accuracy_csv {
    FILE *file;
    char *path; /* owned copy, for messages */
    char *line; /* owned; fields point into it */
    size_t line_capacity;
    unsigned long line_number;
    char *fields[ACCURACY_CSV_MAX_FIELDS];
    size_t field_count;
};

/* Opens path (borrowed) and checks that its first line is header (borrowed). Returns 0, or -1
 * after printing to stderr what is wrong (the file, and the header it has and wants). */
int accuracy_csv_open(struct accuracy_csv *csv, const char *path, const char *header);
/* Reads the next row into csv->fields (borrowed until the next call). Returns 1 for a row, 0 at
 * the end, -1 after printing a read error. */
int accuracy_csv_next(struct accuracy_csv *csv);
/* Prints "path:line: message" to stderr; returns -1 for the caller to pass on. */
int accuracy_csv_error(const struct accuracy_csv *csv, const char *message);
void accuracy_csv_close(struct accuracy_csv *csv);

/* Writes dir/name into out. Returns 0, or -1 after printing that the path is too long. */
int accuracy_path_join(char *out, size_t size, const char *dir, const char *name);

/* Parses a field as a double (strtod; "nan" and "inf" too). Returns 0, or -1. */
int accuracy_field_double(const char *field, double *value);

#endif
