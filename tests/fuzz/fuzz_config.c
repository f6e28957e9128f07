/* libFuzzer target for the configuration loader: the input is config.yaml text, optionally
 * followed by meters.yaml and seasonal_patterns.yaml text, each after a line "#===". Nothing is
 * read from disk but time zone files; a configuration that loads is also printed. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

#define FUZZ_SEPARATOR "\n#===\n"

/* The part of data before the next separator; advances *rest past it. */
static struct config_text fuzz_part_take(const char *file_name, const char **rest, const char *end)
{
    const size_t separator_length = sizeof FUZZ_SEPARATOR - 1;
    const char *start = *rest;
    const char *found = memmem(start, (size_t)(end - start), FUZZ_SEPARATOR, separator_length);
    const char *stop = found ? found : end;
    *rest = found ? found + separator_length : end;
    return (struct config_text){file_name, start, (size_t)(stop - start)};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *rest = (const char *)data;
    const char *end = rest + size;
    struct config_text config_text = fuzz_part_take("config.yaml", &rest, end);
    bool has_meters = rest < end;
    struct config_text meters = fuzz_part_take("meters.yaml", &rest, end);
    bool has_patterns = rest < end;
    struct config_text patterns = fuzz_part_take("seasonal_patterns.yaml", &rest, end);
    struct config_load_options options = {
        .read_files = false,
        .meters = has_meters ? &meters : NULL,
        .patterns = has_patterns ? &patterns : NULL,
    };
    struct config *config = NULL;
    struct config_diagnostics diagnostics = {0};
    if (config_load_buffer("fuzz/config.yaml", config_text.data, config_text.length, &options,
                           &config, &diagnostics) == 0) {
        FILE *sink = fopen("/dev/null", "w");
        if (sink) {
            config_print(config, sink);
            fclose(sink);
        }
    }
    config_free(config);
    config_diagnostics_free(&diagnostics);
    return 0;
}
