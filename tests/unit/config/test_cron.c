#include <criterion/criterion.h>

#include <string.h>
#include <time.h>

#include "config/cron.h"
#include "config/tz.h"

static int64_t cron_test_utc(int year, int month, int day, int hour, int minute)
{
    return tz_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60;
}

static struct cron_expression cron_test_parse(const char *text)
{
    struct cron_expression expression;
    char error[256] = "";
    cr_assert_eq(cron_expression_parse(text, &expression, error, sizeof error), 0,
                 "parsing \"%s\": %s", text, error);
    return expression;
}

static void cron_test_parse_error(const char *text, const char *expected)
{
    struct cron_expression expression;
    char error[256] = "";
    cr_assert_eq(cron_expression_parse(text, &expression, error, sizeof error), -1,
                 "accepted \"%s\"", text);
    cr_assert_str_eq(error, expected, "for \"%s\"", text);
}

static struct tz_zone *cron_test_zone(const char *name)
{
    char error[256] = "";
    struct tz_zone *zone = tz_zone_load(name, error, sizeof error);
    cr_assert_not_null(zone, "%s", error);
    return zone;
}

Test(cron_parse, star_numbers_lists_ranges_steps)
{
    struct cron_expression e = cron_test_parse("*/15 1,5,10 1-5 * *");
    cr_assert_eq(e.minutes, (1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45));
    cr_assert_eq(e.hours, (1u << 1) | (1u << 5) | (1u << 10));
    cr_assert_eq(e.days_of_month, 0x3eu); /* 1-5 */
    cr_assert_eq(e.months, 0x1ffe);       /* 1-12 */
    cr_assert_eq(e.days_of_week, 0x7f);
    cr_assert(e.day_of_month_restricted);
    cr_assert_not(e.day_of_week_restricted);

    e = cron_test_parse("1-30/5 5/15 * * *");
    cr_assert_eq(e.minutes, (1ull << 1) | (1ull << 6) | (1ull << 11) | (1ull << 16) | (1ull << 21) |
                                (1ull << 26));
    cr_assert_eq(e.hours, (1u << 5) | (1u << 20));
    cr_assert_eq(e.minutes & ~((1ull << 60) - 1), 0);
}

Test(cron_parse, names_and_sunday_as_seven)
{
    struct cron_expression e = cron_test_parse("0 0 * jan-MAR,Dec Mon-fri");
    cr_assert_eq(e.months, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 12));
    cr_assert_eq(e.days_of_week, 0x3e);
    cr_assert(e.day_of_week_restricted);
    cr_assert_eq(cron_test_parse("0 0 * * 7").days_of_week, 1);
    cr_assert_eq(cron_test_parse("0 0 * * 5-7").days_of_week, (1 << 5) | (1 << 6) | 1);
    cr_assert_eq(cron_test_parse("0 0 * * SUN").days_of_week, 1);
    /* A step over '*' does not count as restricted (crontab(5): the field starts with '*'). */
    struct cron_expression stepped = cron_test_parse("0 0 */2 * 1");
    cr_assert_not(stepped.day_of_month_restricted);
    cr_assert(stepped.day_of_week_restricted);
}

Test(cron_parse, shortcuts)
{
    struct cron_expression daily = cron_test_parse("@daily");
    struct cron_expression expanded = cron_test_parse("0 0 * * *");
    cr_assert_eq(daily.minutes, expanded.minutes);
    cr_assert_eq(daily.hours, 1);
    cr_assert_eq(daily.days_of_month, expanded.days_of_month);
    cr_assert_eq(daily.months, expanded.months);
    cr_assert_eq(daily.days_of_week, expanded.days_of_week);
    cr_assert_eq(daily.day_of_month_restricted, false);
    cr_assert_eq(daily.day_of_week_restricted, false);
    cr_assert_eq(cron_test_parse("@hourly").hours, 0xffffff);
    cron_test_parse_error("@reboot", "\"@reboot\" is not a known shortcut; expected @yearly, "
                                     "@monthly, @weekly, @daily or @hourly, or five fields");
}

Test(cron_parse, error_messages_name_the_field)
{
    cron_test_parse_error("0 0 * * 8", "day-of-week: \"8\" is out of range 0-7");
    cron_test_parse_error("60 * * * *", "minute: \"60\" is out of range 0-59");
    cron_test_parse_error("0 24 * * *", "hour: \"24\" is out of range 0-23");
    cron_test_parse_error("0 0 0 * *", "day-of-month: \"0\" is out of range 1-31");
    cron_test_parse_error("0 0 * 13 *", "month: \"13\" is out of range 1-12");
    cron_test_parse_error("0 0 * foo *",
                          "month: \"foo\" is not a number 1-12 or a month name jan-dec");
    cron_test_parse_error("0 0 * * monday",
                          "day-of-week: \"monday\" is not a number 0-7 or a weekday name sun-sat");
    cron_test_parse_error("x * * * *", "minute: \"x\" is not a number 0-59");
    cron_test_parse_error("1x * * * *", "minute: \"1x\" is not a number");
    cron_test_parse_error("*/0 * * * *", "minute: step \"0\" in \"*/0\" must be a number 1-60");
    cron_test_parse_error("* */ * * *", "hour: step \"\" in \"*/\" must be a number 1-24");
    cron_test_parse_error("* 5-1 * * *", "hour: range \"5-1\" runs backwards; expected low-high");
    cron_test_parse_error("1,,2 * * * *", "minute: empty list element; expected a number, a range "
                                          "a-b, * or a step /n");
    cron_test_parse_error("* * *", "expected 5 fields (minute hour day-of-month month "
                                   "day-of-week), found 3");
    cron_test_parse_error("* * * * * *", "expected 5 fields (minute hour day-of-month month "
                                         "day-of-week), found 6");
    cron_test_parse_error("", "expected 5 fields (minute hour day-of-month month day-of-week), "
                              "found 0");
}

Test(cron_next, daily_in_utc)
{
    struct cron_expression e = cron_test_parse("0 2 * * *");
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2024, 5, 10, 12, 0)),
                 cron_test_utc(2024, 5, 11, 2, 0));
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2024, 5, 11, 1, 59) + 30),
                 cron_test_utc(2024, 5, 11, 2, 0));
    /* Strictly after: the fire time itself gives the next day. */
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2024, 5, 11, 2, 0)),
                 cron_test_utc(2024, 5, 12, 2, 0));
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2024, 12, 31, 3, 0)),
                 cron_test_utc(2025, 1, 1, 2, 0));
}

Test(cron_next, hourly_at_five_past)
{
    struct cron_expression e = cron_test_parse("5 * * * *");
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2024, 5, 10, 10, 5)),
                 cron_test_utc(2024, 5, 10, 11, 5));
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2024, 5, 10, 10, 5) - 1),
                 cron_test_utc(2024, 5, 10, 10, 5));
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2024, 5, 10, 23, 30)),
                 cron_test_utc(2024, 5, 11, 0, 5));
}

Test(cron_next, berlin_skipped_and_repeated_hour)
{
    struct tz_zone *berlin = cron_test_zone("Europe/Berlin");
    struct cron_expression e = cron_test_parse("30 2 * * *");
    /* 02:30 does not exist on 2024-03-31: fires once at the end of the gap, 03:00 CEST. */
    int64_t spring = cron_expression_next(&e, berlin, cron_test_utc(2024, 3, 30, 12, 0));
    cr_assert_eq(spring, cron_test_utc(2024, 3, 31, 1, 0));
    cr_assert_eq(cron_expression_next(&e, berlin, spring), cron_test_utc(2024, 4, 1, 0, 30));
    /* 02:30 happens twice on 2024-10-27: fires once, at the first (CEST) occurrence. */
    int64_t autumn = cron_expression_next(&e, berlin, cron_test_utc(2024, 10, 26, 12, 0));
    cr_assert_eq(autumn, cron_test_utc(2024, 10, 27, 0, 30));
    cr_assert_eq(cron_expression_next(&e, berlin, autumn), cron_test_utc(2024, 10, 28, 1, 30));
    cr_assert_eq(cron_expression_next(&e, berlin, cron_test_utc(2024, 10, 27, 1, 30)),
                 cron_test_utc(2024, 10, 28, 1, 30));
    tz_zone_free(berlin);
}

Test(cron_next, quarter_hours_across_berlin_transitions)
{
    struct tz_zone *berlin = cron_test_zone("Europe/Berlin");
    struct cron_expression e = cron_test_parse("*/15 * * * *");
    /* 01:50 CET; 02:00-02:45 are skipped and collapse into one firing at 03:00 CEST. */
    int64_t next = cron_expression_next(&e, berlin, cron_test_utc(2024, 3, 31, 0, 50));
    cr_assert_eq(next, cron_test_utc(2024, 3, 31, 1, 0));
    cr_assert_eq(cron_expression_next(&e, berlin, next), cron_test_utc(2024, 3, 31, 1, 15));
    /* 02:45 CEST, then the repeated 02:00-02:45 CET do not fire again: next is 03:00 CET. */
    cr_assert_eq(cron_expression_next(&e, berlin, cron_test_utc(2024, 10, 27, 0, 45)),
                 cron_test_utc(2024, 10, 27, 2, 0));
    tz_zone_free(berlin);
}

Test(cron_next, new_york_skipped_hour)
{
    struct tz_zone *new_york = cron_test_zone("America/New_York");
    struct cron_expression e = cron_test_parse("0 2 * * *");
    cr_assert_eq(cron_expression_next(&e, new_york, cron_test_utc(2024, 3, 9, 12, 0)),
                 cron_test_utc(2024, 3, 10, 7, 0));
    cr_assert_eq(cron_expression_next(&e, new_york, cron_test_utc(2024, 3, 10, 7, 0)),
                 cron_test_utc(2024, 3, 11, 6, 0));
    tz_zone_free(new_york);
}

Test(cron_next, february_29_across_years)
{
    struct cron_expression e = cron_test_parse("0 0 29 2 *");
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2024, 3, 1, 0, 0)),
                 cron_test_utc(2028, 2, 29, 0, 0));
    /* 2100 is not a leap year: eight years from 2096 to 2104. */
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2096, 3, 1, 0, 0)),
                 cron_test_utc(2104, 2, 29, 0, 0));
}

Test(cron_next, day_of_month_or_day_of_week)
{
    /* Both restricted: the 10th or any Friday. */
    struct cron_expression either = cron_test_parse("0 0 10 * 5");
    cr_assert_eq(cron_expression_next(&either, NULL, cron_test_utc(2024, 9, 1, 0, 0)),
                 cron_test_utc(2024, 9, 6, 0, 0));
    cr_assert_eq(cron_expression_next(&either, NULL, cron_test_utc(2024, 9, 6, 0, 0)),
                 cron_test_utc(2024, 9, 10, 0, 0));
    cr_assert_eq(cron_expression_next(&either, NULL, cron_test_utc(2024, 9, 10, 0, 0)),
                 cron_test_utc(2024, 9, 13, 0, 0));
    /* A stepped star is not restricted, so both must match: odd days that are Mondays. */
    struct cron_expression both = cron_test_parse("0 0 */2 * 1");
    cr_assert_eq(cron_expression_next(&both, NULL, cron_test_utc(2024, 9, 1, 0, 0)),
                 cron_test_utc(2024, 9, 9, 0, 0));
    cr_assert_eq(cron_expression_next(&both, NULL, cron_test_utc(2024, 9, 9, 0, 0)),
                 cron_test_utc(2024, 9, 23, 0, 0));
}

Test(cron_next, month_names_skip_to_the_month)
{
    struct cron_expression e = cron_test_parse("15 6 1 oct *");
    cr_assert_eq(cron_expression_next(&e, NULL, cron_test_utc(2024, 10, 1, 6, 15)),
                 cron_test_utc(2025, 10, 1, 6, 15));
}

Test(cron_next, never_fires)
{
    struct cron_expression impossible = cron_test_parse("0 0 31 2 *");
    struct cron_expression also = cron_test_parse("0 0 30 2 *");
    struct cron_expression april = cron_test_parse("0 0 31 apr,jun,sep,nov *");
    clock_t start = clock();
    cr_assert_eq(cron_expression_next(&impossible, NULL, cron_test_utc(2024, 1, 1, 0, 0)), -1);
    cr_assert_eq(cron_expression_next(&also, NULL, cron_test_utc(2024, 1, 1, 0, 0)), -1);
    cr_assert_eq(cron_expression_next(&april, NULL, cron_test_utc(2024, 1, 1, 0, 0)), -1);
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    cr_assert_lt(seconds, 0.5, "took %.3f s", seconds);
}
