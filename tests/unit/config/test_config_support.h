/* Helpers for the config unit tests: load YAML text from memory and look for exact messages. */
#ifndef NEBENKOSTEN_TEST_CONFIG_SUPPORT_H
#define NEBENKOSTEN_TEST_CONFIG_SUPPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

/* Loads config.yaml text (and meters/patterns text when not NULL) without touching files or
 * secrets. Returns config_load_buffer's status; *out and *diagnostics are the caller's. */
static inline int test_config_load(const char *config_yaml, const char *meters_yaml,
                                   const char *patterns_yaml, struct config **out,
                                   struct config_diagnostics *diagnostics)
{
    struct config_text meters = {"meters.yaml", meters_yaml, meters_yaml ? strlen(meters_yaml) : 0};
    struct config_text patterns = {"seasonal_patterns.yaml", patterns_yaml,
                                   patterns_yaml ? strlen(patterns_yaml) : 0};
    struct config_load_options options = {
        .read_files = false,
        .meters = meters_yaml ? &meters : NULL,
        .patterns = patterns_yaml ? &patterns : NULL,
    };
    return config_load_buffer("config.yaml", config_yaml, strlen(config_yaml), &options, out,
                              diagnostics);
}

static inline bool test_messages_contain(char **messages, size_t count, const char *message)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(messages[i], message) == 0)
            return true;
    return false;
}

/* All messages joined by newlines, for assertion output. Owned by the caller. */
static inline char *test_messages_join(char **messages, size_t count)
{
    size_t length = 1;
    for (size_t i = 0; i < count; i++)
        length += strlen(messages[i]) + 1;
    char *joined = calloc(1, length);
    for (size_t i = 0; joined && i < count; i++) {
        strcat(joined, messages[i]);
        strcat(joined, "\n");
    }
    return joined;
}

/* Asserts that loading config/meters/patterns text fails with exactly the one error expected. */
#define TEST_EXPECT_ONLY_ERROR(config_yaml, meters_yaml, patterns_yaml, expected)                  \
    do {                                                                                           \
        struct config *loaded_ = NULL;                                                             \
        struct config_diagnostics diagnostics_ = {0};                                              \
        int status_ = test_config_load((config_yaml), (meters_yaml), (patterns_yaml), &loaded_,    \
                                       &diagnostics_);                                             \
        char *joined_ = test_messages_join(diagnostics_.errors, diagnostics_.error_count);         \
        cr_expect_eq(status_, -1, "loading should fail");                                          \
        cr_expect_null(loaded_);                                                                   \
        cr_expect_eq(diagnostics_.error_count, 1, "expected one error, got:\n%s", joined_);        \
        cr_expect(diagnostics_.error_count >= 1 &&                                                 \
                      strcmp(diagnostics_.errors[0], (expected)) == 0,                             \
                  "expected:\n%s\ngot:\n%s", (expected), joined_);                                 \
        free(joined_);                                                                             \
        config_free(loaded_);                                                                      \
        config_diagnostics_free(&diagnostics_);                                                    \
    } while (0)

#endif
