/* Subcommands of meter-relay. Each receives the arguments after the program name with argv[0]
 * being the subcommand's name (and `-c FILE`, wherever the user put it, among its options) and
 * returns the process exit status. Each prints its own usage for --help and for unknown options. */
#ifndef NEBENKOSTEN_RELAY_COMMANDS_H
#define NEBENKOSTEN_RELAY_COMMANDS_H

/* meter-relay parse [--precision P] [FILE|-]: line protocol in, one JSON object per point out. */
int relay_command_parse(int argc, char **argv);

/* meter-relay spool-check [--fix] DIR: spool_check() on DIR. Exit status 0 clean, 1 problems
 * found (or repaired with --fix), 2 usage, 3 could not check (missing, locked, I/O error). */
int relay_command_spool_check(int argc, char **argv);

/* meter-relay spool-dump [--from SEQ] [--limit N] DIR: every record as a routing line and its line
 * protocol, read-only and lock-free. Exit status 0, 1 damaged record or torn tail, 2 usage, 3 could
 * not read. */
int relay_command_spool_dump(int argc, char **argv);

/* meter-relay dlq list|show|drop|replay DIR ...: the dead letters in DIR/dlq/
 * (relay/dead_letter.h). list, show and drop work beside a running relay; replay appends the lines
 * back to the spool, addressed to their upstream only, and needs the spool's LOCK. Exit status 0, 1
 * damaged entries found, 2 usage, 3 could not act (missing, locked, I/O error). */
int relay_command_dlq(int argc, char **argv);

#include <stddef.h>

struct relay;

/* Attaches the daemon's extensions (relay_extension_add) to a relay just created. Returns 0, or
 * -1 with a message for the user in error. */
typedef int (*relay_extensions_attach_fn)(struct relay *relay, char *error, size_t error_size);

/* meter-relay [run] [-c FILE]: the daemon (the default when no command is given), with the
 * extensions attach adds (NULL: none). */
int relay_command_run(int argc, char **argv, relay_extensions_attach_fn attach);

#endif
