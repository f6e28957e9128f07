#include "config/command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void command_usage_print(FILE *out, const char *program, const struct command *commands,
                                size_t command_count)
{
    fprintf(out,
            "usage: %s [-c FILE] <command> [options]\n"
            "       %s --version | --help\n\ncommands:\n",
            program, program);
    for (size_t i = 0; i < command_count; i++)
        fprintf(out, "  %-15s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n`%s <command> --help` describes a command's options.\n"
            "The configuration is read from -c FILE, else config/config.yaml, else "
            "/etc/nebenkosten/config.yaml.\n",
            program);
}

static int command_run(const struct command *command, const char *config_path, int argc,
                       char **argv)
{
    char **arguments = calloc((size_t)argc + 3, sizeof *arguments);
    if (!arguments) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int count = 0;
    arguments[count++] = argv[0];
    if (config_path) {
        arguments[count++] = "-c";
        arguments[count++] = (char *)config_path;
    }
    for (int i = 1; i < argc; i++)
        arguments[count++] = argv[i];
    arguments[count] = NULL;
    int status = command->run(count, arguments);
    free(arguments);
    return status;
}

int command_main(const char *program, const struct command *commands, size_t command_count,
                 int argc, char **argv)
{
    const char *config_path = NULL;
    int index = 1;
    if (index < argc && (strcmp(argv[index], "-c") == 0 || strcmp(argv[index], "--config") == 0)) {
        if (index + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a configuration file\n\n", program, argv[index]);
            command_usage_print(stderr, program, commands, command_count);
            return 2;
        }
        config_path = argv[index + 1];
        index += 2;
    } else if (index < argc && strncmp(argv[index], "--config=", 9) == 0) {
        config_path = argv[index] + 9;
        index++;
    }
    if (index >= argc) {
        /* A daemon starts without a subcommand, as InfluxDB's and Telegraf's do. */
        for (size_t i = 0; i < command_count; i++)
            if (strcmp(commands[i].name, "run") == 0) {
                char *run_argv[] = {(char *)"run", NULL};
                return command_run(&commands[i], config_path, 1, run_argv);
            }
        command_usage_print(stderr, program, commands, command_count);
        return 2;
    }
    const char *name = argv[index];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        command_usage_print(stdout, program, commands, command_count);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        printf("%s %s (commit %s)\n", program, NEBENKOSTEN_VERSION, NEBENKOSTEN_COMMIT);
        return 0;
    }
    for (size_t i = 0; i < command_count; i++)
        if (strcmp(name, commands[i].name) == 0)
            return command_run(&commands[i], config_path, argc - index, argv + index);
    fprintf(stderr, "%s: unknown command \"%s\"\n\n", program, name);
    command_usage_print(stderr, program, commands, command_count);
    return 2;
}
