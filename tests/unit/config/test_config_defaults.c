/* With nothing configured every key has its documented default, and the built-in upstream, reading
 * rule and paths follow from them. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "test_config_support.h"

static struct config *load_clean(const char *yaml)
{
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    int status = test_config_load(yaml, NULL, NULL, &config, &diagnostics);
    char *errors = test_messages_join(diagnostics.errors, diagnostics.error_count);
    cr_assert_eq(status, 0, "errors:\n%s", errors);
    cr_expect_eq(diagnostics.warning_count, 0);
    free(errors);
    config_diagnostics_free(&diagnostics);
    return config;
}

static char *cwd_path(const char *relative)
{
    char cwd[PATH_MAX];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    char *path = NULL;
    cr_assert_geq(asprintf(&path, "%s%s%s", cwd, relative[0] ? "/" : "", relative), 0);
    return path;
}

Test(config_defaults, reference_keys)
{
    struct config *config = load_clean("");
    cr_expect_str_eq(config->influxdb.url, "http://127.0.0.1:8086");
    cr_expect_str_eq(config->influxdb.bucket_raw, "lampfi");
    cr_expect_str_eq(config->influxdb.bucket_processed, "lampfi_processed");
    cr_expect_eq(config->influxdb.timeout_ms, 30000);
    cr_expect_eq(config->influxdb.retry_attempts, 3);
    cr_expect_eq(config->influxdb.api, CONFIG_API_V1);
    cr_expect_null(config->influxdb.org);
    cr_expect_str_eq(config->influxdb.credentials, "influxdb.env");
    cr_expect_not(config->tibber.enabled);
    cr_expect_str_eq(config->tibber.api_url, "https://api.tibber.com/v1-beta/gql");
    cr_expect_eq(config->tibber.polling_interval_ms, 3600000);
    cr_expect_eq(config->tibber.lookback_hours, 48);
    cr_expect_eq(config->tibber.max_lookback_hours, 720);
    cr_expect_str_eq(config->tibber.meter_id, "haupt_strom");
    cr_expect_null(config->tibber.home_id);
    cr_expect_null(config->tibber.api_token);
    cr_expect_eq(config->gas_conversion.energy_content, 11.504);
    cr_expect_eq(config->gas_conversion.z_factor, 0.8885);
    cr_expect_str_eq(config->workflows.analytics.schedule.text, "0 2 * * *");
    cr_expect_eq(config->workflows.analytics.schedule.expression.minutes, 1);
    cr_expect_eq(config->workflows.analytics.schedule.expression.hours, 1u << 2);
    cr_expect_eq(config->workflows.analytics.start_year, 2020);
    cr_expect_str_eq(config->workflows.tibber_sync.schedule.text, "5 * * * *");
    cr_expect_eq(config->workflows.tibber_sync.schedule.expression.minutes, UINT64_C(1) << 5);
    cr_expect_eq(config->workflows.analytics.timeout_ms, 3600000);
    cr_expect_eq(config->workflows.tibber_sync.timeout_ms, 600000);
    cr_expect_null(config->workflows.batch_program, "found at run time beside meter-relay");
    cr_expect_eq(config->logging.level, LOG_LEVEL_INFO);
    cr_expect_eq(config->logging.format, LOG_FORMAT_JSON);
    cr_expect_null(config->logging.file);
    cr_expect_eq(config->logging.max_bytes, 10u << 20);
    cr_expect_eq(config->logging.backup_count, 5);
    cr_expect_eq(config->analytics.compat, CONFIG_COMPAT_NONE);
    cr_expect_str_eq(config->analytics.timezone, "UTC");
    cr_expect_eq(config->meter_count, 0);
    cr_expect_eq(config->pattern_count, 0);
    config_free(config);
}

Test(config_defaults, paths_resolve_against_the_config_directory)
{
    struct config *config = load_clean("");
    char *directory = cwd_path("");
    char *meters = cwd_path("meters.yaml");
    char *patterns = cwd_path("seasonal_patterns.yaml");
    char *spool = NULL;
    char *secrets = NULL;
    /* "../secrets" and "../var/spool" from the directory of config.yaml (the working directory). */
    char *parent = strdup(directory);
    *strrchr(parent, '/') = '\0';
    cr_assert_geq(asprintf(&spool, "%s/var/spool", parent), 0);
    cr_assert_geq(asprintf(&secrets, "%s/secrets", parent), 0);
    cr_expect_str_eq(config->directory, directory);
    cr_expect_str_eq(config->meters_config, meters);
    cr_expect_str_eq(config->seasonal_patterns_config, patterns);
    cr_expect_str_eq(config->relay.spool.dir, spool);
    cr_expect_str_eq(config->secrets_dir, secrets);
    free(directory);
    free(meters);
    free(patterns);
    free(spool);
    free(secrets);
    free(parent);
    config_free(config);
}

Test(config_defaults, relay_spool_and_upstream)
{
    struct config *config = load_clean("influxdb: {url: 'http://db.example:8086/', timeout: 7}");
    const struct config_relay *relay = &config->relay;
    cr_expect_str_eq(relay->listen.host, "127.0.0.1");
    cr_expect_eq(relay->listen.port, 8087);
    cr_expect_str_eq(relay->base_path, "");
    cr_expect_eq(relay->max_body_bytes, 32u << 20);
    cr_expect_eq(relay->max_inflight_bytes, 16u << 20);
    cr_expect_eq(relay->read_timeout_ms, 30000);
    cr_expect_eq(relay->write_timeout_ms, 30000);
    cr_expect_eq(relay->idle_timeout_ms, 120000);
    cr_expect_eq(relay->max_connections, 1024);
    cr_expect_eq(relay->auth, CONFIG_AUTH_NONE);
    cr_expect_str_eq(relay->credentials, "relay.env");
    cr_expect_eq(relay->auth_token_count, 0);
    cr_expect_eq(relay->spool.sync.mode, CONFIG_SYNC_ALWAYS);
    cr_expect_eq(relay->spool.max_bytes, UINT64_C(4) << 30);
    cr_expect_eq(relay->spool.min_free_bytes, 256u << 20);
    cr_expect_eq(relay->spool.segment_bytes, 64u << 20);
    cr_expect_eq(relay->spool.commit_max_delay_us, 0);
    /* One v1 upstream built from influxdb.url, with influxdb.timeout as its request timeout. */
    cr_assert_eq(relay->upstream_count, 1);
    const struct config_upstream *upstream = &relay->upstreams[0];
    cr_expect_str_eq(upstream->name, "influxdb");
    cr_expect_str_eq(upstream->url, "http://db.example:8086");
    cr_expect_eq(upstream->api, CONFIG_API_V1);
    cr_expect_null(upstream->org);
    cr_expect_str_eq(upstream->credentials, "influxdb.env");
    cr_expect_eq(upstream->route_count, 0);
    cr_expect_eq(upstream->batch_lines, 5000);
    cr_expect_eq(upstream->requests_in_flight, 1);
    cr_expect_eq(upstream->batch_wait_ms, 100);
    cr_expect_eq(upstream->batch_bytes, 4u << 20);
    cr_expect(upstream->gzip);
    cr_expect(upstream->tls_verify);
    cr_expect_eq(upstream->connect_timeout_ms, 10000);
    cr_expect_eq(upstream->request_timeout_ms, 7000);
    cr_expect_null(upstream->token);
    cr_expect_str_eq(relay->query_upstream, "influxdb");
    cr_expect_eq(config_upstream_find(config, "influxdb"), upstream);
    cr_expect_null(config_upstream_find(config, "other"));
    config_free(config);
}

Test(config_defaults, stream_reads_home_assistant_schema)
{
    struct config *config = load_clean("stream:\nanalytics: ~\n");
    const struct config_stream *stream = &config->stream;
    cr_expect(stream->enabled);
    cr_assert_eq(stream->reading_count, 1);
    const struct config_reading_rule *rule = &stream->readings[0];
    cr_expect_str_eq(rule->measurement, "*");
    cr_assert_eq(rule->tag_count, 1);
    cr_expect_str_eq(rule->tags[0].key, "domain");
    cr_expect_str_eq(rule->tags[0].value, "input_number");
    cr_expect_str_eq(rule->id_tag, "entity_id");
    cr_expect_str_eq(rule->field, "value");
    cr_expect_eq(stream->checkpoint_interval_ms, 30000);
    cr_expect_eq(stream->default_limits.max_rate_per_hour, 0.0);
    cr_expect_eq(stream->default_limits.stuck_days, 3);
    cr_expect_eq(stream->default_limits.stale_after_ms, 0);
    cr_expect_not(stream->default_limits.leak_check);
    cr_expect_eq(stream->limit_count, 0);
    cr_expect_eq(config_limits_find(config, "any"), &stream->default_limits);
    config_free(config);
}

Test(config_defaults, null_and_empty_documents_are_all_defaults)
{
    static const char *const documents[] = {
        "", "~", "{}", "# only a comment\n", "---\n", "relay:\nstream: null\n"};
    for (size_t i = 0; i < sizeof documents / sizeof documents[0]; i++) {
        struct config *config = load_clean(documents[i]);
        cr_expect_eq(config->relay.listen.port, 8087, "document %zu", i);
        cr_expect_eq(config->relay.upstream_count, 1, "document %zu", i);
        config_free(config);
    }
}

Test(config_defaults, load_without_path_uses_the_repository_config)
{
    /* Tests run in the repository, where config/config.yaml is the example. */
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(config_load(NULL, &config, &diagnostics), 0);
    char *expected = cwd_path("config/config.yaml");
    cr_expect_str_eq(config->path, expected);
    cr_expect_eq(diagnostics.note_count, 0);
    free(expected);
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(config_defaults, load_without_any_file_notes_the_built_in_defaults)
{
    if (access(CONFIG_SYSTEM_PATH, F_OK) == 0)
        cr_skip_test("%s exists on this machine", CONFIG_SYSTEM_PATH);
    char directory[] = "/tmp/nebenkosten-config-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    cr_assert_eq(chdir(directory), 0);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(config_load(NULL, &config, &diagnostics), 0);
    cr_expect_null(config->path);
    cr_assert_geq(diagnostics.note_count, 1);
    cr_expect_str_eq(diagnostics.notes[0],
                     "no configuration file found (tried config/config.yaml and "
                     "/etc/nebenkosten/config.yaml); using the built-in defaults");
    char secrets[PATH_MAX];
    snprintf(secrets, sizeof secrets, "%s/secrets", directory);
    cr_expect_str_eq(config->secrets_dir, secrets);
    config_free(config);
    config_diagnostics_free(&diagnostics);
    cr_expect_eq(rmdir(directory), 0);
}
