/* Error messages for the (char *error, size_t error_size) convention: a function that fails writes
 * what went wrong, for the user, into the caller's buffer. */
#ifndef NEBENKOSTEN_CONFIG_ERROR_H
#define NEBENKOSTEN_CONFIG_ERROR_H

#include <stddef.h>

/* printf into error (caller-owned, error_size bytes); does nothing when error is NULL or
 * error_size is 0. */
void error_message_set(char *error, size_t error_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif
