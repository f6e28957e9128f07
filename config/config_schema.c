/* Loading and freeing by table: every key of a section is read, defaulted and validated the same
 * way, and every key that is not in the table is reported with the nearest known one. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/suggest.h"

static void *config_field(void *object, size_t offset)
{
    return (char *)object + offset;
}

static void config_pointer_get(const void *field, void **out)
{
    memcpy(out, field, sizeof *out);
}

static void config_pointer_set(void *field, void *value)
{
    memcpy(field, &value, sizeof value);
}
/* A date absent or unreadable is unknown (CONFIG_DATE_UNSET) until a default is parsed: given but
 * unreadable, it keeps no default, or the checks across keys (periods that overlap) would report a
 * date the user never wrote. */
static void config_date_forget(const struct config_key *key, void *field)
{
    if (key->kind == CONFIG_KIND_DATE) {
        int64_t unset = CONFIG_DATE_UNSET;
        memcpy(field, &unset, sizeof unset);
    }
}

/* An absent scalar key: its default, or unset. */
static void config_scalar_default(struct config_loader *loader, const struct config_key *key,
                                  void *field, const char *path)
{
    config_date_forget(key, field);
    if (!key->default_text)
        return;
    char why[CONFIG_WHY_SIZE];
    if (config_scalar_parse(loader, key, key->default_text, strlen(key->default_text), field, why,
                            sizeof why) != 0)
        config_report(loader, CONFIG_SEVERITY_ERROR, NULL, path, "built-in default \"%s\" %s",
                      key->default_text, why);
}

static void config_items_load(struct config_loader *loader, const struct config_key *key,
                              yaml_node_t *node, void *object, const char *path);

/* Loads the default of a LIST or MAP key from its YAML text. */
static void config_items_default(struct config_loader *loader, const struct config_key *key,
                                 void *object, const char *path)
{
    struct config_loader defaults = {
        .file_name = "built-in default",
        .directory = loader->directory,
        .diagnostics = loader->diagnostics,
    };
    yaml_document_t document;
    if (config_yaml_parse(&defaults, key->default_text, strlen(key->default_text), &document) != 0)
        return;
    defaults.document = &document;
    yaml_node_t *root = yaml_document_get_root_node(&document);
    if (root)
        config_items_load(&defaults, key, root, object, path);
    yaml_document_delete(&document);
}

static void config_value_load(struct config_loader *loader, const struct config_key *key,
                              yaml_node_t *node, void *object, const yaml_node_t *parent,
                              const char *path)
{
    void *field = config_field(object, key->offset);
    bool absent = config_node_is_null(node);
    char expected[200];
    config_key_expected(key, expected, sizeof expected);
    if (absent && (key->flags & CONFIG_KEY_REQUIRED)) {
        config_report(loader, CONFIG_SEVERITY_ERROR, node ? node : parent, path,
                      "missing; expected %s", expected);
        config_date_forget(key, field);
        if (key->kind != CONFIG_KIND_SECTION)
            return;
    }
    switch (key->kind) {
    case CONFIG_KIND_SECTION:
        config_table_load(loader, key->table, absent ? NULL : node, field, path);
        return;
    case CONFIG_KIND_HOOK:
        key->hook->load(loader, absent ? NULL : node, object, path);
        return;
    case CONFIG_KIND_LIST:
    case CONFIG_KIND_MAP:
        if (!absent)
            config_items_load(loader, key, node, object, path);
        else if (key->default_text)
            config_items_default(loader, key, object, path);
        return;
    default:
        break;
    }
    config_scalar_default(loader, key, field, path);
    if (absent)
        return;
    if (node->type != YAML_SCALAR_NODE) {
        char found[64];
        config_node_describe(node, found, sizeof found);
        config_report(loader, CONFIG_SEVERITY_ERROR, node, path, "found %s; expected %s", found,
                      expected);
        config_date_forget(key, field);
        return;
    }
    char why[CONFIG_WHY_SIZE];
    const char *text = (const char *)node->data.scalar.value;
    size_t length = node->data.scalar.length;
    if (config_scalar_parse(loader, key, text, length, field, why, sizeof why) != 0) {
        char found[96];
        config_text_quote(text, length, found, sizeof found);
        config_report(loader, CONFIG_SEVERITY_ERROR, node, path, "%s %s", found, why);
        config_date_forget(key, field);
    }
}

/* A key as it may appear in a path: plain names as they are, anything else quoted. */
static void config_key_display(const char *text, size_t length, char *out, size_t out_size)
{
    bool plain = length > 0 && length <= 64;
    for (size_t i = 0; plain && i < length; i++)
        plain = isalnum((unsigned char)text[i]) || strchr("_-/:@+", text[i]) ||
                (unsigned char)text[i] >= 0x80;
    if (plain)
        snprintf(out, out_size, "%.*s", (int)length, text);
    else
        config_text_quote(text, length, out, out_size);
}

static void config_unknown_key_report(struct config_loader *loader,
                                      const struct config_table *table, const char *text,
                                      size_t length, const yaml_node_t *key_node,
                                      const char *parent_path)
{
    char shown[96], path[CONFIG_PATH_SIZE];
    config_key_display(text, length, shown, sizeof shown);
    config_path_child(path, sizeof path, parent_path, shown);
    if (table->explain_unknown &&
        table->explain_unknown(loader, text, length, key_node, parent_path))
        return;
    const char *names[CONFIG_TABLE_MAX_KEYS];
    char known[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < table->key_count; i++) {
        names[i] = table->keys[i].name;
        int printed =
            snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", table->keys[i].name);
        if (printed > 0 && (size_t)printed < sizeof known - used)
            used += (size_t)printed;
    }
    const char *nearest = suggest_nearest(text, length, names, table->key_count);
    if (nearest)
        config_report(loader, CONFIG_SEVERITY_ERROR, key_node, path,
                      "unknown key; did you mean \"%s\"?", nearest);
    else
        config_report(loader, CONFIG_SEVERITY_ERROR, key_node, path,
                      "unknown key; expected one of %s", known);
}

void config_table_load(struct config_loader *loader, const struct config_table *table,
                       yaml_node_t *node, void *object, const char *path)
{
    yaml_node_t *values[CONFIG_TABLE_MAX_KEYS] = {0};
    yaml_node_t *keys[CONFIG_TABLE_MAX_KEYS] = {0};
    if (table->key_count > CONFIG_TABLE_MAX_KEYS) { /* a table grew: raise the limit */
        config_report(loader, CONFIG_SEVERITY_ERROR, node, path,
                      "internal error: %zu keys exceed CONFIG_TABLE_MAX_KEYS", table->key_count);
        return;
    }
    if (node && !config_node_is_null(node) && node->type != YAML_MAPPING_NODE) {
        char found[64];
        config_node_describe(node, found, sizeof found);
        config_report(loader, CONFIG_SEVERITY_ERROR, node, path, "found %s; expected a mapping",
                      found);
        node = NULL;
    }
    if (node && node->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
            yaml_node_t *key_node = yaml_document_get_node(loader->document, pair->key);
            yaml_node_t *value_node = yaml_document_get_node(loader->document, pair->value);
            if (!key_node || key_node->type != YAML_SCALAR_NODE) {
                config_report(loader, CONFIG_SEVERITY_ERROR, key_node, path,
                              "a key must be a plain name, not a mapping or sequence");
                continue;
            }
            const char *text = (const char *)key_node->data.scalar.value;
            size_t length = key_node->data.scalar.length;
            size_t index = 0;
            while (index < table->key_count &&
                   !(strlen(table->keys[index].name) == length &&
                     memcmp(table->keys[index].name, text, length) == 0))
                index++;
            if (index == table->key_count) {
                config_unknown_key_report(loader, table, text, length, key_node, path);
                continue;
            }
            if (keys[index]) {
                char child[CONFIG_PATH_SIZE];
                config_path_child(child, sizeof child, path, table->keys[index].name);
                config_report(loader, CONFIG_SEVERITY_ERROR, key_node, child,
                              "duplicate key; the first is on line %zu",
                              keys[index]->start_mark.line + 1);
                continue;
            }
            keys[index] = key_node;
            values[index] = value_node;
        }
    }
    for (size_t i = 0; i < table->key_count; i++) {
        char child[CONFIG_PATH_SIZE];
        config_path_child(child, sizeof child, path, table->keys[i].name);
        config_value_load(loader, &table->keys[i], values[i], object, node, child);
    }
    if (table->validate)
        table->validate(loader, object, node, path);
}

/* Loads one item of a LIST or MAP: a scalar into keys[0], or a mapping by the table. */
static void config_item_load(struct config_loader *loader, const struct config_table *table,
                             yaml_node_t *node, void *item, const yaml_node_t *parent,
                             const char *path)
{
    if (table->scalar_items)
        config_value_load(loader, &table->keys[0], node, item, parent, path);
    else
        config_table_load(loader, table, node, item, path);
}

static void config_items_load(struct config_loader *loader, const struct config_key *key,
                              yaml_node_t *node, void *object, const char *path)
{
    const struct config_table *table = key->table;
    bool is_map = key->kind == CONFIG_KIND_MAP;
    yaml_node_type_t wanted = is_map ? YAML_MAPPING_NODE : YAML_SEQUENCE_NODE;
    if (node->type != wanted) {
        char found[64];
        config_node_describe(node, found, sizeof found);
        config_report(loader, CONFIG_SEVERITY_ERROR, node, path, "found %s; expected %s", found,
                      is_map ? "a mapping" : "a sequence");
        return;
    }
    size_t count = is_map
                       ? (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start)
                       : (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (key->max_items && count > key->max_items) {
        config_report(loader, CONFIG_SEVERITY_ERROR, node, path,
                      "has %zu entries; at most %zu are allowed", count, key->max_items);
        count = key->max_items;
    }
    if (count == 0)
        return;
    char *items = calloc(count, table->object_size);
    if (!items) {
        config_report_out_of_memory(loader);
        return;
    }
    size_t stored = 0;
    for (size_t i = 0; i < count; i++) {
        char child[CONFIG_PATH_SIZE];
        void *item = items + stored * table->object_size;
        if (!is_map) {
            config_path_index(child, sizeof child, path, i);
            yaml_node_t *value =
                yaml_document_get_node(loader->document, node->data.sequence.items.start[i]);
            config_item_load(loader, table, value, item, node, child);
            stored++;
            continue;
        }
        yaml_node_pair_t *pair = &node->data.mapping.pairs.start[i];
        yaml_node_t *name_node = yaml_document_get_node(loader->document, pair->key);
        yaml_node_t *value = yaml_document_get_node(loader->document, pair->value);
        if (!name_node || name_node->type != YAML_SCALAR_NODE) {
            config_report(loader, CONFIG_SEVERITY_ERROR, name_node, path,
                          "a key must be a plain name, not a mapping or sequence");
            continue;
        }
        const char *text = (const char *)name_node->data.scalar.value;
        size_t length = name_node->data.scalar.length;
        char shown[96], why[CONFIG_WHY_SIZE];
        config_key_display(text, length, shown, sizeof shown);
        config_path_child(child, sizeof child, path, shown);
        if (memchr(text, '\0', length) || length == 0 ||
            (key->check && key->check(text, &length, why, sizeof why) != 0)) {
            char found[96];
            config_text_quote(text, length, found, sizeof found);
            config_report(loader, CONFIG_SEVERITY_ERROR, name_node, child, "%s %s", found,
                          length == 0 ? "is empty; expected a name" : why);
            continue;
        }
        bool duplicate = false;
        for (size_t j = 0; j < stored && !duplicate; j++) {
            char *name;
            config_pointer_get(items + j * table->object_size + table->name_offset, (void **)&name);
            duplicate = name && strlen(name) == length && memcmp(name, text, length) == 0;
        }
        if (duplicate) {
            config_report(loader, CONFIG_SEVERITY_ERROR, name_node, child, "duplicate key");
            continue;
        }
        char *name = config_string_copy(text, length);
        if (!name) {
            config_report_out_of_memory(loader);
            break;
        }
        config_pointer_set(config_field(item, table->name_offset), name);
        config_item_load(loader, table, value, item, node, child);
        stored++;
    }
    if (stored == 0) {
        free(items);
        return;
    }
    config_pointer_set(config_field(object, key->offset), items);
    memcpy(config_field(object, key->count_offset), &stored, sizeof stored);
}

void config_items_free(const struct config_table *table, void *items, size_t count)
{
    if (!items)
        return;
    for (size_t i = 0; i < count; i++) {
        void *item = (char *)items + i * table->object_size;
        config_table_free(table, item);
    }
    free(items);
}

void config_table_free(const struct config_table *table, void *object)
{
    if (table->named) {
        void *name;
        config_pointer_get(config_field(object, table->name_offset), &name);
        free(name);
        config_pointer_set(config_field(object, table->name_offset), NULL);
    }
    for (size_t i = 0; i < table->key_count; i++) {
        const struct config_key *key = &table->keys[i];
        void *field = config_field(object, key->offset);
        void *pointer;
        switch (key->kind) {
        case CONFIG_KIND_STRING:
        case CONFIG_KIND_PATH:
            config_pointer_get(field, &pointer);
            free(pointer);
            config_pointer_set(field, NULL);
            break;
        case CONFIG_KIND_SCALAR:
            if (key->scalar_type->free)
                key->scalar_type->free(field);
            break;
        case CONFIG_KIND_SECTION:
            config_table_free(key->table, field);
            break;
        case CONFIG_KIND_LIST:
        case CONFIG_KIND_MAP: {
            size_t count;
            config_pointer_get(field, &pointer);
            memcpy(&count, config_field(object, key->count_offset), sizeof count);
            config_items_free(key->table, pointer, count);
            config_pointer_set(field, NULL);
            count = 0;
            memcpy(config_field(object, key->count_offset), &count, sizeof count);
            break;
        }
        case CONFIG_KIND_HOOK:
            key->hook->free(object);
            break;
        default:
            break;
        }
    }
}
