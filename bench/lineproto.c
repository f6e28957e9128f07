/* bench-lineproto: throughput of the line-protocol parser and normaliser on one thread.
 *
 * Cases: (a) 30-byte lines, (b) Telegraf-like cpu/mem/disk lines of ~200 bytes, (c) a 1.3 KB
 * line with 50 fields, (d) escapes in every element. Each case is repeated into >= 64 MiB of
 * input; each measurement is the best of 5 runs over all of it. A checksum over what the parser
 * reports is printed so the compiler cannot drop the work.
 * Usage: bench-lineproto [MiB per case, default 64] [cases, default abcd]. */
#include "relay/lineproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_RUNS 5

struct bench_case {
    const char *name;
    const char *description;
    /* Appends line number `index` (ending in "\n") to out. Returns 0 or -ENOMEM. */
    int (*line_append)(struct buffer *out, size_t index);
};

static int bench_printf_append(struct buffer *out, const char *text, int length)
{
    if (length < 0)
        return -1;
    return buffer_append(out, text, (size_t)length);
}

static int bench_short_append(struct buffer *out, size_t index)
{
    (void)index;
    static const char line[] = "x,t=y y=1 1602841605822791506\n";
    return buffer_append(out, line, sizeof line - 1);
}

static int bench_telegraf_append(struct buffer *out, size_t index)
{
    char line[512];
    int length;
    unsigned host = (unsigned)(index % 7);
    long long time = 1602841605000000000LL + (long long)index * 10000000LL;
    switch (index % 3) {
    case 0:
        length =
            snprintf(line, sizeof line,
                     "cpu,cpu=cpu%u,host=server%02u.example.org,dc=eu-central-1 "
                     "usage_user=%u.%03u,usage_system=%u.%02u,usage_idle=%u.%04u,"
                     "usage_iowait=0.%03u,usage_irq=0,usage_steal=0.25 %lld\n",
                     (unsigned)(index % 16), host, (unsigned)(index % 97), (unsigned)(index % 1000),
                     (unsigned)(index % 13), (unsigned)(index % 100), 60 + (unsigned)(index % 39),
                     (unsigned)(index % 10000), (unsigned)(index % 1000), time);
        break;
    case 1:
        length = snprintf(line, sizeof line,
                          "mem,host=server%02u.example.org,dc=eu-central-1 "
                          "active=%lluu,available=%lldi,available_percent=%u.%06u,"
                          "buffered=%zui,cached=%zui,free=%zui,used_percent=%u.%05u %lld\n",
                          host, 8123456789ULL + index, 16000000000LL - (long long)index,
                          (unsigned)(index % 100), (unsigned)(index % 1000000), index * 4096,
                          index * 8192 + 7, 1000000 + index, (unsigned)(index % 100),
                          (unsigned)(index % 100000), time);
        break;
    default:
        length = snprintf(line, sizeof line,
                          "disk,device=nvme0n1p%u,fstype=ext4,host=server%02u.example.org,"
                          "mode=rw,path=/var/lib/data "
                          "free=%zui,inodes_free=%zui,total=512110190592i,used=%zui,"
                          "used_percent=%u.%08u,ok=true %lld\n",
                          (unsigned)(index % 4), host, 400000000000 - index, 31000000 - index,
                          112110190592 + index, (unsigned)(index % 100),
                          (unsigned)(index % 100000000), time);
        break;
    }
    return bench_printf_append(out, line, length);
}

static int bench_wide_append(struct buffer *out, size_t index)
{
    char line[2048];
    int length = snprintf(line, sizeof line, "wide_measurement,host=server%02u,region=eu ",
                          (unsigned)(index % 10));
    for (unsigned field = 0; field < 50; field++) {
        const char *separator = field == 49 ? " " : ",";
        unsigned value = (unsigned)((index * 31 + field * 7919) % 1000000);
        switch (field % 5) {
        case 0:
        case 1:
            length += snprintf(line + length, sizeof line - (size_t)length,
                               "field_name_%02u=%u.%06u%s", field, value % 10000, value, separator);
            break;
        case 2:
            length +=
                snprintf(line + length, sizeof line - (size_t)length,
                         "field_name_%02u=-%u.%04ue-3%s", field, value, value % 10000, separator);
            break;
        case 3:
            length += snprintf(line + length, sizeof line - (size_t)length,
                               "field_name_%02u=%u%06ui%s", field, value, value, separator);
            break;
        default:
            length += snprintf(line + length, sizeof line - (size_t)length, "field_name_%02u=%s%s",
                               field, value % 2 ? "true" : "false", separator);
            break;
        }
    }
    length += snprintf(line + length, sizeof line - (size_t)length, "%lld\n",
                       1602841605822791506LL + (long long)index);
    return bench_printf_append(out, line, length);
}

static int bench_escaped_append(struct buffer *out, size_t index)
{
    char line[512];
    int length = snprintf(line, sizeof line,
                          "my\\ meter\\,reading,tag\\ key\\=1=tag\\,value\\ %u,room=living\\ room "
                          "field\\ key\\=a=\"say \\\"hello\\\" to C:\\\\temp\\\\%u\","
                          "other\\,field=%u.5,count\\ total=%ui 1602841605822791506\n",
                          (unsigned)(index % 100), (unsigned)(index % 10), (unsigned)(index % 997),
                          (unsigned)index);
    return bench_printf_append(out, line, length);
}

static const struct bench_case bench_cases[] = {
    {"a", "30-byte lines x,t=y y=1 <ns>", bench_short_append},
    {"b", "Telegraf-like cpu/mem/disk lines (~200 bytes)", bench_telegraf_append},
    {"c", "1.3 KB lines with 50 fields", bench_wide_append},
    {"d", "escapes in every element", bench_escaped_append},
};

static double bench_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Parses input once; returns a checksum over the parsed points (or 0 after an error). */
static uint64_t bench_parse_run(struct lineproto_parser *parser, const struct buffer *input,
                                size_t *lines)
{
    struct lineproto_point point;
    struct lineproto_error error;
    uint64_t checksum = 0;
    size_t count = 0;
    lineproto_parser_start(parser, input->data, input->length, LINEPROTO_PRECISION_NANOSECOND);
    for (;;) {
        enum lineproto_status status = lineproto_parser_next(parser, &point, &error);
        if (status == LINEPROTO_END)
            break;
        if (status != LINEPROTO_POINT) {
            fprintf(stderr, "bench-lineproto: line %zu rejected: %s\n", error.line_number,
                    error.reason);
            return 0;
        }
        count++;
        checksum += point.measurement.length + point.tag_count * 31 + point.field_count * 17 +
                    (uint64_t)point.time;
        const struct lineproto_field *last = &point.fields[point.field_count - 1];
        checksum += last->value.length + (uint64_t)last->as.integer;
    }
    *lines = count;
    return checksum;
}

/* Normalises input once into out; returns a checksum over the output. */
static uint64_t bench_normalise_run(struct lineproto_parser *parser, const struct buffer *input,
                                    struct buffer *out, size_t *lines)
{
    struct lineproto_normalise_result result;
    buffer_clear(out);
    if (lineproto_normalise(parser, input->data, input->length, LINEPROTO_PRECISION_NANOSECOND,
                            1602841605822791506LL, out, &result) != 0 ||
        result.rejected != 0) {
        fprintf(stderr, "bench-lineproto: normalise failed (%zu rejected)\n", result.rejected);
        return 0;
    }
    *lines = result.accepted;
    return out->length + (unsigned char)out->data[out->length / 2];
}

int main(int argc, char **argv)
{
    size_t mebibytes = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 64;
    const char *selected = argc > 2 ? argv[2] : "abcd";
    if (mebibytes == 0 || argc > 3) {
        fprintf(stderr,
                "usage: bench-lineproto [MiB per case, default 64] [cases, default abcd]\n");
        return 2;
    }
    struct lineproto_parser *parser = lineproto_parser_create();
    struct buffer input = BUFFER_INITIALIZER, output = BUFFER_INITIALIZER;
    int status = 1;
    if (!parser)
        goto cleanup;
    printf("%-4s %-48s %-10s %10s %14s %18s\n", "case", "input", "mode", "MB/s", "lines/s",
           "checksum");
    for (size_t c = 0; c < sizeof bench_cases / sizeof bench_cases[0]; c++) {
        const struct bench_case *bench = &bench_cases[c];
        if (!strchr(selected, bench->name[0]))
            continue;
        buffer_clear(&input);
        size_t line_count = 0;
        while (input.length < mebibytes << 20)
            if (bench->line_append(&input, line_count++) != 0)
                goto cleanup;
        for (int mode = 0; mode < 2; mode++) {
            double best = 1e30;
            uint64_t checksum = 0;
            size_t lines = 0;
            for (int run = 0; run < BENCH_RUNS; run++) {
                double start = bench_seconds();
                checksum = mode == 0 ? bench_parse_run(parser, &input, &lines)
                                     : bench_normalise_run(parser, &input, &output, &lines);
                double elapsed = bench_seconds() - start;
                if (checksum == 0 || lines != line_count)
                    goto cleanup;
                if (elapsed < best)
                    best = elapsed;
            }
            printf("%-4s %-48s %-10s %10.0f %14.0f %18llu\n", bench->name, bench->description,
                   mode == 0 ? "parse" : "normalise", (double)input.length / best / 1e6,
                   (double)lines / best, (unsigned long long)checksum);
            fflush(stdout);
        }
    }
    status = 0;
cleanup:
    if (status != 0)
        fprintf(stderr, "bench-lineproto: failed\n");
    buffer_release(&input);
    buffer_release(&output);
    lineproto_parser_destroy(parser);
    return status;
}
