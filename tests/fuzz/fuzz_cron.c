/* libFuzzer target for cron expressions (the schedule of meter-batch's jobs): the first 4 input
 * bytes choose the start instant (1970 to 2106), the next one the time zone, the rest is the
 * expression. What must always hold: no crash, hang or out-of-bounds read; an error has a
 * message; an expression that parses gives a next fire time strictly after the start, or -1;
 * in UTC that time matches the expression, and (when it is under two days away) no minute
 * before it does, so the scheduler neither skips nor repeats a run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_require(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_cron: invariant broken: %s\n", what);
        abort();
    }
}

/* Whether the UTC minute starting at seconds matches expression (crontab(5), Vixie's day rule). */
static bool fuzz_matches(const struct cron_expression *expression, int64_t seconds)
{
    struct tz_local_time local;
    tz_zone_local_time(NULL, seconds, &local);
    if (!(expression->minutes >> local.minute & 1) || !(expression->hours >> local.hour & 1) ||
        !(expression->months >> local.month & 1))
        return false;
    bool day_of_month = expression->days_of_month >> local.day & 1;
    bool day_of_week = expression->days_of_week >> local.weekday & 1;
    if (expression->day_of_month_restricted && expression->day_of_week_restricted)
        return day_of_month || day_of_week;
    return day_of_month && day_of_week;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const zone_names[] = {"Europe/Berlin", "America/New_York",
                                             "Australia/Lord_Howe", "Asia/Kolkata"};
    static struct tz_zone *zones[sizeof zone_names / sizeof zone_names[0]];
    static bool loaded;
    if (!loaded) {
        for (size_t i = 0; i < sizeof zone_names / sizeof zone_names[0]; i++) {
            char error[256];
            zones[i] = tz_zone_load(zone_names[i], error, sizeof error);
            fuzz_require(zones[i] != NULL, error);
        }
        loaded = true;
    }
    if (size < 5)
        return 0;
    int64_t after = (int64_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                              (uint32_t)data[2] << 8 | data[3]);
    size_t zone_index = data[4] % (sizeof zone_names / sizeof zone_names[0] + 1);
    const struct tz_zone *zone = zone_index == 0 ? NULL : zones[zone_index - 1];
    /* An exactly sized NUL-terminated copy: reads past the end are caught by ASan. */
    char *text = malloc(size - 4);
    fuzz_require(text != NULL, "memory");
    memcpy(text, data + 5, size - 5);
    text[size - 5] = '\0';
    struct cron_expression expression;
    char error[256] = "";
    if (cron_expression_parse(text, &expression, error, sizeof error) != 0) {
        fuzz_require(error[0] != '\0', "an error has a message");
        free(text);
        return 0;
    }
    int64_t next = cron_expression_next(&expression, zone, after);
    fuzz_require(next == -1 || next > after, "next is after the start");
    if (next != -1 && zone == NULL) {
        fuzz_require(next % 60 == 0, "next is on a minute");
        fuzz_require(fuzz_matches(&expression, next), "next matches the expression");
        if (next - after <= 2 * 86400)
            for (int64_t minute = (after / 60 + 1) * 60; minute < next; minute += 60)
                fuzz_require(!fuzz_matches(&expression, minute), "no earlier minute matches");
    }
    free(text);
    return 0;
}
