/* meter-batch's subcommands; each takes (argc, argv) with argv[0] its name and returns the exit
 * status (config/command.h). */
#ifndef NEBENKOSTEN_BATCH_COMMANDS_H
#define NEBENKOSTEN_BATCH_COMMANDS_H

int batch_command_reconcile(int argc, char **argv);
int batch_command_wipe_processed(int argc, char **argv);
int batch_command_report(int argc, char **argv);
int batch_command_tibber(int argc, char **argv);

#endif
