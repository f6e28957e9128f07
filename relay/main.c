/* meter-relay: the InfluxDB-compatible relay. main only dispatches to the subcommands. */
#include "config/command.h"
#include "config/config.h"
#include "relay/commands.h"

static const struct command relay_commands[] = {
    {"check-config", config_command_check,
     "print the effective configuration (secrets masked) or every error"},
    {"parse", relay_command_parse, "check line protocol: one JSON object per point or error"},
};

int main(int argc, char **argv)
{
    return command_main("meter-relay", relay_commands,
                        sizeof relay_commands / sizeof relay_commands[0], argc, argv);
}
