#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/tz.h"
#include "config/tz_rule.h"

static int64_t tz_test_utc(int year, int month, int day, int hour, int minute, int second)
{
    return tz_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

static struct tz_zone *tz_test_load(const char *name)
{
    char error[512] = "";
    struct tz_zone *zone = tz_zone_load(name, error, sizeof error);
    cr_assert_not_null(zone, "loading %s: %s", name, error);
    return zone;
}

Test(tz_civil, days_from_civil_known_dates)
{
    cr_assert_eq(tz_days_from_civil(1970, 1, 1), 0);
    cr_assert_eq(tz_days_from_civil(1969, 12, 31), -1);
    cr_assert_eq(tz_days_from_civil(2000, 3, 1), 11017);
    cr_assert_eq(tz_days_from_civil(2024, 2, 29), 19782);
    cr_assert_eq(tz_days_from_civil(1600, 1, 1), -135140);
}

Test(tz_civil, civil_from_days_round_trips)
{
    for (int64_t days = -800000; days <= 800000; days += 7) {
        int year, month, day;
        tz_civil_from_days(days, &year, &month, &day);
        cr_assert_eq(tz_days_from_civil(year, month, day), days, "day %lld", (long long)days);
    }
    int year, month, day;
    tz_civil_from_days(19782, &year, &month, &day);
    cr_assert_eq(year, 2024);
    cr_assert_eq(month, 2);
    cr_assert_eq(day, 29);
}

Test(tz_civil, weekday_from_days)
{
    cr_assert_eq(tz_weekday_from_days(0), 4);  /* Thursday */
    cr_assert_eq(tz_weekday_from_days(-1), 3); /* Wednesday */
    cr_assert_eq(tz_weekday_from_days(tz_days_from_civil(2024, 9, 1)), 0);
}

Test(tz_zone, berlin_offsets_around_2024_transitions)
{
    struct tz_zone *zone = tz_test_load("Europe/Berlin");
    int64_t spring = tz_test_utc(2024, 3, 31, 1, 0, 0);
    int64_t autumn = tz_test_utc(2024, 10, 27, 1, 0, 0);
    cr_assert_eq(spring, 1711846800);
    cr_assert_eq(tz_zone_offset_at(zone, spring - 1), 3600);
    cr_assert_eq(tz_zone_offset_at(zone, spring), 7200);
    cr_assert_eq(tz_zone_offset_at(zone, autumn - 1), 7200);
    cr_assert_eq(tz_zone_offset_at(zone, autumn), 3600);
    cr_assert_str_eq(tz_zone_name(zone), "Europe/Berlin");
    tz_zone_free(zone);
}

Test(tz_zone, berlin_local_time)
{
    struct tz_zone *zone = tz_test_load("Europe/Berlin");
    struct tz_local_time local;
    tz_zone_local_time(zone, tz_test_utc(2024, 7, 1, 10, 5, 9), &local);
    cr_assert_eq(local.year, 2024);
    cr_assert_eq(local.month, 7);
    cr_assert_eq(local.day, 1);
    cr_assert_eq(local.hour, 12);
    cr_assert_eq(local.minute, 5);
    cr_assert_eq(local.second, 9);
    cr_assert_eq(local.weekday, 1);
    cr_assert_eq(local.utc_offset_seconds, 7200);
    /* 23:30Z on New Year's Eve is already the next year in Berlin. */
    tz_zone_local_time(zone, tz_test_utc(2023, 12, 31, 23, 30, 0), &local);
    cr_assert_eq(local.year, 2024);
    cr_assert_eq(local.month, 1);
    cr_assert_eq(local.day, 1);
    cr_assert_eq(local.hour, 0);
    cr_assert_eq(local.weekday, 1);
    tz_zone_free(zone);
}

Test(tz_zone, berlin_local_to_utc_normal_repeated_and_skipped)
{
    struct tz_zone *zone = tz_test_load("Europe/Berlin");
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 7, 1, 12, 0, 0),
                 tz_test_utc(2024, 7, 1, 10, 0, 0));
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 1, 15, 12, 0, 0),
                 tz_test_utc(2024, 1, 15, 11, 0, 0));
    /* 02:30 happens twice on 2024-10-27: first at 00:30Z (CEST), then at 01:30Z (CET). */
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 10, 27, 2, 30, 0),
                 tz_test_utc(2024, 10, 27, 0, 30, 0));
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 10, 27, 3, 0, 0),
                 tz_test_utc(2024, 10, 27, 2, 0, 0));
    /* 02:30 does not exist on 2024-03-31: the gap ends at 01:00Z (03:00 CEST). */
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 3, 31, 2, 30, 0),
                 tz_test_utc(2024, 3, 31, 1, 0, 0));
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 3, 31, 2, 0, 0),
                 tz_test_utc(2024, 3, 31, 1, 0, 0));
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 3, 31, 1, 59, 59),
                 tz_test_utc(2024, 3, 31, 0, 59, 59));
    tz_zone_free(zone);
}

Test(tz_zone, new_york_2024)
{
    struct tz_zone *zone = tz_test_load("America/New_York");
    int64_t spring = tz_test_utc(2024, 3, 10, 7, 0, 0);
    int64_t autumn = tz_test_utc(2024, 11, 3, 6, 0, 0);
    cr_assert_eq(tz_zone_offset_at(zone, spring - 1), -18000);
    cr_assert_eq(tz_zone_offset_at(zone, spring), -14400);
    cr_assert_eq(tz_zone_offset_at(zone, autumn - 1), -14400);
    cr_assert_eq(tz_zone_offset_at(zone, autumn), -18000);
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 3, 10, 2, 30, 0), spring);
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 11, 3, 1, 30, 0),
                 tz_test_utc(2024, 11, 3, 5, 30, 0));
    tz_zone_free(zone);
}

Test(tz_zone, sydney_southern_hemisphere)
{
    struct tz_zone *zone = tz_test_load("Australia/Sydney");
    int64_t dst_end = tz_test_utc(2024, 4, 6, 16, 0, 0);
    int64_t dst_start = tz_test_utc(2024, 10, 5, 16, 0, 0);
    cr_assert_eq(tz_zone_offset_at(zone, tz_test_utc(2024, 1, 15, 0, 0, 0)), 39600);
    cr_assert_eq(tz_zone_offset_at(zone, dst_end - 1), 39600);
    cr_assert_eq(tz_zone_offset_at(zone, dst_end), 36000);
    cr_assert_eq(tz_zone_offset_at(zone, dst_start - 1), 36000);
    cr_assert_eq(tz_zone_offset_at(zone, dst_start), 39600);
    /* Past the file's transitions (fat files end in 2037), the footer rule decides. */
    cr_assert_eq(tz_zone_offset_at(zone, tz_test_utc(2100, 1, 15, 0, 0, 0)), 39600);
    cr_assert_eq(tz_zone_offset_at(zone, tz_test_utc(2100, 7, 15, 0, 0, 0)), 36000);
    tz_zone_free(zone);
}

Test(tz_zone, berlin_footer_only_instants_in_2100)
{
    struct tz_zone *zone = tz_test_load("Europe/Berlin");
    int64_t spring = tz_test_utc(2100, 3, 28, 1, 0, 0);
    int64_t autumn = tz_test_utc(2100, 10, 31, 1, 0, 0);
    cr_assert_eq(spring, 4109878800);
    cr_assert_eq(tz_zone_offset_at(zone, spring - 1), 3600);
    cr_assert_eq(tz_zone_offset_at(zone, spring), 7200);
    cr_assert_eq(tz_zone_offset_at(zone, autumn - 1), 7200);
    cr_assert_eq(tz_zone_offset_at(zone, autumn), 3600);
    cr_assert_eq(tz_zone_local_to_utc(zone, 2100, 3, 28, 2, 30, 0), spring);
    tz_zone_free(zone);
}

Test(tz_zone, utc_works_without_zone_files)
{
    char directory[] = "/tmp/nebenkosten-tz-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    setenv("TZDIR", directory, 1);
    struct tz_zone *zone = tz_test_load("UTC");
    struct tz_zone *etc = tz_test_load("Etc/UTC");
    cr_assert_eq(tz_zone_offset_at(zone, tz_test_utc(2024, 7, 1, 0, 0, 0)), 0);
    cr_assert_eq(tz_zone_offset_at(etc, 0), 0);
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 3, 31, 2, 30, 0),
                 tz_test_utc(2024, 3, 31, 2, 30, 0));
    cr_assert_eq(tz_zone_offset_at(NULL, 12345), 0);
    tz_zone_free(zone);
    tz_zone_free(etc);
    cr_assert_eq(rmdir(directory), 0);
}

Test(tz_zone, unknown_zone_names_zone_and_file)
{
    char error[512] = "";
    setenv("TZDIR", "/usr/share/zoneinfo", 1);
    cr_assert_null(tz_zone_load("Europe/Atlantis", error, sizeof error));
    cr_assert_not_null(strstr(error, "time zone \"Europe/Atlantis\""), "%s", error);
    cr_assert_not_null(strstr(error, "/usr/share/zoneinfo/Europe/Atlantis"), "%s", error);
    cr_assert_not_null(strstr(error, "No such file or directory"), "%s", error);
}

Test(tz_zone, rejects_paths_outside_the_zone_directory)
{
    char error[512] = "";
    cr_assert_null(tz_zone_load("../../etc/passwd", error, sizeof error));
    cr_assert_not_null(strstr(error, "no \"..\""), "%s", error);
    cr_assert_null(tz_zone_load("/etc/localtime", error, sizeof error));
    cr_assert_not_null(strstr(error, "no absolute path"), "%s", error);
    cr_assert_null(tz_zone_load("", error, sizeof error));
}

/* A TZif image built by hand: version, transitions (64-bit section only; the v1 section is the
 * empty one slim files carry), one type per offset, and the footer. */
struct tz_test_image {
    unsigned char data[1024];
    size_t length;
};

static void tz_test_put32(struct tz_test_image *image, uint32_t value)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        image->data[image->length++] = (unsigned char)(value >> shift);
}

static void tz_test_put64(struct tz_test_image *image, int64_t value)
{
    tz_test_put32(image, (uint32_t)((uint64_t)value >> 32));
    tz_test_put32(image, (uint32_t)value);
}

static void tz_test_header(struct tz_test_image *image, char version, uint32_t time_count,
                           uint32_t type_count, uint32_t character_count)
{
    memcpy(image->data + image->length, "TZif", 4);
    image->length += 4;
    image->data[image->length++] = (unsigned char)version;
    memset(image->data + image->length, 0, 15);
    image->length += 15;
    tz_test_put32(image, 0); /* utc indicators */
    tz_test_put32(image, 0); /* standard indicators */
    tz_test_put32(image, 0); /* leap seconds */
    tz_test_put32(image, time_count);
    tz_test_put32(image, type_count);
    tz_test_put32(image, character_count);
}

static void tz_test_types(struct tz_test_image *image, const int32_t *offsets, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        tz_test_put32(image, (uint32_t)offsets[i]);
        image->data[image->length++] = 0;
        image->data[image->length++] = 0;
    }
    memcpy(image->data + image->length, "LMT", 4);
    image->length += 4;
}

static void tz_test_image_write(const struct tz_test_image *image, const char *directory,
                                const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    FILE *file = fopen(path, "wb");
    cr_assert_not_null(file);
    cr_assert_eq(fwrite(image->data, 1, image->length, file), image->length);
    cr_assert_eq(fclose(file), 0);
}

static void tz_test_image_remove(const char *directory, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    cr_assert_eq(unlink(path), 0);
}

Test(tz_zone, slim_tzif_uses_the_footer)
{
    char directory[] = "/tmp/nebenkosten-tz-XXXXXX";
    cr_assert_not_null(mkdtemp(directory));
    setenv("TZDIR", directory, 1);

    /* Like zic -b slim: one transition in 1980 to CET, after that only the footer. */
    struct tz_test_image image = {.length = 0};
    int32_t offsets[] = {3208, 3600};
    tz_test_header(&image, '2', 0, 1, 4);
    tz_test_types(&image, offsets, 1);
    tz_test_header(&image, '2', 1, 2, 4);
    tz_test_put64(&image, tz_test_utc(1980, 1, 1, 0, 0, 0));
    image.data[image.length++] = 1;
    tz_test_types(&image, offsets, 2);
    const char footer[] = "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
    memcpy(image.data + image.length, footer, sizeof footer - 1);
    image.length += sizeof footer - 1;
    tz_test_image_write(&image, directory, "Slim");

    struct tz_zone *zone = tz_test_load("Slim");
    int64_t spring = tz_test_utc(2024, 3, 31, 1, 0, 0);
    cr_assert_eq(tz_zone_offset_at(zone, tz_test_utc(1970, 1, 1, 0, 0, 0)), 3208);
    cr_assert_eq(tz_zone_offset_at(zone, spring - 1), 3600);
    cr_assert_eq(tz_zone_offset_at(zone, spring), 7200);
    cr_assert_eq(tz_zone_offset_at(zone, tz_test_utc(2024, 10, 27, 1, 0, 0)), 3600);
    cr_assert_eq(tz_zone_local_to_utc(zone, 2024, 10, 27, 2, 30, 0),
                 tz_test_utc(2024, 10, 27, 0, 30, 0));
    tz_zone_free(zone);

    /* A version 1 file: 32-bit transitions, no footer; the last type holds forever. */
    struct tz_test_image old = {.length = 0};
    tz_test_header(&old, '\0', 1, 2, 4);
    tz_test_put32(&old, (uint32_t)(int32_t)tz_test_utc(1980, 1, 1, 0, 0, 0));
    old.data[old.length++] = 1;
    tz_test_types(&old, offsets, 2);
    tz_test_image_write(&old, directory, "Old");
    zone = tz_test_load("Old");
    cr_assert_eq(tz_zone_offset_at(zone, tz_test_utc(1979, 12, 31, 23, 0, 0)), 3208);
    cr_assert_eq(tz_zone_offset_at(zone, tz_test_utc(2024, 7, 1, 0, 0, 0)), 3600);
    tz_zone_free(zone);

    /* Truncated: the error names the file and the problem. */
    image.length = 60;
    tz_test_image_write(&image, directory, "Broken");
    char error[512] = "";
    cr_assert_null(tz_zone_load("Broken", error, sizeof error));
    cr_assert_not_null(strstr(error, "/Broken: truncated TZif file"), "%s", error);

    tz_test_image_remove(directory, "Slim");
    tz_test_image_remove(directory, "Old");
    tz_test_image_remove(directory, "Broken");
    cr_assert_eq(rmdir(directory), 0);
}

static struct tz_rule tz_test_rule(const char *text)
{
    struct tz_rule rule;
    cr_assert_eq(tz_rule_parse(text, strlen(text), &rule), 0, "parsing %s", text);
    return rule;
}

Test(tz_rule, standard_only_and_quoted_names)
{
    struct tz_rule rule = tz_test_rule("<+0330>-3:30");
    cr_assert_str_eq(rule.standard_name, "+0330");
    cr_assert_eq(rule.standard_offset, 12600);
    cr_assert_eq(rule.has_daylight, false);
    cr_assert_eq(tz_rule_offset_at(&rule, tz_test_utc(2024, 7, 1, 0, 0, 0)), 12600);
    rule = tz_test_rule("<-03>3");
    cr_assert_eq(rule.standard_offset, -10800);
}

Test(tz_rule, month_week_day_rules)
{
    struct tz_rule rule = tz_test_rule("EST5EDT,M3.2.0,M11.1.0");
    cr_assert_str_eq(rule.daylight_name, "EDT");
    cr_assert_eq(rule.standard_offset, -18000);
    cr_assert_eq(rule.daylight_offset, -14400);
    int64_t spring = tz_test_utc(2024, 3, 10, 7, 0, 0);
    int64_t autumn = tz_test_utc(2024, 11, 3, 6, 0, 0);
    cr_assert_eq(tz_rule_offset_at(&rule, spring - 1), -18000);
    cr_assert_eq(tz_rule_offset_at(&rule, spring), -14400);
    cr_assert_eq(tz_rule_offset_at(&rule, autumn - 1), -14400);
    cr_assert_eq(tz_rule_offset_at(&rule, autumn), -18000);
    /* DST name without dates: the US rules, as glibc does. */
    struct tz_rule bare = tz_test_rule("EST5EDT");
    cr_assert_eq(tz_rule_offset_at(&bare, spring), -14400);
}

Test(tz_rule, hours_beyond_24_and_negative_times)
{
    /* Asia/Jerusalem: the Friday before the last Sunday of March, 02:00 = Thursday 26:00. */
    struct tz_rule israel = tz_test_rule("IST-2IDT,M3.4.4/26,M10.5.0");
    int64_t start = tz_test_utc(2024, 3, 29, 0, 0, 0);
    cr_assert_eq(start, 1711670400);
    cr_assert_eq(tz_rule_offset_at(&israel, start - 1), 7200);
    cr_assert_eq(tz_rule_offset_at(&israel, start), 10800);
    /* America/Nuuk since 2024: changes at -01:00 and 00:00 local. */
    struct tz_rule nuuk = tz_test_rule("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    int64_t nuuk_start = tz_test_utc(2024, 3, 31, 1, 0, 0); /* Saturday 23:00 -02 */
    cr_assert_eq(tz_rule_offset_at(&nuuk, nuuk_start - 1), -7200);
    cr_assert_eq(tz_rule_offset_at(&nuuk, nuuk_start), -3600);
}

Test(tz_rule, julian_and_zero_based_days)
{
    /* J60 is March 1 in every year; day 59 (zero-based) is February 29 in leap years. */
    struct tz_rule julian = tz_test_rule("AAA0BBB,J60/0,J300/0");
    cr_assert_eq(tz_rule_offset_at(&julian, tz_test_utc(2024, 2, 29, 23, 59, 59)), 0);
    cr_assert_eq(tz_rule_offset_at(&julian, tz_test_utc(2024, 3, 1, 0, 0, 0)), 3600);
    struct tz_rule zero = tz_test_rule("AAA0BBB,59/0,300/0");
    cr_assert_eq(tz_rule_offset_at(&zero, tz_test_utc(2024, 2, 28, 23, 59, 59)), 0);
    cr_assert_eq(tz_rule_offset_at(&zero, tz_test_utc(2024, 2, 29, 0, 0, 0)), 3600);
    cr_assert_eq(tz_rule_offset_at(&zero, tz_test_utc(2023, 3, 1, 0, 0, 0)), 3600);
    cr_assert_eq(tz_rule_offset_at(&zero, tz_test_utc(2023, 2, 28, 23, 59, 59)), 0);
}

Test(tz_rule, all_year_daylight_saving)
{
    struct tz_rule rule = tz_test_rule("EST5EDT,0/0,J365/25");
    cr_assert_eq(tz_rule_offset_at(&rule, tz_test_utc(2030, 1, 1, 0, 30, 0)), -14400);
    cr_assert_eq(tz_rule_offset_at(&rule, tz_test_utc(2030, 1, 1, 5, 0, 0)), -14400);
    cr_assert_eq(tz_rule_offset_at(&rule, tz_test_utc(2030, 7, 1, 0, 0, 0)), -14400);
    cr_assert_eq(tz_rule_offset_at(&rule, tz_test_utc(2030, 12, 31, 23, 59, 59)), -14400);
}

Test(tz_rule, rejects_malformed_strings)
{
    const char *bad[] = {"",
                         "CET",
                         "AB-1",
                         "CET-1CEST,M13.5.0,M10.5.0",
                         "CET-1CEST,M3.6.0,M10.5.0",
                         "CET-1CEST,M3.5.7,M10.5.0",
                         "CET-1CEST,M3.5.0",
                         "CET-1CEST,J0,J5",
                         "<+03-3",
                         "CET-1CEST,M3.5.0/200,M10.5.0",
                         "CET-1 ",
                         "CET-25"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tz_rule rule;
        cr_assert_eq(tz_rule_parse(bad[i], strlen(bad[i]), &rule), -1, "accepted \"%s\"", bad[i]);
    }
}
