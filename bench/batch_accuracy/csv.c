#include "bench/batch_accuracy/csv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config/tz.h"

void accuracy_timestamp_format(int64_t seconds, char out[ACCURACY_TIMESTAMP_SIZE])
{
    int64_t day = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
    int64_t second = seconds - day * 86400;
    int year, month, day_of_month;
    tz_civil_from_days(day, &year, &month, &day_of_month);
    /* Years beyond 9999 do not occur; the wide buffer only keeps the compiler's check content. */
    char text[64];
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, month, day_of_month,
             (int)(second / 3600), (int)(second / 60 % 60), (int)(second % 60));
    memcpy(out, text, ACCURACY_TIMESTAMP_SIZE - 1);
    out[ACCURACY_TIMESTAMP_SIZE - 1] = '\0';
}

void accuracy_date_format(int64_t day, char out[ACCURACY_DATE_SIZE])
{
    int year, month, day_of_month;
    tz_civil_from_days(day, &year, &month, &day_of_month);
    char text[64];
    snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day_of_month);
    memcpy(out, text, ACCURACY_DATE_SIZE - 1);
    out[ACCURACY_DATE_SIZE - 1] = '\0';
}

/* Reads `count` digits at text into *value; returns whether they were all digits. */
static bool digits_read(const char *text, int count, int *value)
{
    *value = 0;
    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        *value = *value * 10 + (text[i] - '0');
    }
    return true;
}

int accuracy_date_parse(const char *text, int64_t *day)
{
    int year, month, day_of_month;
    if (!digits_read(text, 4, &year) || text[4] != '-' || !digits_read(text + 5, 2, &month) ||
        text[7] != '-' || !digits_read(text + 8, 2, &day_of_month) || month < 1 || month > 12 ||
        day_of_month < 1 || day_of_month > 31)
        return -1;
    *day = tz_days_from_civil(year, month, day_of_month);
    return 0;
}

int accuracy_timestamp_parse(const char *text, int64_t *seconds)
{
    int64_t day;
    int hour, minute, second;
    if (accuracy_date_parse(text, &day) != 0 || text[10] != 'T' ||
        !digits_read(text + 11, 2, &hour) || text[13] != ':' ||
        !digits_read(text + 14, 2, &minute) || text[16] != ':' ||
        !digits_read(text + 17, 2, &second) || text[19] != 'Z' || text[20] != '\0' || hour > 23 ||
        minute > 59 || second > 59)
        return -1;
    *seconds = day * 86400 + hour * 3600 + minute * 60 + second;
    return 0;
}

void accuracy_units_format(int64_t units, int decimals, char *out, size_t size)
{
    int64_t scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    const char *sign = units < 0 ? "-" : "";
    int64_t magnitude = units < 0 ? -units : units;
    if (decimals == 0)
        snprintf(out, size, "%s%" PRId64, sign, magnitude);
    else
        snprintf(out, size, "%s%" PRId64 ".%0*" PRId64, sign, magnitude / scale, decimals,
                 magnitude % scale);
}

int accuracy_csv_error(const struct accuracy_csv *csv, const char *message)
{
    fprintf(stderr, "%s:%lu: %s\n", csv->path, csv->line_number, message);
    return -1;
}

static int csv_line_read(struct accuracy_csv *csv)
{
    errno = 0;
    ssize_t length = getline(&csv->line, &csv->line_capacity, csv->file);
    if (length < 0) {
        if (ferror(csv->file)) {
            fprintf(stderr, "%s: cannot read: %s\n", csv->path, strerror(errno));
            return -1;
        }
        return 0;
    }
    csv->line_number++;
    while (length > 0 && (csv->line[length - 1] == '\n' || csv->line[length - 1] == '\r'))
        csv->line[--length] = '\0';
    return 1;
}

int accuracy_csv_open(struct accuracy_csv *csv, const char *path, const char *header)
{
    *csv = (struct accuracy_csv){0};
    csv->path = strdup(path);
    if (!csv->path) {
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    csv->file = fopen(path, "r");
    if (!csv->file) {
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
        accuracy_csv_close(csv);
        return -1;
    }
    int status = csv_line_read(csv);
    if (status <= 0 || strcmp(csv->line, header) != 0) {
        if (status >= 0)
            fprintf(stderr, "%s: the header is \"%s\", expected \"%s\"\n", path,
                    status ? csv->line : "", header);
        accuracy_csv_close(csv);
        return -1;
    }
    return 0;
}

int accuracy_csv_next(struct accuracy_csv *csv)
{
    int status = csv_line_read(csv);
    if (status <= 0)
        return status;
    csv->field_count = 0;
    char *field = csv->line;
    for (;;) {
        if (csv->field_count == ACCURACY_CSV_MAX_FIELDS)
            return accuracy_csv_error(csv, "too many fields");
        csv->fields[csv->field_count++] = field;
        char *comma = strchr(field, ',');
        if (!comma)
            return 1;
        *comma = '\0';
        field = comma + 1;
    }
}

void accuracy_csv_close(struct accuracy_csv *csv)
{
    if (csv->file)
        fclose(csv->file); /* read only: nothing is lost when closing fails */
    free(csv->path);
    free(csv->line);
    *csv = (struct accuracy_csv){0};
}

int accuracy_path_join(char *out, size_t size, const char *dir, const char *name)
{
    int length = snprintf(out, size, "%s/%s", dir, name);
    if (length < 0 || (size_t)length >= size) {
        fprintf(stderr, "bench-batch-accuracy: %s/%s: the path is too long\n", dir, name);
        return -1;
    }
    return 0;
}

int accuracy_field_double(const char *field, double *value)
{
    char *end;
    errno = 0;
    *value = strtod(field, &end);
    return end != field && *end == '\0' ? 0 : -1;
}
