/* Secrets live in env files (secrets/<name>.env), apart from configuration. The process
 * environment overrides a file. Secrets are shown only masked.
 *
 * Syntax, one per line: KEY=value, with blank lines, `# comment` lines, an optional `export `
 * prefix and whitespace around KEY and value ignored. KEY is letters, digits and _. A bare value
 * is kept verbatim (a '#' in it is part of the value). 'single quotes' keep everything literally;
 * "double quotes" understand \" and \\. A quoted value may be followed by a # comment. A key
 * set twice is an error. */
#ifndef NEBENKOSTEN_CONFIG_SECRETS_H
#define NEBENKOSTEN_CONFIG_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

struct secrets_file; /* the variables of one env file */

/* Reads path (borrowed). A missing file gives an empty set (0) unless required, then -1. A file
 * with any permission bit for group or others is refused (-1) with a message that names the file
 * and the `chmod 600 <file>` that fixes it; a malformed line is refused with file:line and what was
 * expected. On success *out is owned by the caller (free with secrets_file_free). */
int secrets_file_load(const char *path, bool required, struct secrets_file **out, char *error,
                      size_t error_size);
/* Frees file (owned; NULL is fine), wiping the values from memory first. */
void secrets_file_free(struct secrets_file *file);
/* The path the set was (or would have been) read from; borrowed. */
const char *secrets_file_path(const struct secrets_file *file);

/* The value of key: the process environment first (when set and not empty, so an empty
 * variable from a compose file does not hide the file), then the file. NULL when neither has it.
 * file may be NULL (environment only). Borrowed: valid until the file is freed or the
 * environment changes. */
const char *secrets_file_get(const struct secrets_file *file, const char *key);

/* Like secrets_file_get, but a missing or empty value is an error that names the variable, the
 * file and the environment: returns NULL and fills error. */
const char *secrets_file_require(const struct secrets_file *file, const char *key, char *error,
                                 size_t error_size);

/* Writes a masked form of secret (borrowed; NULL counts as empty) into out ("tok…f3a": first 3
 * and last 3 characters for secrets of 12 characters or more, "…" alone for shorter ones; the
 * "…" is U+2026, 3 bytes of UTF-8). Characters are UTF-8 sequences; a byte that is no UTF-8
 * counts as one and shows as '?'. 28 bytes of out always suffice. Returns out. */
char *secrets_mask(const char *secret, char *out, size_t out_size);

#endif
