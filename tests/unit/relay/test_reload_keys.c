/* reload_keys_changed: which start-only settings a reloaded file changed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "relay/reload_keys.h"

static char directory[] = "/tmp/nebenkosten-reload-keys-XXXXXX";

static void directory_make(void)
{
    cr_assert_not_null(mkdtemp(directory));
}

static void directory_remove(void)
{
    const char *names[] = {"config.yaml", "meters.yaml", "seasonal_patterns.yaml"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", directory, names[i]);
        unlink(path);
    }
    rmdir(directory);
}

static void file_write(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    FILE *file = fopen(path, "w");
    cr_assert_not_null(file);
    fputs(text, file);
    fclose(file);
}

/* The relay section of a small config.yaml with extra appended (indented under relay:), the
 * stream on or off. */
static struct config *config_from(const char *relay_extra, const char *stream, const char *patterns)
{
    char text[2048];
    snprintf(text, sizeof text,
             "influxdb:\n  url: http://127.0.0.1:9\n"
             "meters_config: meters.yaml\nseasonal_patterns_config: seasonal_patterns.yaml\n"
             "relay:\n  listen: 127.0.0.1:0\n  spool:\n    dir: spool\n%s"
             "stream:\n%s",
             relay_extra, stream);
    file_write("config.yaml", text);
    file_write("meters.yaml", "");
    file_write("seasonal_patterns.yaml", patterns);
    char path[256];
    snprintf(path, sizeof path, "%s/config.yaml", directory);
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    int result = config_load(path, &config, &diagnostics);
    cr_assert_eq(result, 0, "config_load: %s",
                 diagnostics.error_count ? diagnostics.errors[0] : "(no message)");
    config_diagnostics_free(&diagnostics);
    return config;
}

/* The keys as one comma-separated string, for one comparison. */
static void keys_text(const struct config *running, const struct config *fresh, char *out,
                      size_t size)
{
    const char *keys[RELOAD_KEYS_MAX];
    size_t count = reload_keys_changed(running, fresh, keys);
    out[0] = '\0';
    for (size_t i = 0; i < count; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", keys[i]);
}

TestSuite(reload_keys, .init = directory_make, .fini = directory_remove);

Test(reload_keys, the_same_file_changes_nothing)
{
    struct config *running = config_from("", "  enabled: true\n", "");
    struct config *fresh = config_from("", "  enabled: true\n", "");
    char text[512];
    keys_text(running, fresh, text, sizeof text);
    cr_expect_str_eq(text, "");
    config_free(running);
    config_free(fresh);
}

Test(reload_keys, live_settings_are_not_listed)
{
    struct config *running = config_from("", "  enabled: false\n", "");
    struct config *fresh =
        config_from("  max_body_bytes: 1MiB\n  read_timeout: 5s\n  base_path: /influx\n",
                    "  enabled: false\n", "");
    char text[512];
    keys_text(running, fresh, text, sizeof text);
    cr_expect_str_eq(text, "", "body limits, timeouts and the base path apply at once");
    config_free(running);
    config_free(fresh);
}

Test(reload_keys, start_only_settings_are_listed_in_order)
{
    struct config *running = config_from("", "  enabled: true\n", "");
    struct config *fresh = config_from(
        "    sync: none\n  query_upstream: second\n  upstreams:\n"
        "    - name: first\n      url: http://127.0.0.1:9\n"
        "    - name: second\n      url: http://127.0.0.1:10\n",
        "  enabled: true\n  default_limits:\n    stuck_days: 5\n",
        "patterns:\n  strom:\n    monthly_percentages: [9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 8, 9]\n");
    char text[512];
    keys_text(running, fresh, text, sizeof text);
    cr_expect_str_eq(text, "relay.spool.sync,relay.upstreams,relay.query_upstream,"
                           "stream.default_limits,seasonal_patterns");
    config_free(running);
    config_free(fresh);
}

/* A stopped stream reads no rules, limits or patterns: changing them waits for nothing. */
Test(reload_keys, stream_settings_count_only_while_the_stream_runs)
{
    struct config *running = config_from("", "  enabled: false\n", "");
    struct config *fresh =
        config_from("", "  enabled: false\n  default_limits:\n    stuck_days: 5\n",
                    "patterns:\n  strom:\n    monthly_percentages: [9, 9, 9, "
                    "8, 8, 8, 8, 8, 8, 8, 8, 9]\n");
    char text[512];
    keys_text(running, fresh, text, sizeof text);
    cr_expect_str_eq(text, "");
    config_free(running);
    config_free(fresh);
}

/* An upstream's credentials come from the secrets files, which a reload reads again. */
Test(reload_keys, a_changed_upstream_credential_is_listed)
{
    struct config *running = config_from("", "  enabled: false\n", "");
    struct config *fresh = config_from("", "  enabled: false\n", "");
    free(fresh->relay.upstreams[0].password);
    fresh->relay.upstreams[0].password = strdup("rotated");
    char text[512];
    keys_text(running, fresh, text, sizeof text);
    cr_expect_str_eq(text, "relay.upstreams");
    config_free(running);
    config_free(fresh);
}
