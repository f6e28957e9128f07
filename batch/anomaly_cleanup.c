/* Finding the meter_anomaly points a run no longer flags and deleting them. */
#include "batch/anomaly_cleanup.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/readings.h"
#include "relay/buffer.h"
#include "relay/dead_letter.h"
#include "relay/flux_csv.h"
#include "relay/influx_client.h"
#include "relay/influxql_chunks.h"

/* DELETE statements per /query request (one point each). */
#define CLEANUP_STATEMENTS_PER_REQUEST 100

struct batch_anomaly_judged {
    const struct batch_anomaly_result **results; /* with a non-empty series, by meter id */
    size_t count;
};

static int judged_compare(const void *a, const void *b)
{
    const struct batch_anomaly_result *const *left = a;
    const struct batch_anomaly_result *const *right = b;
    return strcmp((*left)->series->meter_id, (*right)->series->meter_id);
}

struct batch_anomaly_judged *
batch_anomaly_judged_create(const struct batch_reconcile_result *result)
{
    struct batch_anomaly_judged *judged = calloc(1, sizeof *judged);
    if (!judged)
        return NULL;
    judged->results = calloc(result->anomaly_count + 1, sizeof *judged->results);
    if (!judged->results) {
        free(judged);
        return NULL;
    }
    for (size_t i = 0; i < result->anomaly_count; i++) {
        const struct batch_anomaly_result *anomaly = &result->anomalies[i];
        if (anomaly->series && anomaly->series->count > 0)
            judged->results[judged->count++] = anomaly;
    }
    qsort(judged->results, judged->count, sizeof *judged->results, judged_compare);
    return judged;
}

void batch_anomaly_judged_destroy(struct batch_anomaly_judged *judged)
{
    if (!judged)
        return;
    free(judged->results);
    free(judged);
}

static const struct batch_anomaly_result *judged_find(const struct batch_anomaly_judged *judged,
                                                      const char *meter_id)
{
    size_t low = 0, high = judged->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp(meter_id, judged->results[middle]->series->meter_id);
        if (order == 0)
            return judged->results[middle];
        if (order < 0)
            high = middle;
        else
            low = middle + 1;
    }
    return NULL;
}

bool batch_anomaly_judged_is_stale(const struct batch_anomaly_judged *judged, const char *meter_id,
                                   int64_t t_ns)
{
    const struct batch_anomaly_result *result = judged_find(judged, meter_id);
    if (!result)
        return false;
    const struct batch_series *series = result->series;
    if (t_ns < series->t_ns[0] || t_ns > series->t_ns[series->count - 1])
        return false;
    /* The flags are in day order. */
    size_t low = 0, high = result->flag_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int64_t flagged = series->t_ns[result->flags[middle].index];
        if (flagged == t_ns)
            return false;
        if (flagged < t_ns)
            low = middle + 1;
        else
            high = middle;
    }
    return true;
}

struct stale_point {
    char *meter_id; /* owned */
    int64_t t_ns;
};

struct cleanup {
    struct batch_anomaly_judged *judged; /* owned */
    struct stale_point *stale;
    size_t stale_count, stale_capacity;
    uint64_t points_read;
    char error[256]; /* set when a callback stops the query */
};

/* Takes note of the point (meter_id borrowed, t_text RFC 3339) when it is stale. */
static int cleanup_point_check(struct cleanup *cleanup, const char *meter_id, const char *t_text)
{
    int64_t t_ns;
    if (batch_timestamp_parse(t_text, strlen(t_text), &t_ns) != 0) {
        snprintf(cleanup->error, sizeof cleanup->error,
                 "meter_anomaly of %.80s: the time \"%.40s\" is not RFC 3339", meter_id, t_text);
        return -1;
    }
    cleanup->points_read++;
    if (!batch_anomaly_judged_is_stale(cleanup->judged, meter_id, t_ns))
        return 0;
    if (cleanup->stale_count == cleanup->stale_capacity) {
        size_t capacity = cleanup->stale_capacity ? cleanup->stale_capacity * 2 : 16;
        struct stale_point *grown = realloc(cleanup->stale, capacity * sizeof *grown);
        if (!grown)
            goto out_of_memory;
        cleanup->stale = grown;
        cleanup->stale_capacity = capacity;
    }
    char *copy = strdup(meter_id);
    if (!copy)
        goto out_of_memory;
    cleanup->stale[cleanup->stale_count++] = (struct stale_point){.meter_id = copy, .t_ns = t_ns};
    return 0;
out_of_memory:
    snprintf(cleanup->error, sizeof cleanup->error, "out of memory listing stale anomaly flags");
    return -1;
}

static int cleanup_row(const char *measurement, const cJSON *tags, const cJSON *columns,
                       const cJSON *values, void *argument)
{
    (void)measurement;
    struct cleanup *cleanup = argument;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(tags, "meter_id");
    const cJSON *t = cJSON_GetArrayItem(values, influxql_column_index(columns, "time"));
    if (!cJSON_IsString(id) || !cJSON_IsString(t))
        return 0; /* not a point of ours: no meter_id tag */
    return cleanup_point_check(cleanup, id->valuestring, t->valuestring);
}

static int cleanup_record(const struct flux_csv_record *record, void *argument)
{
    struct cleanup *cleanup = argument;
    const char *id = NULL, *t = NULL;
    for (size_t i = 0; i < record->count; i++) {
        if (strcmp(record->names[i], "_time") == 0)
            t = record->values[i];
        else if (strcmp(record->names[i], "meter_id") == 0)
            id = record->values[i];
    }
    if (!id || !t || id[0] == '\0')
        return 0;
    return cleanup_point_check(cleanup, id, t);
}

static int text_append(struct buffer *out, const char *text)
{
    return buffer_append(out, text, strlen(text));
}

static int stale_read(struct influx_client *client, const struct config_influxdb *influxdb,
                      struct cleanup *cleanup, char *error, size_t error_size)
{
    struct buffer query = BUFFER_INITIALIZER;
    int result = -1;
    bool v2 = influxdb->api == CONFIG_API_V2;
    int built =
        v2 ? text_append(&query, "from(bucket: ") ||
                 influx_quote_append(&query, influx_quote_flux_string,
                                     influxdb->bucket_processed) ||
                 text_append(&query,
                             ")\n  |> range(start: time(v: -9223372036854775806), stop: time(v: "
                             "9223372036854775806))\n  |> filter(fn: (r) => r._measurement == "
                             "\"meter_anomaly\" and r._field == \"value\")\n  |> keep(columns: "
                             "[\"_time\", \"meter_id\"])")
           : text_append(&query, "SELECT \"value\" FROM \"meter_anomaly\" GROUP BY \"meter_id\"");
    if (built != 0 || buffer_append(&query, "", 1) != 0) {
        snprintf(error, error_size, "out of memory building the meter_anomaly query");
        goto cleanup;
    }
    int status = v2 ? influx_client_query_flux(client, query.data, cleanup_record, cleanup, error,
                                               error_size)
                    : influx_client_query_influxql(client, influxdb->bucket_processed, query.data,
                                                   cleanup_row, cleanup, error, error_size);
    if (status > 0)
        snprintf(error, error_size, "%s", cleanup->error);
    result = status == 0 ? 0 : -1;
cleanup:
    buffer_release(&query);
    return result;
}

/* Deletes the stale points from *next on, one request at a time (v1: up to
 * CLEANUP_STATEMENTS_PER_REQUEST statements; v2: one point). Advances *next past what was
 * deleted. */
static int stale_delete(struct influx_client *client, const struct config_influxdb *influxdb,
                        const struct cleanup *cleanup, size_t *next, char *error, size_t error_size)
{
    struct buffer text = BUFFER_INITIALIZER;
    int result = -1;
    while (*next < cleanup->stale_count) {
        buffer_clear(&text);
        size_t end = *next;
        int built = 0;
        if (influxdb->api == CONFIG_API_V2) {
            const struct stale_point *point = &cleanup->stale[end++];
            char start[48];
            dead_letter_time_format(point->t_ns, start, sizeof start);
            built = text_append(&text, "_measurement=\"meter_anomaly\" AND meter_id=") ||
                    influx_quote_append(&text, influx_quote_flux_string, point->meter_id) ||
                    buffer_append(&text, "", 1);
            if (built == 0 && influx_client_delete_v2(client, influxdb->bucket_processed, text.data,
                                                      start, start, error, error_size) != 0)
                goto cleanup;
        } else {
            for (; end < cleanup->stale_count && end - *next < CLEANUP_STATEMENTS_PER_REQUEST;
                 end++) {
                const struct stale_point *point = &cleanup->stale[end];
                char t[32];
                snprintf(t, sizeof t, "%" PRId64, point->t_ns);
                built = built || text_append(&text, end > *next ? "; " : "") ||
                        text_append(&text, "DELETE FROM \"meter_anomaly\" WHERE \"meter_id\" = ") ||
                        influx_quote_append(&text, influx_quote_string, point->meter_id) ||
                        text_append(&text, " AND time >= ") || text_append(&text, t) ||
                        text_append(&text, " AND time <= ") || text_append(&text, t);
            }
            built = built || buffer_append(&text, "", 1);
            if (built == 0 && influx_client_execute_influxql(client, influxdb->bucket_processed,
                                                             text.data, error, error_size) != 0)
                goto cleanup;
        }
        if (built != 0) {
            snprintf(error, error_size, "out of memory building a meter_anomaly deletion");
            goto cleanup;
        }
        *next = end;
    }
    result = 0;
cleanup:
    buffer_release(&text);
    return result;
}

int batch_anomaly_stale_remove(const struct batch_reconcile_result *result,
                               const struct config *config, struct logger *logger,
                               uint64_t *removed, char *error, size_t error_size)
{
    *removed = 0;
    const struct config_influxdb *influxdb = &config->influxdb;
    struct cleanup cleanup = {.judged = batch_anomaly_judged_create(result)};
    struct influx_client *client = NULL;
    int status = -1;
    size_t deleted = 0;
    if (!cleanup.judged) {
        snprintf(error, error_size, "out of memory indexing the anomaly verdicts");
        goto cleanup;
    }
    client = influx_client_create(influxdb, error, error_size);
    if (!client)
        goto cleanup;
    influx_client_logger_set(client, logger);
    if (stale_read(client, influxdb, &cleanup, error, error_size) != 0)
        goto cleanup;
    status = stale_delete(client, influxdb, &cleanup, &deleted, error, error_size);
    if (status == 0)
        log_info(logger, "anomaly flags the run no longer raises deleted",
                 LOG_STRING("bucket", influxdb->bucket_processed),
                 LOG_INTEGER("points_read", (int64_t)cleanup.points_read),
                 LOG_INTEGER("deleted", (int64_t)deleted));
cleanup:
    *removed = deleted;
    for (size_t i = 0; i < cleanup.stale_count; i++)
        free(cleanup.stale[i].meter_id);
    free(cleanup.stale);
    influx_client_destroy(client);
    batch_anomaly_judged_destroy(cleanup.judged);
    return status;
}
