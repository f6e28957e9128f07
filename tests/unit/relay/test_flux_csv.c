/* flux_csv: annotated CSV as InfluxDB 2.x answers Flux queries gives the same records however
 * the bytes are split; quoting, several blocks, defaults and the error table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/buffer.h"
#include "relay/flux_csv.h"

/* Every record as one line "block|name:datatype=value|...". */
struct collected {
    struct buffer text;
    size_t records;
    size_t stop_at; /* stop with 9 at this record (1-based); 0: never */
};

static int collect_record(const struct flux_csv_record *record, void *argument)
{
    struct collected *collected = argument;
    char head[32];
    int length = snprintf(head, sizeof head, "%zu", record->block);
    cr_assert_eq(buffer_append(&collected->text, head, (size_t)length), 0);
    for (size_t i = 0; i < record->count; i++) {
        const char *parts[] = {"|", record->names[i], ":", record->datatypes[i],
                               "=", record->values[i]};
        for (size_t p = 0; p < 6; p++)
            cr_assert_eq(buffer_append(&collected->text, parts[p], strlen(parts[p])), 0);
    }
    cr_assert_eq(buffer_append(&collected->text, "\n", 1), 0);
    collected->records++;
    return collected->records == collected->stop_at ? 9 : 0;
}

static int parse_pieces(const char *body, size_t length, const size_t *cuts, size_t cut_count,
                        struct collected *collected, char *error, size_t error_size,
                        int *stop_value)
{
    struct flux_csv *csv = flux_csv_create(collect_record, collected);
    cr_assert_not_null(csv);
    size_t start = 0;
    int result = 0;
    for (size_t i = 0; i <= cut_count && result == 0; i++) {
        size_t end = i < cut_count ? cuts[i] : length;
        result = flux_csv_feed(csv, body + start, end - start, error, error_size);
        start = end;
    }
    if (result == 0)
        result = flux_csv_finish(csv, error, error_size);
    if (stop_value)
        *stop_value = flux_csv_stop_value(csv);
    flux_csv_destroy(csv);
    return result;
}

static char *parse_text(const char *body, const size_t *cuts, size_t cut_count)
{
    struct collected collected = {BUFFER_INITIALIZER, 0, 0};
    char error[256] = "";
    cr_assert_eq(
        parse_pieces(body, strlen(body), cuts, cut_count, &collected, error, sizeof error, NULL), 0,
        "%s", error);
    cr_assert_eq(buffer_append(&collected.text, "", 1), 0);
    return collected.text.data;
}

/* Every single cut, and pairs of cuts close together (the first every 3rd byte, the second within
 * the 40 bytes after it: one field or line end split twice), give expected. */
static void expect_every_split(const char *body, const char *expected)
{
    size_t length = strlen(body);
    for (size_t first = 0; first <= length; first++) {
        char *records = parse_text(body, &first, 1);
        cr_assert_str_eq(records, expected, "split at byte %zu", first);
        free(records);
    }
    for (size_t first = 0; first <= length; first += 3) {
        for (size_t second = first; second <= length && second <= first + 40; second++) {
            size_t cuts[] = {first, second};
            char *records = parse_text(body, cuts, 2);
            cr_assert_str_eq(records, expected, "split at bytes %zu and %zu", first, second);
            free(records);
        }
    }
}

/* The multiple-tables example of InfluxDB 2.x's annotated CSV reference, with the CRLF line ends
 * the server sends: the second block has another schema (a string _value), its own annotations
 * and header after an empty line; the result column is empty and takes the #default. */
static const char docs_body[] =
    "#group,false,false,true,true,false,false,true,true,true,true\r\n"
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,"
    "string,string,string\r\n"
    "#default,_result,,,,,,,,,\r\n"
    ",result,table,_start,_stop,_time,_value,_field,_measurement,host,region\r\n"
    ",,0,2022-12-31T05:41:24Z,2023-01-31T05:41:24.001Z,2023-01-01T00:00:00Z,15.43,mem,m,A,east\r\n"
    ",,1,2022-12-31T05:41:24Z,2023-01-31T05:41:24.001Z,2023-01-01T00:00:00Z,59.25,mem,m,B,east\r\n"
    "\r\n"
    "#group,false,false,true,true,true,true,false,false,true,true\r\n"
    "#datatype,string,long,string,string,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,"
    "string,string,string\r\n"
    "#default,_result,,,,,,,,,\r\n"
    ",result,table,_field,_measurement,_start,_stop,_time,_value,host,region\r\n"
    ",,3,mem_level,m,2022-12-31T05:41:24Z,2023-01-31T05:41:24.001Z,2023-01-01T00:00:00Z,ok,A,"
    "east\r\n"
    "\r\n";

static const char docs_records[] =
    "0|result:string=_result|table:long=0|_start:dateTime:RFC3339=2022-12-31T05:41:24Z"
    "|_stop:dateTime:RFC3339=2023-01-31T05:41:24.001Z|_time:dateTime:RFC3339=2023-01-01T00:00:00Z"
    "|_value:double=15.43|_field:string=mem|_measurement:string=m|host:string=A"
    "|region:string=east\n"
    "0|result:string=_result|table:long=1|_start:dateTime:RFC3339=2022-12-31T05:41:24Z"
    "|_stop:dateTime:RFC3339=2023-01-31T05:41:24.001Z|_time:dateTime:RFC3339=2023-01-01T00:00:00Z"
    "|_value:double=59.25|_field:string=mem|_measurement:string=m|host:string=B"
    "|region:string=east\n"
    "1|result:string=_result|table:long=3|_field:string=mem_level|_measurement:string=m"
    "|_start:dateTime:RFC3339=2022-12-31T05:41:24Z|_stop:dateTime:RFC3339=2023-01-31T05:41:24.001Z"
    "|_time:dateTime:RFC3339=2023-01-01T00:00:00Z|_value:string=ok|host:string=A"
    "|region:string=east\n";

Test(flux_csv, documentation_example_with_two_blocks)
{
    char *records = parse_text(docs_body, NULL, 0);
    cr_assert_str_eq(records, docs_records);
    free(records);
}

Test(flux_csv, documentation_example_split_everywhere)
{
    expect_every_split(docs_body, docs_records);
}

Test(flux_csv, line_feeds_only_and_no_line_end_at_the_end)
{
    char *records = parse_text("#datatype,string,long,double\n,result,table,_value\n,r,0,1.5\n"
                               ",r,0,2",
                               NULL, 0);
    cr_assert_str_eq(records, "0|result:string=r|table:long=0|_value:double=1.5\n"
                              "0|result:string=r|table:long=0|_value:double=2\n");
    free(records);
}

/* RFC 4180 quoting: commas, doubled quotes, CRLF and LF inside quoted fields; an empty quoted
 * field is empty (and takes the default like an unquoted one). */
static const char quoted_body[] = "#datatype,string,string,string,string,string\r\n"
                                  "#default,,,,,dflt\r\n"
                                  ",a,b,c,d,e\r\n"
                                  ",\"x,y\",\"he said \"\"hi\"\"\",\"line1\r\nline2\nline3\",plain,"
                                  "\"\"\r\n"
                                  ",\"\"\"\",\",\",\"\r\",\"a\"\"\"\"b\",\r\n";

static const char quoted_records[] = "0|a:string=x,y|b:string=he said \"hi\""
                                     "|c:string=line1\r\nline2\nline3|d:string=plain"
                                     "|e:string=dflt\n"
                                     "0|a:string=\"|b:string=,|c:string=\r|d:string=a\"\"b"
                                     "|e:string=dflt\n";

Test(flux_csv, quoted_fields)
{
    char *records = parse_text(quoted_body, NULL, 0);
    cr_assert_str_eq(records, quoted_records);
    free(records);
}

Test(flux_csv, quoted_fields_split_everywhere)
{
    expect_every_split(quoted_body, quoted_records);
}

Test(flux_csv, header_without_annotations)
{
    /* annotations: [] gives the header and records only; a header without the leading empty
     * column is taken as it is. */
    char *records =
        parse_text(",result,table,_value\r\n,_result,0,3\r\n\r\nx,y\r\n1,2\r\n", NULL, 0);
    cr_assert_str_eq(records, "0|result:=_result|table:=0|_value:=3\n1|x:=1|y:=2\n");
    free(records);
}

Test(flux_csv, lone_carriage_return_is_data)
{
    char *records = parse_text(",a,b\r\n,x\ry,z\r\r\n", NULL, 0);
    cr_assert_str_eq(records, "0|a:=x\ry|b:=z\r\n");
    free(records);
}

Test(flux_csv, new_block_without_an_empty_line)
{
    char *records =
        parse_text("#datatype,string,long\n,a,b\n,x,1\n#datatype,double\n,c\n,2.5\n", NULL, 0);
    cr_assert_str_eq(records, "0|a:string=x|b:long=1\n1|c:double=2.5\n");
    free(records);
}

static void expect_failure(const char *body, size_t cut, const char *message, size_t records)
{
    struct collected collected = {BUFFER_INITIALIZER, 0, 0};
    char error[256] = "";
    size_t cuts[] = {cut};
    int stop = -1;
    cr_assert_eq(
        parse_pieces(body, strlen(body), cuts, cut ? 1 : 0, &collected, error, sizeof error, &stop),
        -1, "%s must fail", body);
    cr_expect_str_eq(error, message);
    cr_expect_eq(collected.records, records, "records before the failure");
    cr_expect_eq(stop, 0);
    buffer_release(&collected.text);
}

/* A query failing after the answer began: the error is the next table (HTTP status stays 200). */
static const char error_after_records[] =
    "#datatype,string,long,dateTime:RFC3339,double,string\r\n"
    "#group,false,false,false,false,true\r\n"
    "#default,_result,,,,\r\n"
    ",result,table,_time,_value,entity_id\r\n"
    ",,0,2024-02-27T12:00:00Z,100,strom\r\n"
    ",,0,2024-02-28T12:00:00Z,110,strom\r\n"
    "\r\n"
    "#datatype,string,string\r\n"
    "#group,true,true\r\n"
    "#default,,\r\n"
    ",error,reference\r\n"
    ",\"panic: runtime error: index out of range, query aborted\",897\r\n"
    "\r\n";

Test(flux_csv, error_table_after_records)
{
    for (size_t cut = 0; cut < sizeof error_after_records - 1; cut++)
        expect_failure(error_after_records, cut,
                       "InfluxDB: panic: runtime error: index out of range, query aborted "
                       "(reference 897)",
                       2);
}

Test(flux_csv, error_table_of_the_documentation)
{
    expect_failure("#datatype,string,long\n,error,reference\n,Failed to parse query,897\n", 0,
                   "InfluxDB: Failed to parse query (reference 897)", 0);
    expect_failure(",error,reference\r\n,\"failed to initialize execute state: bucket "
                   "\"\"x\"\" not found\",\r\n",
                   5, "InfluxDB: failed to initialize execute state: bucket \"x\" not found", 0);
}

Test(flux_csv, column_count_differs_from_the_header)
{
    expect_failure(",a,b\r\n,1,2\r\n,1,2,3\r\n", 0,
                   "Flux answer, row 3: 3 columns where the header has 2", 1);
}

Test(flux_csv, annotation_count_differs_from_the_header)
{
    expect_failure("#datatype,string,long\n,a,b,c\n", 0,
                   "Flux answer, row 2: the header has 3 columns, its #datatype row 2", 0);
}

Test(flux_csv, body_ends_inside_quotes)
{
    expect_failure(",a\n,\"open\nstill open", 4,
                   "Flux answer: the body ended inside a quoted field (row 2)", 0);
}

Test(flux_csv, bare_quote_in_an_unquoted_field)
{
    expect_failure(",a\n,ab\"c\n", 0,
                   "Flux answer, row 2, column 2: a quote inside an unquoted field", 0);
}

Test(flux_csv, text_after_a_closing_quote)
{
    expect_failure(",a\n,\"ab\"c\n", 0, "Flux answer, row 2, column 2: 'c' after a closing quote",
                   0);
}

Test(flux_csv, callback_stops_the_stream)
{
    struct collected collected = {BUFFER_INITIALIZER, 0, 2};
    char error[256] = "";
    int stop = 0;
    cr_assert_eq(
        parse_pieces(docs_body, strlen(docs_body), NULL, 0, &collected, error, sizeof error, &stop),
        -1);
    cr_expect_eq(stop, 9);
    cr_expect_eq(collected.records, 2);
    cr_expect_str_eq(error, "the record callback stopped the query");
    buffer_release(&collected.text);
}

Test(flux_csv, empty_body)
{
    char *records = parse_text("", NULL, 0);
    cr_assert_str_eq(records, "");
    free(records);
    records = parse_text("\r\n", NULL, 0);
    cr_assert_str_eq(records, "");
    free(records);
}

/* A large result: 200000 records fed in 64 KiB pieces; the count and the last record checked. */
Test(flux_csv, many_records)
{
    struct buffer body = BUFFER_INITIALIZER;
    const char *head = "#datatype,string,long,dateTime:RFC3339,double,string\r\n"
                       "#group,false,false,false,false,true\r\n#default,_result,,,,\r\n"
                       ",result,table,_time,_value,entity_id\r\n";
    cr_assert_eq(buffer_append(&body, head, strlen(head)), 0);
    for (int i = 0; i < 200000; i++) {
        char line[128];
        int length = snprintf(line, sizeof line, ",,%d,2024-01-01T00:00:%02d.%09dZ,%d.25,m%d\r\n",
                              i / 1000, i % 60, i, i, i % 7);
        cr_assert_eq(buffer_append(&body, line, (size_t)length), 0);
    }
    struct collected collected = {BUFFER_INITIALIZER, 0, 0};
    size_t cut_count = body.length / 65536;
    size_t *cuts = malloc((cut_count + 1) * sizeof *cuts);
    cr_assert_not_null(cuts);
    for (size_t i = 0; i < cut_count; i++)
        cuts[i] = (i + 1) * 65536;
    char error[256] = "";
    cr_assert_eq(parse_pieces(body.data, body.length, cuts, cut_count, &collected, error,
                              sizeof error, NULL),
                 0, "%s", error);
    cr_expect_eq(collected.records, 200000);
    cr_assert_eq(buffer_append(&collected.text, "", 1), 0);
    const char *last =
        strstr(collected.text.data, "0|result:string=_result|table:long=199|_time:dateTime:RFC3339="
                                    "2024-01-01T00:00:19.000199999Z|_value:double=199999.25"
                                    "|entity_id:string=m2\n");
    cr_expect_not_null(last, "the last record");
    buffer_release(&collected.text);
    buffer_release(&body);
    free(cuts);
}
