#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "config/command.h"

/* The arguments the last command saw, flattened with spaces. */
static char seen[256];

static int command_record(int argc, char **argv)
{
    seen[0] = '\0';
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(seen, " ");
        strcat(seen, argv[i]);
    }
    cr_assert_null(argv[argc], "argv must stay NULL-terminated");
    return 7;
}

static const struct command commands[] = {
    {"record", command_record, "records its arguments"},
};

static int run(int argc, char **argv)
{
    return command_main("tool", commands, 1, argc, argv);
}

Test(command, runs_the_named_command_with_its_options)
{
    char *argv[] = {"tool", "record", "--flag", "x", NULL};
    cr_assert_eq(run(4, argv), 7);
    cr_assert_str_eq(seen, "record --flag x");
}

Test(command, moves_config_option_given_before_the_command_after_it)
{
    char *argv[] = {"tool", "-c", "my.yaml", "record", "y", NULL};
    cr_assert_eq(run(5, argv), 7);
    cr_assert_str_eq(seen, "record -c my.yaml y");
}

Test(command, unknown_command_is_a_usage_error, .init = cr_redirect_stderr)
{
    char *argv[] = {"tool", "nope", NULL};
    cr_assert_eq(run(2, argv), 2);
    fflush(stderr);
    cr_assert_stderr_neq_str("");
}

Test(command, missing_command_is_a_usage_error, .init = cr_redirect_stderr)
{
    char *argv[] = {"tool", NULL};
    cr_assert_eq(run(1, argv), 2);
}

Test(command, config_option_without_file_is_a_usage_error, .init = cr_redirect_stderr)
{
    char *argv[] = {"tool", "-c", NULL};
    cr_assert_eq(run(2, argv), 2);
}

Test(command, help_lists_commands_on_stdout, .init = cr_redirect_stdout)
{
    char *argv[] = {"tool", "--help", NULL};
    cr_assert_eq(run(2, argv), 0);
    fflush(stdout);
    cr_assert_stdout_eq_str("usage: tool [-c FILE] <command> [options]\n"
                            "       tool --version | --help\n\ncommands:\n"
                            "  record          records its arguments\n"
                            "\n`tool <command> --help` describes a command's options.\n"
                            "The configuration is read from -c FILE, else config/config.yaml, else "
                            "/etc/nebenkosten/config.yaml.\n");
}

static int command_run_record(int argc, char **argv)
{
    return command_record(argc, argv) + 1;
}

Test(command, no_command_runs_the_run_command_with_the_config_option)
{
    static const struct command daemon_commands[] = {
        {"record", command_record, "records its arguments"},
        {"run", command_run_record, "runs the daemon"},
    };
    char *argv[] = {"tool", "-c", "d.yaml", NULL};
    cr_assert_eq(command_main("tool", daemon_commands, 2, 3, argv), 8);
    cr_assert_str_eq(seen, "run -c d.yaml");
}

/* Every command takes --config FILE and --config=FILE (check-config's help lists them, as
 * Telegraf's --config); before the command they mean the same as -c FILE. */
Test(command, long_config_option_before_the_command)
{
    char *argv[] = {"tool", "--config", "my.yaml", "record", "y", NULL};
    cr_assert_eq(run(5, argv), 7);
    cr_assert_str_eq(seen, "record -c my.yaml y");
    char *equals_argv[] = {"tool", "--config=other.yaml", "record", NULL};
    cr_assert_eq(run(3, equals_argv), 7);
    cr_assert_str_eq(seen, "record -c other.yaml");
}
