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

/* What a composite meter sees of the others: a physical meter's series (one without a series
 * still counts as present for the reference: it was discovered, with no points), a master
 * meter's consumption (virtual meters) and, in the default mode, the meters of its own type
 * computed so far (computed: one flag per slot of that type; NULL in compat reference, where a
 * master sees physical meters only and a virtual meter physical and master meters only). */
struct composite_scope {
    const struct batch_reconcile_result *result;
    const bool *computed;
};

/* Lookups for the master meters. */
static const struct batch_series *daily_lookup(const char *meter_id, void *argument)
{
    const struct composite_scope *scope = argument;
    const struct batch_reconcile_result *result = scope->result;
    /* A master first: its id may also have readings of its own (an empty physical entry). */
    for (size_t i = 0; scope->computed && i < result->master_count; i++)
        if (scope->computed[i] && strcmp(result->masters[i].config->meter_id, meter_id) == 0)
            return &result->masters[i].daily;
    const struct batch_physical_result *physical = batch_reconcile_physical_find(result, meter_id);
    return physical ? &physical->daily : NULL;
}

static const struct batch_series *monthly_lookup(const char *meter_id, void *argument)
{
    const struct composite_scope *scope = argument;
    const struct batch_physical_result *physical =
        batch_reconcile_physical_find(scope->result, meter_id);
    return physical ? &physical->monthly : NULL;
}

/* The lookup for the virtual meters: consumption of physical, master and virtual meters. */
static const struct batch_series *consumption_lookup(const char *meter_id, void *argument)
{
    const struct composite_scope *scope = argument;
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

/* The composite meters of one type (master or virtual): their slots (configuration order) and
 * the order to compute them in. */
struct composite_plan {
    size_t count;
    size_t *slot_of;  /* per configured meter: its slot among the meters of its type */
    size_t *meter_of; /* per slot: the configured meter's index */
    size_t *order;    /* the slots in the order to compute them */
    bool *computed;   /* per slot: set as each is computed */
};

/* Whether meter_id is a meter of type whose slot flags does not mark. */
static bool composite_pending(const struct config *config, enum config_meter_type type,
                              const struct composite_plan *plan, const bool *flags,
                              const char *meter_id)
{
    const struct config_meter *meter = meter_id ? config_meter_find(config, meter_id) : NULL;
    return meter && meter->type == type && !flags[plan->slot_of[meter - config->meters]];
}

/* Whether flags marks every meter of meter's own type that meter is made of (master meters of a
 * master meter, virtual meters of a virtual meter). */
static bool composite_ready(const struct config *config, const struct config_meter *meter,
                            const struct composite_plan *plan, const bool *flags)
{
    for (size_t p = 0; p < meter->period_count; p++)
        for (size_t s = 0; s < meter->periods[p].source_meter_count; s++)
            if (composite_pending(config, meter->type, plan, flags,
                                  meter->periods[p].source_meters[s]))
                return false;
    if (meter->type != CONFIG_METER_VIRTUAL)
        return true;
    if (composite_pending(config, meter->type, plan, flags, meter->base_meter))
        return false;
    for (size_t s = 0; s < meter->subtract_meter_count; s++)
        if (composite_pending(config, meter->type, plan, flags, meter->subtract_meters[s]))
            return false;
    return true;
}

static void composite_plan_free(struct composite_plan *plan)
{
    free(plan->slot_of);
    free(plan->meter_of);
    free(plan->order);
    free(plan->computed);
    *plan = (struct composite_plan){0};
}

/* Plans the meters of type: chained (the default mode), each after the meters of its type it is
 * made of (the configuration allows such chains and refuses cycles; a cycle would be computed as
 * configured); else in configuration order, as the reference does. Returns 0 or -1 (ENOMEM). */
static int composite_plan_make(const struct config *config, enum config_meter_type type,
                               bool chained, struct composite_plan *plan)
{
    *plan = (struct composite_plan){0};
    for (size_t i = 0; i < config->meter_count; i++)
        plan->count += config->meters[i].type == type;
    plan->slot_of = calloc(config->meter_count + 1, sizeof *plan->slot_of);
    plan->meter_of = calloc(plan->count + 1, sizeof *plan->meter_of);
    plan->order = calloc(plan->count + 1, sizeof *plan->order);
    plan->computed = calloc(plan->count + 1, sizeof *plan->computed);
    bool *placed = calloc(plan->count + 1, sizeof *placed);
    if (!plan->slot_of || !plan->meter_of || !plan->order || !plan->computed || !placed) {
        free(placed);
        composite_plan_free(plan);
        return -1;
    }
    for (size_t i = 0, slot = 0; i < config->meter_count; i++)
        if (config->meters[i].type == type) {
            plan->slot_of[i] = slot;
            plan->meter_of[slot++] = i;
        }
    for (size_t done = 0; done < plan->count;) {
        size_t before = done;
        for (int force = 0; force < 2 && done == before; force++)
            for (size_t slot = 0; slot < plan->count; slot++) {
                if (placed[slot] ||
                    (!force && chained &&
                     !composite_ready(config, &config->meters[plan->meter_of[slot]], plan, placed)))
                    continue;
                placed[slot] = true;
                plan->order[done++] = slot;
            }
    }
    free(placed);
    return 0;
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
    bool chained = options->compat != CONFIG_COMPAT_REFERENCE;
    struct composite_plan plan;
    if (composite_plan_make(config, CONFIG_METER_MASTER, chained, &plan) != 0)
        return -1;
    int status = -1;
    out->masters = calloc(plan.count + 1, sizeof *out->masters);
    if (!out->masters)
        goto cleanup;
    out->master_count = plan.count;
    for (size_t slot = 0; slot < plan.count; slot++)
        out->masters[slot].config = &config->meters[plan.meter_of[slot]];
    struct composite_scope scope = {.result = out, .computed = chained ? plan.computed : NULL};
    for (size_t k = 0; k < plan.count; k++) {
        struct batch_master_result *master = &out->masters[plan.order[k]];
        if (batch_master_compose(config, master->config, options->compat, daily_lookup,
                                 monthly_lookup, &scope, options->calendar, options->logger,
                                 &master->daily, &master->monthly) != 0)
            goto cleanup;
        plan.computed[plan.order[k]] = true;
    }
    status = 0;
cleanup:
    composite_plan_free(&plan);
    return status;
}

static int consumption_compute(const struct config *config,
                               const struct batch_reconcile_options *options,
                               struct batch_reconcile_result *out)
{
    bool chained = options->compat != CONFIG_COMPAT_REFERENCE;
    struct composite_plan plan;
    if (composite_plan_make(config, CONFIG_METER_VIRTUAL, chained, &plan) != 0)
        return -1;
    int status = -1;
    out->consumption =
        calloc(out->physical_count + out->master_count + 1, sizeof *out->consumption);
    out->virtuals = calloc(plan.count + 1, sizeof *out->virtuals);
    if (!out->consumption || !out->virtuals)
        goto cleanup;
    for (size_t i = 0; i < out->physical_count; i++)
        if (batch_series_consumption(&out->physical[i].daily,
                                     &out->consumption[out->consumption_count++]) != 0)
            goto cleanup;
    for (size_t i = 0; i < out->master_count; i++)
        if (batch_series_consumption(&out->masters[i].daily,
                                     &out->consumption[out->consumption_count++]) != 0)
            goto cleanup;
    /* Virtual meters in their configuration order, computed in the plan's. */
    out->virtual_count = plan.count;
    struct composite_scope scope = {.result = out, .computed = chained ? plan.computed : NULL};
    for (size_t k = 0; k < plan.count; k++) {
        const struct config_meter *meter = &config->meters[plan.meter_of[plan.order[k]]];
        if (batch_virtual_compose(config, meter, options->compat, consumption_lookup, &scope,
                                  options->logger, &out->virtuals[plan.order[k]]) != 0)
            goto cleanup;
        plan.computed[plan.order[k]] = true;
    }
    status = 0;
cleanup:
    composite_plan_free(&plan);
    return status;
}

/* The first day of series the default mode's vote judges: see anomalies_compute. */
static size_t anomalies_first_judged_day(const struct batch_series *series)
{
    size_t first = 1;
    while (first < series->count && series->values[first] == 0.0)
        first++;
    return first < series->count ? first : 1;
}

/* The default mode leaves each series' first day out of the vote: its 0 is not a measurement
 * (consumption starts there by definition), yet the vote flagged it on nearly every meter, its
 * distance from the non-zero days' mean and quartiles being the whole daily use, and it widened
 * the rolling window of the fortnight after it. The stream's baselines leave it out too. The
 * reference judges it; compat reference does.
 * The zero days that follow it before the first day with consumption are left out for the same
 * reason: a meter that has not begun to count, most often the days before the zero crossing of
 * a backward extrapolation (first reading 100 kWh, installation_date two years earlier: 680
 * invented days of 0, every one flagged). A series without consumption keeps its first day only
 * out, and its "fewer than 30 non-zero days" status. */
static int anomalies_compute(struct batch_reconcile_result *out, enum config_compat compat)
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
        size_t first = compat == CONFIG_COMPAT_REFERENCE ? 0 : anomalies_first_judged_day(series);
        if (batch_anomaly_vote_compute(series->values + first, series->count - first, days,
                                       &result->summary) != 0) {
            status = -1;
            break;
        }
        if (compat != CONFIG_COMPAT_REFERENCE)
            batch_anomaly_vote_noise_abstain(days, series->count - first, &result->summary);
        if (result->summary.status != BATCH_ANOMALY_ANALYSED || result->summary.anomaly_count == 0)
            continue;
        result->flags = calloc(result->summary.anomaly_count, sizeof *result->flags);
        if (!result->flags) {
            status = -1;
            break;
        }
        for (size_t d = 0; d + first < series->count; d++)
            if (days[d].is_anomaly && result->flag_count < result->summary.anomaly_count)
                result->flags[result->flag_count++] =
                    (struct batch_anomaly_flag){.index = d + first, .day = days[d]};
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
        consumption_compute(config, options, out) != 0 ||
        anomalies_compute(out, options->compat) != 0) {
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
