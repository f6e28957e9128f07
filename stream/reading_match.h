/* Which points are meter readings (spec/analytics.md "Which points are readings"): the
 * stream.readings rules of the configuration, tried in order on each parsed point. The default
 * rule is Home Assistant's schema: any measurement, tag domain=input_number, the meter id in tag
 * entity_id, the reading in field value. */
#ifndef NEBENKOSTEN_STREAM_READING_MATCH_H
#define NEBENKOSTEN_STREAM_READING_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "relay/buffer.h"
#include "relay/lineproto.h"

struct stream_reading_rules;

/* A reading picked out of a point. */
struct stream_reading {
    const char *meter_id; /* unescaped; borrowed from the point or the scratch buffer */
    size_t meter_id_length;
    int64_t t_ns;
    double value;
};

/* Why a point that matched a rule's measurement and tags still is not a reading. */
enum stream_reading_miss {
    STREAM_READING_MISS_NONE,       /* not a meter point at all */
    STREAM_READING_MISS_NO_ID,      /* the id tag is absent */
    STREAM_READING_MISS_NO_FIELD,   /* the value field is absent */
    STREAM_READING_MISS_NOT_NUMBER, /* the value field is a string or a boolean */
};

/* Copies the rules of config (borrowed during the call). Returns an owned rule set (free with
 * stream_reading_rules_free) or NULL when out of memory. */
struct stream_reading_rules *stream_reading_rules_create(const struct config_stream *config);
void stream_reading_rules_free(struct stream_reading_rules *rules);

/* Tries each rule on point (borrowed; its timestamp must be set, as in spooled lines). On a match
 * fills *reading (meter id unescaped into scratch, caller-owned) and returns true; otherwise
 * returns false and says in *miss why a meter point was not a reading. */
bool stream_reading_match(const struct stream_reading_rules *rules,
                          const struct lineproto_point *point, struct buffer *scratch,
                          struct stream_reading *reading, enum stream_reading_miss *miss);

#endif
