/* meter-batch reconcile: reads the raw history (InfluxDB, or a CSV file), recomputes every output
 * series, and writes them to the processed bucket (or as CSV files with --out), with a JSON run
 * report and the stream's baselines. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch/batch_run.h"
#include "batch/command_options.h"
#include "batch/commands.h"
#include "batch/readings.h"

static void reconcile_usage_print(FILE *out)
{
    fprintf(
        out,
        "usage: meter-batch [-c FILE] reconcile [--readings FILE.csv] [--today YYYY-MM-DD]\n"
        "                   [--out DIR] [--compat reference|none] [--report FILE] [--direct]\n"
        "\n"
        "Recomputes every meter's daily and monthly registers, master and virtual meters,\n"
        "daily consumption and anomaly flags from the full raw history, and writes them to\n"
        "the processed bucket (influxdb.bucket_processed) in the schema of the reference\n"
        "pipeline; a second run writes the same points again, changing nothing.\n"
        "\n"
        "options:\n"
        "  -c FILE              configuration (default config/config.yaml, then\n"
        "                       /etc/nebenkosten/config.yaml)\n"
        "  --readings FILE.csv  read the raw history from FILE (meter_id,timestamp,value)\n"
        "                       instead of InfluxDB\n"
        "  --today YYYY-MM-DD   the run date: the last day of every series (default: today in\n"
        "                       analytics.timezone)\n"
        "  --out DIR            write the series as CSV files into DIR (daily.csv, monthly.csv,\n"
        "                       master_daily.csv, master_monthly.csv, consumption.csv,\n"
        "                       virtual.csv, anomalies.csv) instead of to InfluxDB\n"
        "  --compat MODE        reference: reproduce the reference pipeline exactly, its\n"
        "                       shortcuts included; none: the accurate default (overrides\n"
        "                       analytics.compat)\n"
        "  --report FILE        write the JSON run report to FILE (atomically)\n"
        "  --direct             write to influxdb.url even when a relay answers at\n"
        "                       relay.listen\n"
        "  --help               this text\n"
        "Exit status: 0 done, 1 the run failed (the report says why), 2 usage error.\n");
}

int batch_command_reconcile(int argc, char **argv)
{
    enum {
        OPTION_READINGS = 1,
        OPTION_TODAY,
        OPTION_OUT,
        OPTION_COMPAT,
        OPTION_REPORT,
        OPTION_DIRECT,
        OPTION_HELP
    };
    static const struct option options[] = {
        {"readings", required_argument, NULL, OPTION_READINGS},
        {"today", required_argument, NULL, OPTION_TODAY},
        {"out", required_argument, NULL, OPTION_OUT},
        {"compat", required_argument, NULL, OPTION_COMPAT},
        {"report", required_argument, NULL, OPTION_REPORT},
        {"direct", no_argument, NULL, OPTION_DIRECT},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, OPTION_HELP},
        {NULL, 0, NULL, 0},
    };
    struct batch_run_arguments arguments = {.compat_override = -1};
    optind = 1;
    opterr = 0;
    int option;
    while ((option = getopt_long(argc, argv, ":c:", options, NULL)) != -1) {
        switch (option) {
        case 'c':
            arguments.config_path = optarg;
            break;
        case OPTION_READINGS:
            arguments.readings_path = optarg;
            break;
        case OPTION_TODAY:
            if (batch_option_date_parse("reconcile", optarg, &arguments.today_day) != 0) {
                reconcile_usage_print(stderr);
                return 2;
            }
            arguments.today_given = true;
            break;
        case OPTION_OUT:
            arguments.out_directory = optarg;
            break;
        case OPTION_COMPAT:
            if (batch_option_compat_parse("reconcile", optarg, &arguments.compat_override) != 0) {
                reconcile_usage_print(stderr);
                return 2;
            }
            break;
        case OPTION_REPORT:
            arguments.report_path = optarg;
            break;
        case OPTION_DIRECT:
            arguments.direct = true;
            break;
        case OPTION_HELP:
            reconcile_usage_print(stdout);
            return 0;
        case ':':
            fprintf(stderr, "meter-batch reconcile: %s needs a value\n\n", argv[optind - 1]);
            reconcile_usage_print(stderr);
            return 2;
        default:
            fprintf(stderr, "meter-batch reconcile: unknown option %s\n\n", argv[optind - 1]);
            reconcile_usage_print(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "meter-batch reconcile: unexpected argument \"%s\"\n\n", argv[optind]);
        reconcile_usage_print(stderr);
        return 2;
    }
    return batch_run_reconcile(&arguments);
}
