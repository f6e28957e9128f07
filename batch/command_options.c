/* The meter-batch subcommands' shared options. */
#include "batch/command_options.h"

#include <stdio.h>
#include <string.h>

#include "batch/readings.h"
#include "config/config.h"

int batch_option_date_parse(const char *command, const char *text, int64_t *day)
{
    int64_t t_ns;
    if (strlen(text) != 10 || batch_timestamp_parse(text, 10, &t_ns) != 0) {
        fprintf(stderr, "meter-batch %s: --today: \"%s\" is not a date (YYYY-MM-DD)\n\n", command,
                text);
        return -1;
    }
    *day = t_ns / (86400LL * 1000000000LL);
    return 0;
}

int batch_option_compat_parse(const char *command, const char *text, int *compat)
{
    if (strcmp(text, "reference") == 0) {
        *compat = CONFIG_COMPAT_REFERENCE;
        return 0;
    }
    if (strcmp(text, "none") == 0) {
        *compat = CONFIG_COMPAT_NONE;
        return 0;
    }
    fprintf(stderr, "meter-batch %s: --compat: \"%s\" is not one of reference, none\n\n", command,
            text);
    return -1;
}
