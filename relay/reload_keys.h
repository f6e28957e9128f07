/* The settings a SIGHUP reload cannot apply: the listen address, the spool, the upstreams, the
 * stream processor's settings and the logger's are copied at start, so a change to them in the
 * file waits for the next restart. The relay logs each such key at a reload. */
#ifndef NEBENKOSTEN_RELAY_RELOAD_KEYS_H
#define NEBENKOSTEN_RELAY_RELOAD_KEYS_H

#include <stddef.h>

#include "config/config.h"

#define RELOAD_KEYS_MAX 24

/* Fills keys with the dotted names ("relay.upstreams", "stream.limits", ...) of the start-only
 * settings that differ between running (what the relay started with) and fresh (the file just
 * loaded), in a fixed order; the names are static strings. Both configurations are borrowed.
 * The stream's rules, limits and patterns count only while the stream runs. Returns how many. */
size_t reload_keys_changed(const struct config *running, const struct config *fresh,
                           const char *keys[RELOAD_KEYS_MAX]);

#endif
