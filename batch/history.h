/* The raw history meter-batch works on, read from InfluxDB: every meter's readings in the raw
 * bucket (config->influxdb.bucket_raw) of config->influxdb, chosen by the reading rules
 * (config->stream.readings[], as the stream processor applies them: measurement glob, tag
 * equalities, id_tag, field; the default is Home Assistant's domain=input_number, entity_id,
 * value).
 *
 * One streamed query per rule, every meter at once: v1 InfluxQL
 *     SELECT "value" FROM /^.*$/ WHERE "domain"='input_number' AND time >= SINCE GROUP BY
 * "entity_id" v2 Flux from(bucket: "lampfi") |> range(start: time(v: SINCE), stop: ...) |>
 * filter(fn: (r) => ...)
 *     |> keep(columns: ["_time", "_value", "entity_id"])
 * The result equals the reference pipeline's (distinct entity_id among points with
 * domain=input_number and field value, each meter's history sorted by time, of several readings
 * with the same timestamp the last kept): batch_readings_finish sorts and drops the duplicates.
 * Only numbers count (float, integer, unsigned); string and boolean values are counted and left
 * out, like points without the id tag, and each meter that had any is named in a warning (with
 * how many and the first time). When rules overlap, a point matched by several of them
 * under the same meter id counts once, as the first rule's reading, as in the stream (the rules
 * are queried last to first, and of readings with the same meter and timestamp the one added last
 * wins). */
#ifndef NEBENKOSTEN_BATCH_HISTORY_H
#define NEBENKOSTEN_BATCH_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "batch/readings.h"
#include "config/config.h"
#include "config/log.h"
#include "relay/buffer.h"

/* since_ns for the whole history. */
#define BATCH_HISTORY_ALL INT64_MIN

struct batch_history_counts {
    uint64_t points;      /* numeric readings read (duplicates included) */
    uint64_t duplicates;  /* readings dropped as a meter's second reading of the same instant */
    uint64_t not_numeric; /* string or boolean values left out */
    uint64_t without_id;  /* points without (or with an empty) id tag, left out */
    uint64_t queries;     /* queries run (one per rule) */
    uint64_t requests;    /* HTTP requests, retries included */
    size_t meters;        /* meters in readings afterwards */
};

/* Reads every reading at or after since_ns (BATCH_HISTORY_ALL: all) into readings (borrowed,
 * zero-initialised or holding readings already) and finishes it. config is borrowed; logger
 * (borrowed, may be NULL) gets the retries, one line per query and the warnings about values
 * that are not numbers. Fills *counts (borrowed).
 * Returns 0, or -1 with error (what failed and where, InfluxDB's or curl's words); readings then
 * holds what was read so far and is the caller's to free. */
int batch_history_read(const struct config *config, int64_t since_ns, struct logger *logger,
                       struct batch_readings *readings, struct batch_history_counts *counts,
                       char *error, size_t error_size);

/* The queries for one rule (borrowed), as batch_history_read sends them, replacing out's contents
 * (NUL-terminated; out caller-owned). Return 0 or -1 (out of memory). */
int batch_history_influxql(const struct config_reading_rule *rule, int64_t since_ns,
                           struct buffer *out);
int batch_history_flux(const char *bucket, const struct config_reading_rule *rule, int64_t since_ns,
                       struct buffer *out);

#endif
