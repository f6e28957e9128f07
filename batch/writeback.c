/* The reconciled series as line protocol to the relay or InfluxDB. */
#include "batch/writeback.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "relay/buffer.h"
#include "relay/influx_client.h"
#include "stream/emission_format.h"

const char *const batch_processed_measurements[] = {
    "meter_interpolated_daily",
    "meter_interpolated_monthly",
    "meter_consumption",
    "meter_anomaly",
    "meter_event",
};
const size_t batch_processed_measurement_count =
    sizeof batch_processed_measurements / sizeof batch_processed_measurements[0];

/* Lines per request: the relay and InfluxDB both take 5000-line batches well. */
#define WRITEBACK_BATCH_LINES 5000
#define WRITEBACK_BATCH_BYTES (1024 * 1024)
#define WRITEBACK_PING_TIMEOUT_MS 2000

static size_t discard_body(char *data, size_t size, size_t count, void *argument)
{
    (void)data;
    (void)argument;
    return size * count;
}

/* Whether the relay answers GET /ping with 204 at url. */
static bool relay_answers(const char *url, const struct config_influxdb *server)
{
    CURL *easy = curl_easy_init();
    if (!easy)
        return false;
    char ping[600];
    snprintf(ping, sizeof ping, "%s/ping", url);
    struct curl_slist *headers = NULL;
    char authorization[600];
    if (server->token) {
        snprintf(authorization, sizeof authorization, "Authorization: Token %s", server->token);
        headers = curl_slist_append(headers, authorization);
    } else if (server->username) {
        curl_easy_setopt(easy, CURLOPT_USERNAME, server->username);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, server->password ? server->password : "");
    }
    curl_easy_setopt(easy, CURLOPT_URL, ping);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)WRITEBACK_PING_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body);
    long status = 0;
    bool answers = curl_easy_perform(easy) == CURLE_OK &&
                   curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
                   status == 204;
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    return answers;
}

void batch_writeback_target_choose(const struct config *config, bool direct, struct logger *logger,
                                   struct batch_writeback_target *out)
{
    *out = (struct batch_writeback_target){.server = config->influxdb,
                                           .database = config->influxdb.bucket_processed};
    const struct config_relay *relay = &config->relay;
    if (!direct && relay->listen.port > 0) {
        const char *host =
            relay->listen.host && relay->listen.host[0] ? relay->listen.host : "127.0.0.1";
        bool ipv6 = strchr(host, ':') != NULL;
        snprintf(out->url, sizeof out->url, "http://%s%s%s:%d%s", ipv6 ? "[" : "", host,
                 ipv6 ? "]" : "", relay->listen.port, relay->base_path ? relay->base_path : "");
        struct config_influxdb server = {
            .url = out->url,
            .bucket_raw = config->influxdb.bucket_raw,
            .bucket_processed = config->influxdb.bucket_processed,
            .timeout_ms = config->influxdb.timeout_ms,
            .retry_attempts = config->influxdb.retry_attempts,
            .api = CONFIG_API_V1,
        };
        if (relay->auth == CONFIG_AUTH_TOKEN && relay->auth_token_count > 0)
            server.token = relay->auth_tokens[0];
        if (relay->auth == CONFIG_AUTH_BASIC && relay->auth_user_count > 0) {
            server.username = relay->auth_users[0].name;
            server.password = relay->auth_users[0].password;
        }
        if (relay_answers(out->url, &server)) {
            out->server = server;
            out->via_relay = true;
            /* The relay's tokens, not InfluxDB's: a 401 means the running relay does not know
             * the entry this run presents (relay.env changed since its start or last reload). */
            if (relay->auth != CONFIG_AUTH_NONE)
                snprintf(out->refusal_hint, sizeof out->refusal_hint,
                         "the relay refused the first of %s in %s/%s; after changing that file, "
                         "reload the relay (systemctl reload meter-relay)",
                         relay->auth == CONFIG_AUTH_TOKEN ? "RELAY_TOKENS" : "RELAY_USERS",
                         config->secrets_dir ? config->secrets_dir : ".",
                         relay->credentials ? relay->credentials : "relay.env");
            log_info(logger, "writing through the relay", LOG_STRING("url", out->url));
            return;
        }
        log_info(logger, "no relay answers at relay.listen: writing to InfluxDB directly",
                 LOG_STRING("relay", out->url), LOG_STRING("url", config->influxdb.url));
    }
    out->url[0] = '\0';
    log_info(logger, "writing to InfluxDB", LOG_STRING("url", out->server.url));
}

struct writeback {
    struct influx_writer *writer;
    struct buffer line;
    char *error;
    size_t error_size;
};

static int point_write(struct writeback *writeback, const char *meter_id,
                       const struct stream_emission *emission)
{
    writeback->line.length = 0;
    int status = stream_emission_format(&writeback->line, meter_id, strlen(meter_id), emission);
    if (status != 0) {
        snprintf(writeback->error, writeback->error_size,
                 "meter %s: its point cannot be written as line protocol (%s)", meter_id,
                 status == -EINVAL ? "the id is not a valid tag value" : "out of memory");
        return -1;
    }
    /* The formatter ends the line with '\n'; the writer adds its own. */
    return influx_writer_add(writeback->writer, writeback->line.data, writeback->line.length - 1,
                             writeback->error, writeback->error_size);
}

static int series_write(struct writeback *writeback, const struct batch_series *series,
                        enum stream_emission_kind kind)
{
    for (size_t i = 0; i < series->count; i++) {
        struct stream_emission emission = {
            .kind = kind, .timestamp_ns = series->t_ns[i], .value = series->values[i]};
        if (point_write(writeback, series->meter_id, &emission) != 0)
            return -1;
    }
    return 0;
}

static int anomalies_write(struct writeback *writeback, const struct batch_anomaly_result *result)
{
    for (size_t f = 0; f < result->flag_count; f++) {
        size_t i = result->flags[f].index;
        const struct batch_anomaly_day *day = &result->flags[f].day;
        struct stream_emission emission = {
            .kind = STREAM_EMISSION_ANOMALY,
            .timestamp_ns = result->series->t_ns[i],
            .value = day->value,
            .z_score = day->z_score,
            .iqr_lower = result->summary.iqr_lower,
            .iqr_upper = result->summary.iqr_upper,
            .anomaly_count = day->anomaly_count,
        };
        if (point_write(writeback, result->series->meter_id, &emission) != 0)
            return -1;
    }
    return 0;
}

static int everything_write(struct writeback *writeback,
                            const struct batch_reconcile_result *result)
{
    for (size_t i = 0; i < result->physical_count; i++)
        if (series_write(writeback, &result->physical[i].daily, STREAM_EMISSION_DAILY) != 0 ||
            series_write(writeback, &result->physical[i].monthly, STREAM_EMISSION_MONTHLY) != 0)
            return -1;
    for (size_t i = 0; i < result->master_count; i++)
        if (series_write(writeback, &result->masters[i].daily, STREAM_EMISSION_DAILY) != 0 ||
            series_write(writeback, &result->masters[i].monthly, STREAM_EMISSION_MONTHLY) != 0)
            return -1;
    for (size_t i = 0; i < result->consumption_count; i++)
        if (series_write(writeback, &result->consumption[i], STREAM_EMISSION_CONSUMPTION) != 0)
            return -1;
    for (size_t i = 0; i < result->virtual_count; i++)
        if (series_write(writeback, &result->virtuals[i], STREAM_EMISSION_CONSUMPTION) != 0)
            return -1;
    for (size_t i = 0; i < result->anomaly_count; i++)
        if (anomalies_write(writeback, &result->anomalies[i]) != 0)
            return -1;
    return influx_writer_flush(writeback->writer, writeback->error, writeback->error_size);
}

int batch_writeback_write(const struct batch_reconcile_result *result,
                          const struct batch_writeback_target *target, struct logger *logger,
                          struct batch_writeback_counts *counts, char *error, size_t error_size)
{
    *counts = (struct batch_writeback_counts){0};
    struct influx_client *client = influx_client_create(&target->server, error, error_size);
    if (!client)
        return -1;
    influx_client_logger_set(client, logger);
    if (target->refusal_hint[0] != '\0')
        influx_client_refusal_hint_set(client, target->refusal_hint);
    struct writeback writeback = {
        .writer = influx_writer_create(client, target->database, WRITEBACK_BATCH_LINES,
                                       WRITEBACK_BATCH_BYTES),
        .line = BUFFER_INITIALIZER,
        .error = error,
        .error_size = error_size,
    };
    int status = -1;
    if (!writeback.writer)
        snprintf(error, error_size, "out of memory creating the writer");
    else
        status = everything_write(&writeback, result);
    if (writeback.writer)
        influx_writer_counts(writeback.writer, &counts->points, &counts->bytes, &counts->requests);
    influx_writer_destroy(writeback.writer);
    buffer_release(&writeback.line);
    influx_client_destroy(client);
    return status;
}
