#include "stream/processor.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/error.h"
#include "relay/spool_reader.h"
#include "stream/checkpoint.h"
#include "stream/emission_format.h"
#include "stream/processor_internal.h"

/* One loop pass reads records for at most this long, so HTTP requests keep their turn. */
#define PROCESSOR_SLICE_NS INT64_C(2000000)
/* Derived records are cut at line boundaries to about this size. */
#define PROCESSOR_CHUNK_BYTES (4u << 20)
/* While the spool refuses our points (full), try again this often. */
#define PROCESSOR_RETRY_MS 1000

static void processor_run(struct stream_processor *processor);

static int64_t thread_cpu_ns(void)
{
    struct timespec now;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) != 0)
        return 0;
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static const struct config_meter_limits *
processor_limits_find(const struct stream_processor *processor, const char *id, size_t length)
{
    for (size_t i = 0; i < processor->limit_count; i++)
        if (strlen(processor->limits[i].meter_id) == length &&
            memcmp(processor->limits[i].meter_id, id, length) == 0)
            return &processor->limits[i].limits;
    return &processor->default_limits;
}

static const double *processor_pattern_find(const struct stream_processor *processor,
                                            const char *id, size_t length)
{
    for (size_t i = 0; i < processor->pattern_count; i++)
        if (strlen(processor->patterns[i].meter_id) == length &&
            memcmp(processor->patterns[i].meter_id, id, length) == 0)
            return processor->patterns[i].percentages;
    return NULL;
}

static void processor_slot_resolve(const struct stream_processor *processor,
                                   struct stream_meter_slot *slot)
{
    const char *id = stream_meter_table_id(&processor->meters, slot);
    slot->limits = processor_limits_find(processor, id, slot->id_length);
    slot->seasonal_percentages = processor_pattern_find(processor, id, slot->id_length);
}

/* Stops the processor for good after an error it cannot get past; ingest goes on. */
static void processor_fail(struct stream_processor *processor, const char *message, int code)
{
    if (processor->failed)
        return;
    processor->failed = true;
    log_error(processor->logger,
              "stream processor stopped; restart the relay after fixing the cause",
              LOG_STRING("reason", message), LOG_STRING("error", strerror(code)));
}

static void processor_emit(const struct stream_emission *emission, void *argument)
{
    struct stream_processor *processor = argument;
    processor->points_emitted++;
    if (emission->kind == STREAM_EMISSION_EVENT && emission->event < STREAM_EVENT_KIND_COUNT)
        processor->events[emission->event]++;
    else if (emission->kind == STREAM_EMISSION_ANOMALY)
        processor->anomalies++;
    /* Formatted even in a replay that appends nothing: whether a record produced output must be
     * decided exactly as in the run before the crash. */
    if (processor->emit_status != 0)
        return;
    const struct stream_meter_slot *slot = processor->current;
    int status =
        stream_emission_format(&processor->output, stream_meter_table_id(&processor->meters, slot),
                               slot->id_length, emission);
    if (status == -ENOMEM)
        processor->emit_status = status;
    /* -EINVAL: an id line protocol cannot carry; the point is dropped, the state still counts. */
}

/* The next cut of output after from: at most PROCESSOR_CHUNK_BYTES, at a line end. */
static size_t output_chunk_end(const struct buffer *output, size_t from)
{
    if (output->length - from <= PROCESSOR_CHUNK_BYTES)
        return output->length;
    const char *limit = output->data + from + PROCESSOR_CHUNK_BYTES;
    const char *cut = limit;
    while (cut > output->data + from && cut[-1] != '\n')
        cut--;
    if (cut == output->data + from) /* one huge line: up to its end */
        cut = memchr(limit, '\n', output->length - (size_t)(limit - output->data)) + 1;
    return (size_t)(cut - output->data);
}

/* Appends what is left of output to the spool. Returns 0 (all appended), -EAGAIN (the spool is
 * full: retry later), or a fatal negative errno. */
static int processor_output_flush(struct stream_processor *processor)
{
    struct spool_routing routing = {0};
    routing.db = (struct spool_slice){processor->bucket, strlen(processor->bucket)};
    routing.bucket = routing.db;
    while (processor->output_flushed < processor->output.length) {
        size_t end = output_chunk_end(&processor->output, processor->output_flushed);
        uint8_t flags = SPOOL_RECORD_FLAG_DERIVED;
        if (end == processor->output.length)
            flags |= SPOOL_RECORD_FLAG_DERIVED_LAST;
        uint64_t sequence;
        int status = spool_append_flagged(processor->spool, &routing, flags,
                                          processor->output.data + processor->output_flushed,
                                          end - processor->output_flushed, &sequence);
        if (status == -ENOBUFS || status == -ENOSPC || status == -EROFS)
            return -EAGAIN;
        if (status != 0)
            return status;
        processor->derived_sequence = sequence;
        processor->output_flushed = end;
        relay_commit_request(processor->relay);
    }
    buffer_clear(&processor->output);
    processor->output_flushed = 0;
    return 0;
}

/* Once per run of a meter's readings dated after the relay's clock (open_flag
 * STREAM_METER_FUTURE_OPEN) or before 2001 (STREAM_METER_UNSET_CLOCK_OPEN): the event says it in
 * the processed bucket, this where the operator looks first. */
static void processor_clock_error_log(struct stream_processor *processor,
                                      const struct stream_meter_slot *slot, uint32_t open_flag,
                                      int64_t t_ns)
{
    char when[32], meter[256];
    stream_time_format(t_ns, when, sizeof when);
    snprintf(meter, sizeof meter, "%.*s", (int)slot->id_length,
             stream_meter_table_id(&processor->meters, slot));
    log_warning(processor->logger,
                open_flag == STREAM_METER_FUTURE_OPEN
                    ? "a reading dated more than a day after the relay's clock is ignored (the "
                      "device's clock is wrong, or this machine's: is NTP through?); the meter's "
                      "later readings are taken as usual"
                    : "a reading dated before 2001 is ignored (the device's clock was not set, "
                      "or its times are seconds or milliseconds written without the precision "
                      "parameter); the meter's later readings are taken as usual",
                LOG_STRING("meter", meter), LOG_STRING("reading_time", when));
}

static void processor_record_apply(struct stream_processor *processor,
                                   const struct spool_record *record)
{
    processor->records++;
    processor->suppressing = processor->suppress_next < processor->suppress_count;
    lineproto_parser_start(processor->parser, record->payload, record->payload_length,
                           LINEPROTO_PRECISION_NANOSECOND);
    struct lineproto_point point;
    struct lineproto_error error;
    enum lineproto_status status;
    /* A replay reads with a later clock than the run before the crash; only a reading more than
     * a day ahead when first read and no longer when replayed decides differently. */
    const int64_t now_ns = clock_realtime_ns(processor->clock);
    while ((status = lineproto_parser_next(processor->parser, &point, &error)) != LINEPROTO_END) {
        if (status == LINEPROTO_NO_MEMORY) {
            processor->emit_status = -ENOMEM;
            return;
        }
        struct stream_reading reading;
        enum stream_reading_miss miss;
        /* Spooled lines were validated at ingest and always carry a time. */
        if (status != LINEPROTO_POINT || !point.has_time ||
            !stream_reading_match(processor->rules, &point, &processor->scratch, &reading, &miss)) {
            if (status == LINEPROTO_POINT && point.has_time) /* miss is set only then */
                processor->misses[miss]++;
            continue;
        }
        int added;
        struct stream_meter_slot *slot = stream_meter_table_add(
            &processor->meters, reading.meter_id, reading.meter_id_length, &added);
        if (!slot) {
            processor->emit_status = -ENOMEM;
            return;
        }
        if (added)
            processor_slot_resolve(processor, slot);
        processor->readings++;
        processor->current = slot;
        const struct stream_meter_context context = {
            .calendar = &processor->calendar,
            .limits = slot->limits,
            .seasonal_percentages = slot->seasonal_percentages,
            .now_ns = now_ns,
        };
        /* Seeded at the first reading the meter takes: one dated 1970 before it would keep the
         * batch's register offset from the meter (it seemed to come before the batch's last). */
        if (!(slot->meter.flags & STREAM_METER_SEEN) &&
            !stream_meter_reading_is_misdated(&context, reading.t_ns))
            processor_baseline_seed(processor, slot, reading.t_ns);
        const uint32_t clock_flags = STREAM_METER_FUTURE_OPEN | STREAM_METER_UNSET_CLOCK_OPEN;
        uint32_t open_before = slot->meter.flags & clock_flags;
        stream_meter_reading_apply(&slot->meter, &context, reading.t_ns, reading.value,
                                   processor_emit, processor);
        uint32_t opened = slot->meter.flags & clock_flags & ~open_before;
        if (opened && !processor->suppressing)
            processor_clock_error_log(processor, slot, opened, reading.t_ns);
    }
}

static void processor_retry_arm(struct stream_processor *processor, int64_t milliseconds)
{
    struct timeval delay = {milliseconds / 1000, (milliseconds % 1000) * 1000};
    event_add(processor->retry_timer, &delay);
}

/* Appends the current record's points; on success the record is done. Returns whether it is. */
static bool processor_output_deliver(struct stream_processor *processor, uint64_t sequence)
{
    if (processor->suppressing) {
        /* A replay: this record's points are in the spool already (counted at start), up to
         * that derived record. */
        if (processor->output.length > 0)
            processor->derived_sequence = processor->suppress_sequences[processor->suppress_next++];
        buffer_clear(&processor->output);
        processor->position = sequence;
        return true;
    }
    int status = processor_output_flush(processor);
    if (status == -EAGAIN) {
        if (!processor->blocked)
            log_warning(processor->logger,
                        "stream processor paused: the spool refuses its points (full); it goes "
                        "on when there is room",
                        LOG_INTEGER("sequence", (int64_t)sequence));
        processor->blocked = true;
        processor->blocked_sequence = sequence;
        processor_retry_arm(processor, PROCESSOR_RETRY_MS);
        return false;
    }
    if (status != 0) {
        processor_fail(processor, "cannot append processed points to the spool", -status);
        return false;
    }
    if (processor->blocked)
        log_info(processor->logger, "stream processor resumed: the spool took its points");
    processor->blocked = false;
    processor->position = sequence;
    return true;
}

/* Reads records until the cursor has no more or the slice is used up. */
static void processor_slice_run(struct stream_processor *processor, int64_t started)
{
    int64_t deadline = started + PROCESSOR_SLICE_NS;
    for (;;) {
        struct spool_record record;
        int status = spool_cursor_next(processor->cursor, &record);
        if (status == 0)
            return;
        if (status < 0) {
            processor_fail(processor, "cannot read the spool", -status);
            return;
        }
        if (record.sequence <= processor->position)
            continue; /* in the checkpoint's state already */
        if (record.flags & SPOOL_RECORD_FLAG_DERIVED) {
            processor->position = record.sequence;
            continue;
        }
        processor_record_apply(processor, &record);
        if (processor->emit_status != 0) {
            processor_fail(processor, "out of memory", -processor->emit_status);
            return;
        }
        if (!processor_output_deliver(processor, record.sequence))
            return;
        /* Checked after every record: one of 5000 readings already takes a millisecond. */
        if (clock_monotonic_ns(processor->clock) > deadline) {
            event_active(processor->run_event, EV_TIMEOUT, 0);
            return;
        }
    }
}

static void processor_run(struct stream_processor *processor)
{
    if (processor->failed || processor->stopped || processor->blocked || processor->paused)
        return;
    /* CPU time, not wall time: what one core spends on the stream, whatever else the machine
     * runs meanwhile. */
    int64_t cpu_started = thread_cpu_ns();
    processor_slice_run(processor, clock_monotonic_ns(processor->clock));
    processor->busy_ns += thread_cpu_ns() - cpu_started;
}

static void processor_run_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    processor_run(argument);
}

static void processor_retry_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct stream_processor *processor = argument;
    if (processor->blocked && !processor->stopped &&
        processor_output_deliver(processor, processor->blocked_sequence))
        processor_run(processor);
}

static void processor_committed(void *argument)
{
    processor_run(argument);
}

/* SIGTERM, after the relay's final flush: every derived record is durable, so the checkpoint
 * covers everything read. */
static void processor_stop(void *argument)
{
    struct stream_processor *processor = argument;
    if (processor->stopped)
        return;
    processor->stopped = true;
    processor_checkpoint_final(processor);
}

static void processor_destroy(void *argument)
{
    struct stream_processor *processor = argument;
    if (!processor)
        return;
    if (processor->run_event)
        event_free(processor->run_event);
    processor_checkpoint_teardown(processor);
    if (processor->retry_timer)
        event_free(processor->retry_timer);
    spool_cursor_close(processor->cursor);
    stream_reading_rules_free(processor->rules);
    tz_zone_free(processor->zone);
    free(processor->zone_name);
    for (size_t i = 0; i < processor->limit_count; i++)
        free(processor->limits[i].meter_id);
    free(processor->limits);
    for (size_t i = 0; i < processor->pattern_count; i++)
        free(processor->patterns[i].meter_id);
    free(processor->patterns);
    free(processor->bucket);
    free(processor->checkpoint_directory);
    free(processor->baseline_path);
    free(processor->suppress_sequences);
    stream_meter_table_release(&processor->meters);
    lineproto_parser_destroy(processor->parser);
    buffer_release(&processor->scratch);
    buffer_release(&processor->output);
    free(processor);
}

/* Copies the configuration the processor keeps (a reload may free it). Returns 0 or -1. */
static int processor_config_copy(struct stream_processor *processor, const struct config *config,
                                 char *error, size_t error_size)
{
    const struct config_stream *stream = &config->stream;
    processor->default_limits = stream->default_limits;
    processor->checkpoint_interval_ms = stream->checkpoint_interval_ms;
    if (stream->limit_count &&
        !(processor->limits = calloc(stream->limit_count, sizeof *processor->limits)))
        goto out_of_memory;
    for (size_t i = 0; i < stream->limit_count; i++) {
        processor->limits[i].limits = stream->limits[i];
        processor->limits[i].limits.meter_id = NULL;
        processor->limit_count++;
        if (!(processor->limits[i].meter_id = strdup(stream->limits[i].meter_id)))
            goto out_of_memory;
    }
    if (config->pattern_count &&
        !(processor->patterns = calloc(config->pattern_count, sizeof *processor->patterns)))
        goto out_of_memory;
    for (size_t i = 0; i < config->pattern_count; i++) {
        const struct config_pattern *pattern = &config->patterns[i];
        processor->pattern_count++;
        if (!(processor->patterns[i].meter_id = strdup(pattern->meter_id)))
            goto out_of_memory;
        for (size_t month = 0; month < 12 && month < pattern->month_count; month++)
            processor->patterns[i].percentages[month] = pattern->monthly_percentages[month];
    }
    const char *zone = config->analytics.timezone;
    if (zone && zone[0] && strcmp(zone, "UTC") != 0) {
        processor->zone = tz_zone_load(zone, error, error_size);
        if (!processor->zone)
            return -1;
    }
    processor->calendar = stream_calendar_zone(processor->zone);
    processor->zone_name = strdup(processor->zone ? zone : "UTC");
    processor->bucket = strdup(config->influxdb.bucket_processed);
    char directory[4096];
    snprintf(directory, sizeof directory, "%s/stream", config->relay.spool.dir);
    processor->checkpoint_directory = strdup(directory);
    snprintf(directory, sizeof directory, "%s/stream/baselines.json", config->relay.spool.dir);
    processor->baseline_path = strdup(directory);
    processor->rules = stream_reading_rules_create(stream);
    if (!processor->zone_name || !processor->bucket || !processor->checkpoint_directory ||
        !processor->baseline_path || !processor->rules)
        goto out_of_memory;
    return 0;
out_of_memory:
    error_message_set(error, error_size, "out of memory starting the stream processor");
    return -1;
}

/* Appends sequence to the derived records the replay does not append again. Returns 0 or -1 (out
 * of memory). */
static int processor_suppress_add(struct stream_processor *processor, uint64_t sequence)
{
    if (processor->suppress_count == processor->suppress_capacity) {
        size_t capacity = processor->suppress_capacity ? 2 * processor->suppress_capacity : 64;
        uint64_t *grown = realloc(processor->suppress_sequences, capacity * sizeof *grown);
        if (!grown)
            return -1;
        processor->suppress_sequences = grown;
        processor->suppress_capacity = capacity;
    }
    processor->suppress_sequences[processor->suppress_count++] = sequence;
    return 0;
}

/* Lists the last derived record of each source after sequence after: they came from sources the
 * replay reads again, which then do not append them a second time. Returns 0 or -1 (message in
 * error). */
static int processor_replay_prepare(struct stream_processor *processor, const char *spool_dir,
                                    uint64_t after, char *error, size_t error_size)
{
    struct spool_directory_reader *reader;
    int status = spool_directory_reader_open(spool_dir, after + 1, &reader, error, error_size);
    if (status == -ENOENT)
        return 0;
    if (status != 0)
        return -1;
    struct spool_record record;
    char damage[256];
    while ((status = spool_directory_reader_next(reader, &record, damage, sizeof damage)) != 0) {
        if (status == -EBADMSG)
            continue; /* recovery quarantined or cut it; the cursor will not yield it either */
        if (status < 0)
            break;
        if (record.sequence > after && (record.flags & SPOOL_RECORD_FLAG_DERIVED_LAST) &&
            processor_suppress_add(processor, record.sequence) != 0) {
            status = -ENOMEM;
            snprintf(damage, sizeof damage, "out of memory listing the stream's spooled points");
            break;
        }
    }
    spool_directory_reader_close(reader);
    if (status < 0) {
        error_message_set(error, error_size, "%s", damage);
        return -1;
    }
    return 0;
}

/* Loads the checkpoint (or starts afresh) and opens the cursor. */
static int processor_state_load(struct stream_processor *processor, const struct config *config,
                                char *error, size_t error_size)
{
    struct stream_checkpoint_position position = {0};
    char problem[512];
    int loaded = stream_checkpoint_load(processor->checkpoint_directory, processor->zone_name,
                                        &position, &processor->meters, problem, sizeof problem);
    if (loaded < 0)
        log_warning(processor->logger,
                    "stream checkpoint unusable: the meters start afresh from the spool's "
                    "oldest unread record (the nightly batch recomputes the history)",
                    LOG_STRING("error", problem));
    for (size_t i = 0; i < processor->meters.count; i++)
        processor_slot_resolve(processor, stream_meter_table_slot(&processor->meters, i));
    processor->position = position.position;
    processor->checkpoint_position = position.position;
    processor->derived_sequence = position.derived_sequence;
    processor->baseline_mtime_ns = position.baseline_mtime_ns;
    processor->baseline_size = position.baseline_size;
    int status = spool_cursor_open(processor->spool, "stream", &processor->cursor);
    if (status != 0) {
        error_message_set(error, error_size, "cannot open the stream cursor in %s/cursor: %s",
                          config->relay.spool.dir, strerror(-status));
        return -1;
    }
    /* The replay is exact when it starts from the state the derived records in the spool came
     * from: the checkpoint's, or -- without one -- the empty state at the cursor's start (the
     * cursor is only stored after a checkpoint). From an unusable checkpoint the state differs
     * anyway; the points are then appended again, which InfluxDB merges. */
    if (loaded >= 0 &&
        processor_replay_prepare(processor, config->relay.spool.dir,
                                 loaded == 0 ? position.derived_sequence
                                             : spool_cursor_durable(processor->cursor),
                                 error, error_size) != 0)
        return -1;
    /* A file that differs from the checkpoint's was applied at its position before the crash
     * when the records after it left no points in the spool (a re-seed pauses reading until its
     * checkpoint is written); otherwise the batch wrote it after that checkpoint, and the replay
     * must decide as the run before the crash did, without it: the timer re-seeds once the
     * replay has passed the points already spooled. Applied here, the file is checkpointed
     * before the first record is read, as a re-seed while running is: points decided with it
     * and spooled before that checkpoint would otherwise be replayed without it after a crash,
     * and the register move back by the batch's offset. */
    if (processor->suppress_count == 0) {
        processor_baselines_apply(processor);
        if (processor->checkpoint_forced) {
            processor->reseed_phase = PROCESSOR_RESEED_AFTER;
            processor->paused = true;
        }
    }
    if (spool_cursor_durable(processor->cursor) > processor->position)
        log_warning(processor->logger,
                    "the stream cursor is ahead of the checkpoint: records in between are not "
                    "in the meters' state (the nightly batch recomputes them)",
                    LOG_INTEGER("cursor", (int64_t)spool_cursor_durable(processor->cursor)),
                    LOG_INTEGER("checkpoint", (int64_t)processor->position));
    log_info(processor->logger, "stream processor started",
             LOG_INTEGER("meters", (int64_t)processor->meters.count),
             LOG_INTEGER("position", (int64_t)processor->position),
             LOG_INTEGER("replayed_without_output", (int64_t)processor->suppress_count),
             LOG_STRING("timezone", processor->zone_name));
    return 0;
}

int stream_processor_attach(struct relay *relay, char *error, size_t error_size)
{
    const struct config *config = relay_config(relay);
    if (!config->stream.enabled)
        return 0;
    struct stream_processor *processor = calloc(1, sizeof *processor);
    if (!processor) {
        error_message_set(error, error_size, "out of memory starting the stream processor");
        return -1;
    }
    processor->job.eventfd = -1;
    processor->relay = relay;
    processor->spool = relay_spool(relay);
    processor->logger = relay_logger(relay);
    processor->clock = relay_clock(relay);
    struct event_base *base = relay_event_base(relay);
    processor->parser = lineproto_parser_create();
    processor->run_event = event_new(base, -1, 0, processor_run_event, processor);
    processor->retry_timer = event_new(base, -1, 0, processor_retry_event, processor);
    if (!processor->parser || !processor->run_event || !processor->retry_timer) {
        error_message_set(error, error_size, "out of memory starting the stream processor");
        goto failure;
    }
    if (processor_config_copy(processor, config, error, error_size) != 0 ||
        processor_state_load(processor, config, error, error_size) != 0)
        goto failure;
    const struct relay_extension extension = {
        .name = "stream",
        .argument = processor,
        .committed = processor_committed,
        .path_prefix = "/api/v1/meters",
        .request_handle = stream_processor_request_handle,
        .metrics_write = stream_processor_metrics_write,
        .health_add = stream_processor_health_add,
        .stop = processor_stop,
        .destroy = processor_destroy,
    };
    if (relay_extension_add(relay, &extension) != 0) {
        error_message_set(error, error_size, "too many relay extensions");
        goto failure;
    }
    if (processor_checkpoint_setup(processor, base) != 0) {
        /* The extension is attached: the relay frees the processor. */
        error_message_set(error, error_size, "cannot set up the stream checkpoints: %s",
                          strerror(errno));
        return -1;
    }
    event_active(processor->run_event, EV_TIMEOUT, 0);
    return 0;
failure:
    processor_destroy(processor);
    return -1;
}
