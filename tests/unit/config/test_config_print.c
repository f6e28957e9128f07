/* config_print writes what config_load reads: printing, loading the printed documents and printing
 * again gives the same text. Secrets appear only masked. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "test_config_support.h"

static char *print_to_string(const struct config *config)
{
    char *text = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&text, &length);
    cr_assert_not_null(stream);
    cr_assert_eq(config_print(config, stream), 0);
    cr_assert_eq(fclose(stream), 0);
    return text;
}

/* Splits printed text at its "---" lines into config, meters and patterns documents. */
static void documents_split(char *text, char *documents[4])
{
    memset(documents, 0, 4 * sizeof documents[0]);
    documents[0] = text;
    size_t count = 1;
    char *position = text;
    while (count < 4 && (position = strstr(position, "\n---\n"))) {
        position[1] = '\0';
        position += 5;
        documents[count++] = position;
    }
}

static struct config *reload(char *documents[4])
{
    struct config_text meters = {"meters.yaml", documents[1], strlen(documents[1])};
    struct config_text patterns = {"seasonal_patterns.yaml", documents[2], strlen(documents[2])};
    struct config_load_options options = {.meters = &meters, .patterns = &patterns};
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    int status = config_load_buffer("config.yaml", documents[0], strlen(documents[0]), &options,
                                    &config, &diagnostics);
    char *errors = test_messages_join(diagnostics.errors, diagnostics.error_count);
    cr_assert_eq(status, 0, "the printed configuration does not load:\n%s\n%s", errors,
                 documents[0]);
    free(errors);
    config_diagnostics_free(&diagnostics);
    return config;
}

static void round_trip_check(const char *path)
{
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(config_load(path, &config, &diagnostics), 0, "%s", path);
    config_diagnostics_free(&diagnostics);
    char *first = print_to_string(config);
    char *secrets = strstr(first, "\n---\nsecrets:");
    if (secrets) /* from a developer's secrets/; not reloaded */
        secrets[1] = '\0';
    char *copy = strdup(first);
    char *documents[4];
    documents_split(copy, documents);
    cr_assert_not_null(documents[2], "three documents expected:\n%s", first);
    struct config *again = reload(documents);
    char *second = print_to_string(again);
    cr_expect_str_eq(second, first);
    cr_expect_eq(again->meter_count, config->meter_count);
    cr_expect_eq(again->pattern_count, config->pattern_count);
    free(first);
    free(second);
    free(copy);
    config_free(config);
    config_free(again);
}

Test(config_print, example_configuration_round_trips)
{
    round_trip_check("config/config.yaml");
}

Test(config_print, reference_configuration_round_trips)
{
    const char *shared = getenv("NEBENKOSTEN_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/reference/main/config/config.yaml",
             shared && shared[0] ? shared : "../shared");
    round_trip_check(path);
}

Test(config_print, prints_every_key_with_its_effective_value)
{
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(test_config_load("relay: {spool: {sync: 'interval:100'}, base_path: /x/}\n"
                                  "influxdb: {timeout: 90}\n",
                                  "meters:\n- {meter_id: m, type: physical, output_unit: m³}\n",
                                  "patterns: {}\n", &config, &diagnostics),
                 0);
    char *text = print_to_string(config);
    static const char *const lines[] = {
        "influxdb:\n  url: http://127.0.0.1:8086\n",
        "  timeout: 90s\n",
        "workflows:\n  analytics:\n    schedule: '0 2 * * *'\n    start_year: 2020\n"
        "    timeout: 1h\n  tibber_sync:\n    schedule: '5 * * * *'\n    timeout: 10m\n"
        "  batch_program: null\n",
        "  listen: '127.0.0.1:8087'\n  base_path: /x\n",
        "    sync: interval:100\n",
        "    segment_bytes: 64MiB\n",
        "  readings:\n  - measurement: '*'\n    tags:\n      domain: input_number\n",
        "analytics:\n  timezone: UTC\n  compat: none\n---\n",
        "meters:\n- meter_id: m\n  type: physical\n  output_unit: m³\n  description: null\n"
        "  installation_date: null\n  deinstallation_date: null\n---\npatterns: {}\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_expect(strstr(text, lines[i]) != NULL, "missing:\n%s\nin:\n%s", lines[i], text);
    cr_expect_null(strstr(text, "secrets:"), "no secrets were resolved");
    free(text);
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

/* A long cron list is printed whole, not cut at a buffer's size into another schedule. */
Test(config_print, long_schedule_is_printed_whole)
{
    char schedule[256] = "", yaml[512];
    for (int minute = 0; minute < 60; minute++)
        snprintf(schedule + strlen(schedule), sizeof schedule - strlen(schedule), "%s%d",
                 minute ? "," : "", minute);
    strcat(schedule, " 2 * * *");
    snprintf(yaml, sizeof yaml, "workflows: {analytics: {schedule: '%s'}}\n", schedule);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(test_config_load(yaml, NULL, NULL, &config, &diagnostics), 0);
    char *text = print_to_string(config);
    char *documents[4];
    documents_split(text, documents);
    struct config *printed = reload(documents);
    cr_expect_str_eq(printed->workflows.analytics.schedule.text, schedule);
    config_free(printed);
    free(text);
    config_free(config);
    config_diagnostics_free(&diagnostics);
}

Test(config_print, secrets_are_masked)
{
    char directory[] = "/tmp/nebenkosten-print-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    char secrets[128], relay[160], config_path[160];
    snprintf(secrets, sizeof secrets, "%s/secrets", directory);
    snprintf(relay, sizeof relay, "%s/relay.env", secrets);
    snprintf(config_path, sizeof config_path, "%s/config.yaml", directory);
    cr_assert_eq(mkdir(secrets, 0700), 0);
    FILE *file = fopen(relay, "w");
    cr_assert_not_null(file);
    fputs("RELAY_TOKENS=supersecrettoken42,tiny\n", file);
    cr_assert_eq(fclose(file), 0);
    cr_assert_eq(chmod(relay, 0600), 0);
    file = fopen(config_path, "w");
    cr_assert_not_null(file);
    fputs("secrets_dir: secrets\nrelay: {auth: token}\n", file);
    cr_assert_eq(fclose(file), 0);
    unsetenv("RELAY_TOKENS");

    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(config_load(config_path, &config, &diagnostics), 0);
    char *text = print_to_string(config);
    cr_expect_null(strstr(text, "supersecrettoken42"), "%s", text);
    cr_expect_null(strstr(text, "tiny"), "%s", text);
    cr_expect(strstr(text, "---\nsecrets:\n  relay:\n    tokens:\n    - sup…n42\n    - …\n"), "%s",
              text);
    free(text);
    config_free(config);
    config_diagnostics_free(&diagnostics);
    unlink(relay);
    unlink(config_path);
    rmdir(secrets);
    rmdir(directory);
}

/* Runs check-config with its output thrown away; returns its exit status. */
static int check_config_run(int argc, char **argv)
{
    cr_assert_not_null(freopen("/dev/null", "w", stdout));
    cr_assert_not_null(freopen("/dev/null", "w", stderr));
    return config_command_check(argc, argv);
}

Test(config_print, check_config_exit_statuses)
{
    char *good[] = {"check-config", "-c", "config/config.yaml", NULL};
    cr_expect_eq(check_config_run(3, good), 0);
    char *help[] = {"check-config", "--help", NULL};
    cr_expect_eq(check_config_run(2, help), 0);
    char *unknown[] = {"check-config", "--frobnicate", NULL};
    cr_expect_eq(check_config_run(2, unknown), 2);
    char *dangling[] = {"check-config", "-c", NULL};
    cr_expect_eq(check_config_run(2, dangling), 2);
    char *missing[] = {"check-config", "--config=/nonexistent/config.yaml", NULL};
    cr_expect_eq(check_config_run(2, missing), 1);
}
