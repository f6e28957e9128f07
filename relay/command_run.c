/* meter-relay run [-c FILE]: the daemon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "config/config.h"
#include "config/log.h"
#include "relay/commands.h"
#include "relay/relay.h"

#define RUN_ERROR_SIZE 1024
/* Descriptors beyond the client connections: spool segments, cursors, the checkpoint, upstream
 * sockets, job logs, the log file. */
#define RUN_DESCRIPTORS_RESERVED 256

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

/* Each client connection holds a descriptor, and a /query passed through a second one (its
 * upstream socket). Under the common soft limit of 1024 (shells, systemd outside the relay's own
 * unit, containers) the default relay.max_connections of 1024 exhausts it, and a spool segment
 * that cannot be created then stops the relay. So the soft limit is raised to what the
 * connections need, as far as the hard limit allows (systemd asks programs that need more than
 * 1024 to do so); a hard limit below that is reported. */
static void run_descriptor_limit_raise(struct logger *logger, int max_connections)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return;
    rlim_t wanted = (rlim_t)max_connections * 2 + RUN_DESCRIPTORS_RESERVED;
    if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted)
        return;
    rlim_t before = limit.rlim_cur;
    limit.rlim_cur =
        limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted ? limit.rlim_max : wanted;
    if (limit.rlim_cur > before && setrlimit(RLIMIT_NOFILE, &limit) != 0)
        limit.rlim_cur = before;
    if (limit.rlim_cur < wanted)
        log_warning(logger,
                    "the descriptor limit is below what relay.max_connections needs; when the "
                    "clients use it up, new ones wait and spool segments cannot be created. Raise "
                    "it (ulimit -n, LimitNOFILE) or lower relay.max_connections",
                    LOG_INTEGER("limit", (int64_t)limit.rlim_cur),
                    LOG_INTEGER("needed", (int64_t)wanted),
                    LOG_INTEGER("max_connections", max_connections));
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
    run_descriptor_limit_raise(logger, config->relay.max_connections);
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
