/* Checks and custom scalar types of config values (inside the config module). Each check takes a
 * borrowed (text, *length) slice, may shorten *length to normalise (a trailing '/'), and returns 0
 * or -1 with the reason in why, worded to follow the quoted value. */
#ifndef NEBENKOSTEN_CONFIG_CONFIG_VALUES_H
#define NEBENKOSTEN_CONFIG_CONFIG_VALUES_H

#include <stddef.h>

#include "config/config_internal.h"

int config_url_check(const char *text, size_t *length, char *why, size_t why_size);
int config_base_path_check(const char *text, size_t *length, char *why, size_t why_size);
int config_name_check(const char *text, size_t *length, char *why, size_t why_size);
int config_secrets_name_check(const char *text, size_t *length, char *why, size_t why_size);
int config_meter_id_check(const char *text, size_t *length, char *why, size_t why_size);
int config_text_check(const char *text, size_t *length, char *why, size_t why_size);
int config_glob_check(const char *text, size_t *length, char *why, size_t why_size);
int config_route_check(const char *text, size_t *length, char *why, size_t why_size);
int config_timezone_check(const char *text, size_t *length, char *why, size_t why_size);

extern const struct config_scalar_type config_listen_type;   /* struct config_listen */
extern const struct config_scalar_type config_sync_type;     /* struct config_sync */
extern const struct config_scalar_type config_schedule_type; /* struct config_schedule */

#endif
