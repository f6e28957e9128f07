/* The pure parts of the job scheduler: the catch-up decision, retention, the child's command
 * line, meter-batch lookup, run ids, times and the JSON of a run. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/jobs.h"

#define NS 1000000000LL

static int64_t utc(int year, int month, int day, int hour, int minute, int second)
{
    return tz_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

static struct cron_expression cron(const char *text)
{
    struct cron_expression expression;
    char error[256] = "";
    cr_assert_eq(cron_expression_parse(text, &expression, error, sizeof error), 0, "%s", error);
    return expression;
}

Test(jobs_catch_up, due_only_when_a_fire_fell_between_the_last_one_and_now)
{
    struct cron_expression nightly = cron("0 2 * * *");
    int64_t last = utc(2024, 1, 14, 2, 0, 0);
    /* The next fire is 2024-01-15 02:00: not yet at 01:59:59, due from 02:00:00 on. */
    cr_expect_not(jobs_catch_up_due(&nightly, NULL, last, utc(2024, 1, 15, 1, 59, 59)));
    cr_expect(jobs_catch_up_due(&nightly, NULL, last, utc(2024, 1, 15, 2, 0, 0)));
    /* Down for a week: still one answer (the caller starts one run). */
    cr_expect(jobs_catch_up_due(&nightly, NULL, last, utc(2024, 1, 21, 12, 0, 0)));
    /* Nothing recorded (first start) and a clock that went back are never due. */
    cr_expect_not(jobs_catch_up_due(&nightly, NULL, -1, utc(2024, 1, 21, 12, 0, 0)));
    cr_expect_not(jobs_catch_up_due(&nightly, NULL, last, utc(2024, 1, 13, 12, 0, 0)));
    /* A catch-up recorded at 10:00 owes nothing until the next 02:00. */
    int64_t caught_up = utc(2024, 1, 21, 10, 0, 0);
    cr_expect_not(jobs_catch_up_due(&nightly, NULL, caught_up, utc(2024, 1, 22, 1, 0, 0)));
    cr_expect(jobs_catch_up_due(&nightly, NULL, caught_up, utc(2024, 1, 22, 2, 0, 0)));
}

Test(jobs_catch_up, reads_the_expression_in_the_zone)
{
    char error[256] = "";
    struct tz_zone *berlin = tz_zone_load("Europe/Berlin", error, sizeof error);
    cr_assert_not_null(berlin, "%s", error);
    struct cron_expression nightly = cron("0 2 * * *");
    /* 02:00 in Berlin in January is 01:00 UTC. */
    int64_t last = utc(2024, 1, 14, 1, 0, 0);
    cr_expect_not(jobs_catch_up_due(&nightly, berlin, last, utc(2024, 1, 15, 0, 59, 59)));
    cr_expect(jobs_catch_up_due(&nightly, berlin, last, utc(2024, 1, 15, 1, 0, 0)));
    /* The same instants, read in UTC (02:00Z) and in Berlin (01:00Z): only Berlin is due. */
    int64_t after = utc(2024, 1, 14, 2, 0, 0), now = utc(2024, 1, 15, 1, 30, 0);
    cr_expect_not(jobs_catch_up_due(&nightly, NULL, after, now));
    cr_expect(jobs_catch_up_due(&nightly, berlin, after, now));
    tz_zone_free(berlin);
}

/* A run of kind started at second (2024-01-01 plus second) with status. */
static struct job_run *test_run(enum job_kind kind, int second, enum job_status status)
{
    struct job_run *run = calloc(1, sizeof *run);
    cr_assert_not_null(run);
    run->job = kind;
    run->status = status;
    run->started_ns = (utc(2024, 1, 1, 0, 0, 0) + second) * NS;
    run->exit_code = -1;
    run->duration_ns = -1;
    jobs_run_id_format(kind, run->started_ns, 0, run->id, sizeof run->id);
    return run;
}

Test(jobs_retention, keeps_the_newest_of_each_job_and_every_running_one)
{
    /* Newest first: index 0 a running reconcile, then 24 finished reconcile runs with a tibber
     * run after every sixth, and at the very end a "running" reconcile (a record a dead relay
     * left, never deleted by retention while it says running). */
    struct job_run *runs[40];
    size_t count = 0;
    runs[count++] = test_run(JOB_RECONCILE, 1000, JOB_STATUS_RUNNING);
    for (int i = 0; i < 24; i++) {
        runs[count++] = test_run(JOB_RECONCILE, 900 - i * 10, JOB_STATUS_SUCCEEDED);
        if (i % 6 == 5)
            runs[count++] = test_run(JOB_TIBBER, 895 - i * 10, JOB_STATUS_FAILED);
    }
    runs[count++] = test_run(JOB_RECONCILE, 1, JOB_STATUS_RUNNING);
    cr_assert_eq(count, 30);
    size_t remove[40];
    size_t removed = jobs_retention_select(runs, count, 20, remove);
    /* Reconcile runs 21 to 25 of that job (the running one at index 0 counts as the first) sit
     * at indexes 23 to 27; the tibber run after them (28) is one of only 4; the "running" one at
     * the end (29) stays. */
    cr_assert_eq(removed, 5);
    for (size_t i = 0; i < removed; i++)
        cr_expect_eq(remove[i], 23 + i, "remove[%zu]", i);
    cr_expect_eq(runs[28]->job, JOB_TIBBER);
    cr_expect_eq(runs[29]->status, JOB_STATUS_RUNNING);
    cr_expect_eq(jobs_retention_select(runs, count, 30, remove), 0);
    for (size_t i = 0; i < count; i++)
        free(runs[i]);
}

Test(jobs_argv, the_command_line_of_meter_batch)
{
    const char *argv[JOBS_ARGV_MAX];
    size_t count = jobs_argv_build("/usr/bin/meter-batch", "/etc/nebenkosten/config.yaml",
                                   JOB_RECONCILE, "/var/spool/jobs/r.json", argv);
    const char *expected[] = {
        "/usr/bin/meter-batch",  "-c", "/etc/nebenkosten/config.yaml", "reconcile", "--report",
        "/var/spool/jobs/r.json"};
    cr_assert_eq(count, 6);
    for (size_t i = 0; i < count; i++)
        cr_expect_str_eq(argv[i], expected[i], "argv[%zu]", i);
    cr_expect_null(argv[6]);

    count = jobs_argv_build("/opt/meter-batch", NULL, JOB_TIBBER, "/tmp/t.json", argv);
    cr_assert_eq(count, 4, "no -c without a config file");
    cr_expect_str_eq(argv[0], "/opt/meter-batch");
    cr_expect_str_eq(argv[1], "tibber");
    cr_expect_str_eq(argv[2], "--report");
    cr_expect_str_eq(argv[3], "/tmp/t.json");
    cr_expect_null(argv[4]);
}

static char *test_directory_make(void)
{
    char *directory = strdup("/tmp/nebenkosten-jobs-XXXXXX");
    cr_assert_not_null(mkdtemp(directory));
    return directory;
}

static int test_remove_entry(const char *path, const struct stat *status, int flag,
                             struct FTW *walk)
{
    (void)status;
    (void)flag;
    (void)walk;
    return remove(path);
}

static void test_directory_remove(char *directory)
{
    nftw(directory, test_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(directory);
}

static void test_file_write(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0, "%s", path);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
}

Test(jobs_program, configured_beside_the_relay_then_path)
{
    char *root = test_directory_make();
    char bin[128], other[128], self[256], beside[256], on_path[256], search[600], out[512];
    char error[512] = "";
    snprintf(bin, sizeof bin, "%s/bin", root);
    snprintf(other, sizeof other, "%s/other", root);
    mkdir(bin, 0755);
    mkdir(other, 0755);
    snprintf(self, sizeof self, "%s/meter-relay", bin);
    snprintf(beside, sizeof beside, "%s/meter-batch", bin);
    snprintf(on_path, sizeof on_path, "%s/meter-batch", other);
    test_file_write(on_path, "#!/bin/sh\n", 0755);
    snprintf(search, sizeof search, "relative:%s/missing:%s", root, other);

    /* Nothing beside the relay: the one on PATH (relative entries skipped). */
    cr_assert_eq(jobs_program_resolve(NULL, self, search, out, sizeof out, error, sizeof error), 0,
                 "%s", error);
    cr_expect_str_eq(out, on_path);
    /* Beside the relay wins over PATH. */
    test_file_write(beside, "#!/bin/sh\n", 0755);
    cr_assert_eq(jobs_program_resolve(NULL, self, search, out, sizeof out, error, sizeof error), 0);
    cr_expect_str_eq(out, beside);
    /* workflows.batch_program wins over both, and must be executable. */
    cr_assert_eq(jobs_program_resolve(on_path, self, search, out, sizeof out, error, sizeof error),
                 0);
    cr_expect_str_eq(out, on_path);
    chmod(on_path, 0644);
    cr_expect_eq(jobs_program_resolve(on_path, self, search, out, sizeof out, error, sizeof error),
                 -1);
    cr_expect(strstr(error, "workflows.batch_program") != NULL, "%s", error);
    /* Nowhere: the message says where it looked and what to set. */
    unlink(beside);
    cr_expect_eq(jobs_program_resolve(NULL, self, search, out, sizeof out, error, sizeof error),
                 -1);
    cr_expect(strstr(error, bin) != NULL && strstr(error, "workflows.batch_program") != NULL, "%s",
              error);
    test_directory_remove(root);
}

Test(jobs_ids, run_ids_and_times)
{
    int64_t started = utc(2024, 1, 15, 2, 0, 7) * NS + 123456789;
    char id[JOB_RUN_ID_SIZE];
    jobs_run_id_format(JOB_RECONCILE, started, 0, id, sizeof id);
    cr_expect_str_eq(id, "reconcile-20240115T020007Z");
    jobs_run_id_format(JOB_TIBBER, started, 2, id, sizeof id);
    cr_expect_str_eq(id, "tibber-20240115T020007Z-2");
    cr_expect(jobs_run_id_valid(id, strlen(id)));
    cr_expect_not(jobs_run_id_valid("../state", 8));
    cr_expect_not(jobs_run_id_valid("a.json", 6));
    cr_expect_not(jobs_run_id_valid("", 0));

    char text[JOB_TIME_SIZE];
    jobs_time_format(started, text, sizeof text);
    cr_expect_str_eq(text, "2024-01-15T02:00:07.123Z");
    int64_t parsed = 0;
    cr_assert_eq(jobs_time_parse(text, &parsed), 0);
    cr_expect_eq(parsed, started - 456789);
    cr_assert_eq(jobs_time_parse("2020-01-01T00:00:00Z", &parsed), 0);
    cr_expect_eq(parsed, utc(2020, 1, 1, 0, 0, 0) * NS);
    cr_expect_eq(jobs_time_parse("2023-02-30T00:00:00Z", &parsed), -1);
    cr_expect_eq(jobs_time_parse("2023-01-01 00:00:00Z", &parsed), -1);
    cr_expect_eq(jobs_time_parse("2023-01-01T00:00:00+01:00", &parsed), -1);

    enum job_kind kind;
    cr_expect_eq(job_kind_parse("tibber", 6, &kind), 0);
    cr_expect_eq(kind, JOB_TIBBER);
    cr_expect_eq(job_kind_parse("tibberx", 7, &kind), -1);
    cr_expect_str_eq(job_trigger_name(JOB_TRIGGER_CATCH_UP), "catch-up");
    cr_expect_str_eq(job_status_name(JOB_STATUS_TIMED_OUT), "timed_out");
}

Test(jobs_json, a_run_and_back)
{
    struct job_run run = {
        .job = JOB_TIBBER,
        .trigger = JOB_TRIGGER_CATCH_UP,
        .status = JOB_STATUS_TIMED_OUT,
        .started_ns = utc(2024, 3, 1, 5, 0, 0) * NS + 250000000,
        .finished_ns = utc(2024, 3, 1, 5, 10, 10) * NS,
        .duration_ns = 609750LL * 1000000,
        .exit_code = -1,
        .signal = SIGKILL,
    };
    snprintf(run.id, sizeof run.id, "tibber-20240301T050000Z");
    cJSON *object = jobs_run_json(&run, 0);
    char *text = cJSON_PrintUnformatted(object);
    cr_expect_str_eq(text, "{\"id\":\"tibber-20240301T050000Z\",\"job\":\"tibber\",\"trigger\":"
                           "\"catch-up\",\"status\":\"timed_out\",\"started\":\"2024-03-01T05:00:"
                           "00.250Z\",\"finished\":\"2024-03-01T05:10:10.000Z\",\"duration_ms\":"
                           "609750,\"exit_code\":null,\"signal\":\"SIGKILL\"}");
    struct job_run back;
    cr_assert_eq(jobs_run_from_json(object, &back), 0);
    cr_expect_str_eq(back.id, run.id);
    cr_expect_eq(back.job, JOB_TIBBER);
    cr_expect_eq(back.trigger, JOB_TRIGGER_CATCH_UP);
    cr_expect_eq(back.status, JOB_STATUS_TIMED_OUT);
    cr_expect_eq(back.started_ns, run.started_ns);
    cr_expect_eq(back.finished_ns, run.finished_ns);
    cr_expect_eq(back.duration_ns, run.duration_ns);
    cr_expect_eq(back.exit_code, -1);
    cr_expect_eq(back.signal, SIGKILL);
    cJSON_free(text);
    cJSON_Delete(object);

    /* Running: pid, and the duration so far. */
    struct job_run running = {.job = JOB_RECONCILE,
                              .trigger = JOB_TRIGGER_MANUAL,
                              .status = JOB_STATUS_RUNNING,
                              .started_ns = 10 * NS,
                              .duration_ns = -1,
                              .exit_code = -1,
                              .pid = 4242};
    snprintf(running.id, sizeof running.id, "reconcile-19700101T000010Z");
    object = jobs_run_json(&running, 12500 * 1000000LL);
    cr_expect_eq(cJSON_GetObjectItem(object, "duration_ms")->valuedouble, 2500);
    cr_expect_eq(cJSON_GetObjectItem(object, "pid")->valuedouble, 4242);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(object, "finished")));
    cJSON_Delete(object);

    cJSON *broken = cJSON_Parse("{\"id\":\"x\",\"job\":\"nightly\",\"trigger\":\"manual\","
                                "\"status\":\"failed\",\"started\":\"2024-01-01T00:00:00Z\"}");
    cr_expect_eq(jobs_run_from_json(broken, &back), -1, "an unknown job is refused");
    cJSON_Delete(broken);
}
