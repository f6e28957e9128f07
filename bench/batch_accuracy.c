/* bench-batch-accuracy: how close `meter-batch reconcile` comes to the truth, in its default mode
 * and with `--compat reference` (issue 6). A synthetic scenario with known truth
 * (bench/batch_accuracy/generate.h, scenario.h) is checked against itself (verify.h), reconciled
 * in both modes, and each run's daily consumption is scored against the true use, by the reading
 * gap each day lies in and by kind of meter (score.h).
 *
 *   bench-batch-accuracy [run] [--seed N] [--meters N] [--years N] [--dir DIR]
 *                        [--meter-batch PATH] [--check] [--bar daily|monthly]
 *   bench-batch-accuracy generate --dir DIR [--seed N] [--meters N] [--years N]
 *   bench-batch-accuracy verify --dir DIR
 *   bench-batch-accuracy score --dir DIR [--default OUTDIR] [--reference OUTDIR] [--check]
 *                        [--bar daily|monthly]
 *
 * run does all four steps: the scenario goes to DIR (kept), or to a temporary directory (removed
 * unless a step failed); the runs write DIR/out-default and DIR/out-reference, their messages
 * DIR/reconcile-<mode>.log. meter-batch is PATH, else the one next to this program. score reads
 * DIR/out-default and DIR/out-reference unless told otherwise. --check makes a missed bar exit 1
 * (without it the bar is only printed, as `make bench` wants); --bar says which figure the bar for
 * gaps of 7 days or more judges: the daily consumption (default, as issue 6 words it) or its
 * monthly sums (see bench/README.md for why). Exit status 0, 1 when a step failed or --check saw
 * the bar missed, 2 for a usage error. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/batch_accuracy/csv.h"
#include "bench/batch_accuracy/generate.h"
#include "bench/batch_accuracy/scenario.h"
#include "bench/batch_accuracy/score.h"
#include "bench/batch_accuracy/truth.h"
#include "bench/batch_accuracy/verify.h"

extern char **environ;

static const char *const mode_names[ACCURACY_MODES] = {"default", "reference"};

struct options {
    const char *command;
    struct accuracy_options scenario;
    const char *dir;
    const char *meter_batch;
    const char *out_dirs[ACCURACY_MODES];
    bool check;
    enum accuracy_bar bar;
};

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + now.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: bench-batch-accuracy [run] [--seed N] [--meters N] [--years N] [--dir DIR]\n"
            "                            [--meter-batch PATH] [--check] [--bar daily|monthly]\n"
            "       bench-batch-accuracy generate --dir DIR [--seed N] [--meters N] [--years N]\n"
            "       bench-batch-accuracy verify --dir DIR\n"
            "       bench-batch-accuracy score --dir DIR [--default OUTDIR] [--reference OUTDIR] "
            "[--check]\n"
            "                            [--bar daily|monthly]\n"
            "(defaults: --seed 1 --meters 300 --years 3, from 2022-01-01)\n");
    return 2;
}

static bool number_parse(const char *text, unsigned long long low, unsigned long long high,
                         unsigned long long *value)
{
    char *end;
    errno = 0;
    *value = strtoull(text, &end, 10);
    return end != text && *end == '\0' && errno == 0 && *value >= low && *value <= high &&
           text[0] != '-';
}

static int options_parse(int argc, char **argv, struct options *options)
{
    *options = (struct options){
        .command = "run",
        .scenario = {.seed = 1, .meters = 300, .start_year = 2022, .years = 3},
    };
    int i = 1;
    if (i < argc && argv[i][0] != '-')
        options->command = argv[i++];
    if (strcmp(options->command, "run") != 0 && strcmp(options->command, "generate") != 0 &&
        strcmp(options->command, "verify") != 0 && strcmp(options->command, "score") != 0) {
        fprintf(stderr, "bench-batch-accuracy: unknown command \"%s\"\n", options->command);
        return -1;
    }
    for (; i < argc; i++) {
        const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long number;
        if (strcmp(name, "--check") == 0) {
            options->check = true;
            continue;
        }
        if (!value) {
            fprintf(stderr, "bench-batch-accuracy: %s needs a value\n", name);
            return -1;
        }
        i++;
        if (strcmp(name, "--seed") == 0 && number_parse(value, 0, UINT64_MAX, &number))
            options->scenario.seed = number;
        else if (strcmp(name, "--meters") == 0 && number_parse(value, 1, 100000, &number))
            options->scenario.meters = (unsigned)number;
        else if (strcmp(name, "--years") == 0 && number_parse(value, 2, 30, &number))
            options->scenario.years = (int)number;
        else if (strcmp(name, "--dir") == 0)
            options->dir = value;
        else if (strcmp(name, "--meter-batch") == 0)
            options->meter_batch = value;
        else if (strcmp(name, "--default") == 0)
            options->out_dirs[ACCURACY_DEFAULT] = value;
        else if (strcmp(name, "--reference") == 0)
            options->out_dirs[ACCURACY_REFERENCE] = value;
        else if (strcmp(name, "--bar") == 0 && strcmp(value, "daily") == 0)
            options->bar = ACCURACY_BAR_DAILY;
        else if (strcmp(name, "--bar") == 0 && strcmp(value, "monthly") == 0)
            options->bar = ACCURACY_BAR_MONTHLY;
        else {
            fprintf(stderr, "bench-batch-accuracy: %s %s: unknown option or bad value\n", name,
                    value);
            return -1;
        }
    }
    if (!options->dir && strcmp(options->command, "run") != 0) {
        fprintf(stderr, "bench-batch-accuracy: %s needs --dir\n", options->command);
        return -1;
    }
    return 0;
}

static int scenario_generate(const struct options *options, const char *dir)
{
    struct accuracy_summary s;
    double start = seconds_now();
    if (accuracy_scenario_write(&options->scenario, dir, &s) != 0)
        return -1;
    printf("bench-batch-accuracy: seed %llu, %u measuring points (%u gas, %u heat, %u electricity, "
           "%u water; read by hand %u, irregularly by hand %u, daily %u, by hand then daily %u), "
           "%d-01-01 .. %s\n",
           (unsigned long long)options->scenario.seed, options->scenario.meters,
           s.kinds[ACCURACY_GAS], s.kinds[ACCURACY_HEAT], s.kinds[ACCURACY_ELECTRICITY],
           s.kinds[ACCURACY_WATER], s.styles[ACCURACY_MANUAL], s.styles[ACCURACY_IRREGULAR],
           s.styles[ACCURACY_DAILY], s.styles[ACCURACY_MANUAL_DAILY], options->scenario.start_year,
           s.today);
    printf("scenario: %u physical meters, %u master meters (replacements), %zu readings, %u "
           "transient zeros, %u resets, %u meters with a seasonal pattern configured; in %s "
           "(%.2f s)\n",
           s.physical, s.masters, s.readings, s.transient_zeros, s.resets, s.configured_patterns,
           dir, seconds_now() - start);
    return 0;
}

static int scenario_verify(const char *dir)
{
    struct accuracy_truth truth;
    if (accuracy_truth_load(dir, &truth) != 0)
        return -1;
    int status = accuracy_scenario_verify(dir, &truth, stdout);
    accuracy_truth_free(&truth);
    return status;
}

/* Scores the runs; returns 0, 1 when the bar is missed and check asks for it, -1 on errors. */
static int runs_score(const char *dir, const char *const out_dirs[ACCURACY_MODES],
                      const struct options *options)
{
    struct accuracy_truth truth;
    if (accuracy_truth_load(dir, &truth) != 0)
        return -1;
    struct accuracy_score score;
    int status = accuracy_outputs_score(&truth, out_dirs, &score);
    accuracy_truth_free(&truth);
    if (status != 0)
        return -1;
    printf("\n");
    accuracy_score_print(&score, stdout);
    printf("\n");
    bool met = accuracy_score_bar(&score, options->bar, stdout);
    return options->check && !met ? 1 : 0;
}

/* Whether the file at path contains needle (in its first 64 KiB). */
static bool file_contains(const char *path, const char *needle)
{
    static char text[65536];
    FILE *file = fopen(path, "r");
    if (!file)
        return false;
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file); /* read only */
    text[length] = '\0';
    return strstr(text, needle) != NULL;
}

/* Runs `meter-batch reconcile` on the scenario in one mode. Returns 0, or -1 after printing why
 * (the log's path, or that reconcile does not exist). */
static int reconcile_run(const char *meter_batch, const char *dir, const char *today,
                         enum accuracy_mode mode, const char *out_dir)
{
    char config[PATH_MAX], readings[PATH_MAX], log[PATH_MAX];
    char log_name[64];
    snprintf(log_name, sizeof log_name, "reconcile-%s.log", mode_names[mode]);
    if (accuracy_path_join(config, sizeof config, dir, "config.yaml") != 0 ||
        accuracy_path_join(readings, sizeof readings, dir, "readings.csv") != 0 ||
        accuracy_path_join(log, sizeof log, dir, log_name) != 0)
        return -1;
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench-batch-accuracy: cannot create %s: %s\n", out_dir, strerror(errno));
        return -1;
    }
    char *argv[] = {(char *)meter_batch,
                    "reconcile",
                    "-c",
                    config,
                    "--readings",
                    readings,
                    "--today",
                    (char *)today,
                    "--out",
                    (char *)out_dir,
                    NULL,
                    NULL,
                    NULL};
    if (mode == ACCURACY_REFERENCE) {
        argv[10] = "--compat";
        argv[11] = "reference";
    }
    posix_spawn_file_actions_t actions;
    if (posix_spawn_file_actions_init(&actions) != 0 ||
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0666) !=
            0 ||
        posix_spawn_file_actions_adddup2(&actions, 1, 2) != 0) {
        fprintf(stderr, "bench-batch-accuracy: out of memory\n");
        return -1;
    }
    double start = seconds_now();
    pid_t pid;
    int error = posix_spawn(&pid, meter_batch, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
        fprintf(stderr, "bench-batch-accuracy: cannot start %s: %s (--meter-batch PATH)\n",
                meter_batch, strerror(error));
        return -1;
    }
    int status;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "bench-batch-accuracy: waiting for %s: %s\n", meter_batch,
                    strerror(errno));
            return -1;
        }
    }
    double seconds = seconds_now() - start;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("reconcile %s: %.2f s, peak RSS %.1f MiB\n", mode_names[mode], seconds,
               usage.ru_maxrss / 1024.0);
        return 0;
    }
    if (file_contains(log, "unknown command \"reconcile\""))
        fprintf(stderr,
                "bench-batch-accuracy: meter-batch reconcile not available (%s has no "
                "reconcile command)\n",
                meter_batch);
    else if (WIFEXITED(status))
        fprintf(stderr, "bench-batch-accuracy: meter-batch reconcile (%s) exited with %d; see %s\n",
                mode_names[mode], WEXITSTATUS(status), log);
    else
        fprintf(stderr,
                "bench-batch-accuracy: meter-batch reconcile (%s) died of signal %d; see %s\n",
                mode_names[mode], WTERMSIG(status), log);
    return -1;
}

/* meter-batch next to this program. */
static int meter_batch_find(char path[PATH_MAX])
{
    ssize_t length = readlink("/proc/self/exe", path, PATH_MAX - 1);
    if (length <= 0) {
        fprintf(stderr, "bench-batch-accuracy: cannot find myself (%s); use --meter-batch PATH\n",
                strerror(errno));
        return -1;
    }
    path[length] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) + sizeof "/meter-batch" > PATH_MAX)
        return -1;
    strcpy(slash, "/meter-batch");
    return 0;
}

static int tree_remove_entry(const char *path, const struct stat *stat, int flag, struct FTW *walk)
{
    (void)stat;
    (void)flag;
    (void)walk;
    if (remove(path) != 0)
        fprintf(stderr, "bench-batch-accuracy: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static int command_run(const struct options *options)
{
    char temporary[PATH_MAX], meter_batch[PATH_MAX], out_dirs[ACCURACY_MODES][PATH_MAX];
    const char *dir = options->dir;
    if (options->meter_batch)
        snprintf(meter_batch, sizeof meter_batch, "%.*s", PATH_MAX - 1, options->meter_batch);
    else if (meter_batch_find(meter_batch) != 0)
        return 1;
    if (!dir) {
        const char *base = getenv("TMPDIR");
        if (accuracy_path_join(temporary, sizeof temporary, base && *base ? base : "/tmp",
                               "bench-batch-accuracy.XXXXXX") != 0)
            return 1;
        if (!mkdtemp(temporary)) {
            fprintf(stderr, "bench-batch-accuracy: cannot create %s: %s\n", temporary,
                    strerror(errno));
            return 1;
        }
        dir = temporary;
    }
    int status = scenario_generate(options, dir) == 0 && scenario_verify(dir) == 0 ? 0 : 1;
    char today[32];
    snprintf(today, sizeof today, "%d-12-31",
             options->scenario.start_year + options->scenario.years - 1);
    for (int mode = 0; mode < ACCURACY_MODES && status == 0; mode++) {
        char name[32];
        snprintf(name, sizeof name, "out-%s", mode_names[mode]);
        if (accuracy_path_join(out_dirs[mode], PATH_MAX, dir, name) != 0 ||
            reconcile_run(meter_batch, dir, today, (enum accuracy_mode)mode, out_dirs[mode]) != 0)
            status = 1;
    }
    if (status == 0) {
        const char *const dirs[ACCURACY_MODES] = {out_dirs[0], out_dirs[1]};
        int scored = runs_score(dir, dirs, options);
        status = scored == 0 ? 0 : 1;
    }
    if (!options->dir && status == 0)
        nftw(dir, tree_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (!options->dir)
        fprintf(stderr, "bench-batch-accuracy: the scenario and the runs' logs stay in %s\n", dir);
    return status;
}

int main(int argc, char **argv)
{
    struct options options;
    if (options_parse(argc, argv, &options) != 0)
        return usage();
    if (strcmp(options.command, "generate") == 0)
        return scenario_generate(&options, options.dir) == 0 ? 0 : 1;
    if (strcmp(options.command, "verify") == 0)
        return scenario_verify(options.dir) == 0 ? 0 : 1;
    if (strcmp(options.command, "score") == 0) {
        char defaults[ACCURACY_MODES][PATH_MAX];
        const char *dirs[ACCURACY_MODES];
        for (int mode = 0; mode < ACCURACY_MODES; mode++) {
            char name[32];
            snprintf(name, sizeof name, "out-%s", mode_names[mode]);
            if (accuracy_path_join(defaults[mode], PATH_MAX, options.dir, name) != 0)
                return 1;
            dirs[mode] = options.out_dirs[mode] ? options.out_dirs[mode] : defaults[mode];
        }
        return runs_score(options.dir, dirs, &options) == 0 ? 0 : 1;
    }
    return command_run(&options);
}
