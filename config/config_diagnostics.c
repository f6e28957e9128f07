/* Errors, warnings and notes of loading, each "file:line:col: key: what was found and what is
 * allowed". */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

void config_diagnostics_add(struct config_diagnostics *diagnostics, enum config_severity severity,
                            char *message)
{
    char ***list = &diagnostics->errors;
    size_t *count = &diagnostics->error_count;
    if (severity == CONFIG_SEVERITY_WARNING) {
        list = &diagnostics->warnings;
        count = &diagnostics->warning_count;
    } else if (severity == CONFIG_SEVERITY_NOTE) {
        list = &diagnostics->notes;
        count = &diagnostics->note_count;
    }
    if (!message) {
        diagnostics->out_of_memory = true;
        return;
    }
    char **grown = realloc(*list, (*count + 1) * sizeof *grown);
    if (!grown) {
        free(message);
        diagnostics->out_of_memory = true;
        return;
    }
    grown[*count] = message;
    *list = grown;
    (*count)++;
}

static void config_message_list_free(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

void config_diagnostics_free(struct config_diagnostics *diagnostics)
{
    if (!diagnostics)
        return;
    config_message_list_free(diagnostics->errors, diagnostics->error_count);
    config_message_list_free(diagnostics->warnings, diagnostics->warning_count);
    config_message_list_free(diagnostics->notes, diagnostics->note_count);
    memset(diagnostics, 0, sizeof *diagnostics);
}

static void config_report_va(struct config_loader *loader, enum config_severity severity,
                             const yaml_node_t *node, const char *path, const char *format,
                             va_list arguments) __attribute__((format(printf, 5, 0)));

static void config_report_va(struct config_loader *loader, enum config_severity severity,
                             const yaml_node_t *node, const char *path, const char *format,
                             va_list arguments)
{
    char text[1024];
    vsnprintf(text, sizeof text, format, arguments);
    char location[512];
    if (node)
        snprintf(location, sizeof location, "%s:%zu:%zu", loader->file_name,
                 node->start_mark.line + 1, node->start_mark.column + 1);
    else
        snprintf(location, sizeof location, "%s", loader->file_name);
    char *message = NULL;
    int status;
    if (path && path[0])
        status = asprintf(&message, "%s: %s: %s", location, path, text);
    else
        status = asprintf(&message, "%s: %s", location, text);
    config_diagnostics_add(loader->diagnostics, severity, status < 0 ? NULL : message);
}

void config_report(struct config_loader *loader, enum config_severity severity,
                   const yaml_node_t *node, const char *path, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    config_report_va(loader, severity, node, path, format, arguments);
    va_end(arguments);
}

void config_report_path(struct config_loader *loader, enum config_severity severity,
                        const char *path, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    config_report_va(loader, severity, config_node_find(loader, path), path, format, arguments);
    va_end(arguments);
}

void config_report_out_of_memory(struct config_loader *loader)
{
    if (loader->diagnostics->out_of_memory)
        return;
    loader->diagnostics->out_of_memory = true;
    char *message = NULL;
    if (asprintf(&message, "%s: out of memory while loading", loader->file_name) < 0)
        return;
    /* The flag stays set, so this message is the only one about memory. */
    config_diagnostics_add(loader->diagnostics, CONFIG_SEVERITY_ERROR, message);
}

/* Where the user:password@ of a URL in text lies ([*start, *end) without the '@'), or false.
 * The last '@' anywhere after "://" counts, not only one before the first '/', '?' or '#': a
 * pasted password holds those too (http://admin:s3/cr#t@db:8086), and a message must hide it
 * even then; an InfluxDB URL has no '@' in its path that hiding would cost. */
static bool config_text_userinfo(const char *text, size_t length, size_t *start, size_t *end)
{
    const char *scheme = length > 3 ? memmem(text, length, "://", 3) : NULL;
    if (!scheme)
        return false;
    *start = (size_t)(scheme - text) + 3;
    const char *at = memrchr(text + *start, '@', length - *start);
    if (!at || at == text + *start) /* "http://@host": nothing to hide */
        return false;
    *end = (size_t)(at - text);
    return true;
}

void config_text_quote(const char *text, size_t length, char *out, size_t out_size)
{
    const size_t shown = 60;
    size_t used = 0;
    /* A URL's password never shows in a message (spec/config.md: secrets only masked). */
    size_t hidden_start = SIZE_MAX, hidden_end = SIZE_MAX;
    if (!config_text_userinfo(text, length, &hidden_start, &hidden_end))
        hidden_start = SIZE_MAX;
    if (out_size < 8) {
        if (out_size)
            out[0] = '\0';
        return;
    }
    out[used++] = '"';
    for (size_t i = 0; i < length && i < shown; i++) {
        unsigned char c = (unsigned char)text[i];
        char piece[8];
        if (i == hidden_start) {
            snprintf(piece, sizeof piece, "\xe2\x80\xa6"); /* U+2026 */
            i = hidden_end - 1;
        } else if (c == '"' || c == '\\')
            snprintf(piece, sizeof piece, "\\%c", c);
        else if (c == '\n')
            snprintf(piece, sizeof piece, "\\n");
        else if (c == '\t')
            snprintf(piece, sizeof piece, "\\t");
        else if (c < 0x20 || c == 0x7f)
            snprintf(piece, sizeof piece, "\\x%02x", c);
        else
            snprintf(piece, sizeof piece, "%c", c);
        size_t piece_length = strlen(piece);
        if (used + piece_length + 6 >= out_size)
            break;
        memcpy(out + used, piece, piece_length);
        used += piece_length;
    }
    out[used++] = '"';
    if (length > shown && used + 4 < out_size) {
        memcpy(out + used, "...", 3);
        used += 3;
    }
    out[used] = '\0';
}
