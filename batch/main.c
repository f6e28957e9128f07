/* meter-batch: the nightly reconciler and the Tibber poller. main only dispatches. */
#include "batch/commands.h"
#include "config/command.h"
#include "config/config.h"

static const struct command batch_commands[] = {
    {"reconcile", batch_command_reconcile,
     "recompute every meter's series from the full history and write them back"},
    {"check-config", config_command_check,
     "print the effective configuration (secrets masked) or every error"},
};

int main(int argc, char **argv)
{
    return command_main("meter-batch", batch_commands,
                        sizeof batch_commands / sizeof batch_commands[0], argc, argv);
}
