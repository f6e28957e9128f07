/* /metrics and /health of the upstreams: state, backlog, oldest-unsent age and the counters of
 * relay/upstream.c, per upstream. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "relay/upstream_internal.h"

static const char *const upstream_state_names[] = {"ok", "backoff", "paused"};

int64_t upstream_waiting_ns(const struct upstream *upstream, int64_t monotonic_ns)
{
    return monotonic_ns > upstream->waiting_since_ns ? monotonic_ns - upstream->waiting_since_ns
                                                     : 0;
}

/* Committed records past the upstream's acknowledged position (records addressed only to other
 * consumers count too: the cursor steps over them only when it reads that far). */
uint64_t upstream_backlog_count(const struct upstream *upstream)
{
    uint64_t committed = spool_committed_sequence(upstream->set->environment.spool);
    uint64_t acknowledged = spool_cursor_acknowledged(upstream->cursor);
    return committed > acknowledged ? committed - acknowledged : 0;
}

int upstream_set_metrics_write(const struct upstream_set *set, struct buffer *out)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"nebenkosten_upstream_state", "gauge",
         "Delivery state of each upstream: 1 for the current one of ok, backoff, paused."},
        {"nebenkosten_upstream_sent_records_total", "counter", "Spool records delivered (2xx)."},
        {"nebenkosten_upstream_sent_lines_total", "counter", "Lines delivered (2xx)."},
        {"nebenkosten_upstream_sent_bytes_total", "counter",
         "Line-protocol bytes delivered, before gzip."},
        {"nebenkosten_upstream_retries_total", "counter", "Requests sent again after a failure."},
        {"nebenkosten_upstream_dead_lettered_records_total", "counter",
         "Records rejected for good and moved to the dead-letter directory."},
        {"nebenkosten_upstream_backlog_records", "gauge",
         "Committed spool records the upstream has not acknowledged."},
        {"nebenkosten_upstream_backlog_bytes", "gauge",
         "Spool bytes from the upstream's position on (whole segments)."},
        {"nebenkosten_upstream_oldest_unsent_seconds", "gauge",
         "Seconds the oldest unsent record has waited: since the upstream last advanced, or "
         "since it was committed if everything before it was sent (0 without backlog)."},
    };
    char line[512];
    int64_t now = clock_monotonic_ns(set->environment.clock);
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        int length = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", families[f].name,
                              families[f].help, families[f].name, families[f].type);
        if (buffer_append(out, line, (size_t)length) != 0)
            return -ENOMEM;
        for (size_t i = 0; i < set->count; i++) {
            const struct upstream *upstream = &set->upstreams[i];
            uint64_t backlog = upstream_backlog_count(upstream);
            uint64_t value = 0;
            switch (f) {
            case 0:
                for (int s = 0; s < 3; s++) {
                    length = snprintf(line, sizeof line, "%s{upstream=\"%s\",state=\"%s\"} %d\n",
                                      families[f].name, upstream->name, upstream_state_names[s],
                                      (int)upstream->state == s);
                    if (buffer_append(out, line, (size_t)length) != 0)
                        return -ENOMEM;
                }
                continue;
            case 1:
                value = upstream->sent_records;
                break;
            case 2:
                value = upstream->sent_lines;
                break;
            case 3:
                value = upstream->sent_bytes;
                break;
            case 4:
                value = upstream->retries;
                break;
            case 5:
                value = upstream->dead_lettered_records;
                break;
            case 6:
                value = backlog;
                break;
            case 7:
                value = backlog ? spool_backlog_bytes(set->environment.spool,
                                                      spool_cursor_acknowledged(upstream->cursor))
                                : 0;
                break;
            default:
                value = backlog ? (uint64_t)(upstream_waiting_ns(upstream, now) / 1000000000) : 0;
                break;
            }
            length = snprintf(line, sizeof line, "%s{upstream=\"%s\"} %" PRIu64 "\n",
                              families[f].name, upstream->name, value);
            if (buffer_append(out, line, (size_t)length) != 0)
                return -ENOMEM;
        }
    }
    return 0;
}

void upstream_set_health_add(const struct upstream_set *set, cJSON *checks)
{
    for (size_t i = 0; i < set->count; i++) {
        const struct upstream *upstream = &set->upstreams[i];
        cJSON *check = cJSON_CreateObject();
        if (!check)
            return;
        char name[256], message[UPSTREAM_ERROR_SIZE + 64];
        snprintf(name, sizeof name, "upstream:%s", upstream->name);
        uint64_t backlog = upstream_backlog_count(upstream);
        if (upstream->state == UPSTREAM_OK)
            snprintf(message, sizeof message, "delivering; %" PRIu64 " records waiting", backlog);
        else
            snprintf(message, sizeof message, "%s: %s; %" PRIu64 " records waiting",
                     upstream->state == UPSTREAM_PAUSED ? "paused" : "backing off",
                     upstream->last_error, backlog);
        cJSON_AddStringToObject(check, "name", name);
        /* Writes are still accepted and kept while an upstream is down: a warning, not a fail. */
        cJSON_AddStringToObject(check, "status", upstream->state == UPSTREAM_OK ? "pass" : "warn");
        cJSON_AddStringToObject(check, "message", message);
        if (!cJSON_AddItemToArray(checks, check))
            cJSON_Delete(check);
    }
}
