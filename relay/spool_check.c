/* spool_check: the offline recovery report behind `meter-relay spool-check [--fix] DIR`. Without
 * fix it only reads; with fix it runs the same recovery spool_open() runs at start-up. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/spool_internal.h"

static int check_fix(const char *dir, FILE *out)
{
    struct spool_options options = {
        .dir = dir,
        .sync_mode = CONFIG_SYNC_ALWAYS,
        .reserve_bytes = SPOOL_RESERVE_BYTES_DEFAULT,
        .offline = true,
    };
    struct spool *spool = NULL;
    struct spool_recovery_report report;
    char error[1024] = "";
    int result = spool_open(&options, &spool, &report, error, sizeof error);
    if (result != 0) {
        if (result != -EWOULDBLOCK) /* the caller says it, once */
            fprintf(out, "spool %s: %s\n", dir, error);
        return result;
    }
    spool_close(spool);
    fprintf(out,
            "spool %s repaired: %" PRIu64 " segments, %" PRIu64 " records (sequence %" PRIu64
            "..%" PRIu64 "), %" PRIu64 " bytes truncated, %" PRIu64
            " segments quarantined, %" PRIu64 " cursors\n",
            dir, report.segments, report.records, report.first_sequence, report.last_sequence,
            report.truncated_bytes, report.quarantined_segments, report.consumers);
    return report.truncated_bytes > 0 || report.quarantined_segments > 0 ? 1 : 0;
}

/* Reports each cursor; returns how many a newer relay wrote (the relay refuses those). */
static uint64_t check_cursors(const char *cursor_dir, FILE *out)
{
    uint64_t newer = 0;
    DIR *directory = opendir(cursor_dir);
    if (!directory) {
        fprintf(out, "cursors: cannot list %s: %s\n", cursor_dir, strerror(errno));
        return 0;
    }
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        size_t length = strlen(entry->d_name);
        if (length < 5 || strcmp(entry->d_name + length - 4, ".cur") != 0)
            continue;
        char path[4096];
        if (spool_path_join(path, sizeof path, cursor_dir, entry->d_name) != 0)
            continue;
        uint8_t image[SPOOL_CURSOR_FILE_BYTES];
        memset(image, 0, sizeof image);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t got = fd >= 0 ? pread(fd, image, sizeof image, 0) : -1;
        if (fd >= 0 && close(fd) != 0)
            got = -1;
        uint64_t sequence, generation;
        uint32_t newer_version = got < 0 ? 0 : spool_cursor_image_newer_version(image);
        newer += newer_version != 0;
        if (got < 0)
            fprintf(out, "cursor %.*s: unreadable: %s\n", (int)(length - 4), entry->d_name,
                    strerror(errno));
        else if (newer_version != 0)
            fprintf(out,
                    "cursor %.*s: written by a newer meter-relay (spool format version %" PRIu32
                    "; this one reads %d): left as it is\n",
                    (int)(length - 4), entry->d_name, newer_version, SPOOL_FORMAT_VERSION);
        else if (spool_cursor_image_decode(image, &sequence, &generation) != 0)
            fprintf(out, "cursor %.*s: no valid slot (starts at the oldest record)\n",
                    (int)(length - 4), entry->d_name);
        else
            fprintf(out, "cursor %.*s: acknowledged %" PRIu64 "\n", (int)(length - 4),
                    entry->d_name, sequence);
    }
    closedir(directory);
    return newer;
}

/* Lists what recovery set aside under quarantine/: the README and /health send the operator here
 * to learn what was lost, and the segments left in seg/ no longer show it. */
static void check_quarantine(const char *quarantine_dir, FILE *out)
{
    DIR *directory = opendir(quarantine_dir);
    if (!directory) {
        if (errno != ENOENT)
            fprintf(out, "quarantine: cannot list %s: %s\n", quarantine_dir, strerror(errno));
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat status;
        if (spool_path_join(path, sizeof path, quarantine_dir, entry->d_name) != 0 ||
            stat(path, &status) != 0 || !S_ISREG(status.st_mode))
            continue;
        fprintf(out,
                "quarantined %s: %jd bytes in %s; its records were not delivered (delete it once "
                "read)\n",
                entry->d_name, (intmax_t)status.st_size, quarantine_dir);
    }
    closedir(directory);
}

/* Reports one scanned segment; last is the index of the last segment holding a record. */
static void check_segment_report(const struct spool_segment_scan *scan, size_t index, long last,
                                 FILE *out, uint64_t *truncate, uint64_t *quarantine,
                                 uint64_t *newer)
{
    fprintf(out, "segment %020" PRIu64 ".seg: ", scan->id);
    if (scan->newer_version != 0) {
        fprintf(out,
                "written by a newer meter-relay (spool format version %" PRIu32
                "; this one reads %d): not read, left as it is; the relay and --fix refuse "
                "this spool\n",
                scan->newer_version, SPOOL_FORMAT_VERSION);
        (*newer)++;
        return;
    }
    if (scan->records > 0)
        fprintf(out, "%" PRIu64 " records, sequence %" PRIu64 "..%" PRIu64 ", %" PRIu64 " bytes",
                scan->records, scan->first_sequence, scan->last_sequence, scan->valid_end);
    else
        fprintf(out, "no records, %" PRIu64 " bytes", scan->valid_end);
    if (!scan->header_valid && (long)index < last) {
        fprintf(out, "; header invalid: would be quarantined");
        (*quarantine)++;
    } else if (scan->damaged && (long)index < last) {
        fprintf(out, "; corrupt at offset %" PRIu64 ": would be quarantined", scan->valid_end);
        (*quarantine)++;
    } else if (scan->damaged && (long)index == last && scan->records_after_damage) {
        fprintf(out,
                "; corrupt at offset %" PRIu64 " with good records after it: would be copied to "
                "quarantine and truncated (%" PRIu64 " bytes)",
                scan->valid_end, scan->data_end - scan->valid_end);
        (*quarantine)++;
        *truncate += scan->data_end - scan->valid_end;
    } else if (scan->damaged && (long)index == last) {
        fprintf(out, "; torn tail at offset %" PRIu64 ": %" PRIu64 " bytes would be truncated",
                scan->valid_end, scan->data_end - scan->valid_end);
        *truncate += scan->data_end - scan->valid_end;
    } else if (scan->records_after_damage ||
               (!scan->header_valid && scan->data_end > SPOOL_SEGMENT_HEADER_SIZE)) {
        fprintf(out, "; corrupt after the tail: would be quarantined");
        (*quarantine)++;
    } else if (scan->damaged || !scan->header_valid) {
        fprintf(out, "; incomplete after the tail: would be %s",
                scan->header_valid ? "truncated" : "removed");
        *truncate += scan->data_end - scan->valid_end;
    }
    fputc('\n', out);
}

/* Read-only check: the same scan recovery does, reporting what it would change. */
static int check_report(struct spool *spool, FILE *out)
{
    struct spool_segment_scan *scans = NULL;
    size_t count = 0;
    char error[1024] = "";
    int result = spool_segments_list(spool, &scans, &count, error, sizeof error);
    if (result != 0) {
        fprintf(out, "spool %s: %s\n", spool->dir, error);
        return result;
    }
    for (size_t i = 0; i < count && result == 0; i++) {
        char path[4096];
        if (spool_segment_path(spool, scans[i].id, path, sizeof path) != 0) {
            result = -ENAMETOOLONG;
            break;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            result = -errno;
            fprintf(out, "%s: cannot open: %s\n", path, strerror(errno));
            break;
        }
        result = spool_segment_scan_run(spool, fd, &scans[i]);
        if (close(fd) != 0 && result == 0)
            result = -EIO;
        if (result != 0)
            fprintf(out, "%s: cannot read: %s\n", path, strerror(-result));
    }
    if (result == 0) {
        long last = -1;
        uint64_t records = 0, truncate = 0, quarantine = 0, newer = 0;
        for (size_t i = 0; i < count; i++)
            if (scans[i].records > 0)
                last = (long)i;
        fprintf(out, "spool %s\n", spool->dir);
        uint64_t previous_last = 0;
        for (size_t i = 0; i < count; i++) {
            /* Sequences are consecutive across segments; a hole between two is records that a
             * quarantine (or a cut-off write) took away. */
            if (scans[i].records > 0 && previous_last != 0 &&
                scans[i].first_sequence > previous_last + 1)
                fprintf(out,
                        "missing: sequence %" PRIu64 "..%" PRIu64
                        " is in no segment (quarantined or cut off); not delivered\n",
                        previous_last + 1, scans[i].first_sequence - 1);
            if (scans[i].records > 0)
                previous_last = scans[i].last_sequence;
            if (scans[i].newer_version != 0)
                previous_last = 0; /* its records are there, only unread */
            check_segment_report(&scans[i], i, last, out, &truncate, &quarantine, &newer);
            records += scans[i].records;
        }
        check_quarantine(spool->quarantine_dir, out);
        newer += check_cursors(spool->cursor_dir, out);
        if (newer > 0)
            fprintf(out,
                    "summary: %zu segments, %" PRIu64 " segment or cursor files of a newer spool "
                    "format that this meter-relay cannot read; neither it nor --fix changes this "
                    "spool\n",
                    count, newer);
        else
            fprintf(out,
                    "summary: %zu segments, %" PRIu64 " records, %" PRIu64
                    " segments to quarantine, %" PRIu64 " bytes to truncate%s\n",
                    count, records, quarantine, truncate,
                    quarantine || truncate ? " (run with --fix, or start the relay)" : "");
        result = quarantine || truncate || newer ? 1 : 0;
    }
    free(scans);
    return result;
}

int spool_check(const char *dir, bool fix, FILE *out)
{
    if (fix)
        return check_fix(dir, out);
    struct spool spool = {.io = spool_io_system(), .clock = clock_system(), .lock_fd = -1};
    char lock_path[4096], segment_dir[4096], cursor_dir[4096], quarantine_dir[4096];
    if (spool_path_join(lock_path, sizeof lock_path, dir, "LOCK") != 0 ||
        spool_path_join(segment_dir, sizeof segment_dir, dir, "seg") != 0 ||
        spool_path_join(cursor_dir, sizeof cursor_dir, dir, "cursor") != 0 ||
        spool_path_join(quarantine_dir, sizeof quarantine_dir, dir, "quarantine") != 0)
        return -ENAMETOOLONG;
    spool.dir = (char *)dir;
    spool.segment_dir = segment_dir;
    spool.cursor_dir = cursor_dir;
    spool.quarantine_dir = quarantine_dir;
    /* A running relay appends while we read: refuse rather than report a torn tail that is not. */
    int lock_fd = open(lock_path, O_RDONLY | O_CLOEXEC);
    if (lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        close(lock_fd);
        return -EWOULDBLOCK;
    }
    int result = check_report(&spool, out);
    if (lock_fd >= 0)
        close(lock_fd); /* read-only descriptor: nothing to lose */
    return result;
}
