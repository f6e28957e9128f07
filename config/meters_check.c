/* Checks that need every meter: unique ids, references to defined meters, no meter that depends
 * on itself, units that can be converted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/suggest.h"
#include "config/units.h"

#define METERS_DEPENDENCIES_MAX 256

int config_unit_factor(const struct config *config, const char *from_unit, const char *to_unit,
                       double *factor)
{
    double kwh_per_cubic_metre =
        config->gas_conversion.energy_content * config->gas_conversion.z_factor;
    return units_conversion_factor(from_unit, to_unit, kwh_per_cubic_metre, factor);
}

static size_t meters_index(const struct config *config, const char *meter_id)
{
    for (size_t i = 0; meter_id && i < config->meter_count; i++)
        if (config->meters[i].meter_id && strcmp(config->meters[i].meter_id, meter_id) == 0)
            return i;
    return SIZE_MAX;
}

static void meters_reference_check(struct config_loader *loader, const struct config *config,
                                   size_t self, const char *meter_id, const char *path)
{
    if (!meter_id)
        return;
    size_t index = meters_index(config, meter_id);
    if (index == self) {
        config_report_path(loader, CONFIG_SEVERITY_ERROR, path,
                           "\"%s\" is this meter itself; a meter cannot be computed from itself",
                           meter_id);
        return;
    }
    if (index != SIZE_MAX)
        return;
    const char *names[METERS_DEPENDENCIES_MAX];
    size_t count = 0;
    for (size_t i = 0; i < config->meter_count && count < METERS_DEPENDENCIES_MAX; i++)
        if (config->meters[i].meter_id)
            names[count++] = config->meters[i].meter_id;
    const char *nearest = suggest_nearest(meter_id, strlen(meter_id), names, count);
    if (nearest)
        config_report_path(loader, CONFIG_SEVERITY_ERROR, path,
                           "\"%s\" is not a meter defined in this file; did you mean \"%s\"?",
                           meter_id, nearest);
    else
        config_report_path(loader, CONFIG_SEVERITY_ERROR, path,
                           "\"%s\" is not a meter defined in this file", meter_id);
}

/* The meters a master or virtual meter is computed from. */
static size_t meters_dependencies(const struct config_meter *meter, const char **out, size_t max)
{
    size_t count = 0;
    for (size_t p = 0; p < meter->period_count; p++)
        for (size_t s = 0; s < meter->periods[p].source_meter_count && count < max; s++)
            out[count++] = meter->periods[p].source_meters[s];
    if (meter->type == CONFIG_METER_VIRTUAL) {
        if (meter->base_meter && count < max)
            out[count++] = meter->base_meter;
        for (size_t s = 0; s < meter->subtract_meter_count && count < max; s++)
            out[count++] = meter->subtract_meters[s];
    }
    return count;
}

enum meters_color { METERS_UNVISITED, METERS_VISITING, METERS_DONE };

struct meters_walk {
    struct config_loader *loader;
    const struct config *config;
    unsigned char *color;
    size_t *stack;
    size_t depth;
};

/* Depth-first; a meter met again while it is being visited closes a cycle. */
static void meters_visit(struct meters_walk *walk, size_t index)
{
    walk->color[index] = METERS_VISITING;
    walk->stack[walk->depth++] = index;
    const char *dependencies[METERS_DEPENDENCIES_MAX];
    size_t count =
        meters_dependencies(&walk->config->meters[index], dependencies, METERS_DEPENDENCIES_MAX);
    for (size_t d = 0; d < count; d++) {
        size_t next = meters_index(walk->config, dependencies[d]);
        if (next == SIZE_MAX || next == index)
            continue; /* reported as undefined or as itself */
        if (walk->color[next] == METERS_UNVISITED) {
            meters_visit(walk, next);
        } else if (walk->color[next] == METERS_VISITING) {
            char chain[512] = "";
            size_t used = 0, start = 0;
            while (walk->stack[start] != next)
                start++;
            for (size_t s = start; s <= walk->depth; s++) {
                size_t member = s < walk->depth ? walk->stack[s] : next;
                int printed =
                    snprintf(chain + used, sizeof chain - used, "%s%s", s > start ? " -> " : "",
                             walk->config->meters[member].meter_id);
                if (printed < 0 || (size_t)printed >= sizeof chain - used)
                    break;
                used += (size_t)printed;
            }
            char path[CONFIG_PATH_SIZE];
            snprintf(path, sizeof path, "meters[%zu]", index);
            config_report_path(walk->loader, CONFIG_SEVERITY_ERROR, path,
                               "meters depend on each other in a cycle: %s", chain);
        }
    }
    walk->depth--;
    walk->color[index] = METERS_DONE;
}

static void meters_cycles_check(struct config_loader *loader, const struct config *config)
{
    struct meters_walk walk = {.loader = loader, .config = config};
    walk.color = calloc(config->meter_count, 1);
    walk.stack = calloc(config->meter_count + 1, sizeof *walk.stack);
    if (!walk.color || !walk.stack) {
        config_report_out_of_memory(loader);
    } else {
        for (size_t i = 0; i < config->meter_count; i++)
            if (walk.color[i] == METERS_UNVISITED && config->meters[i].meter_id)
                meters_visit(&walk, i);
    }
    free(walk.color);
    free(walk.stack);
}

static void meters_units_check(struct config_loader *loader, const struct config *config,
                               size_t index)
{
    const struct config_meter *meter = &config->meters[index];
    char path[CONFIG_PATH_SIZE];
    double factor;
    for (size_t p = 0; p < meter->period_count; p++) {
        const struct config_period *period = &meter->periods[p];
        snprintf(path, sizeof path, "meters[%zu].periods[%zu].source_unit", index, p);
        /* The sources' values are taken in source_unit (by default the master's): a source
         * meter whose own unit differs would be summed unconverted, m³ counted as kWh. */
        for (size_t s = 0; period->source_unit && s < period->source_meter_count; s++) {
            size_t source = meters_index(config, period->source_meters[s]);
            const char *unit = source == SIZE_MAX ? NULL : config->meters[source].output_unit;
            /* By factor, not by name: m3 and m³ are one unit. */
            if (unit && (config_unit_factor(config, unit, period->source_unit, &factor) != 0 ||
                         factor != 1.0))
                config_report_path(loader, CONFIG_SEVERITY_WARNING, path,
                                   "\"%s\", but source meter \"%s\" is in \"%s\" (its "
                                   "output_unit): its values are taken as %s, unconverted; set "
                                   "source_unit: %s to convert them",
                                   period->source_unit, period->source_meters[s], unit,
                                   period->source_unit, unit);
        }
        if (!period->source_unit || !meter->output_unit ||
            config_unit_factor(config, period->source_unit, meter->output_unit, &factor) == 0)
            continue;
        config_report_path(loader, CONFIG_SEVERITY_ERROR, path,
                           "\"%s\" cannot be converted to the output_unit \"%s\" (convertible: "
                           "Wh, kWh, MWh, GWh, m³, l; gas m³ and energy via gas_conversion)",
                           period->source_unit, meter->output_unit);
    }
    if (meter->type != CONFIG_METER_VIRTUAL || !meter->base_meter)
        return;
    size_t base = meters_index(config, meter->base_meter);
    for (size_t c = 0; c < meter->conversion_count; c++) {
        const struct config_unit_conversion *conversion = &meter->conversions[c];
        if (!conversion->from_unit || !conversion->to_unit ||
            config_unit_factor(config, conversion->from_unit, conversion->to_unit, &factor) == 0)
            continue;
        snprintf(path, sizeof path, "meters[%zu].subtract_meter_conversions.%s", index,
                 conversion->meter_id);
        config_report_path(loader, CONFIG_SEVERITY_ERROR, path,
                           "cannot convert \"%s\" to \"%s\" (convertible: Wh, kWh, MWh, GWh, m³, "
                           "l; gas m³ and energy via gas_conversion)",
                           conversion->from_unit, conversion->to_unit);
    }
    if (base == SIZE_MAX || !config->meters[base].output_unit)
        return;
    const char *base_unit = config->meters[base].output_unit;
    for (size_t s = 0; s < meter->subtract_meter_count; s++) {
        size_t subtracted = meters_index(config, meter->subtract_meters[s]);
        if (subtracted == SIZE_MAX || !config->meters[subtracted].output_unit ||
            strcmp(config->meters[subtracted].output_unit, base_unit) == 0)
            continue;
        bool converted = false;
        for (size_t c = 0; c < meter->conversion_count && !converted; c++)
            converted = strcmp(meter->conversions[c].meter_id, meter->subtract_meters[s]) == 0;
        if (converted)
            continue;
        /* What meter-batch does without an entry: the reference's mode subtracts the values as
         * they are; the default mode converts them by the unit table and, when it cannot, leaves
         * the meter out of the subtraction. */
        const char *subtracted_unit = config->meters[subtracted].output_unit;
        bool reference = config->analytics.compat == CONFIG_COMPAT_REFERENCE;
        if (!reference && config_unit_factor(config, subtracted_unit, base_unit, &factor) == 0)
            continue;
        snprintf(path, sizeof path, "meters[%zu].subtract_meters[%zu]", index, s);
        config_report_path(loader, CONFIG_SEVERITY_WARNING, path,
                           "\"%s\" counts in %s, the base meter in %s, and there is no "
                           "subtract_meter_conversions entry for it; %s",
                           meter->subtract_meters[s], subtracted_unit, base_unit,
                           reference ? "its values are subtracted unconverted "
                                       "(analytics.compat: reference)"
                                     : "the units cannot be converted, so it is left out of the "
                                       "subtraction");
    }
}

void config_meters_check(struct config_loader *loader, const struct config *config)
{
    char path[CONFIG_PATH_SIZE];
    for (size_t i = 0; i < config->meter_count; i++) {
        const struct config_meter *meter = &config->meters[i];
        size_t first = meters_index(config, meter->meter_id);
        if (first != SIZE_MAX && first < i) {
            snprintf(path, sizeof path, "meters[%zu].meter_id", i);
            config_report_path(loader, CONFIG_SEVERITY_ERROR, path,
                               "\"%s\" is already defined by meters[%zu]; meter ids must be unique",
                               meter->meter_id, first);
        }
        for (size_t p = 0; p < meter->period_count; p++)
            for (size_t s = 0; s < meter->periods[p].source_meter_count; s++) {
                snprintf(path, sizeof path, "meters[%zu].periods[%zu].source_meters[%zu]", i, p, s);
                meters_reference_check(loader, config, i, meter->periods[p].source_meters[s], path);
            }
        if (meter->type == CONFIG_METER_VIRTUAL) {
            snprintf(path, sizeof path, "meters[%zu].base_meter", i);
            meters_reference_check(loader, config, i, meter->base_meter, path);
            for (size_t s = 0; s < meter->subtract_meter_count; s++) {
                snprintf(path, sizeof path, "meters[%zu].subtract_meters[%zu]", i, s);
                meters_reference_check(loader, config, i, meter->subtract_meters[s], path);
            }
        }
        meters_units_check(loader, config, i);
    }
    meters_cycles_check(loader, config);
}
