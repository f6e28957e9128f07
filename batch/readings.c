/* Collecting readings per meter, and the fixtures' CSV format. */
#include "batch/readings.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/tz.h"
#include "relay/lineproto.h"

#define NS_PER_SECOND 1000000000LL
#define SECONDS_PER_DAY 86400LL
#define INDEX_EMPTY UINT32_MAX

static uint64_t id_hash(const char *id, size_t length)
{
    uint64_t hash = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < length; i++) {
        hash ^= (unsigned char)id[i];
        hash *= 1099511628211ULL;
    }
    return hash;
}

static int index_grow(struct batch_readings *readings)
{
    size_t capacity = readings->index_capacity ? readings->index_capacity * 2 : 64;
    while (capacity < (readings->meter_count + 1) * 2)
        capacity *= 2;
    uint32_t *index = malloc(capacity * sizeof *index);
    if (!index)
        return -1;
    for (size_t i = 0; i < capacity; i++)
        index[i] = INDEX_EMPTY;
    for (size_t m = 0; m < readings->meter_count; m++) {
        const char *id = readings->meters[m].meter_id;
        size_t slot = id_hash(id, strlen(id)) & (capacity - 1);
        while (index[slot] != INDEX_EMPTY)
            slot = (slot + 1) & (capacity - 1);
        index[slot] = (uint32_t)m;
    }
    free(readings->index);
    readings->index = index;
    readings->index_capacity = capacity;
    return 0;
}

static struct batch_meter_readings *meter_get(struct batch_readings *readings, const char *id,
                                              size_t length)
{
    if ((readings->meter_count + 1) * 2 > readings->index_capacity && index_grow(readings) != 0)
        return NULL;
    size_t mask = readings->index_capacity - 1;
    size_t slot = id_hash(id, length) & mask;
    for (; readings->index[slot] != INDEX_EMPTY; slot = (slot + 1) & mask) {
        struct batch_meter_readings *meter = &readings->meters[readings->index[slot]];
        if (strncmp(meter->meter_id, id, length) == 0 && meter->meter_id[length] == '\0')
            return meter;
    }
    if (readings->meter_count == readings->meter_capacity) {
        size_t capacity = readings->meter_capacity ? readings->meter_capacity * 2 : 16;
        struct batch_meter_readings *meters = realloc(readings->meters, capacity * sizeof *meters);
        if (!meters)
            return NULL;
        readings->meters = meters;
        readings->meter_capacity = capacity;
    }
    struct batch_meter_readings *meter = &readings->meters[readings->meter_count];
    *meter = (struct batch_meter_readings){0};
    meter->meter_id = strndup(id, length);
    if (!meter->meter_id)
        return NULL;
    readings->index[slot] = (uint32_t)readings->meter_count++;
    return meter;
}

int batch_readings_add(struct batch_readings *readings, const char *meter_id, size_t id_length,
                       int64_t t_ns, double value)
{
    if (id_length == 0 || !isfinite(value)) {
        errno = EINVAL;
        return -1;
    }
    struct batch_meter_readings *meter = meter_get(readings, meter_id, id_length);
    if (!meter) {
        errno = ENOMEM;
        return -1;
    }
    if (meter->count == meter->capacity) {
        size_t capacity = meter->capacity ? meter->capacity * 2 : 64;
        struct batch_reading *grown = realloc(meter->readings, capacity * sizeof *grown);
        if (!grown) {
            errno = ENOMEM;
            return -1;
        }
        meter->readings = grown;
        meter->capacity = capacity;
    }
    meter->readings[meter->count++] = (struct batch_reading){.t_ns = t_ns, .value = value};
    readings->finished = 0;
    return 0;
}

static int meter_compare(const void *a, const void *b)
{
    const struct batch_meter_readings *left = a, *right = b;
    return strcmp(left->meter_id, right->meter_id);
}

/* Stable merge sort by time: readings of the same instant keep the order they were added in. */
static void readings_sort(struct batch_reading *items, struct batch_reading *scratch, size_t count)
{
    if (count < 2)
        return;
    size_t half = count / 2;
    readings_sort(items, scratch, half);
    readings_sort(items + half, scratch, count - half);
    if (items[half - 1].t_ns <= items[half].t_ns)
        return;
    memcpy(scratch, items, half * sizeof *items);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < count)
        items[k++] = items[j].t_ns < scratch[i].t_ns ? items[j++] : scratch[i++];
    while (i < half)
        items[k++] = scratch[i++];
}

static bool readings_sorted(const struct batch_reading *items, size_t count)
{
    for (size_t i = 1; i < count; i++)
        if (items[i].t_ns < items[i - 1].t_ns)
            return false;
    return true;
}

void batch_readings_finish(struct batch_readings *readings)
{
    if (readings->finished)
        return;
    if (readings->meter_count > 1)
        qsort(readings->meters, readings->meter_count, sizeof *readings->meters, meter_compare);
    for (size_t m = 0; m < readings->meter_count; m++) {
        struct batch_meter_readings *meter = &readings->meters[m];
        if (!readings_sorted(meter->readings, meter->count)) {
            struct batch_reading *scratch = malloc((meter->count / 2 + 1) * sizeof *scratch);
            if (scratch) {
                readings_sort(meter->readings, scratch, meter->count);
                free(scratch);
            } else {
                /* Insertion sort needs no memory and is stable; only reached without memory. */
                for (size_t i = 1; i < meter->count; i++) {
                    struct batch_reading item = meter->readings[i];
                    size_t j = i;
                    for (; j > 0 && meter->readings[j - 1].t_ns > item.t_ns; j--)
                        meter->readings[j] = meter->readings[j - 1];
                    meter->readings[j] = item;
                }
            }
        }
        size_t kept = 0;
        for (size_t i = 0; i < meter->count; i++) {
            if (kept > 0 && meter->readings[kept - 1].t_ns == meter->readings[i].t_ns)
                meter->readings[kept - 1] = meter->readings[i];
            else
                meter->readings[kept++] = meter->readings[i];
        }
        meter->count = kept;
    }
    /* The index points at positions that the sort moved: rebuild it. */
    free(readings->index);
    readings->index = NULL;
    readings->index_capacity = 0;
    if (readings->meter_count > 0)
        (void)index_grow(readings); /* without it, find falls back to a binary search */
    readings->finished = 1;
}

const struct batch_meter_readings *batch_readings_find(const struct batch_readings *readings,
                                                       const char *meter_id)
{
    size_t low = 0, high = readings->meter_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp(readings->meters[middle].meter_id, meter_id);
        if (order == 0)
            return &readings->meters[middle];
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return NULL;
}

size_t batch_readings_drop(struct batch_readings *readings, enum batch_readings_side side,
                           int64_t limit_ns,
                           void (*dropped)(const struct batch_meter_readings *meter, size_t count,
                                           int64_t first_ns, void *argument),
                           void *argument)
{
    batch_readings_finish(readings);
    size_t total = 0;
    for (size_t m = 0; m < readings->meter_count; m++) {
        struct batch_meter_readings *meter = &readings->meters[m];
        /* The readings are in time order: those to drop are a run at one end. */
        size_t count = 0, first = 0;
        if (side == BATCH_READINGS_AFTER) {
            while (count < meter->count &&
                   meter->readings[meter->count - 1 - count].t_ns > limit_ns)
                count++;
            first = meter->count - count;
        } else {
            while (count < meter->count && meter->readings[count].t_ns < limit_ns)
                count++;
        }
        if (count == 0)
            continue;
        int64_t first_ns = meter->readings[first].t_ns;
        if (side == BATCH_READINGS_BEFORE)
            memmove(meter->readings, meter->readings + count,
                    (meter->count - count) * sizeof *meter->readings);
        meter->count -= count;
        total += count;
        if (dropped)
            dropped(meter, count, first_ns, argument);
    }
    return total;
}

void batch_readings_free(struct batch_readings *readings)
{
    for (size_t m = 0; m < readings->meter_count; m++) {
        free(readings->meters[m].meter_id);
        free(readings->meters[m].readings);
    }
    free(readings->meters);
    free(readings->index);
    *readings = (struct batch_readings){0};
}

static bool digits_parse(const char *text, size_t length, size_t at, size_t count, int *out)
{
    if (at + count > length)
        return false;
    int value = 0;
    for (size_t i = 0; i < count; i++) {
        char c = text[at + i];
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + (c - '0');
    }
    *out = value;
    return true;
}

/* The years 0000-9999 the text can name reach far beyond what int64 ns hold (1677-09-21 to
 * 2262-04-11): such a time is refused, not wrapped around into a wrong one. Returns 0 or -1. */
static int timestamp_ns_from_seconds(int64_t seconds, int64_t fraction_ns, int64_t *t_ns)
{
    if (seconds < 0 && fraction_ns > 0) { /* so the earliest second that fits is not refused */
        seconds++;
        fraction_ns -= NS_PER_SECOND;
    }
    int64_t ns;
    if (__builtin_mul_overflow(seconds, NS_PER_SECOND, &ns) ||
        __builtin_add_overflow(ns, fraction_ns, &ns))
        return -1;
    *t_ns = ns;
    return 0;
}

int batch_timestamp_parse(const char *text, size_t length, int64_t *t_ns)
{
    int year, month, day, hour = 0, minute = 0, second = 0;
    if (!digits_parse(text, length, 0, 4, &year) || length < 10 || text[4] != '-' ||
        !digits_parse(text, length, 5, 2, &month) || text[7] != '-' ||
        !digits_parse(text, length, 8, 2, &day))
        return -1;
    if (month < 1 || month > 12 || day < 1 || day > 31)
        return -1;
    int64_t days = tz_days_from_civil(year, month, day);
    int year_check, month_check, day_check;
    tz_civil_from_days(days, &year_check, &month_check, &day_check);
    if (day_check != day)
        return -1;
    if (length == 10)
        return timestamp_ns_from_seconds(days * SECONDS_PER_DAY, 0, t_ns);
    if ((text[10] != 'T' && text[10] != ' ') || !digits_parse(text, length, 11, 2, &hour) ||
        length < 19 || text[13] != ':' || !digits_parse(text, length, 14, 2, &minute) ||
        text[16] != ':' || !digits_parse(text, length, 17, 2, &second))
        return -1;
    if (hour > 23 || minute > 59 || second > 60)
        return -1;
    size_t at = 19;
    int64_t fraction_ns = 0;
    if (at < length && text[at] == '.') {
        at++;
        int64_t scale = NS_PER_SECOND / 10;
        size_t first = at;
        for (; at < length && text[at] >= '0' && text[at] <= '9'; at++) {
            fraction_ns += (text[at] - '0') * scale;
            scale /= 10;
        }
        if (at == first)
            return -1;
    }
    int64_t offset_seconds = 0;
    if (at < length && text[at] == 'Z') {
        at++;
    } else if (at < length && (text[at] == '+' || text[at] == '-')) {
        int offset_hours, offset_minutes;
        int sign = text[at] == '-' ? -1 : 1;
        if (!digits_parse(text, length, at + 1, 2, &offset_hours) || at + 3 >= length ||
            text[at + 3] != ':' || !digits_parse(text, length, at + 4, 2, &offset_minutes))
            return -1;
        offset_seconds = sign * (offset_hours * 3600LL + offset_minutes * 60LL);
        at += 6;
    } else {
        return -1;
    }
    if (at != length)
        return -1;
    int64_t seconds = days * SECONDS_PER_DAY + hour * 3600LL + minute * 60LL + second;
    return timestamp_ns_from_seconds(seconds - offset_seconds, fraction_ns, t_ns);
}

static void digits_write(char *out, unsigned value, int count)
{
    for (int i = count - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

void batch_timestamp_format(int64_t t_ns, char *out)
{
    int64_t seconds =
        t_ns >= 0 ? t_ns / NS_PER_SECOND : -((-t_ns + NS_PER_SECOND - 1) / NS_PER_SECOND);
    int64_t days = seconds >= 0 ? seconds / SECONDS_PER_DAY
                                : -((-seconds + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY);
    unsigned second_of_day = (unsigned)(seconds - days * SECONDS_PER_DAY);
    int year, month, day;
    tz_civil_from_days(days, &year, &month, &day);
    if (year < 0 || year > 9999) {
        snprintf(out, BATCH_TIMESTAMP_SIZE, "%04d-%02d-%02dT%02u:%02u:%02uZ", year, month, day,
                 second_of_day / 3600 % 24, second_of_day / 60 % 60, second_of_day % 60);
        return;
    }
    /* By hand: the CSV output formats one timestamp per value. */
    digits_write(out, (unsigned)year, 4);
    out[4] = '-';
    digits_write(out + 5, (unsigned)month, 2);
    out[7] = '-';
    digits_write(out + 8, (unsigned)day, 2);
    out[10] = 'T';
    digits_write(out + 11, second_of_day / 3600, 2);
    out[13] = ':';
    digits_write(out + 14, second_of_day / 60 % 60, 2);
    out[16] = ':';
    digits_write(out + 17, second_of_day % 60, 2);
    out[19] = 'Z';
    out[20] = '\0';
}

static bool integer_parse(const char *text, size_t length, int64_t *out)
{
    if (length == 0 || length > 20)
        return false;
    size_t at = text[0] == '-' ? 1 : 0;
    if (at == length)
        return false;
    /* Nineteen digits can exceed int64: checked before each step, not wrapped. */
    int64_t value = 0;
    for (; at < length; at++) {
        if (text[at] < '0' || text[at] > '9')
            return false;
        int digit = text[at] - '0';
        if (value > (INT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *out = text[0] == '-' ? -value : value;
    return true;
}

/* A meter_id in double quotes (RFC 4180, as the --out files and pandas write an id holding a comma
 * or a quote): unquotes it in place, "" standing for one quote. Returns the id's length and sets
 * *rest to the ',' after the closing quote, or returns 0 when the quotes do not close there. */
static size_t csv_quoted_id_take(char *line, size_t length, char **rest)
{
    size_t out = 0;
    for (size_t i = 1; i < length; i++) {
        if (line[i] != '"') {
            line[out++] = line[i];
            continue;
        }
        if (i + 1 < length && line[i + 1] == '"') {
            line[out++] = '"';
            i++;
            continue;
        }
        if (i + 1 < length && line[i + 1] == ',') {
            *rest = line + i + 1;
            return out;
        }
        return 0;
    }
    return 0;
}

static int csv_line_read(const char *path, size_t line_number, char *line, size_t length,
                         struct batch_readings *readings, char *error, size_t error_size)
{
    size_t quoted_length = 0;
    char *first = NULL;
    if (line[0] == '"') {
        quoted_length = csv_quoted_id_take(line, length, &first);
        if (quoted_length == 0) {
            snprintf(error, error_size, "%s:%zu: a quoted meter_id must end in '\",'", path,
                     line_number);
            return -1;
        }
    } else {
        first = memchr(line, ',', length);
    }
    char *second = first ? memchr(first + 1, ',', length - (size_t)(first + 1 - line)) : NULL;
    if (!first || !second) {
        snprintf(error, error_size, "%s:%zu: expected meter_id,timestamp,value", path, line_number);
        return -1;
    }
    size_t id_length = quoted_length ? quoted_length : (size_t)(first - line);
    const char *time_text = first + 1;
    size_t time_length = (size_t)(second - time_text);
    int64_t t_ns;
    if (batch_timestamp_parse(time_text, time_length, &t_ns) != 0 &&
        !integer_parse(time_text, time_length, &t_ns)) {
        snprintf(error, error_size,
                 "%s:%zu: timestamp \"%.*s\" is neither RFC 3339 (2024-01-31T00:00:00Z) nor "
                 "integer nanoseconds",
                 path, line_number, (int)(time_length > 40 ? 40 : time_length), time_text);
        return -1;
    }
    line[length] = '\0';
    double value;
    if (lineproto_float_parse(second + 1, (size_t)(line + length - (second + 1)), &value) != 0) {
        snprintf(error, error_size, "%s:%zu: value \"%.40s\" is not a finite number", path,
                 line_number, second + 1);
        return -1;
    }
    if (id_length == 0) {
        snprintf(error, error_size, "%s:%zu: empty meter_id", path, line_number);
        return -1;
    }
    if (batch_readings_add(readings, line, id_length, t_ns, value) != 0) {
        snprintf(error, error_size, "%s:%zu: out of memory", path, line_number);
        return -1;
    }
    return 0;
}

int batch_readings_read_csv(const char *path, struct batch_readings *readings, char *error,
                            size_t error_size)
{
    FILE *stream = fopen(path, "r");
    if (!stream) {
        snprintf(error, error_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    size_t line_number = 0;
    int result = 0;
    while ((length = getline(&line, &capacity, stream)) >= 0) {
        line_number++;
        while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
            line[--length] = '\0';
        if (line_number == 1) {
            if (strcmp(line, "meter_id,timestamp,value") != 0) {
                snprintf(error, error_size,
                         "%s:1: expected the header \"meter_id,timestamp,value\", found \"%.60s\"",
                         path, line);
                result = -1;
                break;
            }
            continue;
        }
        if (length == 0)
            continue;
        if (csv_line_read(path, line_number, line, (size_t)length, readings, error, error_size) !=
            0) {
            result = -1;
            break;
        }
    }
    if (result == 0 && ferror(stream)) {
        snprintf(error, error_size, "%s: read error: %s", path, strerror(errno));
        result = -1;
    }
    if (result == 0 && line_number == 0) {
        snprintf(error, error_size,
                 "%s:1: empty file, expected the header "
                 "\"meter_id,timestamp,value\"",
                 path);
        result = -1;
    }
    free(line);
    fclose(stream);
    if (result == 0)
        batch_readings_finish(readings);
    return result;
}
