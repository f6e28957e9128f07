/* Which settings a reload cannot apply: the ones the relay's parts copied at start. */
#include "relay/reload_keys.h"

#include <stdbool.h>
#include <string.h>

static bool reload_text_differs(const char *old, const char *new)
{
    return (old == NULL) != (new == NULL) || (old && strcmp(old, new) != 0);
}

/* Did anything the forwarder copied at start change: the list, an upstream's settings, its
 * routing or its credentials (the secrets files are read again on reload)? */
static bool reload_upstreams_changed(const struct config_relay *old, const struct config_relay *new)
{
    if (old->upstream_count != new->upstream_count)
        return true;
    for (size_t i = 0; i < old->upstream_count; i++) {
        const struct config_upstream *a = &old->upstreams[i], *b = &new->upstreams[i];
        if (reload_text_differs(a->name, b->name) || reload_text_differs(a->url, b->url) ||
            a->api != b->api || reload_text_differs(a->org, b->org) ||
            reload_text_differs(a->token, b->token) ||
            reload_text_differs(a->username, b->username) ||
            reload_text_differs(a->password, b->password) || a->batch_lines != b->batch_lines ||
            a->batch_bytes != b->batch_bytes || a->gzip != b->gzip ||
            a->requests_in_flight != b->requests_in_flight ||
            a->batch_wait_ms != b->batch_wait_ms || a->tls_verify != b->tls_verify ||
            a->connect_timeout_ms != b->connect_timeout_ms ||
            a->request_timeout_ms != b->request_timeout_ms ||
            a->backoff_initial_ms != b->backoff_initial_ms ||
            a->backoff_max_ms != b->backoff_max_ms || a->pause_retry_ms != b->pause_retry_ms ||
            a->route_count != b->route_count)
            return true;
        for (size_t r = 0; r < a->route_count; r++)
            if (reload_text_differs(a->routes[r].source, b->routes[r].source) ||
                reload_text_differs(a->routes[r].bucket, b->routes[r].bucket))
                return true;
    }
    return false;
}

static bool reload_limits_differ(const struct config_meter_limits *a,
                                 const struct config_meter_limits *b)
{
    return reload_text_differs(a->meter_id, b->meter_id) ||
           a->max_rate_per_hour != b->max_rate_per_hour || a->stuck_days != b->stuck_days ||
           a->stale_after_ms != b->stale_after_ms || a->leak_check != b->leak_check;
}

static bool reload_stream_limits_changed(const struct config_stream *old,
                                         const struct config_stream *new)
{
    if (old->limit_count != new->limit_count)
        return true;
    for (size_t i = 0; i < old->limit_count; i++)
        if (reload_limits_differ(&old->limits[i], &new->limits[i]))
            return true;
    return false;
}

static bool reload_stream_readings_changed(const struct config_stream *old,
                                           const struct config_stream *new)
{
    if (old->reading_count != new->reading_count)
        return true;
    for (size_t i = 0; i < old->reading_count; i++) {
        const struct config_reading_rule *a = &old->readings[i], *b = &new->readings[i];
        if (reload_text_differs(a->measurement, b->measurement) ||
            reload_text_differs(a->id_tag, b->id_tag) || reload_text_differs(a->field, b->field) ||
            a->tag_count != b->tag_count)
            return true;
        for (size_t t = 0; t < a->tag_count; t++)
            if (reload_text_differs(a->tags[t].key, b->tags[t].key) ||
                reload_text_differs(a->tags[t].value, b->tags[t].value))
                return true;
    }
    return false;
}

static bool reload_patterns_changed(const struct config *old, const struct config *new)
{
    if (old->pattern_count != new->pattern_count)
        return true;
    for (size_t i = 0; i < old->pattern_count; i++) {
        const struct config_pattern *a = &old->patterns[i], *b = &new->patterns[i];
        if (reload_text_differs(a->meter_id, b->meter_id) || a->month_count != b->month_count)
            return true;
        for (size_t month = 0; month < a->month_count; month++)
            if (a->monthly_percentages[month] != b->monthly_percentages[month])
                return true;
    }
    return false;
}

size_t reload_keys_changed(const struct config *running, const struct config *fresh,
                           const char *keys[RELOAD_KEYS_MAX])
{
    const struct config_relay *old = &running->relay;
    const struct config_relay *new = &fresh->relay;
    bool streaming = running->stream.enabled;
    const struct {
        const char *key;
        bool changed;
    } candidates[] = {
        {"relay.listen", strcmp(old->listen.host ? old->listen.host : "",
                                new->listen.host ? new->listen.host : "") != 0 ||
                             old->listen.port != new->listen.port},
        {"relay.spool.dir", reload_text_differs(old->spool.dir, new->spool.dir)},
        {"relay.spool.sync", old->spool.sync.mode != new->spool.sync.mode ||
                                 old->spool.sync.interval_ms != new->spool.sync.interval_ms},
        {"relay.spool.segment_bytes", old->spool.segment_bytes != new->spool.segment_bytes},
        {"relay.spool.max_bytes", old->spool.max_bytes != new->spool.max_bytes},
        {"relay.spool.min_free_bytes", old->spool.min_free_bytes != new->spool.min_free_bytes},
        {"relay.max_connections", old->max_connections != new->max_connections},
        /* The forwarder copies its upstreams at start (relay/upstream.h). */
        {"relay.upstreams", reload_upstreams_changed(old, new)},
        /* /query asks one of those running upstreams (relay_started_config). */
        {"relay.query_upstream", reload_text_differs(old->query_upstream, new->query_upstream)},
        /* The stream processor copies its settings at start (stream/processor.h). */
        {"stream.enabled", running->stream.enabled != fresh->stream.enabled},
        {"stream.checkpoint_interval",
         running->stream.checkpoint_interval_ms != fresh->stream.checkpoint_interval_ms},
        /* Without these a running stream would silently go on without a new meter's rule,
         * limits or pattern (the README promises the warning; the batch reads them every run). */
        {"stream.readings",
         streaming && reload_stream_readings_changed(&running->stream, &fresh->stream)},
        {"stream.default_limits", streaming && reload_limits_differ(&running->stream.default_limits,
                                                                    &fresh->stream.default_limits)},
        {"stream.limits",
         streaming && reload_stream_limits_changed(&running->stream, &fresh->stream)},
        {"seasonal_patterns", streaming && reload_patterns_changed(running, fresh)},
        {"analytics.timezone",
         reload_text_differs(running->analytics.timezone, fresh->analytics.timezone)},
        {"influxdb.bucket_processed",
         reload_text_differs(running->influxdb.bucket_processed, fresh->influxdb.bucket_processed)},
        /* The logger copies its settings at start too (config/log.h). */
        {"logging", running->logging.level != fresh->logging.level ||
                        running->logging.format != fresh->logging.format ||
                        running->logging.max_bytes != fresh->logging.max_bytes ||
                        running->logging.backup_count != fresh->logging.backup_count ||
                        strcmp(running->logging.file ? running->logging.file : "",
                               fresh->logging.file ? fresh->logging.file : "") != 0},
    };
    _Static_assert(sizeof candidates / sizeof candidates[0] <= RELOAD_KEYS_MAX,
                   "RELOAD_KEYS_MAX counts every key");
    size_t count = 0;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (candidates[i].changed)
            keys[count++] = candidates[i].key;
    return count;
}
