#include "bench/batch_accuracy/truth.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/batch_accuracy/csv.h"

static int enum_parse(const char *text, const char *(*name)(int), int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(text, name(i)) == 0)
            return i;
    return -1;
}

static const char *kind_name(int kind)
{
    return accuracy_kind_name((enum accuracy_kind)kind);
}

static const char *style_name(int style)
{
    return accuracy_style_name((enum accuracy_style)style);
}

static int meter_compare(const void *a, const void *b)
{
    return strcmp(((const struct accuracy_truth_meter *)a)->meter_id,
                  ((const struct accuracy_truth_meter *)b)->meter_id);
}

struct accuracy_truth_meter *accuracy_truth_find(const struct accuracy_truth *truth,
                                                 const char *meter_id)
{
    struct accuracy_truth_meter key;
    if (strlen(meter_id) >= sizeof key.meter_id)
        return NULL;
    strcpy(key.meter_id, meter_id);
    return bsearch(&key, truth->meters, truth->count, sizeof key, meter_compare);
}

static int meters_load(const char *dir, struct accuracy_truth *truth)
{
    char path[PATH_MAX];
    if (accuracy_path_join(path, sizeof path, dir, "truth_meters.csv") != 0)
        return -1;
    struct accuracy_csv csv;
    if (accuracy_csv_open(&csv, path,
                          "meter_id,kind,type,style,unit,resolution,pattern,mean_day") != 0)
        return -1;
    size_t capacity = 0;
    int status;
    while ((status = accuracy_csv_next(&csv)) == 1) {
        if (truth->count == capacity) {
            capacity = capacity ? 2 * capacity : 256;
            struct accuracy_truth_meter *meters = realloc(truth->meters, capacity * sizeof *meters);
            if (!meters) {
                status = accuracy_csv_error(&csv, "out of memory");
                break;
            }
            truth->meters = meters;
        }
        struct accuracy_truth_meter *meter = &truth->meters[truth->count];
        *meter = (struct accuracy_truth_meter){.reset_t = -1, .swap_t = -1};
        char **f = csv.fields;
        int kind = csv.field_count == 8 ? enum_parse(f[1], kind_name, ACCURACY_KINDS) : -1;
        int style = csv.field_count == 8 ? enum_parse(f[3], style_name, ACCURACY_STYLES) : -1;
        if (kind < 0 || style < 0 || strlen(f[0]) >= sizeof meter->meter_id ||
            (strcmp(f[2], "physical") != 0 && strcmp(f[2], "master") != 0) ||
            accuracy_field_double(f[5], &meter->resolution) != 0 ||
            accuracy_field_double(f[7], &meter->mean_day) != 0) {
            status = accuracy_csv_error(&csv, "expected a meter id, kind, physical or master, "
                                              "style, unit, resolution, pattern and mean day");
            break;
        }
        strcpy(meter->meter_id, f[0]);
        meter->kind = (enum accuracy_kind)kind;
        meter->style = (enum accuracy_style)style;
        meter->master = strcmp(f[2], "master") == 0;
        meter->pattern_configured = strcmp(f[6], "configured") == 0;
        truth->count++;
    }
    accuracy_csv_close(&csv);
    if (status != 0)
        return -1;
    qsort(truth->meters, truth->count, sizeof *truth->meters, meter_compare);
    for (size_t i = 1; i < truth->count; i++)
        if (strcmp(truth->meters[i - 1].meter_id, truth->meters[i].meter_id) == 0) {
            fprintf(stderr, "%s: meter %s is listed twice\n", path, truth->meters[i].meter_id);
            return -1;
        }
    return 0;
}

static int day_append(struct accuracy_truth_meter *meter, double reg, double use)
{
    if (meter->days == meter->day_capacity) {
        size_t capacity = meter->day_capacity ? 2 * meter->day_capacity : 1024;
        double *regs = realloc(meter->reg, capacity * sizeof *regs);
        if (!regs)
            return -1;
        meter->reg = regs;
        double *uses = realloc(meter->use, capacity * sizeof *uses);
        if (!uses)
            return -1;
        meter->use = uses;
        meter->day_capacity = capacity;
    }
    meter->reg[meter->days] = reg;
    meter->use[meter->days++] = use;
    return 0;
}

static int daily_load(const char *dir, struct accuracy_truth *truth)
{
    char path[PATH_MAX];
    if (accuracy_path_join(path, sizeof path, dir, "truth_daily.csv") != 0)
        return -1;
    struct accuracy_csv csv;
    if (accuracy_csv_open(&csv, path, "meter_id,timestamp,register,consumption") != 0)
        return -1;
    int status;
    while ((status = accuracy_csv_next(&csv)) == 1) {
        struct accuracy_truth_meter *meter =
            csv.field_count == 4 ? accuracy_truth_find(truth, csv.fields[0]) : NULL;
        int64_t t;
        double reg, use;
        if (!meter || accuracy_timestamp_parse(csv.fields[1], &t) != 0 ||
            t % ACCURACY_DAY_SECONDS != 0 || accuracy_field_double(csv.fields[2], &reg) != 0 ||
            accuracy_field_double(csv.fields[3], &use) != 0) {
            status = accuracy_csv_error(&csv, "expected a meter of truth_meters.csv, a midnight "
                                              "and two numbers");
            break;
        }
        int64_t day = t / ACCURACY_DAY_SECONDS;
        if (meter->days == 0)
            meter->first_day = day;
        if (day != meter->first_day + (int64_t)meter->days) {
            status = accuracy_csv_error(&csv, "the meter's days are not consecutive");
            break;
        }
        if (day_append(meter, reg, use) != 0) {
            status = accuracy_csv_error(&csv, "out of memory");
            break;
        }
    }
    accuracy_csv_close(&csv);
    for (size_t i = 0; i < truth->count && status == 0; i++)
        if (truth->meters[i].days < 2) {
            fprintf(stderr, "%s: meter %s has fewer than two days\n", path,
                    truth->meters[i].meter_id);
            status = -1;
        }
    return status == 0 ? 0 : -1;
}

static int reading_append(struct accuracy_truth_meter *meter, int64_t t, double value)
{
    if (meter->reading_count == meter->reading_capacity) {
        size_t capacity = meter->reading_capacity ? 2 * meter->reading_capacity : 64;
        int64_t *times = realloc(meter->times, capacity * sizeof *times);
        if (!times)
            return -1;
        meter->times = times;
        double *values = realloc(meter->values, capacity * sizeof *values);
        if (!values)
            return -1;
        meter->values = values;
        bool *zero = realloc(meter->zero, capacity * sizeof *zero);
        if (!zero)
            return -1;
        meter->zero = zero;
        meter->reading_capacity = capacity;
    }
    meter->times[meter->reading_count] = t;
    meter->values[meter->reading_count] = value;
    meter->zero[meter->reading_count++] = false;
    return 0;
}

static int readings_load(const char *dir, struct accuracy_truth *truth)
{
    char path[PATH_MAX];
    if (accuracy_path_join(path, sizeof path, dir, "readings.csv") != 0)
        return -1;
    struct accuracy_csv csv;
    if (accuracy_csv_open(&csv, path, "meter_id,timestamp,value") != 0)
        return -1;
    int status;
    while ((status = accuracy_csv_next(&csv)) == 1) {
        struct accuracy_truth_meter *meter =
            csv.field_count == 3 ? accuracy_truth_find(truth, csv.fields[0]) : NULL;
        int64_t t;
        double value;
        if (!meter || meter->master || accuracy_timestamp_parse(csv.fields[1], &t) != 0 ||
            accuracy_field_double(csv.fields[2], &value) != 0) {
            status = accuracy_csv_error(&csv, "expected a physical meter of truth_meters.csv, a "
                                              "timestamp and a value");
            break;
        }
        if (meter->reading_count > 0 && t <= meter->times[meter->reading_count - 1]) {
            status = accuracy_csv_error(&csv, "the meter's readings are not in time order");
            break;
        }
        if (reading_append(meter, t, value) != 0) {
            status = accuracy_csv_error(&csv, "out of memory");
            break;
        }
    }
    accuracy_csv_close(&csv);
    return status == 0 ? 0 : -1;
}

/* The index of the reading at t exactly, or SIZE_MAX. */
static size_t reading_find(const struct accuracy_truth_meter *meter, int64_t t)
{
    size_t low = 0, high = meter->reading_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (meter->times[middle] < t)
            low = middle + 1;
        else
            high = middle;
    }
    return low < meter->reading_count && meter->times[low] == t ? low : SIZE_MAX;
}

static int events_load(const char *dir, struct accuracy_truth *truth)
{
    char path[PATH_MAX];
    if (accuracy_path_join(path, sizeof path, dir, "truth_events.csv") != 0)
        return -1;
    struct accuracy_csv csv;
    if (accuracy_csv_open(&csv, path, "meter_id,timestamp,kind") != 0)
        return -1;
    int status;
    while ((status = accuracy_csv_next(&csv)) == 1) {
        struct accuracy_truth_meter *meter =
            csv.field_count == 3 ? accuracy_truth_find(truth, csv.fields[0]) : NULL;
        int64_t t;
        if (!meter || accuracy_timestamp_parse(csv.fields[1], &t) != 0) {
            status = accuracy_csv_error(&csv, "expected a meter of truth_meters.csv and a "
                                              "timestamp");
            break;
        }
        const char *kind = csv.fields[2];
        size_t index;
        if (strcmp(kind, "transient_zero") == 0 && !meter->master &&
            (index = reading_find(meter, t)) != SIZE_MAX) {
            meter->zero[index] = true;
        } else if (strcmp(kind, "reset") == 0 && !meter->master && meter->reset_t < 0) {
            meter->reset_t = t;
        } else if (strcmp(kind, "replacement") == 0 && meter->master && meter->swap_t < 0) {
            meter->swap_t = t;
        } else {
            status = accuracy_csv_error(&csv, "expected a transient_zero at a reading, one reset "
                                              "of a physical meter or one replacement of a master");
            break;
        }
    }
    accuracy_csv_close(&csv);
    return status == 0 ? 0 : -1;
}

static int scenario_json_load(const char *dir, struct accuracy_truth *truth)
{
    char path[PATH_MAX], text[4096];
    if (accuracy_path_join(path, sizeof path, dir, "scenario.json") != 0)
        return -1;
    FILE *file = fopen(path, "r");
    if (!file) {
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file); /* read only */
    text[length] = '\0';
    const char *today = strstr(text, "\"today\": \"");
    const char *year = strstr(text, "\"start_year\": ");
    char date[ACCURACY_DATE_SIZE] = {0};
    if (today)
        memcpy(date, today + 10, sizeof date - 1);
    if (!today || !year || accuracy_date_parse(date, &truth->today) != 0 ||
        sscanf(year + 14, "%d", &truth->start_year) != 1) {
        fprintf(stderr, "%s: expected \"today\": \"YYYY-MM-DD\" and \"start_year\": N\n", path);
        return -1;
    }
    return 0;
}

int accuracy_truth_load(const char *dir, struct accuracy_truth *truth)
{
    *truth = (struct accuracy_truth){0};
    if (scenario_json_load(dir, truth) != 0 || meters_load(dir, truth) != 0 ||
        daily_load(dir, truth) != 0 || readings_load(dir, truth) != 0 ||
        events_load(dir, truth) != 0) {
        accuracy_truth_free(truth);
        return -1;
    }
    return 0;
}

void accuracy_truth_free(struct accuracy_truth *truth)
{
    for (size_t i = 0; i < truth->count; i++) {
        struct accuracy_truth_meter *meter = &truth->meters[i];
        free(meter->reg);
        free(meter->use);
        free(meter->times);
        free(meter->values);
        free(meter->zero);
    }
    free(truth->meters);
    *truth = (struct accuracy_truth){0};
}
