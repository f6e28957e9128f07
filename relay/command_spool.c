/* meter-relay spool-check [--fix] DIR and meter-relay spool-dump [--from SEQ] [--limit N] DIR: the
 * operator's view into the spool. spool-check refuses a directory a relay holds; spool-dump reads
 * beside a running relay and never writes. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "relay/commands.h"
#include "relay/spool.h"
#include "relay/spool_reader.h"
#include "relay/terminal_text.h"

/* Exit statuses shared by both commands. */
enum {
    SPOOL_EXIT_CLEAN = 0,
    SPOOL_EXIT_PROBLEMS = 1,
    SPOOL_EXIT_USAGE = 2,
    SPOOL_EXIT_UNCHECKED = 3,
};

static void check_usage_print(FILE *out)
{
    fprintf(out,
            "usage: meter-relay spool-check [--fix] DIR\n"
            "\n"
            "Reads every segment and cursor of the spool in DIR and reports each segment's "
            "records,\n"
            "sequence range and problems (torn tail, corrupt segment) and each consumer's "
            "position.\n"
            "Changes nothing unless --fix is given; then runs the recovery the relay runs at "
            "start-up\n"
            "(truncates a torn tail, moves corrupt segments to DIR/quarantine/) and reports what "
            "it did;\n"
            "it allocates no segment space (the relay sizes its segments at its next start).\n"
            "Refuses while a relay holds DIR/LOCK: use spool-dump to look at a running spool.\n"
            "\n"
            "options:\n"
            "  --fix      repair what the check finds\n"
            "  -c FILE    accepted for symmetry with other commands; not used\n"
            "  --help     this text\n"
            "Exit status: 0 clean, 1 problems found (or repaired with --fix), 2 usage error,\n"
            "3 could not check (DIR missing, not a spool, locked by a running relay, I/O "
            "error).\n");
}

static void dump_usage_print(FILE *out)
{
    fprintf(out,
            "usage: meter-relay spool-dump [--from SEQ] [--limit N] DIR\n"
            "\n"
            "Prints every record of the spool in DIR in sequence order: a routing line, then its\n"
            "line protocol exactly as stored (a newline is added only if it lacks one):\n"
            "  # seq=42 db=lampfi rp=autogen bucket= org= consumers=*\n"
            "  meter,id=main value=12345.678 1600000000000000000\n"
            "consumers=* means every consumer, otherwise the named ones, comma-separated;\n"
            "origin=stream marks the stream processor's records (processed points).\n"
            "On a terminal, control characters (which a client may have written into a string\n"
            "value or a database name) are shown as \\xNN; redirected, the output is byte for "
            "byte.\n"
            "Read-only and lock-free: safe while a relay runs on DIR (its newest records may not "
            "be\n"
            "acknowledged yet). A damaged record is reported on standard error; a torn tail ends "
            "the dump.\n"
            "\n"
            "options:\n"
            "  --from SEQ  start at sequence number SEQ (default: the oldest record)\n"
            "  --limit N   print at most N records\n"
            "  -c FILE     accepted for symmetry with other commands; not used\n"
            "  --help      this text\n"
            "Exit status: 0 every record read, 1 a damaged record or torn tail, 2 usage error,\n"
            "3 could not read (DIR missing or not a spool, I/O error).\n");
}

/* Parses text (borrowed) as a decimal uint64 into *value. Returns 0 or -1. */
static int spool_command_number_parse(const char *text, uint64_t *value)
{
    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *value = (uint64_t)parsed;
    return 0;
}

/* Checks that dir (borrowed) is an existing directory; prints why not under command (borrowed).
 * Returns 0 or -1. */
static int spool_command_directory_check(const char *command, const char *dir)
{
    struct stat status;
    if (stat(dir, &status) != 0) {
        fprintf(stderr,
                "meter-relay %s: spool directory %s: %s; give the spool.dir of the relay's "
                "configuration\n",
                command, dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(status.st_mode)) {
        fprintf(stderr,
                "meter-relay %s: %s is not a directory; give the spool.dir of the relay's "
                "configuration\n",
                command, dir);
        return -1;
    }
    return 0;
}

/* Options shared by both commands; a missing or unknown one prints usage and returns 2. */
struct spool_command_options {
    bool fix;
    bool has_limit;
    uint64_t from, limit;
    const char *dir;
};

/* Parses argv (borrowed) of command; dump allows --from/--limit, otherwise --fix. Returns -1 to go
 * on, or the exit status (0 after --help, 2 for a usage error). */
static int spool_command_options_parse(int argc, char **argv, bool dump,
                                       struct spool_command_options *options)
{
    const char *command = dump ? "spool-dump" : "spool-check";
    void (*usage)(FILE *) = dump ? dump_usage_print : check_usage_print;
    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        bool from = strcmp(argument, "--from") == 0, limit = strcmp(argument, "--limit") == 0;
        if (strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0) {
            usage(stdout);
            return SPOOL_EXIT_CLEAN;
        } else if (strcmp(argument, "-c") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "meter-relay %s: -c needs a configuration file\n\n", command);
                usage(stderr);
                return SPOOL_EXIT_USAGE;
            }
        } else if (!dump && strcmp(argument, "--fix") == 0) {
            options->fix = true;
        } else if (dump && (from || limit)) {
            if (++i >= argc) {
                fprintf(stderr, "meter-relay %s: %s needs a number\n\n", command, argument);
                usage(stderr);
                return SPOOL_EXIT_USAGE;
            }
            uint64_t *value = from ? &options->from : &options->limit;
            if (spool_command_number_parse(argv[i], value) != 0) {
                fprintf(stderr,
                        "meter-relay %s: %s \"%s\": expected a non-negative decimal number\n",
                        command, argument, argv[i]);
                return SPOOL_EXIT_USAGE;
            }
            if (limit)
                options->has_limit = true;
        } else if (argument[0] == '-' && argument[1] != '\0') {
            fprintf(stderr, "meter-relay %s: unknown option \"%s\"\n\n", command, argument);
            usage(stderr);
            return SPOOL_EXIT_USAGE;
        } else if (options->dir) {
            fprintf(stderr, "meter-relay %s: only one spool directory (got \"%s\" too)\n\n",
                    command, argument);
            usage(stderr);
            return SPOOL_EXIT_USAGE;
        } else {
            options->dir = argument;
        }
    }
    if (!options->dir) {
        fprintf(stderr, "meter-relay %s: the spool directory is missing\n\n", command);
        usage(stderr);
        return SPOOL_EXIT_USAGE;
    }
    return -1;
}

int relay_command_spool_check(int argc, char **argv)
{
    struct spool_command_options options = {0};
    int exit_status = spool_command_options_parse(argc, argv, false, &options);
    if (exit_status >= 0)
        return exit_status;
    if (spool_command_directory_check("spool-check", options.dir) != 0)
        return SPOOL_EXIT_UNCHECKED;
    /* --fix opens the spool, which would create one (and its reserve file) in a wrong DIR. */
    char segment_dir[4096];
    struct stat status;
    int written = snprintf(segment_dir, sizeof segment_dir, "%s/seg", options.dir);
    if (written < 0 || (size_t)written >= sizeof segment_dir || stat(segment_dir, &status) != 0 ||
        !S_ISDIR(status.st_mode)) {
        fprintf(stderr,
                "meter-relay spool-check: %s holds no seg/ directory: not a spool directory "
                "(give the spool.dir of the relay's configuration)\n",
                options.dir);
        return SPOOL_EXIT_UNCHECKED;
    }
    int result = spool_check(options.dir, options.fix, stdout);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "meter-relay spool-check: cannot write the report: %s\n", strerror(errno));
        return SPOOL_EXIT_UNCHECKED;
    }
    if (result == 0)
        return SPOOL_EXIT_CLEAN;
    if (result == 1)
        return SPOOL_EXIT_PROBLEMS;
    if (result == -EWOULDBLOCK)
        fprintf(stderr,
                "meter-relay spool-check: %s is locked by a running meter-relay; stop it and run "
                "the check again (spool-dump reads a running spool)\n",
                options.dir);
    else
        fprintf(stderr, "meter-relay spool-check: could not check %s: %s\n", options.dir,
                strerror(-result));
    return SPOOL_EXIT_UNCHECKED;
}

/* Prints the routing line of record (borrowed) to stdout. Returns 0 or -1 (write failed). */
static int dump_routing_print(const struct spool_record *record, bool escape)
{
    char sequence[24];
    snprintf(sequence, sizeof sequence, "%" PRIu64, record->sequence);
    return spool_routing_print(stdout, sequence, &record->routing, record->flags, escape);
}

/* Prints record (borrowed): routing line and payload, escaped for a terminal when escape.
 * Returns 0 or -1 (write failed). */
static int dump_record_print(const struct spool_record *record, bool escape)
{
    if (dump_routing_print(record, escape) != 0 ||
        terminal_text_write(stdout, record->payload, record->payload_length, escape) != 0)
        return -1;
    bool terminated =
        record->payload_length > 0 && record->payload[record->payload_length - 1] == '\n';
    if (!terminated && fputc('\n', stdout) == EOF)
        return -1;
    return 0;
}

int relay_command_spool_dump(int argc, char **argv)
{
    struct spool_command_options options = {0};
    int status = spool_command_options_parse(argc, argv, true, &options);
    if (status >= 0)
        return status;
    if (spool_command_directory_check("spool-dump", options.dir) != 0)
        return SPOOL_EXIT_UNCHECKED;
    char error[8192] = "";
    struct spool_directory_reader *reader = NULL;
    int result =
        spool_directory_reader_open(options.dir, options.from, &reader, error, sizeof error);
    if (result != 0) {
        fprintf(stderr, "meter-relay spool-dump: %s%s\n", error,
                result == -ENOENT ? " (not a spool directory? give the spool.dir of the relay's "
                                    "configuration)"
                                  : "");
        return SPOOL_EXIT_UNCHECKED;
    }
    status = SPOOL_EXIT_CLEAN;
    bool escape = terminal_text_is_terminal(stdout);
    uint64_t printed = 0;
    while (!options.has_limit || printed < options.limit) {
        struct spool_record record;
        result = spool_directory_reader_next(reader, &record, error, sizeof error);
        if (result == 0)
            break;
        if (result == -EBADMSG) {
            if (fflush(stdout) != 0) { /* keep the report after the records printed before it */
                status = SPOOL_EXIT_UNCHECKED;
                break;
            }
            fprintf(stderr, "meter-relay spool-dump: %s\n", error);
            status = SPOOL_EXIT_PROBLEMS;
            continue;
        }
        if (result < 0) {
            fprintf(stderr, "meter-relay spool-dump: %s\n", error);
            status = SPOOL_EXIT_UNCHECKED;
            break;
        }
        if (dump_record_print(&record, escape) != 0) {
            status = SPOOL_EXIT_UNCHECKED;
            break;
        }
        printed++;
    }
    spool_directory_reader_close(reader);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "meter-relay spool-dump: cannot write the records: %s\n", strerror(errno));
        return SPOOL_EXIT_UNCHECKED;
    }
    return status;
}
