/* Escape helpers: unescaping per element, escaping for output, and their round trip. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "relay/lineproto.h"

static void unescape_expect(enum lineproto_element element, const char *escaped,
                            const char *expected)
{
    char out[128];
    struct lineproto_slice slice = {escaped, strlen(escaped)};
    size_t length = lineproto_unescape(element, slice, out);
    cr_assert_eq(length, strlen(expected), "\"%s\" unescaped to \"%.*s\"", escaped, (int)length,
                 out);
    cr_assert(memcmp(out, expected, length) == 0, "\"%s\" unescaped to \"%.*s\"", escaped,
              (int)length, out);
}

static void escape_expect(enum lineproto_element element, const char *text, const char *expected)
{
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(lineproto_escape_append(&out, element, text, strlen(text)), 0, "%s", text);
    cr_assert_eq(out.length, strlen(expected), "\"%s\" escaped to \"%.*s\"", text, (int)out.length,
                 out.data);
    cr_assert(out.length == 0 || memcmp(out.data, expected, out.length) == 0);
    buffer_release(&out);
}

Test(lineproto_escape, unescape_per_element)
{
    unescape_expect(LINEPROTO_ELEMENT_MEASUREMENT, "a\\,b\\ c\\=d\\\\e\\", "a,b c\\=d\\\\e\\");
    unescape_expect(LINEPROTO_ELEMENT_TAG_KEY, "a\\,b\\ c\\=d\\x", "a,b c=d\\x");
    unescape_expect(LINEPROTO_ELEMENT_TAG_VALUE, "\\=\\=", "==");
    unescape_expect(LINEPROTO_ELEMENT_FIELD_KEY, "\\\\,", "\\,");
    unescape_expect(LINEPROTO_ELEMENT_STRING, "\\\"q\\\" \\\\ \\n \\, \\", "\"q\" \\ \\n \\, \\");
    unescape_expect(LINEPROTO_ELEMENT_STRING, "", "");
    unescape_expect(LINEPROTO_ELEMENT_TAG_KEY, "plain", "plain");
}

Test(lineproto_escape, escape_per_element)
{
    escape_expect(LINEPROTO_ELEMENT_MEASUREMENT, "a,b c=d", "a\\,b\\ c=d");
    escape_expect(LINEPROTO_ELEMENT_TAG_KEY, "a,b c=d", "a\\,b\\ c\\=d");
    escape_expect(LINEPROTO_ELEMENT_TAG_VALUE, "C:\\dir", "C:\\dir");
    escape_expect(LINEPROTO_ELEMENT_FIELD_KEY, "a\\,b", "a\\\\,b");
    escape_expect(LINEPROTO_ELEMENT_STRING, "say \"hi\" \\o/\n", "say \\\"hi\\\" \\\\o/\n");
    escape_expect(LINEPROTO_ELEMENT_STRING, "", "");
}

Test(lineproto_escape, inexpressible_names_are_refused)
{
    struct buffer out = BUFFER_INITIALIZER;
    cr_assert_eq(lineproto_escape_append(&out, LINEPROTO_ELEMENT_TAG_VALUE, "", 0), -EINVAL);
    cr_assert_eq(lineproto_escape_append(&out, LINEPROTO_ELEMENT_TAG_VALUE, "a\\", 2), -EINVAL);
    cr_assert_eq(lineproto_escape_append(&out, LINEPROTO_ELEMENT_MEASUREMENT, "a\tb", 3), -EINVAL);
    cr_assert_eq(lineproto_escape_append(&out, LINEPROTO_ELEMENT_FIELD_KEY, "a\xff", 2), -EINVAL);
    cr_assert_eq(out.length, 0);
    cr_assert_eq(lineproto_escape_append(&out, LINEPROTO_ELEMENT_STRING, "a\\", 2), 0);
    buffer_release(&out);
}

Test(lineproto_escape, escaped_line_parses_back_to_the_original_names)
{
    static const char *const names[] = {
        "plain", "a b", "a,b", "a=b", "a\\b", "a\\,b", "\\ x", "=,= ,", "caf\xC3\xA9 \xE2\x82\xAC",
        "\\\\"};
    static const enum lineproto_element elements[] = {
        LINEPROTO_ELEMENT_MEASUREMENT, LINEPROTO_ELEMENT_TAG_KEY, LINEPROTO_ELEMENT_TAG_VALUE,
        LINEPROTO_ELEMENT_FIELD_KEY, LINEPROTO_ELEMENT_STRING};
    static const char *const separators[] = {",", "=", " ", "=\"", "\""};
    struct lineproto_parser *parser = lineproto_parser_create();
    cr_assert_not_null(parser);
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
        size_t length = strlen(names[n]);
        if (names[n][length - 1] == '\\')
            continue; /* refused above */
        struct buffer line = BUFFER_INITIALIZER;
        for (size_t e = 0; e < 5; e++) {
            cr_assert_eq(lineproto_escape_append(&line, elements[e], names[n], length), 0);
            cr_assert_eq(buffer_append(&line, separators[e], strlen(separators[e])), 0);
        }
        struct lineproto_point point;
        struct lineproto_error error;
        lineproto_parser_start(parser, line.data, line.length, LINEPROTO_PRECISION_NANOSECOND);
        cr_assert_eq(lineproto_parser_next(parser, &point, &error), LINEPROTO_POINT, "\"%.*s\": %s",
                     (int)line.length, line.data, error.reason);
        struct lineproto_slice parts[] = {point.measurement, point.tags[0].key, point.tags[0].value,
                                          point.fields[0].key, point.fields[0].value};
        for (size_t e = 0; e < 5; e++) {
            char out[64];
            size_t out_length = lineproto_unescape(elements[e], parts[e], out);
            cr_assert_eq(out_length, length, "element %zu of \"%.*s\"", e, (int)line.length,
                         line.data);
            cr_assert(memcmp(out, names[n], length) == 0);
        }
        buffer_release(&line);
    }
    lineproto_parser_destroy(parser);
}

Test(lineproto_escape, buffer_grows_and_releases)
{
    struct buffer out = BUFFER_INITIALIZER;
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(buffer_append(&out, "0123456789", 10), 0);
    cr_assert_eq(out.length, 10000);
    cr_assert_geq(out.capacity, 10000);
    cr_assert(memcmp(out.data + 9990, "0123456789", 10) == 0);
    buffer_clear(&out);
    cr_assert_eq(out.length, 0);
    buffer_release(&out);
    cr_assert_null(out.data);
    cr_assert_eq(out.capacity, 0);
}
