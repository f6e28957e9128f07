/* meter-relay: the InfluxDB-compatible relay. main dispatches to the subcommands and is where
 * the daemon gets its stream processor: the relay library knows nothing of stream/ (which depends
 * on it), so this file, outside the library, attaches it. */
#include "config/command.h"
#include "config/config.h"
#include "relay/commands.h"
#include "stream/processor.h"

static int relay_run_with_stream(int argc, char **argv)
{
    return relay_command_run(argc, argv, stream_processor_attach);
}

static const struct command relay_commands[] = {
    {"check-config", config_command_check,
     "print the effective configuration (secrets masked) or every error"},
    {"run", relay_run_with_stream, "run the relay (the default when no command is given)"},
    {"parse", relay_command_parse, "check line protocol: one JSON object per point or error"},
    {"spool-check", relay_command_spool_check,
     "report (or with --fix repair) torn tails and corrupt segments of a stopped relay's spool"},
    {"spool-dump", relay_command_spool_dump,
     "print the spool's records with their routing; safe while the relay runs"},
    {"dlq", relay_command_dlq,
     "list, show, drop or replay the batches upstreams rejected (dead letters)"},
};

int main(int argc, char **argv)
{
    return command_main("meter-relay", relay_commands,
                        sizeof relay_commands / sizeof relay_commands[0], argc, argv);
}
