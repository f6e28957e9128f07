/* Reference agreement of the anomaly vote: every consumption and virtual series of every fixture
 * scenario, voted on, gives the reference's anomaly_stats.csv (status, counts, mean, std,
 * quartiles, fences), anomaly_frames.csv (every analysed day's z scores and rolling statistics,
 * within 1e-9) and anomalies.csv (the flagged days and their flags). Flags are compared on
 * well-conditioned days only (fixtures README): a method is ill-conditioned where its spread is 0
 * in exact arithmetic, i.e. within 1e-9 of its level in floating point; that the criterion finds
 * exactly the reference's own *_illcond counts is asserted too. The shared directory is ../shared
 * unless NEBENKOSTEN_SHARED says otherwise. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch/anomaly_vote.h"

#define ILL_CONDITIONED 1e-9
#define MAX_FIELDS 20

static const char *shared_directory(void)
{
    const char *shared = getenv("NEBENKOSTEN_SHARED");
    return shared && shared[0] ? shared : "../shared";
}

/* A CSV file split into lines and fields in place; the header is checked and dropped. */
struct csv {
    char *text;
    char *(*fields)[MAX_FIELDS];
    size_t count;
};

static struct csv csv_read(const char *scenario, const char *file, const char *header)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/reference/%s/output/%s", shared_directory(), scenario,
             file);
    FILE *stream = fopen(path, "r");
    cr_assert_not_null(stream, "cannot open %s (set NEBENKOSTEN_SHARED)", path);
    struct csv csv = {0};
    size_t length = 0, capacity = 0;
    for (;;) {
        if (length + 4096 > capacity) {
            capacity = capacity ? 2 * capacity : 65536;
            csv.text = realloc(csv.text, capacity + 1);
            cr_assert_not_null(csv.text);
        }
        size_t got = fread(csv.text + length, 1, capacity - length, stream);
        length += got;
        if (got == 0)
            break;
    }
    fclose(stream);
    csv.text[length] = '\0';
    size_t header_length = strlen(header);
    cr_assert(strncmp(csv.text, header, header_length) == 0 && csv.text[header_length] == '\n',
              "%s: header is not %s", path, header);
    size_t lines = 0;
    for (size_t i = 0; i < length; i++)
        lines += csv.text[i] == '\n';
    csv.fields = calloc(lines + 1, sizeof *csv.fields);
    cr_assert_not_null(csv.fields);
    for (char *line = csv.text + header_length + 1; *line;) {
        char *end = strchr(line, '\n');
        cr_assert_not_null(end, "%s: last line not terminated", path);
        *end = '\0';
        size_t field = 0;
        for (char *cursor = line; cursor; field++) {
            cr_assert_lt(field, MAX_FIELDS, "%s: too many fields in %s", path, line);
            csv.fields[csv.count][field] = cursor;
            cursor = strchr(cursor, ',');
            if (cursor)
                *cursor++ = '\0';
        }
        csv.count++;
        line = end + 1;
    }
    return csv;
}

static void csv_free(struct csv *csv)
{
    free(csv->text);
    free(csv->fields);
}

static double number(const char *field)
{
    char *end;
    double value = strtod(field, &end);
    cr_assert(end != field && *end == '\0', "not a number: '%s'", field);
    return value;
}

/* Within 1e-9 relative, 1e-9 absolute near zero; NaN matches NaN and infinities their sign. */
static bool agrees(double ours, double reference)
{
    if (isnan(reference) || isnan(ours))
        return isnan(reference) && isnan(ours);
    if (isinf(reference) || isinf(ours))
        return ours == reference;
    return fabs(ours - reference) <= 1e-9 * fmax(fabs(reference), 1.0);
}

/* Relative only: for levels (values, means, spreads) that can be far below 1. */
static bool agrees_relative(double ours, double reference)
{
    if (isnan(reference) || isnan(ours))
        return isnan(reference) && isnan(ours);
    return fabs(ours - reference) <= 1e-9 * fabs(reference);
}

static bool ill_conditioned(double spread, double level)
{
    return spread <= ILL_CONDITIONED * fabs(level);
}

/* One series as the reference voted on it: its rows in consumption.csv or virtual.csv. */
struct series {
    const char *meter;
    char **stamps;
    double *values;
    size_t count;
};

static struct series series_find(const struct csv *tables, size_t table_count, const char *meter)
{
    struct series series = {.meter = meter};
    for (size_t t = 0; t < table_count; t++)
        for (size_t i = 0; i < tables[t].count; i++) {
            char **row = tables[t].fields[i];
            if (strcmp(row[0], meter) != 0)
                continue;
            series.stamps = realloc(series.stamps, (series.count + 1) * sizeof *series.stamps);
            series.values = realloc(series.values, (series.count + 1) * sizeof *series.values);
            cr_assert(series.stamps && series.values);
            series.stamps[series.count] = row[1];
            series.values[series.count++] = number(row[2]);
        }
    return series;
}

struct tally {
    size_t meters, analysed, days, flag_days, anomaly_days, skipped_flags, noise_reproduced;
};

/* Which of the three methods decide by rounding noise on this day. */
struct conditioning {
    bool zscore, iqr, rolling;
};

static void frames_compare(const char *scenario, const struct series *series,
                           const struct batch_anomaly_day *days, const struct csv *frames,
                           const struct conditioning *meter_ill, bool *rolling_ill,
                           size_t *rolling_ill_count, struct tally *tally)
{
    size_t k = 0;
    for (size_t i = 0; i < frames->count; i++) {
        char **row = frames->fields[i];
        if (strcmp(row[0], series->meter) != 0)
            continue;
        cr_assert_lt(k, series->count, "%s/%s: more frame rows than days", scenario, series->meter);
        const struct batch_anomaly_day *day = &days[k];
        const char *where = series->stamps[k];
        cr_assert_str_eq(row[1], where, "%s/%s: frame row %zu", scenario, series->meter, k);
        double z = number(row[3]), mean = number(row[4]), std = number(row[5]);
        double rolling_z = number(row[6]);
        cr_expect(agrees_relative(day->value, number(row[2])), "%s/%s %s value %.17g", scenario,
                  series->meter, where, day->value);
        if (!meter_ill->zscore)
            cr_expect(agrees(day->z_score, z), "%s/%s %s z %.17g, reference %.17g", scenario,
                      series->meter, where, day->z_score, z);
        cr_expect(agrees_relative(day->rolling_mean, mean), "%s/%s %s rolling mean %.17g, %.17g",
                  scenario, series->meter, where, day->rolling_mean, mean);
        rolling_ill[k] = ill_conditioned(std, mean);
        *rolling_ill_count += rolling_ill[k];
        if (!rolling_ill[k]) {
            cr_expect(agrees_relative(day->rolling_std, std), "%s/%s %s rolling std %.17g, %.17g",
                      scenario, series->meter, where, day->rolling_std, std);
            cr_expect(agrees(day->rolling_z_score, rolling_z),
                      "%s/%s %s rolling z %.17g, reference %.17g", scenario, series->meter, where,
                      day->rolling_z_score, rolling_z);
        }
        int count = (int)number(row[7]);
        if (meter_ill->zscore || meter_ill->iqr || rolling_ill[k]) {
            tally->skipped_flags++;
            /* Not required, but worth knowing: the same operations give the same noise. */
            tally->noise_reproduced += agrees(day->z_score, z) && agrees(day->rolling_std, std) &&
                                       agrees(day->rolling_z_score, rolling_z) &&
                                       day->anomaly_count == count;
        } else {
            cr_expect_eq(day->anomaly_count, count, "%s/%s %s anomaly_count %d, reference %d",
                         scenario, series->meter, where, day->anomaly_count, count);
        }
        k++;
    }
    cr_assert_eq(k, series->count, "%s/%s: %zu frame rows for %zu days", scenario, series->meter, k,
                 series->count);
    tally->days += k;
}

/* anomalies.csv: the flagged days, each with its three flags. */
static void anomalies_compare(const char *scenario, const struct series *series,
                              const struct batch_anomaly_day *days,
                              const struct batch_anomaly_summary *summary,
                              const struct csv *anomalies, const struct conditioning *meter_ill,
                              const bool *rolling_ill, struct tally *tally)
{
    bool *flagged = calloc(series->count, sizeof *flagged);
    cr_assert_not_null(flagged);
    for (size_t i = 0; i < anomalies->count; i++) {
        char **row = anomalies->fields[i];
        if (strcmp(row[0], series->meter) != 0)
            continue;
        size_t k = 0;
        while (k < series->count && strcmp(series->stamps[k], row[1]) != 0)
            k++;
        cr_assert_lt(k, series->count, "%s/%s: flagged day %s is not in the series", scenario,
                     series->meter, row[1]);
        flagged[k] = true;
        const struct batch_anomaly_day *day = &days[k];
        cr_expect(agrees(summary->iqr_lower, number(row[5])) &&
                      agrees(summary->iqr_upper, number(row[6])),
                  "%s/%s %s: fences", scenario, series->meter, row[1]);
        if (!meter_ill->zscore)
            cr_expect_eq(day->anomaly_zscore, number(row[4]) != 0, "%s/%s %s anomaly_zscore",
                         scenario, series->meter, row[1]);
        if (!meter_ill->iqr)
            cr_expect_eq(day->anomaly_iqr, number(row[7]) != 0, "%s/%s %s anomaly_iqr", scenario,
                         series->meter, row[1]);
        if (!rolling_ill[k])
            cr_expect_eq(day->anomaly_rolling, number(row[9]) != 0, "%s/%s %s anomaly_rolling",
                         scenario, series->meter, row[1]);
        cr_expect_eq(number(row[11]), 1, "%s/%s %s: a row of anomalies.csv is an anomaly", scenario,
                     series->meter, row[1]);
        tally->anomaly_days++;
    }
    for (size_t k = 0; k < series->count; k++) {
        if (meter_ill->zscore || meter_ill->iqr || rolling_ill[k])
            continue;
        cr_expect_eq(days[k].is_anomaly, flagged[k], "%s/%s %s: is_anomaly %d, reference %d",
                     scenario, series->meter, series->stamps[k], days[k].is_anomaly, flagged[k]);
        tally->flag_days++;
    }
    free(flagged);
}

struct reference {
    struct csv tables[2]; /* consumption.csv, virtual.csv */
    struct csv stats, frames, anomalies;
};

/* One row of anomaly_stats.csv against the vote on that meter's series. */
static void meter_compare(const char *scenario, char **row, const struct reference *reference,
                          struct tally *tally)
{
    struct series series = series_find(reference->tables, 2, row[0]);
    struct batch_anomaly_day *days = calloc(series.count + 1, sizeof *days);
    cr_assert_not_null(days);
    struct batch_anomaly_summary summary;
    cr_assert_eq(batch_anomaly_vote_compute(series.values, series.count, days, &summary), 0);
    cr_expect_str_eq(batch_anomaly_status_name(summary.status), row[13], "%s/%s: status", scenario,
                     row[0]);
    cr_expect_eq(summary.day_count, (size_t)number(row[1]), "%s/%s: days", scenario, row[0]);
    cr_expect_eq(summary.nonzero_count, (size_t)number(row[2]), "%s/%s: non-zero days", scenario,
                 row[0]);
    tally->meters++;
    if (summary.status == BATCH_ANOMALY_ANALYSED && strcmp(row[13], "analysed") == 0) {
        double expected[6], ours[6] = {summary.mean, summary.std,       summary.q1,
                                       summary.q3,   summary.iqr_lower, summary.iqr_upper};
        for (int i = 0; i < 6; i++)
            expected[i] = number(row[3 + i]);
        /* The reference's accounting of its own noise, met by the criterion used here. */
        struct conditioning meter_ill = {
            .zscore = ill_conditioned(expected[1], expected[0]),
            .iqr = ill_conditioned(expected[3] - expected[2], fmax(expected[2], expected[3])),
        };
        cr_expect_eq(meter_ill.zscore, number(row[14]) != 0, "%s/%s: std_illcond", scenario,
                     row[0]);
        cr_expect_eq(meter_ill.iqr, number(row[15]) != 0, "%s/%s: iqr_illcond", scenario, row[0]);
        for (int i = 0; i < 6; i++) {
            /* A std that is 0 in exact arithmetic is noise: only its size is compared. */
            bool agree = i == 1 && meter_ill.zscore ? ill_conditioned(ours[1], ours[0])
                                                    : agrees_relative(ours[i], expected[i]);
            cr_expect(agree, "%s/%s: %s %.17g, reference %.17g", scenario, row[0],
                      (const char *[]){"mean", "std", "q1", "q3", "iqr_lower", "iqr_upper"}[i],
                      ours[i], expected[i]);
        }
        bool *rolling_ill = calloc(series.count + 1, sizeof *rolling_ill);
        cr_assert_not_null(rolling_ill);
        size_t rolling_ill_count = 0;
        frames_compare(scenario, &series, days, &reference->frames, &meter_ill, rolling_ill,
                       &rolling_ill_count, tally);
        cr_expect_eq(rolling_ill_count, (size_t)number(row[16]), "%s/%s: n_rolling_illcond %zu",
                     scenario, row[0], rolling_ill_count);
        anomalies_compare(scenario, &series, days, &summary, &reference->anomalies, &meter_ill,
                          rolling_ill, tally);
        if (!meter_ill.zscore)
            cr_expect_eq(summary.zscore_count, (size_t)number(row[9]), "%s/%s: n_zscore", scenario,
                         row[0]);
        if (!meter_ill.iqr)
            cr_expect_eq(summary.iqr_count, (size_t)number(row[10]), "%s/%s: n_iqr", scenario,
                         row[0]);
        if (rolling_ill_count == 0)
            cr_expect_eq(summary.rolling_count, (size_t)number(row[11]), "%s/%s: n_rolling",
                         scenario, row[0]);
        free(rolling_ill);
        tally->analysed++;
    }
    free(days);
    free(series.stamps);
    free(series.values);
}

static void scenario_compare(const char *scenario, struct tally *tally)
{
    struct reference reference = {
        .tables = {csv_read(scenario, "consumption.csv", "meter_id,timestamp,value"),
                   csv_read(scenario, "virtual.csv", "meter_id,timestamp,value")},
        .stats = csv_read(scenario, "anomaly_stats.csv",
                          "meter_id,n_days,n_nonzero,mean,std,q1,q3,iqr_lower,iqr_upper,n_zscore,"
                          "n_iqr,n_rolling,n_anomalies,status,std_illcond,iqr_illcond,"
                          "n_rolling_illcond"),
        .anomalies = csv_read(scenario, "anomalies.csv",
                              "meter_id,timestamp,value,z_score,anomaly_zscore,iqr_lower,"
                              "iqr_upper,anomaly_iqr,rolling_z_score,anomaly_rolling,"
                              "anomaly_count,is_anomaly"),
    };
    char path[2048];
    struct stat status;
    snprintf(path, sizeof path, "%s/fixtures/reference/%s/output/anomaly_frames.csv",
             shared_directory(), scenario);
    /* Scenarios where no series qualifies come without frames. */
    if (stat(path, &status) == 0)
        reference.frames = csv_read(scenario, "anomaly_frames.csv",
                                    "meter_id,timestamp,value,z_score,rolling_mean,rolling_std,"
                                    "rolling_z_score,anomaly_count");
    for (size_t i = 0; i < reference.stats.count; i++)
        meter_compare(scenario, reference.stats.fields[i], &reference, tally);
    csv_free(&reference.tables[0]);
    csv_free(&reference.tables[1]);
    csv_free(&reference.stats);
    csv_free(&reference.frames);
    csv_free(&reference.anomalies);
}

Test(anomaly_vote_reference, every_scenario_series_agrees_with_the_reference)
{
    char directory[1024];
    snprintf(directory, sizeof directory, "%s/fixtures/reference", shared_directory());
    DIR *scenarios = opendir(directory);
    cr_assert_not_null(scenarios, "cannot open %s (set NEBENKOSTEN_SHARED)", directory);
    struct tally total = {0};
    size_t scenario_count = 0;
    struct dirent *entry;
    while ((entry = readdir(scenarios))) {
        char path[2048];
        struct stat status;
        snprintf(path, sizeof path, "%s/%s/output/anomaly_stats.csv", directory, entry->d_name);
        if (entry->d_name[0] == '.' || stat(path, &status) != 0)
            continue;
        struct tally tally = {0};
        scenario_compare(entry->d_name, &tally);
        fprintf(stderr,
                "anomaly_vote_reference: %-22s %2zu series (%2zu analysed), %5zu days, %5zu "
                "flag days compared (%4zu ill-conditioned skipped, %4zu of them reproduced all "
                "the same), %3zu anomalies\n",
                entry->d_name, tally.meters, tally.analysed, tally.days, tally.flag_days,
                tally.skipped_flags, tally.noise_reproduced, tally.anomaly_days);
        scenario_count++;
        total.analysed += tally.analysed;
        total.days += tally.days;
        total.flag_days += tally.flag_days;
        total.anomaly_days += tally.anomaly_days;
    }
    closedir(scenarios);
    cr_assert_geq(scenario_count, 13, "only %zu scenarios", scenario_count);
    cr_assert_geq(total.analysed, 40, "only %zu series analysed", total.analysed);
    cr_assert_geq(total.flag_days, 27000, "only %zu days' flags compared", total.flag_days);
    cr_assert_geq(total.anomaly_days, 150, "only %zu anomalies checked", total.anomaly_days);
}
