#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "config/suggest.h"

static size_t distance(const char *a, const char *b)
{
    return suggest_distance(a, strlen(a), b, strlen(b));
}

Test(config_suggest, distance_counts_damerau_levenshtein_edits)
{
    cr_expect_eq(distance("", ""), 0);
    cr_expect_eq(distance("abc", "abc"), 0);
    cr_expect_eq(distance("", "abc"), 3);
    cr_expect_eq(distance("bucket_rwa", "bucket_raw"), 1); /* one transposition */
    cr_expect_eq(distance("timout", "timeout"), 1);
    cr_expect_eq(distance("kitten", "sitting"), 3);
    cr_expect_eq(distance("ca", "abc"), 3); /* optimal string alignment, not full Damerau */
    cr_expect_eq(distance("lisen", "listen"), 1);
    char long_name[80];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_expect_eq(distance(long_name, "a"), SIZE_MAX);
}

Test(config_suggest, nearest_is_suggested_only_when_close)
{
    static const char *const keys[] = {"url", "bucket_raw", "bucket_processed", "timeout",
                                       "retry_attempts"};
    const size_t count = sizeof keys / sizeof keys[0];
    cr_expect_str_eq(suggest_nearest("bucket_rwa", 10, keys, count), "bucket_raw");
    cr_expect_str_eq(suggest_nearest("bucket_proccessed", 17, keys, count), "bucket_processed");
    cr_expect_str_eq(suggest_nearest("urk", 3, keys, count), "url");
    cr_expect_str_eq(suggest_nearest("retry_attempt", 13, keys, count), "retry_attempts");
    cr_expect_null(suggest_nearest("zzz", 3, keys, count));
    cr_expect_null(suggest_nearest("database", 8, keys, count));
    cr_expect_null(suggest_nearest("x", 1, keys, count)); /* 2 edits from "url" is too far */
    /* Ties go to the earlier candidate. */
    static const char *const tied[] = {"abcd", "abce"};
    cr_expect_str_eq(suggest_nearest("abcf", 4, tied, 2), "abcd");
}
