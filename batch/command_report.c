/* meter-batch report: the reconciliation without writing anything, its JSON report (per meter:
 * readings, days, extrapolation, rate methods, anomalies, validation, quality) on standard output.
 * For looking at what the nightly run would do, e.g. after changing meters.yaml. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "batch/batch_run.h"
#include "batch/command_options.h"
#include "batch/commands.h"
#include "batch/readings.h"

static void report_usage_print(FILE *out)
{
    fprintf(
        out,
        "usage: meter-batch [-c FILE] report [--readings FILE.csv] [--today YYYY-MM-DD]\n"
        "                   [--compat reference|none]\n"
        "\n"
        "Runs the reconciliation like `meter-batch reconcile` but writes nothing (no series,\n"
        "no baselines) and prints its JSON report: per meter the readings, days, days\n"
        "extrapolated backward and forward, the rate methods, anomalies, the validation of the\n"
        "series against the readings and the quality figures (gaps, coverage); totals; timings.\n"
        "\n"
        "options:\n"
        "  -c FILE              configuration\n"
        "  --readings FILE.csv  read the history from FILE instead of InfluxDB\n"
        "  --today YYYY-MM-DD   the run date (default: today in analytics.timezone)\n"
        "  --compat MODE        reference or none (overrides analytics.compat)\n"
        "  --help               this text\n"
        "Exit status: 0 done, 1 the run failed, 2 usage error.\n");
}

int batch_command_report(int argc, char **argv)
{
    enum { OPTION_READINGS = 1, OPTION_TODAY, OPTION_COMPAT, OPTION_HELP };
    static const struct option options[] = {
        {"readings", required_argument, NULL, OPTION_READINGS},
        {"today", required_argument, NULL, OPTION_TODAY},
        {"compat", required_argument, NULL, OPTION_COMPAT},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, OPTION_HELP},
        {NULL, 0, NULL, 0},
    };
    struct batch_run_arguments arguments = {
        .compat_override = -1, .dry_run = true, .report_to_stdout = true};
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
            if (batch_option_date_parse("report", optarg, &arguments.today_day) != 0) {
                report_usage_print(stderr);
                return 2;
            }
            arguments.today_given = true;
            break;
        case OPTION_COMPAT:
            if (batch_option_compat_parse("report", optarg, &arguments.compat_override) != 0) {
                report_usage_print(stderr);
                return 2;
            }
            break;
        case OPTION_HELP:
            report_usage_print(stdout);
            return 0;
        default:
            fprintf(stderr, "meter-batch report: unknown option or missing value: %s\n\n",
                    argv[optind - 1]);
            report_usage_print(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "meter-batch report: unexpected argument \"%s\"\n\n", argv[optind]);
        report_usage_print(stderr);
        return 2;
    }
    return batch_run_reconcile(&arguments);
}
