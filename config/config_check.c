/* `check-config [-c FILE]` of meter-relay and meter-batch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static void config_check_usage(FILE *out)
{
    fprintf(out,
            "usage: %s check-config [-c FILE]\n\n"
            "Loads the configuration (-c FILE, else %s, else %s,\n"
            "else the built-in defaults) with the meters, seasonal patterns and secrets files it\n"
            "names. Prints the effective configuration as YAML (secrets masked) and any warnings,\n"
            "and exits 0; or prints every error, one per line as file:line:column: key: problem,\n"
            "and exits 1.\n\n"
            "options:\n"
            "  -c, --config FILE  the configuration file\n"
            "  -h, --help         this text\n",
            program_invocation_short_name, CONFIG_DEFAULT_PATH, CONFIG_SYSTEM_PATH);
}

int config_command_check(int argc, char **argv)
{
    const char *path = NULL;
    char command[64];
    snprintf(command, sizeof command, "%s check-config", program_invocation_short_name);
    switch (config_arguments_parse(argc, argv, command, &path)) {
    case CONFIG_ARGUMENTS_HELP:
        config_check_usage(stdout);
        return 0;
    case CONFIG_ARGUMENTS_USAGE_ERROR:
        config_check_usage(stderr);
        return 2;
    case CONFIG_ARGUMENTS_RUN:
        break;
    }
    struct config *config = config_load_reporting(path, stderr, program_invocation_short_name);
    int exit_status = 1;
    if (config) {
        exit_status = 0;
        if (config_print(config, stdout) != 0) {
            fprintf(stderr, "%s check-config: cannot write the configuration: %s\n",
                    program_invocation_short_name, strerror(errno));
            exit_status = 1;
        }
    }
    config_free(config);
    return exit_status;
}

struct config *config_load_reporting(const char *path, FILE *messages, const char *program)
{
    struct config_diagnostics diagnostics = {0};
    struct config *config = NULL;
    int status = config_load(path, &config, &diagnostics);
    for (size_t i = 0; i < diagnostics.note_count; i++)
        fprintf(messages, "note: %s\n", diagnostics.notes[i]);
    for (size_t i = 0; i < diagnostics.error_count; i++)
        fprintf(messages, "%s\n", diagnostics.errors[i]);
    if (diagnostics.out_of_memory)
        fprintf(messages, "%s: out of memory; some messages were lost\n", program);
    for (size_t i = 0; i < diagnostics.warning_count; i++)
        fprintf(messages, "warning: %s\n", diagnostics.warnings[i]);
    config_diagnostics_free(&diagnostics);
    if (status != 0) {
        config_free(config);
        return NULL;
    }
    return config;
}

enum config_arguments config_arguments_parse(int argc, char **argv, const char *command,
                                             const char **path)
{
    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        if (strcmp(argument, "-h") == 0 || strcmp(argument, "--help") == 0)
            return CONFIG_ARGUMENTS_HELP;
        if (strcmp(argument, "-c") == 0 || strcmp(argument, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a file name\n\n", command, argument);
                return CONFIG_ARGUMENTS_USAGE_ERROR;
            }
            *path = argv[++i];
        } else if (strncmp(argument, "--config=", 9) == 0) {
            *path = argument + 9;
        } else {
            fprintf(stderr, "%s: unknown %s \"%s\"\n\n", command,
                    argument[0] == '-' ? "option" : "argument", argument);
            return CONFIG_ARGUMENTS_USAGE_ERROR;
        }
    }
    return CONFIG_ARGUMENTS_RUN;
}
