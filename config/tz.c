#include "config/tz.h"
#include "config/error.h"
#include "config/tz_rule.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Debian's biggest fat TZif file is under 4 KiB; anything near this is not a zone file. */
#define TZ_FILE_MAX_BYTES (1024 * 1024)
#define TZ_HEADER_BYTES 44

struct tz_zone {
    char *name;
    int64_t *transitions; /* UTC seconds, ascending */
    uint8_t *transition_types;
    size_t transition_count;
    int32_t *type_offsets; /* seconds east of UTC */
    size_t type_count;
    bool has_rule; /* the footer, for instants after the last transition */
    struct tz_rule rule;
};

/* The counts of a TZif header (RFC 8536 section 3.1). */
struct tz_header {
    char version;
    uint32_t utc_indicator_count, standard_indicator_count, leap_count, time_count, type_count,
        character_count;
};

static int64_t tz_floor_divide(int64_t value, int64_t divisor)
{
    int64_t quotient = value / divisor;
    return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}

/* Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms". */
int64_t tz_days_from_civil(int year, int month, int day)
{
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = tz_floor_divide(y, 400);
    int64_t year_of_era = y - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

void tz_civil_from_days(int64_t days, int *year, int *month, int *day)
{
    days += 719468;
    int64_t era = tz_floor_divide(days, 146097);
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_index = (5 * day_of_year + 2) / 153;
    int d = (int)(day_of_year - (153 * month_index + 2) / 5 + 1);
    int m = (int)(month_index < 10 ? month_index + 3 : month_index - 9);
    *year = (int)(year_of_era + era * 400 + (m <= 2));
    *month = m;
    *day = d;
}

int tz_weekday_from_days(int64_t days)
{
    int64_t weekday = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    return (int)(weekday < 0 ? weekday + 7 : weekday);
}

static uint32_t tz_read_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t tz_read_i64(const unsigned char *p)
{
    uint64_t value = (uint64_t)tz_read_u32(p) << 32 | tz_read_u32(p + 4);
    return (int64_t)value;
}

static int tz_header_parse(const unsigned char *data, size_t length, struct tz_header *header)
{
    if (length < TZ_HEADER_BYTES || memcmp(data, "TZif", 4) != 0)
        return -1;
    header->version = (char)data[4];
    header->utc_indicator_count = tz_read_u32(data + 20);
    header->standard_indicator_count = tz_read_u32(data + 24);
    header->leap_count = tz_read_u32(data + 28);
    header->time_count = tz_read_u32(data + 32);
    header->type_count = tz_read_u32(data + 36);
    header->character_count = tz_read_u32(data + 40);
    /* Bounds keep the size arithmetic below far from overflow. */
    if (header->time_count > 1000000 || header->type_count == 0 || header->type_count > 256 ||
        header->leap_count > 100000 || header->character_count > 100000 ||
        header->utc_indicator_count > 256 || header->standard_indicator_count > 256)
        return -1;
    return 0;
}

/* Bytes of the data block that follows a header, for 4-byte (v1) or 8-byte times. */
static size_t tz_block_size(const struct tz_header *header, size_t time_size)
{
    return header->time_count * time_size + header->time_count + header->type_count * 6 +
           header->character_count + header->leap_count * (time_size + 4) +
           header->standard_indicator_count + header->utc_indicator_count;
}

static int tz_block_load(struct tz_zone *zone, const struct tz_header *header,
                         const unsigned char *block, size_t time_size)
{
    size_t count = header->time_count;
    zone->transitions = calloc(count ? count : 1, sizeof *zone->transitions);
    zone->transition_types = calloc(count ? count : 1, 1);
    zone->type_offsets = calloc(header->type_count, sizeof *zone->type_offsets);
    if (!zone->transitions || !zone->transition_types || !zone->type_offsets)
        return -1;
    const unsigned char *p = block;
    for (size_t i = 0; i < count; i++, p += time_size) {
        zone->transitions[i] = time_size == 8 ? tz_read_i64(p) : (int64_t)(int32_t)tz_read_u32(p);
        if (i > 0 && zone->transitions[i] <= zone->transitions[i - 1])
            return -1;
    }
    for (size_t i = 0; i < count; i++, p++) {
        if (*p >= header->type_count)
            return -1;
        zone->transition_types[i] = *p;
    }
    for (size_t i = 0; i < header->type_count; i++, p += 6) {
        int32_t offset = (int32_t)tz_read_u32(p);
        if (offset == INT32_MIN || offset < -25 * 3600 || offset > 26 * 3600)
            return -1;
        zone->type_offsets[i] = offset;
    }
    zone->transition_count = count;
    zone->type_count = header->type_count;
    return 0;
}

/* Parses a TZif image (v1, v2 or v3) into zone. Leap-second records are skipped: zones from the
 * "right/" tree are not supported. Returns 0, or -1 with a reason in error. */
static int tz_image_parse(struct tz_zone *zone, const unsigned char *data, size_t length,
                          char *error, size_t error_size)
{
    struct tz_header header;
    if (tz_header_parse(data, length, &header) < 0) {
        error_message_set(error, error_size, "not a TZif file (bad header)");
        return -1;
    }
    size_t block_size = tz_block_size(&header, 4);
    if (length - TZ_HEADER_BYTES < block_size) {
        error_message_set(error, error_size, "truncated TZif file");
        return -1;
    }
    if (header.version == '\0') {
        if (tz_block_load(zone, &header, data + TZ_HEADER_BYTES, 4) < 0) {
            error_message_set(error, error_size, "invalid TZif data (transitions or types)");
            return -1;
        }
        return 0;
    }
    const unsigned char *second = data + TZ_HEADER_BYTES + block_size;
    size_t remaining = length - TZ_HEADER_BYTES - block_size;
    if (remaining < TZ_HEADER_BYTES) {
        error_message_set(error, error_size, "truncated TZif file (no 64-bit header)");
        return -1;
    }
    if (tz_header_parse(second, remaining, &header) < 0) {
        error_message_set(error, error_size, "not a TZif file (bad second header)");
        return -1;
    }
    block_size = tz_block_size(&header, 8);
    remaining -= TZ_HEADER_BYTES;
    if (remaining < block_size) {
        error_message_set(error, error_size, "truncated TZif file (64-bit data)");
        return -1;
    }
    if (tz_block_load(zone, &header, second + TZ_HEADER_BYTES, 8) < 0) {
        error_message_set(error, error_size, "invalid TZif data (transitions or types)");
        return -1;
    }
    const char *footer = (const char *)second + TZ_HEADER_BYTES + block_size;
    remaining -= block_size;
    if (remaining < 2 || footer[0] != '\n') {
        error_message_set(error, error_size, "TZif footer missing");
        return -1;
    }
    const char *end = memchr(footer + 1, '\n', remaining - 1);
    if (!end) {
        error_message_set(error, error_size, "TZif footer not terminated by a newline");
        return -1;
    }
    size_t footer_length = (size_t)(end - footer - 1);
    if (footer_length == 0)
        return 0;
    if (tz_rule_parse(footer + 1, footer_length, &zone->rule) < 0) {
        error_message_set(error, error_size, "TZif footer \"%.*s\" is not a POSIX TZ string",
                          (int)footer_length, footer + 1);
        return -1;
    }
    zone->has_rule = true;
    return 0;
}

static int tz_file_read(const char *path, unsigned char **out, size_t *out_length)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    unsigned char *buffer = NULL;
    struct stat status;
    if (fstat(fd, &status) < 0)
        goto fail;
    if (!S_ISREG(status.st_mode)) {
        errno = EISDIR;
        goto fail;
    }
    if (status.st_size > TZ_FILE_MAX_BYTES) {
        errno = EFBIG;
        goto fail;
    }
    size_t size = (size_t)status.st_size;
    buffer = malloc(size ? size : 1);
    if (!buffer)
        goto fail;
    size_t length = 0;
    while (length < size) {
        ssize_t got = read(fd, buffer + length, size - length);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            goto fail;
        if (got == 0)
            break;
        length += (size_t)got;
    }
    if (close(fd) < 0) {
        free(buffer);
        return -1;
    }
    *out = buffer;
    *out_length = length;
    return 0;
fail : {
    int saved = errno;
    free(buffer);
    close(fd);
    errno = saved;
    return -1;
}
}

static bool tz_name_is_safe(const char *name)
{
    if (name[0] == '\0' || name[0] == '/' || strstr(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20)
            return false;
    return true;
}

struct tz_zone *tz_zone_load(const char *name, char *error, size_t error_size)
{
    struct tz_zone *zone = NULL;
    unsigned char *data = NULL;
    char *path = NULL;
    if (!name || !tz_name_is_safe(name)) {
        error_message_set(error, error_size,
                          "time zone \"%s\": expected a zone name like Europe/Berlin or UTC (no "
                          "absolute path, no \"..\")",
                          name ? name : "");
        return NULL;
    }
    zone = calloc(1, sizeof *zone);
    if (!zone || !(zone->name = strdup(name)))
        goto out_of_memory;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        /* Works on systems without tzdata (minimal containers). */
        zone->type_offsets = calloc(1, sizeof *zone->type_offsets);
        if (!zone->type_offsets)
            goto out_of_memory;
        zone->type_count = 1;
        return zone;
    }
    const char *directory = getenv("TZDIR");
    if (!directory || directory[0] == '\0')
        directory = "/usr/share/zoneinfo";
    if (asprintf(&path, "%s/%s", directory, name) < 0) {
        path = NULL;
        goto out_of_memory;
    }
    size_t length = 0;
    if (tz_file_read(path, &data, &length) < 0) {
        error_message_set(error, error_size,
                          "time zone \"%s\": cannot read %s: %s (names are like Europe/Berlin; the "
                          "tzdata package provides them, $TZDIR overrides the directory)",
                          name, path, strerror(errno));
        goto fail;
    }
    char reason[256];
    if (tz_image_parse(zone, data, length, reason, sizeof reason) < 0) {
        error_message_set(error, error_size, "time zone \"%s\": %s: %s", name, path, reason);
        goto fail;
    }
    free(data);
    free(path);
    return zone;
out_of_memory:
    error_message_set(error, error_size, "time zone \"%s\": out of memory", name);
fail:
    free(data);
    free(path);
    tz_zone_free(zone);
    return NULL;
}

void tz_zone_free(struct tz_zone *zone)
{
    if (!zone)
        return;
    free(zone->name);
    free(zone->transitions);
    free(zone->transition_types);
    free(zone->type_offsets);
    free(zone);
}

const char *tz_zone_name(const struct tz_zone *zone)
{
    return zone->name;
}

int32_t tz_zone_offset_at(const struct tz_zone *zone, int64_t utc_seconds)
{
    if (!zone)
        return 0;
    size_t count = zone->transition_count;
    if (count == 0 || utc_seconds >= zone->transitions[count - 1]) {
        if (zone->has_rule)
            return tz_rule_offset_at(&zone->rule, utc_seconds);
        if (count == 0)
            return zone->type_offsets[0];
        return zone->type_offsets[zone->transition_types[count - 1]];
    }
    /* RFC 8536: before the first transition, local time type 0 applies. */
    if (utc_seconds < zone->transitions[0])
        return zone->type_offsets[0];
    size_t low = 0, high = count - 1; /* transitions[low] <= utc < transitions[high] */
    while (high - low > 1) {
        size_t middle = low + (high - low) / 2;
        if (zone->transitions[middle] <= utc_seconds)
            low = middle;
        else
            high = middle;
    }
    return zone->type_offsets[zone->transition_types[low]];
}

void tz_zone_local_time(const struct tz_zone *zone, int64_t utc_seconds, struct tz_local_time *out)
{
    int32_t offset = zone ? tz_zone_offset_at(zone, utc_seconds) : 0;
    int64_t local = utc_seconds + offset;
    int64_t days = tz_floor_divide(local, 86400);
    int64_t seconds_of_day = local - days * 86400;
    tz_civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(seconds_of_day / 3600);
    out->minute = (int)(seconds_of_day / 60 % 60);
    out->second = (int)(seconds_of_day % 60);
    out->weekday = tz_weekday_from_days(days);
    out->utc_offset_seconds = offset;
}

int64_t tz_zone_local_to_utc(const struct tz_zone *zone, int year, int month, int day, int hour,
                             int minute, int second)
{
    int64_t local = tz_days_from_civil(year, month, day) * 86400 + (int64_t)hour * 3600 +
                    (int64_t)minute * 60 + second;
    if (!zone)
        return local;
    /* Offsets never exceed 26 h, so the offsets in force 30 h either side of the local reading
     * include every offset that can map an instant onto it (zones change offset at most once in
     * such a window). */
    const int64_t window = 30 * 3600;
    int32_t candidates[3] = {tz_zone_offset_at(zone, local - window),
                             tz_zone_offset_at(zone, local),
                             tz_zone_offset_at(zone, local + window)};
    bool found = false;
    int64_t best = 0;
    for (int i = 0; i < 3; i++) {
        int64_t utc = local - candidates[i];
        if (tz_zone_offset_at(zone, utc) == candidates[i] && (!found || utc < best)) {
            best = utc;
            found = true;
        }
    }
    if (found)
        return best;
    /* The local time was skipped: find the instant the gap ends, the first instant whose local
     * reading is at or past the requested one. Invariant: local(low) < target <= local(high). */
    int64_t low = local - window, high = local + window;
    while (high - low > 1) {
        int64_t middle = low + (high - low) / 2;
        if (middle + tz_zone_offset_at(zone, middle) >= local)
            high = middle;
        else
            low = middle;
    }
    return high;
}
