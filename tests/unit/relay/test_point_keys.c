/* point_keys: two runs of spooled lines overlap exactly when they write a point (series key and
 * timestamp) in common, whatever the fields, escapes and quoted strings say. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "relay/point_keys.h"

static bool overlap(const char *a, const char *b)
{
    struct point_keys left = POINT_KEYS_INITIALIZER, right = POINT_KEYS_INITIALIZER;
    cr_assert_eq(point_keys_collect(&left, a, strlen(a)), 0);
    cr_assert_eq(point_keys_collect(&right, b, strlen(b)), 0);
    bool result = point_keys_overlap(&left, &right);
    cr_assert_eq(point_keys_overlap(&right, &left), result, "symmetric");
    point_keys_release(&left);
    point_keys_release(&right);
    return result;
}

Test(point_keys, one_key_per_line)
{
    struct point_keys keys = POINT_KEYS_INITIALIZER;
    const char *lines = "m,t=a v=1 1\nm,t=a v=2 2\nm,t=b v=\"x\ny\" 1\nm v=1 1\n";
    cr_assert_eq(point_keys_collect(&keys, lines, strlen(lines)), 0);
    cr_expect_eq(keys.count, 4, "a newline inside a string field does not split its line");
    for (size_t i = 1; i < keys.count; i++)
        cr_expect_leq(keys.hashes[i - 1], keys.hashes[i], "sorted");
    cr_assert_eq(point_keys_collect(&keys, "", 0), 0);
    cr_expect_eq(keys.count, 0);
    point_keys_release(&keys);
}

Test(point_keys, same_series_and_time_overlap_whatever_the_fields)
{
    cr_expect(overlap("m,t=a v=1 100\n", "m,t=a v=2 100\n"));
    cr_expect(overlap("m,t=a v=1 100\n", "x v=1 5\nm,t=a other=\"a b\" 100\n"));
    cr_expect(overlap("m,t=a\\ b v=1 100\n", "m,t=a\\ b w=3i 100\n"), "escaped space in a tag");
    cr_expect(overlap("m,t=a\\\\ v=1 100\n", "m,t=a\\\\ w=2 100\n"),
              "an escaped backslash before the space: the space ends the series key");
    cr_expect(overlap("m,t=a s=\"q \\\" \" 7\n", "m,t=a s=\"r\" 7\n"), "escaped quote, spaces");
    cr_expect(overlap("m,t=a s=\"two\nlines\" 7\n", "m,t=a v=1 7\n"), "newline in a string");
}

Test(point_keys, another_series_or_time_does_not_overlap)
{
    cr_expect_not(overlap("m,t=a v=1 100\n", "m,t=a v=1 101\n"));
    cr_expect_not(overlap("m,t=a v=1 100\n", "m,t=b v=1 100\n"));
    cr_expect_not(overlap("m,t=a v=1 100\n", "n,t=a v=1 100\n"));
    cr_expect_not(overlap("m,t=a\\ b v=1 100\n", "m,t=a\\ c v=1 100\n"));
    cr_expect_not(overlap("m,t=a\\\\ v=1 100\n", "m,t=a\\ v=1 100\n"),
                  "an escaped backslash is another tag value than an escaped space");
    cr_expect_not(overlap("m,t=a\\\\\\ b v=1 100\n", "m,t=a\\\\\\ c v=1 100\n"),
                  "three backslashes: the space is escaped, b and c are in the tag value");
    cr_expect_not(overlap("m,t=a s=\"x 100\" 5\n", "m,t=a v=1 100\n"),
                  "a number inside a string is not the timestamp");
    cr_expect_not(overlap("", "m v=1 1\n"));
}

Test(point_keys, large_runs)
{
    static char a[200000], b[200000];
    size_t la = 0, lb = 0;
    for (int i = 0; i < 2000; i++) {
        la +=
            (size_t)snprintf(a + la, sizeof a - la, "kWh,entity_id=m%d value=%d %d\n", i % 7, i, i);
        lb += (size_t)snprintf(b + lb, sizeof b - lb, "kWh,entity_id=m%d value=%d %d\n", i % 7, i,
                               i + 2000);
    }
    struct point_keys left = POINT_KEYS_INITIALIZER, right = POINT_KEYS_INITIALIZER;
    cr_assert_eq(point_keys_collect(&left, a, la), 0);
    cr_assert_eq(point_keys_collect(&right, b, lb), 0);
    cr_expect_eq(left.count, 2000);
    for (size_t i = 1; i < left.count; i++)
        cr_assert_leq(left.hashes[i - 1], left.hashes[i], "sorted at %zu", i);
    cr_expect_not(point_keys_overlap(&left, &right));
    lb += (size_t)snprintf(b + lb, sizeof b - lb, "kWh,entity_id=m3 value=0 1998\n");
    cr_assert_eq(point_keys_collect(&right, b, lb), 0);
    cr_expect(point_keys_overlap(&left, &right), "1998 %% 7 == 3: the same point");
    point_keys_release(&left);
    point_keys_release(&right);
}

/* InfluxDB sorts tags by key when it parses a point, so the same point can be written
 * with its tags in any order; the two writes must be kept in order (overlap). */
Test(point_keys, tags_in_another_order_are_the_same_point)
{
    cr_expect(overlap("m,a=1,b=2 v=1 100\n", "m,b=2,a=1 v=2 100\n"),
              "tags in another order name the same InfluxDB point");
}

Test(point_keys, leading_zeros_in_the_time_are_the_same_point)
{
    cr_expect(overlap("m,t=a v=1 100\n", "m,t=a v=2 0100\n"),
              "an ns timestamp is spooled as written; 0100 and 100 are one time");
}
