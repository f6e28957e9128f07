/* The raw history meter-batch works on: every meter's readings (t ns, value), from InfluxDB
 * (batch/history.h) or from a CSV file in the fixtures' format (`meter_id,timestamp,value`).
 * Readings are collected in any order, then batch_readings_finish sorts the meters by id and each
 * meter's readings by time, and keeps the last of several readings with the same timestamp (as
 * the reference's drop_duplicates(keep="last") after its query sorted by time). */
#ifndef NEBENKOSTEN_BATCH_READINGS_H
#define NEBENKOSTEN_BATCH_READINGS_H

#include <stddef.h>
#include <stdint.h>

struct batch_reading {
    int64_t t_ns;
    double value;
};

struct batch_meter_readings {
    char *meter_id; /* owned */
    struct batch_reading *readings;
    size_t count, capacity;
};

struct batch_readings {
    struct batch_meter_readings *meters;
    size_t meter_count, meter_capacity;
    /* A small open-addressing index over meters, so adding a reading finds its meter in O(1). */
    uint32_t *index;
    size_t index_capacity;
    int finished;
};

/* Zero-initialise a struct batch_readings before the first add. */

/* Appends one reading of meter_id[0 .. id_length) (borrowed, need not be NUL-terminated).
 * Returns 0, or -1 with errno ENOMEM (or EINVAL for an empty id or a non-finite value). */
int batch_readings_add(struct batch_readings *readings, const char *meter_id, size_t id_length,
                       int64_t t_ns, double value);

/* Sorts the meters by id and each meter's readings by time (stable, so among equal timestamps the
 * one added last wins) and drops the duplicates. Idempotent. */
void batch_readings_finish(struct batch_readings *readings);

/* The meter's readings after finish, or NULL when it has none. Borrowed from readings. */
const struct batch_meter_readings *batch_readings_find(const struct batch_readings *readings,
                                                       const char *meter_id);

enum batch_readings_side { BATCH_READINGS_BEFORE, BATCH_READINGS_AFTER };

/* Leaves out of every meter (finishing readings first) the readings dated before limit_ns (side
 * BATCH_READINGS_BEFORE) or after it (BATCH_READINGS_AFTER); a meter that loses all of them keeps
 * its entry with none. Calls dropped (when not NULL) for each meter that lost some, with how many
 * and the earliest of them. Returns how many were left out in all. */
size_t batch_readings_drop(struct batch_readings *readings, enum batch_readings_side side,
                           int64_t limit_ns,
                           void (*dropped)(const struct batch_meter_readings *meter, size_t count,
                                           int64_t first_ns, void *argument),
                           void *argument);

/* Frees what readings owns and zeroes it. */
void batch_readings_free(struct batch_readings *readings);

/* Reads a CSV file `meter_id,timestamp,value` (header line required; timestamps
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM) or integer ns; empty lines ignored) into readings and
 * finishes it. Returns 0, or -1 with "FILE:LINE: what was expected" in error. */
int batch_readings_read_csv(const char *path, struct batch_readings *readings, char *error,
                            size_t error_size);

/* Parses an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)) or a plain date
 * YYYY-MM-DD (midnight UTC) in text[0 .. length) into ns since the epoch. Returns 0 or -1. */
int batch_timestamp_parse(const char *text, size_t length, int64_t *t_ns);

/* Writes t_ns as "YYYY-MM-DDTHH:MM:SSZ" (whole seconds, as the fixtures) into out. */
#define BATCH_TIMESTAMP_SIZE 32
void batch_timestamp_format(int64_t t_ns, char *out);

#endif
