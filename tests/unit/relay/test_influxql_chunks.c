/* influxql_chunks: the documents of a chunked InfluxQL answer give the same rows however the
 * bytes are split; InfluxDB's errors end the stream with its text. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/buffer.h"
#include "relay/influxql_chunks.h"

/* Every row as one line "measurement|tags|values" (tags and values as compact JSON). */
struct collected {
    struct buffer text;
    size_t rows;
    size_t stop_at; /* stop with 7 at this row (1-based); 0: never */
};

static int collect_row(const char *measurement, const cJSON *tags, const cJSON *columns,
                       const cJSON *values, void *argument)
{
    struct collected *collected = argument;
    cr_assert(cJSON_IsArray(columns));
    char *tags_text = tags ? cJSON_PrintUnformatted(tags) : NULL;
    char *values_text = cJSON_PrintUnformatted(values);
    cr_assert_not_null(values_text);
    char line[1024];
    int length = snprintf(line, sizeof line, "%s|%s|%s\n", measurement, tags_text ? tags_text : "-",
                          values_text);
    cr_assert_eq(buffer_append(&collected->text, line, (size_t)length), 0);
    cJSON_free(tags_text);
    cJSON_free(values_text);
    collected->rows++;
    return collected->rows == collected->stop_at ? 7 : 0;
}

/* Feeds body in pieces at the given cut offsets (ascending, within the body), then finishes.
 * Returns what feed/finish returned; error filled on -1. */
static int parse_pieces(const char *body, const size_t *cuts, size_t cut_count,
                        struct collected *collected, char *error, size_t error_size,
                        int *stop_value)
{
    struct influxql_chunks *chunks = influxql_chunks_create(collect_row, collected);
    cr_assert_not_null(chunks);
    size_t length = strlen(body), start = 0;
    int result = 0;
    for (size_t i = 0; i <= cut_count && result == 0; i++) {
        size_t end = i < cut_count ? cuts[i] : length;
        result = influxql_chunks_feed(chunks, body + start, end - start, error, error_size);
        start = end;
    }
    if (result == 0)
        result = influxql_chunks_finish(chunks, error, error_size);
    if (stop_value)
        *stop_value = influxql_chunks_stop_value(chunks);
    influxql_chunks_destroy(chunks);
    return result;
}

static char *parse_text(const char *body, const size_t *cuts, size_t cut_count)
{
    struct collected collected = {BUFFER_INITIALIZER, 0, 0};
    char error[256] = "";
    cr_assert_eq(parse_pieces(body, cuts, cut_count, &collected, error, sizeof error, NULL), 0,
                 "%s", error);
    cr_assert_eq(buffer_append(&collected.text, "", 1), 0);
    return collected.text.data;
}

/* Two chunks of a GROUP BY query as InfluxDB 1.x sends them (partial series continued in the
 * next chunk), then the last one; with strings that hold brackets, quotes and escapes. */
static const char chunked_body[] =
    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"kWh\",\"tags\":{\"entity_id\":"
    "\"strom\"},\"columns\":[\"time\",\"value\"],\"values\":[[\"2024-02-27T12:00:00Z\",100],"
    "[\"2024-02-28T12:00:00.123456789Z\",110.5]],\"partial\":true}],\"partial\":true}]}\n"
    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"kWh\",\"tags\":{\"entity_id\":"
    "\"strom\"},\"columns\":[\"time\",\"value\"],\"values\":[[\"2024-02-29T04:00:00Z\",116]]},"
    "{\"name\":\"m\\u00b3\",\"tags\":{\"entity_id\":\"wa}s\\\"s]er{\\\\\"},\"columns\":[\"time\","
    "\"value\"],\"values\":[[\"2024-02-27T12:00:00Z\",-5e-3]],\"partial\":true}],"
    "\"partial\":true}]}\n"
    "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\\u00b3\",\"tags\":{"
    "\"entity_id\":\"wa}s\\\"s]er{\\\\\"},\"columns\":[\"time\",\"value\"],\"values\":[["
    "\"2024-03-01T06:00:00Z\",\"text [with] {brackets}\"],[\"2024-03-01T07:00:00Z\",true]]}]}]}"
    "\n";

static const char chunked_rows[] =
    "kWh|{\"entity_id\":\"strom\"}|[\"2024-02-27T12:00:00Z\",100]\n"
    "kWh|{\"entity_id\":\"strom\"}|[\"2024-02-28T12:00:00.123456789Z\",110.5]\n"
    "kWh|{\"entity_id\":\"strom\"}|[\"2024-02-29T04:00:00Z\",116]\n"
    "m\xc2\xb3|{\"entity_id\":\"wa}s\\\"s]er{\\\\\"}|[\"2024-02-27T12:00:00Z\",-0.005]\n"
    "m\xc2\xb3|{\"entity_id\":\"wa}s\\\"s]er{\\\\\"}|[\"2024-03-01T06:00:00Z\","
    "\"text [with] {brackets}\"]\n"
    "m\xc2\xb3|{\"entity_id\":\"wa}s\\\"s]er{\\\\\"}|[\"2024-03-01T07:00:00Z\",true]\n";

Test(influxql_chunks, rows_of_every_document_in_order)
{
    char *rows = parse_text(chunked_body, NULL, 0);
    cr_assert_str_eq(rows, chunked_rows);
    free(rows);
}

Test(influxql_chunks, every_split_gives_the_same_rows)
{
    size_t length = strlen(chunked_body);
    for (size_t cut = 0; cut <= length; cut++) {
        char *rows = parse_text(chunked_body, &cut, 1);
        cr_assert_str_eq(rows, chunked_rows, "split at byte %zu", cut);
        free(rows);
    }
    /* Two cuts close together split one token twice; every pair would be ~600k parses, so the
     * first cut every 3rd byte, the second within the 40 bytes after it. */
    for (size_t first = 0; first <= length; first += 3) {
        for (size_t second = first; second <= length && second <= first + 40; second++) {
            size_t cuts[] = {first, second};
            char *rows = parse_text(chunked_body, cuts, 2);
            cr_assert_str_eq(rows, chunked_rows, "split at bytes %zu and %zu", first, second);
            free(rows);
        }
    }
}

Test(influxql_chunks, byte_by_byte)
{
    size_t length = strlen(chunked_body);
    size_t *cuts = malloc(length * sizeof *cuts);
    cr_assert_not_null(cuts);
    for (size_t i = 0; i < length; i++)
        cuts[i] = i;
    char *rows = parse_text(chunked_body, cuts, length);
    cr_assert_str_eq(rows, chunked_rows);
    free(rows);
    free(cuts);
}

Test(influxql_chunks, whitespace_between_and_no_newline_at_the_end)
{
    const char body[] = "\r\n {\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"a\","
                        "\"columns\":[\"time\",\"v\"],\"values\":[[\"1970-01-01T00:00:00Z\",1]]}"
                        "]}]}\t\n\n{\"results\":[{\"statement_id\":0}]}";
    char *rows = parse_text(body, NULL, 0);
    cr_assert_str_eq(rows, "a|-|[\"1970-01-01T00:00:00Z\",1]\n");
    free(rows);
}

Test(influxql_chunks, empty_body_and_series_without_values)
{
    char *rows = parse_text("", NULL, 0);
    cr_assert_str_eq(rows, "");
    free(rows);
    rows = parse_text("{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"databases\","
                      "\"columns\":[\"name\"]}]}]}\n",
                      NULL, 0);
    cr_assert_str_eq(rows, "");
    free(rows);
}

static void expect_failure(const char *body, size_t cut, const char *message, size_t rows)
{
    struct collected collected = {BUFFER_INITIALIZER, 0, 0};
    char error[256] = "";
    size_t cuts[] = {cut};
    int stop = -1;
    cr_assert_eq(parse_pieces(body, cuts, cut ? 1 : 0, &collected, error, sizeof error, &stop), -1,
                 "%s must fail", body);
    cr_expect_str_eq(error, message);
    cr_expect_eq(collected.rows, rows, "rows before the failure");
    cr_expect_eq(stop, 0);
    buffer_release(&collected.text);
}

Test(influxql_chunks, statement_error_after_rows)
{
    const char body[] = "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"a\",\"columns\":"
                        "[\"time\",\"v\"],\"values\":[[\"2024-01-01T00:00:00Z\",1],"
                        "[\"2024-01-02T00:00:00Z\",2]],\"partial\":true}],\"partial\":true}]}\n"
                        "{\"results\":[{\"statement_id\":0,\"error\":\"max-select-point limit "
                        "exceeded: (10000/10000)\"}]}\n";
    for (size_t cut = 0; cut < sizeof body - 1; cut += 5)
        expect_failure(body, cut, "InfluxDB: max-select-point limit exceeded: (10000/10000)", 2);
}

Test(influxql_chunks, database_not_found)
{
    expect_failure("{\"results\":[{\"statement_id\":0,\"error\":\"database not found: nope\"}]}\n",
                   0, "InfluxDB: database not found: nope", 0);
}

Test(influxql_chunks, query_error_document)
{
    expect_failure("{\"error\":\"error parsing query: found EOF, expected FROM at line 1, char "
                   "15\"}\n",
                   10, "InfluxDB: error parsing query: found EOF, expected FROM at line 1, char 15",
                   0);
}

Test(influxql_chunks, invalid_json)
{
    expect_failure("{\"results\":[1,]}", 0,
                   "InfluxQL answer: invalid JSON in document 1 at byte 14: \"]}\"", 0);
}

Test(influxql_chunks, not_json_at_all)
{
    expect_failure("<html>502 Bad Gateway</html>", 0,
                   "InfluxQL answer: a document must start with '{' (found '<' (0x3c))", 0);
}

Test(influxql_chunks, body_ending_inside_a_document)
{
    expect_failure("{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"a\"", 9,
                   "InfluxQL answer: the body ended inside a JSON document (51 bytes of document "
                   "1)",
                   0);
}

Test(influxql_chunks, results_missing)
{
    expect_failure("{\"foo\":1}", 0, "InfluxQL answer: no \"results\" array in a document", 0);
}

Test(influxql_chunks, callback_stops_the_stream)
{
    struct collected collected = {BUFFER_INITIALIZER, 0, 2};
    char error[256] = "";
    int stop = 0;
    cr_assert_eq(parse_pieces(chunked_body, NULL, 0, &collected, error, sizeof error, &stop), -1);
    cr_expect_eq(stop, 7);
    cr_expect_eq(collected.rows, 2);
    cr_expect_str_eq(error, "the row callback stopped the query");
    buffer_release(&collected.text);
}

Test(influxql_chunks, counts_rows_and_documents)
{
    struct collected collected = {BUFFER_INITIALIZER, 0, 0};
    struct influxql_chunks *chunks = influxql_chunks_create(collect_row, &collected);
    char error[256];
    cr_assert_eq(
        influxql_chunks_feed(chunks, chunked_body, strlen(chunked_body), error, sizeof error), 0,
        "%s", error);
    cr_expect_eq(influxql_chunks_rows(chunks), 6);
    cr_expect_eq(influxql_chunks_documents(chunks), 3);
    influxql_chunks_destroy(chunks);
    buffer_release(&collected.text);
}
