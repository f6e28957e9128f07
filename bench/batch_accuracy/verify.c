#include "bench/batch_accuracy/verify.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "bench/batch_accuracy/csv.h"
#include "config/config.h"
#include "config/tz.h"

#define DAY ACCURACY_DAY_SECONDS
#define SHOWN_PROBLEMS 5
/* The generator's shares vary by the weather and holidays: a few tenths of a percentage point
 * per month on average. A scenario whose use does not follow its patterns shows several points. */
#define SHARE_BAR_POINTS 1.0
#define LONGEST_GAP_DAYS 91 /* 90 days and the times of day */

/* One check: its problems so far. */
struct check {
    FILE *out;
    unsigned problems;
};

static void problem(struct check *check, const char *format, ...)
{
    if (check->problems++ < SHOWN_PROBLEMS) {
        va_list arguments;
        va_start(arguments, format);
        fprintf(check->out, "        ");
        vfprintf(check->out, format, arguments);
        fprintf(check->out, "\n");
        va_end(arguments);
    }
}

/* Prints the check's line (before its problems have been listed, they follow). */
static int check_end(struct check *check, const char *what)
{
    if (check->problems > SHOWN_PROBLEMS)
        fprintf(check->out, "        ... %u problems in all\n", check->problems);
    fprintf(check->out, "verify: %s %s\n", check->problems ? "FAIL" : "ok  ", what);
    int status = check->problems ? -1 : 0;
    check->problems = 0;
    return status;
}

static bool tolerably_equal(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* The configuration against truth_meters.csv and the grids. */
static void config_check(struct check *check, const struct config *config,
                         const struct accuracy_truth *truth)
{
    for (size_t i = 0; i < truth->count; i++) {
        const struct accuracy_truth_meter *meter = &truth->meters[i];
        const struct config_meter *configured = config_meter_find(config, meter->meter_id);
        int64_t last = meter->first_day + (int64_t)meter->days - 1;
        if (!configured ||
            configured->type != (meter->master ? CONFIG_METER_MASTER : CONFIG_METER_PHYSICAL)) {
            problem(check, "%s: not in meters.yaml as a %s meter", meter->meter_id,
                    meter->master ? "master" : "physical");
            continue;
        }
        if (!meter->master && (configured->installation_date != meter->first_day ||
                               (configured->deinstallation_date == CONFIG_DATE_UNSET
                                    ? truth->today
                                    : configured->deinstallation_date) != last))
            problem(check, "%s: the grid is not installation_date .. deinstallation_date or today",
                    meter->meter_id);
        if (meter->master &&
            (configured->period_count != 2 ||
             configured->periods[0].start_date != meter->first_day || last != truth->today ||
             configured->periods[0].source_meter_count != 1 ||
             configured->periods[1].source_meter_count != 1 ||
             configured->periods[1].start_date != configured->periods[0].end_date + 1 ||
             !configured->periods[1].apply_offset_from_previous_period))
            problem(check,
                    "%s: expected two periods from the grid's first day, split at the old "
                    "register's removal, one source each, the second with the offset",
                    meter->meter_id);
        if ((config_pattern_find(config, meter->meter_id) != NULL) != meter->pattern_configured)
            problem(check,
                    "%s: truth_meters.csv and seasonal_patterns.yaml disagree on its pattern",
                    meter->meter_id);
    }
    if (config->workflows.analytics.start_year != truth->start_year)
        problem(check, "workflows.analytics.start_year is %d, scenario.json says %d",
                config->workflows.analytics.start_year, truth->start_year);
}

/* Readings against the true registers at the midnights around them. */
static void readings_check(struct check *check, const struct accuracy_truth_meter *meter,
                           size_t *at_midnight, size_t *between)
{
    int64_t last_day = meter->first_day + (int64_t)meter->days - 1;
    size_t normal = 0;
    for (size_t i = 0; i < meter->reading_count; i++) {
        int64_t t = meter->times[i];
        double value = meter->values[i];
        char when[ACCURACY_TIMESTAMP_SIZE];
        accuracy_timestamp_format(t, when);
        int64_t day = t / DAY;
        if (day < meter->first_day || day > last_day) {
            problem(check, "%s %s: outside the register's installation", meter->meter_id, when);
            continue;
        }
        if (meter->zero[i]) {
            if (value != 0.0)
                problem(check, "%s %s: a transient zero of %g", meter->meter_id, when, value);
            continue;
        }
        normal++;
        size_t k = (size_t)(day - meter->first_day);
        /* A reset between the midnights leaves no bracket. */
        if (meter->reset_t > day * DAY && meter->reset_t <= (day + 1) * DAY)
            continue;
        double low = meter->reg[k] - meter->resolution;
        double high = t == day * DAY        ? meter->reg[k]
                      : k + 1 < meter->days ? meter->reg[k + 1]
                                            : INFINITY;
        double slack = 1e-9 * fmax(1.0, fabs(value));
        if (value < low - slack || value > high + slack)
            problem(check, "%s %s: %.17g is not within [%.17g, %.17g]", meter->meter_id, when,
                    value, low, high);
        if (t == day * DAY)
            (*at_midnight)++;
        else
            (*between)++;
    }
    if (normal < 2)
        problem(check, "%s: fewer than two readings", meter->meter_id);
}

/* Each day's use against the registers; a master's against its sources. */
static void consumption_check(struct check *check, const struct config *config,
                              const struct accuracy_truth *truth,
                              const struct accuracy_truth_meter *meter)
{
    for (size_t k = 1; k < meter->days; k++) {
        int64_t midnight = (meter->first_day + (int64_t)k) * DAY;
        bool reset = meter->reset_t > midnight - DAY && meter->reset_t <= midnight;
        if (!reset && !tolerably_equal(meter->use[k], meter->reg[k] - meter->reg[k - 1])) {
            char when[ACCURACY_TIMESTAMP_SIZE];
            accuracy_timestamp_format(midnight, when);
            problem(check, "%s %s: consumption %.17g, registers differ by %.17g", meter->meter_id,
                    when, meter->use[k], meter->reg[k] - meter->reg[k - 1]);
        }
        if (meter->use[k] < 0)
            problem(check, "%s: negative use", meter->meter_id);
    }
    const struct config_meter *master = config_meter_find(config, meter->meter_id);
    if (!meter->master || !master || master->period_count != 2)
        return;
    const struct accuracy_truth_meter *old =
        accuracy_truth_find(truth, master->periods[0].source_meters[0]);
    const struct accuracy_truth_meter *new =
        accuracy_truth_find(truth, master->periods[1].source_meters[0]);
    if (!old || !new || meter->swap_t < 0 || new->first_day != meter->swap_t / DAY) {
        problem(check, "%s: its sources or its replacement are missing", meter->meter_id);
        return;
    }
    for (size_t k = 1; k < meter->days; k++) {
        int64_t day = meter->first_day + (int64_t)k;
        double use = meter->use[k];
        if (day <= new->first_day       ? !tolerably_equal(use, old->use[day - old->first_day])
            : day == new->first_day + 1 ? use < new->use[1] - 1e-9
                                        : !tolerably_equal(use, new->use[day - new->first_day]))
            problem(check, "%s day %lld: %.17g is not its source's", meter->meter_id,
                    (long long)day, use);
    }
}

/* The mean absolute difference (percentage points) between the true monthly shares of full
 * calendar years and the configured percentages; adds to *sum and *count. */
static void shares_add(const struct config *config, const struct accuracy_truth_meter *meter,
                       double *sum, size_t *count)
{
    const struct config_pattern *pattern = config_pattern_find(config, meter->meter_id);
    if (meter->master || !pattern)
        return;
    /* use[k] is the use of day first_day + k - 1. */
    int64_t first_use = meter->first_day, last_use = meter->first_day + (int64_t)meter->days - 2;
    int first_year, last_year, month, day_of_month;
    tz_civil_from_days(first_use, &first_year, &month, &day_of_month);
    tz_civil_from_days(last_use, &last_year, &month, &day_of_month);
    for (int year = first_year; year <= last_year; year++) {
        int64_t from = tz_days_from_civil(year, 1, 1), to = tz_days_from_civil(year, 12, 31);
        if (from < first_use || to > last_use)
            continue;
        double months[12] = {0}, total = 0.0;
        for (int64_t day = from; day <= to; day++) {
            int day_year;
            tz_civil_from_days(day, &day_year, &month, &day_of_month);
            double use = meter->use[day - meter->first_day + 1];
            months[month - 1] += use;
            total += use;
        }
        for (int m = 0; m < 12 && total > 0; m++) {
            *sum += fabs(months[m] / total * 100.0 - pattern->monthly_percentages[m]);
            (*count)++;
        }
    }
}

/* Interior gaps between the normal readings. */
static void gaps_count(struct check *check, const struct accuracy_truth_meter *meter,
                       size_t classes[3], double *longest)
{
    int64_t previous = -1;
    for (size_t i = 0; i < meter->reading_count; i++) {
        if (meter->zero[i])
            continue;
        if (previous >= 0) {
            double days = (double)(meter->times[i] - previous) / DAY;
            classes[days < 1.5 ? 0 : days < 7 ? 1 : 2]++;
            *longest = fmax(*longest, days);
            if (days > LONGEST_GAP_DAYS)
                problem(check, "%s: a gap of %.1f days", meter->meter_id, days);
        }
        previous = meter->times[i];
    }
}

static int config_open(const char *dir, struct config **config, struct check *check)
{
    char path[PATH_MAX];
    if (accuracy_path_join(path, sizeof path, dir, "config.yaml") != 0)
        return -1;
    struct config_diagnostics diagnostics = {0};
    int status = config_load(path, config, &diagnostics);
    for (size_t i = 0; i < diagnostics.error_count; i++)
        problem(check, "error: %s", diagnostics.errors[i]);
    for (size_t i = 0; i < diagnostics.warning_count; i++)
        problem(check, "warning: %s", diagnostics.warnings[i]);
    if (status != 0 && diagnostics.error_count == 0)
        problem(check, "%s does not load", path);
    config_diagnostics_free(&diagnostics);
    return status;
}

int accuracy_scenario_verify(const char *dir, const struct accuracy_truth *truth, FILE *out)
{
    struct check check = {.out = out};
    struct config *config = NULL;
    int status = 0;
    char line[256];
    if (config_open(dir, &config, &check) != 0) {
        check_end(&check, "config.yaml, meters.yaml and seasonal_patterns.yaml load");
        return -1;
    }
    status |= check_end(&check, "config.yaml, meters.yaml and seasonal_patterns.yaml load without "
                                "errors or warnings");
    config_check(&check, config, truth);
    snprintf(line, sizeof line,
             "%zu meters as in truth_meters.csv: installation and deinstallation dates, grids, "
             "masters' periods, patterns",
             truth->count);
    status |= check_end(&check, line);

    size_t at_midnight = 0, between = 0, zeros = 0;
    for (size_t i = 0; i < truth->count; i++) {
        if (truth->meters[i].master)
            continue;
        readings_check(&check, &truth->meters[i], &at_midnight, &between);
        for (size_t k = 0; k < truth->meters[i].reading_count; k++)
            zeros += truth->meters[i].zero[k];
    }
    snprintf(line, sizeof line,
             "readings within the resolution below the true register (%zu at a midnight, %zu "
             "between two), %zu transient zeros",
             at_midnight, between, zeros);
    status |= check_end(&check, line);

    for (size_t i = 0; i < truth->count; i++)
        consumption_check(&check, config, truth, &truth->meters[i]);
    status |= check_end(&check, "consumption is the registers' difference (but across a reset); "
                                "masters' is their sources'");

    double share_sum = 0.0, longest = 0.0;
    size_t share_count = 0, gaps[3] = {0};
    for (size_t i = 0; i < truth->count; i++)
        shares_add(config, &truth->meters[i], &share_sum, &share_count);
    double share = share_count ? share_sum / (double)share_count : 0.0;
    if (share_count == 0 || share > SHARE_BAR_POINTS)
        problem(&check, "%zu months of full years, mean difference %.2f points", share_count,
                share);
    snprintf(line, sizeof line,
             "true monthly shares follow seasonal_patterns.yaml: mean |difference| %.2f "
             "percentage points over %zu meter-months (bar <= %.1f)",
             share, share_count, SHARE_BAR_POINTS);
    status |= check_end(&check, line);

    for (size_t i = 0; i < truth->count; i++)
        if (!truth->meters[i].master)
            gaps_count(&check, &truth->meters[i], gaps, &longest);
    snprintf(line, sizeof line,
             "interior reading gaps: %zu under 36 h, %zu of 36 h to 7 d, %zu of 7 d or more "
             "(longest %.1f d)",
             gaps[0], gaps[1], gaps[2], longest);
    status |= check_end(&check, line);
    config_free(config);
    return status ? -1 : 0;
}
