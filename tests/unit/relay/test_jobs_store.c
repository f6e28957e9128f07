/* The files of the job scheduler: state.json round trip, run records (a run a dead relay left
 * "running" comes back interrupted), deleting a run's files, the log tail and reports. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/jobs.h"

#define NS 1000000000LL

static char *directory;

static void store_setup(void)
{
    directory = strdup("/tmp/nebenkosten-jobs-store-XXXXXX");
    cr_assert_not_null(mkdtemp(directory));
}

static int store_remove_entry(const char *path, const struct stat *status, int flag,
                              struct FTW *walk)
{
    (void)status;
    (void)flag;
    (void)walk;
    return remove(path);
}

static void store_teardown(void)
{
    nftw(directory, store_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(directory);
    directory = NULL;
}

TestSuite(jobs_store, .init = store_setup, .fini = store_teardown);

static void store_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", directory, name);
}

static void store_file_write(const char *name, const char *data, size_t length)
{
    char path[512];
    store_path(path, sizeof path, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, length), (ssize_t)length);
    close(fd);
}

static bool store_exists(const char *name)
{
    char path[512];
    store_path(path, sizeof path, name);
    return access(path, F_OK) == 0;
}

Test(jobs_store, state_round_trip)
{
    char path[512], error[512] = "";
    store_path(path, sizeof path, JOB_STATE_FILE);
    struct jobs_state state;
    cr_expect_eq(jobs_state_read(path, &state, error, sizeof error), 1, "absent");
    cr_expect_eq(state.last_fire[JOB_RECONCILE], -1);
    cr_expect_eq(state.last_fire[JOB_TIBBER], -1);

    state.last_fire[JOB_RECONCILE] = 1705284000; /* 2024-01-15T02:00:00Z */
    state.last_fire[JOB_TIBBER] = -1;
    cr_assert_eq(jobs_state_write(path, &state, error, sizeof error), 0, "%s", error);
    cr_expect_not(store_exists(JOB_STATE_FILE ".tmp"), "the temp file was renamed");
    struct jobs_state back;
    cr_assert_eq(jobs_state_read(path, &back, error, sizeof error), 0, "%s", error);
    cr_expect_eq(back.last_fire[JOB_RECONCILE], 1705284000);
    cr_expect_eq(back.last_fire[JOB_TIBBER], -1);

    /* Written by hand (as the integration test does): times with or without milliseconds. */
    static const char by_hand[] = "{\"tibber\":{\"last_fire\":\"2020-01-01T00:00:00Z\"}}";
    store_file_write(JOB_STATE_FILE, by_hand, sizeof by_hand - 1);
    cr_assert_eq(jobs_state_read(path, &back, error, sizeof error), 0, "%s", error);
    cr_expect_eq(back.last_fire[JOB_RECONCILE], -1);
    cr_expect_eq(back.last_fire[JOB_TIBBER], 1577836800);

    static const char broken[] = "{\"reconcile\":{\"last_fire\":\"yesterday\"}}";
    store_file_write(JOB_STATE_FILE, broken, sizeof broken - 1);
    cr_expect_eq(jobs_state_read(path, &back, error, sizeof error), -1);
    cr_expect(strstr(error, "reconcile.last_fire") && strstr(error, path), "%s", error);
}

static struct job_run store_run(enum job_kind kind, int64_t started_seconds, enum job_status status)
{
    struct job_run run = {.job = kind,
                          .trigger = JOB_TRIGGER_SCHEDULE,
                          .status = status,
                          .started_ns = started_seconds * NS,
                          .duration_ns = -1,
                          .exit_code = -1};
    jobs_run_id_format(kind, run.started_ns, 0, run.id, sizeof run.id);
    if (status != JOB_STATUS_RUNNING) {
        run.finished_ns = run.started_ns + 5 * NS;
        run.duration_ns = 5 * NS;
        run.exit_code = status == JOB_STATUS_SUCCEEDED ? 0 : 1;
    } else {
        run.pid = 777;
    }
    return run;
}

Test(jobs_store, records_load_newest_first_and_running_ones_come_back_interrupted)
{
    char error[512] = "";
    struct job_run written[] = {
        store_run(JOB_RECONCILE, 1705284000, JOB_STATUS_SUCCEEDED),
        store_run(JOB_TIBBER, 1705287900, JOB_STATUS_FAILED),
        store_run(JOB_RECONCILE, 1705370400, JOB_STATUS_RUNNING),
    };
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(jobs_run_record_write(directory, &written[i], error, sizeof error), 0, "%s",
                     error);
    store_file_write("reconcile-20240101T000000Z.run.json", "{\"id\":", 6); /* damaged */
    store_file_write("reconcile-20240115T020000Z.json", "{}", 2);           /* a report */
    struct job_run **runs = NULL;
    size_t count = 0, skipped = 0;
    cr_assert_eq(jobs_runs_load(directory, &runs, &count, &skipped, error, sizeof error), 0, "%s",
                 error);
    cr_assert_eq(count, 3);
    cr_expect_eq(skipped, 1);
    cr_expect_str_eq(runs[0]->id, "reconcile-20240116T020000Z");
    cr_expect_eq(runs[0]->status, JOB_STATUS_INTERRUPTED);
    cr_expect_eq(runs[0]->pid, 0);
    cr_expect_str_eq(runs[1]->id, "tibber-20240115T030500Z");
    cr_expect_eq(runs[1]->status, JOB_STATUS_FAILED);
    cr_expect_eq(runs[1]->exit_code, 1);
    cr_expect_str_eq(runs[2]->id, "reconcile-20240115T020000Z");
    cr_expect_eq(runs[2]->status, JOB_STATUS_SUCCEEDED);
    cr_expect_eq(runs[2]->duration_ns, 5 * NS);
    cr_expect_eq(runs[2]->finished_ns, (1705284000 + 5) * NS);
    jobs_runs_free(runs, count);
}

Test(jobs_store, removing_a_run_deletes_its_files_only)
{
    char error[512] = "";
    const char *names[] = {
        "reconcile-20240115T020000Z.run.json", "reconcile-20240115T020000Z.log",
        "reconcile-20240115T020000Z.json",     "reconcile-20240115T020000Z.json.tmp",
        "reconcile-20240115T020000Z-1.log",    JOB_STATE_FILE};
    for (size_t i = 0; i < 6; i++)
        store_file_write(names[i], "x", 1);
    cr_assert_eq(
        jobs_run_files_remove(directory, "reconcile-20240115T020000Z", error, sizeof error), 0,
        "%s", error);
    for (size_t i = 0; i < 4; i++)
        cr_expect_not(store_exists(names[i]), "%s deleted", names[i]);
    cr_expect(store_exists(names[4]), "the run of the same second with a suffix stays");
    cr_expect(store_exists(names[5]));
}

Test(jobs_store, log_tail_starts_at_a_line_and_is_valid_utf8)
{
    /* 2000 lines of 50 bytes = 100000 bytes; the tail of 64 KiB starts at a line start. */
    size_t length = 2000 * 50;
    char *data = malloc(length + 1); /* snprintf's NUL after the last line */
    for (int line = 0; line < 2000; line++)
        snprintf(data + line * 50, 51, "line %04d %-39s\n", line, "x");
    store_file_write("r.log", data, length);
    free(data);
    char path[512];
    store_path(path, sizeof path, "r.log");
    size_t got = 0;
    uint64_t total = 0;
    char *tail = jobs_log_tail_read(path, 64 * 1024, &got, &total);
    cr_assert_not_null(tail);
    cr_expect_eq(total, 100000);
    /* 65536 bytes from 34464, which is inside line 689; the tail starts with line 690. */
    cr_expect_eq(strncmp(tail, "line 0690 ", 10), 0, "%.20s", tail);
    cr_expect_eq(got, (size_t)(2000 - 690) * 50);
    free(tail);

    static const char odd[] = "ok \xc3\xa4 bad \xff\xfe end\n";
    store_file_write("odd.log", odd, sizeof odd - 1);
    store_path(path, sizeof path, "odd.log");
    tail = jobs_log_tail_read(path, 64 * 1024, &got, &total);
    cr_assert_not_null(tail);
    cr_expect_str_eq(tail, "ok \xc3\xa4 bad ?? end\n");
    free(tail);
}

Test(jobs_store, reports)
{
    char path[512];
    const char *problem = NULL;
    store_path(path, sizeof path, "missing.json");
    cr_expect_null(jobs_report_read(path, 1024, &problem));
    cr_expect_null(problem, "an absent report is no problem");
    store_file_write("r.json", "{\"summary\":{\"meters\":3}}", 24);
    store_path(path, sizeof path, "r.json");
    cJSON *report = jobs_report_read(path, 1024, &problem);
    cr_assert_not_null(report);
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(report, "summary"), "meters")->valueint,
                 3);
    cJSON_Delete(report);
    cr_expect_null(jobs_report_read(path, 10, &problem));
    cr_expect_str_eq(problem, "the report is too large to show; read the file");
    store_file_write("bad.json", "{not json", 9);
    store_path(path, sizeof path, "bad.json");
    cr_expect_null(jobs_report_read(path, 1024, &problem));
    cr_expect_str_eq(problem, "the report is not JSON");
}
