/* config_print: the effective configuration as YAML documents (config.yaml, meters.yaml,
 * seasonal_patterns.yaml and the masked secrets), through libyaml's emitter. */
#include <stdio.h>

#include "config/config_internal.h"

static int config_document_start(yaml_emitter_t *emitter, bool implicit)
{
    yaml_event_t event;
    if (!yaml_document_start_event_initialize(&event, NULL, NULL, NULL, implicit))
        return -1;
    return yaml_emitter_emit(emitter, &event) ? 0 : -1;
}

static int config_document_end(yaml_emitter_t *emitter)
{
    yaml_event_t event;
    if (!yaml_document_end_event_initialize(&event, 1))
        return -1;
    return yaml_emitter_emit(emitter, &event) ? 0 : -1;
}

static int config_documents_emit(yaml_emitter_t *emitter, const struct config *config)
{
    yaml_event_t event;
    if (!yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING) ||
        !yaml_emitter_emit(emitter, &event))
        return -1;
    if (config_document_start(emitter, true) != 0 ||
        config_table_emit(emitter, &config_root_table, config) != 0 ||
        config_document_end(emitter) != 0)
        return -1;
    if (config_document_start(emitter, false) != 0 || config_meters_emit(emitter, config) != 0 ||
        config_document_end(emitter) != 0)
        return -1;
    if (config_document_start(emitter, false) != 0 || config_patterns_emit(emitter, config) != 0 ||
        config_document_end(emitter) != 0)
        return -1;
    if (config_secrets_present(config) &&
        (config_document_start(emitter, false) != 0 || config_secrets_emit(emitter, config) != 0 ||
         config_document_end(emitter) != 0))
        return -1;
    if (!yaml_stream_end_event_initialize(&event) || !yaml_emitter_emit(emitter, &event))
        return -1;
    return yaml_emitter_flush(emitter) ? 0 : -1;
}

int config_print(const struct config *config, FILE *out)
{
    yaml_emitter_t emitter;
    if (!yaml_emitter_initialize(&emitter))
        return -1;
    yaml_emitter_set_output_file(&emitter, out);
    yaml_emitter_set_unicode(&emitter, 1);
    yaml_emitter_set_width(&emitter, 100);
    yaml_emitter_set_indent(&emitter, 2);
    int status = config_documents_emit(&emitter, config);
    yaml_emitter_delete(&emitter);
    if (fflush(out) != 0 || ferror(out))
        status = -1;
    return status;
}
