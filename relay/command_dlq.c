/* meter-relay dlq list|show|drop|replay: the operator's commands over the dead letters of a spool
 * (relay/dead_letter.h). list, show and drop work beside a running relay; replay appends to the
 * spool and so needs its LOCK. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "relay/commands.h"
#include "relay/dead_letter.h"
#include "relay/spool.h"
#include "relay/spool_reader.h"
#include "relay/terminal_text.h"

/* Exit statuses of every action, as spool-check's. */
enum {
    DLQ_EXIT_DONE = 0,
    DLQ_EXIT_DAMAGED = 1,
    DLQ_EXIT_USAGE = 2,
    DLQ_EXIT_FAILED = 3,
};

/* Characters of the answer dlq list shows. */
#define DLQ_ANSWER_PREVIEW 120

enum dlq_action { DLQ_NONE, DLQ_LIST, DLQ_SHOW, DLQ_DROP, DLQ_REPLAY };

static const char *const dlq_action_names[] = {"", "list", "show", "drop", "replay"};

static const char dlq_exit_text[] =
    "Exit status: 0 done, 1 damaged dead letters found (reported on standard error and left\n"
    "alone), 2 usage error, 3 could not act (DIR missing, no such dead letter, spool locked by a\n"
    "running relay, I/O error).\n";

static void dlq_usage_print(FILE *out, enum dlq_action action)
{
    switch (action) {
    case DLQ_NONE:
        fprintf(
            out,
            "usage: meter-relay dlq list [--upstream NAME] DIR\n"
            "       meter-relay dlq show [--answer] DIR ID\n"
            "       meter-relay dlq drop DIR ID...\n"
            "       meter-relay dlq drop --all [--upstream NAME] DIR\n"
            "       meter-relay dlq replay DIR ID...\n"
            "       meter-relay dlq replay --all [--upstream NAME] DIR\n"
            "\n"
            "The dead letters of the spool in DIR (the relay's spool.dir), kept in DIR/dlq/:\n"
            "batches an upstream rejected for good (400, 422, partial write, unable to parse,\n"
            "points beyond retention policy, a single record still 413), each with the\n"
            "upstream's status and answer. ID is UPSTREAM/SEQ as dlq list prints it (SEQ is the\n"
            "first spool sequence of the batch).\n"
            "`meter-relay dlq ACTION --help` describes an action.\n");
        break;
    case DLQ_LIST:
        fprintf(
            out,
            "usage: meter-relay dlq list [--upstream NAME] DIR\n"
            "\n"
            "Prints one line per dead letter, by upstream, then sequence:\n"
            "  a/42 upstream=a status=400 lines=3 seq=42..44 "
            "time=2024-05-01T12:00:00.000000000Z answer=...\n"
            "answer= is the first %d characters of the upstream's answer (control characters\n"
            "and bytes that are not UTF-8 shown as \\xNN, a backslash as \\\\, \"...\" when cut).\n"
            "Reads only: safe while a relay runs on DIR.\n"
            "\n"
            "options:\n"
            "  --upstream NAME  only the dead letters of this upstream\n",
            DLQ_ANSWER_PREVIEW);
        break;
    case DLQ_SHOW:
        fprintf(out, "usage: meter-relay dlq show [--answer] DIR ID\n"
                     "\n"
                     "Prints the dead letter ID as spool-dump prints a record: a routing line\n"
                     "(seq= is the batch's sequence range), then the lines exactly as sent:\n"
                     "  # seq=42..44 db=lampfi rp=autogen bucket= org= consumers=*\n"
                     "  meter,id=main value=12345.678 1600000000000000000\n"
                     "On a terminal, control characters are shown as \\xNN (as spool-dump shows "
                     "them).\n"
                     "Reads only: safe while a relay runs on DIR.\n"
                     "\n"
                     "options:\n"
                     "  --answer         print the upstream's answer instead, byte for byte when\n"
                     "                   redirected (at most 64 KiB of it were kept)\n");
        break;
    case DLQ_DROP:
        fprintf(out, "usage: meter-relay dlq drop DIR ID...\n"
                     "       meter-relay dlq drop --all [--upstream NAME] DIR\n"
                     "\n"
                     "Deletes the named dead letters (or all, or all of one upstream) for good,\n"
                     "each durably (unlink, directory fsync), and prints \"dropped ID\" for each.\n"
                     "Damaged ones are deleted too. Safe while a relay runs on DIR.\n"
                     "\n"
                     "options:\n"
                     "  --all            every dead letter\n"
                     "  --upstream NAME  with --all: only those of this upstream\n");
        break;
    case DLQ_REPLAY:
        fprintf(out, "usage: meter-relay dlq replay DIR ID...\n"
                     "       meter-relay dlq replay --all [--upstream NAME] DIR\n"
                     "\n"
                     "Appends the lines of each dead letter to the spool in DIR as a new record\n"
                     "with the batch's routing, addressed to its upstream only; after one\n"
                     "fdatasync covering them all, deletes the dead letters and prints\n"
                     "\"replayed ID as seq=N\". The relay sends them when it runs again.\n"
                     "Needs the spool's LOCK: stop the relay first. Damaged dead letters are\n"
                     "reported and kept, as are those of an upstream without a cursor in the\n"
                     "spool (removed, renamed: no relay would send them). A crash between the\n"
                     "fdatasync and the deletes leaves entries that a second replay sends again,\n"
                     "which InfluxDB absorbs (same points: last write wins).\n"
                     "\n"
                     "options:\n"
                     "  --all            every dead letter\n"
                     "  --upstream NAME  with --all: only those of this upstream\n");
        break;
    }
    fprintf(out,
            "%s  -c FILE          accepted for symmetry with other commands; not used\n"
            "  --help           this text\n%s",
            action == DLQ_NONE ? "\noptions:\n" : "", dlq_exit_text);
}

struct dlq_options {
    enum dlq_action action;
    bool all, answer;
    const char *upstream;
    const char *dir;
    struct dead_letter_id *ids; /* owned */
    size_t id_count;
};

/* Prints message (borrowed) and the usage of action to stderr; returns DLQ_EXIT_USAGE. */
static int dlq_usage_error(enum dlq_action action, const char *message, const char *argument)
{
    fprintf(stderr, "meter-relay dlq%s%s: %s%s%s%s\n\n", action ? " " : "",
            dlq_action_names[action], message, argument ? " \"" : "", argument ? argument : "",
            argument ? "\"" : "");
    dlq_usage_print(stderr, action);
    return DLQ_EXIT_USAGE;
}

/* Checks what the action allows once every argument is read. Returns -1 or DLQ_EXIT_USAGE. */
static int dlq_options_check(const struct dlq_options *options)
{
    enum dlq_action action = options->action;
    if (action == DLQ_NONE)
        return dlq_usage_error(action, "the action is missing (list, show, drop or replay)", NULL);
    if (!options->dir)
        return dlq_usage_error(action, "the spool directory is missing", NULL);
    if (action == DLQ_LIST && options->id_count > 0)
        return dlq_usage_error(action, "takes no ID", NULL);
    if (action == DLQ_SHOW && options->upstream)
        return dlq_usage_error(action, "unknown option", "--upstream");
    if (action == DLQ_SHOW && options->id_count != 1)
        return dlq_usage_error(action, "needs exactly one ID", NULL);
    bool acts = action == DLQ_DROP || action == DLQ_REPLAY;
    if (acts && options->all == (options->id_count > 0))
        return dlq_usage_error(action, "give either IDs or --all", NULL);
    if (acts && options->upstream && !options->all)
        return dlq_usage_error(action, "--upstream narrows --all; an ID names its upstream", NULL);
    return -1;
}

/* Parses argv (borrowed) into *options (ids owned by it afterwards). Returns -1 to go on, or the
 * exit status (0 after --help, 2 for a usage error). */
static int dlq_options_parse(int argc, char **argv, struct dlq_options *options)
{
    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        enum dlq_action action = options->action;
        if (strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0) {
            dlq_usage_print(stdout, action);
            return DLQ_EXIT_DONE;
        } else if (strcmp(argument, "-c") == 0 || strcmp(argument, "--upstream") == 0) {
            if (++i >= argc)
                return dlq_usage_error(action, "a value is missing after", argument);
            if (argument[1] == 'c')
                continue;
            if (action == DLQ_SHOW)
                return dlq_usage_error(action, "unknown option", argument);
            if (!dead_letter_upstream_valid(argv[i], strlen(argv[i])))
                return dlq_usage_error(action, "not an upstream name:", argv[i]);
            options->upstream = argv[i];
        } else if (strcmp(argument, "--all") == 0 && (action == DLQ_DROP || action == DLQ_REPLAY)) {
            options->all = true;
        } else if (strcmp(argument, "--answer") == 0 && action == DLQ_SHOW) {
            options->answer = true;
        } else if (argument[0] == '-' && argument[1] != '\0') {
            return dlq_usage_error(action, "unknown option", argument);
        } else if (action == DLQ_NONE) {
            for (int a = DLQ_LIST; a <= DLQ_REPLAY; a++)
                if (strcmp(argument, dlq_action_names[a]) == 0)
                    options->action = (enum dlq_action)a;
            if (options->action == DLQ_NONE)
                return dlq_usage_error(action, "unknown action", argument);
        } else if (!options->dir) {
            options->dir = argument;
        } else {
            struct dead_letter_id *id = &options->ids[options->id_count];
            if (dead_letter_id_parse(argument, strlen(argument), id) != 0)
                return dlq_usage_error(
                    action, "expected an ID UPSTREAM/SEQ as dlq list prints it:", argument);
            bool repeated = false; /* a/5 and a/05 too: replayed twice, it is sent twice */
            for (size_t k = 0; k < options->id_count && !repeated; k++)
                repeated = options->ids[k].first_sequence == id->first_sequence &&
                           strcmp(options->ids[k].upstream, id->upstream) == 0;
            if (!repeated)
                options->id_count++;
        }
    }
    return dlq_options_check(options);
}

/* Checks that options->dir is a spool directory (holds seg/), so that a mistyped DIR is not read
 * as a spool without dead letters, nor made into one by replay. Returns 0 or -1 (reported). */
static int dlq_directory_check(const struct dlq_options *options)
{
    struct stat status;
    const char *problem = stat(options->dir, &status) != 0 ? strerror(errno)
                          : !S_ISDIR(status.st_mode)       ? "not a directory"
                                                           : NULL;
    char segment_dir[4096];
    if (!problem && (snprintf(segment_dir, sizeof segment_dir, "%s/seg", options->dir) >=
                         (int)sizeof segment_dir ||
                     stat(segment_dir, &status) != 0 || !S_ISDIR(status.st_mode)))
        problem = "holds no seg/ directory: not a spool directory";
    if (!problem)
        return 0;
    fprintf(stderr, "meter-relay dlq %s: %s: %s; give the spool.dir of the relay's configuration\n",
            dlq_action_names[options->action], options->dir, problem);
    return -1;
}

/* Reports the failure result (message in error) of reading or changing an entry on stderr after
 * what stdout holds so far; returns the exit status it calls for. */
static int dlq_failure_report(const struct dlq_options *options, int result, const char *error)
{
    fflush(stdout);
    fprintf(stderr, "meter-relay dlq %s: %s\n", dlq_action_names[options->action], error);
    return result == -EBADMSG ? DLQ_EXIT_DAMAGED : DLQ_EXIT_FAILED;
}

/* The worse of two exit statuses. */
static int dlq_status_merge(int status, int other)
{
    return other > status ? other : status;
}

static int dlq_list_print(const struct dead_letter *letter, uint64_t answer_bytes)
{
    struct dead_letter_id id = {.first_sequence = letter->first_sequence};
    snprintf(id.upstream, sizeof id.upstream, "%s", letter->upstream);
    char id_text[DEAD_LETTER_ID_TEXT_SIZE], time_text[64];
    char preview[4 * DLQ_ANSWER_PREVIEW + 4];
    dead_letter_id_format(&id, id_text);
    dead_letter_time_format(letter->time_ns, time_text, sizeof time_text);
    dead_letter_answer_preview(letter->answer, letter->answer_length,
                               answer_bytes > letter->answer_length, DLQ_ANSWER_PREVIEW, preview,
                               sizeof preview);
    int written = printf("%s upstream=%s status=%d lines=%zu seq=%" PRIu64 "..%" PRIu64
                         " time=%s answer=%s\n",
                         id_text, letter->upstream, letter->status, letter->line_count,
                         letter->first_sequence, letter->last_sequence, time_text, preview);
    return written < 0 ? -1 : 0;
}

static int dlq_list(const struct dlq_options *options)
{
    struct dead_letter_id *ids = NULL;
    size_t count = 0;
    char error[8192] = "";
    int result = dead_letter_entries_list(options->dir, options->upstream, &ids, &count, error,
                                          sizeof error);
    if (result != 0)
        return dlq_failure_report(options, result, error);
    int status = DLQ_EXIT_DONE;
    for (size_t i = 0; i < count; i++) {
        struct dead_letter_entry *entry = NULL;
        result = dead_letter_entry_read(options->dir, &ids[i], &entry, error, sizeof error);
        if (result == -ENOENT) /* dropped since it was listed */
            continue;
        if (result != 0) {
            status = dlq_status_merge(status, dlq_failure_report(options, result, error));
            continue;
        }
        result =
            dlq_list_print(dead_letter_entry_letter(entry), dead_letter_entry_answer_bytes(entry));
        dead_letter_entry_free(entry);
        if (result != 0)
            break;
    }
    free(ids);
    return status;
}

/* Prints the routing line of letter (borrowed) as spool-dump prints a record's, with the batch's
 * sequence range. Returns 0 or -1 (write failed). */
static int dlq_routing_print(const struct dead_letter *letter, bool escape)
{
    char sequence[48];
    snprintf(sequence, sizeof sequence, "%" PRIu64 "..%" PRIu64, letter->first_sequence,
             letter->last_sequence);
    return spool_routing_print(stdout, sequence, &letter->routing, 0, escape);
}

static int dlq_show(const struct dlq_options *options)
{
    struct dead_letter_entry *entry = NULL;
    char error[8192] = "";
    int result =
        dead_letter_entry_read(options->dir, &options->ids[0], &entry, error, sizeof error);
    if (result != 0)
        return dlq_failure_report(options, result, error);
    const struct dead_letter *letter = dead_letter_entry_letter(entry);
    bool escape = terminal_text_is_terminal(stdout);
    if (options->answer) {
        terminal_text_write(stdout, letter->answer, letter->answer_length, escape);
    } else if (dlq_routing_print(letter, escape) == 0 &&
               terminal_text_write(stdout, letter->lines, letter->lines_length, escape) == 0 &&
               letter->lines_length > 0 && letter->lines[letter->lines_length - 1] != '\n') {
        fputc('\n', stdout);
    }
    dead_letter_entry_free(entry);
    return DLQ_EXIT_DONE;
}

/* The entries the action acts on: the IDs given, or with --all every listed one. Returns 0 with
 * *ids (borrowed from options, or owned when *owned) or the exit status. */
static int dlq_targets_get(const struct dlq_options *options, struct dead_letter_id **ids,
                           size_t *count, bool *owned)
{
    *owned = options->all;
    if (!options->all) {
        *ids = options->ids;
        *count = options->id_count;
        return 0;
    }
    char error[8192] = "";
    int result =
        dead_letter_entries_list(options->dir, options->upstream, ids, count, error, sizeof error);
    return result == 0 ? 0 : dlq_failure_report(options, result, error);
}

static int dlq_drop(const struct dlq_options *options)
{
    struct dead_letter_id *ids = NULL;
    size_t count = 0;
    bool owned = false;
    int status = dlq_targets_get(options, &ids, &count, &owned);
    if (status != 0)
        return status;
    for (size_t i = 0; i < count; i++) {
        char error[8192] = "", id_text[DEAD_LETTER_ID_TEXT_SIZE];
        int result = dead_letter_entry_remove(options->dir, &ids[i], error, sizeof error);
        if (result != 0) {
            status = dlq_status_merge(status, dlq_failure_report(options, result, error));
            continue;
        }
        dead_letter_id_format(&ids[i], id_text);
        printf("dropped %s\n", id_text);
    }
    if (owned)
        free(ids);
    return status;
}

/* Appends the entry id (borrowed) to spool, addressed to its upstream only; stores the new
 * record's sequence in *sequence (0 when it was not appended). Returns an exit status, or -1 when
 * the spool refused the append (reported): nothing more can be appended then. */
static int dlq_replay_append(const struct dlq_options *options, struct spool *spool,
                             const struct dead_letter_id *id, uint64_t *sequence)
{
    *sequence = 0;
    char id_text[DEAD_LETTER_ID_TEXT_SIZE];
    dead_letter_id_format(id, id_text);
    /* Addressed to an upstream no relay reads for (removed, renamed, its cursor deleted), the
     * record would be stepped over by every cursor and deleted with its segment: the lines
     * would be gone while the replay said it sent them. */
    if (!spool_consumer_known(spool, id->upstream)) {
        fflush(stdout);
        fprintf(stderr,
                "meter-relay dlq replay: %s is kept: the spool has no cursor of upstream %s "
                "(%s/cursor/%s.cur), so no relay would send it; start the relay once with that "
                "upstream configured, then replay\n",
                id_text, id->upstream, options->dir, id->upstream);
        return DLQ_EXIT_FAILED;
    }
    struct dead_letter_entry *entry = NULL;
    char error[8192] = "";
    int result = dead_letter_entry_read(options->dir, id, &entry, error, sizeof error);
    if (result != 0)
        return dlq_failure_report(options, result, error);
    const struct dead_letter *letter = dead_letter_entry_letter(entry);
    struct spool_routing routing = letter->routing;
    routing.consumers[0] = (struct spool_slice){letter->upstream, strlen(letter->upstream)};
    routing.consumer_count = 1;
    result = spool_append(spool, &routing, letter->lines, letter->lines_length, sequence);
    dead_letter_entry_free(entry);
    if (result == 0)
        return DLQ_EXIT_DONE;
    *sequence = 0;
    fflush(stdout);
    fprintf(stderr, "meter-relay dlq replay: cannot append %s to the spool: %s\n", id_text,
            spool_error_reason(result));
    return -1;
}

static int dlq_replay(const struct dlq_options *options)
{
    char error[8192] = "";
    struct dead_letter_id *ids = NULL;
    size_t count = 0;
    bool owned = false;
    int status = dlq_targets_get(options, &ids, &count, &owned);
    if (status != 0)
        return status;
    struct spool_options spool_options = {
        .dir = options->dir,
        .sync_mode = CONFIG_SYNC_ALWAYS,
        .reserve_bytes = SPOOL_RESERVE_BYTES_DEFAULT,
        .offline = true,
    };
    struct spool *spool = NULL;
    uint64_t *sequences = calloc(count ? count : 1, sizeof *sequences);
    int result =
        sequences ? spool_open(&spool_options, &spool, NULL, error, sizeof error) : -ENOMEM;
    if (result == -EWOULDBLOCK) {
        fprintf(stderr,
                "meter-relay dlq replay: %s is locked by a running meter-relay; stop the relay "
                "first, replay, then start it again (it sends the replayed lines)\n",
                options->dir);
        status = DLQ_EXIT_FAILED;
        goto done;
    }
    if (result != 0) {
        fprintf(stderr, "meter-relay dlq replay: %s\n", sequences ? error : strerror(ENOMEM));
        status = DLQ_EXIT_FAILED;
        goto done;
    }
    /* Damaged or missing entries are skipped; a spool that refuses an append stops the loop, and
     * what was appended before is still synced and its entries deleted. */
    for (size_t i = 0; i < count; i++) {
        int appended = dlq_replay_append(options, spool, &ids[i], &sequences[i]);
        status = dlq_status_merge(status, appended < 0 ? DLQ_EXIT_FAILED : appended);
        if (appended < 0)
            break;
    }
    uint64_t committed = 0;
    result = spool_flush(spool, &committed);
    spool_close(spool);
    if (result != 0) {
        fprintf(stderr,
                "meter-relay dlq replay: the fdatasync of the spool failed (%s); the dead letters "
                "are kept, run spool-check on %s\n",
                strerror(-result), options->dir);
        status = DLQ_EXIT_FAILED;
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        if (sequences[i] == 0)
            continue;
        char id_text[DEAD_LETTER_ID_TEXT_SIZE];
        dead_letter_id_format(&ids[i], id_text);
        result = dead_letter_entry_remove(options->dir, &ids[i], error, sizeof error);
        if (result != 0) {
            fflush(stdout);
            fprintf(stderr,
                    "meter-relay dlq replay: %s is in the spool as seq=%" PRIu64
                    " but stays a dead letter: %s; drop it, or a later replay sends it again\n",
                    id_text, sequences[i], error);
            status = DLQ_EXIT_FAILED;
            continue;
        }
        printf("replayed %s as seq=%" PRIu64 "\n", id_text, sequences[i]);
    }
done:
    free(sequences);
    if (owned)
        free(ids);
    return status;
}

int relay_command_dlq(int argc, char **argv)
{
    struct dlq_options options = {.ids = calloc((size_t)argc, sizeof *options.ids)};
    if (!options.ids) {
        fprintf(stderr, "meter-relay dlq: out of memory\n");
        return DLQ_EXIT_FAILED;
    }
    int status = dlq_options_parse(argc, argv, &options);
    if (status < 0 && dlq_directory_check(&options) != 0)
        status = DLQ_EXIT_FAILED;
    if (status < 0) {
        int (*const actions[])(const struct dlq_options *) = {NULL, dlq_list, dlq_show, dlq_drop,
                                                              dlq_replay};
        status = actions[options.action](&options);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "meter-relay dlq %s: cannot write the output: %s\n",
                    dlq_action_names[options.action], strerror(errno));
            status = DLQ_EXIT_FAILED;
        }
    }
    free(options.ids);
    return status;
}
