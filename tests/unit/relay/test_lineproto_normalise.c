/* Normaliser: spool-ready output byte for byte, counts and the first error. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "relay/lineproto.h"

static struct lineproto_parser *parser;
static struct buffer output;
static struct lineproto_normalise_result result;
static char *input;

#define RECEIVED 1600000000123456789LL

static void normalise_setup(void)
{
    parser = lineproto_parser_create();
    cr_assert_not_null(parser);
    output = (struct buffer)BUFFER_INITIALIZER;
}

static void normalise_teardown(void)
{
    lineproto_parser_destroy(parser);
    buffer_release(&output);
    free(input);
    input = NULL;
}

TestSuite(lineproto_normalise, .init = normalise_setup, .fini = normalise_teardown);

static void normalise_bytes(const char *body, size_t length, enum lineproto_precision precision)
{
    free(input);
    input = malloc(length ? length : 1);
    cr_assert_not_null(input);
    memcpy(input, body, length);
    buffer_clear(&output);
    cr_assert_eq(lineproto_normalise(parser, input, length, precision, RECEIVED, &output, &result),
                 0);
}

/* Normalises body and compares the output with expected, byte for byte. */
static void normalise_expect(const char *body, enum lineproto_precision precision,
                             const char *expected)
{
    normalise_bytes(body, strlen(body), precision);
    cr_assert_eq(output.length, strlen(expected), "got \"%.*s\"\nexpected \"%s\"",
                 (int)output.length, output.data, expected);
    cr_assert(output.length == 0 || memcmp(output.data, expected, output.length) == 0,
              "got \"%.*s\"\nexpected \"%s\"", (int)output.length, output.data, expected);
}

Test(lineproto_normalise, nanosecond_timestamps_are_copied_as_written)
{
    normalise_expect("m,t=v f=1 1600000000000000000\n", LINEPROTO_PRECISION_NANOSECOND,
                     "m,t=v f=1 1600000000000000000\n");
    normalise_expect("m f=1 007", LINEPROTO_PRECISION_NANOSECOND, "m f=1 007\n");
    normalise_expect("m f=1   -0  ", LINEPROTO_PRECISION_NANOSECOND, "m f=1   -0\n");
    cr_assert_eq(result.accepted, 1);
    cr_assert_eq(result.rejected, 0);
    cr_assert_not(result.has_error);
}

Test(lineproto_normalise, missing_timestamp_gets_receive_time_in_precision)
{
    normalise_expect("m f=1", LINEPROTO_PRECISION_NANOSECOND, "m f=1 1600000000123456789\n");
    normalise_expect("m f=1\n", LINEPROTO_PRECISION_MICROSECOND, "m f=1 1600000000123456000\n");
    normalise_expect("m f=1\n", LINEPROTO_PRECISION_MILLISECOND, "m f=1 1600000000123000000\n");
    normalise_expect("m f=1   \n", LINEPROTO_PRECISION_SECOND, "m f=1 1600000000000000000\n");
    normalise_expect("m f=1\n", LINEPROTO_PRECISION_MINUTE, "m f=1 1599999960000000000\n");
    normalise_expect("m f=1\n", LINEPROTO_PRECISION_HOUR, "m f=1 1599998400000000000\n");
}

Test(lineproto_normalise, other_precisions_are_rewritten_in_nanoseconds)
{
    normalise_expect("m f=1 1600000000\n", LINEPROTO_PRECISION_SECOND,
                     "m f=1 1600000000000000000\n");
    normalise_expect("m f=1    -5\n", LINEPROTO_PRECISION_MILLISECOND, "m f=1 -5000000\n");
    normalise_expect("m f=1 0007\n", LINEPROTO_PRECISION_MICROSECOND, "m f=1 7000\n");
    normalise_expect("m f=1 1\n", LINEPROTO_PRECISION_HOUR, "m f=1 3600000000000\n");
    normalise_expect("m f=1 2\n", LINEPROTO_PRECISION_MINUTE, "m f=1 120000000000\n");
}

Test(lineproto_normalise, unchanged_lines_and_rewritten_lines_interleave)
{
    /* Lines copied as they stand (ns time directly before "\n") alternate with lines that are
     * not: a rejected one, CRLF, no time, trailing spaces, and a last line without "\n". */
    normalise_expect("a f=1 1\nb f=2 2\nbad\nc f=3 3\r\nd f=4\ne f=5 5\n# x\nf f=6 6   \n"
                     "g f=7 7\nh f=8 8\ni f=9 0009",
                     LINEPROTO_PRECISION_NANOSECOND,
                     "a f=1 1\nb f=2 2\nc f=3 3\nd f=4 1600000000123456789\ne f=5 5\nf f=6 6\n"
                     "g f=7 7\nh f=8 8\ni f=9 0009\n");
    cr_assert_eq(result.accepted, 9);
    cr_assert_eq(result.rejected, 1);
}

Test(lineproto_normalise, line_endings_comments_and_blank_lines)
{
    normalise_expect("# header\r\n\r\n  a f=1 1\r\n\n   \nb f=2 2\r\n# tail",
                     LINEPROTO_PRECISION_NANOSECOND, "a f=1 1\nb f=2 2\n");
    cr_assert_eq(result.accepted, 2);
    cr_assert_eq(result.rejected, 0);
}

Test(lineproto_normalise, escapes_and_float_spelling_reach_output_unchanged)
{
    const char *line = "my\\ m,t\\,k=v\\=1 f\\ k=\"a \\\"q\\\" \\\\ \\n\",x=1.50E+3,y=-.5,z=007i 9";
    char expected[256];
    strcpy(expected, line);
    strcat(expected, "\n");
    normalise_expect(line, LINEPROTO_PRECISION_NANOSECOND, expected);
}

Test(lineproto_normalise, multiline_string_is_kept_whole)
{
    normalise_expect("m s=\"one\r\ntwo\"\r\nn f=1 5", LINEPROTO_PRECISION_NANOSECOND,
                     "m s=\"one\r\ntwo\" 1600000000123456789\nn f=1 5\n");
    cr_assert_eq(result.accepted, 2);
}

Test(lineproto_normalise, bad_lines_are_dropped_and_the_first_is_reported)
{
    normalise_expect("a f=1 1\nbad\nb f=x 2\nc f=3 3\n", LINEPROTO_PRECISION_NANOSECOND,
                     "a f=1 1\nc f=3 3\n");
    cr_assert_eq(result.accepted, 2);
    cr_assert_eq(result.rejected, 2);
    cr_assert(result.has_error);
    cr_assert_eq(result.first_error.line_number, 2);
    cr_assert_eq(result.first_error.line.length, 3);
    cr_assert(memcmp(result.first_error.line.data, "bad", 3) == 0);
    cr_assert_str_eq(result.first_error.reason,
                     "missing fields: expected a space and at least one field (key=value) after "
                     "the measurement and tags");
    char message[256];
    lineproto_error_message(&result.first_error, message, sizeof message);
    cr_assert_str_eq(message, "unable to parse 'bad': missing fields: expected a space and at "
                              "least one field (key=value) after the measurement and tags");
}

Test(lineproto_normalise, all_bad_gives_empty_output)
{
    normalise_expect("x\ny\n", LINEPROTO_PRECISION_NANOSECOND, "");
    cr_assert_eq(result.accepted, 0);
    cr_assert_eq(result.rejected, 2);
    cr_assert_eq(result.first_error.line_number, 1);
}

Test(lineproto_normalise, empty_body)
{
    normalise_expect("", LINEPROTO_PRECISION_NANOSECOND, "");
    cr_assert_eq(result.accepted, 0);
    cr_assert_eq(result.rejected, 0);
    cr_assert_not(result.has_error);
}

Test(lineproto_normalise, output_is_appended_and_reparses_cleanly)
{
    cr_assert_eq(buffer_append(&output, "kept\n", 5), 0);
    const char body[] = "a,t=1 f=1\r\nb f=\"x\" 10\n#c\nc f=t";
    free(input);
    input = malloc(sizeof body - 1);
    memcpy(input, body, sizeof body - 1);
    cr_assert_eq(lineproto_normalise(parser, input, sizeof body - 1, LINEPROTO_PRECISION_SECOND,
                                     RECEIVED, &output, &result),
                 0);
    const char expected[] = "kept\na,t=1 f=1 1600000000000000000\nb f=\"x\" 10000000000\nc "
                            "f=t 1600000000000000000\n";
    cr_assert_eq(output.length, sizeof expected - 1);
    cr_assert(memcmp(output.data, expected, output.length) == 0);
    /* Normalised output is a fixed point: it parses cleanly in ns and normalises to itself. */
    struct buffer again = BUFFER_INITIALIZER;
    cr_assert_eq(lineproto_normalise(parser, output.data + 5, output.length - 5,
                                     LINEPROTO_PRECISION_NANOSECOND, 1, &again, &result),
                 0);
    cr_assert_eq(result.accepted, 3);
    cr_assert_eq(result.rejected, 0);
    cr_assert_eq(again.length, output.length - 5);
    cr_assert(memcmp(again.data, output.data + 5, again.length) == 0);
    buffer_release(&again);
}

Test(lineproto_normalise, large_body_grows_the_buffer)
{
    size_t lines = 20000;
    struct buffer body = BUFFER_INITIALIZER;
    for (size_t i = 0; i < lines; i++)
        cr_assert_eq(buffer_append(&body, "meter,id=1 value=12.5\n", 22), 0);
    cr_assert_eq(lineproto_normalise(parser, body.data, body.length, LINEPROTO_PRECISION_SECOND,
                                     RECEIVED, &output, &result),
                 0);
    cr_assert_eq(result.accepted, lines);
    const char line[] = "meter,id=1 value=12.5 1600000000000000000\n";
    cr_assert_eq(output.length, lines * (sizeof line - 1));
    cr_assert(memcmp(output.data + output.length - (sizeof line - 1), line, sizeof line - 1) == 0);
    buffer_release(&body);
}
