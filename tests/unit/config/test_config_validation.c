/* Each rule of config.yaml, with the exact message a user sees: file:line:column, the dotted
 * key, what was found and what is allowed. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "test_config_support.h"

static struct config *load_clean(const char *yaml)
{
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    int status = test_config_load(yaml, NULL, NULL, &config, &diagnostics);
    char *errors = test_messages_join(diagnostics.errors, diagnostics.error_count);
    cr_assert_eq(status, 0, "errors:\n%s", errors);
    free(errors);
    config_diagnostics_free(&diagnostics);
    return config;
}

Test(config_validation, unknown_key_suggests_the_nearest)
{
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  url: http://db:8086\n  bucket_rwa: x\n", NULL, NULL,
                           "config.yaml:3:3: influxdb.bucket_rwa: unknown key; did you mean "
                           "\"bucket_raw\"?");
    TEST_EXPECT_ONLY_ERROR("relay:\n  spool:\n    dri: /tmp\n", NULL, NULL,
                           "config.yaml:3:5: relay.spool.dri: unknown key; did you mean \"dir\"?");
    TEST_EXPECT_ONLY_ERROR("relay:\n  lisen: 1.2.3.4:5\n", NULL, NULL,
                           "config.yaml:2:3: relay.lisen: unknown key; did you mean \"listen\"?");
}

Test(config_validation, unknown_key_far_from_all_lists_them)
{
    TEST_EXPECT_ONLY_ERROR("analytics:\n  database: x\n", NULL, NULL,
                           "config.yaml:2:3: analytics.database: unknown key; expected one of "
                           "timezone, compat");
    TEST_EXPECT_ONLY_ERROR("gas_conversion: {density: 1}\n", NULL, NULL,
                           "config.yaml:1:18: gas_conversion.density: unknown key; expected one "
                           "of energy_content, z_factor");
}

Test(config_validation, spool_sync_modes)
{
    TEST_EXPECT_ONLY_ERROR("relay:\n  spool:\n    sync: sometimes\n", NULL, NULL,
                           "config.yaml:3:11: relay.spool.sync: \"sometimes\" is not one of "
                           "always, interval:<ms>, none");
    TEST_EXPECT_ONLY_ERROR("relay: {spool: {sync: 'interval:0'}}\n", NULL, NULL,
                           "config.yaml:1:23: relay.spool.sync: \"interval:0\" has an interval "
                           "out of range 1..3600000 milliseconds");
    struct config *config = load_clean("relay: {spool: {sync: 'interval:250'}}");
    cr_expect_eq(config->relay.spool.sync.mode, CONFIG_SYNC_INTERVAL);
    cr_expect_eq(config->relay.spool.sync.interval_ms, 250);
    config_free(config);
    config = load_clean("relay: {spool: {sync: none, commit_max_delay_us: 500}}");
    cr_expect_eq(config->relay.spool.sync.mode, CONFIG_SYNC_NONE);
    cr_expect_eq(config->relay.spool.commit_max_delay_us, 500);
    config_free(config);
    config = load_clean("relay: {spool: {sync: 'interval:2s', commit_max_delay_us: 2ms}}");
    cr_expect_eq(config->relay.spool.sync.interval_ms, 2000);
    cr_expect_eq(config->relay.spool.commit_max_delay_us, 2000);
    config_free(config);
}

/* Like every other choice (relay.auth, api, logging.level, analytics.compat), the words of
 * relay.spool.sync are matched without regard to case. */
Test(config_validation, spool_sync_modes_ignore_case)
{
    struct config *config = load_clean("relay: {spool: {sync: Always}}");
    cr_expect_eq(config->relay.spool.sync.mode, CONFIG_SYNC_ALWAYS);
    config_free(config);
    config = load_clean("relay: {spool: {sync: NONE}}");
    cr_expect_eq(config->relay.spool.sync.mode, CONFIG_SYNC_NONE);
    config_free(config);
    config = load_clean("relay: {spool: {sync: 'Interval:250ms'}}");
    cr_expect_eq(config->relay.spool.sync.mode, CONFIG_SYNC_INTERVAL);
    cr_expect_eq(config->relay.spool.sync.interval_ms, 250);
    config_free(config);
    TEST_EXPECT_ONLY_ERROR("relay: {spool: {sync: Nones}}\n", NULL, NULL,
                           "config.yaml:1:23: relay.spool.sync: \"Nones\" is not one of "
                           "always, interval:<ms>, none");
}

Test(config_validation, cron_schedules_must_parse)
{
    TEST_EXPECT_ONLY_ERROR("workflows:\n  analytics:\n    schedule: \"61 2 * * *\"\n", NULL, NULL,
                           "config.yaml:3:15: workflows.analytics.schedule: \"61 2 * * *\" is not "
                           "a cron expression (minute hour day month weekday): minute: \"61\" is "
                           "out of range 0-59");
    struct config *config = load_clean("workflows: {tibber_sync: {schedule: '*/15 * * * 1-5'}}");
    cr_expect_str_eq(config->workflows.tibber_sync.schedule.text, "*/15 * * * 1-5");
    cr_expect_eq(config->workflows.tibber_sync.schedule.expression.minutes,
                 (UINT64_C(1) << 0) | (UINT64_C(1) << 15) | (UINT64_C(1) << 30) |
                     (UINT64_C(1) << 45));
    cr_expect_eq(config->workflows.tibber_sync.schedule.expression.days_of_week, 0x3e);
    config_free(config);
}

Test(config_validation, job_timeouts_and_batch_program)
{
    TEST_EXPECT_ONLY_ERROR("workflows:\n  tibber_sync:\n    timeout: 500ms\n", NULL, NULL,
                           "config.yaml:3:14: workflows.tibber_sync.timeout: \"500ms\" is less "
                           "than 1s");
    TEST_EXPECT_ONLY_ERROR("workflows:\n  batch_program: ''\n", NULL, NULL,
                           "config.yaml:2:18: workflows.batch_program: \"\" is empty; expected "
                           "a path");
    struct config *config = load_clean("workflows: {batch_program: /opt/nk/meter-batch, "
                                       "analytics: {timeout: 90}, tibber_sync: {timeout: 2m}}");
    cr_expect_str_eq(config->workflows.batch_program, "/opt/nk/meter-batch");
    cr_expect_eq(config->workflows.analytics.timeout_ms, 90000, "plain numbers are seconds");
    cr_expect_eq(config->workflows.tibber_sync.timeout_ms, 120000);
    config_free(config);
    /* Relative to the config file's directory, like every path. */
    config = load_clean("workflows: {batch_program: bin/../bin/meter-batch}");
    const char *program = config->workflows.batch_program;
    cr_expect(program[0] == '/' && strstr(program, "/bin/meter-batch") && !strstr(program, ".."),
              "%s", program);
    config_free(config);
}

Test(config_validation, sizes_and_durations_must_parse)
{
    TEST_EXPECT_ONLY_ERROR("relay:\n  max_body_bytes: 32 megabytes\n", NULL, NULL,
                           "config.yaml:2:19: relay.max_body_bytes: \"32 megabytes\" is not a "
                           "size: bytes, or a number with B, kB, MB, GB, TB, KiB, MiB, GiB or TiB "
                           "such as 64MiB");
    TEST_EXPECT_ONLY_ERROR("relay:\n  read_timeout: 10 seconds\n", NULL, NULL,
                           "config.yaml:2:17: relay.read_timeout: \"10 seconds\" is not a "
                           "duration: a number with ns, us, ms, s, m, h or d such as 10s, 500ms "
                           "or 1h30m, or plain seconds");
    TEST_EXPECT_ONLY_ERROR("relay:\n  read_timeout: 1500us\n", NULL, NULL,
                           "config.yaml:2:17: relay.read_timeout: \"1500us\" is not a whole "
                           "multiple of 1ms");
    TEST_EXPECT_ONLY_ERROR("relay:\n  max_body_bytes: 100\n", NULL, NULL,
                           "config.yaml:2:19: relay.max_body_bytes: \"100\" is out of range "
                           "1KiB..4GiB");
    TEST_EXPECT_ONLY_ERROR("relay:\n  read_timeout: 0\n", NULL, NULL,
                           "config.yaml:2:17: relay.read_timeout: \"0\" is less than 1ms");
    TEST_EXPECT_ONLY_ERROR("relay: {spool: {commit_max_delay_us: 2s}}\n", NULL, NULL,
                           "config.yaml:1:38: relay.spool.commit_max_delay_us: \"2s\" is out of "
                           "range 0s..1s");
    struct config *config =
        load_clean("influxdb: {timeout: 2.5}\nrelay: {max_body_bytes: 1GB, idle_timeout: 1h30m}\n"
                   "logging: {max_bytes: 0}\n");
    cr_expect_eq(config->influxdb.timeout_ms, 2500);
    cr_expect_eq(config->relay.max_body_bytes, 1000000000);
    cr_expect_eq(config->relay.idle_timeout_ms, 5400000);
    cr_expect_eq(config->logging.max_bytes, 0);
    config_free(config);
}

Test(config_validation, urls_must_be_http_host_port_path)
{
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  url: ftp://db:21\n", NULL, NULL,
                           "config.yaml:2:8: influxdb.url: \"ftp://db:21\" is not a URL of the "
                           "form http(s)://host[:port][/path]");
    /* The error names the problem without repeating the password: check-config output and the
     * journal at start are pasted into bug reports (spec/config.md: secrets only masked). */
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  url: http://admin:secret@db:8086\n", NULL, NULL,
                           "config.yaml:2:8: influxdb.url: \"http://\u2026@db:8086\" "
                           "contains credentials; put them in a secrets file (secrets/*.env) "
                           "instead");
    TEST_EXPECT_ONLY_ERROR("relay:\n  upstreams:\n    - name: a\n      url: "
                           "'https://u:p@ss:w@db:8086/x'\n",
                           NULL, NULL,
                           "config.yaml:4:12: relay.upstreams[0].url: \"https://\u2026@db:8086/x\" "
                           "contains credentials; put them in a secrets file (secrets/*.env) "
                           "instead");
    /* A password with '/', '?' or '#' (common in generated ones) makes the text no URL, since
     * the authority seems to end inside the password: the error still does not show it. */
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  url: 'http://admin:s3/cr?e#t@db:8086'\n", NULL, NULL,
                           "config.yaml:2:8: influxdb.url: \"http://\u2026@db:8086\" is not a URL "
                           "of the form http(s)://host[:port][/path]");
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  url: http://db:8086/?db=x\n", NULL, NULL,
                           "config.yaml:2:8: influxdb.url: \"http://db:8086/?db=x\" is not a URL "
                           "of the form http(s)://host[:port][/path] (no query, fragment or "
                           "spaces)");
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  url: http://db:99999\n", NULL, NULL,
                           "config.yaml:2:8: influxdb.url: \"http://db:99999\" is not a URL of "
                           "the form http(s)://host[:port][/path]");
    TEST_EXPECT_ONLY_ERROR("tibber:\n  api_url: https://\n", NULL, NULL,
                           "config.yaml:2:12: tibber.api_url: \"https://\" is not a URL of the "
                           "form http(s)://host[:port][/path]");
    struct config *config = load_clean("influxdb: {url: 'https://[::1]:8086/influx//'}");
    cr_expect_str_eq(config->influxdb.url, "https://[::1]:8086/influx");
    config_free(config);
}

Test(config_validation, listen_addresses)
{
    static const struct {
        const char *text;
        const char *host;
        int port;
    } accepted[] = {
        {"127.0.0.1:8087", "127.0.0.1", 8087}, {"':9000'", "", 9000},           {"'*:80'", "", 80},
        {"'[::1]:8086'", "::1", 8086},         {"localhost:0", "localhost", 0},
    };
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "relay: {listen: %s}", accepted[i].text);
        struct config *config = load_clean(yaml);
        cr_expect_str_eq(config->relay.listen.host, accepted[i].host);
        cr_expect_eq(config->relay.listen.port, accepted[i].port);
        config_free(config);
    }
    TEST_EXPECT_ONLY_ERROR("relay:\n  listen: 8087\n", NULL, NULL,
                           "config.yaml:2:11: relay.listen: \"8087\" is not host:port such as "
                           "127.0.0.1:8087 (:8087 for every interface, [::1]:8087 for IPv6)");
    TEST_EXPECT_ONLY_ERROR("relay:\n  listen: host:65536\n", NULL, NULL,
                           "config.yaml:2:11: relay.listen: \"host:65536\" is not host:port such "
                           "as 127.0.0.1:8087 (:8087 for every interface, [::1]:8087 for IPv6)");
}

Test(config_validation, upstreams_are_named_uniquely_and_queried_by_name)
{
    TEST_EXPECT_ONLY_ERROR("relay:\n  upstreams:\n    - {name: a, url: 'http://a'}\n"
                           "    - {name: a, url: 'http://b'}\n",
                           NULL, NULL,
                           "config.yaml:4:14: relay.upstreams[1].name: \"a\" is already the name "
                           "of relay.upstreams[0]; names must be unique (each upstream has its own "
                           "spool cursor)");
    TEST_EXPECT_ONLY_ERROR("relay:\n  upstreams:\n    - {name: local, url: 'http://a'}\n"
                           "  query_upstream: locale\n",
                           NULL, NULL,
                           "config.yaml:4:19: relay.query_upstream: \"locale\" is not the name of "
                           "an upstream; did you mean \"local\"?");
    TEST_EXPECT_ONLY_ERROR("relay:\n  upstreams:\n    - {url: 'http://a'}\n", NULL, NULL,
                           "config.yaml:3:7: relay.upstreams[0].name: missing; expected a string");
    TEST_EXPECT_ONLY_ERROR("relay:\n  upstreams:\n    - {name: stream, url: 'http://a'}\n", NULL,
                           NULL,
                           "config.yaml:3:14: relay.upstreams[0].name: \"stream\" is reserved for "
                           "the stream processor's spool cursor");
    TEST_EXPECT_ONLY_ERROR("relay:\n  upstreams:\n    - {name: x, url: 'http://a', api: v3}\n",
                           NULL, NULL,
                           "config.yaml:3:39: relay.upstreams[0].api: \"v3\" is not one of v1, v2");
}

Test(config_validation, upstream_routing_and_second_upstream)
{
    struct config *config = load_clean("relay:\n"
                                       "  upstreams:\n"
                                       "    - name: local\n"
                                       "      url: http://127.0.0.1:8086\n"
                                       "    - name: cloud\n"
                                       "      url: https://cloud.example\n"
                                       "      api: v2\n"
                                       "      org: home\n"
                                       "      credentials: cloud.env\n"
                                       "      gzip: false\n"
                                       "      batch_lines: 100\n"
                                       "      batch_bytes: 512KiB\n"
                                       "      routing:\n"
                                       "        lampfi: lampfi_raw\n"
                                       "        telegraf/autogen: telegraf\n"
                                       "  query_upstream: cloud\n");
    cr_assert_eq(config->relay.upstream_count, 2);
    const struct config_upstream *cloud = config_upstream_find(config, "cloud");
    cr_assert_not_null(cloud);
    cr_expect_eq(cloud->api, CONFIG_API_V2);
    cr_expect_str_eq(cloud->org, "home");
    cr_expect_str_eq(cloud->credentials, "cloud.env");
    cr_expect_not(cloud->gzip);
    cr_expect_eq(cloud->batch_lines, 100);
    cr_expect_eq(cloud->batch_bytes, 524288);
    cr_assert_eq(cloud->route_count, 2);
    cr_expect_str_eq(cloud->routes[0].source, "lampfi");
    cr_expect_str_eq(cloud->routes[0].bucket, "lampfi_raw");
    cr_expect_str_eq(cloud->routes[1].source, "telegraf/autogen");
    cr_expect_str_eq(cloud->routes[1].bucket, "telegraf");
    cr_expect_str_eq(config->relay.query_upstream, "cloud");
    config_free(config);
    TEST_EXPECT_ONLY_ERROR("relay:\n  upstreams:\n    - name: x\n      url: http://a\n"
                           "      routing: {db/rp/x: b}\n",
                           NULL, NULL,
                           "config.yaml:5:17: relay.upstreams[0].routing.db/rp/x: \"db/rp/x\" is "
                           "not a database or database/retention_policy");
    TEST_EXPECT_ONLY_ERROR("relay:\n  upstreams:\n    - name: x\n      url: http://a\n"
                           "      credentials: ../etc/passwd\n",
                           NULL, NULL,
                           "config.yaml:5:20: relay.upstreams[0].credentials: \"../etc/passwd\" is "
                           "not the file name of a secrets file in secrets_dir, such as "
                           "influxdb.env");
}

Test(config_validation, wrong_node_types_and_duplicates)
{
    TEST_EXPECT_ONLY_ERROR("relay: [1, 2]\n", NULL, NULL,
                           "config.yaml:1:8: relay: found a sequence; expected a mapping");
    TEST_EXPECT_ONLY_ERROR("relay:\n  listen: {host: x}\n", NULL, NULL,
                           "config.yaml:2:11: relay.listen: found a mapping; expected host:port "
                           "such as 127.0.0.1:8087");
    TEST_EXPECT_ONLY_ERROR("relay:\n  upstreams: {name: x}\n", NULL, NULL,
                           "config.yaml:2:14: relay.upstreams: found a mapping; expected a "
                           "sequence");
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  timeout: 3\n  timeout: 4\n", NULL, NULL,
                           "config.yaml:3:3: influxdb.timeout: duplicate key; the first is on "
                           "line 2");
    TEST_EXPECT_ONLY_ERROR("- a\n- b\n", NULL, NULL,
                           "config.yaml:1:1: found a sequence; expected a mapping");
    TEST_EXPECT_ONLY_ERROR("tibber:\n  enabled: maybe\n", NULL, NULL,
                           "config.yaml:2:12: tibber.enabled: \"maybe\" is not a boolean; expected "
                           "true or false");
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  retry_attempts: 2.5\n", NULL, NULL,
                           "config.yaml:2:19: influxdb.retry_attempts: \"2.5\" is not an integer");
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  retry_attempts: 92233720368547758070\n", NULL, NULL,
                           "config.yaml:2:19: influxdb.retry_attempts: \"92233720368547758070\" "
                           "is not an integer");
    TEST_EXPECT_ONLY_ERROR("influxdb:\n  retry_attempts: 101\n", NULL, NULL,
                           "config.yaml:2:19: influxdb.retry_attempts: \"101\" is out of range "
                           "0..100");
}

Test(config_validation, yaml_syntax_errors_have_positions)
{
    TEST_EXPECT_ONLY_ERROR("relay:\n  listen: [1, 2\n", NULL, NULL,
                           "config.yaml:3:1: not valid YAML: did not find expected ',' or ']' "
                           "while parsing a flow sequence");
    TEST_EXPECT_ONLY_ERROR("a: 1\n---\nb: 2\n", NULL, NULL,
                           "config.yaml:3:1: a second YAML document starts here; a configuration "
                           "file holds one document (remove the \"---\" line)");
    TEST_EXPECT_ONLY_ERROR("relay: *missing\n", NULL, NULL,
                           "config.yaml:1:8: not valid YAML: found undefined alias");
}

Test(config_validation, ranges_and_cross_checks)
{
    TEST_EXPECT_ONLY_ERROR("workflows:\n  analytics:\n    start_year: 1969\n", NULL, NULL,
                           "config.yaml:3:17: workflows.analytics.start_year: \"1969\" is out of "
                           "range 1970..9999");
    TEST_EXPECT_ONLY_ERROR("gas_conversion:\n  z_factor: 0\n", NULL, NULL,
                           "config.yaml:2:13: gas_conversion.z_factor: \"0\" is not greater than "
                           "0");
    TEST_EXPECT_ONLY_ERROR("relay:\n  spool: {max_bytes: 32MiB}\n", NULL, NULL,
                           "config.yaml:2:10: relay.spool.segment_bytes: 64MiB is larger than "
                           "max_bytes (32MiB); a segment must fit in the spool");
    TEST_EXPECT_ONLY_ERROR(
        "relay:\n  upstreams:\n    - {name: a, url: 'http://a', batch_wait: 2m}\n", NULL, NULL,
        "config.yaml:3:46: relay.upstreams[0].batch_wait: \"2m\" is out of "
        "range 0s..1m");
    TEST_EXPECT_ONLY_ERROR(
        "relay:\n  upstreams:\n    - {name: a, url: 'http://a', batch_bytes: 64MiB}\n", NULL, NULL,
        "config.yaml:3:47: relay.upstreams[0].batch_bytes: \"64MiB\" is out of range "
        "1KiB..32MiB");
    TEST_EXPECT_ONLY_ERROR("tibber:\n  lookback_hours: 800\n", NULL, NULL,
                           "config.yaml:2:19: tibber.lookback_hours: 800 is larger than "
                           "max_lookback_hours (720)");
}

Test(config_validation, analytics_timezone_and_compat)
{
    TEST_EXPECT_ONLY_ERROR("analytics:\n  timezone: ../../etc/passwd\n", NULL, NULL,
                           "config.yaml:2:13: analytics.timezone: \"../../etc/passwd\" is not a "
                           "time zone name such as UTC or Europe/Berlin");
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_expect_eq(test_config_load("analytics:\n  timezone: Mars/Olympus\n", NULL, NULL, &config,
                                  &diagnostics),
                 -1);
    cr_assert_eq(diagnostics.error_count, 1);
    const char *prefix = "config.yaml:2:13: analytics.timezone: \"Mars/Olympus\" is not a known "
                         "time zone (";
    cr_expect(strncmp(diagnostics.errors[0], prefix, strlen(prefix)) == 0, "%s",
              diagnostics.errors[0]);
    config_diagnostics_free(&diagnostics);
    config = load_clean("analytics: {timezone: Europe/Berlin, compat: REFERENCE}\n"
                        "logging: {level: WARNING, format: text}");
    cr_expect_str_eq(config->analytics.timezone, "Europe/Berlin");
    cr_expect_eq(config->analytics.compat, CONFIG_COMPAT_REFERENCE);
    cr_expect_eq(config->logging.level, LOG_LEVEL_WARNING);
    cr_expect_eq(config->logging.format, LOG_FORMAT_TEXT);
    config_free(config);
}

Test(config_validation, every_problem_is_reported)
{
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    int status = test_config_load("influxdb:\n"
                                  "  url: nowhere\n"
                                  "  timeout: soon\n"
                                  "relay:\n"
                                  "  auth: maybe\n"
                                  "  spool:\n"
                                  "    sync: sometimes\n"
                                  "stream:\n"
                                  "  checkpoint_interval: -1s\n"
                                  "colour: blue\n",
                                  NULL, NULL, &config, &diagnostics);
    cr_expect_eq(status, -1);
    cr_expect_null(config);
    char *errors = test_messages_join(diagnostics.errors, diagnostics.error_count);
    cr_expect_eq(diagnostics.error_count, 6, "%s", errors);
    static const char *const prefixes[] = {
        "config.yaml:2:8: influxdb.url: \"nowhere\" is not a URL",
        "config.yaml:3:12: influxdb.timeout: \"soon\" is not a duration",
        "config.yaml:5:9: relay.auth: \"maybe\" is not one of none, token, basic",
        "config.yaml:7:11: relay.spool.sync: \"sometimes\" is not one of",
        "config.yaml:9:24: stream.checkpoint_interval: \"-1s\" is negative",
        "config.yaml:10:1: colour: unknown key; expected one of influxdb, tibber,",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        cr_expect(strstr(errors, prefixes[i]) != NULL, "missing %s in:\n%s", prefixes[i], errors);
    free(errors);
    config_diagnostics_free(&diagnostics);
}

Test(config_validation, stream_rules_and_limits)
{
    TEST_EXPECT_ONLY_ERROR("stream:\n  readings:\n    - measurement: '[kWh'\n", NULL, NULL,
                           "config.yaml:3:20: stream.readings[0].measurement: \"[kWh\" is not a "
                           "glob pattern: '[' at offset 0 has no ']'");
    TEST_EXPECT_ONLY_ERROR("stream:\n  readings:\n    - tags: {domain: [x]}\n", NULL, NULL,
                           "config.yaml:3:22: stream.readings[0].tags.domain: found a sequence; "
                           "expected a string");
    struct config *config = load_clean(
        "stream:\n"
        "  readings:\n"
        "    - {measurement: 'm*', tags: {source: meter, kind: water}, id_tag: id, field: f}\n"
        "    - {measurement: kWh}\n"
        "  default_limits: {stuck_days: 5, max_rate_per_hour: 10}\n"
        "  limits:\n"
        "    water: {max_rate_per_hour: 2, leak_check: yes}\n");
    cr_assert_eq(config->stream.reading_count, 2);
    cr_expect_str_eq(config->stream.readings[0].measurement, "m*");
    cr_assert_eq(config->stream.readings[0].tag_count, 2);
    cr_expect_str_eq(config->stream.readings[0].tags[1].key, "kind");
    cr_expect_str_eq(config->stream.readings[0].tags[1].value, "water");
    cr_expect_str_eq(config->stream.readings[0].id_tag, "id");
    cr_expect_eq(config->stream.readings[1].tag_count, 0);
    cr_expect_str_eq(config->stream.readings[1].id_tag, "entity_id");
    cr_expect_str_eq(config->stream.readings[1].field, "value");
    const struct config_meter_limits *water = config_limits_find(config, "water");
    cr_expect_str_eq(water->meter_id, "water");
    cr_expect_eq(water->max_rate_per_hour, 2.0);
    cr_expect(water->leak_check);
    cr_expect_eq(water->stuck_days, 5, "left out: inherited from default_limits");
    cr_expect_eq(config_limits_find(config, "gas")->max_rate_per_hour, 10.0);
    config_free(config);

    struct config_diagnostics diagnostics = {0};
    cr_expect_eq(test_config_load("stream: {readings: []}", NULL, NULL, &config, &diagnostics), 0);
    cr_assert_eq(diagnostics.warning_count, 1);
    cr_expect_str_eq(diagnostics.warnings[0], "config.yaml:1:20: stream.readings: no rule: no "
                                              "point is taken as a meter reading");
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(config_validation, base_path_and_logging_file)
{
    TEST_EXPECT_ONLY_ERROR("relay:\n  base_path: influx\n", NULL, NULL,
                           "config.yaml:2:14: relay.base_path: \"influx\" is not a path prefix "
                           "such as /influx (or empty)");
    struct config *config =
        load_clean("relay: {base_path: /influx/}\nlogging: {file: /var/log/n.log}\n");
    cr_expect_str_eq(config->relay.base_path, "/influx");
    cr_expect_str_eq(config->logging.file, "/var/log/n.log");
    config_free(config);
}

/* YAML merge keys, as PyYAML (the reference pipeline) and Home Assistant read them: the mapping's
 * own keys win, then the merged mappings in order. */
Test(config_validation, yaml_merge_keys)
{
    struct config *config = load_clean("relay:\n"
                                       "  upstreams:\n"
                                       "    - &local\n"
                                       "      name: local\n"
                                       "      url: http://127.0.0.1:8086\n"
                                       "      gzip: false\n"
                                       "      batch_lines: 10000\n"
                                       "    - <<: *local\n"
                                       "      name: backup\n"
                                       "      url: http://backup:8086\n"
                                       "stream:\n"
                                       "  limits:\n"
                                       "    haupt_wasser: &water {max_rate_per_hour: 2}\n"
                                       "    garten_wasser:\n"
                                       "      <<: [*water, {stuck_days: 7, max_rate_per_hour: 5}]\n"
                                       "      leak_check: true\n");
    cr_assert_eq(config->relay.upstream_count, 2);
    cr_expect_str_eq(config->relay.upstreams[1].name, "backup");
    cr_expect_str_eq(config->relay.upstreams[1].url, "http://backup:8086");
    cr_expect_eq(config->relay.upstreams[1].gzip, false);
    cr_expect_eq(config->relay.upstreams[1].batch_lines, 10000);
    const struct config_meter_limits *garden = config_limits_find(config, "garten_wasser");
    cr_expect_eq(garden->max_rate_per_hour, 2.0);
    cr_expect_eq(garden->stuck_days, 7);
    cr_expect_eq(garden->leak_check, true);
    config_free(config);
    /* A quoted "<<" is an ordinary key; a merge of a scalar is not a merge. */
    TEST_EXPECT_ONLY_ERROR("relay:\n  \"<<\": {listen: ':1'}\n", NULL, NULL,
                           "config.yaml:2:3: relay.\"<<\": unknown key; expected one of listen, "
                           "base_path, max_body_bytes, max_inflight_bytes, read_timeout, "
                           "write_timeout, idle_timeout, max_connections, auth, credentials, "
                           "spool, upstreams, query_upstream");
}

/* The reference's tibber.polling_interval loads, but the poll follows
 * workflows.tibber_sync.schedule: an interval other than the hourly default is warned about. */
Test(config_validation, tibber_polling_interval_other_than_hourly_is_warned_about)
{
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_expect_eq(
        test_config_load("tibber:\n  polling_interval: 3600\n", NULL, NULL, &config, &diagnostics),
        0);
    cr_expect_eq(diagnostics.warning_count, 0);
    config_free(config);
    config_diagnostics_free(&diagnostics);

    diagnostics = (struct config_diagnostics){0};
    cr_expect_eq(
        test_config_load("tibber:\n  polling_interval: 900\n", NULL, NULL, &config, &diagnostics),
        0);
    cr_assert_eq(diagnostics.warning_count, 1);
    cr_expect_str_eq(diagnostics.warnings[0],
                     "config.yaml:2:21: tibber.polling_interval: is not used: meter-batch tibber "
                     "runs on workflows.tibber_sync.schedule (\"5 * * * *\"); set that instead");
    config_free(config);
    config_diagnostics_free(&diagnostics);
}
