/* The command line shared by meter-relay and meter-batch: `PROGRAM [-c FILE] <command> [options]`
 * with `-c FILE` accepted before or after the subcommand, --help and --version. */
#ifndef NEBENKOSTEN_CONFIG_COMMAND_H
#define NEBENKOSTEN_CONFIG_COMMAND_H

#include <stddef.h>

struct command {
    const char *name;
    /* argv[0] is the command's name; `-c FILE`, when given before the command, is moved after it,
     * so every command parses its options in one place. Returns the exit status. */
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for the usage text */
};

/* Runs the command argv names; with no command named (`PROGRAM [-c FILE]`), the one called "run"
 * when the table has it. commands are borrowed. Exit status 2 for a usage error. */
int command_main(const char *program, const struct command *commands, size_t command_count,
                 int argc, char **argv);

#endif
