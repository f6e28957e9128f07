/* Master and virtual meters. */
#include "batch/composite_meter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "batch/daily_series.h"

/* A unit conversion as the reference applies it: multiply or divide by the gas factor. */
struct conversion {
    double factor;
    bool divide;
};

static double conversion_apply(struct conversion conversion, double value)
{
    return conversion.divide ? value / conversion.factor : value * conversion.factor;
}

/* The reference converts only between m³ and kWh (energy content x z factor); any other pair of
 * different units passes unconverted (valid = false tells the virtual meters, which skip it). */
static struct conversion reference_conversion(const struct config *config, const char *from,
                                              const char *to, bool *valid)
{
    double gas = config->gas_conversion.energy_content * config->gas_conversion.z_factor;
    *valid = true;
    if (strcasecmp(from, to) == 0)
        return (struct conversion){.factor = 1.0};
    if (strcasecmp(from, "m³") == 0 && strcasecmp(to, "kwh") == 0)
        return (struct conversion){.factor = gas};
    if (strcasecmp(from, "kwh") == 0 && strcasecmp(to, "m³") == 0 && gas > 0.0)
        return (struct conversion){.factor = gas, .divide = true};
    *valid = false;
    return (struct conversion){.factor = 1.0};
}

static int instant_compare(const void *a, const void *b)
{
    const int64_t *left = a, *right = b;
    return (*left > *right) - (*left < *right);
}

/* The reference's period data: the sources' points within [start, end], converted, "sum" as an
 * outer join with missing = 0, "single" the first source. */
static int reference_period(const struct config *config, const struct config_meter *master,
                            const struct config_period *period, batch_series_lookup lookup,
                            void *argument, struct logger *logger, bool report,
                            struct batch_series *out)
{
    int64_t start = batch_daily_midnight(NULL, period->start_date);
    int64_t end = period->end_date >= CONFIG_DATE_OPEN_END
                      ? INT64_MAX
                      : batch_daily_midnight(NULL, period->end_date);
    const char *source_unit = period->source_unit ? period->source_unit : master->output_unit;
    bool valid;
    struct conversion conversion =
        reference_conversion(config, source_unit, master->output_unit, &valid);
    bool have = false;
    for (size_t s = 0; s < period->source_meter_count; s++) {
        const struct batch_series *source = lookup(period->source_meters[s], argument);
        if (!source) {
            if (report)
                log_warning(logger, "master meter source has no data",
                            LOG_STRING("meter", master->meter_id),
                            LOG_STRING("source", period->source_meters[s]));
            continue;
        }
        if (have && period->composition_type != CONFIG_COMPOSITION_SUM)
            break;
        struct batch_series merged = {.meter_id = master->meter_id};
        size_t i = 0, j = 0;
        /* Merge out (sorted) with the source's points in range (sorted). */
        while (true) {
            while (j < source->count && (source->t_ns[j] < start || source->t_ns[j] > end))
                j++;
            bool left = i < out->count, right = j < source->count;
            if (!left && !right)
                break;
            int64_t t;
            double value;
            if (left && (!right || out->t_ns[i] < source->t_ns[j])) {
                t = out->t_ns[i];
                value = out->values[i++];
            } else if (!left || source->t_ns[j] < out->t_ns[i]) {
                t = source->t_ns[j];
                value = conversion_apply(conversion, source->values[j++]);
            } else {
                t = out->t_ns[i];
                value = out->values[i++] + conversion_apply(conversion, source->values[j++]);
            }
            if (batch_series_append(&merged, t, value) != 0) {
                batch_series_free(&merged);
                return -1;
            }
        }
        batch_series_free(out);
        *out = merged;
        have = true;
    }
    return have ? 1 : 0;
}

static int reference_compose(const struct config *config, const struct config_meter *master,
                             batch_series_lookup lookup, void *argument, struct logger *logger,
                             bool report, struct batch_series *out)
{
    double previous_last = 0.0;
    for (size_t p = 0; p < master->period_count; p++) {
        const struct config_period *period = &master->periods[p];
        struct batch_series part = {.meter_id = master->meter_id};
        int have =
            reference_period(config, master, period, lookup, argument, logger, report, &part);
        if (have < 0) {
            batch_series_free(&part);
            return -1;
        }
        if (have == 0)
            continue;
        double offset = 0.0;
        if (period->apply_offset_from_previous_period && previous_last > 0.0 && part.count > 0)
            offset = previous_last - part.values[0];
        for (size_t i = 0; i < part.count; i++) {
            if (batch_series_append(out, part.t_ns[i], part.values[i] + offset) != 0) {
                batch_series_free(&part);
                return -1;
            }
        }
        if (part.count > 0)
            previous_last = part.values[part.count - 1] + offset;
        batch_series_free(&part);
    }
    /* Periods do not overlap (the configuration is checked); listed out of order, they are put in
     * order by a stable sort, keeping the first of equal instants as the reference's
     * drop_duplicates does. */
    for (size_t i = 1; i < out->count; i++) {
        int64_t t = out->t_ns[i];
        double value = out->values[i];
        size_t k = i;
        for (; k > 0 && out->t_ns[k - 1] > t; k--) {
            out->t_ns[k] = out->t_ns[k - 1];
            out->values[k] = out->values[k - 1];
        }
        out->t_ns[k] = t;
        out->values[k] = value;
    }
    size_t kept = 0;
    for (size_t i = 0; i < out->count; i++) {
        if (kept > 0 && out->t_ns[kept - 1] == out->t_ns[i])
            continue;
        out->t_ns[kept] = out->t_ns[i];
        out->values[kept] = out->values[i];
        kept++;
    }
    out->count = kept;
    return 0;
}

static bool source_listed(const struct batch_series *const *list, size_t count,
                          const struct batch_series *source)
{
    for (size_t i = 0; i < count; i++)
        if (list[i] == source)
            return true;
    return false;
}

/* The default mode's master register: moved by the sources' converted day-to-day increases. A
 * period takes its end day whole: its sources' increases up to the midnight after end_date (a
 * meter removed that day reads its last value there), so the day a meter is swapped keeps the old
 * meter's part of it. The next period starting at that midnight adds only its other sources'
 * increases there, so a source in both counts once. */
static int default_compose(const struct config *config, const struct config_meter *master,
                           batch_series_lookup lookup, void *argument,
                           const struct stream_calendar *calendar, struct logger *logger,
                           struct batch_series *out)
{
    bool have_register = false;
    double register_value = 0.0;
    const struct batch_series **sources = NULL;
    const struct batch_series **previous = NULL; /* the period before's sources */
    size_t previous_count = 0;
    double *factors = NULL;
    int64_t *instants = NULL;
    int result = -1;
    /* The periods in time order: the configuration accepts them in any order (they do not
     * overlap), and each continues the register of the one before it. */
    size_t *order = malloc((master->period_count + 1) * sizeof *order);
    if (!order)
        goto out_of_memory;
    for (size_t p = 0; p < master->period_count; p++) {
        size_t k = p;
        for (; k > 0 && master->periods[order[k - 1]].start_date > master->periods[p].start_date;
             k--)
            order[k] = order[k - 1];
        order[k] = p;
    }
    for (size_t o = 0; o < master->period_count; o++) {
        const struct config_period *period = &master->periods[order[o]];
        /* The period's days as the sources stamp them: local midnights in a time zone. */
        int64_t start = batch_daily_midnight(calendar, period->start_date);
        int64_t end = period->end_date >= CONFIG_DATE_OPEN_END
                          ? INT64_MAX
                          : batch_daily_midnight(calendar, period->end_date + 1);
        const char *unit = period->source_unit ? period->source_unit : master->output_unit;
        double factor;
        if (config_unit_factor(config, unit, master->output_unit, &factor) != 0) {
            log_error(logger, "master meter period skipped: its unit cannot be converted",
                      LOG_STRING("meter", master->meter_id), LOG_STRING("from", unit),
                      LOG_STRING("to", master->output_unit));
            continue;
        }
        size_t wanted = period->composition_type == CONFIG_COMPOSITION_SUM
                            ? period->source_meter_count
                            : (period->source_meter_count > 0 ? 1 : 0);
        free(previous);
        previous = sources;
        sources = NULL;
        free(factors);
        sources = calloc(wanted + 1, sizeof *sources);
        factors = calloc(wanted + 1, sizeof *factors);
        if (!sources || !factors)
            goto out_of_memory;
        size_t source_count = 0, instant_count = 0;
        for (size_t s = 0; s < wanted; s++) {
            const struct batch_series *source = lookup(period->source_meters[s], argument);
            if (!source || source->count == 0) {
                log_warning(logger, "master meter source has no data",
                            LOG_STRING("meter", master->meter_id),
                            LOG_STRING("source", period->source_meters[s]));
                continue;
            }
            sources[source_count] = source;
            factors[source_count++] = factor;
            instant_count += source->count;
        }
        free(instants);
        instants = malloc((instant_count + 1) * sizeof *instants);
        if (!instants)
            goto out_of_memory;
        size_t n = 0;
        for (size_t s = 0; s < source_count; s++)
            for (size_t i = 0; i < sources[s]->count; i++)
                if (sources[s]->t_ns[i] >= start && sources[s]->t_ns[i] <= end)
                    instants[n++] = sources[s]->t_ns[i];
        qsort(instants, n, sizeof *instants, instant_compare);
        bool first_day = true;
        for (size_t k = 0; k < n; k++) {
            if (k > 0 && instants[k] == instants[k - 1])
                continue;
            /* The midnight the period before ended on: its sources' increases are in already. */
            bool shared = first_day && out->count > 0 && out->t_ns[out->count - 1] == instants[k];
            double increase = 0.0, composed = 0.0;
            for (size_t s = 0; s < source_count; s++) {
                ptrdiff_t at = batch_series_find(sources[s], instants[k]);
                if (at < 0)
                    continue;
                composed += factors[s] * sources[s]->values[at];
                if (at > 0 && !(shared && source_listed(previous, previous_count, sources[s])))
                    increase += factors[s] * (sources[s]->values[at] - sources[s]->values[at - 1]);
            }
            if (first_day && !(have_register && period->apply_offset_from_previous_period))
                register_value = composed;
            else
                register_value += increase;
            first_day = false;
            have_register = true;
            if (shared)
                out->values[out->count - 1] = register_value;
            else if (batch_series_append(out, instants[k], register_value) != 0)
                goto cleanup;
        }
        previous_count = source_count;
    }
    result = 0;
    goto cleanup;
out_of_memory:
    errno = ENOMEM;
cleanup:
    free(order);
    free(sources);
    free(previous);
    free(factors);
    free(instants);
    return result;
}

int batch_master_compose(const struct config *config, const struct config_meter *master,
                         enum config_compat compat, batch_series_lookup daily,
                         batch_series_lookup monthly, void *lookup_argument,
                         const struct stream_calendar *calendar, struct logger *logger,
                         struct batch_series *out_daily, struct batch_series *out_monthly)
{
    *out_daily = (struct batch_series){.meter_id = master->meter_id};
    *out_monthly = (struct batch_series){.meter_id = master->meter_id};
    if (compat == CONFIG_COMPAT_REFERENCE) {
        if (reference_compose(config, master, daily, lookup_argument, logger, true, out_daily) != 0)
            return -1;
        /* The monthly sources are the same meters: their warnings would repeat the daily ones. */
        return reference_compose(config, master, monthly, lookup_argument, logger, false,
                                 out_monthly);
    }
    if (default_compose(config, master, daily, lookup_argument, calendar, logger, out_daily) != 0)
        return -1;
    return batch_series_monthly(out_daily, calendar, out_monthly);
}

static const struct config_meter *meter_find(const struct config *config, const char *id)
{
    return config_meter_find(config, id);
}

int batch_virtual_compose(const struct config *config, const struct config_meter *virtual_meter,
                          enum config_compat compat, batch_series_lookup consumption,
                          void *lookup_argument, struct logger *logger, struct batch_series *out)
{
    *out = (struct batch_series){.meter_id = virtual_meter->meter_id};
    const struct batch_series *base = consumption(virtual_meter->base_meter, lookup_argument);
    if (!base || base->count == 0) {
        log_warning(logger, "virtual meter skipped: its base meter has no consumption",
                    LOG_STRING("meter", virtual_meter->meter_id),
                    LOG_STRING("base_meter", virtual_meter->base_meter));
        return 0;
    }
    if (batch_series_copy(base, out) != 0)
        return -1;
    out->meter_id = virtual_meter->meter_id;
    /* The default mode subtracts in the base meter's unit (the one subtract_meter_conversions
     * convert to) and converts the difference to the virtual meter's output_unit last, so a
     * virtual meter in kWh on a gas meter in m³ is in kWh, not m³ labelled kWh. */
    const struct config_meter *base_config = meter_find(config, virtual_meter->base_meter);
    const char *frame_unit = base_config && base_config->output_unit ? base_config->output_unit
                                                                     : virtual_meter->output_unit;
    for (size_t m = 0; m < virtual_meter->subtract_meter_count; m++) {
        const char *id = virtual_meter->subtract_meters[m];
        const struct batch_series *subtract = consumption(id, lookup_argument);
        if (!subtract) {
            log_warning(logger, "virtual meter: a subtracted meter has no consumption",
                        LOG_STRING("meter", virtual_meter->meter_id), LOG_STRING("subtract", id));
            continue;
        }
        const struct config_unit_conversion *configured = NULL;
        for (size_t c = 0; c < virtual_meter->conversion_count; c++)
            if (strcasecmp(virtual_meter->conversions[c].meter_id, id) == 0)
                configured = &virtual_meter->conversions[c];
        struct conversion conversion = {.factor = 1.0};
        const char *from = configured ? configured->from_unit : NULL;
        const char *to = configured ? configured->to_unit : NULL;
        if (compat != CONFIG_COMPAT_REFERENCE && !configured) {
            const struct config_meter *subtracted = meter_find(config, id);
            if (subtracted && subtracted->output_unit && frame_unit) {
                from = subtracted->output_unit;
                to = frame_unit;
            }
        }
        if (from && to) {
            bool valid = true;
            if (compat == CONFIG_COMPAT_REFERENCE)
                conversion = reference_conversion(config, from, to, &valid);
            else
                valid = config_unit_factor(config, from, to, &conversion.factor) == 0;
            if (!valid) {
                log_error(logger, "virtual meter: a subtracted meter's unit cannot be converted",
                          LOG_STRING("meter", virtual_meter->meter_id), LOG_STRING("subtract", id),
                          LOG_STRING("from", from), LOG_STRING("to", to));
                continue;
            }
        }
        for (size_t i = 0; i < out->count; i++) {
            ptrdiff_t at = batch_series_find(subtract, out->t_ns[i]);
            if (at >= 0)
                out->values[i] -= conversion_apply(conversion, subtract->values[at]);
        }
    }
    double factor = 1.0;
    if (compat != CONFIG_COMPAT_REFERENCE && frame_unit && virtual_meter->output_unit &&
        config_unit_factor(config, frame_unit, virtual_meter->output_unit, &factor) != 0) {
        log_error(logger, "virtual meter: its base meter's unit cannot be converted",
                  LOG_STRING("meter", virtual_meter->meter_id), LOG_STRING("from", frame_unit),
                  LOG_STRING("to", virtual_meter->output_unit));
        factor = 1.0;
    }
    for (size_t i = 0; i < out->count; i++)
        out->values[i] = out->values[i] > 0.0 ? out->values[i] * factor : 0.0;
    return 0;
}
