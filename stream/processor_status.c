/* What the stream processor shows: /metrics, its /health check, and GET /api/v1/meters[/<id>]. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/http_auth.h"
#include "relay/http_server.h"
#include "relay/lineproto.h"
#include "stream/processor_internal.h"

static int metric_append(struct buffer *out, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int metric_append(struct buffer *out, const char *format, ...)
{
    char line[2048]; /* the longest HELP text and its series fit */
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(line, sizeof line, format, arguments);
    va_end(arguments);
    if (length < 0 || (size_t)length >= sizeof line)
        return -ENOMEM;
    return buffer_append(out, line, (size_t)length);
}

static const char *miss_name(enum stream_reading_miss miss)
{
    switch (miss) {
    case STREAM_READING_MISS_NO_ID:
        return "no_id_tag";
    case STREAM_READING_MISS_NO_FIELD:
        return "no_value_field";
    case STREAM_READING_MISS_NOT_NUMBER:
        return "not_a_number";
    case STREAM_READING_MISS_NONE:
        break;
    }
    return "not_a_reading";
}

int stream_processor_metrics_write(void *argument, struct buffer *out)
{
    const struct stream_processor *processor = argument;
    uint64_t committed = spool_committed_sequence(processor->spool);
    uint64_t backlog = committed > processor->position ? committed - processor->position : 0;
    int status = 0;
#define METRIC(...)                                                                                \
    if (status == 0)                                                                               \
    status = metric_append(out, __VA_ARGS__)
    METRIC("# HELP nebenkosten_stream_backlog_records Committed spool records the stream processor "
           "has not read yet.\n# TYPE nebenkosten_stream_backlog_records gauge\n"
           "nebenkosten_stream_backlog_records %" PRIu64 "\n",
           backlog);
    METRIC("# HELP nebenkosten_stream_backlog_bytes Bytes of the spool segments the stream "
           "processor has not finished.\n# TYPE nebenkosten_stream_backlog_bytes gauge\n"
           "nebenkosten_stream_backlog_bytes %" PRIu64 "\n",
           backlog ? spool_backlog_bytes(processor->spool, processor->position) : 0);
    METRIC("# HELP nebenkosten_stream_position The spool sequence the meters' state reflects.\n"
           "# TYPE nebenkosten_stream_position gauge\nnebenkosten_stream_position %" PRIu64 "\n",
           processor->position);
    METRIC("# HELP nebenkosten_stream_meters Meters with state.\n"
           "# TYPE nebenkosten_stream_meters gauge\nnebenkosten_stream_meters %zu\n",
           processor->meters.count);
    METRIC("# HELP nebenkosten_stream_state_bytes Memory of the meters' state.\n"
           "# TYPE nebenkosten_stream_state_bytes gauge\nnebenkosten_stream_state_bytes %zu\n",
           stream_meter_table_bytes(&processor->meters));
    METRIC("# HELP nebenkosten_stream_records_total Spool records read for readings.\n"
           "# TYPE nebenkosten_stream_records_total counter\n"
           "nebenkosten_stream_records_total %" PRIu64 "\n",
           processor->records);
    METRIC("# HELP nebenkosten_stream_busy_seconds_total CPU time the stream processor spent "
           "reading and processing records.\n# TYPE nebenkosten_stream_busy_seconds_total "
           "counter\nnebenkosten_stream_busy_seconds_total %.6f\n",
           (double)processor->busy_ns / 1e9);
    METRIC("# HELP nebenkosten_stream_readings_total Meter readings applied.\n"
           "# TYPE nebenkosten_stream_readings_total counter\n"
           "nebenkosten_stream_readings_total %" PRIu64 "\n",
           processor->readings);
    METRIC("# HELP nebenkosten_stream_points_skipped_total Points that matched a reading rule's "
           "measurement and tags but are no reading, by reason.\n"
           "# TYPE nebenkosten_stream_points_skipped_total counter\n");
    for (int miss = STREAM_READING_MISS_NO_ID; miss <= STREAM_READING_MISS_NOT_NUMBER; miss++)
        METRIC("nebenkosten_stream_points_skipped_total{reason=\"%s\"} %" PRIu64 "\n",
               miss_name((enum stream_reading_miss)miss), processor->misses[miss]);
    METRIC("# HELP nebenkosten_stream_points_emitted_total Processed points produced.\n"
           "# TYPE nebenkosten_stream_points_emitted_total counter\n"
           "nebenkosten_stream_points_emitted_total %" PRIu64 "\n",
           processor->points_emitted);
    METRIC("# HELP nebenkosten_stream_anomalies_total Days the detectors flagged.\n"
           "# TYPE nebenkosten_stream_anomalies_total counter\n"
           "nebenkosten_stream_anomalies_total %" PRIu64 "\n",
           processor->anomalies);
    METRIC("# HELP nebenkosten_stream_events_total Meter events, by kind.\n"
           "# TYPE nebenkosten_stream_events_total counter\n");
    for (int kind = 0; kind < STREAM_EVENT_KIND_COUNT; kind++)
        METRIC("nebenkosten_stream_events_total{kind=\"%s\"} %" PRIu64 "\n",
               stream_event_kind_name((enum stream_event_kind)kind), processor->events[kind]);
    METRIC("# HELP nebenkosten_stream_checkpoints_total Checkpoints written.\n"
           "# TYPE nebenkosten_stream_checkpoints_total counter\n"
           "nebenkosten_stream_checkpoints_total %" PRIu64 "\n"
           "# HELP nebenkosten_stream_checkpoint_failures_total Checkpoints that could not be "
           "written.\n# TYPE nebenkosten_stream_checkpoint_failures_total counter\n"
           "nebenkosten_stream_checkpoint_failures_total %" PRIu64 "\n",
           processor->checkpoints, processor->checkpoint_failures);
    METRIC("# HELP nebenkosten_stream_checkpoint_duration_seconds Time the last checkpoint took.\n"
           "# TYPE nebenkosten_stream_checkpoint_duration_seconds gauge\n"
           "nebenkosten_stream_checkpoint_duration_seconds %.6f\n"
           "# HELP nebenkosten_stream_checkpoint_copy_seconds Loop time the last checkpoint took "
           "(copying the state; the writing runs on its own thread).\n"
           "# TYPE nebenkosten_stream_checkpoint_copy_seconds gauge\n"
           "nebenkosten_stream_checkpoint_copy_seconds %.6f\n"
           "# HELP nebenkosten_stream_checkpoint_age_seconds Time since the last checkpoint (-1: "
           "none since start).\n# TYPE nebenkosten_stream_checkpoint_age_seconds gauge\n"
           "nebenkosten_stream_checkpoint_age_seconds %.3f\n",
           processor->checkpoint_seconds, processor->checkpoint_build_seconds,
           processor->checkpoints ? (double)(clock_monotonic_ns(processor->clock) -
                                             processor->checkpoint_monotonic_ns) /
                                        1e9
                                  : -1.0);
    METRIC("# HELP nebenkosten_stream_baseline_reseeds_total Baselines files from the nightly "
           "batch applied.\n# TYPE nebenkosten_stream_baseline_reseeds_total counter\n"
           "nebenkosten_stream_baseline_reseeds_total %" PRIu64 "\n",
           processor->baseline_reseeds);
#undef METRIC
    return status;
}

void stream_processor_health_add(void *argument, cJSON *checks)
{
    const struct stream_processor *processor = argument;
    const char *status = "pass";
    const char *message = "processing readings";
    if (processor->failed) {
        status = "fail";
        message = "stopped after an error (see the log); writes are still accepted and "
                  "forwarded";
    } else if (processor->blocked) {
        status = "warn";
        message = "paused: the spool has no room for processed points";
    } else if (processor->checkpoint_failing) {
        status = "warn";
        message = processor->paused ? "cannot write its checkpoint (see the log); reading waits "
                                      "for it after re-seeding the baselines"
                                    : "cannot write its checkpoint (see the log)";
    }
    cJSON *check = cJSON_CreateObject();
    if (!check)
        return;
    cJSON_AddStringToObject(check, "name", "stream");
    cJSON_AddStringToObject(check, "status", status);
    cJSON_AddStringToObject(check, "message", message);
    if (!cJSON_AddItemToArray(checks, check))
        cJSON_Delete(check);
}

static cJSON *meter_json(const struct stream_processor *processor,
                         const struct stream_meter_slot *slot, int64_t now)
{
    cJSON *object = cJSON_CreateObject();
    if (!object)
        return NULL;
    char id[1024];
    snprintf(id, sizeof id, "%.*s", (int)slot->id_length,
             stream_meter_table_id(&processor->meters, slot));
    cJSON_AddStringToObject(object, "meter_id", id);
    stream_meter_describe(&slot->meter, &processor->calendar, now, object);
    return object;
}

void stream_processor_request_handle(void *argument, struct http_request *request, const char *path)
{
    struct stream_processor *processor = argument;
    enum http_request_method method = http_request_method(request);
    if (method != HTTP_REQUEST_GET && method != HTTP_REQUEST_HEAD) {
        evhttp_add_header(http_request_output_headers(request), "Allow", "GET, HEAD");
        http_reply_error(request, HTTP_DIALECT_V1, 405, "method not allowed",
                         "method not allowed; use GET");
        return;
    }
    /* Readings and consumption are the household's data, as what /query returns is: behind
     * relay.auth like /query and the jobs. */
    if (!http_auth_request_allowed(&relay_config(processor->relay)->relay, request)) {
        evhttp_add_header(http_request_output_headers(request), "WWW-Authenticate",
                          "Basic realm=\"InfluxDB\"");
        http_reply_error(request, HTTP_DIALECT_V1, 401, "unauthorized", "authorization failed");
        return;
    }
    int64_t now = clock_realtime_ns(processor->clock);
    const char *rest = path + strlen("/api/v1/meters");
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        cJSON *object = cJSON_CreateObject();
        cJSON *meters = object ? cJSON_AddArrayToObject(object, "meters") : NULL;
        for (size_t i = 0; meters && i < processor->meters.count; i++) {
            cJSON *meter =
                meter_json(processor, stream_meter_table_slot(&processor->meters, i), now);
            if (!meter || !cJSON_AddItemToArray(meters, meter)) {
                cJSON_Delete(meter);
                cJSON_Delete(object);
                object = NULL;
                break;
            }
        }
        if (object) {
            cJSON_AddNumberToObject(object, "count", (double)processor->meters.count);
            cJSON_AddNumberToObject(object, "position", (double)processor->position);
        }
        http_reply_json_object(request, 200, object);
        return;
    }
    size_t length = 0;
    char *id = evhttp_uridecode(rest + 1, 0, &length);
    const struct stream_meter_slot *slot =
        id ? stream_meter_table_find(&processor->meters, id, length) : NULL;
    if (!slot) {
        /* Quoted as the parse errors quote names: invalid UTF-8 as \xNN and a long id cut between
         * characters, so the JSON body stays UTF-8. */
        char quoted[256], message[512];
        if (id)
            lineproto_quote(quoted, sizeof quoted, id, length, 200);
        else
            lineproto_quote(quoted, sizeof quoted, rest + 1, strlen(rest + 1), 200);
        snprintf(message, sizeof message,
                 "no meter %s has sent a reading (GET /api/v1/meters lists them)", quoted);
        free(id);
        http_reply_error(request, HTTP_DIALECT_V1, 404, "not found", message);
        return;
    }
    free(id);
    http_reply_json_object(request, 200, meter_json(processor, slot, now));
}
