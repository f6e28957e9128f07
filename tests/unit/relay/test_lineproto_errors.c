/* Parser: every rejection with its exact reason, line numbers and recovery after a bad line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/lineproto.h"

static struct lineproto_parser *parser;
static char *input;
static struct lineproto_point point;
static struct lineproto_error error;

static void errors_setup(void)
{
    parser = lineproto_parser_create();
    cr_assert_not_null(parser);
}

static void errors_teardown(void)
{
    lineproto_parser_destroy(parser);
    free(input);
    input = NULL;
}

TestSuite(lineproto_errors, .init = errors_setup, .fini = errors_teardown);

static void start_bytes(const char *text, size_t length, enum lineproto_precision precision)
{
    free(input);
    input = malloc(length ? length : 1);
    cr_assert_not_null(input);
    memcpy(input, text, length);
    lineproto_parser_start(parser, input, length, precision);
}

static enum lineproto_status next(void)
{
    return lineproto_parser_next(parser, &point, &error);
}

/* Parses text (length bytes) and requires its first line to be rejected with reason. */
static void reject_bytes(const char *text, size_t length, const char *reason)
{
    start_bytes(text, length, LINEPROTO_PRECISION_NANOSECOND);
    enum lineproto_status status = next();
    cr_assert_eq(status, LINEPROTO_INVALID, "\"%.*s\" was accepted", (int)length, text);
    cr_assert_str_eq(error.reason, reason, "for \"%.*s\"", (int)length, text);
    cr_assert_eq(error.line_number, 1);
}

static void reject(const char *text, const char *reason)
{
    reject_bytes(text, strlen(text), reason);
}

static void accept(const char *text)
{
    start_bytes(text, strlen(text), LINEPROTO_PRECISION_NANOSECOND);
    enum lineproto_status status = next();
    cr_assert_eq(status, LINEPROTO_POINT, "\"%s\" rejected: %s", text, error.reason);
}

#define INVALID_VALUE(value, key)                                                                  \
    "invalid field value \"" value "\" for field \"" key "\": expected a number (like 1.5, -3i "   \
    "or 7u), a string in double quotes, or a boolean (true/false)"
#define MISSING_FIELDS                                                                             \
    "missing fields: expected a space and at least one field (key=value) after the measurement "   \
    "and tags"
#define MISSING_FIELDS_AFTER_SPACE                                                                 \
    "missing fields: expected at least one field (key=value) after the measurement and tags"

Test(lineproto_errors, measurement_problems)
{
    reject(",t=v f=1", "missing measurement name before ','");
    reject("\tm f=1",
           "invalid character 0x09 at the start of the line: expected a measurement name");
    reject("m\x01x f=1", "invalid character 0x01 in measurement \"m\\x01\": names must not contain "
                         "control characters");
    reject("m\x7f f=1", "invalid character 0x7F in measurement \"m\\x7F\": names must not contain "
                        "control characters");
    reject("m\xff f=1", "invalid UTF-8 (byte 0xFF) in measurement \"m\\xFF\"");
    reject("m\r f=1", "carriage return not followed by a newline");
    reject("\rm f=1", "invalid character 0x0D at the start of the line: expected a measurement "
                      "name");
}

Test(lineproto_errors, missing_fields)
{
    reject("m", MISSING_FIELDS);
    reject("m\n", MISSING_FIELDS);
    reject("m,t=v", MISSING_FIELDS);
    reject("m ", MISSING_FIELDS_AFTER_SPACE);
    reject("m,t=v   \n", MISSING_FIELDS_AFTER_SPACE);
    reject("m\\ f=1", MISSING_FIELDS); /* the space is escaped: all of it is the measurement */
}

Test(lineproto_errors, tag_problems)
{
    reject("m,=v f=1", "empty tag key before '='");
    reject("m,,t=v f=1", "empty tag key before ','");
    reject("m, f=1", "expected a tag key after ',', found ' '");
    reject("m,", "expected a tag key after ',', found end of line");
    reject("m,k f=1", "expected '=' after tag key \"k\", found ' '");
    reject("m,k,j=1 f=1", "expected '=' after tag key \"k\", found ','");
    reject("m,k", "expected '=' after tag key \"k\", found end of line");
    reject("m,k= f=1", "missing value for tag key \"k\"");
    reject("m,k=,j=1 f=1", "missing value for tag key \"k\"");
    reject("m,k=", "missing value for tag key \"k\"");
    reject("m,k=a=b f=1", "unexpected '=' in the value of tag key \"k\" (write it as \\= if it "
                          "belongs to the value)");
    reject("m,k\x02=v f=1", "invalid character 0x02 in tag key \"k\\x02\": names must not contain "
                            "control characters");
    reject("m,k=v\tw f=1", "invalid character 0x09 in tag value \"v\\t\": names must not contain "
                           "control characters");
    reject("m,k=\xC3 f=1", "invalid UTF-8 (byte 0xC3) in tag value \"\\xC3\"");
    reject("m,\xE2\x82=v f=1", "invalid UTF-8 (byte 0xE2) in tag key \"\\xE2\"");
}

Test(lineproto_errors, duplicate_tag_keys)
{
    reject("m,a=1,b=2,a=3 f=1", "duplicate tag key \"a\"");
    reject("m,a\\ b=1,a\\ b=2 f=1", "duplicate tag key \"a\\ b\"");
    accept("m,a=1,A=2,a\\ =3,ab=4 f=1");
}

Test(lineproto_errors, duplicate_tag_keys_among_many)
{
    char line[1024];
    size_t length = (size_t)snprintf(line, sizeof line, "m");
    for (int i = 0; i < 40; i++)
        length += (size_t)snprintf(line + length, sizeof line - length, ",k%d=v", i);
    snprintf(line + length, sizeof line - length, " f=1");
    accept(line);
    snprintf(line + length, sizeof line - length, ",k17=again f=1");
    reject(line, "duplicate tag key \"k17\"");
}

Test(lineproto_errors, reserved_tag_keys)
{
    reject("m,time=1 f=1", "tag key \"time\" is reserved by InfluxDB: rename the tag");
    reject("m,_measurement=x f=1",
           "tag key \"_measurement\" is reserved by InfluxDB: rename the tag");
    reject("m,a=1,_field=x f=1", "tag key \"_field\" is reserved by InfluxDB: rename the tag");
}

/* InfluxDB drops a point whose only fields are named "time" (beside others it drops the field
 * alone, lineproto_parse's time_field_beside_others_is_accepted). */
Test(lineproto_errors, reserved_field_key_time)
{
    reject("m time=1",
           "invalid field key \"time\": it is reserved for the timestamp; rename the field");
    reject("m time=1,time=\"x\"",
           "invalid field key \"time\": it is reserved for the timestamp; rename the field");
}

/* InfluxDB refuses a point with one field in two types ("field type conflict"), and with it
 * every other point of the write: one such line dead-lettered a whole upstream batch. */
Test(lineproto_errors, field_written_twice_in_two_types)
{
    reject("m v=1i,v=2", "field \"v\" is written twice with different types (integer, then "
                         "float): InfluxDB refuses the point");
    reject("m v=1,w=t,v=\"x\"", "field \"v\" is written twice with different types (float, "
                                "then string): InfluxDB refuses the point");
    reject("m v=t,v=f,v=1u", "field \"v\" is written twice with different types (boolean, then "
                             "unsigned integer): InfluxDB refuses the point");
    accept("m v=1,v=2,v=3.5");
    accept("m v=\"a\",v=\"b\"");
    /* Past the pairwise limit the keys go into a hash table; keys alike in length and in their
     * first and last eight bytes collide there and are compared in full. */
    char alike[1024];
    size_t alike_length = (size_t)snprintf(alike, sizeof alike, "m ");
    for (int i = 0; i < 20; i++)
        alike_length += (size_t)snprintf(alike + alike_length, sizeof alike - alike_length,
                                         "%sreadings_%c_kilowatt=%di", i ? "," : "", 'a' + i, i);
    accept(alike);
    snprintf(alike + alike_length, sizeof alike - alike_length, ",readings_k_kilowatt=\"x\"");
    reject(alike, "field \"readings_k_kilowatt\" is written twice with different types "
                  "(integer, then string): InfluxDB refuses the point");
    char line[1024];
    size_t length = (size_t)snprintf(line, sizeof line, "m f0=1");
    for (int i = 1; i < 40; i++)
        length += (size_t)snprintf(line + length, sizeof line - length, ",f%d=%di", i, i);
    accept(line);
    snprintf(line + length, sizeof line - length, ",f0=1,f17=2i,f23=false");
    reject(line, "field \"f23\" is written twice with different types (integer, then boolean): "
                 "InfluxDB refuses the point");
}

Test(lineproto_errors, field_key_problems)
{
    reject("m =1", "empty field key before '='");
    reject("m f=1,,g=2", "empty field key before ','");
    reject("m ,f=1", "empty field key before ','");
    reject("m f=1,", "expected a field key after ',', found end of line");
    reject("m f=1, g=2", "expected a field key after ',', found ' '");
    reject("m f", "expected '=' after field key \"f\", found end of line");
    reject("m f g=1", "expected '=' after field key \"f\", found ' '");
    reject("m f\x1f=1", "invalid character 0x1F in field key \"f\\x1F\": names must not contain "
                        "control characters");
    reject("m f\xC0\x80=1", "invalid UTF-8 (byte 0xC0) in field key \"f\\xC0\"");
}

Test(lineproto_errors, field_value_problems)
{
    reject("m f=", "missing value for field \"f\"");
    reject("m f= 1", "missing value for field \"f\"");
    reject("m f=,g=1", "missing value for field \"f\"");
    reject("m temp=12x", INVALID_VALUE("12x", "temp"));
    reject("m f=+1", INVALID_VALUE("+1", "f"));
    reject("m f=1_000", INVALID_VALUE("1_000", "f"));
    reject("m f=0x1p3", INVALID_VALUE("0x1p3", "f"));
    reject("m f=NaN", INVALID_VALUE("NaN", "f"));
    reject("m f=nan", INVALID_VALUE("nan", "f"));
    reject("m f=Inf", INVALID_VALUE("Inf", "f"));
    reject("m f=-Inf", INVALID_VALUE("-Inf", "f"));
    reject("m f=infinity", INVALID_VALUE("infinity", "f"));
    reject("m f=.", INVALID_VALUE(".", "f"));
    reject("m f=-", INVALID_VALUE("-", "f"));
    reject("m f=-.", INVALID_VALUE("-.", "f"));
    reject("m f=1e", INVALID_VALUE("1e", "f"));
    reject("m f=1e+", INVALID_VALUE("1e+", "f"));
    reject("m f=1e1.5", INVALID_VALUE("1e1.5", "f"));
    reject("m f=1.2.3", INVALID_VALUE("1.2.3", "f"));
    reject("m f=--1", INVALID_VALUE("--1", "f"));
    reject("m f=1-", INVALID_VALUE("1-", "f"));
    reject("m f=1.5i", INVALID_VALUE("1.5i", "f"));
    reject("m f=1e3i", INVALID_VALUE("1e3i", "f"));
    reject("m f=i", INVALID_VALUE("i", "f"));
    reject("m f=-i", INVALID_VALUE("-i", "f"));
    reject("m f=u", INVALID_VALUE("u", "f"));
    reject("m f=1ii", INVALID_VALUE("1ii", "f"));
    reject("m f=1iu", INVALID_VALUE("1iu", "f"));
    reject("m f=1I", INVALID_VALUE("1I", "f"));
    reject("m f=tru", INVALID_VALUE("tru", "f"));
    reject("m f=tRUE", INVALID_VALUE("tRUE", "f"));
    reject("m f=truex", INVALID_VALUE("truex", "f"));
    reject("m f=yes", INVALID_VALUE("yes", "f"));
    reject("m f='a'", INVALID_VALUE("'a'", "f"));
    reject("m f=1\t", INVALID_VALUE("1\\t", "f"));
}

Test(lineproto_errors, string_value_problems)
{
    reject("m f=\"abc", "unterminated string value for field \"f\": missing closing '\"'");
    reject("m f=\"a\"b", "unexpected 'b' after the string value of field \"f\": expected ',' or a "
                         "space");
    reject("m f=\"a\"\"b\"", "unexpected '\"' after the string value of field \"f\": expected ',' "
                             "or a space");
    reject("m f=\"\xFF\"", "invalid UTF-8 (byte 0xFF) in the string value of field \"f\"");
    reject("m f=\"\xED\xA0\x80\"", "invalid UTF-8 (byte 0xED) in the string value of field \"f\"");
    reject("m f=\"\xF4\x90\x80\x80\"",
           "invalid UTF-8 (byte 0xF4) in the string value of field \"f\"");
    reject("m f=\"\xE0\x80\xAF\"", "invalid UTF-8 (byte 0xE0) in the string value of field \"f\"");
    reject("m f=\"\xC3\"", "invalid UTF-8 (byte 0xC3) in the string value of field \"f\"");
}

Test(lineproto_errors, timestamp_syntax)
{
    reject("m f=1 12a", "invalid timestamp \"12a\": expected an integer number of nanoseconds "
                        "(digits with an optional leading '-')");
    reject("m f=1 -", "invalid timestamp \"-\": expected an integer number of nanoseconds (digits "
                      "with an optional leading '-')");
    reject("m f=1 +5", "invalid timestamp \"+5\": expected an integer number of nanoseconds "
                       "(digits with an optional leading '-')");
    reject("m f=1 1.5", "invalid timestamp \"1.5\": expected an integer number of nanoseconds "
                        "(digits with an optional leading '-')");
    reject("m f=1 1,2", "invalid timestamp \"1,2\": expected an integer number of nanoseconds "
                        "(digits with an optional leading '-')");
    reject("m f=1 1 2", "unexpected text \"2\" after the timestamp");
    reject("m f=1 1\rx", "carriage return not followed by a newline");
    reject("m f=1\rx", "carriage return not followed by a newline");
}

/* InfluxDB's limit is on the key it stores a field under: series key, "#!~#", field key (checked
 * against influxd 1.6.7: a series key of 65531 bytes with field "v" is refused, "max key length
 * exceeded: 65536 > 65535"). */
Test(lineproto_errors, key_length_limit)
{
    size_t size = 70000;
    char *line = malloc(size);
    cr_assert_not_null(line);
    /* Series key of 65531 bytes: "m,k=" + value. */
    memcpy(line, "m,k=", 4);
    memset(line + 4, 'v', 65531 - 4);
    memcpy(line + 65531, " f=1", 5);
    reject(line, "series key and field key \"f\" make a key of 65536 bytes (InfluxDB stores "
                 "4 more between them): at most 65535 are allowed");
    memcpy(line + 65530, " f=1", 5); /* series key 65530 + 4 + "f" = 65535: fits */
    accept(line);
    memcpy(line + 65530, " fg=1", 6);
    reject(line, "series key and field key \"fg\" make a key of 65536 bytes (InfluxDB stores "
                 "4 more between them): at most 65535 are allowed");
    memset(line + 4, 'v', 65536 - 4);
    memcpy(line + 65536, " f=1", 5);
    reject(line, "series key (measurement and tags) is 65536 bytes long: at most 65535 are "
                 "allowed");
    free(line);
}

Test(lineproto_errors, error_carries_line_column_and_text)
{
    const char text[] = "good f=1\n\n  bad,t=v f=1x 5\r\nnext f=2";
    start_bytes(text, sizeof text - 1, LINEPROTO_PRECISION_NANOSECOND);
    cr_assert_eq(next(), LINEPROTO_POINT);
    cr_assert_eq(next(), LINEPROTO_INVALID);
    cr_assert_eq(error.line_number, 3);
    cr_assert_eq(error.line.length, strlen("bad,t=v f=1x 5"));
    cr_assert(memcmp(error.line.data, "bad,t=v f=1x 5", error.line.length) == 0);
    cr_assert_eq(error.column, 11); /* the value "1x" */
    cr_assert_eq(next(), LINEPROTO_POINT);
    cr_assert_eq(point.line_number, 4);
    cr_assert_eq(next(), LINEPROTO_END);
}

Test(lineproto_errors, batch_keeps_good_lines_around_bad_ones)
{
    const char text[] = "a f=1 1\n"
                        "bad\n"
                        "b f=2 2\n"
                        "c f=\"unterminated\n"
                        "d f=4 4\n"
                        "e,t=1,t=2 f=5\n"
                        "f f=6 6";
    start_bytes(text, sizeof text - 1, LINEPROTO_PRECISION_NANOSECOND);
    static const struct {
        enum lineproto_status status;
        size_t line;
        char measurement;
    } expected[] = {
        {LINEPROTO_POINT, 1, 'a'}, {LINEPROTO_INVALID, 2, 0}, {LINEPROTO_POINT, 3, 'b'},
        {LINEPROTO_INVALID, 4, 0}, {LINEPROTO_POINT, 5, 'd'}, {LINEPROTO_INVALID, 6, 0},
        {LINEPROTO_POINT, 7, 'f'}, {LINEPROTO_END, 0, 0},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        enum lineproto_status status = next();
        cr_assert_eq(status, expected[i].status, "entry %zu", i);
        if (status == LINEPROTO_POINT) {
            cr_assert_eq(point.line_number, expected[i].line);
            cr_assert_eq(point.measurement.data[0], expected[i].measurement);
        } else if (status == LINEPROTO_INVALID) {
            cr_assert_eq(error.line_number, expected[i].line);
        }
    }
}

Test(lineproto_errors, error_after_multiline_string_resumes_after_it)
{
    const char text[] = "m s=\"one\ntwo\" x\nn f=1\n";
    start_bytes(text, sizeof text - 1, LINEPROTO_PRECISION_NANOSECOND);
    cr_assert_eq(next(), LINEPROTO_INVALID);
    cr_assert_eq(error.line_number, 1);
    cr_assert_str_eq(error.reason, "invalid timestamp \"x\": expected an integer number of "
                                   "nanoseconds (digits with an optional leading '-')");
    cr_assert_eq(error.line.length, strlen("m s=\"one\ntwo\" x"));
    cr_assert_eq(next(), LINEPROTO_POINT);
    cr_assert_eq(point.line_number, 3);
    cr_assert_eq(next(), LINEPROTO_END);
}

Test(lineproto_errors, error_message_in_influxdb_wording)
{
    reject("m temp=12x", INVALID_VALUE("12x", "temp"));
    char message[512];
    size_t length = lineproto_error_message(&error, message, sizeof message);
    cr_assert_str_eq(message, "unable to parse 'm temp=12x': " INVALID_VALUE("12x", "temp"));
    cr_assert_eq(length, strlen(message));
}

Test(lineproto_errors, error_message_shows_unsafe_bytes_as_hex)
{
    reject("m\xff\t f=1", "invalid UTF-8 (byte 0xFF) in measurement \"m\\xFF\"");
    char message[256];
    lineproto_error_message(&error, message, sizeof message);
    cr_assert_str_eq(message, "unable to parse 'm\\xFF\\t f=1': invalid UTF-8 (byte 0xFF) in "
                              "measurement \"m\\xFF\"");
}

Test(lineproto_errors, error_message_cuts_long_lines)
{
    char line[400];
    memset(line, 'a', 300);
    strcpy(line + 300, " f=x");
    reject(line, INVALID_VALUE("x", "f"));
    char message[200];
    size_t length = lineproto_error_message(&error, message, sizeof message);
    cr_assert_eq(length, strlen(message));
    cr_assert_lt(length, sizeof message);
    const char *reason = strstr(message, "': " INVALID_VALUE("x", "f"));
    cr_assert_not_null(reason, "%s", message);
    cr_assert(strncmp(reason - 3, "...", 3) == 0, "%s", message);
    cr_assert(strncmp(message, "unable to parse 'aaaa", 21) == 0);
}

Test(lineproto_errors, long_names_are_cut_in_reasons)
{
    char line[200];
    memset(line, 'k', 100);
    strcpy(line + 100, "=oops");
    memmove(line + 2, line, strlen(line) + 1);
    line[0] = 'm';
    line[1] = ' ';
    start_bytes(line, strlen(line), LINEPROTO_PRECISION_NANOSECOND);
    cr_assert_eq(next(), LINEPROTO_INVALID);
    cr_assert_lt(strlen(error.reason), LINEPROTO_REASON_SIZE - 1);
    cr_assert_not_null(strstr(error.reason, "kkk...\""), "%s", error.reason);
}
