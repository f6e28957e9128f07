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

/* YAML 1.1 merge keys ("<<: *defaults", "<<: [*a, *b]"), which PyYAML (the reference pipeline)
 * and Home Assistant read: each mapping gets the pairs of the merged mappings whose keys it does
 * not set itself (an earlier mapping in a list wins), in place of its "<<" pairs, so every
 * reader of the document sees plain mappings. A "<<" whose value is not a mapping or a list of
 * mappings, or that merges a mapping into itself, is left as it is and reported as an unknown
 * key. state[i]: 0 not seen, 1 being flattened, 2 done. Returns -1 when out of memory. */
static bool config_merge_key_is(const yaml_document_t *document, const yaml_node_pair_t *pair)
{
    const yaml_node_t *key = yaml_document_get_node((yaml_document_t *)document, pair->key);
    return key && key->type == YAML_SCALAR_NODE &&
           key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && key->data.scalar.length == 2 &&
           memcmp(key->data.scalar.value, "<<", 2) == 0;
}

static bool config_merge_has_key(yaml_document_t *document, const yaml_node_pair_t *pairs,
                                 size_t count, const yaml_node_t *key)
{
    if (!key || key->type != YAML_SCALAR_NODE)
        return false;
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *other = yaml_document_get_node(document, pairs[i].key);
        if (other && other->type == YAML_SCALAR_NODE &&
            other->data.scalar.length == key->data.scalar.length &&
            memcmp(other->data.scalar.value, key->data.scalar.value, key->data.scalar.length) == 0)
            return true;
    }
    return false;
}

static int config_merge_flatten(yaml_document_t *document, int index, unsigned char *state,
                                int depth);

/* Whether node can be merged: a mapping, flattened first (not one being flattened: a cycle). */
static bool config_merge_source_ready(yaml_document_t *document, int index, unsigned char *state,
                                      int depth, int *status)
{
    yaml_node_t *node = yaml_document_get_node(document, index);
    if (!node || node->type != YAML_MAPPING_NODE || state[index - 1] == 1)
        return false;
    if (config_merge_flatten(document, index, state, depth + 1) != 0)
        *status = -1;
    return *status == 0 && state[index - 1] == 2;
}

static int config_merge_flatten(yaml_document_t *document, int index, unsigned char *state,
                                int depth)
{
    yaml_node_t *node = yaml_document_get_node(document, index);
    if (state[index - 1] != 0 || node->type != YAML_MAPPING_NODE || depth > 64)
        return 0;
    state[index - 1] = 1;
    yaml_node_pair_t *start = node->data.mapping.pairs.start;
    size_t count = (size_t)(node->data.mapping.pairs.top - start);
    bool any = false;
    for (size_t i = 0; i < count && !any; i++)
        any = config_merge_key_is(document, &start[i]);
    if (!any) {
        state[index - 1] = 2;
        return 0;
    }
    /* Every source must be usable, else the mapping is left as it is. */
    int status = 0;
    size_t capacity = count;
    for (size_t i = 0; i < count; i++) {
        if (!config_merge_key_is(document, &start[i]))
            continue;
        yaml_node_t *value = yaml_document_get_node(document, start[i].value);
        if (!value)
            goto unchanged;
        if (value->type == YAML_MAPPING_NODE) {
            if (!config_merge_source_ready(document, start[i].value, state, depth, &status))
                goto unchanged;
            capacity += (size_t)(value->data.mapping.pairs.top - value->data.mapping.pairs.start);
            continue;
        }
        if (value->type != YAML_SEQUENCE_NODE)
            goto unchanged;
        for (yaml_node_item_t *item = value->data.sequence.items.start;
             item < value->data.sequence.items.top; item++) {
            if (!config_merge_source_ready(document, *item, state, depth, &status))
                goto unchanged;
            yaml_node_t *source = yaml_document_get_node(document, *item);
            capacity += (size_t)(source->data.mapping.pairs.top - source->data.mapping.pairs.start);
        }
    }
    yaml_node_pair_t *merged = malloc((capacity ? capacity : 1) * sizeof *merged);
    if (!merged) {
        state[index - 1] = 2;
        return -1;
    }
    size_t used = 0;
    for (size_t i = 0; i < count; i++)
        if (!config_merge_key_is(document, &start[i]))
            merged[used++] = start[i];
    for (size_t i = 0; i < count; i++) {
        if (!config_merge_key_is(document, &start[i]))
            continue;
        yaml_node_t *value = yaml_document_get_node(document, start[i].value);
        yaml_node_item_t single = start[i].value;
        yaml_node_item_t *items = &single, *items_end = &single + 1;
        if (value->type == YAML_SEQUENCE_NODE) {
            items = value->data.sequence.items.start;
            items_end = value->data.sequence.items.top;
        }
        for (yaml_node_item_t *item = items; item < items_end; item++) {
            yaml_node_t *source = yaml_document_get_node(document, *item);
            for (yaml_node_pair_t *pair = source->data.mapping.pairs.start;
                 pair < source->data.mapping.pairs.top; pair++) {
                yaml_node_t *key = yaml_document_get_node(document, pair->key);
                /* Keys set in the mapping itself, or by an earlier source, win. */
                if (!config_merge_has_key(document, merged, used, key))
                    merged[used++] = *pair;
            }
        }
    }
    free(node->data.mapping.pairs.start); /* libyaml allocates with malloc (yaml_malloc) */
    node->data.mapping.pairs.start = merged;
    node->data.mapping.pairs.top = merged + used;
    node->data.mapping.pairs.end = merged + capacity;
    state[index - 1] = 2;
    return status;
unchanged:
    state[index - 1] = 2;
    return status;
}

static int config_merge_keys_resolve(yaml_document_t *document)
{
    size_t count = (size_t)(document->nodes.top - document->nodes.start);
    if (count == 0)
        return 0;
    unsigned char *state = calloc(count, 1);
    if (!state)
        return -1;
    int status = 0;
    for (size_t i = 0; i < count && status == 0; i++)
        status = config_merge_flatten(document, (int)i + 1, state, 0);
    free(state);
    return status;
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
    if (status == 0 && config_merge_keys_resolve(document) != 0) {
        config_report_out_of_memory(loader);
        status = -1;
    }
    if (status != 0)
        yaml_document_delete(document);
    return status;
}
