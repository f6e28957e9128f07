/* meter-batch: the nightly reconciler and the Tibber poller. main only dispatches. */
#include <curl/curl.h>
#include <stdio.h>

#include "batch/commands.h"
#include "config/command.h"
#include "config/config.h"

static const struct command batch_commands[] = {
    {"reconcile", batch_command_reconcile,
     "recompute every meter's series from the full history and write them back"},
    {"report", batch_command_report,
     "compute everything, write nothing, print the JSON report (validation, quality)"},
    {"tibber", batch_command_tibber,
     "fetch Tibber's hourly consumption, cost and prices into the raw bucket"},
    {"wipe-processed", batch_command_wipe_processed,
     "delete the processed series (asks for --yes); reconcile writes them again"},
    {"check-config", config_command_check,
     "print the effective configuration (secrets masked) or every error"},
};

int main(int argc, char **argv)
{
    /* Before anything else runs: libcurl's global setup is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "meter-batch: libcurl cannot be initialised\n");
        return 1;
    }
    return command_main("meter-batch", batch_commands,
                        sizeof batch_commands / sizeof batch_commands[0], argc, argv);
}
