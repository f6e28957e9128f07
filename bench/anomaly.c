/* bench-anomaly: the labelled detection benchmark (issue 5 item 7). Synthetic meters with known
 * truth (bench/anomaly/generate.h) are read by two detectors, and each is scored per kind of
 * event (bench/anomaly/score.h):
 * - the stream: every reading through stream_meter_reading_apply, UTC days, the meter's limits and
 *   (gas, heat) its seasonal pattern; its meter_anomaly days and typed events are the flags;
 * - the reference pipeline: the register at each UTC midnight interpolated blindly between the
 *   raw readings (numpy.interp: no glitch or reset handling), consumption the day-to-day
 *   difference clipped at 0 (first day 0), then its three-method vote (batch/anomaly_vote.h); its
 *   flagged days are the flags. It gets every reading (its own thinning of dense meters would
 *   leave ~51 readings per meter and hide nearly everything).
 * Also checked: no reset, replacement or transient zero may make the stream book a consumption
 * spike or flag an anomaly.
 *
 * Usage: bench-anomaly [--seed N] [--meters N] [--days N] [--trace]
 * --trace lists on stderr every truth event with its outcome and every false alert. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch/anomaly_vote.h"
#include "bench/anomaly/generate.h"
#include "bench/anomaly/score.h"
#include "config/tz.h"
#include "stream/meter.h"

#define DAY_NS STREAM_CALENDAR_NS_PER_DAY
#define CONSUMPTION_KINDS                                                                          \
    (1u << ANOMALY_SPIKE | 1u << ANOMALY_LEVEL_SHIFT | 1u << ANOMALY_LEAK | 1u << ANOMALY_STUCK)
#define ALL_KINDS ((1u << ANOMALY_FIRST_CONTROL) - 1)
#define F1_BAR 2.0

struct options {
    unsigned long long seed;
    unsigned meters;
    int days;
    bool trace;
};

/* What one detector produced on one meter: its flags and the use it booked per day. */
struct detection {
    const struct anomaly_meter *meter;
    struct anomaly_flags flags;
    double *consumption;
    int failed; /* out of memory while collecting */
};

struct detector_total {
    struct anomaly_score score;
    double seconds;
};

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + now.tv_nsec / 1e9;
}

/* The day whose use the stamp closes (consumption at midnight D is the use of day D - 1). */
static int closed_day(const struct anomaly_meter *meter, int64_t midnight_ns)
{
    return (int)((midnight_ns - meter->start_ns) / DAY_NS) - 1;
}

static void detection_flag(struct detection *detection, int day, enum anomaly_flag_class flag)
{
    if (anomaly_flags_add(&detection->flags, day, flag) != 0)
        detection->failed = 1;
}

static void stream_collect(const struct stream_emission *emission, void *argument)
{
    struct detection *detection = argument;
    const struct anomaly_meter *meter = detection->meter;
    static const int event_flags[] = {
        [STREAM_EVENT_RESET] = ANOMALY_FLAG_RESET,
        [STREAM_EVENT_REPLACEMENT] = ANOMALY_FLAG_REPLACEMENT,
        [STREAM_EVENT_GLITCH] = ANOMALY_FLAG_GLITCH,
        [STREAM_EVENT_NEGATIVE_DELTA] = -1, /* noise, said and discarded: not an alarm */
        [STREAM_EVENT_STUCK] = ANOMALY_FLAG_STUCK,
        [STREAM_EVENT_LEAK] = ANOMALY_FLAG_LEAK,
        [STREAM_EVENT_STALE] = ANOMALY_FLAG_STALE,
        [STREAM_EVENT_SPIKE_RATE] = ANOMALY_FLAG_SPIKE_RATE,
        [STREAM_EVENT_LATE_READING] = -1,
        [STREAM_EVENT_FUTURE_READING] = -1,
    };
    int day = closed_day(meter, emission->timestamp_ns);
    switch (emission->kind) {
    case STREAM_EMISSION_CONSUMPTION:
        if (day >= 0 && day < meter->days)
            detection->consumption[day] = emission->value;
        break;
    case STREAM_EMISSION_ANOMALY:
        detection_flag(detection, day, ANOMALY_FLAG_ANOMALY);
        break;
    case STREAM_EMISSION_EVENT:
        if ((size_t)emission->event < sizeof event_flags / sizeof event_flags[0] &&
            event_flags[emission->event] >= 0)
            detection_flag(detection, (int)((emission->timestamp_ns - meter->start_ns) / DAY_NS),
                           (enum anomaly_flag_class)event_flags[emission->event]);
        break;
    default:
        break;
    }
}

static void stream_detect(const struct anomaly_meter *meter, struct detection *detection)
{
    struct stream_calendar calendar = stream_calendar_utc();
    const struct stream_meter_context context = {
        .calendar = &calendar,
        .limits = &meter->limits,
        .seasonal_percentages = meter->seasonal ? meter->percentages : NULL,
    };
    struct stream_meter state = {0};
    for (size_t i = 0; i < meter->reading_count; i++)
        stream_meter_reading_apply(&state, &context, meter->times[i], meter->values[i],
                                   stream_collect, detection);
}

/* The reference's daily consumption: numpy.interp of the raw readings at every midnight from
 * the first reading to the last, differenced, clipped at 0, 0 on the first day; then its vote. */
static void reference_detect(const struct anomaly_meter *meter, struct detection *detection)
{
    const int64_t *t = meter->times;
    const double *v = meter->values;
    size_t n = meter->reading_count;
    int64_t first =
        n ? meter->start_ns + ((t[0] - meter->start_ns + DAY_NS - 1) / DAY_NS) * DAY_NS : 0;
    if (n < 2 || t[n - 1] < first)
        return;
    size_t count = (size_t)((t[n - 1] - first) / DAY_NS) + 1;
    double *series = malloc(count * sizeof *series);
    struct batch_anomaly_day *days = malloc(count * sizeof *days);
    if (!series || !days) {
        detection->failed = 1;
        free(series);
        free(days);
        return;
    }
    double previous = 0.0;
    size_t j = 0;
    for (size_t i = 0; i < count; i++) {
        int64_t midnight = first + (int64_t)i * DAY_NS;
        while (j + 1 < n && t[j + 1] <= midnight)
            j++;
        double value =
            t[j] == midnight
                ? v[j]
                : (v[j + 1] - v[j]) / (double)(t[j + 1] - t[j]) * (double)(midnight - t[j]) + v[j];
        series[i] = i == 0 ? 0.0 : fmax(value - previous, 0.0);
        previous = value;
        int day = closed_day(meter, midnight);
        if (i > 0 && day >= 0 && day < meter->days)
            detection->consumption[day] = series[i];
    }
    struct batch_anomaly_summary summary;
    if (batch_anomaly_vote_compute(series, count, days, &summary) != 0)
        detection->failed = 1;
    else if (summary.status == BATCH_ANOMALY_ANALYSED)
        for (size_t i = 0; i < count; i++)
            if (days[i].is_anomaly)
                detection_flag(detection, closed_day(meter, first + (int64_t)i * DAY_NS),
                               ANOMALY_FLAG_ANOMALY);
    free(series);
    free(days);
}

static int detection_start(struct detection *detection, const struct anomaly_meter *meter)
{
    *detection = (struct detection){.meter = meter};
    detection->consumption = malloc((size_t)meter->days * sizeof *detection->consumption);
    if (!detection->consumption)
        return -1;
    for (int day = 0; day < meter->days; day++)
        detection->consumption[day] = NAN;
    return 0;
}

static void detection_free(struct detection *detection)
{
    anomaly_flags_free(&detection->flags);
    free(detection->consumption);
}

/* Runs detect (named name) on meter `index` and on its fault-free twin, and scores them. Returns
 * 0, or -1 when out of memory. */
static int detector_run(const struct anomaly_meter *meter, const struct anomaly_meter *twin,
                        unsigned index, const char *name,
                        void (*detect)(const struct anomaly_meter *, struct detection *),
                        struct detector_total *total, bool trace)
{
    struct detection run, twin_run;
    int status = detection_start(&run, meter);
    if (detection_start(&twin_run, twin) != 0)
        status = -1;
    if (status == 0) {
        double start = seconds_now();
        detect(meter, &run);
        total->seconds += seconds_now() - start;
        detect(twin, &twin_run);
        status = run.failed || twin_run.failed ? -1 : 0;
    }
    if (status == 0) {
        char label[64];
        snprintf(label, sizeof label, "%s, meter %u (%s)", name, index,
                 anomaly_meter_kind_name(meter->kind));
        anomaly_score_add(meter, &run.flags, &total->score, trace ? stderr : NULL, label);
        anomaly_score_faults(meter, &run.flags, &twin_run.flags, run.consumption, &total->score);
    }
    detection_free(&run);
    detection_free(&twin_run);
    return status;
}

static void prf_print(const struct anomaly_prf *prf)
{
    if (prf->alerted)
        printf(" %4.2f | %4.2f | %4.2f |", prf->precision, prf->recall, prf->f1);
    else
        printf("    - | %4.2f | %4.2f |", prf->recall, prf->f1);
}

static void table_print(const struct detector_total *stream, const struct detector_total *reference)
{
    printf("| kind | truth | stream P | R | F1 | reference P | R | F1 |\n");
    printf("|------|------:|------:|------:|------:|------:|------:|------:|\n");
    for (int kind = 0; kind < ANOMALY_FIRST_CONTROL; kind++) {
        printf("| %s | %d |", anomaly_truth_kind_name(kind), stream->score.kinds[kind].events);
        struct anomaly_prf ours = anomaly_score_prf(&stream->score, 1u << kind, false);
        struct anomaly_prf theirs = anomaly_score_prf(&reference->score, 1u << kind, false);
        prf_print(&ours);
        prf_print(&theirs);
        printf("\n");
    }
    struct {
        const char *name;
        unsigned kinds;
    } overall[] = {
        {"overall", ALL_KINDS},
        {"overall, consumption kinds (spike, level_shift, leak, stuck)", CONSUMPTION_KINDS}};
    for (size_t i = 0; i < sizeof overall / sizeof overall[0]; i++) {
        int events = 0;
        for (int kind = 0; kind < ANOMALY_FIRST_CONTROL; kind++)
            if (overall[i].kinds & (1u << kind))
                events += stream->score.kinds[kind].events;
        printf("| %s | %d |", overall[i].name, events);
        struct anomaly_prf ours = anomaly_score_prf(&stream->score, overall[i].kinds, i == 0);
        struct anomaly_prf theirs = anomaly_score_prf(&reference->score, overall[i].kinds, i == 0);
        prf_print(&ours);
        prf_print(&theirs);
        printf("\n");
    }
    printf(
        "\n| control (must not be flagged) | count | flagged by the stream | by the reference |\n");
    printf("|------|------:|------:|------:|\n");
    for (int kind = ANOMALY_FIRST_CONTROL; kind < ANOMALY_TRUTH_KINDS; kind++)
        printf("| %s | %d | %d | %d |\n", anomaly_truth_kind_name(kind),
               stream->score.kinds[kind].events, stream->score.kinds[kind].detected,
               reference->score.kinds[kind].detected);
}

static void false_alerts_print(const char *name, const struct anomaly_score *score)
{
    int total = 0;
    for (int c = 0; c < ANOMALY_FLAG_CLASSES; c++)
        total += score->false_by_class[c];
    printf("false alerts, %s: %d (", name, total);
    for (int c = 0; c < ANOMALY_FLAG_CLASSES; c++)
        printf("%s%s %d", c ? ", " : "", anomaly_flag_class_name(c), score->false_by_class[c]);
    printf(")\n");
}

static int options_parse(int argc, char **argv, struct options *options)
{
    *options = (struct options){.seed = 1, .meters = 200, .days = 400};
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--trace") == 0) {
            options->trace = true;
            continue;
        }
        char *end = NULL;
        unsigned long long value = i + 1 < argc ? strtoull(argv[i + 1], &end, 10) : 0;
        bool number = end && end != argv[i + 1] && *end == '\0';
        if (strcmp(name, "--seed") == 0 && number)
            options->seed = value;
        else if (strcmp(name, "--meters") == 0 && number && value > 0 && value <= 1000000)
            options->meters = (unsigned)value;
        else if (strcmp(name, "--days") == 0 && number && value >= ANOMALY_MIN_DAYS &&
                 value <= 20000)
            options->days = (int)value;
        else {
            fprintf(stderr,
                    "usage: bench-anomaly [--seed N] [--meters 1..1000000] [--days %d..20000] "
                    "[--trace]\n"
                    "(defaults: --seed 1 --meters 200 --days 400)\n",
                    ANOMALY_MIN_DAYS);
            return -1;
        }
        i++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options options;
    if (options_parse(argc, argv, &options) != 0)
        return 2;
    /* From July: the warm-up is summer, the events meet a whole heating season. */
    int64_t start_ns = tz_days_from_civil(2023, 7, 1) * DAY_NS;
    struct detector_total stream = {0}, reference = {0};
    unsigned kinds[4] = {0};
    size_t readings = 0;
    double generate_seconds = 0.0;
    for (unsigned index = 0; index < options.meters; index++) {
        struct anomaly_meter meter, twin;
        double start = seconds_now();
        int status =
            anomaly_meter_generate(options.seed, index, options.days, start_ns, true, &meter);
        generate_seconds += seconds_now() - start;
        if (status == 0 && anomaly_meter_generate(options.seed, index, options.days, start_ns,
                                                  false, &twin) != 0) {
            anomaly_meter_free(&meter);
            status = -1;
        }
        if (status != 0) {
            fprintf(stderr, "bench-anomaly: out of memory at meter %u\n", index);
            return 1;
        }
        status =
            detector_run(&meter, &twin, index, "stream", stream_detect, &stream, options.trace);
        if (status == 0)
            status = detector_run(&meter, &twin, index, "reference", reference_detect, &reference,
                                  options.trace);
        kinds[meter.kind]++;
        readings += meter.reading_count;
        anomaly_meter_free(&meter);
        anomaly_meter_free(&twin);
        if (status != 0) {
            fprintf(stderr, "bench-anomaly: out of memory at meter %u\n", index);
            return 1;
        }
    }
    printf("bench-anomaly: seed %llu, %u meters (%u electricity, %u gas, %u heat, %u water) x %d "
           "days from 2023-07-01, %zu readings\n",
           options.seed, options.meters, kinds[ANOMALY_ELECTRICITY], kinds[ANOMALY_GAS],
           kinds[ANOMALY_HEAT], kinds[ANOMALY_WATER], options.days, readings);
    printf("time: generating %.2f s, stream %.2f s (%.2f M readings/s, collecting included), "
           "reference %.2f s\n\n",
           generate_seconds, stream.seconds, readings / stream.seconds / 1e6, reference.seconds);
    table_print(&stream, &reference);
    printf("\n");
    false_alerts_print("stream", &stream.score);
    false_alerts_print("reference", &reference.score);
    printf("resets, replacements and transient zeros (their day +-1): consumption days above the "
           "meter's largest true day: stream %d, reference %d; anomaly or spike_rate flags the "
           "fault-free twin did not get: stream %d, reference %d -> %s (must be 0 for the "
           "stream)\n",
           stream.score.fault_spike_days, reference.score.fault_spike_days,
           stream.score.fault_anomaly_flags, reference.score.fault_anomaly_flags,
           stream.score.fault_spike_days + stream.score.fault_anomaly_flags == 0 ? "ok" : "FAIL");
    struct anomaly_prf ours = anomaly_score_prf(&stream.score, ALL_KINDS, true);
    struct anomaly_prf theirs = anomaly_score_prf(&reference.score, ALL_KINDS, true);
    struct anomaly_prf ours_consumption =
        anomaly_score_prf(&stream.score, CONSUMPTION_KINDS, false);
    struct anomaly_prf theirs_consumption =
        anomaly_score_prf(&reference.score, CONSUMPTION_KINDS, false);
    double ratio = theirs.f1 > 0 ? ours.f1 / theirs.f1 : INFINITY;
    printf("F1 stream/reference: overall %.2f / %.2f = %.2f -> %s (bar >= %.0fx); consumption "
           "kinds %.2f / %.2f = %.2f\n",
           ours.f1, theirs.f1, ratio, ratio >= F1_BAR ? "ok" : "below the bar", F1_BAR,
           ours_consumption.f1, theirs_consumption.f1,
           theirs_consumption.f1 > 0 ? ours_consumption.f1 / theirs_consumption.f1 : INFINITY);
    return 0;
}
