/* influx-client-driver: the blocking InfluxDB client (relay/influx_client.h) and the history
 * reader (batch/history.h) as a command, for tests/integration/test_influx_client.sh. Not
 * installed; a test program, not part of meter-batch's command line.
 *
 *   influx-client-driver -c CONFIG write DATABASE [MAX_LINES]
 *       line protocol from stdin through an influx_writer (MAX_LINES per request, default 5000)
 *       to config's influxdb; prints "lines L bytes B requests R"
 *   influx-client-driver -c CONFIG history [SINCE_NS]
 *       batch_history_read; prints "METER<TAB>T_NS<TAB>VALUE" per reading (%.17g), sorted, and
 *       "points=.. duplicates=.. not_numeric=.. without_id=.. meters=.. queries=.. requests=.."
 *       on stderr
 *   influx-client-driver -c CONFIG influxql DATABASE QUERY
 *       prints "MEASUREMENT<TAB>TAGS<TAB>VALUES" per row (tags and values as JSON)
 *   influx-client-driver -c CONFIG flux QUERY
 *       prints "BLOCK<TAB>NAME:DATATYPE=VALUE<TAB>..." per record
 *   influx-client-driver -c CONFIG anomaly-cleanup METER DAY_NS... [flagged FLAGGED_NS...]
 *       batch_anomaly_stale_remove for a run that judged METER over the days DAY_NS (ascending)
 *       and flagged FLAGGED_NS (among them); prints "deleted N"
 *
 * Exit status 0, 1 with the error on stderr, 2 for a usage error. Retries are logged (the
 * config's logging section) on stderr. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/anomaly_cleanup.h"
#include "batch/history.h"
#include "config/config.h"
#include "config/log.h"
#include "relay/influx_client.h"

static int driver_usage(void)
{
    fprintf(stderr, "usage: influx-client-driver -c CONFIG write DATABASE [MAX_LINES]\n"
                    "       influx-client-driver -c CONFIG history [SINCE_NS]\n"
                    "       influx-client-driver -c CONFIG influxql DATABASE QUERY\n"
                    "       influx-client-driver -c CONFIG flux QUERY\n"
                    "       influx-client-driver -c CONFIG anomaly-cleanup METER DAY_NS... "
                    "[flagged FLAGGED_NS...]\n");
    return 2;
}

static int driver_write(struct influx_client *client, const char *database, size_t max_lines)
{
    struct influx_writer *writer = influx_writer_create(client, database, max_lines, 0);
    if (!writer) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    char error[1024];
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    int status = 0;
    while ((length = getline(&line, &capacity, stdin)) > 0) {
        if (line[length - 1] == '\n')
            length--;
        if (length > 0 && influx_writer_add(writer, line, (size_t)length, error, sizeof error)) {
            status = 1;
            break;
        }
    }
    if (status == 0 && influx_writer_flush(writer, error, sizeof error) != 0)
        status = 1;
    uint64_t lines, bytes, requests;
    influx_writer_counts(writer, &lines, &bytes, &requests);
    printf("lines %" PRIu64 " bytes %" PRIu64 " requests %" PRIu64 "\n", lines, bytes, requests);
    if (status != 0)
        fprintf(stderr, "%s\n", error);
    free(line);
    influx_writer_destroy(writer);
    return status;
}

static int driver_history(const struct config *config, struct logger *logger, int64_t since_ns)
{
    struct batch_readings readings = {0};
    struct batch_history_counts counts;
    char error[1024];
    int status = 0;
    if (batch_history_read(config, since_ns, logger, &readings, &counts, error, sizeof error) !=
        0) {
        fprintf(stderr, "%s\n", error);
        status = 1;
    }
    for (size_t m = 0; m < readings.meter_count && status == 0; m++) {
        const struct batch_meter_readings *meter = &readings.meters[m];
        for (size_t i = 0; i < meter->count; i++)
            printf("%s\t%" PRId64 "\t%.17g\n", meter->meter_id, meter->readings[i].t_ns,
                   meter->readings[i].value);
    }
    fprintf(stderr,
            "points=%" PRIu64 " duplicates=%" PRIu64 " not_numeric=%" PRIu64 " without_id=%" PRIu64
            " meters=%zu queries=%" PRIu64 " requests=%" PRIu64 "\n",
            counts.points, counts.duplicates, counts.not_numeric, counts.without_id, counts.meters,
            counts.queries, counts.requests);
    batch_readings_free(&readings);
    return status;
}

static int driver_row(const char *measurement, const cJSON *tags, const cJSON *columns,
                      const cJSON *values, void *argument)
{
    (void)columns;
    (void)argument;
    char *tags_text = tags ? cJSON_PrintUnformatted(tags) : NULL;
    char *values_text = cJSON_PrintUnformatted(values);
    printf("%s\t%s\t%s\n", measurement, tags_text ? tags_text : "{}",
           values_text ? values_text : "?");
    cJSON_free(tags_text);
    cJSON_free(values_text);
    return 0;
}

static int driver_record(const struct flux_csv_record *record, void *argument)
{
    (void)argument;
    printf("%zu", record->block);
    for (size_t i = 0; i < record->count; i++)
        printf("\t%s:%s=%s", record->names[i], record->datatypes[i], record->values[i]);
    printf("\n");
    return 0;
}

/* A run's verdicts for one meter: its days, some of them flagged. */
static int driver_anomaly_cleanup(const struct config *config, struct logger *logger,
                                  char **arguments, int count)
{
    struct batch_series series = {.meter_id = arguments[0]};
    struct batch_anomaly_flag flags[64];
    struct batch_anomaly_result anomaly = {.series = &series, .flags = flags};
    bool flagged = false;
    int status = 2;
    for (int i = 1; i < count; i++) {
        if (strcmp(arguments[i], "flagged") == 0) {
            flagged = true;
            continue;
        }
        int64_t t_ns = strtoll(arguments[i], NULL, 10);
        if (!flagged) {
            if (batch_series_append(&series, t_ns, 0.0) != 0)
                goto done;
            continue;
        }
        size_t day = 0;
        while (day < series.count && series.t_ns[day] != t_ns)
            day++;
        if (day == series.count || anomaly.flag_count == sizeof flags / sizeof flags[0])
            goto done;
        flags[anomaly.flag_count++] = (struct batch_anomaly_flag){.index = day};
    }
    struct batch_reconcile_result result = {.anomalies = &anomaly, .anomaly_count = 1};
    char error[1024];
    uint64_t removed = 0;
    status = batch_anomaly_stale_remove(&result, config, logger, &removed, error, sizeof error);
    printf("deleted %" PRIu64 "\n", removed);
    if (status != 0) {
        fprintf(stderr, "%s\n", error);
        status = 1;
    }
done:
    free(series.t_ns);
    free(series.values);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "-c") != 0)
        return driver_usage();
    const char *command = argv[3];
    char **arguments = argv + 4;
    int count = argc - 4;
    struct config *config = config_load_reporting(argv[2], stderr, "influx-client-driver");
    if (!config)
        return 1;
    char error[1024];
    struct logger *logger = log_open(&config->logging, NULL, error, sizeof error);
    if (!logger) {
        fprintf(stderr, "%s\n", error);
        config_free(config);
        return 1;
    }
    int status = 2;
    if (strcmp(command, "anomaly-cleanup") == 0 && count >= 2) {
        status = driver_anomaly_cleanup(config, logger, arguments, count);
        goto done;
    }
    if (strcmp(command, "history") == 0 && count <= 1) {
        int64_t since_ns = count == 1 ? strtoll(arguments[0], NULL, 10) : BATCH_HISTORY_ALL;
        status = driver_history(config, logger, since_ns);
        goto done;
    }
    struct influx_client *client = influx_client_create(&config->influxdb, error, sizeof error);
    if (!client) {
        fprintf(stderr, "%s\n", error);
        status = 1;
        goto done;
    }
    influx_client_logger_set(client, logger);
    if (strcmp(command, "write") == 0 && (count == 1 || count == 2)) {
        status = driver_write(client, arguments[0],
                              count == 2 ? (size_t)strtoull(arguments[1], NULL, 10) : 5000);
    } else if (strcmp(command, "influxql") == 0 && count == 2) {
        int result = influx_client_query_influxql(client, arguments[0], arguments[1], driver_row,
                                                  NULL, error, sizeof error);
        if (result != 0)
            fprintf(stderr, "%s\n", error);
        status = result == 0 ? 0 : 1;
    } else if (strcmp(command, "flux") == 0 && count == 1) {
        int result = influx_client_query_flux(client, arguments[0], driver_record, NULL, error,
                                              sizeof error);
        if (result != 0)
            fprintf(stderr, "%s\n", error);
        status = result == 0 ? 0 : 1;
    }
    influx_client_destroy(client);
done:
    if (status == 2)
        driver_usage();
    fflush(stdout);
    log_close(logger);
    config_free(config);
    return status;
}
