/* meter-batch tibber: Tibber's hourly consumption, cost and prices into the raw bucket. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/commands.h"
#include "batch/readings.h"
#include "batch/tibber_run.h"

static void tibber_usage_print(FILE *out)
{
    fprintf(out,
            "usage: meter-batch [-c FILE] tibber [--report FILE] [--direct] [--dry-run]\n"
            "                   [--now TIME] [--timeout SECONDS]\n"
            "\n"
            "Fetches the household's hourly consumption, cost and prices from Tibber's API\n"
            "(tibber.api_url, token TIBBER_API_TOKEN in secrets/tibber.env) and writes to the\n"
            "raw bucket (influxdb.bucket_raw) what it does not hold yet or holds with other\n"
            "values: `energy` per settled hour, the cumulative `kWh` register of tibber.meter_id\n"
            "continued from its newest stored reading, and today's and tomorrow's\n"
            "`electricity_price`. Hours Tibber has not settled are written by a later run; a\n"
            "second run with nothing new writes nothing. The relay runs this every hour\n"
            "(workflows.tibber_sync.schedule) when tibber.enabled is true.\n"
            "\n"
            "options:\n"
            "  -c FILE            configuration (default config/config.yaml, then\n"
            "                     /etc/nebenkosten/config.yaml)\n"
            "  --report FILE      write the JSON run report to FILE (atomically)\n"
            "  --direct           write to influxdb.url even when a relay answers at\n"
            "                     relay.listen\n"
            "  --dry-run          fetch and compare, write nothing (the report says what would\n"
            "                     be written)\n"
            "  --now TIME         run as if it were TIME (RFC 3339, e.g. 2025-01-15T10:20:00Z):\n"
            "                     replays and tests\n"
            "  --timeout SECONDS  per request to Tibber (default 30)\n"
            "  --help             this text\n"
            "Exit status: 0 done, 1 the run failed (the report and the log say why), 2 usage\n"
            "error.\n");
}

/* Prints "meter-batch tibber: <message>" and the usage to stderr; returns the exit status 2. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "meter-batch tibber: ");
    vfprintf(stderr, format, arguments);
    va_end(arguments);
    fprintf(stderr, "\n\n");
    tibber_usage_print(stderr);
    return 2;
}

int batch_command_tibber(int argc, char **argv)
{
    enum {
        OPTION_REPORT = 1,
        OPTION_DIRECT,
        OPTION_DRY_RUN,
        OPTION_NOW,
        OPTION_TIMEOUT,
        OPTION_HELP
    };
    static const struct option options[] = {
        {"report", required_argument, NULL, OPTION_REPORT},
        {"direct", no_argument, NULL, OPTION_DIRECT},
        {"dry-run", no_argument, NULL, OPTION_DRY_RUN},
        {"now", required_argument, NULL, OPTION_NOW},
        {"timeout", required_argument, NULL, OPTION_TIMEOUT},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, OPTION_HELP},
        {NULL, 0, NULL, 0},
    };
    struct tibber_run_arguments arguments = {0};
    optind = 1;
    opterr = 0;
    int option;
    while ((option = getopt_long(argc, argv, ":c:", options, NULL)) != -1) {
        switch (option) {
        case 'c':
            arguments.config_path = optarg;
            break;
        case OPTION_REPORT:
            arguments.report_path = optarg;
            break;
        case OPTION_DIRECT:
            arguments.direct = true;
            break;
        case OPTION_DRY_RUN:
            arguments.dry_run = true;
            break;
        case OPTION_NOW:
            if (strlen(optarg) <= 10 ||
                batch_timestamp_parse(optarg, strlen(optarg), &arguments.now_ns) != 0)
                return usage_error("--now: \"%s\" is not an RFC 3339 time "
                                   "(2025-01-15T10:20:00Z)",
                                   optarg);
            arguments.now_given = true;
            break;
        case OPTION_TIMEOUT: {
            char *end;
            double seconds = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(seconds >= 0.1 && seconds <= 600))
                return usage_error("--timeout: \"%s\" is not a number of seconds from 0.1 to 600",
                                   optarg);
            arguments.timeout_ms = (int64_t)(seconds * 1000);
            break;
        }
        case OPTION_HELP:
            tibber_usage_print(stdout);
            return 0;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    return tibber_run(&arguments);
}
