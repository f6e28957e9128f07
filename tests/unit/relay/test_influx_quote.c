/* The quoting the InfluxDB client offers for InfluxQL and Flux text, and glob -> regex. */
#include <criterion/criterion.h>
#include <string.h>

#include "relay/influx_client.h"

typedef int (*quote_function)(const char *, char *, size_t);

static void expect_quoted(quote_function quote, const char *text, const char *expected)
{
    char out[256];
    int length = quote(text, out, sizeof out);
    cr_assert_eq(length, (int)strlen(expected), "%s: length %d, got \"%s\"", text, length, out);
    cr_expect_str_eq(out, expected, "quoting %s", text);
    /* Exactly enough room works; one byte less does not, and leaves an empty string. */
    char exact[256];
    cr_expect_eq(quote(text, exact, strlen(expected) + 1), length);
    cr_expect_eq(quote(text, exact, strlen(expected)), -1);
    cr_expect_str_eq(exact, "");
}

Test(influx_quote, influxql_identifier)
{
    expect_quoted(influx_quote_identifier, "kWh", "\"kWh\"");
    expect_quoted(influx_quote_identifier, "m\xc2\xb3", "\"m\xc2\xb3\"");
    expect_quoted(influx_quote_identifier, "a\"b\\c'd", "\"a\\\"b\\\\c'd\"");
    expect_quoted(influx_quote_identifier, "two\nlines", "\"two\\nlines\"");
    expect_quoted(influx_quote_identifier, "", "\"\"");
}

Test(influx_quote, influxql_string)
{
    expect_quoted(influx_quote_string, "input_number", "'input_number'");
    expect_quoted(influx_quote_string, "it's \"ok\" \\", "'it\\'s \"ok\" \\\\'");
    expect_quoted(influx_quote_string, "x\ny", "'x\\ny'");
}

Test(influx_quote, flux_string)
{
    expect_quoted(influx_quote_flux_string, "lampfi", "\"lampfi\"");
    expect_quoted(influx_quote_flux_string, "a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_quoted(influx_quote_flux_string, "${x} $y {z}", "\"\\${x} $y {z}\"");
    expect_quoted(influx_quote_flux_string, "t\tr\rn\n", "\"t\\tr\\rn\\n\"");
}

Test(influx_quote, too_small_for_the_quotes)
{
    char out[2] = "x";
    cr_expect_eq(influx_quote_identifier("", out, 2), -1);
    cr_expect_str_eq(out, "", "a failure leaves an empty string");
    out[0] = 'x';
    cr_expect_eq(influx_quote_string("a", out, 0), -1);
    cr_expect_eq(out[0], 'x', "out_size 0 writes nothing");
}

Test(influx_quote, glob_regex)
{
    expect_quoted(influx_glob_regex, "*", "/^.*$/");
    expect_quoted(influx_glob_regex, "kWh", "/^kWh$/");
    expect_quoted(influx_glob_regex, "m\xc2\xb3", "/^m\xc2\xb3$/");
    expect_quoted(influx_glob_regex, "energy.*", "/^energy\\..*$/");
    expect_quoted(influx_glob_regex, "z\xc3\xa4hler_[ab]?", "/^z\xc3\xa4hler_[ab].$/");
    expect_quoted(influx_glob_regex, "[!x]*", "/^[^x].*$/");
    expect_quoted(influx_glob_regex, "[^x]", "/^[^x]$/");
    expect_quoted(influx_glob_regex, "[a-c]", "/^[a-c]$/");
    expect_quoted(influx_glob_regex, "[]a-]", "/^[\\]a\\-]$/");
    expect_quoted(influx_glob_regex, "[[:digit:]x]", "/^[[:digit:]x]$/");
    expect_quoted(influx_glob_regex, "[a\\-c]", "/^[a\\-c]$/");
    expect_quoted(influx_glob_regex, "[/]", "/^[\\/]$/");
    expect_quoted(influx_glob_regex, "a/b", "/^a\\/b$/");
    expect_quoted(influx_glob_regex, "\\*\\?", "/^\\*\\?$/");
    expect_quoted(influx_glob_regex, "[unclosed", "/^\\[unclosed$/");
    expect_quoted(influx_glob_regex, "(x)|y+{2}^$", "/^\\(x\\)\\|y\\+\\{2\\}\\^\\$$/");
    expect_quoted(influx_glob_regex, "trailing\\", "/^trailing\\\\$/");
}
