/* The stream processor inside meter-relay (spec/analytics.md "Stream"): a spool consumer with
 * its own cursor ("stream") that picks meter readings out of every accepted point, updates each
 * meter's state at once, and appends what that produces (daily registers, consumption, monthly
 * values, anomalies, events) to the spool addressed to the processed bucket, flagged as derived,
 * so it is durable and forwarded like any write. It reads only committed records, in bounded
 * slices per loop pass, so it never delays an acknowledgement; its backlog shows in /metrics.
 *
 * Restart safety: every stream.checkpoint_interval (and at shutdown) the meters and the spool
 * position they reflect are written to <spool.dir>/stream/checkpoint, once the derived records
 * they produced are durable; then the cursor is stored. After a crash the processor loads the
 * checkpoint and replays the spool from that position; the derived records already in the spool
 * after the checkpoint are counted first, and the replay does not append those again, so every
 * reading updates state exactly once and every processed point is appended once.
 *
 * HTTP: GET /api/v1/meters and /api/v1/meters/<id> describe the meters (JSON). */
#ifndef NEBENKOSTEN_STREAM_PROCESSOR_H
#define NEBENKOSTEN_STREAM_PROCESSOR_H

#include <stddef.h>

struct relay;

/* Creates the stream processor of relay (borrowed; the processor lives until relay_destroy) when
 * stream.enabled, and attaches it as a relay extension. Matches relay_extensions_attach_fn.
 * Returns 0, or -1 with a message for the user in error. */
int stream_processor_attach(struct relay *relay, char *error, size_t error_size);

#endif
