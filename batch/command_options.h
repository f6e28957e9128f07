/* Options the meter-batch subcommands share: the run date and the compatibility mode. Each parser
 * prints what was wrong, naming the command and the option, and returns -1 (a usage error). */
#ifndef NEBENKOSTEN_BATCH_COMMAND_OPTIONS_H
#define NEBENKOSTEN_BATCH_COMMAND_OPTIONS_H

#include <stdint.h>

/* --today YYYY-MM-DD: *day receives days since 1970-01-01. command and text borrowed. */
int batch_option_date_parse(const char *command, const char *text, int64_t *day);

/* --compat reference|none: *compat receives an enum config_compat. */
int batch_option_compat_parse(const char *command, const char *text, int *compat);

#endif
