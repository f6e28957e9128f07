/* Line protocol for the energy, kWh and electricity_price points. */
#include "batch/tibber_points.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "relay/lineproto.h"

static int text_append(struct buffer *out, const char *text)
{
    return buffer_append(out, text, strlen(text));
}

/* "measurement,entity_id=<meter>" and the fixed tags that follow. */
static int series_append(struct buffer *out, const char *measurement, const char *meter_id,
                         const char *tags)
{
    if (text_append(out, measurement) != 0 || text_append(out, ",entity_id=") != 0)
        return -ENOMEM;
    int status =
        lineproto_escape_append(out, LINEPROTO_ELEMENT_TAG_VALUE, meter_id, strlen(meter_id));
    if (status != 0)
        return status;
    return text_append(out, tags) == 0 ? 0 : -ENOMEM;
}

/* " name=value" for the first field, ",name=value" after; nothing for a null (NAN). */
static int number_append(struct buffer *out, bool *first, const char *name, double value)
{
    if (!isfinite(value))
        return 0;
    char number[LINEPROTO_NUMBER_SIZE];
    size_t length = lineproto_float_format(value, number);
    if (text_append(out, *first ? " " : ",") != 0 || text_append(out, name) != 0 ||
        text_append(out, "=") != 0 || buffer_append(out, number, length) != 0)
        return -ENOMEM;
    *first = false;
    return 0;
}

static int string_append(struct buffer *out, bool *first, const char *name, const char *value)
{
    if (!value[0])
        return 0;
    if (text_append(out, *first ? " " : ",") != 0 || text_append(out, name) != 0 ||
        text_append(out, "=\"") != 0 ||
        lineproto_escape_append(out, LINEPROTO_ELEMENT_STRING, value, strlen(value)) != 0 ||
        text_append(out, "\"") != 0)
        return -ENOMEM;
    *first = false;
    return 0;
}

static int time_append(struct buffer *out, bool first, int64_t t_ns)
{
    if (first)
        return -EINVAL;
    char number[LINEPROTO_NUMBER_SIZE];
    size_t length = lineproto_int64_format(t_ns, number);
    if (text_append(out, " ") != 0 || buffer_append(out, number, length) != 0)
        return -ENOMEM;
    return 0;
}

/* Runs one line's builder and takes back what it appended when it failed. */
#define LINE_FINISH(out, start, status)                                                            \
    do {                                                                                           \
        if ((status) != 0)                                                                         \
            (out)->length = (start);                                                               \
        return (status);                                                                           \
    } while (0)

int tibber_energy_line(struct buffer *out, const char *meter_id, const struct tibber_node *node)
{
    size_t start = out->length;
    bool first = true;
    int status = series_append(out, TIBBER_MEASUREMENT_ENERGY, meter_id, ",domain=sensor");
    if (status == 0)
        status = number_append(out, &first, "consumption", node->consumption);
    if (status == 0)
        status = number_append(out, &first, "cost", node->cost);
    if (status == 0)
        status = number_append(out, &first, "unit_price", node->unit_price);
    if (status == 0)
        status = number_append(out, &first, "unit_price_vat", node->unit_price_vat);
    if (status == 0)
        status = time_append(out, first, node->from_ns);
    LINE_FINISH(out, start, status);
}

int tibber_register_line(struct buffer *out, const char *meter_id, const struct tibber_node *node,
                         double value)
{
    size_t start = out->length;
    bool first = true;
    int status = series_append(out, TIBBER_MEASUREMENT_REGISTER, meter_id,
                               ",domain=input_number,unit_of_measurement=kWh,device_class=energy,"
                               "state_class=total_increasing");
    if (status == 0 && !isfinite(value))
        status = -EINVAL;
    if (status == 0)
        status = number_append(out, &first, "value", value);
    if (status == 0)
        status = number_append(out, &first, "hourly_consumption", node->consumption);
    if (status == 0)
        status = number_append(out, &first, "cost", node->cost);
    if (status == 0)
        status = number_append(out, &first, "unit_price", node->unit_price);
    if (status == 0)
        status = time_append(out, first, node->from_ns);
    LINE_FINISH(out, start, status);
}

int tibber_price_line(struct buffer *out, const char *meter_id, const struct tibber_price *price)
{
    size_t start = out->length;
    bool first = true;
    int status = series_append(out, TIBBER_MEASUREMENT_PRICE, meter_id, ",domain=sensor");
    if (status == 0)
        status = number_append(out, &first, "total", price->total);
    if (status == 0)
        status = number_append(out, &first, "energy", price->energy);
    if (status == 0)
        status = number_append(out, &first, "tax", price->tax);
    if (status == 0)
        status = string_append(out, &first, "currency", price->currency);
    if (status == 0)
        status = string_append(out, &first, "level", price->level);
    if (status == 0)
        status = time_append(out, first, price->starts_at_ns);
    LINE_FINISH(out, start, status);
}
