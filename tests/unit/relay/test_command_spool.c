/* meter-relay spool-dump and spool-check: exact output, exit statuses, torn tails, corruption, a
 * spool held open by a relay, usage errors. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "relay/commands.h"
#include "test_spool_support.h"

static char *directory;

static void command_setup(void)
{
    directory = temp_dir_make();
}

static void command_teardown(void)
{
    temp_dir_remove(directory);
    directory = NULL;
}

TestSuite(command_spool_dump, .init = command_setup, .fini = command_teardown);
TestSuite(command_spool_check, .init = command_setup, .fini = command_teardown);

/* All of file (borrowed) from its start as an owned string. */
static char *file_text_read(FILE *file)
{
    cr_assert_eq(fseek(file, 0, SEEK_END), 0);
    long size = ftell(file);
    cr_assert_geq(size, 0);
    rewind(file);
    char *text = calloc(1, (size_t)size + 1);
    cr_assert_not_null(text);
    cr_assert_eq(fread(text, 1, (size_t)size, file), (size_t)size);
    return text;
}

/* Runs command with the NULL-terminated argv (borrowed), its stdout and stderr captured into
 * *out and *err (owned by the caller). Returns its exit status. */
static int command_capture(int (*command)(int, char **), char **argv, char **out, char **err)
{
    FILE *out_file = tmpfile(), *err_file = tmpfile();
    cr_assert(out_file && err_file);
    cr_assert_eq(fflush(stdout), 0);
    cr_assert_eq(fflush(stderr), 0);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    cr_assert(saved_out >= 0 && saved_err >= 0);
    cr_assert_geq(dup2(fileno(out_file), STDOUT_FILENO), 0);
    cr_assert_geq(dup2(fileno(err_file), STDERR_FILENO), 0);
    int argc = 0;
    while (argv[argc])
        argc++;
    int status = command(argc, argv);
    fflush(stdout);
    fflush(stderr);
    cr_assert_geq(dup2(saved_out, STDOUT_FILENO), 0);
    cr_assert_geq(dup2(saved_err, STDERR_FILENO), 0);
    cr_assert_eq(close(saved_out), 0);
    cr_assert_eq(close(saved_err), 0);
    *out = file_text_read(out_file);
    *err = file_text_read(err_file);
    cr_assert_eq(fclose(out_file), 0);
    cr_assert_eq(fclose(err_file), 0);
    return status;
}

/* The dump of records first..last as test_append wrote them. Owned string. */
static char *expected_dump(uint64_t first, uint64_t last)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    cr_assert_not_null(out);
    for (uint64_t n = first; n <= last; n++) /* the payload as test_payload() writes it */
        fprintf(out,
                "# seq=%" PRIu64 " db=home rp=autogen bucket= org= consumers=*\n"
                "m,n=%" PRIu64 " v=%" PRIu64 "i %" PRIu64 "\n",
                n, n, n, n);
    cr_assert_eq(fclose(out), 0);
    return text;
}

/* A closed spool holding records 1..count (their sequence numbers equal n). */
static struct spool_segment spool_fill(uint64_t count, struct spool_segment *middle)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= count; n++)
        cr_assert_eq(test_append(spool, n), n);
    test_commit(spool, count);
    if (middle)
        *middle = spool->segments[spool->segment_count / 2];
    struct spool_segment tail = spool->segments[spool->segment_count - 1];
    spool_close(spool);
    return tail;
}

static void segment_path(uint64_t id, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s/seg/%020" PRIu64 ".seg", directory, id);
}

Test(command_spool_dump, prints_routing_and_payload_exactly)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    struct spool_routing routing = {
        .db = {"lampfi", 6},
        .rp = {"autogen", 7},
        .bucket = {"b1", 2},
        .org = {"home org", 8},
        .consumers = {{"influx", 6}, {"stream", 6}},
        .consumer_count = 2,
    };
    static const char first[] = "meter,id=main value=1.5 1600000000000000000\nmeter,id=b v=2i 1\n";
    uint64_t sequence;
    cr_assert_eq(spool_append(spool, &routing, first, sizeof first - 1, &sequence), 0);
    routing.consumer_count = 0;
    routing.bucket = (struct spool_slice){"", 0};
    routing.org = (struct spool_slice){"", 0};
    static const char second[] = "cpu usage=3 2"; /* no newline: the dump adds one */
    cr_assert_eq(spool_append(spool, &routing, second, sizeof second - 1, &sequence), 0);
    test_commit(spool, 2);
    spool_close(spool);

    char *out, *err;
    int status = command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", directory, NULL}, &out, &err);
    cr_assert_eq(status, 0, "%s", err);
    cr_assert_str_eq(out, "# seq=1 db=lampfi rp=autogen bucket=b1 org=home org "
                          "consumers=influx,stream\n"
                          "meter,id=main value=1.5 1600000000000000000\nmeter,id=b v=2i 1\n"
                          "# seq=2 db=lampfi rp=autogen bucket= org= consumers=*\n"
                          "cpu usage=3 2\n");
    cr_assert_str_eq(err, "");
    free(out);
    free(err);
}

Test(command_spool_dump, every_record_across_segments)
{
    spool_fill(150, NULL);
    char *out, *err;
    int status = command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", directory, NULL}, &out, &err);
    char *expected = expected_dump(1, 150);
    cr_assert_eq(status, 0, "%s", err);
    cr_assert_str_eq(out, expected);
    cr_assert_str_eq(err, "");
    free(expected);
    free(out);
    free(err);
}

Test(command_spool_dump, from_and_limit)
{
    spool_fill(150, NULL);
    char *out, *err;
    int status = command_capture(
        relay_command_spool_dump,
        (char *[]){"spool-dump", "--from", "100", "--limit", "3", directory, NULL}, &out, &err);
    char *expected = expected_dump(100, 102);
    cr_assert_eq(status, 0, "%s", err);
    cr_assert_str_eq(out, expected);
    free(expected);
    free(out);
    free(err);

    status =
        command_capture(relay_command_spool_dump,
                        (char *[]){"spool-dump", directory, "--from", "149", NULL}, &out, &err);
    expected = expected_dump(149, 150);
    cr_assert_eq(status, 0, "%s", err);
    cr_assert_str_eq(out, expected);
    free(expected);
    free(out);
    free(err);

    status =
        command_capture(relay_command_spool_dump,
                        (char *[]){"spool-dump", "--from", "151", directory, NULL}, &out, &err);
    cr_assert_eq(status, 0, "%s", err);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
}

Test(command_spool_dump, reads_a_spool_the_relay_holds_open)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    for (uint64_t n = 1; n <= 40; n++)
        test_append(spool, n);
    test_commit(spool, 40);
    char *out, *err;
    int status = command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", directory, NULL}, &out, &err);
    char *expected = expected_dump(1, 40);
    cr_assert_eq(status, 0, "%s", err);
    cr_assert_str_eq(out, expected);
    free(expected);
    free(out);
    free(err);
    /* The relay goes on appending: the dump took no lock and left nothing behind. */
    test_append(spool, 41);
    test_commit(spool, 41);
    spool_close(spool);
}

/* The relay of the concurrent test, on its own thread: opens the spool (its own descriptors and
 * LOCK), then appends and commits records 1..CONCURRENT_RECORDS one by one. */
#define CONCURRENT_RECORDS 20000
struct concurrent_writer {
    atomic_bool opened, done;
    int result; /* 0, or the step that failed */
};

static void *concurrent_writer_run(void *context)
{
    struct concurrent_writer *writer = context;
    struct spool_options options = test_options(directory, NULL);
    options.sync_mode = CONFIG_SYNC_NONE; /* the test is about readers seeing writes, not disks */
    struct spool *spool = NULL;
    char error[512];
    if (spool_open(&options, &spool, NULL, error, sizeof error) != 0) {
        writer->result = 1;
        atomic_store(&writer->opened, true);
        atomic_store(&writer->done, true);
        return NULL;
    }
    atomic_store(&writer->opened, true);
    struct spool_routing routing = test_routing();
    for (uint64_t n = 1; n <= CONCURRENT_RECORDS && writer->result == 0; n++) {
        char payload[64];
        size_t length = test_payload(payload, n);
        uint64_t sequence, committed;
        if (spool_append(spool, &routing, payload, length, &sequence) != 0 || sequence != n)
            writer->result = 2;
        else if (spool_commit(spool, &committed) != 0)
            writer->result = 3;
    }
    spool_close(spool);
    atomic_store(&writer->done, true);
    return NULL;
}

Test(command_spool_dump, consistent_while_a_relay_appends)
{
    struct concurrent_writer writer = {.result = 0};
    atomic_init(&writer.opened, false);
    atomic_init(&writer.done, false);
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, concurrent_writer_run, &writer), 0);
    while (!atomic_load(&writer.opened))
        sched_yield();
    char *full = expected_dump(1, CONCURRENT_RECORDS);
    int dumps = 0;
    size_t longest = 0;
    for (;;) {
        bool writer_done = atomic_load(&writer.done);
        char *out, *err;
        int status = command_capture(relay_command_spool_dump,
                                     (char *[]){"spool-dump", directory, NULL}, &out, &err);
        cr_assert_eq(status, 0, "dump %d: %s", dumps, err);
        size_t length = strlen(out);
        /* Whatever was there when the dump ran: records 1..k in order, nothing torn or missing. */
        cr_assert_eq(strncmp(out, full, length), 0, "dump %d is not a prefix", dumps);
        cr_assert(length == 0 || out[length - 1] == '\n');
        if (length > longest)
            longest = length;
        dumps++;
        free(out);
        free(err);
        if (writer_done)
            break;
    }
    cr_assert_eq(pthread_join(thread, NULL), 0);
    cr_assert_eq(writer.result, 0);
    cr_assert_eq(longest, strlen(full), "the last dump, after the writer ended, has every record");
    cr_assert_geq(dumps, 2);
    free(full);
}

Test(command_spool_dump, torn_tail_ends_the_dump_and_changes_nothing)
{
    struct spool_segment tail = spool_fill(30, NULL);
    char path[4096];
    segment_path(tail.id, path, sizeof path);
    cr_assert_eq(truncate(path, (off_t)tail.bytes - 5), 0); /* inside record 30 */
    char *out, *err;
    int status = command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", directory, NULL}, &out, &err);
    char *expected = expected_dump(1, 29);
    cr_assert_eq(status, 1);
    cr_assert_str_eq(out, expected);
    cr_assert(strstr(err, "torn tail at offset") != NULL, "%s", err);
    cr_assert(strstr(err, path) != NULL, "%s", err);
    cr_assert_eq(file_size(path), tail.bytes - 5, "the dump truncates nothing");
    free(expected);
    free(out);
    free(err);
}

Test(command_spool_dump, corrupt_middle_segment_is_skipped_and_reported)
{
    struct spool_segment middle;
    spool_fill(150, &middle);
    cr_assert_gt(middle.first_sequence, 1);
    char path[4096];
    segment_path(middle.id, path, sizeof path);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t byte;
    off_t offset = SPOOL_SEGMENT_HEADER_SIZE + 30; /* inside the segment's first record */
    cr_assert_eq(pread(fd, &byte, 1, offset), 1);
    byte ^= 0x01;
    cr_assert_eq(pwrite(fd, &byte, 1, offset), 1);
    cr_assert_eq(close(fd), 0);

    char *out, *err;
    int status = command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", directory, NULL}, &out, &err);
    char *before = expected_dump(1, middle.first_sequence - 1);
    char *after = expected_dump(middle.last_sequence + 1, 150);
    cr_assert_eq(status, 1);
    size_t before_length = strlen(before);
    cr_assert_eq(strncmp(out, before, before_length), 0);
    cr_assert_str_eq(out + before_length, after);
    cr_assert(strstr(err, "corrupt record at offset 64") != NULL, "%s", err);
    free(before);
    free(after);
    free(out);
    free(err);
}

Test(command_spool_dump, usage_errors_and_missing_directory)
{
    char *out, *err;
    cr_assert_eq(
        command_capture(relay_command_spool_dump, (char *[]){"spool-dump", NULL}, &out, &err), 2);
    cr_assert(strstr(err, "the spool directory is missing") != NULL, "%s", err);
    cr_assert(strstr(err, "usage: meter-relay spool-dump") != NULL, "%s", err);
    free(out);
    free(err);

    cr_assert_eq(command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", "--limit", "ten", directory, NULL}, &out,
                                 &err),
                 2);
    cr_assert_str_eq(err, "meter-relay spool-dump: --limit \"ten\": expected a non-negative "
                          "decimal number\n");
    free(out);
    free(err);

    cr_assert_eq(command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", "--fix", directory, NULL}, &out, &err),
                 2);
    cr_assert(strstr(err, "unknown option \"--fix\"") != NULL, "%s", err);
    free(out);
    free(err);

    cr_assert_eq(command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", directory, directory, NULL}, &out, &err),
                 2);
    cr_assert(strstr(err, "only one spool directory") != NULL, "%s", err);
    free(out);
    free(err);

    cr_assert_eq(command_capture(relay_command_spool_dump, (char *[]){"spool-dump", "--help", NULL},
                                 &out, &err),
                 0);
    cr_assert_eq(strncmp(out, "usage: meter-relay spool-dump [--from SEQ] [--limit N] DIR\n", 59),
                 0, "%s", out);
    cr_assert_str_eq(err, "");
    free(out);
    free(err);

    cr_assert_eq(command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", "/nonexistent/spool", NULL}, &out, &err),
                 3);
    cr_assert_str_eq(err, "meter-relay spool-dump: spool directory /nonexistent/spool: No such "
                          "file or directory; give the spool.dir of the relay's configuration\n");
    free(out);
    free(err);

    /* An existing directory that is not a spool. */
    cr_assert_eq(command_capture(relay_command_spool_dump,
                                 (char *[]){"spool-dump", directory, NULL}, &out, &err),
                 3);
    cr_assert(strstr(err, "cannot list segments") != NULL, "%s", err);
    cr_assert(strstr(err, "not a spool directory?") != NULL, "%s", err);
    free(out);
    free(err);
}

Test(command_spool_check, clean_spool)
{
    spool_fill(3, NULL);
    char *out, *err;
    int status = command_capture(relay_command_spool_check,
                                 (char *[]){"spool-check", directory, NULL}, &out, &err);
    cr_assert_eq(status, 0, "%s%s", out, err);
    char *expected = NULL;
    cr_assert_geq(asprintf(&expected,
                           "spool %s\n"
                           "segment 00000000000000000001.seg: 3 records, sequence 1..3, 256 bytes\n"
                           "segment 00000000000000000002.seg: no records, 64 bytes\n"
                           "summary: 2 segments, 3 records, 0 segments to quarantine, 0 bytes to "
                           "truncate\n",
                           directory),
                  0);
    cr_assert_str_eq(out, expected);
    cr_assert_str_eq(err, "");
    free(expected);
    free(out);
    free(err);
}

Test(command_spool_check, torn_tail_reported_then_fixed)
{
    struct spool_segment tail = spool_fill(3, NULL);
    char path[4096];
    segment_path(tail.id, path, sizeof path);
    cr_assert_eq(truncate(path, (off_t)tail.bytes - 5), 0);
    char *out, *err;
    int status = command_capture(relay_command_spool_check,
                                 (char *[]){"spool-check", directory, NULL}, &out, &err);
    cr_assert_eq(status, 1, "%s%s", out, err);
    cr_assert(strstr(out, "torn tail at offset 192: 59 bytes would be truncated") != NULL, "%s",
              out);
    cr_assert_eq(file_size(path), tail.bytes - 5);
    free(out);
    free(err);

    status = command_capture(relay_command_spool_check,
                             (char *[]){"spool-check", "--fix", directory, NULL}, &out, &err);
    cr_assert_eq(status, 1, "%s%s", out, err);
    cr_assert(strstr(out, "59 bytes truncated") != NULL, "%s", out);
    /* Not preallocated again: --fix does not know the relay's segment_bytes. */
    cr_assert_eq(file_size(path), 192, "cut at 192");
    free(out);
    free(err);

    status = command_capture(relay_command_spool_check, (char *[]){"spool-check", directory, NULL},
                             &out, &err);
    cr_assert_eq(status, 0, "%s%s", out, err);
    free(out);
    free(err);
}

Test(command_spool_check, locked_by_a_running_relay)
{
    struct spool_options options = test_options(directory, NULL);
    struct spool *spool = test_spool_open(&options, NULL);
    char *out, *err;
    for (int fix = 0; fix <= 1; fix++) {
        int status = command_capture(relay_command_spool_check,
                                     fix ? (char *[]){"spool-check", "--fix", directory, NULL}
                                         : (char *[]){"spool-check", directory, NULL},
                                     &out, &err);
        cr_assert_eq(status, 3, "%s%s", out, err);
        char *expected = NULL;
        cr_assert_geq(asprintf(&expected,
                               "meter-relay spool-check: %s is locked by a running meter-relay; "
                               "stop it and run the check again (spool-dump reads a running "
                               "spool)\n",
                               directory),
                      0);
        cr_assert_str_eq(err, expected);
        cr_assert_str_eq(out, "", "the refusal is said once, on stderr");
        free(expected);
        free(out);
        free(err);
    }
    spool_close(spool);
}

Test(command_spool_check, usage_errors_and_missing_directory)
{
    char *out, *err;
    cr_assert_eq(
        command_capture(relay_command_spool_check, (char *[]){"spool-check", NULL}, &out, &err), 2);
    cr_assert(strstr(err, "usage: meter-relay spool-check [--fix] DIR") != NULL, "%s", err);
    free(out);
    free(err);

    cr_assert_eq(command_capture(relay_command_spool_check,
                                 (char *[]){"spool-check", "--from", "1", directory, NULL}, &out,
                                 &err),
                 2);
    cr_assert(strstr(err, "unknown option \"--from\"") != NULL, "%s", err);
    free(out);
    free(err);

    cr_assert_eq(command_capture(relay_command_spool_check,
                                 (char *[]){"spool-check", "--help", NULL}, &out, &err),
                 0);
    cr_assert(strstr(out, "Exit status: 0 clean, 1 problems found") != NULL, "%s", out);
    free(out);
    free(err);

    char missing[4200];
    snprintf(missing, sizeof missing, "%s/absent", directory);
    cr_assert_eq(command_capture(relay_command_spool_check,
                                 (char *[]){"spool-check", "--fix", missing, NULL}, &out, &err),
                 3);
    cr_assert(strstr(err, "No such file or directory") != NULL, "%s", err);
    cr_assert(!path_exists(missing), "--fix never creates a spool where there was none");
    free(out);
    free(err);

    for (int fix = 0; fix <= 1; fix++) {
        cr_assert_eq(command_capture(relay_command_spool_check,
                                     fix ? (char *[]){"spool-check", "--fix", directory, NULL}
                                         : (char *[]){"spool-check", directory, NULL},
                                     &out, &err),
                     3);
        cr_assert(strstr(err, "holds no seg/ directory") != NULL, "%s", err);
        free(out);
        free(err);
    }
    char reserve[4200];
    snprintf(reserve, sizeof reserve, "%s/reserve", directory);
    cr_assert(!path_exists(reserve), "--fix never makes a spool of a directory that was none");
}
