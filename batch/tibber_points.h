/* The points meter-batch tibber writes to the raw bucket, as line protocol (spec/analytics.md):
 *
 *   energy,entity_id=<meter>,domain=sensor consumption=,cost=,unit_price=,unit_price_vat= <hour>
 *   kWh,entity_id=<meter>,domain=input_number,unit_of_measurement=kWh,device_class=energy,
 *       state_class=total_increasing value=,hourly_consumption=,cost=,unit_price= <hour>
 *   electricity_price,entity_id=<meter>,domain=sensor total=,energy=,tax=,currency="",level=""
 *       <start>
 *
 * energy and kWh are stamped at the start of their hour, as the reference pipeline's points (the
 * kWh register includes the hour it is stamped with: see batch/tibber_series.h); a price at the
 * start of its interval. Numbers are written as the shortest decimal that reads back as the same
 * double, so comparing what was stored with what Tibber sends is exact. A null value is left out
 * (the reference wrote 0); tags and fields come in the order of the spec. */
#ifndef NEBENKOSTEN_BATCH_TIBBER_POINTS_H
#define NEBENKOSTEN_BATCH_TIBBER_POINTS_H

#include "batch/tibber_response.h"
#include "relay/buffer.h"

#define TIBBER_MEASUREMENT_ENERGY "energy"
#define TIBBER_MEASUREMENT_REGISTER "kWh"
#define TIBBER_MEASUREMENT_PRICE "electricity_price"

/* Each appends one line without its '\n' to out (caller-owned); meter_id and the node or price
 * are borrowed. Return 0, -ENOMEM, or -EINVAL when meter_id cannot be a tag value (nothing is
 * appended then), or when the point would have no field. */
int tibber_energy_line(struct buffer *out, const char *meter_id, const struct tibber_node *node);
int tibber_register_line(struct buffer *out, const char *meter_id, const struct tibber_node *node,
                         double value);
int tibber_price_line(struct buffer *out, const char *meter_id, const struct tibber_price *price);

#endif
