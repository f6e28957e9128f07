/* meter-relay: the InfluxDB-compatible relay. main dispatches to the subcommands and is where
 * the daemon gets its extensions: the stream processor (the relay library knows nothing of
 * stream/, which depends on it, so this file, outside the library, attaches it) and the job
 * scheduler. */
#include "config/command.h"
#include "config/config.h"
#include "relay/commands.h"
#include "relay/scheduler.h"
#include "stream/processor.h"

/* Matches relay_extensions_attach_fn. */
static int relay_extensions_attach(struct relay *relay, char *error, size_t error_size)
{
    if (stream_processor_attach(relay, error, error_size) != 0)
        return -1;
    return scheduler_attach(relay, error, error_size);
}

static int relay_run_with_stream(int argc, char **argv)
{
    return relay_command_run(argc, argv, relay_extensions_attach);
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
