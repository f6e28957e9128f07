#include "bench/batch_accuracy/score.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/batch_accuracy/csv.h"
#include "config/tz.h"

#define DAY ACCURACY_DAY_SECONDS
#define DAY_GAP_SECONDS (36 * 3600)
#define LONG_GAP_SECONDS (7 * DAY)
#define THINNED_ABOVE 100 /* readings: the reference thins meters with more */
#define SPIKE_FACTOR 10.0
#define LONG_GAP_BAR 0.7 /* the default's error at most this share of the reference's */
#define MAX_WINDOWS 16

static const char *const mode_names[ACCURACY_MODES] = {"default", "reference"};

/* Where a fault can make a run book a spike: days meeting [from, to]. */
struct window {
    int64_t from, to;
    enum accuracy_fault fault;
};

/* One meter's days of one class within a calendar month (of the use, the day before the stamp). */
struct month_sum {
    double truth, value[ACCURACY_MODES];
    size_t days;
};

/* Each run's consumption, one value per grid day of every meter (NaN: not written). */
struct runs {
    double *values[ACCURACY_MODES];
    size_t *offsets; /* of each meter's first day */
};

double accuracy_tally_nmae(const struct accuracy_tally *tally, enum accuracy_mode mode)
{
    return tally->truth > 0 ? tally->error[mode] / tally->truth : NAN;
}

static void tally_add(struct accuracy_tally *total, const struct accuracy_tally *part)
{
    for (int mode = 0; mode < ACCURACY_MODES; mode++)
        total->error[mode] += part->error[mode];
    total->truth += part->truth;
    total->days += part->days;
}

/* Adds a month's sum to tally as one meter-month and empties it. */
static void month_flush(struct month_sum *sum, struct accuracy_tally *tally)
{
    if (sum->days == 0)
        return;
    for (int mode = 0; mode < ACCURACY_MODES; mode++)
        tally->error[mode] += fabs(sum->value[mode] - sum->truth);
    tally->truth += sum->truth;
    tally->days++;
    *sum = (struct month_sum){0};
}

static void month_add(struct month_sum *sum, double truth, const double value[ACCURACY_MODES])
{
    sum->truth += truth;
    for (int mode = 0; mode < ACCURACY_MODES; mode++)
        sum->value[mode] += value[mode];
    sum->days++;
}

/* The month (year * 12 + month) of the day before midnight. */
static int64_t use_month(int64_t midnight)
{
    int year, month, day;
    tz_civil_from_days(midnight / DAY - 1, &year, &month, &day);
    return (int64_t)year * 12 + month;
}

static int run_load(const struct accuracy_truth *truth, const char *dir, enum accuracy_mode mode,
                    struct runs *runs, struct accuracy_score *score)
{
    char path[PATH_MAX];
    if (accuracy_path_join(path, sizeof path, dir, "consumption.csv") != 0)
        return -1;
    struct accuracy_csv csv;
    if (accuracy_csv_open(&csv, path, "meter_id,timestamp,value") != 0)
        return -1;
    int status;
    while ((status = accuracy_csv_next(&csv)) == 1) {
        int64_t t;
        double value;
        if (csv.field_count != 3 || accuracy_timestamp_parse(csv.fields[1], &t) != 0 ||
            accuracy_field_double(csv.fields[2], &value) != 0) {
            status = accuracy_csv_error(&csv, "expected meter_id,timestamp,value");
            break;
        }
        const struct accuracy_truth_meter *meter = accuracy_truth_find(truth, csv.fields[0]);
        if (!meter || t % DAY != 0)
            continue;
        int64_t k = t / DAY - meter->first_day;
        if (k < 0 || k >= (int64_t)meter->days)
            continue;
        runs->values[mode][runs->offsets[meter - truth->meters] + (size_t)k] = value;
        score->rows[mode]++;
    }
    accuracy_csv_close(&csv);
    return status == 0 ? 0 : -1;
}

/* The index of the first normal reading at or after t (reading_count when none). */
static size_t normal_at_or_after(const struct accuracy_truth_meter *meter, const size_t *normal,
                                 size_t count, int64_t t)
{
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (meter->times[normal[middle]] < t)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

/* The day (interval [midnight - 1 day, midnight]) of a physical meter in its class. */
static enum accuracy_class day_class(const struct accuracy_truth_meter *meter, const size_t *normal,
                                     size_t count, int64_t midnight, int64_t *longest_gap)
{
    int64_t from = midnight - DAY;
    if (from < meter->times[normal[0]])
        return ACCURACY_BACKWARD;
    if (midnight > meter->times[normal[count - 1]])
        return ACCURACY_FORWARD;
    size_t last = normal_at_or_after(meter, normal, count, midnight);
    size_t first = normal_at_or_after(meter, normal, count, from);
    if (first == count || meter->times[normal[first]] > from)
        first--; /* the reading before the day */
    int64_t longest = 0;
    for (size_t i = first; i < last; i++) {
        int64_t gap = meter->times[normal[i + 1]] - meter->times[normal[i]];
        longest = gap > longest ? gap : longest;
    }
    *longest_gap = longest;
    return longest < DAY_GAP_SECONDS    ? ACCURACY_GAP_DAY
           : longest < LONG_GAP_SECONDS ? ACCURACY_GAP_SHORT
                                        : ACCURACY_GAP_LONG;
}

/* The window of a fault at t: from the normal reading before it to the second one after. */
static struct window fault_window(const struct accuracy_truth_meter *meter, const size_t *normal,
                                  size_t count, int64_t t, enum accuracy_fault fault)
{
    size_t after = normal_at_or_after(meter, normal, count, t + 1);
    size_t before = after > 0 ? after - 1 : 0;
    size_t second = after + 1 < count ? after + 1 : count - 1;
    return (struct window){meter->times[normal[before]] - DAY, meter->times[normal[second]] + DAY,
                           fault};
}

/* Scores one meter's days in both runs. */
static int meter_score(const struct accuracy_truth *truth, const struct accuracy_truth_meter *meter,
                       const struct runs *runs, struct accuracy_score *score)
{
    size_t *normal = NULL, count = 0;
    struct window windows[MAX_WINDOWS];
    int window_count = 0;
    if (!meter->master) {
        normal = malloc(meter->reading_count * sizeof *normal);
        if (!normal)
            return -1;
        for (size_t i = 0; i < meter->reading_count; i++)
            if (!meter->zero[i])
                normal[count++] = i;
        for (size_t i = 0; i < meter->reading_count && window_count < MAX_WINDOWS; i++)
            if (meter->zero[i]) {
                windows[window_count++] =
                    fault_window(meter, normal, count, meter->times[i], ACCURACY_FAULT_ZERO);
                score->faults[ACCURACY_FAULT_ZERO]++;
            }
        if (meter->reset_t >= 0 && window_count < MAX_WINDOWS) {
            windows[window_count++] =
                fault_window(meter, normal, count, meter->reset_t, ACCURACY_FAULT_RESET);
            score->faults[ACCURACY_FAULT_RESET]++;
        }
        score->meters[meter->kind]++;
    } else {
        if (meter->swap_t >= 0) {
            windows[window_count++] = (struct window){meter->swap_t - DAY, meter->swap_t + 2 * DAY,
                                                      ACCURACY_FAULT_REPLACEMENT};
            score->faults[ACCURACY_FAULT_REPLACEMENT]++;
        }
        score->master_count++;
    }
    if (!meter->master && count < 2) {
        free(normal);
        return 0; /* verify says why */
    }
    size_t offset = runs->offsets[meter - truth->meters];
    double scale = meter->mean_day > 0 ? 1.0 / meter->mean_day : 0.0;
    struct month_sum months[ACCURACY_CLASSES] = {0}, master_month = {0};
    struct accuracy_tally *monthly = meter->master ? NULL : score->monthly[meter->kind];
    int64_t month = 0;
    for (size_t k = 1; k < meter->days && scale > 0; k++) {
        int64_t midnight = (meter->first_day + (int64_t)k) * DAY;
        if (use_month(midnight) != month) {
            month = use_month(midnight);
            for (int class = 0; class < ACCURACY_CLASSES && monthly; class ++)
                month_flush(&months[class], &monthly[class]);
            month_flush(&master_month, &score->masters_monthly);
        }
        double use = meter->use[k], values[ACCURACY_MODES];
        struct accuracy_tally day = {.truth = use * scale, .days = 1};
        enum accuracy_fault near = ACCURACY_FAULT_NONE;
        for (int w = 0; w < window_count; w++)
            if (midnight - DAY <= windows[w].to && midnight >= windows[w].from &&
                windows[w].fault < near)
                near = windows[w].fault;
        for (int mode = 0; mode < ACCURACY_MODES; mode++) {
            double value = runs->values[mode][offset + k];
            if (!isfinite(value)) {
                score->missing[mode]++;
                value = 0.0;
            }
            day.error[mode] = fabs(value - use) * scale;
            values[mode] = value * scale;
            if (value > SPIKE_FACTOR * fmax(use, meter->mean_day))
                score->spikes[mode][near]++;
        }
        if (meter->master) {
            tally_add(&score->masters, &day);
            month_add(&master_month, day.truth, values);
            if (meter->swap_t >= 0 && midnight > meter->swap_t &&
                midnight <= meter->swap_t + 2 * DAY)
                tally_add(&score->master_swaps, &day);
            continue;
        }
        int64_t gap = 0;
        enum accuracy_class class = near == ACCURACY_FAULT_ZERO || near == ACCURACY_FAULT_RESET
                                        ? ACCURACY_NEAR_FAULT
                                        : day_class(meter, normal, count, midnight, &gap);
        tally_add(&score->classes[meter->kind][class], &day);
        month_add(&months[class], day.truth, values);
        if (class == ACCURACY_GAP_LONG && meter->reading_count <= THINNED_ABOVE)
            tally_add(&score->long_unthinned, &day);
        if (class == ACCURACY_GAP_LONG)
            tally_add(&score->long_by_length[gap < 30 * DAY ? 0 : gap < 60 * DAY ? 1 : 2], &day);
    }
    for (int class = 0; class < ACCURACY_CLASSES && monthly; class ++)
        month_flush(&months[class], &monthly[class]);
    month_flush(&master_month, &score->masters_monthly);
    free(normal);
    return 0;
}

int accuracy_outputs_score(const struct accuracy_truth *truth,
                           const char *const out_dirs[ACCURACY_MODES], struct accuracy_score *score)
{
    *score = (struct accuracy_score){0};
    struct runs runs = {0};
    size_t days = 0;
    int status = -1;
    runs.offsets = malloc((truth->count + 1) * sizeof *runs.offsets);
    if (!runs.offsets)
        goto cleanup;
    for (size_t i = 0; i < truth->count; i++) {
        runs.offsets[i] = days;
        days += truth->meters[i].days;
    }
    for (int mode = 0; mode < ACCURACY_MODES; mode++) {
        runs.values[mode] = malloc(days * sizeof *runs.values[mode]);
        if (!runs.values[mode])
            goto cleanup;
        for (size_t k = 0; k < days; k++)
            runs.values[mode][k] = NAN;
    }
    status = 0;
    for (int mode = 0; mode < ACCURACY_MODES && status == 0; mode++)
        status = run_load(truth, out_dirs[mode], (enum accuracy_mode)mode, &runs, score);
    for (size_t i = 0; i < truth->count && status == 0; i++)
        if (meter_score(truth, &truth->meters[i], &runs, score) != 0) {
            fprintf(stderr, "bench-batch-accuracy: out of memory\n");
            status = -1;
        }
cleanup:
    if (status != 0 && !runs.offsets)
        fprintf(stderr, "bench-batch-accuracy: out of memory\n");
    for (int mode = 0; mode < ACCURACY_MODES; mode++)
        free(runs.values[mode]);
    free(runs.offsets);
    return status;
}

static struct accuracy_tally class_total(const struct accuracy_tally (*tallies)[ACCURACY_CLASSES],
                                         int class)
{
    struct accuracy_tally total = {0};
    for (int kind = 0; kind < ACCURACY_KINDS; kind++)
        tally_add(&total, &tallies[kind][class]);
    return total;
}

static struct accuracy_tally kind_total(const struct accuracy_tally *tallies)
{
    struct accuracy_tally total = {0};
    for (int class = 0; class < ACCURACY_CLASSES; class ++)
        tally_add(&total, &tallies[class]);
    return total;
}

static void nmae_print(FILE *out, double value)
{
    if (isnan(value))
        fprintf(out, "      - |");
    else
        fprintf(out, " %6.4f |", value);
}

/* Default, reference and the change, of a tally; dashes without one. */
static void comparison_print(FILE *out, const struct accuracy_tally *tally)
{
    if (!tally) {
        fprintf(out, " | | | |");
        return;
    }
    double ours = accuracy_tally_nmae(tally, ACCURACY_DEFAULT);
    double theirs = accuracy_tally_nmae(tally, ACCURACY_REFERENCE);
    fprintf(out, " %zu |", tally->days);
    nmae_print(out, ours);
    nmae_print(out, theirs);
    if (theirs > 0)
        fprintf(out, " %+.0f %% |", (ours / theirs - 1.0) * 100.0);
    else
        fprintf(out, " - |");
}

static void comparison_row(FILE *out, const char *label, const struct accuracy_tally *daily,
                           const struct accuracy_tally *monthly)
{
    fprintf(out, "| %s |", label);
    comparison_print(out, daily);
    comparison_print(out, monthly);
    fprintf(out, "\n");
}

static const char *const class_labels[ACCURACY_CLASSES] = {
    "interior gap < 36 h",   "interior gap 36 h - 7 d", "interior gap >= 7 d",
    "extrapolated backward", "extrapolated forward",    "near a transient zero or reset"};

static void kind_table_print(const struct accuracy_score *score,
                             const struct accuracy_tally (*tallies)[ACCURACY_CLASSES], FILE *out)
{
    fprintf(out, "| kind | meters | mode | < 36 h | 36 h - 7 d | >= 7 d | backward | forward "
                 "| faults | all |\n");
    fprintf(out, "|------|-------:|------|-------:|-----------:|-------:|---------:|--------:|"
                 "-------:|----:|\n");
    for (int kind = 0; kind < ACCURACY_KINDS; kind++) {
        struct accuracy_tally total = kind_total(tallies[kind]);
        for (int mode = 0; mode < ACCURACY_MODES; mode++) {
            if (mode == 0)
                fprintf(out, "| %s | %u |", accuracy_kind_name((enum accuracy_kind)kind),
                        score->meters[kind]);
            else
                fprintf(out, "| | |");
            fprintf(out, " %s |", mode_names[mode]);
            for (int class = 0; class < ACCURACY_CLASSES; class ++)
                nmae_print(out, accuracy_tally_nmae(&tallies[kind][class], mode));
            nmae_print(out, accuracy_tally_nmae(&total, mode));
            fprintf(out, "\n");
        }
    }
}

void accuracy_score_print(const struct accuracy_score *score, FILE *out)
{
    fprintf(out, "Normalised MAE (sum |reconciled - true| / sum true, each meter in units of its "
                 "mean true day) of the daily consumption, and of its sums per meter and calendar "
                 "month over the same days:\n\n");
    fprintf(out, "| days | meter-days | default | reference | change | meter-months | default "
                 "| reference | change |\n");
    fprintf(out, "|------|-----------:|--------:|----------:|-------:|-------------:|--------:"
                 "|----------:|-------:|\n");
    struct accuracy_tally all = {0}, all_monthly = {0};
    for (int class = 0; class < ACCURACY_CLASSES; class ++) {
        struct accuracy_tally daily = class_total(score->classes, class);
        struct accuracy_tally monthly = class_total(score->monthly, class);
        comparison_row(out, class_labels[class], &daily, &monthly);
        if (class == ACCURACY_GAP_LONG) {
            comparison_row(out, "  of which gaps of 7-30 d", &score->long_by_length[0], NULL);
            comparison_row(out, "  of which gaps of 30-60 d", &score->long_by_length[1], NULL);
            comparison_row(out, "  of which gaps of 60 d or more", &score->long_by_length[2], NULL);
            comparison_row(out, "  of which meters with <= 100 readings (not thinned)",
                           &score->long_unthinned, NULL);
        }
        tally_add(&all, &daily);
        tally_add(&all_monthly, &monthly);
    }
    comparison_row(out, "all days of physical meters", &all, &all_monthly);
    comparison_row(out, "master meters (replacements)", &score->masters, &score->masters_monthly);
    comparison_row(out, "master meters, the swap day and the next", &score->master_swaps, NULL);

    fprintf(out, "\nDaily, by kind of meter:\n\n");
    kind_table_print(score, score->classes, out);
    fprintf(out, "\nMonthly sums, by kind of meter:\n\n");
    kind_table_print(score, score->monthly, out);

    fprintf(out, "\nSpikes (a day booked above 10x max(true day, mean day)), near:\n\n");
    fprintf(out,
            "| near | events | default | reference |\n|------|-------:|--------:|----------:|\n");
    static const char *const fault_labels[ACCURACY_FAULTS] = {
        "a transient zero", "a reset", "a replacement (master)", "nothing of these"};
    for (int fault = 0; fault < ACCURACY_FAULTS; fault++) {
        fprintf(out, "| %s | ", fault_labels[fault]);
        if (fault == ACCURACY_FAULT_NONE)
            fprintf(out, "- |");
        else
            fprintf(out, "%zu |", score->faults[fault]);
        fprintf(out, " %zu | %zu |\n", score->spikes[ACCURACY_DEFAULT][fault],
                score->spikes[ACCURACY_REFERENCE][fault]);
    }
    fprintf(out,
            "\nRows read: default %zu, reference %zu; grid days without a value (counted as "
            "0): default %zu, reference %zu\n",
            score->rows[ACCURACY_DEFAULT], score->rows[ACCURACY_REFERENCE],
            score->missing[ACCURACY_DEFAULT], score->missing[ACCURACY_REFERENCE]);
}

const char *accuracy_bar_name(enum accuracy_bar bar)
{
    return bar == ACCURACY_BAR_MONTHLY ? "monthly" : "daily";
}

bool accuracy_score_bar(const struct accuracy_score *score, enum accuracy_bar bar, FILE *out)
{
    bool met[2];
    for (int b = 0; b < 2; b++) {
        const struct accuracy_tally(*tallies)[ACCURACY_CLASSES] =
            b == ACCURACY_BAR_MONTHLY ? score->monthly : score->classes;
        struct accuracy_tally gap_long = class_total(tallies, ACCURACY_GAP_LONG);
        double ours = accuracy_tally_nmae(&gap_long, ACCURACY_DEFAULT);
        double theirs = accuracy_tally_nmae(&gap_long, ACCURACY_REFERENCE);
        /* NaN (no such days) fails: a scenario without them proves nothing. */
        met[b] = ours <= LONG_GAP_BAR * theirs;
        fprintf(out,
                "bar%s gaps >= 7 d, %s: default %.4f vs reference %.4f = %+.0f %% -> %s (at least "
                "30 %% lower)\n",
                b == (int)bar ? ":" : " (not asserted):",
                b == ACCURACY_BAR_MONTHLY ? "monthly sums" : "daily", ours, theirs,
                (ours / theirs - 1.0) * 100.0, met[b] ? "ok" : "missed");
    }
    struct accuracy_tally gap_day = class_total(score->classes, ACCURACY_GAP_DAY);
    double day_ours = accuracy_tally_nmae(&gap_day, ACCURACY_DEFAULT);
    double day_theirs = accuracy_tally_nmae(&gap_day, ACCURACY_REFERENCE);
    bool day_ok = day_ours <= day_theirs * (1.0 + 1e-9);
    fprintf(out, "bar: gaps < 36 h, daily: default %.4f vs reference %.4f -> %s (no worse)\n",
            day_ours, day_theirs, day_ok ? "ok" : "missed");
    fprintf(out, "spikes near transient zeros and resets: default %zu, reference %zu\n",
            score->spikes[ACCURACY_DEFAULT][ACCURACY_FAULT_ZERO] +
                score->spikes[ACCURACY_DEFAULT][ACCURACY_FAULT_RESET],
            score->spikes[ACCURACY_REFERENCE][ACCURACY_FAULT_ZERO] +
                score->spikes[ACCURACY_REFERENCE][ACCURACY_FAULT_RESET]);
    return met[bar] && day_ok;
}
