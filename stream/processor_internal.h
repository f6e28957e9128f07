/* The stream processor's state, shared by processor.c (reading the spool, checkpoints) and
 * processor_status.c (/metrics, /health, /api/v1/meters). */
#ifndef NEBENKOSTEN_STREAM_PROCESSOR_INTERNAL_H
#define NEBENKOSTEN_STREAM_PROCESSOR_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "config/log.h"
#include "config/tz.h"
#include "relay/buffer.h"
#include "relay/lineproto.h"
#include "relay/relay.h"
#include "relay/spool.h"
#include "stream/calendar.h"
#include "stream/checkpoint.h"
#include "stream/meter.h"
#include "stream/meter_table.h"
#include "stream/reading_match.h"

struct event;
struct event_base;
struct cJSON;

/* A checkpoint being written on its own thread (processor_checkpoint.c). */
struct processor_checkpoint_job {
    bool running;
    pthread_t thread;
    struct buffer image;                        /* the thread's while running */
    struct stream_checkpoint_position position; /* what the image holds */
    const char *directory;                      /* borrowed from the processor */
    int result;                                 /* written by the thread */
    char error[512];
    int64_t started_ns;
    int eventfd; /* the thread says it is done */
    struct event *done_event;
};

enum processor_reseed_phase {
    PROCESSOR_RESEED_NONE,
    PROCESSOR_RESEED_BEFORE, /* reading paused, checkpoint of the state before the baselines */
    PROCESSOR_RESEED_AFTER,  /* baselines applied, their checkpoint being written */
};

/* A meter's entry of stream.limits or seasonal_patterns.yaml, copied at start (a reload may free
 * the configuration; these keys need a restart). */
struct processor_limits {
    char *meter_id;
    struct config_meter_limits limits;
};

struct processor_pattern {
    char *meter_id;
    double percentages[12];
};

struct stream_processor {
    struct relay *relay; /* borrowed */
    struct spool *spool; /* borrowed */
    struct logger *logger;
    const struct clock *clock;
    struct spool_cursor *cursor;
    struct stream_reading_rules *rules;
    struct tz_zone *zone; /* NULL: UTC */
    struct stream_calendar calendar;
    char *zone_name;
    struct config_meter_limits default_limits;
    struct processor_limits *limits;
    size_t limit_count;
    struct processor_pattern *patterns;
    size_t pattern_count;
    char *bucket; /* the processed bucket (and v1 database) */
    char *checkpoint_directory;
    char *baseline_path;       /* <checkpoint_directory>/baselines.json, written by meter-batch */
    int64_t baseline_mtime_ns; /* the file last applied (or refused), 0: none */
    uint64_t baseline_size;
    uint64_t baseline_applies; /* meters of the file being applied found in the table */
    uint64_t baseline_reseeds;
    /* The baselines of the file last applied whose meters had no state then, sorted by id: a
     * meter's first reading after that takes its own (a relay started after meter-batch imported
     * the history, a meter that reads monthly). */
    struct processor_waiting_baseline *waiting;
    size_t waiting_count;
    bool waiting_loaded; /* the list is of the file last applied (false: still to be read) */
    struct processor_checkpoint_job job;
    enum processor_reseed_phase reseed_phase;
    bool paused;            /* reading waits while baselines are re-seeded */
    bool checkpoint_forced; /* write a checkpoint even if the position did not move */
    int64_t checkpoint_interval_ms;
    struct stream_meter_table meters;
    struct lineproto_parser *parser;
    struct buffer scratch;
    struct buffer output;         /* the current record's processed points */
    size_t output_flushed;        /* bytes of output appended to the spool already */
    uint64_t position;            /* every record up to it is in the meters' state */
    uint64_t derived_sequence;    /* last record this processor appended */
    uint64_t checkpoint_position; /* position of the last checkpoint written */
    /* Replay: the last derived record of each source whose points are in the spool already, in
     * spool order; the next one is the current such source's. A checkpoint during or after the
     * replay names the one last passed as its derived sequence, so the restart after it does not
     * count those points again (and skip the points of as many newer sources). */
    uint64_t *suppress_sequences;
    size_t suppress_count, suppress_capacity, suppress_next;
    bool suppressing; /* the current record's points are in the spool already */
    const struct stream_meter_slot *current; /* the meter being updated (for the emit callback) */
    int emit_status;
    bool blocked;              /* the spool refused our points (full): waiting for room */
    uint64_t blocked_sequence; /* the record whose points wait */
    bool failed;               /* a cursor or memory error stopped the processor */
    bool stopped;              /* shutdown */
    struct event *run_event;
    struct event *checkpoint_timer;
    struct event *retry_timer;
    /* Counters for /metrics. */
    int64_t busy_ns; /* CPU time spent reading and processing records */
    uint64_t readings;
    uint64_t records;
    uint64_t misses[4]; /* by enum stream_reading_miss */
    uint64_t points_emitted;
    uint64_t events[STREAM_EVENT_KIND_COUNT];
    uint64_t anomalies;
    uint64_t checkpoints;
    uint64_t checkpoint_failures;
    double checkpoint_seconds;       /* duration of the last one, writing and syncing included */
    double checkpoint_build_seconds; /* the part on the loop: copying the state */
    /* Monotonic time of the last one (when checkpoints > 0): its age must not move with a step of
     * the wall clock (set back, the age went negative; stepped forward, it looked stale). */
    int64_t checkpoint_monotonic_ns;
    bool checkpoint_failing;
};

/* processor_checkpoint.c: the timer, the writer thread and the re-seed of baselines. */
int processor_checkpoint_setup(struct stream_processor *processor, struct event_base *base);
/* Applies the baselines file if it differs from the one last applied (at start: before a
 * replay with no points to skip, which then matches what happened before the crash). */
void processor_baselines_apply(struct stream_processor *processor);
/* A meter's first reading, at first_reading_ns, is about to be applied to slot (a new meter):
 * starts it from its waiting baseline, if the file last applied has one. */
void processor_baseline_seed(struct stream_processor *processor, struct stream_meter_slot *slot,
                             int64_t first_reading_ns);
/* Shutdown: waits for a checkpoint in flight, then writes the last one on the loop. */
void processor_checkpoint_final(struct stream_processor *processor);
void processor_checkpoint_teardown(struct stream_processor *processor);

/* The relay extension callbacks of processor_status.c. */
int stream_processor_metrics_write(void *argument, struct buffer *out);
void stream_processor_health_add(void *argument, struct cJSON *checks);
void stream_processor_request_handle(void *argument, struct http_request *request,
                                     const char *path);

#endif
