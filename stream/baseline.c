#include "stream/baseline.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static int baseline_fail(char *error, size_t error_size,
                                                               const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, error_size, format, arguments);
    va_end(arguments);
    return -1;
}

/* ---- computing from a day series ---- */

static int baseline_double_compare(const void *a, const void *b)
{
    double left = *(const double *)a, right = *(const double *)b;
    return (left > right) - (left < right);
}

/* Exact count, mean and M2 of values (two passes: no rounding drift from the online update). */
static struct stream_welford baseline_moments(const double *values, size_t count)
{
    struct stream_welford moments = {.count = (int64_t)count};
    double sum = 0.0;
    for (size_t i = 0; i < count; i++)
        sum += values[i];
    moments.mean = count ? sum / (double)count : 0.0;
    for (size_t i = 0; i < count; i++)
        moments.m2 += (values[i] - moments.mean) * (values[i] - moments.mean);
    return moments;
}

/* The P² state that matches sorted (count values) exactly: markers at their desired ranks with
 * the exact quantiles there (linear interpolation), ranks kept strictly increasing. */
static struct stream_quantile baseline_markers(const double *sorted, size_t count, double p)
{
    struct stream_quantile quantile = {.count = (uint32_t)count};
    if (count < STREAM_QUANTILE_MARKERS) {
        memcpy(quantile.heights, sorted, count * sizeof *sorted);
        return quantile;
    }
    for (int i = 0; i < STREAM_QUANTILE_MARKERS; i++) {
        double rank = stream_quantile_desired_position(p, i, (uint32_t)count) - 1.0;
        size_t below = (size_t)rank;
        double fraction = rank - (double)below;
        quantile.heights[i] = below + 1 < count
                                  ? sorted[below] + fraction * (sorted[below + 1] - sorted[below])
                                  : sorted[count - 1];
        int32_t position = (int32_t)lround(rank + 1.0);
        int32_t lowest = i ? quantile.positions[i - 1] + 1 : 1;
        int32_t highest = (int32_t)count - (STREAM_QUANTILE_MARKERS - 1 - i);
        quantile.positions[i] = position < lowest    ? lowest
                                : position > highest ? highest
                                                     : position;
    }
    return quantile;
}

int stream_baseline_compute(struct stream_baseline *baseline, const int64_t *midnights,
                            const double *consumption, const bool *flagged, size_t day_count,
                            const double *seasonal_percentages,
                            const struct stream_calendar *calendar, char *error, size_t error_size)
{
    memset(baseline, 0, sizeof *baseline); /* padding too: baselines compare with memcmp */
    struct stream_detector *detector = &baseline->detector;
    double *learned = calloc(day_count ? day_count : 1, sizeof *learned);
    double *seasonal = calloc(day_count ? day_count : 1, sizeof *seasonal);
    if (!learned || !seasonal) {
        free(learned);
        free(seasonal);
        return baseline_fail(error, error_size, "out of memory for a baseline of %zu days",
                             day_count);
    }
    size_t learned_count = 0, seasonal_count = 0;
    for (size_t i = 0; i < day_count; i++) {
        if (!(consumption[i] > 0))
            continue;
        if (flagged && flagged[i]) {
            detector->flagged_run++;
            continue;
        }
        detector->flagged_run = 0;
        learned[learned_count++] = consumption[i];
        double factor =
            stream_detector_seasonal_factor(seasonal_percentages, calendar, midnights[i]);
        if (factor > 0)
            seasonal[seasonal_count++] = consumption[i] / factor;
    }
    if (detector->flagged_run >= STREAM_DETECTOR_SHIFT_DAYS)
        detector->flagged_run = STREAM_DETECTOR_SHIFT_DAYS - 1;
    detector->level = baseline_moments(learned, learned_count);
    detector->seasonal = baseline_moments(seasonal, seasonal_count);
    qsort(learned, learned_count, sizeof *learned, baseline_double_compare);
    detector->q1 = baseline_markers(learned, learned_count, STREAM_DETECTOR_Q1);
    detector->q3 = baseline_markers(learned, learned_count, STREAM_DETECTOR_Q3);
    free(learned);
    free(seasonal);
    detector->day_count = (uint32_t)day_count;
    size_t window =
        day_count < STREAM_DETECTOR_WINDOW_DAYS ? day_count : STREAM_DETECTOR_WINDOW_DAYS;
    for (size_t i = 0; i < window; i++)
        detector->window[i] = consumption[day_count - window + i];
    detector->window_count = (uint32_t)window;
    detector->window_next = (uint32_t)(window % STREAM_DETECTOR_WINDOW_DAYS);
    return 0;
}

bool stream_meter_baseline_apply(struct stream_meter *meter, const struct stream_baseline *baseline)
{
    meter->detector = baseline->detector;
    meter->rate_limit = stream_detector_plausible_max(&meter->detector);
    if (!baseline->has_register || !(meter->flags & STREAM_METER_LAST) ||
        meter->last_t < baseline->register_reading_ns ||
        meter->offset_t > baseline->register_reading_ns ||
        meter->offset == baseline->register_offset)
        return false;
    double shift = baseline->register_offset - meter->offset;
    meter->offset = baseline->register_offset;
    meter->last_value += shift;
    meter->daily_value += shift;
    meter->previous_daily_value += shift;
    meter->rate_value += shift;
    meter->leak_value += shift;
    return true;
}

bool stream_meter_baseline_seed(struct stream_meter *meter, const struct stream_baseline *baseline,
                                int64_t first_reading_ns)
{
    meter->detector = baseline->detector;
    meter->rate_limit = stream_detector_plausible_max(&meter->detector);
    if (!baseline->has_register || first_reading_ns < baseline->register_reading_ns ||
        baseline->register_offset == 0)
        return false;
    meter->offset = baseline->register_offset;
    return true;
}

/* ---- writing ---- */

/* Adds item (owned, may be NULL) to object; a failed add frees it, so nothing leaks when memory
 * runs out (the document is then incomplete and baseline_meter_print notices). */
static bool baseline_item_add(cJSON *object, const char *name, cJSON *item)
{
    if (item && cJSON_AddItemToObject(object, name, item))
        return true;
    cJSON_Delete(item);
    return false;
}

/* A number as the shortest text strtod reads back as the very same double. cJSON's own printer
 * accepts a 15-digit text within an epsilon, which would make a round trip inexact. */
static cJSON *baseline_number_create(double value)
{
    char text[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, value);
        if (strtod(text, NULL) == value)
            break;
    }
    return cJSON_CreateRaw(text);
}

static bool baseline_number_add(cJSON *object, const char *name, double value)
{
    return baseline_item_add(object, name, baseline_number_create(value));
}

/* An array of count numbers, each written exactly. */
static cJSON *baseline_numbers_create(const double *values, int count)
{
    cJSON *array = cJSON_CreateArray();
    for (int i = 0; array && i < count; i++) {
        cJSON *number = baseline_number_create(values[i]);
        if (!number || !cJSON_AddItemToArray(array, number)) {
            cJSON_Delete(number);
            cJSON_Delete(array);
            return NULL;
        }
    }
    return array;
}

static cJSON *baseline_moments_json(const struct stream_welford *moments)
{
    cJSON *object = cJSON_CreateObject();
    if (object && cJSON_AddNumberToObject(object, "count", (double)moments->count) &&
        baseline_number_add(object, "mean", moments->mean) &&
        baseline_number_add(object, "m2", moments->m2))
        return object;
    cJSON_Delete(object);
    return NULL;
}

static cJSON *baseline_markers_json(const struct stream_quantile *quantile)
{
    int heights =
        quantile->count < STREAM_QUANTILE_MARKERS ? (int)quantile->count : STREAM_QUANTILE_MARKERS;
    int positions[STREAM_QUANTILE_MARKERS];
    for (int i = 0; i < STREAM_QUANTILE_MARKERS; i++)
        positions[i] = quantile->positions[i];
    cJSON *object = cJSON_CreateObject();
    if (object && cJSON_AddNumberToObject(object, "count", quantile->count) &&
        baseline_item_add(object, "heights", baseline_numbers_create(quantile->heights, heights)) &&
        baseline_item_add(object, "positions",
                          cJSON_CreateIntArray(positions, heights == STREAM_QUANTILE_MARKERS
                                                              ? STREAM_QUANTILE_MARKERS
                                                              : 0)))
        return object;
    cJSON_Delete(object);
    return NULL;
}

static cJSON *baseline_register_json(const struct stream_baseline *baseline)
{
    char reading[24];
    snprintf(reading, sizeof reading, "%" PRId64, baseline->register_reading_ns);
    cJSON *object = cJSON_CreateObject();
    if (object && cJSON_AddStringToObject(object, "reading_ns", reading) &&
        baseline_number_add(object, "offset", baseline->register_offset))
        return object;
    cJSON_Delete(object);
    return NULL;
}

/* One meter's member text ("id":{...}), owned by the caller; NULL when memory ran out. */
static char *baseline_meter_print(const char *meter_id, const struct stream_baseline *baseline)
{
    const struct stream_detector *detector = &baseline->detector;
    double window[STREAM_DETECTOR_WINDOW_DAYS];
    uint32_t count = detector->window_count;
    for (uint32_t age = 0; age < count; age++)
        window[age] =
            detector->window[(detector->window_next + STREAM_DETECTOR_WINDOW_DAYS - count + age) %
                             STREAM_DETECTOR_WINDOW_DAYS];
    cJSON *meter = cJSON_CreateObject();
    bool complete =
        meter && cJSON_AddNumberToObject(meter, "days", detector->day_count) &&
        cJSON_AddNumberToObject(meter, "flagged_run", detector->flagged_run) &&
        baseline_item_add(meter, "level", baseline_moments_json(&detector->level)) &&
        baseline_item_add(meter, "seasonal", baseline_moments_json(&detector->seasonal)) &&
        baseline_item_add(meter, "q1", baseline_markers_json(&detector->q1)) &&
        baseline_item_add(meter, "q3", baseline_markers_json(&detector->q3)) &&
        baseline_item_add(meter, "window", baseline_numbers_create(window, (int)count)) &&
        (!baseline->has_register ||
         baseline_item_add(meter, "register", baseline_register_json(baseline)));
    cJSON *id = cJSON_CreateString(meter_id);
    char *id_text = complete && id ? cJSON_PrintUnformatted(id) : NULL;
    char *meter_text = id_text ? cJSON_PrintUnformatted(meter) : NULL;
    cJSON_Delete(id);
    cJSON_Delete(meter);
    char *member = NULL;
    if (meter_text && asprintf(&member, "%s:%s", id_text, meter_text) < 0)
        member = NULL;
    cJSON_free(id_text);
    cJSON_free(meter_text);
    return member;
}

/* Writes the whole document to stream, meter by meter, so no tree of every meter is built. */
static int baseline_document_write(FILE *stream, const struct stream_baseline_entry *entries,
                                   size_t count)
{
    if (fprintf(stream, "{\"version\":%d,\"meters\":{", STREAM_BASELINE_VERSION) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        char *member = baseline_meter_print(entries[i].meter_id, entries[i].baseline);
        if (!member) {
            errno = ENOMEM;
            return -1;
        }
        int written = fprintf(stream, "%s%s\n", i ? "," : "", member);
        free(member);
        if (written < 0)
            return -1;
    }
    return fprintf(stream, "}}\n") < 0 ? -1 : 0;
}

/* fsync of the directory that holds path, so a rename there is durable. */
static int baseline_directory_sync(const char *path)
{
    const char *slash = strrchr(path, '/');
    char directory[PATH_MAX];
    if (!slash)
        snprintf(directory, sizeof directory, ".");
    else
        snprintf(directory, sizeof directory, "%.*s", slash == path ? 1 : (int)(slash - path),
                 path);
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int status = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return status;
}

int stream_baseline_write(const char *path, const struct stream_baseline_entry *entries,
                          size_t count, char *error, size_t error_size)
{
    /* The process id in the name: two meter-batch runs at once (the relay's job and a cron entry)
     * would otherwise truncate and rename each other's temporary file. */
    char temporary[PATH_MAX];
    if (snprintf(temporary, sizeof temporary, "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof temporary)
        return baseline_fail(error, error_size, "%s: path too long", path);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return baseline_fail(error, error_size, "cannot create %s: %s", temporary, strerror(errno));
    FILE *stream = fdopen(fd, "w");
    if (!stream) {
        int saved = errno;
        close(fd);
        unlink(temporary);
        return baseline_fail(error, error_size, "cannot write %s: %s", temporary, strerror(saved));
    }
    const char *step = "write";
    int status =
        baseline_document_write(stream, entries, count) == 0 && fflush(stream) == 0 ? 0 : -1;
    if (status == 0 && fsync(fd) != 0) {
        status = -1;
        step = "fsync";
    }
    int saved = errno;
    if (fclose(stream) != 0 && status == 0) {
        status = -1;
        saved = errno;
        step = "close";
    }
    if (status == 0 && rename(temporary, path) != 0) {
        status = -1;
        saved = errno;
        step = "rename into place";
    }
    if (status != 0) {
        unlink(temporary);
        return baseline_fail(error, error_size, "cannot %s %s: %s", step, temporary,
                             strerror(saved));
    }
    if (baseline_directory_sync(path) != 0)
        return baseline_fail(error, error_size, "%s: cannot fsync its directory: %s", path,
                             strerror(errno));
    return 0;
}

/* ---- loading ---- */

/* Where a loader is in the document, for messages: "<file>: meters.<id>.q1: ...". */
struct baseline_place {
    const char *path;
    const char *meter_id;
    char *error;
    size_t error_size;
};

__attribute__((format(printf, 3, 4))) static int
baseline_invalid(const struct baseline_place *place, const char *member, const char *format, ...)
{
    char what[256];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(what, sizeof what, format, arguments);
    va_end(arguments);
    return baseline_fail(place->error, place->error_size, "%s: meters.%s%s%s: %s", place->path,
                         place->meter_id, member[0] ? "." : "", member, what);
}

/* A finite number member of object; name is also the member path in messages. */
static int baseline_number_read(const struct baseline_place *place, const cJSON *object,
                                const char *member, const char *name, double *value)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return baseline_invalid(place, member, "%s: %s", name,
                                item ? "expected a finite number" : "missing");
    *value = item->valuedouble;
    return 0;
}

/* A whole number in [0, maximum]. */
static int baseline_count_read(const struct baseline_place *place, const cJSON *object,
                               const char *member, const char *name, double maximum, double *value)
{
    if (baseline_number_read(place, object, member, name, value) != 0)
        return -1;
    if (*value < 0 || *value > maximum || floor(*value) != *value)
        return baseline_invalid(place, member,
                                "%s: expected a whole number from 0 to %.0f, got %.17g", name,
                                maximum, *value);
    return 0;
}

static int baseline_moments_read(const struct baseline_place *place, const cJSON *meter,
                                 const char *name, double maximum, struct stream_welford *moments)
{
    const cJSON *object = cJSON_GetObjectItemCaseSensitive(meter, name);
    if (!cJSON_IsObject(object))
        return baseline_invalid(place, name, object ? "expected an object" : "missing");
    double count;
    if (baseline_count_read(place, object, name, "count", maximum, &count) != 0 ||
        baseline_number_read(place, object, name, "mean", &moments->mean) != 0 ||
        baseline_number_read(place, object, name, "m2", &moments->m2) != 0)
        return -1;
    if (moments->m2 < 0)
        return baseline_invalid(place, name, "m2: a sum of squares cannot be negative");
    moments->count = (int64_t)count;
    return 0;
}

/* An array member of exactly length finite numbers. */
static const cJSON *baseline_array_read(const struct baseline_place *place, const cJSON *object,
                                        const char *member, const char *name, int length)
{
    const cJSON *array = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!cJSON_IsArray(array) || cJSON_GetArraySize(array) != length) {
        baseline_invalid(place, member, "%s: expected an array of %d numbers", name, length);
        return NULL;
    }
    for (int i = 0; i < length; i++) {
        const cJSON *item = cJSON_GetArrayItem(array, i);
        if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) {
            baseline_invalid(place, member, "%s: expected finite numbers", name);
            return NULL;
        }
    }
    return array;
}

static int baseline_markers_read(const struct baseline_place *place, const cJSON *meter,
                                 const char *name, int64_t learned,
                                 struct stream_quantile *quantile)
{
    const cJSON *object = cJSON_GetObjectItemCaseSensitive(meter, name);
    if (!cJSON_IsObject(object))
        return baseline_invalid(place, name, object ? "expected an object" : "missing");
    double count;
    if (baseline_count_read(place, object, name, "count", UINT32_MAX, &count) != 0)
        return -1;
    if ((int64_t)count != learned)
        return baseline_invalid(place, name, "count: %.0f, but level.count is %lld", count,
                                (long long)learned);
    quantile->count = (uint32_t)count;
    int markers = count < STREAM_QUANTILE_MARKERS ? (int)count : STREAM_QUANTILE_MARKERS;
    const cJSON *heights = baseline_array_read(place, object, name, "heights", markers);
    const cJSON *positions = baseline_array_read(place, object, name, "positions",
                                                 markers == STREAM_QUANTILE_MARKERS ? markers : 0);
    if (!heights || !positions)
        return -1;
    for (int i = 0; i < markers; i++) {
        quantile->heights[i] = cJSON_GetArrayItem(heights, i)->valuedouble;
        if (i > 0 && quantile->heights[i] < quantile->heights[i - 1])
            return baseline_invalid(place, name, "heights: expected ascending values");
    }
    for (int i = 0; i < cJSON_GetArraySize(positions); i++) {
        double position = cJSON_GetArrayItem(positions, i)->valuedouble;
        double lowest = i ? quantile->positions[i - 1] + 1 : 1;
        double required = i == STREAM_QUANTILE_MARKERS - 1 ? count : position;
        if (position < lowest || position != required || floor(position) != position ||
            position > count)
            return baseline_invalid(place, name,
                                    "positions: expected whole ranks increasing from 1 to count "
                                    "(%.0f)",
                                    count);
        quantile->positions[i] = (int32_t)position;
    }
    if (markers == STREAM_QUANTILE_MARKERS && quantile->positions[0] != 1)
        return baseline_invalid(place, name, "positions: the first rank must be 1");
    return 0;
}

static int baseline_window_read(const struct baseline_place *place, const cJSON *meter,
                                struct stream_detector *detector)
{
    const cJSON *window = cJSON_GetObjectItemCaseSensitive(meter, "window");
    int length = cJSON_IsArray(window) ? cJSON_GetArraySize(window) : -1;
    if (length < 0 || length > STREAM_DETECTOR_WINDOW_DAYS ||
        (uint32_t)length > detector->day_count)
        return baseline_invalid(
            place, "window", "expected an array of at most %d days and at most days (%" PRIu32 ")",
            STREAM_DETECTOR_WINDOW_DAYS, detector->day_count);
    for (int i = 0; i < length; i++) {
        const cJSON *item = cJSON_GetArrayItem(window, i);
        if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0) || !isfinite(item->valuedouble))
            return baseline_invalid(place, "window", "day %d: expected a consumption >= 0", i);
        detector->window[i] = item->valuedouble;
    }
    detector->window_count = (uint32_t)length;
    detector->window_next = (uint32_t)length % STREAM_DETECTOR_WINDOW_DAYS;
    return 0;
}

/* The optional register member. */
static int baseline_register_read(const struct baseline_place *place, const cJSON *meter,
                                  struct stream_baseline *baseline)
{
    const cJSON *object = cJSON_GetObjectItemCaseSensitive(meter, "register");
    if (!object)
        return 0;
    if (!cJSON_IsObject(object))
        return baseline_invalid(place, "register", "expected an object");
    const cJSON *reading = cJSON_GetObjectItemCaseSensitive(object, "reading_ns");
    const char *text = cJSON_GetStringValue(reading);
    char *end = NULL;
    errno = 0;
    long long reading_ns = text ? strtoll(text, &end, 10) : 0;
    if (!text || end == text || *end != '\0' || errno == ERANGE)
        return baseline_invalid(place, "register",
                                "reading_ns: expected a string of digits (ns since the epoch)");
    if (baseline_number_read(place, object, "register", "offset", &baseline->register_offset) != 0)
        return -1;
    baseline->register_reading_ns = reading_ns;
    baseline->has_register = true;
    return 0;
}

static int baseline_meter_read(const struct baseline_place *place, const cJSON *meter,
                               struct stream_baseline *baseline)
{
    memset(baseline, 0, sizeof *baseline);
    struct stream_detector *detector = &baseline->detector;
    if (!cJSON_IsObject(meter))
        return baseline_invalid(place, "", "expected an object");
    double days, flagged_run;
    if (baseline_count_read(place, meter, "", "days", UINT32_MAX, &days) != 0 ||
        baseline_count_read(place, meter, "", "flagged_run", STREAM_DETECTOR_SHIFT_DAYS - 1,
                            &flagged_run) != 0)
        return -1;
    detector->day_count = (uint32_t)days;
    detector->flagged_run = (uint32_t)flagged_run;
    if (baseline_moments_read(place, meter, "level", days, &detector->level) != 0 ||
        baseline_moments_read(place, meter, "seasonal", days, &detector->seasonal) != 0)
        return -1;
    if (detector->seasonal.count != 0 && detector->seasonal.count != detector->level.count)
        return baseline_invalid(place, "seasonal", "count: expected 0 or level.count (%lld)",
                                (long long)detector->level.count);
    if (baseline_markers_read(place, meter, "q1", detector->level.count, &detector->q1) != 0 ||
        baseline_markers_read(place, meter, "q3", detector->level.count, &detector->q3) != 0)
        return -1;
    if (baseline_window_read(place, meter, detector) != 0)
        return -1;
    return baseline_register_read(place, meter, baseline);
}

/* The file's bytes, NUL-terminated, owned by the caller; NULL with errno on failure. */
static char *baseline_file_read(const char *path, size_t *length)
{
    FILE *stream = fopen(path, "rb");
    if (!stream)
        return NULL;
    size_t capacity = 65536, used = 0;
    char *text = malloc(capacity);
    while (text) {
        used += fread(text + used, 1, capacity - used - 1, stream);
        if (used < capacity - 1)
            break;
        char *grown = realloc(text, capacity * 2);
        if (!grown) {
            free(text);
            text = NULL;
            errno = ENOMEM;
            break;
        }
        text = grown;
        capacity *= 2;
    }
    int saved = errno;
    if (text && ferror(stream)) {
        free(text);
        text = NULL;
        saved = EIO;
    }
    fclose(stream);
    errno = saved;
    if (text) {
        text[used] = '\0';
        *length = used;
    }
    return text;
}

/* "line L, column C" of position in text. */
static void baseline_position_format(const char *text, const char *position, char *out, size_t size)
{
    int line = 1, column = 1;
    for (const char *c = text; c < position; c++) {
        column = *c == '\n' ? 1 : column + 1;
        line += *c == '\n';
    }
    snprintf(out, size, "line %d, column %d", line, column);
}

int stream_baseline_file_load(const char *path, stream_baseline_fn each, void *argument,
                              char *error, size_t error_size)
{
    size_t length = 0;
    char *text = baseline_file_read(path, &length);
    if (!text)
        return baseline_fail(error, error_size, "cannot read baseline file %s: %s", path,
                             strerror(errno));
    cJSON *document = cJSON_ParseWithLength(text, length);
    if (!document) {
        char where[64];
        const char *position = cJSON_GetErrorPtr();
        baseline_position_format(
            text,
            position && position >= text && position <= text + length ? position : text + length,
            where, sizeof where);
        free(text);
        return baseline_fail(error, error_size, "%s: not valid JSON (%s)", path, where);
    }
    free(text);
    int result = -1;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(document, "version");
    const cJSON *meters = cJSON_GetObjectItemCaseSensitive(document, "meters");
    if (!cJSON_IsNumber(version) || version->valuedouble != STREAM_BASELINE_VERSION) {
        /* The version found tells a newer meter-batch's file (a downgrade) from a foreign one. */
        char found[32] = "missing";
        if (cJSON_IsNumber(version))
            snprintf(found, sizeof found, "%.17g", version->valuedouble);
        else if (version)
            snprintf(found, sizeof found, "not a number");
        baseline_fail(error, error_size,
                      "%s: version: %s, expected %d (a baseline file of this relay; the next "
                      "meter-batch reconcile writes one)",
                      path, found, STREAM_BASELINE_VERSION);
    } else if (!cJSON_IsObject(meters))
        baseline_fail(error, error_size, "%s: meters: expected an object of meter ids", path);
    else
        result = 0;
    struct stream_baseline baseline;
    const cJSON *meter;
    /* Everything is checked before anything is delivered: a bad file changes no meter. */
    for (int pass = 0; pass < 2 && result >= 0; pass++) {
        result = 0;
        cJSON_ArrayForEach(meter, meters)
        {
            struct baseline_place place = {path, meter->string, error, error_size};
            if (baseline_meter_read(&place, meter, &baseline) != 0) {
                result = -1;
                break;
            }
            if (pass == 1)
                each(meter->string, &baseline, argument);
            result++;
        }
    }
    cJSON_Delete(document);
    return result;
}
