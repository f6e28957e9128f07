/* Credentials are read from secrets files only when their feature is on; a missing one is an error
 * that names the variable and where it was looked for. Each test runs in its own process, so the
 * environment it changes is its own. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "test_config_support.h"

struct secrets_fixture {
    char directory[64];
    char secrets[128];
    char config_path[128];
};

static void unset_secret_variables(void)
{
    static const char *const names[] = {"INFLUX_TOKEN",    "INFLUX_ORG",   "INFLUX_USERNAME",
                                        "INFLUX_PASSWORD", "RELAY_TOKENS", "RELAY_USERS",
                                        "TIBBER_API_TOKEN"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
}

static void fixture_make(struct secrets_fixture *fixture)
{
    unset_secret_variables();
    snprintf(fixture->directory, sizeof fixture->directory, "/tmp/nebenkosten-secrets-XXXXXX");
    cr_assert_not_null(mkdtemp(fixture->directory));
    snprintf(fixture->secrets, sizeof fixture->secrets, "%s/secrets", fixture->directory);
    cr_assert_eq(mkdir(fixture->secrets, 0700), 0);
    snprintf(fixture->config_path, sizeof fixture->config_path, "%s/config.yaml",
             fixture->directory);
}

static void file_write(const char *path, const char *text, mode_t mode)
{
    FILE *file = fopen(path, "w");
    cr_assert_not_null(file, "%s", path);
    cr_assert_geq(fputs(text, file), 0);
    cr_assert_eq(fclose(file), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

static void secret_write(struct secrets_fixture *fixture, const char *name, const char *text,
                         mode_t mode)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fixture->secrets, name);
    file_write(path, text, mode);
}

/* Loads config text from fixture->config_path with secrets_dir: secrets next to it. */
static int fixture_load(struct secrets_fixture *fixture, const char *yaml, struct config **config,
                        struct config_diagnostics *diagnostics)
{
    char text[2048];
    snprintf(text, sizeof text, "secrets_dir: secrets\n%s", yaml);
    file_write(fixture->config_path, text, 0644);
    return config_load(fixture->config_path, config, diagnostics);
}

static void fixture_remove(struct secrets_fixture *fixture)
{
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", fixture->directory);
    cr_expect_eq(system(command), 0);
}

Test(config_secrets, features_off_need_no_files)
{
    struct secrets_fixture fixture;
    fixture_make(&fixture);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(fixture_load(&fixture, "relay: {auth: none}\ntibber: {enabled: false}\n", &config,
                              &diagnostics),
                 0);
    cr_expect_eq(diagnostics.error_count, 0);
    cr_expect_null(config->relay.upstreams[0].token);
    cr_expect_null(config->tibber.api_token);
    config_free(config);
    config_diagnostics_free(&diagnostics);
    fixture_remove(&fixture);
}

Test(config_secrets, token_auth_reads_relay_tokens)
{
    struct secrets_fixture fixture;
    fixture_make(&fixture);
    secret_write(&fixture, "relay.env", "# clients\nRELAY_TOKENS=\"first-token-value, second\"\n",
                 0600);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(fixture_load(&fixture, "relay: {auth: token}\n", &config, &diagnostics), 0);
    cr_assert_eq(config->relay.auth_token_count, 2);
    cr_expect_str_eq(config->relay.auth_tokens[0], "first-token-value");
    cr_expect_str_eq(config->relay.auth_tokens[1], "second");
    config_free(config);
    config_diagnostics_free(&diagnostics);
    fixture_remove(&fixture);
}

/* A token past the cap used to be dropped without a word: its client got 401 while check-config
 * passed. */
Test(config_secrets, more_tokens_than_allowed_is_an_error)
{
    struct secrets_fixture fixture;
    fixture_make(&fixture);
    char text[16384] = "RELAY_TOKENS=";
    for (int i = 0; i < 257; i++) {
        char token[32];
        snprintf(token, sizeof token, "%stoken-%03d", i ? "," : "", i);
        strcat(text, token);
    }
    strcat(text, "\n");
    secret_write(&fixture, "relay.env", text, 0600);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_expect_eq(fixture_load(&fixture, "relay: {auth: token}\n", &config, &diagnostics), -1);
    cr_assert_eq(diagnostics.error_count, 1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s:2:15: relay.auth: RELAY_TOKENS in %s/relay.env has more than 256 entries; at most "
             "256 are allowed",
             fixture.config_path, fixture.secrets);
    cr_expect_str_eq(diagnostics.errors[0], expected);
    config_diagnostics_free(&diagnostics);

    /* 256 are fine, the last one included. */
    char *last = strrchr(text, ',');
    strcpy(last, "\n");
    secret_write(&fixture, "relay.env", text, 0600);
    cr_assert_eq(fixture_load(&fixture, "relay: {auth: token}\n", &config, &diagnostics), 0);
    cr_assert_eq(config->relay.auth_token_count, 256);
    cr_expect_str_eq(config->relay.auth_tokens[255], "token-255");
    config_free(config);
    config_diagnostics_free(&diagnostics);
    fixture_remove(&fixture);
}

Test(config_secrets, basic_auth_reads_user_password_pairs)
{
    struct secrets_fixture fixture;
    fixture_make(&fixture);
    secret_write(&fixture, "relay.env", "RELAY_USERS=telegraf:pa:ss, ha:x\n", 0600);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(fixture_load(&fixture, "relay: {auth: basic}\n", &config, &diagnostics), 0);
    cr_assert_eq(config->relay.auth_user_count, 2);
    cr_expect_str_eq(config->relay.auth_users[0].name, "telegraf");
    cr_expect_str_eq(config->relay.auth_users[0].password, "pa:ss");
    cr_expect_str_eq(config->relay.auth_users[1].name, "ha");
    config_free(config);
    config_diagnostics_free(&diagnostics);

    secret_write(&fixture, "relay.env", "RELAY_USERS=nopassword\n", 0600);
    cr_expect_eq(fixture_load(&fixture, "relay: {auth: basic}\n", &config, &diagnostics), -1);
    cr_assert_eq(diagnostics.error_count, 1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s:2:15: relay.auth: RELAY_USERS in %s/relay.env: entry 1 is not user:password "
             "(both non-empty)",
             fixture.config_path, fixture.secrets);
    cr_expect_str_eq(diagnostics.errors[0], expected);
    config_diagnostics_free(&diagnostics);
    fixture_remove(&fixture);
}

Test(config_secrets, missing_variable_names_it_and_where_it_was_looked_for)
{
    struct secrets_fixture fixture;
    fixture_make(&fixture);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_expect_eq(fixture_load(&fixture, "relay:\n  auth: token\n", &config, &diagnostics), -1);
    cr_assert_eq(diagnostics.error_count, 1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s:3:9: relay.auth: token authentication needs RELAY_TOKENS (tokens separated by "
             "commas): ",
             fixture.config_path);
    cr_expect(strncmp(diagnostics.errors[0], expected, strlen(expected)) == 0, "%s",
              diagnostics.errors[0]);
    cr_expect(strstr(diagnostics.errors[0], "RELAY_TOKENS is not set"), "%s",
              diagnostics.errors[0]);
    char where[256];
    snprintf(where, sizeof where, "%s/relay.env", fixture.secrets);
    cr_expect(strstr(diagnostics.errors[0], where), "%s", diagnostics.errors[0]);
    config_diagnostics_free(&diagnostics);

    cr_expect_eq(fixture_load(&fixture, "tibber:\n  enabled: true\n", &config, &diagnostics), -1);
    cr_assert_eq(diagnostics.error_count, 1);
    cr_expect(strstr(diagnostics.errors[0], "tibber.enabled: Tibber is enabled but its token is "
                                            "missing: TIBBER_API_TOKEN is not set"),
              "%s", diagnostics.errors[0]);
    config_diagnostics_free(&diagnostics);
    fixture_remove(&fixture);
}

Test(config_secrets, readable_secrets_file_is_refused)
{
    struct secrets_fixture fixture;
    fixture_make(&fixture);
    secret_write(&fixture, "relay.env", "RELAY_TOKENS=abc\n", 0644);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_expect_eq(fixture_load(&fixture, "relay: {auth: token}\n", &config, &diagnostics), -1);
    cr_assert_eq(diagnostics.error_count, 1);
    char fix[256];
    snprintf(fix, sizeof fix, "chmod 600 %s/relay.env", fixture.secrets);
    cr_expect(strstr(diagnostics.errors[0], fix), "%s", diagnostics.errors[0]);
    cr_expect(strncmp(diagnostics.errors[0], fixture.config_path, strlen(fixture.config_path)) ==
              0);
    config_diagnostics_free(&diagnostics);
    fixture_remove(&fixture);
}

Test(config_secrets, upstream_credentials_and_v2_org)
{
    struct secrets_fixture fixture;
    fixture_make(&fixture);
    const char *yaml = "relay:\n"
                       "  upstreams:\n"
                       "    - name: cloud\n"
                       "      url: https://cloud.example\n"
                       "      api: v2\n"
                       "      credentials: cloud.env\n";
    secret_write(&fixture, "cloud.env", "INFLUX_TOKEN=cloud-token-1234567\n", 0600);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_expect_eq(fixture_load(&fixture, yaml, &config, &diagnostics), -1);
    cr_assert_eq(diagnostics.error_count, 1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s:4:7: relay.upstreams[0].org: api v2 needs an org: set relay.upstreams[0].org or "
             "INFLUX_ORG in %s/cloud.env",
             fixture.config_path, fixture.secrets);
    cr_expect_str_eq(diagnostics.errors[0], expected);
    config_diagnostics_free(&diagnostics);

    secret_write(&fixture, "cloud.env", "INFLUX_TOKEN=cloud-token-1234567\nINFLUX_ORG=home\n",
                 0600);
    cr_assert_eq(fixture_load(&fixture, yaml, &config, &diagnostics), 0);
    cr_expect_str_eq(config->relay.upstreams[0].org, "home");
    cr_expect_str_eq(config->relay.upstreams[0].token, "cloud-token-1234567");
    cr_expect_null(config->relay.upstreams[0].username);
    config_free(config);
    config_diagnostics_free(&diagnostics);

    /* The environment overrides the file. */
    setenv("INFLUX_TOKEN", "from-the-environment", 1);
    cr_assert_eq(fixture_load(&fixture, yaml, &config, &diagnostics), 0);
    cr_expect_str_eq(config->relay.upstreams[0].token, "from-the-environment");
    config_free(config);
    config_diagnostics_free(&diagnostics);
    fixture_remove(&fixture);
}

Test(config_secrets, v1_user_needs_a_password)
{
    struct secrets_fixture fixture;
    fixture_make(&fixture);
    secret_write(&fixture, "influxdb.env", "INFLUX_USERNAME=admin\n", 0600);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_expect_eq(fixture_load(&fixture, "", &config, &diagnostics), -1);
    cr_assert_eq(diagnostics.error_count, 1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s:1:1: influxdb.credentials: INFLUX_USERNAME is set but INFLUX_PASSWORD is not "
             "(looked in %s/influxdb.env and the environment); set both or neither",
             fixture.config_path, fixture.secrets);
    cr_expect_str_eq(diagnostics.errors[0], expected);
    config_diagnostics_free(&diagnostics);

    secret_write(&fixture, "influxdb.env", "INFLUX_USERNAME=admin\nINFLUX_PASSWORD=pw\n", 0600);
    cr_assert_eq(fixture_load(&fixture, "", &config, &diagnostics), 0);
    cr_expect_str_eq(config->influxdb.username, "admin");
    cr_expect_str_eq(config->relay.upstreams[0].username, "admin", "the built-in upstream too");
    cr_expect_str_eq(config->relay.upstreams[0].password, "pw");
    config_free(config);
    config_diagnostics_free(&diagnostics);
    fixture_remove(&fixture);
}

Test(config_secrets, tibber_token_when_enabled)
{
    struct secrets_fixture fixture;
    fixture_make(&fixture);
    secret_write(&fixture, "tibber.env", "TIBBER_API_TOKEN='tibber-token-abcdef'\n", 0600);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    cr_assert_eq(fixture_load(&fixture, "tibber: {enabled: true}\n", &config, &diagnostics), 0);
    cr_expect_str_eq(config->tibber.api_token, "tibber-token-abcdef");
    config_free(config);
    config_diagnostics_free(&diagnostics);
    fixture_remove(&fixture);
}
