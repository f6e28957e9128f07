/* What config.yaml needs after its sections are loaded: the default upstream, query_upstream, and
 * the checks that look at more than one section. */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/suggest.h"

static char *config_copy_or_null(const char *text)
{
    return text ? strdup(text) : NULL;
}

/* Without relay.upstreams, the relay forwards to influxdb.url, as the reference pipeline wrote. */
static void config_default_upstream_add(struct config_loader *loader, struct config *config)
{
    struct config_upstream *upstream = calloc(1, sizeof *upstream);
    if (!upstream) {
        config_report_out_of_memory(loader);
        return;
    }
    /* The table's defaults, without the complaints about the missing name and url. */
    struct config_diagnostics ignored = {0};
    struct config_loader quiet = *loader;
    quiet.diagnostics = &ignored;
    config_table_load(&quiet, &config_upstream_table, NULL, upstream, "relay.upstreams[0]");
    config_diagnostics_free(&ignored);

    const struct config_influxdb *influxdb = &config->influxdb;
    free(upstream->credentials);
    upstream->name = strdup("influxdb");
    upstream->url = config_copy_or_null(influxdb->url);
    upstream->org = config_copy_or_null(influxdb->org);
    upstream->credentials = config_copy_or_null(influxdb->credentials);
    upstream->api = influxdb->api;
    upstream->request_timeout_ms = influxdb->timeout_ms;
    if (!upstream->name || (influxdb->url && !upstream->url) || (influxdb->org && !upstream->org) ||
        (influxdb->credentials && !upstream->credentials)) {
        config_table_free(&config_upstream_table, upstream);
        free(upstream);
        config_report_out_of_memory(loader);
        return;
    }
    config->relay.upstreams = upstream;
    config->relay.upstream_count = 1;
}

static void config_upstream_names_check(struct config_loader *loader, const struct config *config)
{
    const struct config_relay *relay = &config->relay;
    for (size_t i = 0; i < relay->upstream_count; i++) {
        for (size_t j = 0; j < i; j++) {
            const char *name = relay->upstreams[i].name;
            if (!name || !relay->upstreams[j].name || strcmp(name, relay->upstreams[j].name) != 0)
                continue;
            char path[CONFIG_PATH_SIZE];
            snprintf(path, sizeof path, "relay.upstreams[%zu].name", i);
            config_report_path(loader, CONFIG_SEVERITY_ERROR, path,
                               "\"%s\" is already the name of relay.upstreams[%zu]; names must be "
                               "unique (each upstream has its own spool cursor)",
                               name, j);
            break;
        }
    }
}

static void config_query_upstream_resolve(struct config_loader *loader, struct config *config)
{
    struct config_relay *relay = &config->relay;
    if (relay->upstream_count == 0)
        return;
    if (!relay->query_upstream) {
        if (relay->upstreams[0].name) {
            relay->query_upstream = strdup(relay->upstreams[0].name);
            if (!relay->query_upstream)
                config_report_out_of_memory(loader);
        }
        return;
    }
    const char *names[32];
    char known[512] = "";
    size_t used = 0, count = 0;
    for (size_t i = 0; i < relay->upstream_count && count < 32; i++) {
        if (!relay->upstreams[i].name)
            continue;
        if (strcmp(relay->upstreams[i].name, relay->query_upstream) == 0)
            return;
        names[count++] = relay->upstreams[i].name;
        int printed = snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "",
                               relay->upstreams[i].name);
        if (printed > 0 && (size_t)printed < sizeof known - used)
            used += (size_t)printed;
    }
    const char *nearest =
        suggest_nearest(relay->query_upstream, strlen(relay->query_upstream), names, count);
    if (nearest)
        config_report_path(loader, CONFIG_SEVERITY_ERROR, "relay.query_upstream",
                           "\"%s\" is not the name of an upstream; did you mean \"%s\"?",
                           relay->query_upstream, nearest);
    else
        config_report_path(loader, CONFIG_SEVERITY_ERROR, "relay.query_upstream",
                           "\"%s\" is not the name of an upstream; expected one of %s",
                           relay->query_upstream, known);
}

void config_sections_complete(struct config_loader *loader, struct config *config)
{
    if (config->relay.upstream_count == 0) {
        yaml_node_t *given = config_node_find(loader, "relay.upstreams");
        yaml_node_t *relay = config_node_find(loader, "relay");
        if (given && given != relay && given->type == YAML_SEQUENCE_NODE &&
            given->data.sequence.items.top == given->data.sequence.items.start)
            config_report(loader, CONFIG_SEVERITY_WARNING, given, "relay.upstreams",
                          "is empty; forwarding to influxdb.url (%s)",
                          config->influxdb.url ? config->influxdb.url : "unset");
        config_default_upstream_add(loader, config);
    }
    config_upstream_names_check(loader, config);
    config_query_upstream_resolve(loader, config);
    if (config->stream.enabled && config->stream.reading_count == 0)
        config_report_path(loader, CONFIG_SEVERITY_WARNING, "stream.readings",
                           "no rule: no point is taken as a meter reading");
    /* The reference's interval, kept so its files load; the relay runs the poll on a cron
     * schedule, whose default is hourly, the interval's default. Another interval would
     * silently not be kept. */
    if (config->tibber.polling_interval_ms != 3600 * 1000 &&
        config_node_find(loader, "tibber.polling_interval"))
        config_report_path(
            loader, CONFIG_SEVERITY_WARNING, "tibber.polling_interval",
            "is not used: meter-batch tibber runs on workflows.tibber_sync.schedule (\"%s\"); "
            "set that instead",
            config->workflows.tibber_sync.schedule.text
                ? config->workflows.tibber_sync.schedule.text
                : "");
}

void config_limits_check(struct config_loader *loader, const struct config *config)
{
    if (config->meter_count == 0)
        return; /* meters are discovered from the data; any id may come */
    for (size_t i = 0; i < config->stream.limit_count; i++) {
        const char *meter_id = config->stream.limits[i].meter_id;
        if (!meter_id || config_meter_find(config, meter_id))
            continue;
        char path[CONFIG_PATH_SIZE];
        config_path_child(path, sizeof path, "stream.limits", meter_id);
        config_report_path(loader, CONFIG_SEVERITY_WARNING, path,
                           "no meter \"%s\" in meters.yaml; these limits apply only if its "
                           "readings arrive",
                           meter_id);
    }
}
