/* Inside the config module: the table-driven schema shared by config.yaml, meters.yaml and
 * seasonal_patterns.yaml. One table per section lists its keys (name, kind, default, limits,
 * validator, offset in the struct); loading, unknown-key detection, defaults, validation,
 * printing and freeing all walk the same tables. */
#ifndef NEBENKOSTEN_CONFIG_CONFIG_INTERNAL_H
#define NEBENKOSTEN_CONFIG_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "config/config.h"

#define CONFIG_PATH_SIZE 256     /* dotted key paths in messages */
#define CONFIG_WHY_SIZE 256      /* reasons a value was refused */
#define CONFIG_TABLE_MAX_KEYS 24 /* keys of the largest table */
#define CONFIG_FILE_MAX_BYTES (16u << 20)
/* Custom scalars (schedules, listen hosts) up to this length are printed whole. */
#define CONFIG_SCALAR_TEXT_MAX 512

enum config_severity { CONFIG_SEVERITY_ERROR, CONFIG_SEVERITY_WARNING, CONFIG_SEVERITY_NOTE };

/* One file being read. */
struct config_loader {
    const char *file_name;                  /* shown in messages; borrowed */
    const char *directory;                  /* absolute base of relative paths; borrowed */
    yaml_document_t *document;              /* borrowed; NULL before parsing */
    struct config_diagnostics *diagnostics; /* borrowed */
};

/* Appends message (transferred) to the list of severity. */
void config_diagnostics_add(struct config_diagnostics *diagnostics, enum config_severity severity,
                            char *message);
/* Reports "file:line:col: path: <format>" with the position of node (borrowed; NULL: no
 * position). */
void config_report(struct config_loader *loader, enum config_severity severity,
                   const yaml_node_t *node, const char *path, const char *format, ...)
    __attribute__((format(printf, 5, 6)));
/* Like config_report at the node path names (or its nearest ancestor present in the document). */
void config_report_path(struct config_loader *loader, enum config_severity severity,
                        const char *path, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
void config_report_out_of_memory(struct config_loader *loader);

/* "\"text\"" with control characters escaped and long text cut; out is borrowed. */
void config_text_quote(const char *text, size_t length, char *out, size_t out_size);
/* What a node is, for "found ..." messages: its quoted text, "a mapping" or "a sequence". */
void config_node_describe(const yaml_node_t *node, char *out, size_t out_size);
bool config_node_is_null(const yaml_node_t *node);
/* The value of key in a mapping node, or NULL. Borrowed from the loader's document. */
yaml_node_t *config_node_value(const struct config_loader *loader, const yaml_node_t *mapping,
                               const char *key);
/* The node at a dotted path ("relay.upstreams[0].url"), or the nearest ancestor present, or NULL.
 */
yaml_node_t *config_node_find(const struct config_loader *loader, const char *path);
/* Formats a child path: "parent.key", or "key" when parent is empty. out is borrowed. */
void config_path_child(char *out, size_t out_size, const char *parent, const char *key);
void config_path_index(char *out, size_t out_size, const char *parent, size_t index);

/* Owned copies; NULL when out of memory. */
char *config_string_copy(const char *text, size_t length);
/* directory joined with text (unless text is absolute), "." and ".." resolved lexically. Owned. */
char *config_path_resolve(const char *directory, const char *text, size_t length);

/* ---- the schema ---- */

enum config_kind {
    CONFIG_KIND_STRING,   /* char *; optional check() */
    CONFIG_KIND_PATH,     /* char *, resolved against the loader's directory */
    CONFIG_KIND_BOOL,     /* bool */
    CONFIG_KIND_INTEGER,  /* int in [integer_minimum, integer_maximum] */
    CONFIG_KIND_NUMBER,   /* double in [number_minimum, number_maximum] */
    CONFIG_KIND_SIZE,     /* uint64_t bytes in [size_minimum, size_maximum] */
    CONFIG_KIND_DURATION, /* int64_t in storage_unit_ns; integer_minimum/maximum in that unit */
    CONFIG_KIND_CHOICE,   /* an enum (int-sized) from choices */
    CONFIG_KIND_DATE,     /* int64_t days since 1970-01-01, "YYYY-MM-DD" */
    CONFIG_KIND_SCALAR,   /* a custom scalar: scalar_type */
    CONFIG_KIND_SECTION,  /* an embedded struct described by table */
    CONFIG_KIND_LIST,     /* a sequence: items (table) at offset, size_t count at count_offset */
    CONFIG_KIND_MAP,      /* a mapping of name -> item: like LIST, the name in the item */
    CONFIG_KIND_HOOK,     /* loaded, printed and freed by hook */
};

#define CONFIG_KEY_REQUIRED 0x1u /* absent is an error */
#define CONFIG_KEY_NONEMPTY 0x2u /* strings: "" is an error */
#define CONFIG_KEY_POSITIVE 0x4u /* numbers: > number_minimum instead of >= */
#define CONFIG_KEY_QUOTED 0x8u   /* printed quoted */

struct config_choice {
    const char *name;
    int value;
};

struct config_scalar_type {
    const char *expected; /* "a cron expression such as \"0 2 * * *\"" */
    /* Parses text (borrowed) into field; -1 with the reason in why. */
    int (*parse)(const char *text, size_t length, void *field, char *why, size_t why_size);
    void (*format)(const void *field, char *out, size_t out_size);
    void (*free)(void *field);
};

/* A key whose value needs code of its own; each function receives the whole object. */
struct config_hook {
    void (*load)(struct config_loader *loader, yaml_node_t *node, void *object, const char *path);
    int (*emit)(yaml_emitter_t *emitter, const void *object);
    void (*free)(void *object);
};

struct config_table;

struct config_key {
    const char *name;
    enum config_kind kind;
    size_t offset;
    /* In config syntax ("32MiB", "always"; YAML text for LIST and MAP). NULL: unset. */
    const char *default_text;
    unsigned flags;
    int64_t integer_minimum, integer_maximum;
    double number_minimum, number_maximum;
    uint64_t size_minimum, size_maximum;
    int64_t plain_unit_ns, storage_unit_ns;
    const struct config_choice *choices; /* terminated by {NULL, 0} */
    const char *choices_text;            /* "always, interval:<ms>, none" */
    /* STRING values and MAP names: -1 with the reason in why; may shorten *length. */
    int (*check)(const char *text, size_t *length, char *why, size_t why_size);
    const struct config_scalar_type *scalar_type;
    const struct config_table *table; /* SECTION, LIST and MAP items */
    size_t count_offset;              /* LIST, MAP */
    size_t max_items;                 /* LIST, MAP; 0 = no limit */
    const struct config_hook *hook;
};

struct config_table {
    const struct config_key *keys;
    size_t key_count;
    size_t object_size;
    /* LIST/MAP items whose YAML is a scalar (not a mapping): keys[0] holds it. */
    bool scalar_items;
    bool named;         /* MAP items: the mapping key is stored in the item ... */
    size_t name_offset; /* ... as a char * at this offset */
    /* Checks across the keys of one object, after they were loaded. node may be NULL. */
    void (*validate)(struct config_loader *loader, void *object, const yaml_node_t *node,
                     const char *path);
    /* Unknown keys: returns true when it reported the key itself (e.g. "only for master meters").
     */
    bool (*explain_unknown)(struct config_loader *loader, const char *key, size_t key_length,
                            const yaml_node_t *key_node, const char *path);
};

#define CONFIG_TABLE(keys_, type_)                                                                 \
    .keys = (keys_), .key_count = sizeof(keys_) / sizeof((keys_)[0]), .object_size = sizeof(type_)

/* What key takes, for "expected ..." in messages ("a size such as 64MiB"). out is borrowed. */
void config_key_expected(const struct config_key *key, char *out, size_t out_size);
/* Parses the scalar text (borrowed) of a scalar key into field. Returns 0, or -1 with the reason
 * in why, worded to follow the quoted text ("is not one of always, interval:<ms>, none"). */
int config_scalar_parse(struct config_loader *loader, const struct config_key *key,
                        const char *text, size_t length, void *field, char *why, size_t why_size);

/* Loads node (NULL or null: absent, every key gets its default) into object per table. */
void config_table_load(struct config_loader *loader, const struct config_table *table,
                       yaml_node_t *node, void *object, const char *path);
/* Frees what table's keys own inside object (not object itself). */
void config_table_free(const struct config_table *table, void *object);
/* Emits object as a mapping. Returns 0 or -1 (emitter error). */
int config_table_emit(yaml_emitter_t *emitter, const struct config_table *table,
                      const void *object);
/* Frees a LIST/MAP array of count items of table. */
void config_items_free(const struct config_table *table, void *items, size_t count);

/* Emitting: plain when it reads back as the same string, quoted otherwise. */
int config_emit_string(yaml_emitter_t *emitter, const char *text, bool force_quotes);
int config_emit_plain(yaml_emitter_t *emitter, const char *text);
int config_emit_mapping_start(yaml_emitter_t *emitter, bool flow);
int config_emit_mapping_end(yaml_emitter_t *emitter);
int config_emit_sequence_start(yaml_emitter_t *emitter, bool flow);
int config_emit_sequence_end(yaml_emitter_t *emitter);
void config_number_format(double value, char *out, size_t out_size);
void config_date_format(int64_t days, char *out, size_t out_size);

/* Parses text as a YAML document into *document (owned by the caller when 0 is returned); a
 * syntax error is reported with its position and -1 returned. */
int config_yaml_parse(struct config_loader *loader, const char *data, size_t length,
                      yaml_document_t *document);

/* ---- the sections ---- */

extern const struct config_table config_root_table;
extern const struct config_table config_upstream_table;
extern const struct config_table config_reading_rule_table;
extern const struct config_table config_limits_table;
extern const struct config_table config_meters_file_table;
extern const struct config_table config_patterns_file_table;

/* meters.yaml and seasonal_patterns.yaml, loaded into config (which owns the results). */
void config_meters_load(struct config_loader *loader, yaml_node_t *root, struct config *config);
void config_patterns_load(struct config_loader *loader, yaml_node_t *root, struct config *config);
/* Cross-checks of meters (references, cycles, units) and patterns against meters. */
void config_meters_check(struct config_loader *loader, const struct config *config);
void config_patterns_check(struct config_loader *loader, const struct config *config);
void config_meters_free(struct config_meter *meters, size_t count);
void config_patterns_free(struct config_pattern *patterns, size_t count);
int config_meters_emit(yaml_emitter_t *emitter, const struct config *config);
int config_patterns_emit(yaml_emitter_t *emitter, const struct config *config);

/* Reads the secrets files of the enabled features into config (relay auth, upstream and influxdb
 * credentials, the Tibber token). Problems are reported through loader (the config.yaml one). */
void config_secrets_resolve(struct config_loader *loader, struct config *config);
void config_secrets_free(struct config *config);
int config_secrets_emit(yaml_emitter_t *emitter, const struct config *config);
bool config_secrets_present(const struct config *config);

/* Completes config.yaml after loading (the default upstream, query_upstream) and checks across
 * its sections. */
void config_sections_complete(struct config_loader *loader, struct config *config);
/* Warnings for stream.limits entries of meters that meters.yaml does not define. */
void config_limits_check(struct config_loader *loader, const struct config *config);

#endif
