/* The reference fixtures' CSV files. */
#include "batch/output_csv.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/lineproto.h"

size_t batch_float_format(double value, char *out)
{
    if (isnan(value))
        return (size_t)snprintf(out, 32, "nan");
    if (isinf(value))
        return (size_t)snprintf(out, 32, value < 0 ? "-inf" : "inf");
    size_t length = lineproto_float_format(value, out);
    if (!strpbrk(out, ".e")) {
        memcpy(out + length, ".0", 3);
        length += 2;
    }
    return length;
}

struct csv_file {
    FILE *stream;
    char path[4096], temporary[4200];
};

static int csv_open(struct csv_file *file, const char *directory, const char *name,
                    const char *header, char *error, size_t error_size)
{
    snprintf(file->path, sizeof file->path, "%s/%s", directory, name);
    snprintf(file->temporary, sizeof file->temporary, "%s.tmp.%ld", file->path, (long)getpid());
    file->stream = fopen(file->temporary, "w");
    if (!file->stream) {
        snprintf(error, error_size, "%s: cannot create: %s", file->temporary, strerror(errno));
        return -1;
    }
    fprintf(file->stream, "%s\n", header);
    return 0;
}

static int csv_close(struct csv_file *file, char *error, size_t error_size)
{
    bool failed = ferror(file->stream) != 0;
    if (fclose(file->stream) != 0)
        failed = true;
    if (failed) {
        snprintf(error, error_size, "%s: write failed: %s", file->temporary, strerror(errno));
        unlink(file->temporary);
        return -1;
    }
    if (rename(file->temporary, file->path) != 0) {
        snprintf(error, error_size, "%s: cannot rename into place: %s", file->path,
                 strerror(errno));
        unlink(file->temporary);
        return -1;
    }
    return 0;
}

/* The meter_id column: quoted as RFC 4180 (and pandas) quote a field holding a comma, a quote or a
 * line break, "" for each quote, so that the row keeps its columns. */
static void csv_meter_id_write(FILE *stream, const char *id)
{
    if (!strpbrk(id, ",\"\r\n")) {
        fputs(id, stream);
        return;
    }
    putc('"', stream);
    for (const char *p = id; *p; p++) {
        if (*p == '"')
            putc('"', stream);
        putc(*p, stream);
    }
    putc('"', stream);
}

static void series_write(FILE *stream, const struct batch_series *series)
{
    /* Built by hand: fprintf per field costs more than formatting the numbers. */
    char line[BATCH_TIMESTAMP_SIZE + 48];
    for (size_t i = 0; i < series->count; i++) {
        csv_meter_id_write(stream, series->meter_id);
        char *at = line;
        *at++ = ',';
        batch_timestamp_format(series->t_ns[i], at);
        at += strlen(at);
        *at++ = ',';
        at += batch_float_format(series->values[i], at);
        *at++ = '\n';
        fwrite(line, 1, (size_t)(at - line), stream);
    }
}

#define SERIES_HEADER "meter_id,timestamp,value"

/* Which series one file holds. */
enum file_kind {
    FILE_DAILY,
    FILE_MONTHLY,
    FILE_MASTER_DAILY,
    FILE_MASTER_MONTHLY,
    FILE_CONSUMPTION,
    FILE_VIRTUAL
};

static int series_file_write(const struct batch_reconcile_result *result, const char *directory,
                             const char *name, enum file_kind kind, char *error, size_t error_size)
{
    struct csv_file file;
    if (csv_open(&file, directory, name, SERIES_HEADER, error, error_size) != 0)
        return -1;
    switch (kind) {
    case FILE_DAILY:
    case FILE_MONTHLY:
        for (size_t i = 0; i < result->physical_count; i++)
            series_write(file.stream, kind == FILE_DAILY ? &result->physical[i].daily
                                                         : &result->physical[i].monthly);
        break;
    case FILE_MASTER_DAILY:
    case FILE_MASTER_MONTHLY:
        for (size_t i = 0; i < result->master_count; i++)
            series_write(file.stream, kind == FILE_MASTER_DAILY ? &result->masters[i].daily
                                                                : &result->masters[i].monthly);
        break;
    case FILE_CONSUMPTION:
        for (size_t i = 0; i < result->consumption_count; i++)
            series_write(file.stream, &result->consumption[i]);
        break;
    case FILE_VIRTUAL:
        for (size_t i = 0; i < result->virtual_count; i++)
            series_write(file.stream, &result->virtuals[i]);
        break;
    }
    return csv_close(&file, error, error_size);
}

static int anomalies_write(const struct batch_reconcile_result *result, const char *directory,
                           char *error, size_t error_size)
{
    struct csv_file file;
    if (csv_open(&file, directory, "anomalies.csv",
                 "meter_id,timestamp,value,z_score,anomaly_zscore,iqr_lower,iqr_upper,anomaly_iqr,"
                 "rolling_z_score,anomaly_rolling,anomaly_count,is_anomaly",
                 error, error_size) != 0)
        return -1;
    for (size_t a = 0; a < result->anomaly_count; a++) {
        const struct batch_anomaly_result *anomaly = &result->anomalies[a];
        for (size_t f = 0; f < anomaly->flag_count; f++) {
            size_t i = anomaly->flags[f].index;
            const struct batch_anomaly_day *day = &anomaly->flags[f].day;
            char time[BATCH_TIMESTAMP_SIZE], value[32], z[32], lower[32], upper[32], rolling[32];
            batch_timestamp_format(anomaly->series->t_ns[i], time);
            batch_float_format(day->value, value);
            batch_float_format(day->z_score, z);
            batch_float_format(anomaly->summary.iqr_lower, lower);
            batch_float_format(anomaly->summary.iqr_upper, upper);
            batch_float_format(day->rolling_z_score, rolling);
            csv_meter_id_write(file.stream, anomaly->series->meter_id);
            fprintf(file.stream, ",%s,%s,%s,%d,%s,%s,%d,%s,%d,%d,%d\n", time, value, z,
                    day->anomaly_zscore, lower, upper, day->anomaly_iqr, rolling,
                    day->anomaly_rolling, day->anomaly_count, day->is_anomaly);
        }
    }
    return csv_close(&file, error, error_size);
}

int batch_output_csv_write(const struct batch_reconcile_result *result, const char *directory,
                           char *error, size_t error_size)
{
    if (mkdir(directory, 0755) != 0 && errno != EEXIST) {
        snprintf(error, error_size, "%s: cannot create the output directory: %s", directory,
                 strerror(errno));
        return -1;
    }
    static const struct {
        const char *name;
        enum file_kind kind;
    } files[] = {
        {"daily.csv", FILE_DAILY},
        {"monthly.csv", FILE_MONTHLY},
        {"master_daily.csv", FILE_MASTER_DAILY},
        {"master_monthly.csv", FILE_MASTER_MONTHLY},
        {"consumption.csv", FILE_CONSUMPTION},
        {"virtual.csv", FILE_VIRTUAL},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (series_file_write(result, directory, files[i].name, files[i].kind, error, error_size) !=
            0)
            return -1;
    return anomalies_write(result, directory, error, error_size);
}
