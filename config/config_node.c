/* libyaml document nodes, dotted key paths and file paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

bool config_node_is_null(const yaml_node_t *node)
{
    if (!node)
        return true;
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *text = (const char *)node->data.scalar.value;
    size_t length = node->data.scalar.length;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (strlen(nulls[i]) == length && memcmp(nulls[i], text, length) == 0)
            return true;
    return false;
}

void config_node_describe(const yaml_node_t *node, char *out, size_t out_size)
{
    if (!node || config_node_is_null(node))
        snprintf(out, out_size, "null");
    else if (node->type == YAML_MAPPING_NODE)
        snprintf(out, out_size, "a mapping");
    else if (node->type == YAML_SEQUENCE_NODE)
        snprintf(out, out_size, "a sequence");
    else
        config_text_quote((const char *)node->data.scalar.value, node->data.scalar.length, out,
                          out_size);
}

static yaml_node_t *config_node_value_sized(const struct config_loader *loader,
                                            const yaml_node_t *mapping, const char *key,
                                            size_t key_length)
{
    if (!mapping || mapping->type != YAML_MAPPING_NODE || !loader->document)
        return NULL;
    for (yaml_node_pair_t *pair = mapping->data.mapping.pairs.start;
         pair < mapping->data.mapping.pairs.top; pair++) {
        yaml_node_t *key_node = yaml_document_get_node(loader->document, pair->key);
        if (key_node && key_node->type == YAML_SCALAR_NODE &&
            key_node->data.scalar.length == key_length &&
            memcmp(key_node->data.scalar.value, key, key_length) == 0)
            return yaml_document_get_node(loader->document, pair->value);
    }
    return NULL;
}

yaml_node_t *config_node_value(const struct config_loader *loader, const yaml_node_t *mapping,
                               const char *key)
{
    return config_node_value_sized(loader, mapping, key, strlen(key));
}

yaml_node_t *config_node_find(const struct config_loader *loader, const char *path)
{
    if (!loader->document)
        return NULL;
    yaml_node_t *node = yaml_document_get_root_node(loader->document);
    const char *position = path;
    while (node && *position) {
        if (*position == '.') {
            position++;
            continue;
        }
        yaml_node_t *next;
        if (*position == '[') {
            char *end;
            unsigned long index = strtoul(position + 1, &end, 10);
            if (*end != ']' || node->type != YAML_SEQUENCE_NODE)
                return node;
            size_t count =
                (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
            if (index >= count)
                return node;
            next = yaml_document_get_node(loader->document, node->data.sequence.items.start[index]);
            position = end + 1;
        } else {
            size_t length = strcspn(position, ".[");
            next = config_node_value_sized(loader, node, position, length);
            position += length;
        }
        if (!next)
            return node;
        node = next;
    }
    return node;
}

void config_path_child(char *out, size_t out_size, const char *parent, const char *key)
{
    if (parent && parent[0])
        snprintf(out, out_size, "%s.%s", parent, key);
    else
        snprintf(out, out_size, "%s", key);
}

void config_path_index(char *out, size_t out_size, const char *parent, size_t index)
{
    snprintf(out, out_size, "%s[%zu]", parent, index);
}

char *config_string_copy(const char *text, size_t length)
{
    char *copy = malloc(length + 1);
    if (!copy)
        return NULL;
    memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

char *config_path_resolve(const char *directory, const char *text, size_t length)
{
    size_t directory_length = strlen(directory);
    bool absolute = length > 0 && text[0] == '/';
    size_t capacity = (absolute ? 0 : directory_length + 1) + length + 2;
    char *joined = malloc(capacity);
    if (!joined)
        return NULL;
    size_t used = 0;
    if (!absolute) {
        memcpy(joined, directory, directory_length);
        used = directory_length;
        joined[used++] = '/';
    }
    memcpy(joined + used, text, length);
    used += length;
    joined[used] = '\0';

    /* Resolve "." and ".." and repeated slashes in place; components never grow. */
    char *out = joined;
    size_t out_length = 0;
    const char *position = joined;
    while (*position) {
        while (*position == '/')
            position++;
        const char *start = position;
        while (*position && *position != '/')
            position++;
        size_t component = (size_t)(position - start);
        if (component == 0 || (component == 1 && start[0] == '.'))
            continue;
        if (component == 2 && start[0] == '.' && start[1] == '.') {
            while (out_length > 0 && out[out_length - 1] != '/')
                out_length--;
            if (out_length > 0)
                out_length--; /* the slash before the removed component */
            continue;
        }
        out[out_length++] = '/';
        memmove(out + out_length, start, component);
        out_length += component;
    }
    if (out_length == 0)
        out[out_length++] = '/';
    out[out_length] = '\0';
    return joined;
}

int config_yaml_parse(struct config_loader *loader, const char *data, size_t length,
                      yaml_document_t *document)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        config_report_out_of_memory(loader);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, length);
    if (!yaml_parser_load(&parser, document)) {
        const yaml_mark_t *mark = &parser.problem_mark;
        char *message = NULL;
        int status;
        if (parser.error == YAML_MEMORY_ERROR) {
            yaml_parser_delete(&parser);
            config_report_out_of_memory(loader);
            return -1;
        }
        if (parser.context)
            status = asprintf(&message, "%s:%zu:%zu: not valid YAML: %s %s", loader->file_name,
                              mark->line + 1, mark->column + 1,
                              parser.problem ? parser.problem : "syntax error", parser.context);
        else
            status = asprintf(&message, "%s:%zu:%zu: not valid YAML: %s", loader->file_name,
                              mark->line + 1, mark->column + 1,
                              parser.problem ? parser.problem : "syntax error");
        config_diagnostics_add(loader->diagnostics, CONFIG_SEVERITY_ERROR,
                               status < 0 ? NULL : message);
        yaml_parser_delete(&parser);
        return -1;
    }
    /* A second document would be silently ignored; a configuration file holds exactly one. */
    yaml_document_t extra;
    int status = 0;
    if (yaml_parser_load(&parser, &extra)) {
        yaml_node_t *root = yaml_document_get_root_node(&extra);
        if (root) {
            config_report(loader, CONFIG_SEVERITY_ERROR, root, "",
                          "a second YAML document starts here; a configuration file holds one "
                          "document (remove the \"---\" line)");
            status = -1;
        }
        yaml_document_delete(&extra);
    } else {
        char *message = NULL;
        int printed = asprintf(&message, "%s:%zu:%zu: not valid YAML: %s", loader->file_name,
                               parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                               parser.problem ? parser.problem : "syntax error");
        config_diagnostics_add(loader->diagnostics, CONFIG_SEVERITY_ERROR,
                               printed < 0 ? NULL : message);
        status = -1;
    }
    yaml_parser_delete(&parser);
    if (status != 0)
        yaml_document_delete(document);
    return status;
}
