#include "bench/anomaly/score.h"

#include <stdlib.h>

#define CLASS(name) (1u << ANOMALY_FLAG_##name)
#define ALERT_GAP_DAYS 2   /* flags this close belong to one alert */
#define MATCH_SLACK_DAYS 1 /* an event's days, widened on both sides */

/* The flag classes that detect each kind (none for controls). */
static const unsigned kind_accepts[ANOMALY_TRUTH_KINDS] = {
    [ANOMALY_SPIKE] = CLASS(ANOMALY) | CLASS(SPIKE_RATE),
    [ANOMALY_LEVEL_SHIFT] = CLASS(ANOMALY) | CLASS(SPIKE_RATE),
    [ANOMALY_LEAK] = CLASS(LEAK) | CLASS(ANOMALY),
    [ANOMALY_STUCK] = CLASS(STUCK) | CLASS(ANOMALY) | CLASS(SPIKE_RATE),
    [ANOMALY_RESET] = CLASS(RESET),
    [ANOMALY_REPLACEMENT] = CLASS(REPLACEMENT),
    [ANOMALY_TRANSIENT_ZERO] = CLASS(GLITCH),
};

/* The kind a false alert of each class counts against; ANOMALY_TRUTH_KINDS: none. */
static const enum anomaly_truth_kind class_kind[ANOMALY_FLAG_CLASSES] = {
    [ANOMALY_FLAG_ANOMALY] = ANOMALY_SPIKE,
    [ANOMALY_FLAG_SPIKE_RATE] = ANOMALY_SPIKE,
    [ANOMALY_FLAG_STUCK] = ANOMALY_STUCK,
    [ANOMALY_FLAG_LEAK] = ANOMALY_LEAK,
    [ANOMALY_FLAG_RESET] = ANOMALY_RESET,
    [ANOMALY_FLAG_REPLACEMENT] = ANOMALY_REPLACEMENT,
    [ANOMALY_FLAG_GLITCH] = ANOMALY_TRANSIENT_ZERO,
    [ANOMALY_FLAG_STALE] = ANOMALY_TRUTH_KINDS,
};

const char *anomaly_flag_class_name(enum anomaly_flag_class flag_class)
{
    static const char *const names[ANOMALY_FLAG_CLASSES] = {
        "anomaly", "spike_rate", "stuck", "leak", "reset", "replacement", "glitch", "stale"};
    return flag_class < ANOMALY_FLAG_CLASSES ? names[flag_class] : "unknown";
}

int anomaly_flags_add(struct anomaly_flags *flags, int day, enum anomaly_flag_class flag_class)
{
    if (flags->count == flags->capacity) {
        size_t capacity = flags->capacity ? 2 * flags->capacity : 64;
        struct anomaly_flag *items = realloc(flags->items, capacity * sizeof *items);
        if (!items)
            return -1;
        flags->items = items;
        flags->capacity = capacity;
    }
    flags->items[flags->count++] = (struct anomaly_flag){.day = day, .flag_class = flag_class};
    return 0;
}

void anomaly_flags_free(struct anomaly_flags *flags)
{
    free(flags->items);
    *flags = (struct anomaly_flags){0};
}

static int flag_compare(const void *a, const void *b)
{
    const struct anomaly_flag *left = a, *right = b;
    if (left->flag_class != right->flag_class)
        return left->flag_class < right->flag_class ? -1 : 1;
    return (left->day > right->day) - (left->day < right->day);
}

static bool days_meet(int first, int last, const struct anomaly_truth *truth)
{
    return first <= truth->last_day + MATCH_SLACK_DAYS &&
           last >= truth->first_day - MATCH_SLACK_DAYS;
}

/* Where trace lines go, and how they start. */
struct trace {
    FILE *stream;
    const char *label;
};

/* One alert: days first..last of one class. */
static void alert_score(const struct anomaly_meter *meter, enum anomaly_flag_class flag_class,
                        int first, int last, bool *detected, struct anomaly_score *score,
                        const struct trace *trace)
{
    bool matched = false;
    for (int i = 0; i < meter->truth_count; i++) {
        const struct anomaly_truth *truth = &meter->truths[i];
        if (!days_meet(first, last, truth))
            continue;
        if (truth->kind >= ANOMALY_FIRST_CONTROL) {
            detected[i] = true; /* a flagged control */
        } else if (kind_accepts[truth->kind] & (1u << flag_class)) {
            if (!matched)
                score->kinds[truth->kind].true_alerts++;
            matched = detected[i] = true;
        }
    }
    if (matched)
        return;
    if (trace->stream)
        fprintf(trace->stream, "%s: false alert %s, days %d-%d\n", trace->label,
                anomaly_flag_class_name(flag_class), first, last);
    score->false_by_class[flag_class]++;
    if (class_kind[flag_class] < ANOMALY_TRUTH_KINDS)
        score->kinds[class_kind[flag_class]].false_alerts++;
    else
        score->false_other++;
}

void anomaly_score_add(const struct anomaly_meter *meter, struct anomaly_flags *flags,
                       struct anomaly_score *score, FILE *trace, const char *label)
{
    const struct trace where = {.stream = trace, .label = label};
    bool detected[ANOMALY_MAX_TRUTHS] = {false};
    if (flags->count)
        qsort(flags->items, flags->count, sizeof *flags->items, flag_compare);
    for (size_t start = 0, end; start < flags->count; start = end) {
        const struct anomaly_flag *first = &flags->items[start];
        int last_day = first->day;
        for (end = start + 1;
             end < flags->count && flags->items[end].flag_class == first->flag_class &&
             flags->items[end].day <= last_day + ALERT_GAP_DAYS;
             end++)
            last_day = flags->items[end].day;
        alert_score(meter, first->flag_class, first->day, last_day, detected, score, &where);
    }
    for (int i = 0; i < meter->truth_count; i++) {
        const struct anomaly_truth *truth = &meter->truths[i];
        score->kinds[truth->kind].events++;
        score->kinds[truth->kind].detected += detected[i];
        static const char *const outcomes[2][2] = {{"missed", "detected"}, {"clean", "flagged"}};
        if (trace)
            fprintf(trace, "%s: %s %s, days %d-%d\n", label, anomaly_truth_kind_name(truth->kind),
                    outcomes[truth->kind >= ANOMALY_FIRST_CONTROL][detected[i]], truth->first_day,
                    truth->last_day);
    }
}

static bool flag_is_vote(const struct anomaly_flag *flag)
{
    return flag->flag_class == ANOMALY_FLAG_ANOMALY || flag->flag_class == ANOMALY_FLAG_SPIKE_RATE;
}

static bool flags_contain(const struct anomaly_flags *flags, const struct anomaly_flag *flag)
{
    for (size_t k = 0; k < flags->count; k++)
        if (flags->items[k].day == flag->day && flags->items[k].flag_class == flag->flag_class)
            return true;
    return false;
}

void anomaly_score_faults(const struct anomaly_meter *meter, const struct anomaly_flags *flags,
                          const struct anomaly_flags *twin_flags, const double *consumption,
                          struct anomaly_score *score)
{
    for (int i = 0; i < meter->truth_count; i++) {
        const struct anomaly_truth *truth = &meter->truths[i];
        if (truth->kind != ANOMALY_RESET && truth->kind != ANOMALY_REPLACEMENT &&
            truth->kind != ANOMALY_TRANSIENT_ZERO)
            continue;
        for (int day = truth->first_day - MATCH_SLACK_DAYS;
             day <= truth->last_day + MATCH_SLACK_DAYS; day++)
            if (day >= 0 && day < meter->days && consumption[day] > meter->max_true_day)
                score->fault_spike_days++;
        for (size_t k = 0; k < flags->count; k++) {
            const struct anomaly_flag *flag = &flags->items[k];
            if (flag_is_vote(flag) && days_meet(flag->day, flag->day, truth) &&
                !flags_contain(twin_flags, flag))
                score->fault_anomaly_flags++;
        }
    }
}

struct anomaly_prf anomaly_score_prf(const struct anomaly_score *score, unsigned kinds,
                                     bool with_other)
{
    int events = 0, detected = 0, true_alerts = 0,
        false_alerts = with_other ? score->false_other : 0;
    for (int kind = 0; kind < ANOMALY_FIRST_CONTROL; kind++) {
        if (!(kinds & (1u << kind)))
            continue;
        events += score->kinds[kind].events;
        detected += score->kinds[kind].detected;
        true_alerts += score->kinds[kind].true_alerts;
        false_alerts += score->kinds[kind].false_alerts;
    }
    struct anomaly_prf prf = {.alerted = true_alerts + false_alerts > 0};
    prf.recall = events ? (double)detected / events : 0.0;
    prf.precision = prf.alerted ? (double)true_alerts / (true_alerts + false_alerts) : 0.0;
    double sum = prf.precision + prf.recall;
    prf.f1 = sum > 0 ? 2 * prf.precision * prf.recall / sum : 0.0;
    return prf;
}
