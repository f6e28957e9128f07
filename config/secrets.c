#include "config/secrets.h"
#include "config/error.h"
#include "config/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An env file holds a handful of tokens; anything bigger is not a secrets file. */
#define SECRETS_FILE_MAX_BYTES (1024 * 1024)

struct secrets_entry {
    char *key;
    char *value;
};

struct secrets_file {
    char *path;
    bool exists;
    struct secrets_entry *entries;
    size_t count;
    size_t capacity;
};

/* One line of the file, as a (pointer, length) slice. */
struct secrets_slice {
    const char *data;
    size_t length;
};

static bool secrets_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool secrets_is_key_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool secrets_is_key_char(char c)
{
    return secrets_is_key_start(c) || (c >= '0' && c <= '9');
}

static struct secrets_slice secrets_slice_trim(struct secrets_slice slice)
{
    while (slice.length > 0 && secrets_is_space(slice.data[0])) {
        slice.data++;
        slice.length--;
    }
    while (slice.length > 0 && secrets_is_space(slice.data[slice.length - 1]))
        slice.length--;
    return slice;
}

static char *secrets_slice_copy(struct secrets_slice slice)
{
    char *copy = malloc(slice.length + 1);
    if (!copy)
        return NULL;
    memcpy(copy, slice.data, slice.length);
    copy[slice.length] = '\0';
    return copy;
}

/* Copies a line into out for an error message. The line may be a secret pasted without a key (a
 * password, KEY and value without '=', a token whose '=' padding made it look like KEY=value), so
 * it is shown only masked like any other secret, whatever its length: "…" alone below 12
 * characters. An empty line has nothing to hide. out_size must be at least 28. */
static void secrets_line_describe(struct secrets_slice line, char *out, size_t out_size)
{
    if (line.length == 0) {
        out[0] = '\0';
        return;
    }
    char copy[64];
    size_t length = line.length < sizeof copy - 1 ? line.length : sizeof copy - 1;
    memcpy(copy, line.data, length);
    copy[length] = '\0';
    if (line.length >= 12) /* the last 3 characters of the whole line, not of the copy */
        memcpy(copy + length - 3, line.data + line.length - 3, 3);
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)copy[i] < 0x20 || copy[i] == '"') /* NUL too: length stays */
            copy[i] = '?';
    secrets_mask(copy, out, out_size);
    explicit_bzero(copy, sizeof copy);
}

static int secrets_entry_add(struct secrets_file *file, char *key, char *value)
{
    if (file->count == file->capacity) {
        size_t capacity = file->capacity ? file->capacity * 2 : 8;
        struct secrets_entry *entries = realloc(file->entries, capacity * sizeof *entries);
        if (!entries)
            return -1;
        file->entries = entries;
        file->capacity = capacity;
    }
    file->entries[file->count].key = key;
    file->entries[file->count].value = value;
    file->count++;
    return 0;
}

static const char *secrets_entry_find(const struct secrets_file *file, const char *key,
                                      size_t key_length)
{
    for (size_t i = 0; i < file->count; i++)
        if (strncmp(file->entries[i].key, key, key_length) == 0 &&
            file->entries[i].key[key_length] == '\0')
            return file->entries[i].value;
    return NULL;
}

/* Decodes a double-quoted value starting after the opening quote. \" and \\ are escapes; any other
 * backslash is kept as it is, so Windows-style paths survive. On success *value is owned by the
 * caller and *consumed is the number of bytes up to and including the closing quote. */
static int secrets_double_quoted_decode(struct secrets_slice text, char **value, size_t *consumed)
{
    char *out = malloc(text.length + 1);
    if (!out)
        return -1;
    size_t length = 0;
    for (size_t i = 0; i < text.length; i++) {
        char c = text.data[i];
        if (c == '"') {
            out[length] = '\0';
            *value = out;
            *consumed = i + 1;
            return 0;
        }
        if (c == '\\' && i + 1 < text.length &&
            (text.data[i + 1] == '"' || text.data[i + 1] == '\\')) {
            c = text.data[++i];
        }
        out[length++] = c;
    }
    free(out);
    return 1; /* unterminated */
}

/* Parses what follows the '=' of KEY=value: a bare value (trimmed, kept verbatim, so '#' may be
 * part of a password), or a single- or double-quoted value optionally followed by a # comment.
 * On success *value is owned by the caller. */
static int secrets_value_parse(const char *path, int line_number, const char *key,
                               struct secrets_slice raw, char **value, char *error,
                               size_t error_size)
{
    struct secrets_slice text = secrets_slice_trim(raw);
    if (text.length == 0 || (text.data[0] != '"' && text.data[0] != '\'')) {
        *value = secrets_slice_copy(text);
        if (!*value) {
            error_message_set(error, error_size, "%s: out of memory", path);
            return -1;
        }
        return 0;
    }
    char quote = text.data[0];
    struct secrets_slice inner = {text.data + 1, text.length - 1};
    size_t consumed = 0;
    if (quote == '"') {
        int status = secrets_double_quoted_decode(inner, value, &consumed);
        if (status < 0) {
            error_message_set(error, error_size, "%s: out of memory", path);
            return -1;
        }
        if (status > 0) {
            error_message_set(error, error_size,
                              "%s:%d: %s: expected a closing \" for the value, found end of line",
                              path, line_number, key);
            return -1;
        }
    } else {
        const char *end = memchr(inner.data, '\'', inner.length);
        if (!end) {
            error_message_set(error, error_size,
                              "%s:%d: %s: expected a closing ' for the value, found end of line",
                              path, line_number, key);
            return -1;
        }
        consumed = (size_t)(end - inner.data) + 1;
        *value = secrets_slice_copy((struct secrets_slice){inner.data, consumed - 1});
        if (!*value) {
            error_message_set(error, error_size, "%s: out of memory", path);
            return -1;
        }
    }
    /* After the closing quote only a comment may follow. */
    struct secrets_slice rest =
        secrets_slice_trim((struct secrets_slice){inner.data + consumed, inner.length - consumed});
    if (rest.length > 0 && rest.data[0] != '#') {
        free(*value);
        *value = NULL;
        error_message_set(error, error_size,
                          "%s:%d: %s: expected end of line or a # comment after the closing "
                          "quote, found more text",
                          path, line_number, key);
        return -1;
    }
    return 0;
}

static int secrets_line_parse(struct secrets_file *file, int line_number, struct secrets_slice line,
                              char *error, size_t error_size)
{
    const char *path = file->path;
    struct secrets_slice text = secrets_slice_trim(line);
    if (text.length == 0 || text.data[0] == '#')
        return 0;
    if (text.length > 7 && memcmp(text.data, "export", 6) == 0 && secrets_is_space(text.data[6]))
        text = secrets_slice_trim((struct secrets_slice){text.data + 7, text.length - 7});

    const char *equals = memchr(text.data, '=', text.length);
    if (!equals) {
        char found[64];
        secrets_line_describe(text, found, sizeof found);
        error_message_set(error, error_size, "%s:%d: expected KEY=value, found \"%s\"", path,
                          line_number, found);
        return -1;
    }
    struct secrets_slice key =
        secrets_slice_trim((struct secrets_slice){text.data, (size_t)(equals - text.data)});
    bool key_valid = key.length > 0 && secrets_is_key_start(key.data[0]);
    for (size_t i = 1; key_valid && i < key.length; i++)
        key_valid = secrets_is_key_char(key.data[i]);
    if (!key_valid) {
        char found[64];
        secrets_line_describe(key, found, sizeof found);
        error_message_set(error, error_size,
                          "%s:%d: expected KEY=value with KEY made of letters, digits and _ "
                          "(not starting with a digit), found key \"%s\"",
                          path, line_number, found);
        return -1;
    }
    char *key_copy = secrets_slice_copy(key);
    if (!key_copy) {
        error_message_set(error, error_size, "%s: out of memory", path);
        return -1;
    }
    if (secrets_entry_find(file, key.data, key.length)) {
        error_message_set(error, error_size,
                          "%s:%d: %s is set twice in this file; keep one of the lines", path,
                          line_number, key_copy);
        free(key_copy);
        return -1;
    }
    size_t after = (size_t)(equals - text.data) + 1;
    char *value = NULL;
    if (secrets_value_parse(path, line_number, key_copy,
                            (struct secrets_slice){text.data + after, text.length - after}, &value,
                            error, error_size) < 0) {
        free(key_copy);
        return -1;
    }
    if (secrets_entry_add(file, key_copy, value) < 0) {
        free(key_copy);
        free(value);
        error_message_set(error, error_size, "%s: out of memory", path);
        return -1;
    }
    return 0;
}

static int secrets_text_parse(struct secrets_file *file, const char *text, size_t length,
                              char *error, size_t error_size)
{
    size_t start = 0;
    int line_number = 1;
    /* A byte order mark, as Windows editors write at the start of UTF-8 files. */
    if (length >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        start = 3;
    while (start < length) {
        const char *newline = memchr(text + start, '\n', length - start);
        size_t end = newline ? (size_t)(newline - text) : length;
        if (secrets_line_parse(file, line_number, (struct secrets_slice){text + start, end - start},
                               error, error_size) < 0)
            return -1;
        start = end + 1;
        line_number++;
    }
    return 0;
}

/* Reads the whole of fd into an owned buffer. */
static int secrets_fd_read(int fd, const char *path, char **out, size_t *out_length, char *error,
                           size_t error_size)
{
    size_t capacity = 4096, length = 0;
    char *buffer = malloc(capacity);
    if (!buffer) {
        error_message_set(error, error_size, "%s: out of memory", path);
        return -1;
    }
    for (;;) {
        if (length == capacity) {
            if (capacity >= SECRETS_FILE_MAX_BYTES) {
                error_message_set(error, error_size,
                                  "%s: larger than %d bytes; expected a short KEY=value file", path,
                                  SECRETS_FILE_MAX_BYTES);
                free(buffer);
                return -1;
            }
            char *bigger = realloc(buffer, capacity * 2);
            if (!bigger) {
                error_message_set(error, error_size, "%s: out of memory", path);
                free(buffer);
                return -1;
            }
            buffer = bigger;
            capacity *= 2;
        }
        ssize_t got = read(fd, buffer + length, capacity - length);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            error_message_set(error, error_size, "%s: cannot read: %s", path, strerror(errno));
            free(buffer);
            return -1;
        }
        if (got == 0)
            break;
        length += (size_t)got;
    }
    *out = buffer;
    *out_length = length;
    return 0;
}

/* Opens path and checks, on the opened file itself, that nobody but the owner can read it. */
static int secrets_file_open_checked(const char *path, bool *missing, char *error,
                                     size_t error_size)
{
    *missing = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT) {
            *missing = true;
            return -1;
        }
        error_message_set(error, error_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat status;
    if (fstat(fd, &status) < 0) {
        error_message_set(error, error_size, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(status.st_mode)) {
        error_message_set(error, error_size, "%s: not a regular file; expected a KEY=value file",
                          path);
        close(fd);
        return -1;
    }
    if (status.st_mode & (S_IRWXG | S_IRWXO)) {
        error_message_set(error, error_size,
                          "%s: refused: mode %04o lets group or others access the secrets; run "
                          "`chmod 600 %s`",
                          path, (unsigned)(status.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    return fd;
}

int secrets_file_load(const char *path, bool required, struct secrets_file **out, char *error,
                      size_t error_size)
{
    int status = -1;
    int fd = -1;
    char *text = NULL;
    size_t length = 0;
    *out = NULL;
    struct secrets_file *file = calloc(1, sizeof *file);
    if (!file || !(file->path = strdup(path))) {
        error_message_set(error, error_size, "%s: out of memory", path);
        goto cleanup;
    }
    bool missing = false;
    fd = secrets_file_open_checked(path, &missing, error, error_size);
    if (fd < 0) {
        if (!missing)
            goto cleanup;
        if (required) {
            error_message_set(error, error_size,
                              "%s: not found; create it (see secrets/README.md) with mode 600",
                              path);
            goto cleanup;
        }
        *out = file;
        file = NULL;
        status = 0;
        goto cleanup;
    }
    file->exists = true;
    if (secrets_fd_read(fd, path, &text, &length, error, error_size) < 0)
        goto cleanup;
    int close_status = close(fd);
    fd = -1;
    if (close_status < 0) {
        error_message_set(error, error_size, "%s: cannot close: %s", path, strerror(errno));
        goto cleanup;
    }
    if (secrets_text_parse(file, text, length, error, error_size) < 0)
        goto cleanup;
    *out = file;
    file = NULL;
    status = 0;
cleanup:
    if (text) {
        /* The buffer held secrets; do not leave them in freed memory. */
        explicit_bzero(text, length);
        free(text);
    }
    if (fd >= 0)
        close(fd); /* only on a failure path, whose error is already reported */
    secrets_file_free(file);
    return status;
}

void secrets_file_free(struct secrets_file *file)
{
    if (!file)
        return;
    for (size_t i = 0; i < file->count; i++) {
        free(file->entries[i].key);
        explicit_bzero(file->entries[i].value, strlen(file->entries[i].value));
        free(file->entries[i].value);
    }
    free(file->entries);
    free(file->path);
    free(file);
}

const char *secrets_file_path(const struct secrets_file *file)
{
    return file ? file->path : NULL;
}

const char *secrets_file_get(const struct secrets_file *file, const char *key)
{
    const char *environment = getenv(key);
    if (environment && environment[0] != '\0')
        return environment;
    if (!file)
        return NULL;
    return secrets_entry_find(file, key, strlen(key));
}

const char *secrets_file_require(const struct secrets_file *file, const char *key, char *error,
                                 size_t error_size)
{
    const char *value = secrets_file_get(file, key);
    if (value && value[0] != '\0')
        return value;
    if (!file)
        error_message_set(error, error_size, "%s is not set: looked in the environment", key);
    else if (!file->exists)
        error_message_set(error, error_size,
                          "%s is not set: looked in the environment and in %s (file not found)",
                          key, file->path);
    else
        error_message_set(error, error_size,
                          "%s is not set: looked in the environment and in %s; add a line %s=...",
                          key, file->path, key);
    return NULL;
}

/* The bytes of the character at text: a valid UTF-8 sequence, else the one byte (shown as '?'). */
static size_t secrets_character_length(const char *text, const char *end)
{
    if ((unsigned char)text[0] < 0x80)
        return 1;
    size_t length = utf8_sequence_length(text, end);
    return length ? length : 1;
}

char *secrets_mask(const char *secret, char *out, size_t out_size)
{
    static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026 */
    if (!out || out_size == 0)
        return out;
    /* Characters, not bytes: a cut UTF-8 sequence (a password with umlauts) is no text, and the
     * YAML printer of check-config refused it. */
    const char *end = secret ? secret + strlen(secret) : secret;
    size_t characters = 0;
    for (const char *p = secret; p < end; p += secrets_character_length(p, end))
        characters++;
    if (characters < 12) {
        snprintf(out, out_size, "%s", ellipsis);
        return out;
    }
    char shown[3 * 4 + sizeof ellipsis + 3 * 4];
    size_t used = 0;
    size_t index = 0;
    for (const char *p = secret; p < end; index++) {
        size_t length = secrets_character_length(p, end);
        if (index == characters - 3) {
            memcpy(shown + used, ellipsis, sizeof ellipsis - 1);
            used += sizeof ellipsis - 1;
        }
        if (index < 3 || index >= characters - 3) {
            if (length == 1 && (unsigned char)p[0] >= 0x80) {
                shown[used++] = '?';
            } else {
                memcpy(shown + used, p, length);
                used += length;
            }
        }
        p += length;
    }
    shown[used] = '\0';
    snprintf(out, out_size, "%s", shown);
    explicit_bzero(shown, sizeof shown);
    return out;
}
