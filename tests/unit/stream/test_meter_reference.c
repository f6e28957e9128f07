/* Reference agreement: each fixture scenario's readings, fed in time order into fresh meters with
 * UTC days, give the reference pipeline's daily registers, monthly values and consumption (within
 * 1e-9) on every day strictly between a meter's first and last reading, for meters with at most 100
 * readings (the reference thins denser ones). Where a reading goes backwards the reference
 * interpolates blindly; there the stream's event is asserted instead, and after a reset values are
 * compared without the register offset. The shared directory is ../shared unless NEBENKOSTEN_SHARED
 * says otherwise. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/tz.h"
#include "stream/meter.h"

#define REFERENCE_MAX_READINGS 100

struct row {
    char meter[64];
    int64_t t;
    double value;
    size_t order; /* position in the file, so equal timestamps keep their order */
};

struct table {
    struct row *rows;
    size_t count;
};

static const char *shared_directory(void)
{
    const char *shared = getenv("NEBENKOSTEN_SHARED");
    return shared && shared[0] ? shared : "../shared";
}

static int row_compare(const void *a, const void *b)
{
    const struct row *left = a, *right = b;
    int by_meter = strcmp(left->meter, right->meter);
    if (by_meter)
        return by_meter;
    if (left->t != right->t)
        return left->t < right->t ? -1 : 1;
    return left->order < right->order ? -1 : left->order > right->order;
}

/* Reads meter_id,timestamp,value (timestamps YYYY-MM-DDTHH:MM:SSZ), sorted by meter and time. */
static struct table table_read(const char *scenario, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/reference/%s/%s", shared_directory(), scenario, file);
    FILE *stream = fopen(path, "r");
    cr_assert_not_null(stream, "cannot open %s (set NEBENKOSTEN_SHARED)", path);
    struct table table = {0};
    size_t capacity = 0;
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, stream), "%s is empty", path);
    cr_assert_eq(strncmp(line, "meter_id,timestamp,value", 24), 0, "%s: header %s", path, line);
    while (fgets(line, sizeof line, stream)) {
        if (table.count == capacity) {
            capacity = capacity ? 2 * capacity : 1024;
            table.rows = realloc(table.rows, capacity * sizeof *table.rows);
            cr_assert_not_null(table.rows);
        }
        struct row *row = &table.rows[table.count];
        int year, month, day, hour, minute, second, used = 0;
        cr_assert_eq(sscanf(line, "%63[^,],%d-%d-%dT%d:%d:%dZ,%n", row->meter, &year, &month, &day,
                            &hour, &minute, &second, &used),
                     7, "%s: cannot read %s", path, line);
        char *end;
        row->value = strtod(line + used, &end);
        cr_assert_neq(end, line + used, "%s: no value in %s", path, line);
        row->t =
            (tz_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second) *
            STREAM_CALENDAR_NS_PER_SECOND;
        row->order = table.count++;
    }
    fclose(stream);
    qsort(table.rows, table.count, sizeof *table.rows, row_compare);
    return table;
}

static const struct row *table_find(const struct table *table, const char *meter, int64_t t)
{
    struct row key = {.t = t, .order = 0};
    snprintf(key.meter, sizeof key.meter, "%s", meter);
    size_t low = 0, high = table->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (row_compare(&table->rows[middle], &key) < 0)
            low = middle + 1;
        else
            high = middle;
    }
    if (low < table->count && strcmp(table->rows[low].meter, meter) == 0 && table->rows[low].t == t)
        return &table->rows[low];
    return NULL;
}

struct emissions {
    struct stream_emission *items;
    size_t count, capacity;
};

static void emissions_collect(const struct stream_emission *emission, void *argument)
{
    struct emissions *emissions = argument;
    if (emissions->count == emissions->capacity) {
        emissions->capacity = emissions->capacity ? 2 * emissions->capacity : 256;
        emissions->items =
            realloc(emissions->items, emissions->capacity * sizeof *emissions->items);
        cr_assert_not_null(emissions->items);
    }
    emissions->items[emissions->count++] = *emission;
}

static bool close_enough(double ours, double reference)
{
    return fabs(ours - reference) <= 1e-9 * fmax(fabs(reference), 1.0);
}

/* Whether midnight lies where a backward reading makes the reference differ on purpose: between
 * the reading before a decrease and the reading after it. */
static bool touched_by_decrease(const struct row *readings, size_t count, int64_t midnight)
{
    for (size_t k = 1; k < count; k++)
        if (readings[k].value < readings[k - 1].value && readings[k - 1].t < midnight &&
            (k + 1 == count || midnight < readings[k + 1].t))
            return true;
    return false;
}

struct agreement {
    size_t daily, monthly, consumption, events, meters;
};

struct reference {
    struct table daily, monthly, consumption;
};

static void meter_compare(const char *scenario, const struct row *readings, size_t count,
                          const struct reference *reference, struct agreement *agreement)
{
    struct stream_calendar utc = stream_calendar_utc();
    const struct stream_meter_context context = {.calendar = &utc};
    struct stream_meter meter = {0};
    struct emissions out = {0};
    for (size_t i = 0; i < count; i++)
        stream_meter_reading_apply(&meter, &context, readings[i].t, readings[i].value,
                                   emissions_collect, &out);
    const char *id = readings[0].meter;
    int64_t first = readings[0].t, last = readings[count - 1].t;
    for (size_t i = 0; i < out.count; i++) {
        const struct stream_emission *emission = &out.items[i];
        int64_t t = emission->timestamp_ns;
        if (emission->kind == STREAM_EMISSION_EVENT || emission->kind == STREAM_EMISSION_ANOMALY ||
            t <= first || t >= last || touched_by_decrease(readings, count, t))
            continue;
        /* Days outside the reference's grid (installation, removal, start_year) are not
         * compared, nor its monthly value for a month the grid leaves early. */
        if (!table_find(&reference->daily, id, t))
            continue;
        if (emission->kind == STREAM_EMISSION_DAILY || emission->kind == STREAM_EMISSION_MONTHLY) {
            bool monthly = emission->kind == STREAM_EMISSION_MONTHLY;
            const struct row *expected =
                table_find(monthly ? &reference->monthly : &reference->daily, id, t);
            cr_assert_not_null(expected, "%s/%s: no reference monthly value at %lld", scenario, id,
                               (long long)t);
            cr_expect(close_enough(emission->value - emission->offset, expected->value),
                      "%s/%s %s at %lld: %.17g, reference %.17g", scenario, id,
                      monthly ? "monthly" : "daily", (long long)t,
                      emission->value - emission->offset, expected->value);
            *(monthly ? &agreement->monthly : &agreement->daily) += 1;
            continue;
        }
        /* The day before must also lie after the first reading and away from a decrease. */
        int64_t day_before = t - STREAM_CALENDAR_NS_PER_DAY;
        const struct row *expected = table_find(&reference->consumption, id, t);
        if (day_before <= first || touched_by_decrease(readings, count, day_before) || !expected ||
            !table_find(&reference->daily, id, day_before))
            continue;
        cr_expect(close_enough(emission->value, expected->value),
                  "%s/%s consumption at %lld: %.17g, reference %.17g", scenario, id, (long long)t,
                  emission->value, expected->value);
        agreement->consumption++;
    }
    /* Every decided decrease left its event at the reading that went backwards. */
    for (size_t k = 1; k + 1 < count; k++) {
        if (readings[k].value >= readings[k - 1].value)
            continue;
        bool found = false;
        for (size_t i = 0; i < out.count && !found; i++)
            found = out.items[i].kind == STREAM_EMISSION_EVENT &&
                    out.items[i].timestamp_ns == readings[k].t &&
                    (out.items[i].event == STREAM_EVENT_NEGATIVE_DELTA ||
                     out.items[i].event == STREAM_EVENT_GLITCH ||
                     out.items[i].event == STREAM_EVENT_RESET ||
                     out.items[i].event == STREAM_EVENT_REPLACEMENT);
        cr_expect(found,
                  "%s/%s: no negative_delta, glitch, reset or replacement for the reading at %lld",
                  scenario, id, (long long)readings[k].t);
        agreement->events += found;
    }
    agreement->meters++;
    free(out.items);
}

static struct agreement scenario_compare(const char *scenario)
{
    struct table readings = table_read(scenario, "input/readings.csv");
    struct reference reference = {
        .daily = table_read(scenario, "output/daily.csv"),
        .monthly = table_read(scenario, "output/monthly.csv"),
        .consumption = table_read(scenario, "output/consumption.csv"),
    };
    struct agreement agreement = {0};
    for (size_t start = 0, end; start < readings.count; start = end) {
        for (end = start + 1; end < readings.count &&
                              strcmp(readings.rows[end].meter, readings.rows[start].meter) == 0;
             end++)
            ;
        if (end - start <= REFERENCE_MAX_READINGS)
            meter_compare(scenario, &readings.rows[start], end - start, &reference, &agreement);
    }
    free(readings.rows);
    free(reference.daily.rows);
    free(reference.monthly.rows);
    free(reference.consumption.rows);
    return agreement;
}

Test(stream_reference, daily_and_consumption_agree_between_first_and_last_reading)
{
    char directory[1024];
    snprintf(directory, sizeof directory, "%s/fixtures/reference", shared_directory());
    DIR *scenarios = opendir(directory);
    cr_assert_not_null(scenarios, "cannot open %s (set NEBENKOSTEN_SHARED)", directory);
    struct agreement total = {0};
    size_t covered = 0;
    struct dirent *entry;
    while ((entry = readdir(scenarios))) {
        char path[2048];
        struct stat status;
        snprintf(path, sizeof path, "%s/%s/input/readings.csv", directory, entry->d_name);
        if (entry->d_name[0] == '.' || stat(path, &status) != 0)
            continue;
        struct agreement agreement = scenario_compare(entry->d_name);
        fprintf(stderr,
                "stream_reference: %-22s %2zu meters, %5zu days, %3zu months, %5zu consumption "
                "days, %zu decrease events\n",
                entry->d_name, agreement.meters, agreement.daily, agreement.monthly,
                agreement.consumption, agreement.events);
        covered += agreement.daily > 0;
        total.daily += agreement.daily;
        total.monthly += agreement.monthly;
        total.consumption += agreement.consumption;
        total.events += agreement.events;
    }
    closedir(scenarios);
    cr_assert_gt(total.daily, 0, "no day was compared");
    cr_assert_gt(total.monthly, 0, "no month was compared");
    cr_assert_gt(total.consumption, 0, "no consumption day was compared");
    cr_assert_gt(total.events, 0, "no decrease was checked");
    cr_assert_geq(covered, 10, "only %zu scenarios had days to compare", covered);
}
