#include "stream/emission_format.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "relay/lineproto.h"

static const char *emission_measurement(enum stream_emission_kind kind)
{
    switch (kind) {
    case STREAM_EMISSION_DAILY:
        return "meter_interpolated_daily";
    case STREAM_EMISSION_CONSUMPTION:
        return "meter_consumption";
    case STREAM_EMISSION_MONTHLY:
        return "meter_interpolated_monthly";
    case STREAM_EMISSION_EVENT:
        return "meter_event";
    case STREAM_EMISSION_ANOMALY:
        return "meter_anomaly";
    }
    return "meter_unknown";
}

static int text_append(struct buffer *out, const char *text)
{
    return buffer_append(out, text, strlen(text));
}

/* Appends ",name=value" (or "name=value" for the first field) when value is finite. */
static int float_field_append(struct buffer *out, bool *first, const char *name, double value)
{
    if (!isfinite(value))
        return 0;
    char number[LINEPROTO_NUMBER_SIZE];
    size_t length = lineproto_float_format(value, number);
    if ((!*first && text_append(out, ",") != 0) || text_append(out, name) != 0 ||
        text_append(out, "=") != 0 || buffer_append(out, number, length) != 0)
        return -ENOMEM;
    *first = false;
    return 0;
}

static int emission_fields_append(struct buffer *out, const struct stream_emission *emission)
{
    bool first = true;
    if (float_field_append(out, &first, "value", emission->value) != 0)
        return -ENOMEM;
    if (emission->kind == STREAM_EMISSION_ANOMALY) {
        char count[LINEPROTO_NUMBER_SIZE];
        size_t length = lineproto_int64_format(emission->anomaly_count, count);
        if (float_field_append(out, &first, "z_score", emission->z_score) != 0 ||
            float_field_append(out, &first, "iqr_lower", emission->iqr_lower) != 0 ||
            float_field_append(out, &first, "iqr_upper", emission->iqr_upper) != 0 ||
            (!first && text_append(out, ",") != 0) || text_append(out, "anomaly_count=") != 0 ||
            buffer_append(out, count, length) != 0 || text_append(out, "i") != 0)
            return -ENOMEM;
    } else if (emission->kind == STREAM_EMISSION_EVENT) {
        if ((!first && text_append(out, ",") != 0) || text_append(out, "detail=\"") != 0 ||
            lineproto_escape_append(out, LINEPROTO_ELEMENT_STRING, emission->detail,
                                    strnlen(emission->detail, sizeof emission->detail)) != 0 ||
            text_append(out, "\"") != 0)
            return -ENOMEM;
    } else if (first) {
        return -EINVAL; /* a register that is not finite never leaves the meter rules */
    }
    return 0;
}

int stream_emission_format(struct buffer *out, const char *meter_id, size_t length,
                           const struct stream_emission *emission)
{
    size_t start = out->length;
    int status = text_append(out, emission_measurement(emission->kind));
    if (status == 0 && text_append(out, ",meter_id=") != 0)
        status = -ENOMEM;
    if (status == 0)
        status = lineproto_escape_append(out, LINEPROTO_ELEMENT_TAG_VALUE, meter_id, length);
    if (status == 0 && emission->kind == STREAM_EMISSION_EVENT &&
        (text_append(out, ",kind=") != 0 ||
         text_append(out, stream_event_kind_name(emission->event)) != 0))
        status = -ENOMEM;
    if (status == 0 && text_append(out, " ") != 0)
        status = -ENOMEM;
    if (status == 0)
        status = emission_fields_append(out, emission);
    char time[LINEPROTO_NUMBER_SIZE];
    size_t time_length = lineproto_int64_format(emission->timestamp_ns, time);
    if (status == 0 && (text_append(out, " ") != 0 || buffer_append(out, time, time_length) != 0 ||
                        text_append(out, "\n") != 0))
        status = -ENOMEM;
    if (status != 0)
        out->length = start;
    return status;
}
