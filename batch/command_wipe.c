/* meter-batch wipe-processed --yes: deletes the series meter-batch and the stream wrote to the
 * processed bucket (the reference pipeline's destructive reset), so the next reconcile starts from
 * a clean slate, e.g. after meters were reconfigured and old series would linger. The stream's
 * meter_event points only with --events: reconcile does not write events, so they would be gone
 * for good, and they are stamped at the reading's time, which no time zone change moves. Talks to
 * influxdb.url directly: deletions are not line protocol and cannot go through the spool. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "batch/commands.h"
#include "batch/writeback.h"
#include "config/log.h"
#include "relay/influx_client.h"

static void wipe_usage_print(FILE *out)
{
    fprintf(out,
            "usage: meter-batch [-c FILE] wipe-processed --yes [--events]\n"
            "\n"
            "Deletes every point of the processed series (meter_interpolated_daily,\n"
            "meter_interpolated_monthly, meter_consumption, meter_anomaly) from\n"
            "influxdb.bucket_processed on influxdb.url; raw readings are not touched. Run\n"
            "`meter-batch reconcile` afterwards to write the series again. Without --yes nothing\n"
            "is deleted.\n"
            "\n"
            "options:\n"
            "  -c FILE   configuration\n"
            "  --yes     really delete\n"
            "  --events  also delete meter_event (resets, replacements, late readings, ... the\n"
            "            stream recorded); reconcile does not write them again\n"
            "  --help    this text\n"
            "Exit status: 0 deleted, 1 a deletion failed, 2 usage error or --yes missing.\n");
}

int batch_command_wipe_processed(int argc, char **argv)
{
    enum { OPTION_YES = 1, OPTION_EVENTS, OPTION_HELP };
    static const struct option options[] = {
        {"yes", no_argument, NULL, OPTION_YES},
        {"events", no_argument, NULL, OPTION_EVENTS},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, OPTION_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    bool yes = false;
    bool events = false;
    optind = 1;
    opterr = 0;
    int option;
    while ((option = getopt_long(argc, argv, ":c:", options, NULL)) != -1) {
        switch (option) {
        case 'c':
            config_path = optarg;
            break;
        case OPTION_YES:
            yes = true;
            break;
        case OPTION_EVENTS:
            events = true;
            break;
        case OPTION_HELP:
            wipe_usage_print(stdout);
            return 0;
        default:
            fprintf(stderr, "meter-batch wipe-processed: unknown option or missing value: %s\n\n",
                    argv[optind - 1]);
            wipe_usage_print(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "meter-batch wipe-processed: unexpected argument \"%s\"\n\n", argv[optind]);
        wipe_usage_print(stderr);
        return 2;
    }
    struct config *config = config_load_reporting(config_path, stderr, "meter-batch");
    if (!config)
        return 1;
    if (!yes) {
        fprintf(stderr,
                "meter-batch wipe-processed: this deletes every processed series in \"%s\" on %s; "
                "repeat with --yes to do it\n",
                config->influxdb.bucket_processed, config->influxdb.url);
        config_free(config);
        return 2;
    }
    char error[1024];
    struct logger *logger = log_open(&config->logging, NULL, error, sizeof error);
    if (!logger) {
        fprintf(stderr, "meter-batch: %s\n", error);
        config_free(config);
        return 1;
    }
    int status = 1;
    struct influx_client *client = influx_client_create(&config->influxdb, error, sizeof error);
    if (!client) {
        log_error(logger, "cannot reach InfluxDB", LOG_STRING("error", error));
        goto cleanup;
    }
    influx_client_logger_set(client, logger);
    const char *bucket = config->influxdb.bucket_processed;
    size_t failures = 0;
    for (size_t i = 0; i < batch_processed_measurement_count; i++) {
        const char *measurement = batch_processed_measurements[i];
        if (!events && strcmp(measurement, "meter_event") == 0)
            continue;
        char statement[256];
        int result;
        if (config->influxdb.api == CONFIG_API_V1) {
            char quoted[128];
            influx_quote_identifier(measurement, quoted, sizeof quoted);
            snprintf(statement, sizeof statement, "DROP MEASUREMENT %s", quoted);
            result = influx_client_execute_influxql(client, bucket, statement, error, sizeof error);
        } else {
            snprintf(statement, sizeof statement, "_measurement=\"%s\"", measurement);
            result =
                influx_client_delete_v2(client, bucket, statement, NULL, NULL, error, sizeof error);
        }
        if (result != 0) {
            failures++;
            log_error(logger, "cannot delete a processed measurement",
                      LOG_STRING("measurement", measurement), LOG_STRING("error", error));
        }
    }
    if (failures == 0) {
        log_info(logger, "processed series deleted", LOG_STRING("bucket", bucket),
                 LOG_STRING("url", config->influxdb.url),
                 LOG_STRING("meter_event", events ? "deleted" : "kept (--events deletes them)"));
        status = 0;
    }
cleanup:
    influx_client_destroy(client);
    log_close(logger);
    config_free(config);
    return status;
}
