/* config_load: config.yaml, then the meters and patterns files it names, then the secrets, each
 * problem collected with its position; the configuration is handed out only when there were no
 * errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"

/* Reads a whole file (at most CONFIG_FILE_MAX_BYTES). Returns 0 and an owned *data, or -errno. */
static int config_file_read(const char *path, char **data, size_t *length)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return -errno;
    int status = 0;
    size_t capacity = 4096, used = 0;
    char *buffer = malloc(capacity);
    if (!buffer) {
        status = -ENOMEM;
        goto cleanup;
    }
    for (;;) {
        if (used == capacity) {
            if (capacity >= CONFIG_FILE_MAX_BYTES) {
                status = -EFBIG;
                goto cleanup;
            }
            char *grown = realloc(buffer, capacity * 2);
            if (!grown) {
                status = -ENOMEM;
                goto cleanup;
            }
            buffer = grown;
            capacity *= 2;
        }
        size_t got = fread(buffer + used, 1, capacity - used, file);
        used += got;
        if (got == 0) {
            if (ferror(file))
                status = -EIO;
            break;
        }
    }
cleanup:
    if (fclose(file) != 0 && status == 0)
        status = -errno;
    if (status != 0) {
        free(buffer);
        return status;
    }
    *data = buffer;
    *length = used;
    return 0;
}

static const char *config_read_error(int status)
{
    return status == -EFBIG ? "larger than 16 MiB; is this really a configuration file?"
                            : strerror(-status);
}

/* The absolute directory of file_name (symlinks resolved when it exists). Owned. */
static char *config_directory_of(const char *file_name)
{
    const char *slash = strrchr(file_name, '/');
    char *directory =
        slash ? config_string_copy(file_name, slash == file_name ? 1 : (size_t)(slash - file_name))
              : strdup(".");
    if (!directory)
        return NULL;
    char *real = realpath(directory, NULL);
    if (real) {
        free(directory);
        return real;
    }
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) {
        free(directory);
        return NULL;
    }
    char *absolute = config_path_resolve(cwd, directory, strlen(directory));
    free(directory);
    return absolute;
}

/* How a file config.yaml names is shown in messages: next to config.yaml as the user named it
 * ("config/meters.yaml" for -c config/config.yaml) when it is in the same directory tree, else
 * relative to the working directory when below it, else absolute. Owned. */
static char *config_display_name(const char *config_file_name, const char *directory,
                                 const char *absolute)
{
    size_t directory_length = strlen(directory);
    if (strncmp(absolute, directory, directory_length) == 0 && absolute[directory_length] == '/') {
        const char *slash = strrchr(config_file_name, '/');
        char *display = NULL;
        if (asprintf(&display, "%.*s%s", slash ? (int)(slash - config_file_name + 1) : 0,
                     config_file_name, absolute + directory_length + 1) < 0)
            return NULL;
        return display;
    }
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) {
        size_t length = strlen(cwd);
        if (strncmp(absolute, cwd, length) == 0 && absolute[length] == '/')
            return strdup(absolute + length + 1);
    }
    return strdup(absolute);
}

/* Loads one of the files config.yaml names (meters, patterns) with load(). A missing file is fine
 * when its key was not given (nothing is configured), an error when it was. */
static void
config_named_file_load(struct config_loader *config_loader, struct config *config, const char *key,
                       const char *path, const struct config_text *text, bool read_files,
                       void (*load)(struct config_loader *, yaml_node_t *, struct config *),
                       void (*check)(struct config_loader *, const struct config *))
{
    char *data = NULL;
    size_t length = 0;
    char *display = NULL;
    if (text) {
        data = (char *)text->data;
        length = text->length;
    } else {
        if (!read_files || !path)
            return;
        int status = config_file_read(path, &data, &length);
        yaml_node_t *root =
            config_loader->document ? yaml_document_get_root_node(config_loader->document) : NULL;
        if (status == -ENOENT && config_node_is_null(config_node_value(config_loader, root, key))) {
            char *message = NULL;
            if (asprintf(&message, "%s: %s: no file at %s; nothing from it is configured",
                         config_loader->file_name, key, path) >= 0)
                config_diagnostics_add(config_loader->diagnostics, CONFIG_SEVERITY_NOTE, message);
            return;
        }
        if (status != 0) {
            config_report_path(config_loader, CONFIG_SEVERITY_ERROR, key, "cannot read %s: %s",
                               path, config_read_error(status));
            return;
        }
        display = config_display_name(config_loader->file_name, config->directory, path);
        if (!display) {
            free(data);
            config_report_out_of_memory(config_loader);
            return;
        }
    }
    struct config_loader loader = {
        .file_name = text ? text->file_name : display,
        .directory = config->directory,
        .diagnostics = config_loader->diagnostics,
    };
    yaml_document_t document;
    if (config_yaml_parse(&loader, data, length, &document) == 0) {
        loader.document = &document;
        yaml_node_t *root = yaml_document_get_root_node(&document);
        load(&loader, config_node_is_null(root) ? NULL : root, config);
        check(&loader, config);
        yaml_document_delete(&document);
    }
    if (!text)
        free(data);
    free(display);
}

int config_load_buffer(const char *file_name, const char *data, size_t length,
                       const struct config_load_options *options, struct config **out,
                       struct config_diagnostics *diagnostics)
{
    static const struct config_load_options from_files = {.read_files = true};
    if (!options)
        options = &from_files;
    *out = NULL;
    size_t errors_before = diagnostics->error_count;
    struct config_loader loader = {.file_name = file_name, .diagnostics = diagnostics};
    struct config *config = calloc(1, sizeof *config);
    char *directory = config_directory_of(file_name);
    const char *base = strrchr(file_name, '/') ? strrchr(file_name, '/') + 1 : file_name;
    if (!config || !directory) {
        free(config);
        free(directory);
        config_report_out_of_memory(&loader);
        return -1;
    }
    config->directory = directory;
    config->path = config_path_resolve(directory, base, strlen(base));
    loader.directory = directory;
    if (!config->path) {
        config_free(config);
        config_report_out_of_memory(&loader);
        return -1;
    }
    yaml_document_t document;
    if (config_yaml_parse(&loader, data, length, &document) != 0) {
        config_free(config);
        return -1;
    }
    loader.document = &document;
    yaml_node_t *root = yaml_document_get_root_node(&document);
    config_table_load(&loader, &config_root_table, config_node_is_null(root) ? NULL : root, config,
                      "");
    config_sections_complete(&loader, config);
    config_named_file_load(&loader, config, "meters_config", config->meters_config, options->meters,
                           options->read_files, config_meters_load, config_meters_check);
    config_named_file_load(&loader, config, "seasonal_patterns_config",
                           config->seasonal_patterns_config, options->patterns, options->read_files,
                           config_patterns_load, config_patterns_check);
    config_limits_check(&loader, config);
    if (options->read_files)
        config_secrets_resolve(&loader, config);
    yaml_document_delete(&document);
    if (diagnostics->error_count > errors_before || diagnostics->out_of_memory) {
        config_free(config);
        return -1;
    }
    *out = config;
    return 0;
}

int config_load(const char *path, struct config **out, struct config_diagnostics *diagnostics)
{
    *out = NULL;
    if (!path) {
        if (access(CONFIG_DEFAULT_PATH, F_OK) == 0)
            path = CONFIG_DEFAULT_PATH;
        else if (access(CONFIG_SYSTEM_PATH, F_OK) == 0)
            path = CONFIG_SYSTEM_PATH;
    }
    if (!path) {
        char *message = NULL;
        if (asprintf(&message,
                     "no configuration file found (tried %s and %s); using the built-in defaults",
                     CONFIG_DEFAULT_PATH, CONFIG_SYSTEM_PATH) >= 0)
            config_diagnostics_add(diagnostics, CONFIG_SEVERITY_NOTE, message);
        int status = config_load_buffer(CONFIG_DEFAULT_PATH, "", 0, NULL, out, diagnostics);
        if (status == 0) {
            free((*out)->path);
            (*out)->path = NULL;
        }
        return status;
    }
    char *data = NULL;
    size_t length = 0;
    int status = config_file_read(path, &data, &length);
    if (status != 0) {
        char *message = NULL;
        if (asprintf(&message, "%s: cannot read the configuration: %s", path,
                     config_read_error(status)) >= 0)
            config_diagnostics_add(diagnostics, CONFIG_SEVERITY_ERROR, message);
        else
            diagnostics->out_of_memory = true;
        return -1;
    }
    status = config_load_buffer(path, data, length, NULL, out, diagnostics);
    free(data);
    return status;
}

void config_free(struct config *config)
{
    if (!config)
        return;
    config_secrets_free(config);
    config_table_free(&config_root_table, config);
    config_table_free(&config_meters_file_table, config);
    config_table_free(&config_patterns_file_table, config);
    free(config->path);
    free(config->directory);
    free(config);
}

const struct config_upstream *config_upstream_find(const struct config *config, const char *name)
{
    for (size_t i = 0; i < config->relay.upstream_count; i++)
        if (config->relay.upstreams[i].name && strcmp(config->relay.upstreams[i].name, name) == 0)
            return &config->relay.upstreams[i];
    return NULL;
}

const struct config_meter_limits *config_limits_find(const struct config *config,
                                                     const char *meter_id)
{
    for (size_t i = 0; i < config->stream.limit_count; i++)
        if (config->stream.limits[i].meter_id &&
            strcmp(config->stream.limits[i].meter_id, meter_id) == 0)
            return &config->stream.limits[i];
    return &config->stream.default_limits;
}
