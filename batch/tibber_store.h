/* What the raw bucket (influxdb.bucket_raw of influxdb.url) already holds of the Tibber series,
 * read with the blocking InfluxDB client: InfluxQL on v1 servers, Flux on v2.
 *
 * - The newest points (one request): the newest energy point of tibber.meter_id (its time), and
 *   the newest cumulative kWh reading of the meter — measurement kWh, entity_id=<meter>,
 *   domain=input_number, field value, the series Home Assistant and the reference write and the
 *   stream reads as the meter's register — which anchors the register (time and value).
 *       SELECT last("consumption") FROM "energy" WHERE "entity_id"::tag = 'haupt_strom';
 *       SELECT last("value") FROM "kWh" WHERE "entity_id"::tag = 'haupt_strom' AND
 *           "domain"::tag = 'input_number'
 * - The window (one request): the energy points and the electricity_price points of the meter
 *   within the fetched hours and price intervals, to write only what is new or revised. */
#ifndef NEBENKOSTEN_BATCH_TIBBER_STORE_H
#define NEBENKOSTEN_BATCH_TIBBER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "batch/tibber_series.h"
#include "config/config.h"
#include "relay/buffer.h"

struct influx_client;

/* The stored points of the window, each array sorted by time, one entry per time (fields of
 * several points at the same time merged); NAN and "" where a field is absent. */
struct tibber_stored {
    struct tibber_node *energy; /* from_ns and the four fields; to_ns unused */
    size_t energy_count, energy_capacity;
    struct tibber_price *prices;
    size_t price_count, price_capacity;
};
void tibber_stored_free(struct tibber_stored *stored);

/* An inclusive time window [from_ns, to_ns]; empty when from_ns > to_ns. */
struct tibber_window {
    int64_t from_ns, to_ns;
};

/* The query texts, replacing out's contents (NUL-terminated): InfluxQL when config->influxdb.api
 * is v1, else Flux. config is borrowed. Return 0, or -1 when out of memory. */
int tibber_store_newest_query(const struct config *config, struct buffer *out);
int tibber_store_window_query(const struct config *config, struct tibber_window energy,
                              struct tibber_window prices, struct buffer *out);

/* Runs the newest-points query on client (borrowed, made for config->influxdb). Returns 0 with
 * *out filled, or -1 with error (what failed, InfluxDB's words). */
int tibber_store_newest_read(struct influx_client *client, const struct config *config,
                             struct tibber_newest *out, char *error, size_t error_size);

/* Runs the window query; *out (zero-initialised; free with tibber_stored_free in both cases)
 * gets the points. Returns 0, or -1 with error. */
int tibber_store_window_read(struct influx_client *client, const struct config *config,
                             struct tibber_window energy, struct tibber_window prices,
                             struct tibber_stored *out, char *error, size_t error_size);

#endif
