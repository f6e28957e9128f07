/* Queries for the newest Tibber points and the stored window, InfluxQL or Flux. */
#include "batch/tibber_store.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/readings.h"
#include "batch/tibber_points.h"
#include "relay/influx_client.h"

/* InfluxDB's smallest and largest timestamps. */
#define STORE_TIME_MIN "-9223372036854775806"
#define STORE_TIME_MAX "9223372036854775806"

static const char *const energy_fields[] = {"consumption", "cost", "unit_price", "unit_price_vat"};
/* The numbers first, then the strings. */
static const char *const price_fields[] = {"total", "energy", "tax", "currency", "level"};
#define PRICE_NUMBER_FIELDS 3
#define FIELD_COUNT(array) (sizeof array / sizeof array[0])

static int append(struct buffer *out, const char *text)
{
    return buffer_append(out, text, strlen(text)) == 0 ? 0 : -1;
}

static int append_time(struct buffer *out, int64_t t_ns)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, t_ns);
    return append(out, text);
}

/* NUL-terminates out without counting the NUL. */
static int terminate(struct buffer *out)
{
    if (buffer_append(out, "", 1) != 0)
        return -1;
    out->length--;
    return 0;
}

static bool api_v2(const struct config *config)
{
    return config->influxdb.api == CONFIG_API_V2;
}

/* ` WHERE "entity_id"::tag = '<meter>'` */
static int influxql_meter(struct buffer *out, const struct config *config)
{
    return append(out, " WHERE \"entity_id\"::tag = ") != 0 ||
                   influx_quote_append(out, influx_quote_string, config->tibber.meter_id) != 0
               ? -1
               : 0;
}

/* `from(bucket: "<raw>") |> range(start: time(v: FROM), stop: time(v: TO))` and the filter's
 * start `|> filter(fn: (r) => r.entity_id == "<meter>" and `. */
static int flux_start(struct buffer *out, const struct config *config, const char *from,
                      const char *to)
{
    return append(out, "from(bucket: ") != 0 ||
                   influx_quote_append(out, influx_quote_flux_string,
                                       config->influxdb.bucket_raw) != 0 ||
                   append(out, ")\n  |> range(start: time(v: ") != 0 || append(out, from) != 0 ||
                   append(out, "), stop: time(v: ") != 0 || append(out, to) != 0 ||
                   append(out, "))\n  |> filter(fn: (r) => r.entity_id == ") != 0 ||
                   influx_quote_append(out, influx_quote_flux_string, config->tibber.meter_id) !=
                       0 ||
                   append(out, " and ") != 0
               ? -1
               : 0;
}

int tibber_store_newest_query(const struct config *config, struct buffer *out)
{
    buffer_clear(out);
    int status;
    if (api_v2(config)) {
        status = flux_start(out, config, STORE_TIME_MIN, STORE_TIME_MAX) != 0 ||
                         append(out, "((r._measurement == \"" TIBBER_MEASUREMENT_ENERGY
                                     "\" and r._field == \"consumption\") or "
                                     "(r._measurement == \"" TIBBER_MEASUREMENT_REGISTER
                                     "\" and r._field == \"value\" and "
                                     "r.domain == \"input_number\")))\n  |> last()\n"
                                     "  |> keep(columns: [\"_time\", \"_value\", "
                                     "\"_measurement\"])") != 0
                     ? -1
                     : 0;
    } else {
        status = append(out, "SELECT last(\"consumption\") FROM \"" TIBBER_MEASUREMENT_ENERGY
                             "\"") != 0 ||
                         influxql_meter(out, config) != 0 ||
                         append(out, "; SELECT last(\"value\") FROM \"" TIBBER_MEASUREMENT_REGISTER
                                     "\"") != 0 ||
                         influxql_meter(out, config) != 0 ||
                         append(out, " AND \"domain\"::tag = 'input_number'") != 0
                     ? -1
                     : 0;
    }
    return status == 0 ? terminate(out) : -1;
}

static int influxql_window(struct buffer *out, const struct config *config, const char *measurement,
                           const char *const *fields, size_t field_count,
                           struct tibber_window window)
{
    if (append(out, "SELECT ") != 0)
        return -1;
    for (size_t i = 0; i < field_count; i++)
        if (append(out, i > 0 ? ", \"" : "\"") != 0 || append(out, fields[i]) != 0 ||
            append(out, "\"::field") != 0)
            return -1;
    return append(out, " FROM \"") != 0 || append(out, measurement) != 0 ||
                   append(out, "\"") != 0 || influxql_meter(out, config) != 0 ||
                   append(out, " AND time >= ") != 0 || append_time(out, window.from_ns) != 0 ||
                   append(out, " AND time <= ") != 0 || append_time(out, window.to_ns) != 0
               ? -1
               : 0;
}

/* `(r._measurement == "<m>" and (r._field == "a" or ...))` */
static int flux_measurement(struct buffer *out, const char *measurement, const char *const *fields,
                            size_t field_count)
{
    if (append(out, "(r._measurement == \"") != 0 || append(out, measurement) != 0 ||
        append(out, "\" and (") != 0)
        return -1;
    for (size_t i = 0; i < field_count; i++)
        if (append(out, i > 0 ? " or r._field == \"" : "r._field == \"") != 0 ||
            append(out, fields[i]) != 0 || append(out, "\"") != 0)
            return -1;
    return append(out, "))");
}

int tibber_store_window_query(const struct config *config, struct tibber_window energy,
                              struct tibber_window prices, struct buffer *out)
{
    buffer_clear(out);
    bool has_energy = energy.from_ns <= energy.to_ns, has_prices = prices.from_ns <= prices.to_ns;
    if (!has_energy && !has_prices)
        return terminate(out);
    if (!api_v2(config)) {
        if (has_energy && influxql_window(out, config, TIBBER_MEASUREMENT_ENERGY, energy_fields,
                                          FIELD_COUNT(energy_fields), energy) != 0)
            return -1;
        if (has_energy && has_prices && append(out, "; ") != 0)
            return -1;
        if (has_prices && influxql_window(out, config, TIBBER_MEASUREMENT_PRICE, price_fields,
                                          FIELD_COUNT(price_fields), prices) != 0)
            return -1;
        return terminate(out);
    }
    /* One range over both windows; the records outside a measurement's window are dropped when
     * read. stop is exclusive. */
    int64_t from = has_energy ? energy.from_ns : prices.from_ns;
    int64_t to = has_energy ? energy.to_ns : prices.to_ns;
    if (has_prices && prices.from_ns < from)
        from = prices.from_ns;
    if (has_prices && prices.to_ns > to)
        to = prices.to_ns;
    char from_text[32], to_text[32];
    snprintf(from_text, sizeof from_text, "%" PRId64, from);
    snprintf(to_text, sizeof to_text, "%" PRId64, to + 1);
    if (flux_start(out, config, from_text, to_text) != 0 || append(out, "(") != 0)
        return -1;
    if (has_energy && flux_measurement(out, TIBBER_MEASUREMENT_ENERGY, energy_fields,
                                       FIELD_COUNT(energy_fields)) != 0)
        return -1;
    if (has_energy && has_prices && append(out, " or ") != 0)
        return -1;
    if (has_prices && flux_measurement(out, TIBBER_MEASUREMENT_PRICE, price_fields,
                                       FIELD_COUNT(price_fields)) != 0)
        return -1;
    if (append(out, "))\n  |> keep(columns: [\"_time\", \"_value\", \"_field\", "
                    "\"_measurement\"])") != 0)
        return -1;
    return terminate(out);
}

/* ---- reading ---- */

struct store_read {
    struct tibber_newest *newest;
    struct tibber_stored *stored;
    struct tibber_window energy, prices;
    char error[256];
};

static int time_parse(struct store_read *read, const char *text, int64_t *t_ns)
{
    if (batch_timestamp_parse(text, strlen(text), t_ns) == 0)
        return 0;
    snprintf(read->error, sizeof read->error, "a stored time \"%.40s\" is not RFC 3339", text);
    return -1;
}

/* The newest of the measurement so far, from one row or record. */
static int newest_take(struct store_read *read, const char *measurement, const char *time_text,
                       bool numeric, double value)
{
    int64_t t_ns;
    if (time_parse(read, time_text, &t_ns) != 0)
        return -1;
    struct tibber_newest *newest = read->newest;
    if (strcmp(measurement, TIBBER_MEASUREMENT_ENERGY) == 0) {
        if (!newest->has_energy || t_ns > newest->energy_ns)
            newest->energy_ns = t_ns;
        newest->has_energy = true;
    } else if (strcmp(measurement, TIBBER_MEASUREMENT_REGISTER) == 0) {
        if (!numeric || !isfinite(value)) {
            snprintf(read->error, sizeof read->error,
                     "the newest kWh reading (%.40s) is not a number, so it cannot anchor the "
                     "register: write a numeric reading after it",
                     time_text);
            return -1;
        }
        if (!newest->has_anchor || t_ns > newest->anchor_ns) {
            newest->anchor_ns = t_ns;
            newest->anchor_value = value;
        }
        newest->has_anchor = true;
    }
    return 0;
}

static int newest_row(const char *measurement, const cJSON *tags, const cJSON *columns,
                      const cJSON *values, void *argument)
{
    (void)tags;
    struct store_read *read = argument;
    const cJSON *time = cJSON_GetArrayItem(values, influxql_column_index(columns, "time"));
    const cJSON *value = cJSON_GetArrayItem(values, influxql_column_index(columns, "last"));
    if (!cJSON_IsString(time) || !value) {
        snprintf(read->error, sizeof read->error, "a row without \"time\" and \"last\"");
        return -1;
    }
    return newest_take(read, measurement, time->valuestring, cJSON_IsNumber(value),
                       cJSON_IsNumber(value) ? value->valuedouble : NAN);
}

/* The index of name among a record's columns, or count. */
static size_t record_column(const struct flux_csv_record *record, const char *name)
{
    for (size_t i = 0; i < record->count; i++)
        if (strcmp(record->names[i], name) == 0)
            return i;
    return record->count;
}

static bool flux_number(const struct flux_csv_record *record, size_t index, double *out)
{
    const char *type = record->datatypes[index], *text = record->values[index];
    char *end;
    *out = strtod(text, &end);
    return (strcmp(type, "double") == 0 || strcmp(type, "long") == 0 ||
            strcmp(type, "unsignedLong") == 0 || type[0] == '\0') &&
           end != text && *end == '\0' && isfinite(*out);
}

static int newest_record(const struct flux_csv_record *record, void *argument)
{
    struct store_read *read = argument;
    size_t time = record_column(record, "_time"), value = record_column(record, "_value");
    size_t measurement = record_column(record, "_measurement");
    if (time == record->count || value == record->count || measurement == record->count) {
        snprintf(read->error, sizeof read->error,
                 "a Flux record without _time, _value and _measurement");
        return -1;
    }
    double number;
    bool numeric = flux_number(record, value, &number);
    return newest_take(read, record->values[measurement], record->values[time], numeric, number);
}

int tibber_store_newest_read(struct influx_client *client, const struct config *config,
                             struct tibber_newest *out, char *error, size_t error_size)
{
    *out = (struct tibber_newest){0};
    struct buffer query = BUFFER_INITIALIZER;
    struct store_read read = {.newest = out};
    if (tibber_store_newest_query(config, &query) != 0) {
        buffer_release(&query);
        snprintf(error, error_size, "out of memory building the query");
        return -1;
    }
    int result =
        api_v2(config)
            ? influx_client_query_flux(client, query.data, newest_record, &read, error, error_size)
            : influx_client_query_influxql(client, config->influxdb.bucket_raw, query.data,
                                           newest_row, &read, error, error_size);
    if (result != 0 && read.error[0])
        snprintf(error, error_size, "%s", read.error);
    buffer_release(&query);
    return result == 0 ? 0 : -1;
}

void tibber_stored_free(struct tibber_stored *stored)
{
    free(stored->energy);
    free(stored->prices);
    *stored = (struct tibber_stored){0};
}

static struct tibber_node *energy_entry(struct store_read *read, int64_t t_ns)
{
    struct tibber_stored *stored = read->stored;
    if (stored->energy_count == stored->energy_capacity) {
        size_t capacity = stored->energy_capacity ? 2 * stored->energy_capacity : 256;
        struct tibber_node *grown = realloc(stored->energy, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        stored->energy = grown;
        stored->energy_capacity = capacity;
    }
    struct tibber_node *entry = &stored->energy[stored->energy_count++];
    *entry = (struct tibber_node){
        .from_ns = t_ns, .consumption = NAN, .cost = NAN, .unit_price = NAN, .unit_price_vat = NAN};
    return entry;
}

static struct tibber_price *price_entry(struct store_read *read, int64_t t_ns)
{
    struct tibber_stored *stored = read->stored;
    if (stored->price_count == stored->price_capacity) {
        size_t capacity = stored->price_capacity ? 2 * stored->price_capacity : 128;
        struct tibber_price *grown = realloc(stored->prices, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        stored->prices = grown;
        stored->price_capacity = capacity;
    }
    struct tibber_price *entry = &stored->prices[stored->price_count++];
    *entry = (struct tibber_price){.starts_at_ns = t_ns, .total = NAN, .energy = NAN, .tax = NAN};
    return entry;
}

/* The index of name among names[0 .. count), or -1. */
static int name_index(const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

/* One stored value (a number, or text for currency and level) into a new entry of its
 * measurement; entries of the same time are merged after the query. A value of another type than
 * Tibber's is not one Tibber sent: it is left out, so the point is written anew. */
static int window_value(struct store_read *read, const char *measurement, int64_t t_ns,
                        const char *field, bool numeric, double number, const char *text)
{
    bool energy = strcmp(measurement, TIBBER_MEASUREMENT_ENERGY) == 0;
    struct tibber_window window = energy ? read->energy : read->prices;
    if ((!energy && strcmp(measurement, TIBBER_MEASUREMENT_PRICE) != 0) || t_ns < window.from_ns ||
        t_ns > window.to_ns)
        return 0;
    if (energy) {
        int index = name_index(energy_fields, FIELD_COUNT(energy_fields), field);
        if (index < 0 || !numeric)
            return 0;
        struct tibber_node *entry = energy_entry(read, t_ns);
        if (!entry)
            goto no_memory;
        double *slots[] = {&entry->consumption, &entry->cost, &entry->unit_price,
                           &entry->unit_price_vat};
        *slots[index] = number;
        return 0;
    }
    int index = name_index(price_fields, FIELD_COUNT(price_fields), field);
    bool is_number = index >= 0 && index < PRICE_NUMBER_FIELDS;
    size_t limit = strcmp(field, "currency") == 0 ? TIBBER_CURRENCY_SIZE : TIBBER_LEVEL_SIZE;
    if (index < 0 || (is_number && !numeric) || (!is_number && (!text || strlen(text) >= limit)))
        return 0;
    struct tibber_price *entry = price_entry(read, t_ns);
    if (!entry)
        goto no_memory;
    if (is_number) {
        double *slots[] = {&entry->total, &entry->energy, &entry->tax};
        *slots[index] = number;
    } else {
        memcpy(strcmp(field, "currency") == 0 ? entry->currency : entry->level, text,
               strlen(text) + 1);
    }
    return 0;
no_memory:
    snprintf(read->error, sizeof read->error, "out of memory reading the stored points");
    return -1;
}

static int window_row(const char *measurement, const cJSON *tags, const cJSON *columns,
                      const cJSON *values, void *argument)
{
    (void)tags;
    struct store_read *read = argument;
    const cJSON *time = cJSON_GetArrayItem(values, influxql_column_index(columns, "time"));
    int64_t t_ns;
    if (!cJSON_IsString(time)) {
        snprintf(read->error, sizeof read->error, "a row without \"time\"");
        return -1;
    }
    if (time_parse(read, time->valuestring, &t_ns) != 0)
        return -1;
    int index = 0;
    const cJSON *column;
    cJSON_ArrayForEach(column, columns)
    {
        const cJSON *value = cJSON_GetArrayItem(values, index++);
        if (!cJSON_IsString(column) || strcmp(column->valuestring, "time") == 0 || !value ||
            cJSON_IsNull(value))
            continue;
        if (window_value(read, measurement, t_ns, column->valuestring, cJSON_IsNumber(value),
                         cJSON_IsNumber(value) ? value->valuedouble : NAN,
                         cJSON_IsString(value) ? value->valuestring : NULL) != 0)
            return -1;
    }
    return 0;
}

static int window_record(const struct flux_csv_record *record, void *argument)
{
    struct store_read *read = argument;
    size_t time = record_column(record, "_time"), value = record_column(record, "_value");
    size_t field = record_column(record, "_field");
    size_t measurement = record_column(record, "_measurement");
    if (time == record->count || value == record->count || field == record->count ||
        measurement == record->count) {
        snprintf(read->error, sizeof read->error,
                 "a Flux record without _time, _value, _field and _measurement");
        return -1;
    }
    int64_t t_ns;
    if (time_parse(read, record->values[time], &t_ns) != 0)
        return -1;
    double number;
    bool numeric = flux_number(record, value, &number);
    bool text = strcmp(record->datatypes[value], "string") == 0;
    return window_value(read, record->values[measurement], t_ns, record->values[field], numeric,
                        number, text ? record->values[value] : NULL);
}

static int stored_energy_compare(const void *a, const void *b)
{
    const struct tibber_node *x = a, *y = b;
    return (x->from_ns > y->from_ns) - (x->from_ns < y->from_ns);
}

static int stored_price_compare(const void *a, const void *b)
{
    const struct tibber_price *x = a, *y = b;
    return (x->starts_at_ns > y->starts_at_ns) - (x->starts_at_ns < y->starts_at_ns);
}

static void merge_number(double *into, double from)
{
    if (isnan(*into))
        *into = from;
}

/* into and from are distinct entries of the same array, both NUL-terminated within size. */
static void merge_text(char *into, const char *from, size_t size)
{
    if (!into[0])
        memcpy(into, from, size);
}

/* Sorts the entries by time and merges those of the same time into one. */
static void stored_finish(struct tibber_stored *stored)
{
    if (stored->energy_count > 1)
        qsort(stored->energy, stored->energy_count, sizeof *stored->energy, stored_energy_compare);
    size_t kept = 0;
    for (size_t i = 0; i < stored->energy_count; i++) {
        struct tibber_node *entry = &stored->energy[i];
        struct tibber_node *last = kept > 0 ? &stored->energy[kept - 1] : NULL;
        if (last && last->from_ns == entry->from_ns) {
            merge_number(&last->consumption, entry->consumption);
            merge_number(&last->cost, entry->cost);
            merge_number(&last->unit_price, entry->unit_price);
            merge_number(&last->unit_price_vat, entry->unit_price_vat);
        } else {
            stored->energy[kept++] = *entry;
        }
    }
    stored->energy_count = kept;
    if (stored->price_count > 1)
        qsort(stored->prices, stored->price_count, sizeof *stored->prices, stored_price_compare);
    kept = 0;
    for (size_t i = 0; i < stored->price_count; i++) {
        struct tibber_price *entry = &stored->prices[i];
        struct tibber_price *last = kept > 0 ? &stored->prices[kept - 1] : NULL;
        if (last && last->starts_at_ns == entry->starts_at_ns) {
            merge_number(&last->total, entry->total);
            merge_number(&last->energy, entry->energy);
            merge_number(&last->tax, entry->tax);
            merge_text(last->currency, entry->currency, sizeof last->currency);
            merge_text(last->level, entry->level, sizeof last->level);
        } else {
            stored->prices[kept++] = *entry;
        }
    }
    stored->price_count = kept;
}

int tibber_store_window_read(struct influx_client *client, const struct config *config,
                             struct tibber_window energy, struct tibber_window prices,
                             struct tibber_stored *out, char *error, size_t error_size)
{
    struct buffer query = BUFFER_INITIALIZER;
    struct store_read read = {.stored = out, .energy = energy, .prices = prices};
    if (tibber_store_window_query(config, energy, prices, &query) != 0) {
        buffer_release(&query);
        snprintf(error, error_size, "out of memory building the query");
        return -1;
    }
    int result = 0;
    if (query.length > 0)
        result = api_v2(config)
                     ? influx_client_query_flux(client, query.data, window_record, &read, error,
                                                error_size)
                     : influx_client_query_influxql(client, config->influxdb.bucket_raw, query.data,
                                                    window_row, &read, error, error_size);
    if (result != 0 && read.error[0])
        snprintf(error, error_size, "%s", read.error);
    buffer_release(&query);
    stored_finish(out);
    return result == 0 ? 0 : -1;
}
