/* Sizes ("64MiB", "512KiB", "1GB", plain bytes) and durations ("10s", "500ms", "1h30m", plain
 * numbers in a unit the caller names): one parser and one printer for every key that takes them. */
#ifndef NEBENKOSTEN_CONFIG_UNITS_H
#define NEBENKOSTEN_CONFIG_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define UNITS_NANOSECOND INT64_C(1)
#define UNITS_MICROSECOND INT64_C(1000)
#define UNITS_MILLISECOND INT64_C(1000000)
#define UNITS_SECOND INT64_C(1000000000)

/* Parses a size: digits with an optional fraction, optional spaces, an optional unit (B, kB, KB,
 * MB, GB, TB as powers of 1000; KiB, MiB, GiB, TiB as powers of 1024; case-insensitive). The
 * result must be a whole number of bytes. text is borrowed and need not be NUL-terminated. Returns
 * 0, or -1 with the reason in why (to follow the quoted text, e.g. "is not a size ..."). */
int units_size_parse(const char *text, size_t length, uint64_t *bytes, char *why, size_t why_size);

/* Parses a duration: one or more <number><unit> parts (ns, us, µs, ms, s, m, h, d; "1h30m",
 * "1.5s"), or a plain number counted in plain_unit_ns. Never negative. Returns 0 and the total in
 * nanoseconds, or -1 with the reason in why. text is borrowed. */
int units_duration_parse(const char *text, size_t length, int64_t plain_unit_ns,
                         int64_t *nanoseconds, char *why, size_t why_size);

/* "64MiB", "1GB" or plain bytes: the largest unit that divides bytes exactly. out is borrowed. */
void units_size_format(uint64_t bytes, char *out, size_t out_size);

/* "1h", "90s", "500ms", "0s": the largest unit that divides nanoseconds exactly. out is borrowed.
 */
void units_duration_format(int64_t nanoseconds, char *out, size_t out_size);

/* The factor that converts from_unit into to_unit: the same unit, energy (Wh, kWh, MWh, GWh),
 * volume (m³ also written m3 or m^3, l) and gas volume to energy with kwh_per_cubic_metre
 * (<= 0: gas conversion not available). Returns 0, or -1 when they cannot be converted. */
int units_conversion_factor(const char *from_unit, const char *to_unit, double kwh_per_cubic_metre,
                            double *factor);

#endif
