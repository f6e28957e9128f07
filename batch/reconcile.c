/* The reconciliation's steps in order: daily series per physical meter, monthly values, master
 * meters, consumption, virtual meters, anomalies. */
#include "batch/reconcile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "batch/composite_meter.h"
#include "config/tz.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

const struct batch_physical_result *
batch_reconcile_physical_find(const struct batch_reconcile_result *result, const char *meter_id)
{
    size_t low = 0, high = result->physical_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp(result->physical[middle].meter_id, meter_id);
        if (order == 0)
            return &result->physical[middle];
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return NULL;
}

/* Lookups for the composite meters. A physical meter without a series still counts as present
 * for the reference (it was discovered), with no points. */
static const struct batch_series *daily_lookup(const char *meter_id, void *argument)
{
    const struct batch_physical_result *physical =
        batch_reconcile_physical_find(argument, meter_id);
    return physical ? &physical->daily : NULL;
}

static const struct batch_series *monthly_lookup(const char *meter_id, void *argument)
{
    const struct batch_physical_result *physical =
        batch_reconcile_physical_find(argument, meter_id);
    return physical ? &physical->monthly : NULL;
}

/* What the virtual meters see: the consumption of physical and master meters and, in the default
 * mode, the virtual meters computed so far (computed: one flag per virtual slot; NULL in compat
 * reference, whose virtual meters see no other virtual meter). */
struct consumption_scope {
    const struct batch_reconcile_result *result;
    const bool *computed;
};

static const struct batch_series *consumption_lookup(const char *meter_id, void *argument)
{
    const struct consumption_scope *scope = argument;
    const struct batch_reconcile_result *result = scope->result;
    /* A virtual meter first: its id may also have readings of its own (an empty physical entry). */
    for (size_t i = 0; scope->computed && i < result->virtual_count; i++)
        if (scope->computed[i] && strcmp(result->virtuals[i].meter_id, meter_id) == 0)
            return &result->virtuals[i];
    /* Masters come after the physical meters: a master whose id also has readings of its own
     * has an empty physical entry of that id first; the master's series is the one that counts. */
    for (size_t i = result->consumption_count; i-- > 0;)
        if (strcmp(result->consumption[i].meter_id, meter_id) == 0)
            return &result->consumption[i];
    return NULL;
}

/* Whether meter_id is a virtual meter not computed yet (slots: each meter's virtual slot). */
static bool virtual_pending(const struct config *config, const size_t *slots, const bool *computed,
                            const char *meter_id)
{
    const struct config_meter *meter = meter_id ? config_meter_find(config, meter_id) : NULL;
    return meter && meter->type == CONFIG_METER_VIRTUAL && !computed[slots[meter - config->meters]];
}

/* Computes the virtual meters into their slots (configuration order). The default mode computes
 * a virtual meter after the virtual meters it is based on or subtracts (the configuration allows
 * such chains and refuses cycles). */
static int virtuals_compute(const struct config *config,
                            const struct batch_reconcile_options *options, size_t virtual_count,
                            struct batch_reconcile_result *out)
{
    size_t *slots = calloc(config->meter_count + 1, sizeof *slots);
    size_t *meter_of = calloc(virtual_count + 1, sizeof *meter_of);
    bool *computed = calloc(virtual_count + 1, sizeof *computed);
    int status = -1;
    if (!slots || !meter_of || !computed)
        goto cleanup;
    for (size_t i = 0, slot = 0; i < config->meter_count; i++)
        if (config->meters[i].type == CONFIG_METER_VIRTUAL) {
            slots[i] = slot;
            meter_of[slot++] = i;
        }
    out->virtual_count = virtual_count;
    bool chained = options->compat != CONFIG_COMPAT_REFERENCE;
    struct consumption_scope scope = {.result = out, .computed = chained ? computed : NULL};
    for (size_t remaining = virtual_count; remaining > 0;) {
        size_t before = remaining;
        for (int force = 0; force < 2 && remaining == before; force++) {
            for (size_t slot = 0; slot < virtual_count; slot++) {
                const struct config_meter *meter = &config->meters[meter_of[slot]];
                if (computed[slot])
                    continue;
                bool ready = force || !chained ||
                             !virtual_pending(config, slots, computed, meter->base_meter);
                for (size_t s = 0; ready && !force && chained && s < meter->subtract_meter_count;
                     s++)
                    ready = !virtual_pending(config, slots, computed, meter->subtract_meters[s]);
                if (!ready)
                    continue;
                if (batch_virtual_compose(config, meter, options->compat, consumption_lookup,
                                          &scope, options->logger, &out->virtuals[slot]) != 0)
                    goto cleanup;
                computed[slot] = true;
                remaining--;
            }
        }
    }
    status = 0;
cleanup:
    free(slots);
    free(meter_of);
    free(computed);
    return status;
}

static int physical_compute(const struct config *config, const struct batch_readings *readings,
                            const struct batch_reconcile_options *options,
                            struct batch_reconcile_result *out)
{
    out->physical = calloc(readings->meter_count + 1, sizeof *out->physical);
    if (!out->physical)
        return -1;
    struct batch_daily_settings settings = {
        .compat = options->compat,
        .start_day = out->start_day,
        .end_day = out->end_day,
        .calendar = options->calendar,
    };
    int64_t start_ns = out->start_day * NS_PER_DAY;
    for (size_t m = 0; m < readings->meter_count; m++) {
        const struct batch_meter_readings *meter = &readings->meters[m];
        if (meter->count == 0)
            continue;
        /* The reference discovers meters by their readings since start_year, then interpolates
         * from all of them; the default mode takes every meter with readings (one whose readings
         * stopped before start_year may still be installed: it is extrapolated). */
        if (options->compat == CONFIG_COMPAT_REFERENCE &&
            meter->readings[meter->count - 1].t_ns < start_ns)
            continue;
        struct batch_physical_result *result = &out->physical[out->physical_count++];
        result->meter_id = meter->meter_id;
        result->config = config_meter_find(config, meter->meter_id);
        result->reading_count = meter->count;
        result->first_reading_ns = meter->readings[0].t_ns;
        result->last_reading_ns = meter->readings[meter->count - 1].t_ns;
        const struct config_pattern *pattern = config_pattern_find(config, meter->meter_id);
        if (batch_daily_series_build(result->config, pattern ? pattern->monthly_percentages : NULL,
                                     meter, &settings, &result->build) != 0)
            return -1;
        if (result->build.count == 0)
            log_info(options->logger, "meter has no daily series",
                     LOG_STRING("meter", meter->meter_id),
                     LOG_STRING("reason", result->build.status));
        /* The series' arrays move into the result's daily series. */
        result->daily = (struct batch_series){
            .meter_id = meter->meter_id,
            .count = result->build.count,
            .capacity = result->build.count,
            .t_ns = result->build.t_ns,
            .values = result->build.values,
        };
        result->build.t_ns = NULL;
        result->build.values = NULL;
        free(result->build.days);
        result->build.days = NULL;
        if (batch_series_monthly(&result->daily,
                                 options->compat == CONFIG_COMPAT_REFERENCE ? NULL
                                                                            : options->calendar,
                                 &result->monthly) != 0)
            return -1;
    }
    return 0;
}

static int masters_compute(const struct config *config,
                           const struct batch_reconcile_options *options,
                           struct batch_reconcile_result *out)
{
    out->masters = calloc(config->meter_count + 1, sizeof *out->masters);
    if (!out->masters)
        return -1;
    for (size_t i = 0; i < config->meter_count; i++) {
        const struct config_meter *meter = &config->meters[i];
        if (meter->type != CONFIG_METER_MASTER)
            continue;
        struct batch_master_result *master = &out->masters[out->master_count++];
        master->config = meter;
        if (batch_master_compose(config, meter, options->compat, daily_lookup, monthly_lookup, out,
                                 options->calendar, options->logger, &master->daily,
                                 &master->monthly) != 0)
            return -1;
    }
    return 0;
}

static int consumption_compute(const struct config *config,
                               const struct batch_reconcile_options *options,
                               struct batch_reconcile_result *out)
{
    size_t virtual_count = 0;
    for (size_t i = 0; i < config->meter_count; i++)
        virtual_count += config->meters[i].type == CONFIG_METER_VIRTUAL;
    out->consumption =
        calloc(out->physical_count + out->master_count + 1, sizeof *out->consumption);
    out->virtuals = calloc(virtual_count + 1, sizeof *out->virtuals);
    if (!out->consumption || !out->virtuals)
        return -1;
    for (size_t i = 0; i < out->physical_count; i++)
        if (batch_series_consumption(&out->physical[i].daily,
                                     &out->consumption[out->consumption_count++]) != 0)
            return -1;
    for (size_t i = 0; i < out->master_count; i++)
        if (batch_series_consumption(&out->masters[i].daily,
                                     &out->consumption[out->consumption_count++]) != 0)
            return -1;
    return virtuals_compute(config, options, virtual_count, out);
}

static int anomalies_compute(struct batch_reconcile_result *out)
{
    size_t total = out->consumption_count + out->virtual_count;
    out->anomalies = calloc(total + 1, sizeof *out->anomalies);
    if (!out->anomalies)
        return -1;
    struct batch_anomaly_day *days = NULL;
    size_t capacity = 0;
    int status = 0;
    for (size_t i = 0; i < total && status == 0; i++) {
        const struct batch_series *series = i < out->consumption_count
                                                ? &out->consumption[i]
                                                : &out->virtuals[i - out->consumption_count];
        if (series->count == 0)
            continue;
        struct batch_anomaly_result *result = &out->anomalies[out->anomaly_count++];
        result->series = series;
        if (series->count > capacity) {
            free(days);
            capacity = series->count;
            days = calloc(capacity, sizeof *days);
            if (!days) {
                status = -1;
                break;
            }
        }
        if (batch_anomaly_vote_compute(series->values, series->count, days, &result->summary) !=
            0) {
            status = -1;
            break;
        }
        if (result->summary.status != BATCH_ANOMALY_ANALYSED || result->summary.anomaly_count == 0)
            continue;
        result->flags = calloc(result->summary.anomaly_count, sizeof *result->flags);
        if (!result->flags) {
            status = -1;
            break;
        }
        for (size_t d = 0; d < series->count; d++)
            if (days[d].is_anomaly && result->flag_count < result->summary.anomaly_count)
                result->flags[result->flag_count++] =
                    (struct batch_anomaly_flag){.index = d, .day = days[d]};
    }
    free(days);
    return status;
}

int batch_reconcile_compute(const struct config *config, const struct batch_readings *readings,
                            const struct batch_reconcile_options *options,
                            struct batch_reconcile_result *out)
{
    *out = (struct batch_reconcile_result){0};
    out->start_day = tz_days_from_civil(config->workflows.analytics.start_year, 1, 1);
    out->end_day = options->today_day;
    if (physical_compute(config, readings, options, out) != 0 ||
        masters_compute(config, options, out) != 0 ||
        consumption_compute(config, options, out) != 0 || anomalies_compute(out) != 0) {
        int saved = errno;
        batch_reconcile_result_free(out);
        errno = saved ? saved : ENOMEM;
        return -1;
    }
    return 0;
}

void batch_reconcile_result_free(struct batch_reconcile_result *result)
{
    for (size_t i = 0; i < result->physical_count; i++) {
        batch_daily_series_free(&result->physical[i].build);
        batch_series_free(&result->physical[i].daily);
        batch_series_free(&result->physical[i].monthly);
    }
    for (size_t i = 0; i < result->master_count; i++) {
        batch_series_free(&result->masters[i].daily);
        batch_series_free(&result->masters[i].monthly);
    }
    for (size_t i = 0; i < result->consumption_count; i++)
        batch_series_free(&result->consumption[i]);
    for (size_t i = 0; i < result->virtual_count; i++)
        batch_series_free(&result->virtuals[i]);
    for (size_t i = 0; i < result->anomaly_count; i++)
        free(result->anomalies[i].flags);
    free(result->physical);
    free(result->masters);
    free(result->consumption);
    free(result->virtuals);
    free(result->anomalies);
    *result = (struct batch_reconcile_result){0};
}
