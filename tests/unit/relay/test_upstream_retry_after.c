/* An upstream's Retry-After in seconds: honoured up to a day, however many digits it has. */
#include <criterion/criterion.h>
#include <string.h>

#include "relay/upstream_internal.h"

static long parse(const char *value)
{
    return upstream_retry_after_seconds(value, strlen(value));
}

Test(upstream_retry_after, seconds_are_honoured_up_to_a_day)
{
    cr_expect_eq(parse(" 2\r\n"), 2);
    cr_expect_eq(parse("0"), 0);
    cr_expect_eq(parse("86400"), 86400);
    cr_expect_eq(parse("86401"), 86400);
    cr_expect_eq(parse("863999"), 86400, "10 days would hold delivery back for 10 days");
    cr_expect_eq(parse("99999999999999999999999"), 86400, "no overflow");
}

Test(upstream_retry_after, a_date_or_nothing_is_no_seconds)
{
    cr_expect_eq(parse(" Wed, 21 Oct 2015 07:28:00 GMT\r\n"), -1);
    cr_expect_eq(parse("   "), -1);
    cr_expect_eq(parse(""), -1);
}
