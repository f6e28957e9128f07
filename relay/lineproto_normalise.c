/* The ingest normaliser: a request body in, spool-ready lines out (every line validated, ending
 * in "\n", with its timestamp in ns). See lineproto_normalise() in relay/lineproto.h. */
#include "relay/lineproto.h"

#include <errno.h>

/* Room for " -9223372036854775806\n" beyond the formatted number's own room. */
#define LINEPROTO_TIME_SUFFIX_SIZE 24

/* Appends one point that is not copied as part of a run: the line itself when its timestamp is
 * in ns, else its body and " <time in ns>" (stamp, the formatted receive time with its leading
 * space, when it has none); then "\n". Returns 0 or -ENOMEM. point, stamp borrowed. */
static int lineproto_point_append(struct buffer *out, const struct lineproto_point *point,
                                  enum lineproto_precision precision, const char *stamp,
                                  size_t stamp_length)
{
    bool time_as_written = point->has_time && precision == LINEPROTO_PRECISION_NANOSECOND;
    const struct lineproto_slice *text = time_as_written ? &point->line : &point->body;
    if (buffer_reserve(out, text->length + LINEPROTO_TIME_SUFFIX_SIZE + LINEPROTO_NUMBER_SIZE) != 0)
        return -ENOMEM;
    memcpy(out->data + out->length, text->data, text->length);
    out->length += text->length;
    if (time_as_written) {
        /* nothing to add */
    } else if (point->has_time) {
        out->data[out->length++] = ' ';
        out->length += lineproto_int64_format(point->time, out->data + out->length);
    } else {
        memcpy(out->data + out->length, stamp, stamp_length);
        out->length += stamp_length;
    }
    out->data[out->length++] = '\n';
    return 0;
}

int lineproto_normalise(struct lineproto_parser *parser, const char *body, size_t length,
                        enum lineproto_precision precision, int64_t receive_time,
                        struct buffer *out, struct lineproto_normalise_result *result)
{
    result->accepted = 0;
    result->rejected = 0;
    result->has_error = false;
    /* Every line without a timestamp gets the same one: format it once. */
    char stamp[LINEPROTO_TIME_SUFFIX_SIZE + LINEPROTO_NUMBER_SIZE];
    stamp[0] = ' ';
    size_t stamp_length =
        1 + lineproto_int64_format(lineproto_time_truncate(receive_time, precision), stamp + 1);

    lineproto_parser_start(parser, body, length, precision);
    const char *body_end = body ? body + length : NULL;
    /* Lines that need no change (ns timestamp, nothing between it and "\n") are collected into
     * one run of input and copied in one go when something else comes. */
    const char *run_start = NULL, *run_end = NULL;
    struct lineproto_point point;
    struct lineproto_error error;
    for (;;) {
        enum lineproto_status status = lineproto_parser_next(parser, &point, &error);
        if (status == LINEPROTO_POINT) {
            result->accepted++;
            const char *line_end = point.line.data + point.line.length;
            if (point.has_time && precision == LINEPROTO_PRECISION_NANOSECOND &&
                line_end < body_end && *line_end == '\n') {
                if (point.line.data != run_end) {
                    if (run_end != run_start &&
                        buffer_append(out, run_start, (size_t)(run_end - run_start)) != 0)
                        return -ENOMEM;
                    run_start = point.line.data;
                }
                run_end = line_end + 1;
                continue;
            }
        } else if (status == LINEPROTO_INVALID) {
            if (!result->has_error) {
                result->first_error = error;
                result->has_error = true;
            }
            result->rejected++;
            continue;
        }
        if (run_end != run_start &&
            buffer_append(out, run_start, (size_t)(run_end - run_start)) != 0)
            return -ENOMEM;
        run_start = run_end = NULL;
        if (status == LINEPROTO_END)
            return 0;
        if (status == LINEPROTO_NO_MEMORY ||
            lineproto_point_append(out, &point, precision, stamp, stamp_length) != 0)
            return -ENOMEM;
    }
}
