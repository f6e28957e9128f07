/* Secrets live in env files (secrets/<name>.env: KEY=value lines, # comments, optional quotes),
 * apart from configuration. The process environment overrides a file. Secrets are shown only
 * masked. */
#ifndef NEBENKOSTEN_CONFIG_SECRETS_H
#define NEBENKOSTEN_CONFIG_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

struct secrets_file; /* the variables of one env file */

/* Reads path. A missing file gives an empty set (0) unless required, then -1. A file readable or
 * writable by group or others is refused (-1) with a message that names the file and the
 * `chmod 600 <file>` that fixes it; a malformed line is refused with file:line and what was
 * expected. On success *out is owned by the caller (free with secrets_file_free). */
int secrets_file_load(const char *path, bool required, struct secrets_file **out, char *error,
                      size_t error_size);
void secrets_file_free(struct secrets_file *file);
/* The path the set was (or would have been) read from; borrowed. */
const char *secrets_file_path(const struct secrets_file *file);

/* The value of key: the process environment first, then the file. NULL when neither has it.
 * Borrowed: valid until the file is freed or the environment changes. */
const char *secrets_file_get(const struct secrets_file *file, const char *key);

/* Like secrets_file_get, but a missing key is an error that names the variable, the file and the
 * environment: returns NULL and fills error. */
const char *secrets_file_require(const struct secrets_file *file, const char *key, char *error,
                                 size_t error_size);

/* Writes a masked form of secret into out ("tok…f3a": first 3 and last 3 characters for secrets
 * of 12 characters or more, "…" alone for shorter ones). Returns out. */
char *secrets_mask(const char *secret, char *out, size_t out_size);

#endif
