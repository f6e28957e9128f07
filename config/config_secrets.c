/* Credentials come from secrets files (secrets_dir/<name>.env) and the environment, never from
 * config files. A file is read only when its feature is on; a missing variable of an enabled
 * feature is an error naming the variable and where it was looked for. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/secrets.h"

#define CONFIG_SECRETS_ERROR_SIZE 512
#define CONFIG_SECRETS_LIST_MAX 256

static struct secrets_file *config_secrets_open(struct config_loader *loader,
                                                const struct config *config, const char *name,
                                                const char *path_of_key)
{
    if (!config->secrets_dir || !name)
        return NULL;
    char *path = NULL;
    if (asprintf(&path, "%s/%s", config->secrets_dir, name) < 0) {
        config_report_out_of_memory(loader);
        return NULL;
    }
    char error[CONFIG_SECRETS_ERROR_SIZE];
    struct secrets_file *file = NULL;
    if (secrets_file_load(path, false, &file, error, sizeof error) != 0) {
        config_report_path(loader, CONFIG_SEVERITY_ERROR, path_of_key, "%s", error);
        file = NULL;
    }
    free(path);
    return file;
}

/* A copy of the variable's value, or NULL when it is not set (or on out of memory, reported). */
static char *config_secrets_copy(struct config_loader *loader, const struct secrets_file *file,
                                 const char *variable)
{
    const char *value = secrets_file_get(file, variable);
    if (!value || !value[0])
        return NULL;
    char *copy = strdup(value);
    if (!copy)
        config_report_out_of_memory(loader);
    return copy;
}

/* Splits "a, b,c" into trimmed, non-empty entries. Returns the count, -1 (out of memory) or -2
 * (more than CONFIG_SECRETS_LIST_MAX entries; nothing kept). */
static int config_secrets_split(const char *value, char ***out)
{
    char **entries = NULL;
    int count = 0;
    const char *position = value;
    while (*position) {
        while (*position == ',' || isspace((unsigned char)*position))
            position++;
        const char *start = position;
        while (*position && *position != ',')
            position++;
        const char *end = position;
        while (end > start && isspace((unsigned char)end[-1]))
            end--;
        if (end == start)
            continue;
        if (count == CONFIG_SECRETS_LIST_MAX) {
            /* Dropping the rest would refuse their clients with nothing said at start. */
            for (int i = 0; i < count; i++)
                free(entries[i]);
            free(entries);
            return -2;
        }
        char **grown = realloc(entries, (size_t)(count + 1) * sizeof *grown);
        char *entry = grown ? config_string_copy(start, (size_t)(end - start)) : NULL;
        if (!entry) {
            entries = grown ? grown : entries;
            for (int i = 0; i < count; i++)
                free(entries[i]);
            free(entries);
            return -1;
        }
        entries = grown;
        entries[count++] = entry;
    }
    *out = entries;
    return count;
}

static void config_relay_auth_resolve(struct config_loader *loader, struct config *config)
{
    struct config_relay *relay = &config->relay;
    if (relay->auth == CONFIG_AUTH_NONE)
        return;
    struct secrets_file *file =
        config_secrets_open(loader, config, relay->credentials, "relay.credentials");
    if (!file)
        return;
    bool tokens = relay->auth == CONFIG_AUTH_TOKEN;
    const char *variable = tokens ? "RELAY_TOKENS" : "RELAY_USERS";
    char error[CONFIG_SECRETS_ERROR_SIZE];
    const char *value = secrets_file_require(file, variable, error, sizeof error);
    char **entries = NULL;
    int count = value ? config_secrets_split(value, &entries) : 0;
    if (!value) {
        config_report_path(
            loader, CONFIG_SEVERITY_ERROR, "relay.auth", "%s authentication needs %s (%s): %s",
            tokens ? "token" : "basic", variable,
            tokens ? "tokens separated by commas" : "user:password pairs separated by commas",
            error);
    } else if (count == -2) {
        config_report_path(loader, CONFIG_SEVERITY_ERROR, "relay.auth",
                           "%s in %s has more than %d entries; at most %d are allowed", variable,
                           secrets_file_path(file), CONFIG_SECRETS_LIST_MAX,
                           CONFIG_SECRETS_LIST_MAX);
    } else if (count < 0) {
        config_report_out_of_memory(loader);
    } else if (count == 0) {
        config_report_path(loader, CONFIG_SEVERITY_ERROR, "relay.auth",
                           "%s in %s is empty; expected %s", variable, secrets_file_path(file),
                           tokens ? "tokens separated by commas"
                                  : "user:password pairs separated by commas");
    } else if (tokens) {
        relay->auth_tokens = entries;
        relay->auth_token_count = (size_t)count;
        entries = NULL;
    } else {
        relay->auth_users = calloc((size_t)count, sizeof *relay->auth_users);
        if (!relay->auth_users)
            config_report_out_of_memory(loader);
        for (int i = 0; relay->auth_users && i < count; i++) {
            char *colon = strchr(entries[i], ':');
            if (!colon || colon == entries[i] || colon[1] == '\0') {
                config_report_path(loader, CONFIG_SEVERITY_ERROR, "relay.auth",
                                   "%s in %s: entry %d is not user:password (both non-empty)",
                                   variable, secrets_file_path(file), i + 1);
                continue;
            }
            struct config_user *user = &relay->auth_users[relay->auth_user_count];
            user->name = config_string_copy(entries[i], (size_t)(colon - entries[i]));
            user->password = strdup(colon + 1);
            relay->auth_user_count++;
            if (!user->name || !user->password)
                config_report_out_of_memory(loader);
        }
    }
    for (int i = 0; entries && i < count; i++)
        free(entries[i]);
    free(entries);
    secrets_file_free(file);
}

struct config_credentials {
    char **org, **token, **username, **password;
};

/* Reads INFLUX_* from the credentials file and checks what the api needs. path is the config
 * key prefix of the connection ("influxdb", "relay.upstreams[1]"). */
static void config_influx_resolve(struct config_loader *loader, const struct config *config,
                                  const char *path, const char *credentials, enum config_api api,
                                  struct config_credentials *out, bool check)
{
    char key_path[CONFIG_PATH_SIZE];
    config_path_child(key_path, sizeof key_path, path, "credentials");
    struct secrets_file *file = config_secrets_open(loader, config, credentials, key_path);
    if (!file)
        return;
    *out->token = config_secrets_copy(loader, file, "INFLUX_TOKEN");
    *out->username = config_secrets_copy(loader, file, "INFLUX_USERNAME");
    *out->password = config_secrets_copy(loader, file, "INFLUX_PASSWORD");
    if (!*out->org)
        *out->org = config_secrets_copy(loader, file, "INFLUX_ORG");
    if (check && api == CONFIG_API_V2) {
        char error[CONFIG_SECRETS_ERROR_SIZE];
        if (!*out->org) {
            config_path_child(key_path, sizeof key_path, path, "org");
            config_report_path(loader, CONFIG_SEVERITY_ERROR, key_path,
                               "api v2 needs an org: set %s or INFLUX_ORG in %s", key_path,
                               secrets_file_path(file));
        }
        if (!*out->token && !secrets_file_require(file, "INFLUX_TOKEN", error, sizeof error)) {
            config_path_child(key_path, sizeof key_path, path, "api");
            config_report_path(loader, CONFIG_SEVERITY_ERROR, key_path, "api v2 needs a token: %s",
                               error);
        }
    }
    if (check && (!*out->username) != (!*out->password)) {
        config_path_child(key_path, sizeof key_path, path, "credentials");
        config_report_path(loader, CONFIG_SEVERITY_ERROR, key_path,
                           "%s is set but %s is not (looked in %s and the environment); set both "
                           "or neither",
                           *out->username ? "INFLUX_USERNAME" : "INFLUX_PASSWORD",
                           *out->username ? "INFLUX_PASSWORD" : "INFLUX_USERNAME",
                           secrets_file_path(file));
    }
    secrets_file_free(file);
}

static void config_tibber_resolve(struct config_loader *loader, struct config *config)
{
    if (!config->tibber.enabled)
        return;
    struct secrets_file *file =
        config_secrets_open(loader, config, config->tibber.credentials, "tibber.credentials");
    if (!file)
        return;
    char error[CONFIG_SECRETS_ERROR_SIZE];
    const char *token = secrets_file_require(file, "TIBBER_API_TOKEN", error, sizeof error);
    if (!token) {
        config_report_path(loader, CONFIG_SEVERITY_ERROR, "tibber.enabled",
                           "Tibber is enabled but its token is missing: %s", error);
    } else {
        config->tibber.api_token = strdup(token);
        if (!config->tibber.api_token)
            config_report_out_of_memory(loader);
    }
    secrets_file_free(file);
}

void config_secrets_resolve(struct config_loader *loader, struct config *config)
{
    config_relay_auth_resolve(loader, config);
    struct config_influxdb *influxdb = &config->influxdb;
    struct config_credentials influx = {&influxdb->org, &influxdb->token, &influxdb->username,
                                        &influxdb->password};
    config_influx_resolve(loader, config, "influxdb", influxdb->credentials, influxdb->api, &influx,
                          true);
    /* The built-in upstream mirrors influxdb.*, whose problems were just reported. */
    yaml_node_t *listed = config_node_find(loader, "relay.upstreams");
    bool explicit_upstreams = listed && listed->type == YAML_SEQUENCE_NODE &&
                              listed->data.sequence.items.top > listed->data.sequence.items.start;
    for (size_t i = 0; i < config->relay.upstream_count; i++) {
        struct config_upstream *upstream = &config->relay.upstreams[i];
        char path[CONFIG_PATH_SIZE];
        config_path_index(path, sizeof path, "relay.upstreams", i);
        struct config_credentials credentials = {&upstream->org, &upstream->token,
                                                 &upstream->username, &upstream->password};
        config_influx_resolve(loader, config, explicit_upstreams ? path : "influxdb",
                              upstream->credentials, upstream->api, &credentials,
                              explicit_upstreams);
    }
    config_tibber_resolve(loader, config);
}

void config_secrets_free(struct config *config)
{
    struct config_relay *relay = &config->relay;
    for (size_t i = 0; i < relay->auth_token_count; i++)
        free(relay->auth_tokens[i]);
    free(relay->auth_tokens);
    for (size_t i = 0; i < relay->auth_user_count; i++) {
        free(relay->auth_users[i].name);
        free(relay->auth_users[i].password);
    }
    free(relay->auth_users);
    relay->auth_tokens = NULL;
    relay->auth_users = NULL;
    relay->auth_token_count = relay->auth_user_count = 0;
    for (size_t i = 0; i < relay->upstream_count; i++) {
        struct config_upstream *upstream = &relay->upstreams[i];
        free(upstream->token);
        free(upstream->username);
        free(upstream->password);
        upstream->token = upstream->username = upstream->password = NULL;
    }
    free(config->influxdb.token);
    free(config->influxdb.username);
    free(config->influxdb.password);
    free(config->tibber.api_token);
    config->influxdb.token = config->influxdb.username = config->influxdb.password = NULL;
    config->tibber.api_token = NULL;
}

bool config_secrets_present(const struct config *config)
{
    if (config->relay.auth_token_count || config->relay.auth_user_count || config->influxdb.token ||
        config->influxdb.username || config->tibber.api_token)
        return true;
    for (size_t i = 0; i < config->relay.upstream_count; i++)
        if (config->relay.upstreams[i].token || config->relay.upstreams[i].username)
            return true;
    return false;
}

static int config_secret_emit(yaml_emitter_t *emitter, const char *key, const char *secret)
{
    char masked[64];
    if (!secret)
        return 0;
    secrets_mask(secret, masked, sizeof masked);
    if (config_emit_plain(emitter, key) != 0)
        return -1;
    return config_emit_string(emitter, masked, false);
}

static int config_influx_secrets_emit(yaml_emitter_t *emitter, const char *name, const char *token,
                                      const char *username, const char *password)
{
    if (!token && !username && !password)
        return 0;
    if (config_emit_string(emitter, name, false) != 0 ||
        config_emit_mapping_start(emitter, false) != 0 ||
        config_secret_emit(emitter, "token", token) != 0)
        return -1;
    if (username && (config_emit_plain(emitter, "username") != 0 ||
                     config_emit_string(emitter, username, false) != 0))
        return -1;
    if (config_secret_emit(emitter, "password", password) != 0)
        return -1;
    return config_emit_mapping_end(emitter);
}

/* The resolved secrets, masked: what check-config shows so a user can see which were found. */
int config_secrets_emit(yaml_emitter_t *emitter, const struct config *config)
{
    const struct config_relay *relay = &config->relay;
    char masked[64], entry[320];
    if (config_emit_mapping_start(emitter, false) != 0 || config_emit_plain(emitter, "secrets") ||
        config_emit_mapping_start(emitter, false) != 0)
        return -1;
    if (relay->auth_token_count || relay->auth_user_count) {
        if (config_emit_plain(emitter, "relay") != 0 ||
            config_emit_mapping_start(emitter, false) != 0 ||
            config_emit_plain(emitter, relay->auth_token_count ? "tokens" : "users") != 0 ||
            config_emit_sequence_start(emitter, false) != 0)
            return -1;
        for (size_t i = 0; i < relay->auth_token_count; i++)
            if (config_emit_string(emitter,
                                   secrets_mask(relay->auth_tokens[i], masked, sizeof masked),
                                   false) != 0)
                return -1;
        for (size_t i = 0; i < relay->auth_user_count; i++) {
            secrets_mask(relay->auth_users[i].password, masked, sizeof masked);
            snprintf(entry, sizeof entry, "%s:%s", relay->auth_users[i].name, masked);
            if (config_emit_string(emitter, entry, false) != 0)
                return -1;
        }
        if (config_emit_sequence_end(emitter) != 0 || config_emit_mapping_end(emitter) != 0)
            return -1;
    }
    if (config_influx_secrets_emit(emitter, "influxdb", config->influxdb.token,
                                   config->influxdb.username, config->influxdb.password) != 0)
        return -1;
    bool any_upstream = false;
    for (size_t i = 0; i < relay->upstream_count; i++)
        any_upstream = any_upstream || relay->upstreams[i].token || relay->upstreams[i].username;
    if (any_upstream) {
        if (config_emit_plain(emitter, "upstreams") != 0 ||
            config_emit_mapping_start(emitter, false) != 0)
            return -1;
        for (size_t i = 0; i < relay->upstream_count; i++) {
            const struct config_upstream *upstream = &relay->upstreams[i];
            if (config_influx_secrets_emit(emitter, upstream->name ? upstream->name : "",
                                           upstream->token, upstream->username,
                                           upstream->password) != 0)
                return -1;
        }
        if (config_emit_mapping_end(emitter) != 0)
            return -1;
    }
    if (config->tibber.api_token) {
        if (config_emit_plain(emitter, "tibber") != 0 ||
            config_emit_mapping_start(emitter, false) != 0 ||
            config_secret_emit(emitter, "api_token", config->tibber.api_token) != 0 ||
            config_emit_mapping_end(emitter) != 0)
            return -1;
    }
    if (config_emit_mapping_end(emitter) != 0)
        return -1;
    return config_emit_mapping_end(emitter);
}
