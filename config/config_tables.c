/* The keys of config.yaml, one table per section: name, kind, default, limits, validator and the
 * field it fills. Loading, defaults, unknown-key detection, validation and printing all come
 * from these tables. */
#include <stddef.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/config_values.h"
#include "config/units.h"

#define FIELD(type, member) .offset = offsetof(type, member)
#define DURATION(plain, storage) .plain_unit_ns = (plain), .storage_unit_ns = (storage)
#define MEBIBYTES(n) ((uint64_t)(n) << 20)
#define GIBIBYTES(n) ((uint64_t)(n) << 30)

static const struct config_choice config_api_choices[] = {
    {"v1", CONFIG_API_V1}, {"v2", CONFIG_API_V2}, {NULL, 0}};
static const struct config_choice config_auth_choices[] = {{"none", CONFIG_AUTH_NONE},
                                                           {"token", CONFIG_AUTH_TOKEN},
                                                           {"basic", CONFIG_AUTH_BASIC},
                                                           {NULL, 0}};
static const struct config_choice config_compat_choices[] = {
    {"none", CONFIG_COMPAT_NONE}, {"reference", CONFIG_COMPAT_REFERENCE}, {NULL, 0}};
/* The reference pipeline used Python's level names; "warn" and "critical" are read as well. */
static const struct config_choice config_level_choices[] = {{"debug", LOG_LEVEL_DEBUG},
                                                            {"info", LOG_LEVEL_INFO},
                                                            {"warning", LOG_LEVEL_WARNING},
                                                            {"error", LOG_LEVEL_ERROR},
                                                            {"warn", LOG_LEVEL_WARNING},
                                                            {"critical", LOG_LEVEL_ERROR},
                                                            {NULL, 0}};
static const struct config_choice config_format_choices[] = {
    {"json", LOG_FORMAT_JSON}, {"text", LOG_FORMAT_TEXT}, {NULL, 0}};

/* ---- influxdb, tibber, gas_conversion, workflows, logging ---- */

static const struct config_key config_influxdb_keys[] = {
    {"url", CONFIG_KIND_STRING, FIELD(struct config_influxdb, url), "http://127.0.0.1:8086",
     .check = config_url_check},
    {"bucket_raw", CONFIG_KIND_STRING, FIELD(struct config_influxdb, bucket_raw), "lampfi",
     CONFIG_KEY_NONEMPTY, .check = config_text_check},
    {"bucket_processed", CONFIG_KIND_STRING, FIELD(struct config_influxdb, bucket_processed),
     "lampfi_processed", CONFIG_KEY_NONEMPTY, .check = config_text_check},
    {"timeout", CONFIG_KIND_DURATION, FIELD(struct config_influxdb, timeout_ms), "30",
     .integer_minimum = 1, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"retry_attempts", CONFIG_KIND_INTEGER, FIELD(struct config_influxdb, retry_attempts), "3",
     .integer_minimum = 0, .integer_maximum = 100},
    {"api", CONFIG_KIND_CHOICE, FIELD(struct config_influxdb, api), "v1",
     .choices = config_api_choices},
    {"org", CONFIG_KIND_STRING, FIELD(struct config_influxdb, org), NULL, CONFIG_KEY_NONEMPTY,
     .check = config_text_check},
    {"credentials", CONFIG_KIND_STRING, FIELD(struct config_influxdb, credentials), "influxdb.env",
     .check = config_secrets_name_check},
};
static const struct config_table config_influxdb_table = {
    CONFIG_TABLE(config_influxdb_keys, struct config_influxdb)};

static void config_tibber_validate(struct config_loader *loader, void *object,
                                   const yaml_node_t *node, const char *path)
{
    const struct config_tibber *tibber = object;
    if (tibber->lookback_hours > tibber->max_lookback_hours) {
        char child[CONFIG_PATH_SIZE];
        config_path_child(child, sizeof child, path, "lookback_hours");
        const yaml_node_t *value = config_node_value(loader, node, "lookback_hours");
        config_report(loader, CONFIG_SEVERITY_ERROR, value ? value : node, child,
                      "%d is larger than max_lookback_hours (%d)", tibber->lookback_hours,
                      tibber->max_lookback_hours);
    }
}

static const struct config_key config_tibber_keys[] = {
    {"enabled", CONFIG_KIND_BOOL, FIELD(struct config_tibber, enabled), "false"},
    {"api_url", CONFIG_KIND_STRING, FIELD(struct config_tibber, api_url),
     "https://api.tibber.com/v1-beta/gql", .check = config_url_check},
    {"polling_interval", CONFIG_KIND_DURATION, FIELD(struct config_tibber, polling_interval_ms),
     "3600", .integer_minimum = 1000, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"lookback_hours", CONFIG_KIND_INTEGER, FIELD(struct config_tibber, lookback_hours), "48",
     .integer_minimum = 1, .integer_maximum = 87600},
    {"max_lookback_hours", CONFIG_KIND_INTEGER, FIELD(struct config_tibber, max_lookback_hours),
     "720", .integer_minimum = 1, .integer_maximum = 87600},
    {"meter_id", CONFIG_KIND_STRING, FIELD(struct config_tibber, meter_id), "haupt_strom",
     .check = config_meter_id_check},
    {"home_id", CONFIG_KIND_STRING, FIELD(struct config_tibber, home_id), NULL,
     CONFIG_KEY_NONEMPTY},
    {"credentials", CONFIG_KIND_STRING, FIELD(struct config_tibber, credentials), "tibber.env",
     .check = config_secrets_name_check},
};
static const struct config_table config_tibber_table = {
    CONFIG_TABLE(config_tibber_keys, struct config_tibber), .validate = config_tibber_validate};

static const struct config_key config_gas_keys[] = {
    {"energy_content", CONFIG_KIND_NUMBER, FIELD(struct config_gas_conversion, energy_content),
     "11.504", CONFIG_KEY_POSITIVE},
    {"z_factor", CONFIG_KIND_NUMBER, FIELD(struct config_gas_conversion, z_factor), "0.8885",
     CONFIG_KEY_POSITIVE},
};
static const struct config_table config_gas_table = {
    CONFIG_TABLE(config_gas_keys, struct config_gas_conversion)};

static const struct config_key config_analytics_workflow_keys[] = {
    {"schedule", CONFIG_KIND_SCALAR, FIELD(struct config_workflow_analytics, schedule), "0 2 * * *",
     CONFIG_KEY_QUOTED, .scalar_type = &config_schedule_type},
    {"start_year", CONFIG_KIND_INTEGER, FIELD(struct config_workflow_analytics, start_year), "2020",
     .integer_minimum = 1970, .integer_maximum = 9999},
    {"timeout", CONFIG_KIND_DURATION, FIELD(struct config_workflow_analytics, timeout_ms), "1h",
     .integer_minimum = 1000, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
};
static const struct config_table config_analytics_workflow_table = {
    CONFIG_TABLE(config_analytics_workflow_keys, struct config_workflow_analytics)};

static const struct config_key config_tibber_sync_keys[] = {
    {"schedule", CONFIG_KIND_SCALAR, FIELD(struct config_workflow_tibber_sync, schedule),
     "5 * * * *", CONFIG_KEY_QUOTED, .scalar_type = &config_schedule_type},
    {"timeout", CONFIG_KIND_DURATION, FIELD(struct config_workflow_tibber_sync, timeout_ms), "10m",
     .integer_minimum = 1000, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
};
static const struct config_table config_tibber_sync_table = {
    CONFIG_TABLE(config_tibber_sync_keys, struct config_workflow_tibber_sync)};

static const struct config_key config_workflows_keys[] = {
    {"analytics", CONFIG_KIND_SECTION, FIELD(struct config_workflows, analytics),
     .table = &config_analytics_workflow_table},
    {"tibber_sync", CONFIG_KIND_SECTION, FIELD(struct config_workflows, tibber_sync),
     .table = &config_tibber_sync_table},
    /* No default path: the default is found at run time (beside meter-relay, else on PATH). */
    {"batch_program", CONFIG_KIND_PATH, FIELD(struct config_workflows, batch_program), NULL,
     CONFIG_KEY_NONEMPTY},
};
static const struct config_table config_workflows_table = {
    CONFIG_TABLE(config_workflows_keys, struct config_workflows)};

static const struct config_key config_logging_keys[] = {
    {"level", CONFIG_KIND_CHOICE, FIELD(struct log_options, level), "info",
     .choices = config_level_choices, .choices_text = "debug, info, warning, error"},
    {"format", CONFIG_KIND_CHOICE, FIELD(struct log_options, format), "json",
     .choices = config_format_choices},
    {"file", CONFIG_KIND_PATH, FIELD(struct log_options, file), NULL},
    {"max_bytes", CONFIG_KIND_SIZE, FIELD(struct log_options, max_bytes), "10MiB"},
    {"backup_count", CONFIG_KIND_INTEGER, FIELD(struct log_options, backup_count), "5",
     .integer_minimum = 0, .integer_maximum = 1000},
};
static const struct config_table config_logging_table = {
    CONFIG_TABLE(config_logging_keys, struct log_options)};

/* ---- relay ---- */

static void config_spool_validate(struct config_loader *loader, void *object,
                                  const yaml_node_t *node, const char *path)
{
    const struct config_spool *spool = object;
    if (spool->segment_bytes > spool->max_bytes) {
        char child[CONFIG_PATH_SIZE], segment[32], maximum[32];
        config_path_child(child, sizeof child, path, "segment_bytes");
        units_size_format(spool->segment_bytes, segment, sizeof segment);
        units_size_format(spool->max_bytes, maximum, sizeof maximum);
        const yaml_node_t *value = config_node_value(loader, node, "segment_bytes");
        config_report(loader, CONFIG_SEVERITY_ERROR, value ? value : node, child,
                      "%s is larger than max_bytes (%s); a segment must fit in the spool", segment,
                      maximum);
    }
}

static const struct config_key config_spool_keys[] = {
    {"dir", CONFIG_KIND_PATH, FIELD(struct config_spool, dir), "../var/spool", CONFIG_KEY_NONEMPTY},
    {"sync", CONFIG_KIND_SCALAR, FIELD(struct config_spool, sync), "always",
     .scalar_type = &config_sync_type},
    {"max_bytes", CONFIG_KIND_SIZE, FIELD(struct config_spool, max_bytes), "4GiB",
     .size_minimum = MEBIBYTES(1)},
    {"min_free_bytes", CONFIG_KIND_SIZE, FIELD(struct config_spool, min_free_bytes), "256MiB"},
    {"segment_bytes", CONFIG_KIND_SIZE, FIELD(struct config_spool, segment_bytes), "64MiB",
     .size_minimum = 64 << 10, .size_maximum = GIBIBYTES(1)},
    {"commit_max_delay_us", CONFIG_KIND_DURATION, FIELD(struct config_spool, commit_max_delay_us),
     "0", .integer_minimum = 0, .integer_maximum = 1000000,
     DURATION(UNITS_MICROSECOND, UNITS_MICROSECOND)},
};
static const struct config_table config_spool_table = {
    CONFIG_TABLE(config_spool_keys, struct config_spool), .validate = config_spool_validate};

static const struct config_key config_route_keys[] = {
    {"bucket", CONFIG_KIND_STRING, FIELD(struct config_route, bucket), NULL,
     CONFIG_KEY_REQUIRED | CONFIG_KEY_NONEMPTY, .check = config_text_check},
};
static const struct config_table config_route_table = {
    CONFIG_TABLE(config_route_keys, struct config_route), .scalar_items = true, .named = true,
    .name_offset = offsetof(struct config_route, source)};

static const struct config_key config_upstream_keys[] = {
    {"name", CONFIG_KIND_STRING, FIELD(struct config_upstream, name), NULL, CONFIG_KEY_REQUIRED,
     .check = config_name_check},
    {"url", CONFIG_KIND_STRING, FIELD(struct config_upstream, url), NULL, CONFIG_KEY_REQUIRED,
     .check = config_url_check},
    {"api", CONFIG_KIND_CHOICE, FIELD(struct config_upstream, api), "v1",
     .choices = config_api_choices},
    {"org", CONFIG_KIND_STRING, FIELD(struct config_upstream, org), NULL, CONFIG_KEY_NONEMPTY,
     .check = config_text_check},
    {"credentials", CONFIG_KIND_STRING, FIELD(struct config_upstream, credentials), "influxdb.env",
     .check = config_secrets_name_check},
    {"routing", CONFIG_KIND_MAP, FIELD(struct config_upstream, routes), NULL,
     .check = config_route_check, .table = &config_route_table,
     .count_offset = offsetof(struct config_upstream, route_count), .max_items = 256},
    {"batch_lines", CONFIG_KIND_INTEGER, FIELD(struct config_upstream, batch_lines), "5000",
     .integer_minimum = 1, .integer_maximum = 1000000},
    /* At most 32 MiB: a rejected batch is dead-lettered as one spool record (64 MiB at most,
     * with the upstream's answer); a larger one could never be stored and would be sent and
     * rejected forever. InfluxDB 1.x refuses bodies over 25 MB anyway. */
    {"batch_bytes", CONFIG_KIND_SIZE, FIELD(struct config_upstream, batch_bytes), "4MiB",
     .size_minimum = 1 << 10, .size_maximum = MEBIBYTES(32)},
    {"batch_wait", CONFIG_KIND_DURATION, FIELD(struct config_upstream, batch_wait_ms), "100ms",
     .integer_minimum = 0, .integer_maximum = 60000, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"gzip", CONFIG_KIND_BOOL, FIELD(struct config_upstream, gzip), "true"},
    {"requests_in_flight", CONFIG_KIND_INTEGER, FIELD(struct config_upstream, requests_in_flight),
     "1", .integer_minimum = 1, .integer_maximum = 16},
    {"tls_verify", CONFIG_KIND_BOOL, FIELD(struct config_upstream, tls_verify), "true"},
    {"connect_timeout", CONFIG_KIND_DURATION, FIELD(struct config_upstream, connect_timeout_ms),
     "10s", .integer_minimum = 1, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"request_timeout", CONFIG_KIND_DURATION, FIELD(struct config_upstream, request_timeout_ms),
     "60s", .integer_minimum = 1, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"backoff_initial", CONFIG_KIND_DURATION, FIELD(struct config_upstream, backoff_initial_ms),
     "1s", .integer_minimum = 1, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"backoff_max", CONFIG_KIND_DURATION, FIELD(struct config_upstream, backoff_max_ms), "5m",
     .integer_minimum = 1, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"pause_retry", CONFIG_KIND_DURATION, FIELD(struct config_upstream, pause_retry_ms), "60s",
     .integer_minimum = 1, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
};
const struct config_table config_upstream_table = {
    CONFIG_TABLE(config_upstream_keys, struct config_upstream)};

static const struct config_key config_relay_keys[] = {
    {"listen", CONFIG_KIND_SCALAR, FIELD(struct config_relay, listen), "127.0.0.1:8087",
     .scalar_type = &config_listen_type},
    {"base_path", CONFIG_KIND_STRING, FIELD(struct config_relay, base_path), "",
     .check = config_base_path_check},
    {"max_body_bytes", CONFIG_KIND_SIZE, FIELD(struct config_relay, max_body_bytes), "32MiB",
     .size_minimum = 1 << 10, .size_maximum = GIBIBYTES(4)},
    {"max_inflight_bytes", CONFIG_KIND_SIZE, FIELD(struct config_relay, max_inflight_bytes),
     "16MiB", .size_minimum = MEBIBYTES(1)},
    {"read_timeout", CONFIG_KIND_DURATION, FIELD(struct config_relay, read_timeout_ms), "30s",
     .integer_minimum = 1, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"write_timeout", CONFIG_KIND_DURATION, FIELD(struct config_relay, write_timeout_ms), "30s",
     .integer_minimum = 1, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"idle_timeout", CONFIG_KIND_DURATION, FIELD(struct config_relay, idle_timeout_ms), "120s",
     .integer_minimum = 1, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"max_connections", CONFIG_KIND_INTEGER, FIELD(struct config_relay, max_connections), "1024",
     .integer_minimum = 1, .integer_maximum = 1000000},
    {"auth", CONFIG_KIND_CHOICE, FIELD(struct config_relay, auth), "none",
     .choices = config_auth_choices},
    {"credentials", CONFIG_KIND_STRING, FIELD(struct config_relay, credentials), "relay.env",
     .check = config_secrets_name_check},
    {"spool", CONFIG_KIND_SECTION, FIELD(struct config_relay, spool), .table = &config_spool_table},
    {"upstreams", CONFIG_KIND_LIST, FIELD(struct config_relay, upstreams), NULL,
     .table = &config_upstream_table, .count_offset = offsetof(struct config_relay, upstream_count),
     .max_items = 32},
    {"query_upstream", CONFIG_KIND_STRING, FIELD(struct config_relay, query_upstream), NULL,
     .check = config_name_check},
};
static const struct config_table config_relay_table = {
    CONFIG_TABLE(config_relay_keys, struct config_relay)};

/* ---- stream, analytics ---- */

static const struct config_key config_tag_keys[] = {
    {"value", CONFIG_KIND_STRING, FIELD(struct config_tag, value), NULL, CONFIG_KEY_REQUIRED,
     .check = config_text_check},
};
static const struct config_table config_tag_table = {
    CONFIG_TABLE(config_tag_keys, struct config_tag), .scalar_items = true, .named = true,
    .name_offset = offsetof(struct config_tag, key)};

static const struct config_key config_reading_rule_keys[] = {
    {"measurement", CONFIG_KIND_STRING, FIELD(struct config_reading_rule, measurement), "*",
     CONFIG_KEY_NONEMPTY | CONFIG_KEY_QUOTED, .check = config_glob_check},
    {"tags", CONFIG_KIND_MAP, FIELD(struct config_reading_rule, tags), NULL,
     .check = config_text_check, .table = &config_tag_table,
     .count_offset = offsetof(struct config_reading_rule, tag_count), .max_items = 32},
    {"id_tag", CONFIG_KIND_STRING, FIELD(struct config_reading_rule, id_tag), "entity_id",
     CONFIG_KEY_NONEMPTY, .check = config_text_check},
    {"field", CONFIG_KIND_STRING, FIELD(struct config_reading_rule, field), "value",
     CONFIG_KEY_NONEMPTY, .check = config_text_check},
};
const struct config_table config_reading_rule_table = {
    CONFIG_TABLE(config_reading_rule_keys, struct config_reading_rule)};

static const struct config_key config_limits_keys[] = {
    {"max_rate_per_hour", CONFIG_KIND_NUMBER, FIELD(struct config_meter_limits, max_rate_per_hour),
     "0"},
    {"stuck_days", CONFIG_KIND_INTEGER, FIELD(struct config_meter_limits, stuck_days), "3",
     .integer_minimum = 0, .integer_maximum = 3650},
    {"stale_after", CONFIG_KIND_DURATION, FIELD(struct config_meter_limits, stale_after_ms), "0",
     .integer_minimum = 0, DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"leak_check", CONFIG_KIND_BOOL, FIELD(struct config_meter_limits, leak_check), "false"},
};
const struct config_table config_limits_table = {
    CONFIG_TABLE(config_limits_keys, struct config_meter_limits), .named = true,
    .name_offset = offsetof(struct config_meter_limits, meter_id)};

/* A key a stream.limits entry leaves out takes its value from stream.default_limits, not from the
 * built-in default: default_limits is the household's baseline. */
static void config_stream_validate(struct config_loader *loader, void *object,
                                   const yaml_node_t *node, const char *path)
{
    (void)path;
    struct config_stream *stream = object;
    const yaml_node_t *limits = config_node_value(loader, node, "limits");
    for (size_t i = 0; i < stream->limit_count; i++) {
        struct config_meter_limits *entry = &stream->limits[i];
        const yaml_node_t *entry_node =
            entry->meter_id ? config_node_value(loader, limits, entry->meter_id) : NULL;
        for (size_t k = 0; k < config_limits_table.key_count; k++) {
            const struct config_key *key = &config_limits_table.keys[k];
            if (!config_node_is_null(config_node_value(loader, entry_node, key->name)))
                continue;
            size_t size = key->kind == CONFIG_KIND_NUMBER     ? sizeof(double)
                          : key->kind == CONFIG_KIND_INTEGER  ? sizeof(int)
                          : key->kind == CONFIG_KIND_DURATION ? sizeof(int64_t)
                                                              : sizeof(bool);
            memcpy((char *)entry + key->offset, (const char *)&stream->default_limits + key->offset,
                   size);
        }
    }
}

static const struct config_key config_stream_keys[] = {
    {"enabled", CONFIG_KIND_BOOL, FIELD(struct config_stream, enabled), "true"},
    {"readings", CONFIG_KIND_LIST, FIELD(struct config_stream, readings),
     "[{measurement: '*', tags: {domain: input_number}, id_tag: entity_id, field: value}]",
     .table = &config_reading_rule_table,
     .count_offset = offsetof(struct config_stream, reading_count), .max_items = 64},
    {"checkpoint_interval", CONFIG_KIND_DURATION,
     FIELD(struct config_stream, checkpoint_interval_ms), "30s", .integer_minimum = 1,
     DURATION(UNITS_SECOND, UNITS_MILLISECOND)},
    {"default_limits", CONFIG_KIND_SECTION, FIELD(struct config_stream, default_limits),
     .table = &config_limits_table},
    {"limits", CONFIG_KIND_MAP, FIELD(struct config_stream, limits), NULL,
     .check = config_meter_id_check, .table = &config_limits_table,
     .count_offset = offsetof(struct config_stream, limit_count), .max_items = 4096},
};
static const struct config_table config_stream_table = {
    CONFIG_TABLE(config_stream_keys, struct config_stream), .validate = config_stream_validate};

static const struct config_key config_analytics_keys[] = {
    {"timezone", CONFIG_KIND_STRING, FIELD(struct config_analytics, timezone), "UTC",
     .check = config_timezone_check},
    {"compat", CONFIG_KIND_CHOICE, FIELD(struct config_analytics, compat), "none",
     .choices = config_compat_choices},
};
static const struct config_table config_analytics_table = {
    CONFIG_TABLE(config_analytics_keys, struct config_analytics)};

/* ---- config.yaml ---- */

static const struct config_key config_root_keys[] = {
    {"influxdb", CONFIG_KIND_SECTION, FIELD(struct config, influxdb),
     .table = &config_influxdb_table},
    {"tibber", CONFIG_KIND_SECTION, FIELD(struct config, tibber), .table = &config_tibber_table},
    {"gas_conversion", CONFIG_KIND_SECTION, FIELD(struct config, gas_conversion),
     .table = &config_gas_table},
    {"workflows", CONFIG_KIND_SECTION, FIELD(struct config, workflows),
     .table = &config_workflows_table},
    {"logging", CONFIG_KIND_SECTION, FIELD(struct config, logging), .table = &config_logging_table},
    {"meters_config", CONFIG_KIND_PATH, FIELD(struct config, meters_config), "meters.yaml",
     CONFIG_KEY_NONEMPTY},
    {"seasonal_patterns_config", CONFIG_KIND_PATH, FIELD(struct config, seasonal_patterns_config),
     "seasonal_patterns.yaml", CONFIG_KEY_NONEMPTY},
    {"secrets_dir", CONFIG_KIND_PATH, FIELD(struct config, secrets_dir), "../secrets",
     CONFIG_KEY_NONEMPTY},
    {"relay", CONFIG_KIND_SECTION, FIELD(struct config, relay), .table = &config_relay_table},
    {"stream", CONFIG_KIND_SECTION, FIELD(struct config, stream), .table = &config_stream_table},
    {"analytics", CONFIG_KIND_SECTION, FIELD(struct config, analytics),
     .table = &config_analytics_table},
};
const struct config_table config_root_table = {CONFIG_TABLE(config_root_keys, struct config)};
