/* Subcommands of meter-relay. Each receives the arguments after the program name with argv[0]
 * being the subcommand's name (and `-c FILE`, wherever the user put it, among its options) and
 * returns the process exit status. Each prints its own usage for --help and for unknown options. */
#ifndef NEBENKOSTEN_RELAY_COMMANDS_H
#define NEBENKOSTEN_RELAY_COMMANDS_H

/* meter-relay parse [--precision P] [FILE|-]: line protocol in, one JSON object per point out. */
int relay_command_parse(int argc, char **argv);

#endif
