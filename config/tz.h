/* Named time zones from the system's TZif files (/usr/share/zoneinfo, or $TZDIR), without touching
 * the process-wide TZ variable, so several zones can be used side by side. */
#ifndef NEBENKOSTEN_CONFIG_TZ_H
#define NEBENKOSTEN_CONFIG_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz_zone;

/* Loads "UTC", "Etc/UTC", "Europe/Berlin", ... from $TZDIR (default /usr/share/zoneinfo): TZif
 * version 1 to 3, fat or slim, with the POSIX TZ footer for instants after the last transition.
 * "UTC" and "Etc/UTC" are built in. Names that are absolute or contain ".." are refused. name is
 * borrowed (copied). Returns an owned zone (free with tz_zone_free), or NULL with a message in
 * error (names the zone and the file that was tried). */
struct tz_zone *tz_zone_load(const char *name, char *error, size_t error_size);
/* Frees zone (owned; NULL is fine). */
void tz_zone_free(struct tz_zone *zone);
/* The zone's name as given to tz_zone_load; borrowed from the zone. */
const char *tz_zone_name(const struct tz_zone *zone);

/* Offset from UTC in seconds (local = utc + offset) in force at the UTC instant utc_seconds.
 * Here and below, zone is borrowed and NULL means UTC. */
int32_t tz_zone_offset_at(const struct tz_zone *zone, int64_t utc_seconds);

/* Broken-down local date and time of an instant. */
struct tz_local_time {
    int year, month, day; /* month 1-12, day 1-31 */
    int hour, minute, second;
    int weekday; /* 0 = Sunday */
    int32_t utc_offset_seconds;
};
void tz_zone_local_time(const struct tz_zone *zone, int64_t utc_seconds, struct tz_local_time *out);

/* The UTC instant of a local wall-clock time. A time that occurs twice (the repeated hour when
 * clocks go back) gives the first occurrence; a time that does not exist (skipped when clocks go
 * forward) gives the instant the gap ends, i.e. the first valid local time after it. */
int64_t tz_zone_local_to_utc(const struct tz_zone *zone, int year, int month, int day, int hour,
                             int minute, int second);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t tz_days_from_civil(int year, int month, int day);
void tz_civil_from_days(int64_t days, int *year, int *month, int *day);
/* The weekday (0 = Sunday .. 6) of a day counted as by tz_days_from_civil. */
int tz_weekday_from_days(int64_t days);

#endif
