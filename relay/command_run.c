/* meter-relay run [-c FILE]: the daemon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/log.h"
#include "relay/commands.h"
#include "relay/relay.h"

#define RUN_ERROR_SIZE 1024

static void run_usage_print(FILE *out)
{
    fprintf(out, "usage: meter-relay [run] [-c FILE]\n\n"
                 "Runs the relay: HTTP ingest on relay.listen, every write durable in the spool\n"
                 "before it is acknowledged. SIGTERM or SIGINT stop it cleanly (exit status 0);\n"
                 "SIGHUP reopens the log file and reloads the configuration and secrets.\n\n"
                 "options:\n"
                 "  -c, --config FILE  the configuration file (see check-config)\n"
                 "  -h, --help         this text\n"
                 "Exit status: 0 clean shutdown, 1 bad configuration or fatal error, 2 usage.\n");
}

int relay_command_run(int argc, char **argv, relay_extensions_attach_fn attach)
{
    const char *path = NULL;
    switch (config_arguments_parse(argc, argv, "meter-relay run", &path)) {
    case CONFIG_ARGUMENTS_HELP:
        run_usage_print(stdout);
        return 0;
    case CONFIG_ARGUMENTS_USAGE_ERROR:
        run_usage_print(stderr);
        return 2;
    case CONFIG_ARGUMENTS_RUN:
        break;
    }
    struct config *config = config_load_reporting(path, stderr, "meter-relay run");
    if (!config)
        return 1;
    int exit_status = 1;
    struct relay *relay = NULL;
    char error[RUN_ERROR_SIZE] = "";
    struct logger *logger = log_open(&config->logging, NULL, error, sizeof error);
    if (!logger) {
        fprintf(stderr, "meter-relay run: %s\n", error);
        goto cleanup;
    }
    if (relay_create(config, logger, NULL, &relay, error, sizeof error) != 0) {
        log_error(logger, "cannot start the relay", LOG_STRING("error", error));
        goto cleanup;
    }
    if (attach && attach(relay, error, sizeof error) != 0) {
        log_error(logger, "cannot start the relay", LOG_STRING("error", error));
        goto cleanup;
    }
    if (relay_reload_enable(relay, path) != 0) {
        log_error(logger, "out of memory");
        goto cleanup;
    }
    exit_status = relay_run(relay);
    log_info(logger, "stopped", LOG_INTEGER("exit_status", exit_status));
cleanup:
    relay_destroy(relay);
    log_close(logger);
    config_free(config);
    return exit_status;
}
