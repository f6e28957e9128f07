/* Parser: the structure of a line, escapes, value types, blank/comment lines, line endings. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/lineproto.h"

static struct lineproto_parser *parser;
static char *input; /* exactly sized copy, so ASan catches any read past the end */
static struct lineproto_point point;
static struct lineproto_error error;

static void parse_setup(void)
{
    parser = lineproto_parser_create();
    cr_assert_not_null(parser);
}

static void parse_teardown(void)
{
    lineproto_parser_destroy(parser);
    free(input);
    input = NULL;
}

TestSuite(lineproto_parse, .init = parse_setup, .fini = parse_teardown);

static void start_bytes(const char *text, size_t length, enum lineproto_precision precision)
{
    free(input);
    input = malloc(length ? length : 1);
    cr_assert_not_null(input);
    memcpy(input, text, length);
    lineproto_parser_start(parser, input, length, precision);
}

static void start(const char *text)
{
    start_bytes(text, strlen(text), LINEPROTO_PRECISION_NANOSECOND);
}

static enum lineproto_status next(void)
{
    return lineproto_parser_next(parser, &point, &error);
}

/* Parses text as the only line and requires a point. */
static void parse_point(const char *text)
{
    start(text);
    enum lineproto_status status = next();
    cr_assert_eq(status, LINEPROTO_POINT, "\"%s\" rejected: %s", text, error.reason);
}

static void slice_expect(struct lineproto_slice slice, const char *expected)
{
    cr_assert_eq(slice.length, strlen(expected), "length %zu, expected \"%s\"", slice.length,
                 expected);
    cr_assert(memcmp(slice.data, expected, slice.length) == 0, "got \"%.*s\", expected \"%s\"",
              (int)slice.length, slice.data, expected);
}

static void unescaped_expect(enum lineproto_element element, struct lineproto_slice slice,
                             const char *expected)
{
    char out[256];
    cr_assert_lt(slice.length, sizeof out);
    size_t length = lineproto_unescape(element, slice, out);
    cr_assert_eq(length, strlen(expected), "unescaped to \"%.*s\", expected \"%s\"", (int)length,
                 out, expected);
    cr_assert(memcmp(out, expected, length) == 0);
}

Test(lineproto_parse, full_line_gives_every_element)
{
    parse_point("cpu,host=a,region=eu usage=1.5,count=3i,total=7u,note=\"ok\",up=true "
                "1600000000000000000");
    slice_expect(point.measurement, "cpu");
    cr_assert_eq(point.tag_count, 2);
    slice_expect(point.tags[0].key, "host");
    slice_expect(point.tags[0].value, "a");
    slice_expect(point.tags[1].key, "region");
    slice_expect(point.tags[1].value, "eu");
    cr_assert_eq(point.field_count, 5);
    slice_expect(point.fields[0].key, "usage");
    cr_assert_eq(point.fields[0].type, LINEPROTO_VALUE_FLOAT);
    slice_expect(point.fields[0].value, "1.5");
    cr_assert_eq(point.fields[1].type, LINEPROTO_VALUE_INTEGER);
    cr_assert_eq(point.fields[1].as.integer, 3);
    slice_expect(point.fields[1].value, "3");
    cr_assert_eq(point.fields[2].type, LINEPROTO_VALUE_UNSIGNED);
    cr_assert_eq(point.fields[2].as.unsigned_integer, 7);
    cr_assert_eq(point.fields[3].type, LINEPROTO_VALUE_STRING);
    slice_expect(point.fields[3].value, "ok");
    cr_assert_eq(point.fields[4].type, LINEPROTO_VALUE_BOOLEAN);
    cr_assert_eq(point.fields[4].as.boolean, true);
    cr_assert(point.has_time);
    cr_assert_eq(point.time, 1600000000000000000);
    slice_expect(point.time_text, "1600000000000000000");
    slice_expect(point.series_key, "cpu,host=a,region=eu");
    slice_expect(point.body,
                 "cpu,host=a,region=eu usage=1.5,count=3i,total=7u,note=\"ok\",up=true");
    slice_expect(point.line, "cpu,host=a,region=eu usage=1.5,count=3i,total=7u,note=\"ok\",up=true "
                             "1600000000000000000");
    cr_assert_eq(point.line_number, 1);
    cr_assert_eq(next(), LINEPROTO_END);
}

Test(lineproto_parse, minimal_line_without_tags_or_time)
{
    parse_point("m f=1");
    slice_expect(point.measurement, "m");
    cr_assert_eq(point.tag_count, 0);
    cr_assert_eq(point.field_count, 1);
    cr_assert_not(point.has_time);
    cr_assert_eq(point.time_text.length, 0);
    slice_expect(point.line, "m f=1");
    slice_expect(point.body, "m f=1");
    slice_expect(point.series_key, "m");
}

Test(lineproto_parse, spaces_around_sections_are_accepted)
{
    parse_point("  m,t=v   f=1,g=2    -5   ");
    slice_expect(point.measurement, "m");
    cr_assert_eq(point.field_count, 2);
    cr_assert_eq(point.time, -5);
    slice_expect(point.line, "m,t=v   f=1,g=2    -5");
    slice_expect(point.body, "m,t=v   f=1,g=2");
}

Test(lineproto_parse, trailing_spaces_after_fields_mean_no_time)
{
    parse_point("m f=1   ");
    cr_assert_not(point.has_time);
    slice_expect(point.line, "m f=1");
}

Test(lineproto_parse, measurement_escapes_comma_and_space_only)
{
    parse_point("my\\ meter\\,x\\=y f=1");
    slice_expect(point.measurement, "my\\ meter\\,x\\=y");
    cr_assert(point.measurement_escaped);
    unescaped_expect(LINEPROTO_ELEMENT_MEASUREMENT, point.measurement, "my meter,x\\=y");
}

Test(lineproto_parse, measurement_may_contain_equals_and_quotes)
{
    parse_point("a=b\"c f=1");
    slice_expect(point.measurement, "a=b\"c");
    cr_assert_not(point.measurement_escaped);
}

Test(lineproto_parse, tag_key_and_value_escapes)
{
    parse_point("m,k\\,1\\ 2\\=3=v\\,a\\ b\\=c f=1");
    cr_assert_eq(point.tag_count, 1);
    cr_assert(point.tags[0].escaped);
    unescaped_expect(LINEPROTO_ELEMENT_TAG_KEY, point.tags[0].key, "k,1 2=3");
    unescaped_expect(LINEPROTO_ELEMENT_TAG_VALUE, point.tags[0].value, "v,a b=c");
}

Test(lineproto_parse, field_key_escapes)
{
    parse_point("m f\\,1\\ 2\\=3=1");
    cr_assert(point.fields[0].key_escaped);
    unescaped_expect(LINEPROTO_ELEMENT_FIELD_KEY, point.fields[0].key, "f,1 2=3");
}

Test(lineproto_parse, backslash_before_other_bytes_is_literal)
{
    parse_point("m\\a,k\\b=v\\c f\\d=\"x\\ny\"");
    unescaped_expect(LINEPROTO_ELEMENT_MEASUREMENT, point.measurement, "m\\a");
    unescaped_expect(LINEPROTO_ELEMENT_TAG_KEY, point.tags[0].key, "k\\b");
    unescaped_expect(LINEPROTO_ELEMENT_TAG_VALUE, point.tags[0].value, "v\\c");
    unescaped_expect(LINEPROTO_ELEMENT_FIELD_KEY, point.fields[0].key, "f\\d");
    cr_assert_not(point.fields[0].value_escaped);
    unescaped_expect(LINEPROTO_ELEMENT_STRING, point.fields[0].value, "x\\ny");
    cr_assert_not(point.tags[0].escaped);
}

Test(lineproto_parse, double_backslash_before_comma_escapes_the_comma)
{
    /* "\\," is a literal backslash then an escaped comma: the measurement goes on. */
    parse_point("m\\\\,k=v f=1");
    slice_expect(point.measurement, "m\\\\,k=v");
    unescaped_expect(LINEPROTO_ELEMENT_MEASUREMENT, point.measurement, "m\\,k=v");
    cr_assert_eq(point.tag_count, 0);
}

Test(lineproto_parse, backslash_at_end_of_input_escapes_nothing)
{
    start("m,k=v\\");
    cr_assert_eq(next(), LINEPROTO_INVALID);
    cr_assert_str_eq(error.reason, "missing fields: expected a space and at least one field "
                                   "(key=value) after the measurement and tags");
    start("m f=\"x\\");
    cr_assert_eq(next(), LINEPROTO_INVALID);
    cr_assert_str_eq(error.reason, "unterminated string value for field \"f\": missing closing "
                                   "'\"'");
}

Test(lineproto_parse, string_escapes_are_quote_and_backslash_only)
{
    parse_point("m s=\"say \\\"hi\\\" C:\\\\dir \\n \\t \\, end\"");
    cr_assert(point.fields[0].value_escaped);
    unescaped_expect(LINEPROTO_ELEMENT_STRING, point.fields[0].value,
                     "say \"hi\" C:\\dir \\n \\t \\, end");
}

Test(lineproto_parse, string_may_hold_separators_and_control_characters)
{
    parse_point("m s=\"a, b=c d\tx\x01\",n=1");
    unescaped_expect(LINEPROTO_ELEMENT_STRING, point.fields[0].value, "a, b=c d\tx\x01");
    cr_assert_eq(point.field_count, 2);
}

Test(lineproto_parse, empty_string_value)
{
    parse_point("m s=\"\"");
    cr_assert_eq(point.fields[0].type, LINEPROTO_VALUE_STRING);
    cr_assert_eq(point.fields[0].value.length, 0);
}

Test(lineproto_parse, string_with_newline_spans_lines)
{
    start("m s=\"one\ntwo\" 5\nn f=1\n");
    cr_assert_eq(next(), LINEPROTO_POINT);
    cr_assert_eq(point.line_number, 1);
    unescaped_expect(LINEPROTO_ELEMENT_STRING, point.fields[0].value, "one\ntwo");
    cr_assert_eq(point.time, 5);
    cr_assert_eq(next(), LINEPROTO_POINT);
    cr_assert_eq(point.line_number, 3);
    slice_expect(point.measurement, "n");
    cr_assert_eq(next(), LINEPROTO_END);
}

Test(lineproto_parse, utf8_names_and_strings)
{
    parse_point("caf\xC3\xA9,\xE2\x82\xAC=\xF0\x9F\x98\x80 gr\xC3\xB6\xC3\x9F"
                "e=\"\xE6\x97\xA5\"");
    slice_expect(point.measurement, "caf\xC3\xA9");
    slice_expect(point.tags[0].key, "\xE2\x82\xAC");
    slice_expect(point.tags[0].value, "\xF0\x9F\x98\x80");
    slice_expect(point.fields[0].key, "gr\xC3\xB6\xC3\x9F"
                                      "e");
    slice_expect(point.fields[0].value, "\xE6\x97\xA5");
}

Test(lineproto_parse, long_names_cross_the_vector_width)
{
    /* Names longer than 16 bytes with the interesting byte at every offset of a block. */
    for (int offset = 0; offset < 40; offset++) {
        char line[320];
        char name[64];
        memset(name, 'a', (size_t)offset);
        name[offset] = '\0';
        snprintf(line, sizeof line, "%s\\ x,%s\\=k=%s\xC3\xA9 %s\\,f=1", name, name, name, name);
        parse_point(line);
        cr_assert_eq(point.measurement.length, (size_t)offset + 3);
        cr_assert_eq(point.tags[0].key.length, (size_t)offset + 3);
        cr_assert_eq(point.tags[0].value.length, (size_t)offset + 2);
        cr_assert_eq(point.fields[0].key.length, (size_t)offset + 3);
    }
}

Test(lineproto_parse, boolean_spellings)
{
    parse_point("m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE");
    cr_assert_eq(point.field_count, 10);
    for (size_t i = 0; i < 10; i++) {
        cr_assert_eq(point.fields[i].type, LINEPROTO_VALUE_BOOLEAN);
        cr_assert_eq(point.fields[i].as.boolean, i < 5, "field %zu", i);
    }
}

Test(lineproto_parse, float_spellings)
{
    static const struct {
        const char *text;
        double value;
    } cases[] = {
        {"1", 1},        {"-1", -1},        {"1.5", 1.5},
        {".5", 0.5},     {"5.", 5},         {"-.5", -0.5},
        {"1e3", 1000},   {"1E3", 1000},     {"1e+3", 1000},
        {"1e-3", 0.001}, {"-0", -0.0},      {"007.50", 7.5},
        {"0.0", 0},      {"1.5e-400", 0.0}, {"12345678901234567890", 12345678901234567890.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "m f=%s", cases[i].text);
        parse_point(line);
        cr_assert_eq(point.fields[0].type, LINEPROTO_VALUE_FLOAT, "%s", cases[i].text);
        slice_expect(point.fields[0].value, cases[i].text);
        double value;
        cr_assert_eq(lineproto_field_float(&point.fields[0], &value), 0);
        cr_assert_eq(value, cases[i].value, "%s gave %g", cases[i].text, value);
    }
}

Test(lineproto_parse, float_conversion_refuses_other_types)
{
    parse_point("m i=1i");
    double value = 42;
    cr_assert_eq(lineproto_field_float(&point.fields[0], &value), -1);
    cr_assert_eq(value, 42);
}

Test(lineproto_parse, long_float_literal_converts)
{
    char line[400] = "m f=0.";
    memset(line + 6, '0', 300);
    strcpy(line + 306, "15");
    parse_point(line);
    double value;
    cr_assert_eq(lineproto_field_float(&point.fields[0], &value), 0);
    cr_assert_float_eq(value, 1.5e-301, 1e-310);
}

Test(lineproto_parse, duplicate_field_keys_are_kept_in_input_order)
{
    parse_point("m f=1,g=2,f=3");
    cr_assert_eq(point.field_count, 3);
    slice_expect(point.fields[0].key, "f");
    slice_expect(point.fields[0].value, "1");
    slice_expect(point.fields[2].key, "f");
    slice_expect(point.fields[2].value, "3");
}

Test(lineproto_parse, field_keys_reserved_only_as_tags_are_fine)
{
    parse_point("m _measurement=1,_field=2,Time=3,times=4");
    cr_assert_eq(point.field_count, 4);
    parse_point("m,Time=x,_time=y f=1");
    cr_assert_eq(point.tag_count, 2);
}

/* InfluxDB 1.x and 2.x store such a point without its "time" field and answer 204 (Telegraf's
 * libvirt input writes one): refusing the line lost its other fields. */
Test(lineproto_parse, time_field_beside_others_is_accepted)
{
    parse_point("libvirt_cpu,domain_name=x system=1595411964000u,time=16924971591000u,"
                "user=15329559626000u 1738079263000000000");
    cr_assert_eq(point.field_count, 3);
    slice_expect(point.fields[1].key, "time");
    slice_expect(point.fields[2].key, "user");
    parse_point("m time=\"x\",f=1");
    cr_assert_eq(point.field_count, 2);
}

/* InfluxDB drops the "time" fields before it checks field types: a point whose "time" fields
 * differ in type is stored with its other fields, not refused as a field type conflict. */
Test(lineproto_parse, time_fields_of_two_types_beside_others_are_accepted)
{
    parse_point("m time=1,time=\"x\",v=1");
    cr_assert_eq(point.field_count, 3);
    parse_point("m v=1,time=2i,w=t,time=false 1");
    cr_assert_eq(point.field_count, 4);
    /* Past the pairwise limit, through the hash table. */
    parse_point("m time=1,f1=1,f2=1,f3=1,f4=1,f5=1,f6=1,f7=1,f8=1,f9=1,f10=1,f11=1,f12=1,"
                "time=\"x\"");
    cr_assert_eq(point.field_count, 14);
}

Test(lineproto_parse, many_tags_and_fields_grow_the_arrays)
{
    size_t size = 200 * 16 + 64;
    char *line = malloc(size);
    cr_assert_not_null(line);
    size_t length = (size_t)snprintf(line, size, "m");
    for (int i = 0; i < 100; i++)
        length += (size_t)snprintf(line + length, size - length, ",t%03d=v", i);
    for (int i = 0; i < 100; i++)
        length +=
            (size_t)snprintf(line + length, size - length, "%cf%03d=%di", i ? ',' : ' ', i, i);
    parse_point(line);
    cr_assert_eq(point.tag_count, 100);
    cr_assert_eq(point.field_count, 100);
    slice_expect(point.tags[99].key, "t099");
    cr_assert_eq(point.fields[99].as.integer, 99);
    free(line);
}

Test(lineproto_parse, blank_and_comment_lines_are_skipped)
{
    start("\n   \n# a comment, with = signs\n  # indented comment\n#\tcontrol \x01 bytes "
          "\xFF\n\r\nm f=1\n\n");
    cr_assert_eq(next(), LINEPROTO_POINT);
    cr_assert_eq(point.line_number, 7);
    cr_assert_eq(next(), LINEPROTO_END);
    cr_assert_eq(next(), LINEPROTO_END);
}

Test(lineproto_parse, empty_input_and_only_comments_end_at_once)
{
    start("");
    cr_assert_eq(next(), LINEPROTO_END);
    start("# only a comment");
    cr_assert_eq(next(), LINEPROTO_END);
    start("   ");
    cr_assert_eq(next(), LINEPROTO_END);
}

Test(lineproto_parse, crlf_line_endings)
{
    start("a f=1\r\nb f=2 3\r\n# c\r\nc f=\"x\"\r\n");
    cr_assert_eq(next(), LINEPROTO_POINT);
    slice_expect(point.line, "a f=1");
    cr_assert_eq(next(), LINEPROTO_POINT);
    slice_expect(point.line, "b f=2 3");
    cr_assert_eq(point.line_number, 2);
    cr_assert_eq(next(), LINEPROTO_POINT);
    slice_expect(point.line, "c f=\"x\"");
    cr_assert_eq(point.line_number, 4);
    cr_assert_eq(next(), LINEPROTO_END);
}

Test(lineproto_parse, carriage_return_at_end_of_input_is_a_line_end)
{
    parse_point("m f=1\r");
    slice_expect(point.line, "m f=1");
    cr_assert_eq(next(), LINEPROTO_END);
    parse_point("m f=1 7\r");
    cr_assert_eq(point.time, 7);
}

Test(lineproto_parse, last_line_without_newline)
{
    start("a f=1\nb f=2");
    cr_assert_eq(next(), LINEPROTO_POINT);
    cr_assert_eq(next(), LINEPROTO_POINT);
    slice_expect(point.measurement, "b");
    cr_assert_eq(point.line_number, 2);
    cr_assert_eq(next(), LINEPROTO_END);
}

Test(lineproto_parse, parser_is_reusable_across_inputs)
{
    parse_point("a,x=1 f=1");
    parse_point("b f=2");
    cr_assert_eq(point.tag_count, 0);
    slice_expect(point.measurement, "b");
    cr_assert_eq(point.line_number, 1);
}
