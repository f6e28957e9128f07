/* Reading the raw history: one query per reading rule, rows streamed into batch_readings. */
#include "batch/history.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/influx_client.h"

/* InfluxDB's largest timestamp (math.MaxInt64 - 1); its smallest is the negative of it. */
#define HISTORY_TIME_MAX "9223372036854775806"
#define HISTORY_TIME_MIN "-9223372036854775806"

/* A meter's values that were not numbers, for the warning after its rule's query. */
struct history_not_numeric {
    char *meter_id; /* owned */
    uint64_t count;
    int64_t first_ns; /* INT64_MAX while none had a readable time */
};

/* What the row and record callbacks need. */
struct history_read {
    const struct config_reading_rule *rule;
    struct batch_readings *readings;
    struct batch_history_counts *counts;
    uint64_t points; /* of this rule */
    struct history_not_numeric *not_numeric;
    size_t not_numeric_count, not_numeric_capacity;
    char error[256]; /* set when a callback stops the query */
};

/* Appends text (NUL-terminated, borrowed) to out. */
static int history_append(struct buffer *out, const char *text)
{
    return buffer_append(out, text, strlen(text)) == 0 ? 0 : -1;
}

/* Appends text quoted by quote (an influx_quote_* or influx_glob_regex function). */

/* NULL and "*" match every measurement: no condition at all. */
static bool history_measurement_any(const struct config_reading_rule *rule)
{
    return !rule->measurement || strcmp(rule->measurement, "*") == 0;
}

static bool history_glob_plain(const char *glob)
{
    return strpbrk(glob, "*?[\\") == NULL;
}

int batch_history_influxql(const struct config_reading_rule *rule, int64_t since_ns,
                           struct buffer *out)
{
    buffer_clear(out);
    /* ::field and ::tag keep a tag and a field of the same name apart. */
    if (history_append(out, "SELECT ") != 0 ||
        influx_quote_append(out, influx_quote_identifier, rule->field) != 0 ||
        history_append(out, "::field FROM ") != 0)
        return -1;
    int result = history_measurement_any(rule) ? history_append(out, "/.*/")
                 : history_glob_plain(rule->measurement)
                     ? influx_quote_append(out, influx_quote_identifier, rule->measurement)
                     : influx_quote_append(out, influx_glob_regex, rule->measurement);
    if (result != 0)
        return -1;
    for (size_t i = 0; i < rule->tag_count; i++) {
        if (history_append(out, i == 0 ? " WHERE " : " AND ") != 0 ||
            influx_quote_append(out, influx_quote_identifier, rule->tags[i].key) != 0 ||
            history_append(out, "::tag = ") != 0 ||
            influx_quote_append(out, influx_quote_string, rule->tags[i].value) != 0)
            return -1;
    }
    if (since_ns != BATCH_HISTORY_ALL) {
        char condition[64];
        snprintf(condition, sizeof condition, "%stime >= %" PRId64,
                 rule->tag_count ? " AND " : " WHERE ", since_ns);
        if (history_append(out, condition) != 0)
            return -1;
    }
    if (history_append(out, " GROUP BY ") != 0 ||
        influx_quote_append(out, influx_quote_identifier, rule->id_tag) != 0 ||
        buffer_append(out, "", 1) != 0)
        return -1;
    out->length--; /* NUL-terminated, not counted */
    return 0;
}

/* r["key"] for any column name. */
static int history_flux_column(struct buffer *out, const char *key)
{
    if (history_append(out, "r[") != 0 ||
        influx_quote_append(out, influx_quote_flux_string, key) != 0 ||
        history_append(out, "]") != 0)
        return -1;
    return 0;
}

int batch_history_flux(const char *bucket, const struct config_reading_rule *rule, int64_t since_ns,
                       struct buffer *out)
{
    buffer_clear(out);
    char start[32];
    if (since_ns == BATCH_HISTORY_ALL)
        snprintf(start, sizeof start, "%s", HISTORY_TIME_MIN);
    else
        snprintf(start, sizeof start, "%" PRId64, since_ns);
    if (history_append(out, "from(bucket: ") != 0 ||
        influx_quote_append(out, influx_quote_flux_string, bucket) != 0 ||
        history_append(out, ")\n  |> range(start: time(v: ") != 0 ||
        history_append(out, start) != 0 ||
        history_append(out, "), stop: time(v: " HISTORY_TIME_MAX "))\n  |> filter(fn: (r) => ") !=
            0)
        return -1;
    if (!history_measurement_any(rule) &&
        (history_append(out, "r._measurement =~ ") != 0 ||
         influx_quote_append(out, influx_glob_regex, rule->measurement) != 0 ||
         history_append(out, " and ") != 0))
        return -1;
    for (size_t i = 0; i < rule->tag_count; i++) {
        if (history_flux_column(out, rule->tags[i].key) != 0 || history_append(out, " == ") != 0 ||
            influx_quote_append(out, influx_quote_flux_string, rule->tags[i].value) != 0 ||
            history_append(out, " and ") != 0)
            return -1;
    }
    if (history_append(out, "r._field == ") != 0 ||
        influx_quote_append(out, influx_quote_flux_string, rule->field) != 0 ||
        history_append(out, " and exists ") != 0 || history_flux_column(out, rule->id_tag) != 0 ||
        history_append(out, ")\n  |> keep(columns: [\"_time\", \"_value\", ") != 0 ||
        influx_quote_append(out, influx_quote_flux_string, rule->id_tag) != 0 ||
        history_append(out, "])") != 0 || buffer_append(out, "", 1) != 0)
        return -1;
    out->length--;
    return 0;
}

static int history_reading_add(struct history_read *read, const char *id, const char *time_text,
                               double value)
{
    int64_t t_ns;
    if (batch_timestamp_parse(time_text, strlen(time_text), &t_ns) != 0) {
        snprintf(read->error, sizeof read->error, "meter %.80s: the time \"%.40s\" is not RFC 3339",
                 id, time_text);
        return -1;
    }
    if (batch_readings_add(read->readings, id, strlen(id), t_ns, value) != 0) {
        snprintf(read->error, sizeof read->error, "meter %.80s: %s", id,
                 errno == ENOMEM ? "out of memory" : "a reading that is not finite");
        return -1;
    }
    read->points++;
    read->counts->points++;
    return 0;
}

/* Counts a value that is not a number (a string or boolean field) under its meter: the meter
 * misses that reading, or is missing altogether, and the user must hear which one. */
static int history_not_numeric_note(struct history_read *read, const char *id,
                                    const char *time_text)
{
    read->counts->not_numeric++;
    int64_t t_ns;
    if (batch_timestamp_parse(time_text, strlen(time_text), &t_ns) != 0)
        t_ns = INT64_MAX;
    /* Rows come series by series: only the last meter noted is looked at, so a flood of ids
     * costs no search (a meter in several measurements gets a line for each). */
    if (read->not_numeric_count > 0) {
        struct history_not_numeric *meter = &read->not_numeric[read->not_numeric_count - 1];
        if (strcmp(meter->meter_id, id) == 0) {
            meter->count++;
            if (t_ns < meter->first_ns)
                meter->first_ns = t_ns;
            return 0;
        }
    }
    if (read->not_numeric_count == read->not_numeric_capacity) {
        size_t capacity = read->not_numeric_capacity ? read->not_numeric_capacity * 2 : 8;
        struct history_not_numeric *grown = realloc(read->not_numeric, capacity * sizeof *grown);
        if (!grown)
            goto out_of_memory;
        read->not_numeric = grown;
        read->not_numeric_capacity = capacity;
    }
    char *copy = strdup(id);
    if (!copy)
        goto out_of_memory;
    read->not_numeric[read->not_numeric_count++] =
        (struct history_not_numeric){.meter_id = copy, .count = 1, .first_ns = t_ns};
    return 0;
out_of_memory:
    snprintf(read->error, sizeof read->error, "meter %.80s: out of memory", id);
    return -1;
}

static int history_row(const char *measurement, const cJSON *tags, const cJSON *columns,
                       const cJSON *values, void *argument)
{
    struct history_read *read = argument;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(tags, read->rule->id_tag);
    if (!cJSON_IsString(id) || id->valuestring[0] == '\0') {
        read->counts->without_id++;
        return 0;
    }
    int time_index = influxql_column_index(columns, "time");
    int value_index = influxql_column_index(columns, read->rule->field);
    const cJSON *time = cJSON_GetArrayItem(values, time_index);
    const cJSON *value = cJSON_GetArrayItem(values, value_index);
    if (time_index < 0 || value_index < 0 || !cJSON_IsString(time)) {
        snprintf(read->error, sizeof read->error,
                 "measurement %.80s: a row without a \"time\" text and a \"%.40s\" column",
                 measurement, read->rule->field);
        return -1;
    }
    if (!cJSON_IsNumber(value))
        return history_not_numeric_note(read, id->valuestring, time->valuestring);
    return history_reading_add(read, id->valuestring, time->valuestring, value->valuedouble);
}

static int history_record(const struct flux_csv_record *record, void *argument)
{
    struct history_read *read = argument;
    size_t time_index = record->count, value_index = record->count, id_index = record->count;
    for (size_t i = 0; i < record->count; i++) {
        if (strcmp(record->names[i], "_time") == 0)
            time_index = i;
        else if (strcmp(record->names[i], "_value") == 0)
            value_index = i;
        else if (strcmp(record->names[i], read->rule->id_tag) == 0)
            id_index = i;
    }
    if (time_index == record->count || value_index == record->count) {
        snprintf(read->error, sizeof read->error, "a Flux record without _time and _value");
        return -1;
    }
    const char *id = id_index < record->count ? record->values[id_index] : "";
    if (id[0] == '\0') {
        read->counts->without_id++;
        return 0;
    }
    /* Flux tables carry the field's type; without #datatype the text decides. */
    const char *type = record->datatypes[value_index];
    const char *text = record->values[value_index];
    char *end;
    double value = strtod(text, &end);
    bool number = strcmp(type, "double") == 0 || strcmp(type, "long") == 0 ||
                  strcmp(type, "unsignedLong") == 0 || type[0] == '\0';
    if (!number || end == text || *end != '\0' || !isfinite(value))
        return history_not_numeric_note(read, id, record->values[time_index]);
    return history_reading_add(read, id, record->values[time_index], value);
}

/* One rule's query on target, its rows into readings. */
static int history_rule_read(struct influx_client *client, const struct config *config,
                             const struct config_reading_rule *rule, int64_t since_ns,
                             struct logger *logger, struct batch_readings *readings,
                             struct batch_history_counts *counts, char *error, size_t error_size)
{
    const struct config_influxdb *target = &config->influxdb;
    struct buffer query = BUFFER_INITIALIZER;
    struct history_read read = {.rule = rule, .readings = readings, .counts = counts};
    bool v2 = target->api == CONFIG_API_V2;
    if ((v2 ? batch_history_flux(target->bucket_raw, rule, since_ns, &query)
            : batch_history_influxql(rule, since_ns, &query)) != 0) {
        buffer_release(&query);
        snprintf(error, error_size, "out of memory building the history query");
        return -1;
    }
    counts->queries++;
    int result =
        v2 ? influx_client_query_flux(client, query.data, history_record, &read, error, error_size)
           : influx_client_query_influxql(client, target->bucket_raw, query.data, history_row,
                                          &read, error, error_size);
    if (result != 0 && read.error[0])
        snprintf(error, error_size, "reading the history from %s (%s %s): %s", target->url,
                 v2 ? "bucket" : "database", target->bucket_raw, read.error);
    else if (logger && result == 0)
        log_info(logger, "history query done", LOG_STRING("query", query.data),
                 LOG_INTEGER("points", (int64_t)read.points));
    for (size_t i = 0; i < read.not_numeric_count; i++) {
        const struct history_not_numeric *meter = &read.not_numeric[i];
        char first[BATCH_TIMESTAMP_SIZE] = "";
        if (meter->first_ns != INT64_MAX)
            batch_timestamp_format(meter->first_ns, first);
        if (logger && result == 0)
            log_warning(logger,
                        "values that are not numbers (a string or boolean field) are left out; "
                        "the meter misses those readings",
                        LOG_STRING("meter", meter->meter_id),
                        LOG_INTEGER("values", (int64_t)meter->count), LOG_STRING("first", first),
                        LOG_STRING("field", rule->field));
        free(meter->meter_id);
    }
    free(read.not_numeric);
    buffer_release(&query);
    return result == 0 ? 0 : -1;
}

int batch_history_read(const struct config *config, int64_t since_ns, struct logger *logger,
                       struct batch_readings *readings, struct batch_history_counts *counts,
                       char *error, size_t error_size)
{
    *counts = (struct batch_history_counts){0};
    struct influx_client *client = influx_client_create(&config->influxdb, error, error_size);
    if (!client)
        return -1;
    influx_client_logger_set(client, logger);
    int result = 0;
    /* Last rule first: of readings with the same meter and instant the last added is kept, so a
     * point several rules match counts as the first rule's, as in the stream. */
    for (size_t i = config->stream.reading_count; i-- > 0 && result == 0;)
        result = history_rule_read(client, config, &config->stream.readings[i], since_ns, logger,
                                   readings, counts, error, error_size);
    counts->requests = influx_client_requests(client);
    influx_client_destroy(client);
    size_t before = 0, after = 0;
    for (size_t m = 0; m < readings->meter_count; m++)
        before += readings->meters[m].count;
    /* batch_readings_finish passes the NULL meter array of empty readings to qsort (undefined
     * behaviour, which UBSan stops on): nothing to sort then anyway. */
    if (readings->meter_count > 0)
        batch_readings_finish(readings);
    for (size_t m = 0; m < readings->meter_count; m++)
        after += readings->meters[m].count;
    counts->duplicates = before - after;
    counts->meters = readings->meter_count;
    return result;
}
