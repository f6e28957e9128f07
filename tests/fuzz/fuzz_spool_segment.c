/* libFuzzer target for the spool's recovery: the input is the bytes of up to three segment files
 * (ids 1, 2, 3), separated by the 8 bytes "NKSPLIT!". They are written to a fresh spool directory
 * (under /dev/shm when it exists) and the spool is opened offline, which scans, truncates and
 * quarantines. What must always hold:
 * - arbitrary bytes never make spool_open fail (data problems are counted, not fatal), crash or
 *   read out of bounds; the one refusal is a segment whose header a newer spool format version
 *   wrote (magic, version above ours, valid CRC), which recovery must leave alone;
 * - recovery leaves a spool that recovers again with nothing to cut or quarantine and the same
 *   records, and the records it kept read back through a cursor without a CRC error;
 * - a record appended after recovery is there at the next open, after the kept ones. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/log.h"
#include "relay/spool.h"
#include "relay/spool_internal.h"

#define FUZZ_SPLIT "NKSPLIT!"
#define FUZZ_SEGMENTS_MAX 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_root[256];
static struct logger *fuzz_logger;

static void fuzz_require(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_spool_segment: invariant broken: %s\n", what);
        abort();
    }
}

/* Syncs cost milliseconds each and prove nothing here: the fuzzer never crashes the machine. */
static int fuzz_sync_skip(void *context, int fd)
{
    (void)context;
    (void)fd;
    return 0;
}

static void fuzz_tree_remove(const char *path)
{
    DIR *directory = opendir(path);
    if (directory) {
        struct dirent *entry;
        while ((entry = readdir(directory)) != NULL) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
                continue;
            char child[512];
            snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
            fuzz_tree_remove(child);
        }
        closedir(directory);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void fuzz_setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_root, sizeof fuzz_root, "%s/fuzz_spool_segment.%ld", base, (long)getpid());
    struct log_options options = {.level = LOG_LEVEL_ERROR, .file = "/dev/null"};
    char error[256];
    fuzz_logger = log_open(&options, NULL, error, sizeof error);
    fuzz_require(fuzz_logger != NULL, "logger");
}

static struct spool *fuzz_spool_open(struct spool_io *io, struct spool_recovery_report *report)
{
    struct spool_options options = {
        .dir = fuzz_root,
        .sync_mode = CONFIG_SYNC_ALWAYS,
        .segment_bytes = 1u << 20,
        .offline = true,
        .io = io,
        .logger = fuzz_logger,
    };
    struct spool *spool = NULL;
    char error[512] = "";
    int result = spool_open(&options, &spool, report, error, sizeof error);
    if (result != 0)
        fprintf(stderr, "fuzz_spool_segment: spool_open: %s\n", error);
    fuzz_require(result == 0, "spool_open succeeds on any segment bytes");
    return spool;
}

/* Reads every record addressed to consumer "fuzz" (or to all) through a cursor from the start;
 * returns how many there were and stores the last sequence. */
static uint64_t fuzz_records_read(struct spool *spool, uint64_t *last)
{
    struct spool_cursor *cursor = NULL;
    fuzz_require(spool_cursor_open(spool, "fuzz", &cursor) == 0, "cursor opens");
    uint64_t count = 0;
    *last = 0;
    for (;;) {
        struct spool_record record;
        int result = spool_cursor_next(cursor, &record);
        if (result == 0)
            break;
        fuzz_require(result == 1, "every kept record reads back");
        fuzz_require(record.sequence > *last, "sequences increase");
        *last = record.sequence;
        count++;
    }
    spool_cursor_close(cursor);
    return count;
}

/* True when one of the input's segments (split as LLVMFuzzerTestOneInput splits them) starts
 * with the header of a newer spool format version. */
static bool fuzz_newer_segment(const uint8_t *data, size_t size)
{
    const uint8_t *rest = data, *end = data + size;
    for (int id = 1; id <= FUZZ_SEGMENTS_MAX && rest < end; id++) {
        const uint8_t *split = memmem(rest, (size_t)(end - rest), FUZZ_SPLIT, 8);
        const uint8_t *stop = split && id < FUZZ_SEGMENTS_MAX ? split : end;
        if (stop - rest >= SPOOL_SEGMENT_HEADER_SIZE && spool_segment_header_newer_version(rest))
            return true;
        rest = stop == end ? end : stop + 8;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_logger)
        fuzz_setup();
    fuzz_tree_remove(fuzz_root);
    char path[512];
    snprintf(path, sizeof path, "%s", fuzz_root);
    fuzz_require(mkdir(path, 0700) == 0, "spool directory");
    snprintf(path, sizeof path, "%s/seg", fuzz_root);
    fuzz_require(mkdir(path, 0700) == 0, "segment directory");
    const uint8_t *rest = data, *end = data + size;
    for (uint64_t id = 1; id <= FUZZ_SEGMENTS_MAX && rest < end; id++) {
        const uint8_t *split = memmem(rest, (size_t)(end - rest), FUZZ_SPLIT, 8);
        const uint8_t *stop = split && id < FUZZ_SEGMENTS_MAX ? split : end;
        snprintf(path, sizeof path, "%s/seg/%020" PRIu64 ".seg", fuzz_root, id);
        FILE *file = fopen(path, "wb");
        fuzz_require(file != NULL, "segment file");
        fuzz_require(fwrite(rest, 1, (size_t)(stop - rest), file) == (size_t)(stop - rest),
                     "segment written");
        fuzz_require(fclose(file) == 0, "segment closed");
        rest = stop == end ? end : stop + 8;
    }

    struct spool_io io = spool_io_system();
    io.fsync = fuzz_sync_skip;
    io.fdatasync = fuzz_sync_skip;
    if (fuzz_newer_segment(data, size)) {
        struct spool_options options = {
            .dir = fuzz_root, .sync_mode = CONFIG_SYNC_ALWAYS, .offline = true, .io = &io};
        struct spool *refused = NULL;
        char error[512] = "";
        fuzz_require(spool_open(&options, &refused, NULL, error, sizeof error) == -EPROTO &&
                         refused == NULL,
                     "a newer format's segment is refused");
        return 0;
    }
    struct spool_recovery_report first = {0}, second = {0};
    struct spool *spool = fuzz_spool_open(&io, &first);
    uint64_t last = 0;
    fuzz_require(fuzz_records_read(spool, &last) <= first.records, "records found read back");
    fuzz_require(last <= first.last_sequence, "last sequence read back");
    struct spool_routing routing = {.db = {"db", 2}};
    uint64_t sequence = 0, committed = 0;
    int appended = spool_append(spool, &routing, "m v=1 1\n", 8, &sequence);
    if (appended == 0)
        fuzz_require(spool_commit(spool, &committed) == 0 && committed == sequence, "commit");
    spool_close(spool);

    spool = fuzz_spool_open(&io, &second);
    bool settled = second.truncated_bytes == 0 && second.quarantined_segments == 0 &&
                   second.records == first.records + (appended == 0);
    if (!settled)
        fprintf(stderr,
                "fuzz_spool_segment: first open: %" PRIu64 " records, %" PRIu64
                " bytes cut, %" PRIu64 " quarantined; append: %d (sequence %" PRIu64
                "); second open: %" PRIu64 " records, %" PRIu64 " bytes cut, %" PRIu64
                " quarantined\n",
                first.records, first.truncated_bytes, first.quarantined_segments, appended,
                sequence, second.records, second.truncated_bytes, second.quarantined_segments);
    fuzz_require(second.truncated_bytes == 0 && second.quarantined_segments == 0,
                 "recovery is done in one go");
    fuzz_require(second.records == first.records + (appended == 0), "the records stay");
    fuzz_require(fuzz_records_read(spool, &last) <= second.records, "records read back again");
    fuzz_require(appended != 0 || last == sequence, "the appended record is the last one");
    spool_close(spool);
    fuzz_tree_remove(fuzz_root);
    return 0;
}
