/* GET|HEAD /ping, GET /health, GET /ready: what load balancers, `influx ping` and client
 * libraries ask before writing. */
#include <cjson/cJSON.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>

#include "relay/dead_letter.h"
#include "relay/http_server.h"
#include "relay/relay.h"
#include "relay/upstream.h"

#define NANOSECONDS_PER_SECOND 1000000000LL

void http_ping_handle(struct relay *relay, struct http_request *request, const char *query)
{
    (void)relay;
    struct evkeyvalq parameters;
    TAILQ_INIT(&parameters);
    bool verbose = false;
    if (query && http_query_parse(query, &parameters) == 0) {
        const char *value = evhttp_find_header(&parameters, "verbose");
        verbose = value && (strcmp(value, "true") == 0 || strcmp(value, "1") == 0);
    }
    evhttp_clear_headers(&parameters);
    if (!verbose) {
        http_reply_json(request, 204, NULL, 0);
        return;
    }
    cJSON *object = cJSON_CreateObject();
    if (object)
        cJSON_AddStringToObject(object, "version", HTTP_INFLUXDB_VERSION);
    http_reply_json_object(request, 200, object);
}

/* A reload that failed shows here until one succeeds: the log line alone is easily missed, and
 * the file on disk is then not what runs. Writes go on, so it warns but does not fail. */
static void http_health_configuration_add(const struct relay *relay, cJSON *checks)
{
    struct relay_reload_status reload;
    relay_reload_status_read(relay, &reload);
    char loaded[64], failed[64], message[1024];
    dead_letter_time_format(reload.loaded_ns, loaded, sizeof loaded);
    if (reload.failed) {
        dead_letter_time_format(reload.failed_ns, failed, sizeof failed);
        snprintf(message, sizeof message,
                 "the reload at %s failed: %s%s; the configuration loaded at %s runs on until "
                 "the file is fixed and reloaded",
                 failed, reload.error, reload.error_count > 1 ? " (and more errors)" : "", loaded);
    } else {
        snprintf(message, sizeof message, "loaded at %s", loaded);
    }
    cJSON *check = cJSON_CreateObject();
    if (!check)
        return;
    cJSON_AddStringToObject(check, "name", "configuration");
    cJSON_AddStringToObject(check, "status", reload.failed ? "warn" : "pass");
    cJSON_AddStringToObject(check, "message", message);
    if (!cJSON_AddItemToArray(checks, check))
        cJSON_Delete(check);
}

void http_health_handle(struct relay *relay, struct http_request *request)
{
    struct spool *spool = relay_spool(relay);
    bool failed = spool_has_failed(spool);
    bool read_only = spool_is_read_only(spool);
    bool pass = !failed && !read_only && !relay_is_stopping(relay);
    uint64_t quarantined = relay_quarantined_segments(relay);
    int refused = spool_admission_refused(spool);
    char refusing[192];
    snprintf(refusing, sizeof refusing, "refusing writes: %s", spool_error_reason(refused));
    char degraded[192];
    snprintf(degraded, sizeof degraded,
             "accepting writes, degraded: %" PRIu64 " corrupt segment(s) moved to quarantine/ at "
             "start, their records are not delivered; see meter-relay spool-check",
             quarantined);
    const char *spool_message = failed        ? "spool I/O error: the relay must restart"
                                : read_only   ? "spool is read-only: the disk is full"
                                : refused     ? refusing
                                : quarantined ? degraded
                                              : "accepting writes";
    /* A cursor nobody reads (an upstream removed or renamed) holds every later segment: when the
     * spool fills for that reason, this is where an operator looks. */
    const char *orphans[1];
    size_t orphan_count = spool_unopened_consumers(spool, orphans, 1);
    char held[640];
    if (orphan_count > 0) {
        snprintf(held, sizeof held,
                 "%s; the cursor of \"%.64s\"%s, read by no configured upstream or stream "
                 "processor, keeps spool segments from being deleted: if it is gone for good, "
                 "stop the relay and delete its cursor file",
                 spool_message, orphans[0], orphan_count > 1 ? " (and others)" : "");
        spool_message = held;
    }
    cJSON *object = cJSON_CreateObject();
    cJSON *check = cJSON_CreateObject();
    if (!object || !check) {
        cJSON_Delete(check);
        cJSON_Delete(object);
        http_reply_unavailable(request, HTTP_DIALECT_V1, "out of memory");
        return;
    }
    cJSON_AddStringToObject(object, "name", "influxdb");
    cJSON_AddStringToObject(object, "message",
                            pass ? "ready for queries and writes" : "not accepting writes");
    cJSON_AddStringToObject(object, "status", pass ? "pass" : "fail");
    cJSON *checks = cJSON_AddArrayToObject(object, "checks");
    cJSON_AddStringToObject(check, "name", "spool");
    cJSON_AddStringToObject(check, "status",
                            failed || read_only                          ? "fail"
                            : refused || quarantined || orphan_count > 0 ? "warn"
                                                                         : "pass");
    cJSON_AddStringToObject(check, "message", spool_message);
    cJSON_AddStringToObject(check, "sync", config_sync_mode_name(spool_sync_mode(spool)));
    if (!checks || !cJSON_AddItemToArray(checks, check))
        cJSON_Delete(check);
    if (checks && relay_upstreams(relay))
        upstream_set_health_add(relay_upstreams(relay), checks);
    size_t extension_count;
    const struct relay_extension *extensions = relay_extensions(relay, &extension_count);
    for (size_t i = 0; checks && i < extension_count; i++)
        if (extensions[i].health_add)
            extensions[i].health_add(extensions[i].argument, checks);
    if (checks)
        http_health_configuration_add(relay, checks);
    /* version is the InfluxDB version clients expect; build is what actually runs. */
    cJSON_AddStringToObject(object, "version", HTTP_INFLUXDB_VERSION);
    cJSON_AddStringToObject(object, "commit", NEBENKOSTEN_COMMIT);
    cJSON *build = cJSON_AddObjectToObject(object, "build");
    if (build) {
        cJSON_AddStringToObject(build, "program", "meter-relay");
        cJSON_AddStringToObject(build, "version", NEBENKOSTEN_VERSION);
        cJSON_AddStringToObject(build, "commit", NEBENKOSTEN_COMMIT);
    }
    http_reply_json_object(request, pass ? 200 : 503, object);
}

/* Go's time.Duration text, which InfluxDB's /ready shows: "1h2m3.5s", "12.25s". */
static void http_duration_format(int64_t nanoseconds, char *out, size_t size)
{
    if (nanoseconds < 0)
        nanoseconds = 0;
    int64_t hours = nanoseconds / (3600 * NANOSECONDS_PER_SECOND);
    int64_t minutes = nanoseconds / (60 * NANOSECONDS_PER_SECOND) % 60;
    int64_t seconds = nanoseconds / NANOSECONDS_PER_SECOND % 60;
    int64_t fraction = nanoseconds % NANOSECONDS_PER_SECOND;
    char fraction_text[16] = "";
    if (fraction > 0) {
        snprintf(fraction_text, sizeof fraction_text, ".%09" PRId64, fraction);
        size_t length = strlen(fraction_text);
        while (length > 0 && fraction_text[length - 1] == '0')
            fraction_text[--length] = '\0';
    }
    if (hours > 0)
        snprintf(out, size, "%" PRId64 "h%" PRId64 "m%" PRId64 "%ss", hours, minutes, seconds,
                 fraction_text);
    else if (minutes > 0)
        snprintf(out, size, "%" PRId64 "m%" PRId64 "%ss", minutes, seconds, fraction_text);
    else
        snprintf(out, size, "%" PRId64 "%ss", seconds, fraction_text);
}

void http_ready_handle(struct relay *relay, struct http_request *request)
{
    char started_text[64];
    dead_letter_time_format(relay_started_ns(relay), started_text, sizeof started_text);
    char up[64];
    http_duration_format(relay_uptime_ns(relay), up, sizeof up);
    cJSON *object = cJSON_CreateObject();
    if (object) {
        cJSON_AddStringToObject(object, "status", "ready");
        cJSON_AddStringToObject(object, "started", started_text);
        cJSON_AddStringToObject(object, "up", up);
    }
    http_reply_json_object(request, 200, object);
}
