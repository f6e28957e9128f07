/* Reference agreement of batch_rate_estimate: every estimate_consumption_rate call in every fixture
 * scenario's trace.jsonl, reconstructed from input/readings.csv the way the reference builds its
 * arguments, gives the traced n, first/last timestamp, rate (1e-9 relative), R² (1e-9) and method.
 * For each create_standardized_daily_series line (its dates are the meter's configuration), the
 * reference takes all the meter's readings, thins them when there are more than 100 (> 1000: first,
 * every ⌊(n - 2) / 48⌋-th of the rest, last; 101..1000: the last reading of each UTC day stamped at
 * its midnight, plus the last reading), then:
 * - backward, when the first reading is after max(start, installation): a rate from the readings;
 *   rate > 0 prepends the extrapolated value at the grid start, or, when that would be negative, 0
 *   at the zero crossing (not before the grid start) and 0 at the grid start if later; a zero rate
 *   or a single reading prepends 0 at the grid start;
 * - forward, when the last reading is before min(deinstallation, end) and there are >= 2 rows: a
 *   rate from the rows so far, synthetic ones included.
 * The shared directory is ../shared unless NEBENKOSTEN_SHARED says otherwise. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "batch/rate_estimate.h"

#define NS_PER_SECOND 1000000000LL
#define SECONDS_PER_DAY 86400LL

static const char *shared_directory(void)
{
    const char *shared = getenv("NEBENKOSTEN_SHARED");
    return shared && shared[0] ? shared : "../shared";
}

static char *file_read(const char *path)
{
    FILE *stream = fopen(path, "r");
    cr_assert_not_null(stream, "cannot open %s (set NEBENKOSTEN_SHARED)", path);
    cr_assert_eq(fseek(stream, 0, SEEK_END), 0);
    long size = ftell(stream);
    cr_assert_geq(size, 0);
    rewind(stream);
    char *text = malloc((size_t)size + 1);
    cr_assert_not_null(text);
    cr_assert_eq(fread(text, 1, (size_t)size, stream), (size_t)size);
    text[size] = '\0';
    fclose(stream);
    return text;
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" as ns since the epoch. */
static int64_t timestamp_parse(const char *text)
{
    struct tm tm = {0};
    int n = sscanf(text, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec);
    cr_assert(n == 3 || n == 6, "not a timestamp: %.20s", text);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * NS_PER_SECOND;
}

struct reading {
    char meter[64];
    int64_t t_ns;
    double value;
    size_t line;
};

static int reading_compare(const void *a, const void *b)
{
    const struct reading *left = a, *right = b;
    int meter = strcmp(left->meter, right->meter);
    if (meter != 0)
        return meter;
    if (left->t_ns != right->t_ns)
        return (left->t_ns > right->t_ns) - (left->t_ns < right->t_ns);
    return (left->line > right->line) - (left->line < right->line);
}

static struct reading *readings_load(const char *scenario, size_t *count)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/reference/%s/input/readings.csv", shared_directory(),
             scenario);
    char *text = file_read(path);
    const char *header = "meter_id,timestamp,value\n";
    cr_assert(strncmp(text, header, strlen(header)) == 0, "%s: header", path);
    size_t capacity = 1;
    for (const char *c = text; *c; c++)
        capacity += *c == '\n';
    struct reading *readings = calloc(capacity, sizeof *readings);
    cr_assert_not_null(readings);
    *count = 0;
    for (char *line = text + strlen(header); *line;) {
        char *end = strchr(line, '\n');
        cr_assert_not_null(end);
        *end = '\0';
        char *comma = strchr(line, ',');
        cr_assert(comma && (size_t)(comma - line) < sizeof readings->meter, "%s: %s", path, line);
        struct reading *r = &readings[*count];
        memcpy(r->meter, line, (size_t)(comma - line));
        r->t_ns = timestamp_parse(comma + 1);
        r->value = strtod(strchr(comma + 1, ',') + 1, NULL);
        r->line = (*count)++;
        line = end + 1;
    }
    free(text);
    qsort(readings, *count, sizeof *readings, reading_compare);
    return readings;
}

/* The value text of "key": in a flat JSON line ("null" included), copied into out. */
static bool json_field(const char *line, const char *key, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(line, pattern);
    if (!at)
        return false;
    at += strlen(pattern);
    size_t length;
    if (*at == '"') {
        at++;
        length = strcspn(at, "\"");
    } else {
        length = strcspn(at, ",}");
    }
    cr_assert_lt(length, size, "field %s too long in %s", key, line);
    memcpy(out, at, length);
    out[length] = '\0';
    return true;
}

static void timestamp_format(int64_t t_ns, char *out, size_t size)
{
    time_t seconds = (time_t)(t_ns / NS_PER_SECOND);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A meter's rows as the reference holds them while building its daily series. */
struct rows {
    int64_t *t_ns;
    double *values;
    size_t count, capacity;
};

static void rows_insert(struct rows *rows, size_t at, int64_t t_ns, double value)
{
    if (rows->count == rows->capacity) {
        rows->capacity = rows->capacity ? 2 * rows->capacity : 64;
        rows->t_ns = realloc(rows->t_ns, rows->capacity * sizeof *rows->t_ns);
        rows->values = realloc(rows->values, rows->capacity * sizeof *rows->values);
        cr_assert(rows->t_ns && rows->values);
    }
    memmove(rows->t_ns + at + 1, rows->t_ns + at, (rows->count - at) * sizeof *rows->t_ns);
    memmove(rows->values + at + 1, rows->values + at, (rows->count - at) * sizeof *rows->values);
    rows->t_ns[at] = t_ns;
    rows->values[at] = value;
    rows->count++;
}

/* reduce_high_frequency_data on a meter's n > 100 readings. Raw timestamps are unique here, so its
 * final de-duplication and sort change nothing. */
static void rows_thin(struct rows *rows, const struct reading *raw, size_t n, const char *path)
{
    if (n > 1000) {
        size_t step = (n - 2) / 48 > 1 ? (n - 2) / 48 : 1;
        rows_insert(rows, rows->count, raw[0].t_ns, raw[0].value);
        for (size_t i = 1; i < n - 1; i += step)
            rows_insert(rows, rows->count, raw[i].t_ns, raw[i].value);
        rows_insert(rows, rows->count, raw[n - 1].t_ns, raw[n - 1].value);
        cr_assert_str_eq(path, "very_dense_stride");
        return;
    }
    const int64_t day_ns = SECONDS_PER_DAY * NS_PER_SECOND;
    for (size_t i = 0; i < n; i++) {
        int64_t midnight = raw[i].t_ns - raw[i].t_ns % day_ns;
        if (rows->count && rows->t_ns[rows->count - 1] == midnight)
            rows->values[rows->count - 1] = raw[i].value;
        else
            rows_insert(rows, rows->count, midnight, raw[i].value);
    }
    if (rows->t_ns[rows->count - 1] < raw[n - 1].t_ns)
        rows_insert(rows, rows->count, raw[n - 1].t_ns, raw[n - 1].value);
    cr_assert_str_eq(path, "medium_daily_resample");
}

/* One estimate the reference made and one we make on the same rows. */
struct call {
    struct batch_rate_estimate ours;
    int64_t first_ns, last_ns;
};

static struct call call_make(const struct rows *rows)
{
    struct call call = {.first_ns = rows->t_ns[0], .last_ns = rows->t_ns[rows->count - 1]};
    cr_assert_eq(batch_rate_estimate(rows->t_ns, rows->values, rows->count, &call.ours), 0);
    return call;
}

/* The calls create_standardized_daily_series makes for one series line; calls holds 2. */
static size_t series_simulate(const char *line, const char *scenario, const struct reading *all,
                              size_t all_count, const char *reduce_line, struct call *calls)
{
    char meter[64], start[32], end[32], install[32], deinstall[32];
    cr_assert(json_field(line, "meter_id", meter, sizeof meter) &&
              json_field(line, "start_date", start, sizeof start) &&
              json_field(line, "end_date", end, sizeof end) &&
              json_field(line, "installation_date", install, sizeof install) &&
              json_field(line, "deinstallation_date", deinstall, sizeof deinstall));
    size_t first = 0;
    while (first < all_count && strcmp(all[first].meter, meter) != 0)
        first++;
    size_t n = 0;
    while (first + n < all_count && strcmp(all[first + n].meter, meter) == 0)
        n++;
    cr_assert_gt(n, 0, "%s/%s: no readings", scenario, meter);
    struct rows rows = {0};
    if (n > 100) {
        cr_assert_not_null(reduce_line, "%s/%s: %zu readings, but no thinning traced", scenario,
                           meter, n);
        char path[64], n_out[32], first_ts[32], last_ts[32], ours_first[32], ours_last[32];
        cr_assert(json_field(reduce_line, "path", path, sizeof path) &&
                  json_field(reduce_line, "n_out", n_out, sizeof n_out) &&
                  json_field(reduce_line, "first_ts", first_ts, sizeof first_ts) &&
                  json_field(reduce_line, "last_ts", last_ts, sizeof last_ts));
        rows_thin(&rows, all + first, n, path);
        timestamp_format(rows.t_ns[0], ours_first, sizeof ours_first);
        timestamp_format(rows.t_ns[rows.count - 1], ours_last, sizeof ours_last);
        cr_expect_eq(rows.count, (size_t)strtoul(n_out, NULL, 10), "%s/%s: thinned to %zu, not %s",
                     scenario, meter, rows.count, n_out);
        cr_expect(strcmp(ours_first, first_ts) == 0 && strcmp(ours_last, last_ts) == 0,
                  "%s/%s: thinned to %s .. %s", scenario, meter, ours_first, ours_last);
    } else {
        for (size_t i = 0; i < n; i++)
            rows_insert(&rows, rows.count, all[first + i].t_ns, all[first + i].value);
    }
    int64_t grid_start = timestamp_parse(start), grid_end = timestamp_parse(end);
    if (strcmp(install, "null") != 0 && timestamp_parse(install) > grid_start)
        grid_start = timestamp_parse(install);
    if (strcmp(deinstall, "null") != 0 && timestamp_parse(deinstall) < grid_end)
        grid_end = timestamp_parse(deinstall);
    size_t call_count = 0;
    int64_t first_ns = rows.t_ns[0];
    double first_value = rows.values[0];
    if (first_ns > grid_start) {
        double rate = 0.0;
        if (rows.count >= 2) {
            calls[call_count] = call_make(&rows);
            rate = calls[call_count++].ours.rate;
        }
        if (rate > 0.0) {
            double days_back = (double)(first_ns - grid_start) / 1e9 / 86400.0;
            double extrapolated = first_value - rate * days_back;
            if (extrapolated < 0.0) {
                /* pandas' Timedelta(days=d): int(d * 24 * 3600 * 1e9) ns. */
                int64_t zero_ns = first_ns - (int64_t)(first_value / rate * 24 * 3600 * 1e9);
                if (zero_ns < grid_start)
                    zero_ns = grid_start;
                rows_insert(&rows, 0, zero_ns, 0.0);
                if (zero_ns > grid_start)
                    rows_insert(&rows, 0, grid_start, 0.0);
            } else {
                rows_insert(&rows, 0, grid_start, extrapolated);
            }
        } else {
            rows_insert(&rows, 0, grid_start, 0.0);
        }
    }
    if (rows.t_ns[rows.count - 1] < grid_end && rows.count >= 2)
        calls[call_count++] = call_make(&rows);
    free(rows.t_ns);
    free(rows.values);
    return call_count;
}

static void call_compare(const char *scenario, const char *line, const struct call *call)
{
    char meter[64], n[32], rate[64], r2[64], method[64], first[32], last[32];
    cr_assert(json_field(line, "meter_id", meter, sizeof meter) &&
              json_field(line, "n", n, sizeof n) && json_field(line, "rate", rate, sizeof rate) &&
              json_field(line, "r2", r2, sizeof r2) &&
              json_field(line, "method", method, sizeof method) &&
              json_field(line, "first_ts", first, sizeof first) &&
              json_field(line, "last_ts", last, sizeof last));
    char ours_first[32], ours_last[32];
    timestamp_format(call->first_ns, ours_first, sizeof ours_first);
    timestamp_format(call->last_ns, ours_last, sizeof ours_last);
    cr_expect_str_eq(ours_first, first, "%s/%s: first_ts", scenario, meter);
    cr_expect_str_eq(ours_last, last, "%s/%s: last_ts", scenario, meter);
    cr_expect_eq(call->ours.count, (size_t)strtoul(n, NULL, 10), "%s/%s: n %zu, reference %s",
                 scenario, meter, call->ours.count, n);
    double expected_rate = strtod(rate, NULL), expected_r2 = strtod(r2, NULL);
    cr_expect(fabs(call->ours.rate - expected_rate) <= 1e-9 * fabs(expected_rate),
              "%s/%s: rate %.17g, reference %s", scenario, meter, call->ours.rate, rate);
    cr_expect(fabs(call->ours.r2 - expected_r2) <= 1e-9, "%s/%s: r2 %.17g, reference %s", scenario,
              meter, call->ours.r2, r2);
    cr_expect_str_eq(call->ours.method_text, method, "%s/%s: method", scenario, meter);
}

/* Returns the number of calls compared. */
static size_t scenario_compare(const char *scenario)
{
    size_t reading_count;
    struct reading *readings = readings_load(scenario, &reading_count);
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/reference/%s/output/trace.jsonl", shared_directory(),
             scenario);
    char *text = file_read(path);
    struct call calls[2];
    size_t call_count = 0, next = 0, compared = 0, traced = 0;
    char series_meter[64] = "";
    for (char *line = text, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        cr_assert_not_null(end, "%s: last line not terminated", path);
        *end = '\0';
        char fn[64], meter[64];
        cr_assert(json_field(line, "fn", fn, sizeof fn), "%s: no fn in %s", path, line);
        json_field(line, "meter_id", meter, sizeof meter);
        if (strcmp(fn, "create_standardized_daily_series") == 0) {
            cr_assert_eq(next, call_count, "%s/%s: the reference made %zu of our %zu calls",
                         scenario, series_meter, next, call_count);
            snprintf(series_meter, sizeof series_meter, "%s", meter);
            call_count = next = 0;
            char error[256];
            /* The reference gave up on this meter (no installation date) before any estimate. */
            if (json_field(line, "error", error, sizeof error))
                continue;
            /* The thinning step, if any, is traced on the next line. */
            const char *following = end + 1, *reduce = "{\"fn\": \"reduce_high_frequency_data\"";
            call_count = series_simulate(
                line, scenario, readings, reading_count,
                strncmp(following, reduce, strlen(reduce)) == 0 ? following : NULL, calls);
        } else if (strcmp(fn, "estimate_consumption_rate") == 0) {
            traced++;
            cr_assert_str_eq(meter, series_meter, "%s: estimate outside its series", scenario);
            cr_assert_lt(next, call_count, "%s/%s: the reference made more calls than our %zu",
                         scenario, meter, call_count);
            call_compare(scenario, line, &calls[next++]);
            compared++;
        }
    }
    cr_assert_eq(next, call_count, "%s/%s: the reference made %zu of our %zu calls", scenario,
                 series_meter, next, call_count);
    cr_assert_eq(compared, traced);
    free(text);
    free(readings);
    return compared;
}

Test(rate_estimate_reference, every_traced_estimate_agrees_with_the_reference)
{
    char directory[1024];
    snprintf(directory, sizeof directory, "%s/fixtures/reference", shared_directory());
    DIR *scenarios = opendir(directory);
    cr_assert_not_null(scenarios, "cannot open %s (set NEBENKOSTEN_SHARED)", directory);
    size_t scenario_count = 0, total = 0;
    struct dirent *entry;
    while ((entry = readdir(scenarios))) {
        char path[2048];
        struct stat status;
        snprintf(path, sizeof path, "%s/%s/output/trace.jsonl", directory, entry->d_name);
        if (entry->d_name[0] == '.' || stat(path, &status) != 0)
            continue;
        size_t compared = scenario_compare(entry->d_name);
        fprintf(stderr, "rate_estimate_reference: %-22s %2zu estimates compared\n", entry->d_name,
                compared);
        total += compared;
        scenario_count++;
    }
    closedir(scenarios);
    cr_assert_geq(scenario_count, 13, "only %zu scenarios", scenario_count);
    cr_assert_geq(total, 71, "only %zu estimates compared", total);
}
