#include "bench/batch_accuracy/scenario.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/batch_accuracy/csv.h"

/* A register of some meter, for writing the readings in meter id order. */
struct register_ref {
    const struct accuracy_meter *meter;
    int r;
};

struct writer {
    const struct accuracy_options *options;
    const char *dir;
    struct accuracy_meter *meters;
    unsigned meter_count;
    struct accuracy_summary *summary;
};

static FILE *file_create(const char *dir, const char *name, char path[PATH_MAX])
{
    if (accuracy_path_join(path, PATH_MAX, dir, name) != 0)
        return NULL;
    FILE *file = fopen(path, "w");
    if (!file)
        fprintf(stderr, "bench-batch-accuracy: cannot create %s: %s\n", path, strerror(errno));
    return file;
}

/* Closes file; reports a failed write or close of path. Returns 0, or -1. */
static int file_finish(FILE *file, const char *path)
{
    bool failed = ferror(file) != 0;
    int saved = errno;
    if (fclose(file) != 0 && !failed) {
        failed = true;
        saved = errno;
    }
    if (failed)
        fprintf(stderr, "bench-batch-accuracy: cannot write %s: %s\n", path, strerror(saved));
    return failed ? -1 : 0;
}

static const char *register_role(const struct accuracy_meter *meter, int r)
{
    return meter->register_count == 1 ? "" : r == 0 ? ", replaced" : ", the replacement";
}

static int meters_yaml_print(const struct writer *w, FILE *out)
{
    fprintf(out,
            "# bench-batch-accuracy, seed %llu: %u measuring points; a replaced register is a "
            "master meter over the old (_alt) and the new one.\nmeters:\n",
            (unsigned long long)w->options->seed, w->meter_count);
    for (unsigned i = 0; i < w->meter_count; i++) {
        const struct accuracy_meter *meter = &w->meters[i];
        const char *unit = accuracy_kind_unit(meter->kind);
        const char *kind = accuracy_kind_name(meter->kind);
        if (meter->register_count == 2) {
            char first[ACCURACY_DATE_SIZE], swap[ACCURACY_DATE_SIZE], after[ACCURACY_DATE_SIZE];
            accuracy_date_format(meter->first_day, first);
            accuracy_date_format(meter->registers[0].deinstallation_day, swap);
            accuracy_date_format(meter->registers[0].deinstallation_day + 1, after);
            fprintf(out,
                    "- meter_id: %s\n  type: master\n  output_unit: %s\n"
                    "  description: %s %u across its replacement on %s\n  periods:\n"
                    "  - start_date: '%s'\n    end_date: '%s'\n    composition_type: single\n"
                    "    source_meters:\n    - %s\n    source_unit: %s\n"
                    "  - start_date: '%s'\n    end_date: '9999-12-31'\n"
                    "    composition_type: single\n    source_meters:\n    - %s\n"
                    "    source_unit: %s\n    apply_offset_from_previous_period: true\n",
                    meter->master_id, unit, kind, i, swap, first, swap,
                    meter->registers[0].meter_id, unit, after, meter->registers[1].meter_id, unit);
        }
        for (int r = 0; r < meter->register_count; r++) {
            const struct accuracy_register *reg = &meter->registers[r];
            char date[ACCURACY_DATE_SIZE];
            accuracy_date_format(reg->installation_day, date);
            fprintf(out,
                    "- meter_id: %s\n  type: physical\n  output_unit: %s\n"
                    "  installation_date: '%s'\n",
                    reg->meter_id, unit, date);
            if (reg->deinstallation_day >= 0) {
                accuracy_date_format(reg->deinstallation_day, date);
                fprintf(out, "  deinstallation_date: '%s'\n", date);
            }
            fprintf(out, "  description: %s, read %s%s\n", kind, accuracy_style_name(meter->style),
                    register_role(meter, r));
        }
    }
    return 0;
}

static void pattern_print(FILE *out, const char *meter_id, const struct accuracy_meter *meter)
{
    fprintf(out, "  %s:\n    monthly_percentages:\n", meter_id);
    for (int m = 0; m < 12; m++)
        fprintf(out, "    - %.2f\n", meter->percentages[m]);
    fprintf(out, "    description: %s\n", accuracy_kind_name(meter->kind));
}

static int patterns_yaml_print(const struct writer *w, FILE *out)
{
    fprintf(out, "# bench-batch-accuracy: each meter's use follows these monthly shares (meters "
                 "without an entry: flat, or seasonal and not configured).\npatterns:\n");
    for (unsigned i = 0; i < w->meter_count; i++) {
        const struct accuracy_meter *meter = &w->meters[i];
        if (!meter->pattern_configured)
            continue;
        if (meter->register_count == 2)
            pattern_print(out, meter->master_id, meter);
        for (int r = 0; r < meter->register_count; r++)
            pattern_print(out, meter->registers[r].meter_id, meter);
    }
    return 0;
}

static int register_ref_compare(const void *a, const void *b)
{
    const struct register_ref *x = a, *y = b;
    return strcmp(x->meter->registers[x->r].meter_id, y->meter->registers[y->r].meter_id);
}

static int readings_print(const struct writer *w, FILE *out)
{
    size_t count = 0;
    for (unsigned i = 0; i < w->meter_count; i++)
        count += (size_t)w->meters[i].register_count;
    struct register_ref *refs = malloc(count * sizeof *refs);
    if (!refs) {
        fprintf(stderr, "bench-batch-accuracy: out of memory\n");
        return -1;
    }
    count = 0;
    for (unsigned i = 0; i < w->meter_count; i++)
        for (int r = 0; r < w->meters[i].register_count; r++)
            refs[count++] = (struct register_ref){&w->meters[i], r};
    qsort(refs, count, sizeof *refs, register_ref_compare);
    fprintf(out, "meter_id,timestamp,value\n");
    for (size_t k = 0; k < count; k++) {
        const struct accuracy_meter *meter = refs[k].meter;
        const struct accuracy_register *reg = &meter->registers[refs[k].r];
        for (size_t i = 0; i < reg->reading_count; i++) {
            char timestamp[ACCURACY_TIMESTAMP_SIZE], value[32];
            accuracy_timestamp_format(reg->readings[i].t, timestamp);
            accuracy_units_format(reg->readings[i].units, meter->decimals, value, sizeof value);
            fprintf(out, "%s,%s,%s\n", reg->meter_id, timestamp, value);
        }
        w->summary->readings += reg->reading_count;
    }
    free(refs);
    return 0;
}

static double register_mean_day(const struct accuracy_register *reg)
{
    size_t days = (size_t)(reg->last_day - reg->first_day + 1);
    double sum = 0.0;
    for (size_t k = 1; k < days; k++)
        sum += reg->use[k];
    return days > 1 ? sum / (double)(days - 1) : 0.0;
}

static int truth_meters_print(const struct writer *w, FILE *out)
{
    fprintf(out, "meter_id,kind,type,style,unit,resolution,pattern,mean_day\n");
    for (unsigned i = 0; i < w->meter_count; i++) {
        const struct accuracy_meter *meter = &w->meters[i];
        char resolution[32];
        accuracy_units_format(1, meter->decimals, resolution, sizeof resolution);
        const char *common[] = {accuracy_kind_name(meter->kind), accuracy_style_name(meter->style),
                                accuracy_kind_unit(meter->kind), resolution,
                                meter->pattern_configured ? "configured" : "none"};
        if (meter->register_count == 2) {
            int64_t days = meter->today - meter->first_day;
            fprintf(out, "%s,%s,master,%s,%s,%s,%s,%.17g\n", meter->master_id, common[0], common[1],
                    common[2], common[3], common[4], meter->cumulative[days] / (double)days);
        }
        for (int r = 0; r < meter->register_count; r++)
            fprintf(out, "%s,%s,physical,%s,%s,%s,%s,%.17g\n", meter->registers[r].meter_id,
                    common[0], common[1], common[2], common[3], common[4],
                    register_mean_day(&meter->registers[r]));
    }
    return 0;
}

static int truth_daily_print(const struct writer *w, FILE *out)
{
    fprintf(out, "meter_id,timestamp,register,consumption\n");
    char timestamp[ACCURACY_TIMESTAMP_SIZE];
    for (unsigned i = 0; i < w->meter_count; i++) {
        const struct accuracy_meter *meter = &w->meters[i];
        if (meter->register_count == 2) {
            for (int64_t k = 0; k <= meter->today - meter->first_day; k++) {
                accuracy_timestamp_format((meter->first_day + k) * ACCURACY_DAY_SECONDS, timestamp);
                fprintf(out, "%s,%s,%.17g,%.17g\n", meter->master_id, timestamp,
                        meter->registers[0].start + meter->cumulative[k],
                        k ? meter->day_use[k - 1] : 0.0);
            }
        }
        for (int r = 0; r < meter->register_count; r++) {
            const struct accuracy_register *reg = &meter->registers[r];
            for (int64_t k = 0; k <= reg->last_day - reg->first_day; k++) {
                accuracy_timestamp_format((reg->first_day + k) * ACCURACY_DAY_SECONDS, timestamp);
                fprintf(out, "%s,%s,%.17g,%.17g\n", reg->meter_id, timestamp, reg->display[k],
                        reg->use[k]);
            }
        }
    }
    return 0;
}

static int truth_events_print(const struct writer *w, FILE *out)
{
    fprintf(out, "meter_id,timestamp,kind\n");
    char timestamp[ACCURACY_TIMESTAMP_SIZE];
    for (unsigned i = 0; i < w->meter_count; i++) {
        const struct accuracy_meter *meter = &w->meters[i];
        if (meter->swap_t >= 0) {
            accuracy_timestamp_format(meter->swap_t, timestamp);
            fprintf(out, "%s,%s,replacement\n", meter->master_id, timestamp);
        }
        for (int r = 0; r < meter->register_count; r++) {
            const struct accuracy_register *reg = &meter->registers[r];
            if (reg->reset_t >= 0) {
                accuracy_timestamp_format(reg->reset_t, timestamp);
                fprintf(out, "%s,%s,reset\n", reg->meter_id, timestamp);
            }
            for (size_t k = 0; k < reg->reading_count; k++) {
                if (!reg->readings[k].transient_zero)
                    continue;
                accuracy_timestamp_format(reg->readings[k].t, timestamp);
                fprintf(out, "%s,%s,transient_zero\n", reg->meter_id, timestamp);
            }
        }
    }
    return 0;
}

static void summary_count(const struct writer *w)
{
    struct accuracy_summary *summary = w->summary;
    for (unsigned i = 0; i < w->meter_count; i++) {
        const struct accuracy_meter *meter = &w->meters[i];
        summary->kinds[meter->kind]++;
        summary->styles[meter->style]++;
        summary->physical += (unsigned)meter->register_count;
        summary->masters += meter->register_count == 2;
        summary->configured_patterns += meter->pattern_configured;
        summary->transient_zeros += meter->transient_zeros;
        for (int r = 0; r < meter->register_count; r++)
            summary->resets += meter->registers[r].reset_t >= 0;
    }
}

static int scenario_json_print(const struct writer *w, FILE *out)
{
    const struct accuracy_summary *s = w->summary;
    fprintf(out,
            "{\n \"name\": \"batch_accuracy\",\n"
            " \"description\": \"bench-batch-accuracy: synthetic meters with known truth, read by "
            "hand 1-90 days apart or daily, with replacements, resets and transient zeros\",\n"
            " \"rng_seed\": %llu,\n \"start_year\": %d,\n \"today\": \"%s\",\n"
            " \"meters\": %u,\n \"physical_meters\": %u,\n \"master_meters\": %u,\n"
            " \"n_readings\": %zu,\n \"transient_zeros\": %u,\n \"resets\": %u\n}\n",
            (unsigned long long)w->options->seed, w->options->start_year, s->today, w->meter_count,
            s->physical, s->masters, s->readings, s->transient_zeros, s->resets);
    return 0;
}

/* Writes one file of the scenario with print. */
static int file_write(const struct writer *w, const char *name,
                      int (*print)(const struct writer *, FILE *))
{
    char path[PATH_MAX];
    FILE *file = file_create(w->dir, name, path);
    if (!file)
        return -1;
    int status = print(w, file);
    return file_finish(file, path) == 0 && status == 0 ? 0 : -1;
}

static int config_yaml_print(const struct writer *w, FILE *out)
{
    fprintf(out,
            "# bench-batch-accuracy, seed %llu (`meter-batch reconcile --today %s`)\n"
            "meters_config: meters.yaml\nseasonal_patterns_config: seasonal_patterns.yaml\n"
            "gas_conversion:\n  energy_content: 11.504\n  z_factor: 0.8885\n"
            "workflows:\n  analytics:\n    start_year: %d\n"
            "analytics:\n  compat: none\n",
            (unsigned long long)w->options->seed, w->summary->today, w->options->start_year);
    return 0;
}

int accuracy_scenario_write(const struct accuracy_options *options, const char *dir,
                            struct accuracy_summary *summary)
{
    *summary = (struct accuracy_summary){0};
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench-batch-accuracy: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct writer w = {.options = options, .dir = dir, .summary = summary};
    w.meters = calloc(options->meters, sizeof *w.meters);
    if (!w.meters) {
        fprintf(stderr, "bench-batch-accuracy: out of memory\n");
        return -1;
    }
    int status = 0;
    for (unsigned i = 0; i < options->meters && status == 0; i++, w.meter_count++)
        if (accuracy_meter_generate(options, i, &w.meters[i]) != 0) {
            fprintf(stderr, "bench-batch-accuracy: out of memory at meter %u\n", i);
            status = -1;
        }
    if (status == 0) {
        accuracy_date_format(w.meters[0].today, summary->today);
        summary_count(&w);
        /* readings.csv first: scenario.json wants its count. */
        if (file_write(&w, "readings.csv", readings_print) != 0 ||
            file_write(&w, "config.yaml", config_yaml_print) != 0 ||
            file_write(&w, "meters.yaml", meters_yaml_print) != 0 ||
            file_write(&w, "seasonal_patterns.yaml", patterns_yaml_print) != 0 ||
            file_write(&w, "truth_meters.csv", truth_meters_print) != 0 ||
            file_write(&w, "truth_daily.csv", truth_daily_print) != 0 ||
            file_write(&w, "truth_events.csv", truth_events_print) != 0 ||
            file_write(&w, "scenario.json", scenario_json_print) != 0)
            status = -1;
    }
    for (unsigned i = 0; i < w.meter_count; i++)
        accuracy_meter_free(&w.meters[i]);
    free(w.meters);
    return status;
}
