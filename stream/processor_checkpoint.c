/* The stream processor's checkpoints and baseline re-seeds. The image of every meter is built on
 * the loop (a copy of the state: tens of milliseconds for 100,000 meters); writing and syncing it
 * (hundreds of milliseconds for that many) happens on a thread of its own, so requests are not
 * held up meanwhile. Only the last checkpoint, at shutdown, is written on the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <event2/event.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream/baseline.h"
#include "stream/checkpoint.h"
#include "stream/processor_internal.h"

/* A checkpoint that must wait for its derived records to become durable looks again after this. */
#define CHECKPOINT_WAIT_MS 20

static void *checkpoint_thread(void *argument)
{
    struct processor_checkpoint_job *job = argument;
    job->result = stream_checkpoint_image_write(job->directory, job->image.data, job->image.length,
                                                job->error, sizeof job->error);
    uint64_t one = 1;
    while (write(job->eventfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* Bookkeeping after a checkpoint of job->position was written (result 0) or not. */
static void checkpoint_outcome(struct stream_processor *processor, int result, const char *error)
{
    struct processor_checkpoint_job *job = &processor->job;
    if (result != 0) {
        processor->checkpoint_failures++;
        if (!processor->checkpoint_failing)
            log_error(processor->logger,
                      "cannot write the stream checkpoint; after a restart the stream replays "
                      "from the last good one",
                      LOG_STRING("error", error));
        processor->checkpoint_failing = true;
        return;
    }
    if (processor->checkpoint_failing)
        log_info(processor->logger, "stream checkpoint written again");
    processor->checkpoint_failing = false;
    processor->checkpoint_position = job->position.position;
    processor->checkpoint_forced = false;
    processor->checkpoints++;
    processor->checkpoint_monotonic_ns = clock_monotonic_ns(processor->clock);
    processor->checkpoint_seconds =
        (double)(processor->checkpoint_monotonic_ns - job->started_ns) / 1e9;
    /* The cursor only lets the spool delete segments. It fails only with the spool, which has
     * logged why and that the relay stops: a line here would promise a next checkpoint. */
    spool_cursor_acknowledge(processor->cursor, job->position.position);
    (void)spool_cursor_store(processor->cursor);
}

/* Builds the image of the current state into the job. Returns 0 (built), 1 (not now: the derived
 * records it covers are not durable yet, or the output waits for room), 2 (nothing changed), or
 * -1 (out of memory, counted as a failed checkpoint). */
static int checkpoint_build(struct stream_processor *processor)
{
    if (processor->failed || processor->blocked)
        return 1;
    if (processor->position == processor->checkpoint_position && !processor->checkpoint_forced)
        return 2;
    if (spool_durable_sequence(processor->spool) < processor->derived_sequence) {
        relay_commit_request(processor->relay);
        return 1;
    }
    struct processor_checkpoint_job *job = &processor->job;
    job->started_ns = clock_monotonic_ns(processor->clock);
    job->position = (struct stream_checkpoint_position){
        .position = processor->position,
        .derived_sequence = processor->derived_sequence,
        .baseline_mtime_ns = processor->baseline_mtime_ns,
        .baseline_size = processor->baseline_size,
    };
    if (stream_checkpoint_image_build(&job->image, &job->position, processor->zone_name,
                                      &processor->meters) != 0) {
        checkpoint_outcome(processor, -1, "out of memory building the stream checkpoint");
        return -1;
    }
    processor->checkpoint_build_seconds =
        (double)(clock_monotonic_ns(processor->clock) - job->started_ns) / 1e9;
    return 0;
}

/* Starts a checkpoint on the writer thread. Returns as checkpoint_build, or -1 when the thread
 * cannot start (the checkpoint is then written here). */
static int checkpoint_start(struct stream_processor *processor)
{
    int status = checkpoint_build(processor);
    if (status != 0)
        return status;
    struct processor_checkpoint_job *job = &processor->job;
    if (pthread_create(&job->thread, NULL, checkpoint_thread, job) != 0) {
        char error[sizeof job->error];
        int result = stream_checkpoint_image_write(job->directory, job->image.data,
                                                   job->image.length, error, sizeof error);
        checkpoint_outcome(processor, result, error);
        buffer_release(&job->image);
        return result == 0 ? 0 : -1;
    }
    job->running = true;
    return 0;
}

struct processor_waiting_baseline {
    char *meter_id;
    struct stream_baseline baseline;
};

/* The waiting list being read from a file: replaces the processor's once the file loaded. */
struct baseline_load {
    struct stream_processor *processor;
    bool apply; /* false: the meters with state had this file applied already */
    struct processor_waiting_baseline *waiting;
    size_t count, capacity;
    bool out_of_memory;
};

static void waiting_free(struct processor_waiting_baseline *waiting, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(waiting[i].meter_id);
    free(waiting);
}

static int waiting_compare(const void *a, const void *b)
{
    return strcmp(((const struct processor_waiting_baseline *)a)->meter_id,
                  ((const struct processor_waiting_baseline *)b)->meter_id);
}

/* A meter id as the table holds it (not NUL-terminated), looked up among the waiting ones. */
struct waiting_key {
    const char *id;
    size_t length;
};

/* key against a waiting baseline, in the order waiting_compare sorts them (strcmp's). */
static int waiting_key_compare(const void *key_pointer, const void *element)
{
    const struct waiting_key *key = key_pointer;
    const char *other = ((const struct processor_waiting_baseline *)element)->meter_id;
    int order = strncmp(key->id, other, key->length);
    return order != 0 ? order : (other[key->length] != '\0' ? -1 : 0);
}

static void baseline_wait(struct baseline_load *load, const char *meter_id,
                          const struct stream_baseline *baseline)
{
    if (load->count == load->capacity) {
        size_t capacity = load->capacity ? 2 * load->capacity : 16;
        struct processor_waiting_baseline *grown = realloc(load->waiting, capacity * sizeof *grown);
        if (!grown) {
            load->out_of_memory = true;
            return;
        }
        load->waiting = grown;
        load->capacity = capacity;
    }
    char *id = strdup(meter_id);
    if (!id) {
        load->out_of_memory = true;
        return;
    }
    load->waiting[load->count++] = (struct processor_waiting_baseline){id, *baseline};
}

static void baseline_each(const char *meter_id, const struct stream_baseline *baseline,
                          void *argument)
{
    struct baseline_load *load = argument;
    struct stream_processor *processor = load->processor;
    struct stream_meter_slot *slot =
        stream_meter_table_find(&processor->meters, meter_id, strlen(meter_id));
    if (!slot) {
        baseline_wait(load, meter_id, baseline);
        return;
    }
    if (!load->apply)
        return;
    double offset = slot->meter.offset;
    if (stream_meter_baseline_apply(&slot->meter, baseline))
        log_info(processor->logger,
                 "register offset taken from the batch (it knows resets before the stream's "
                 "first reading); consumption is unchanged",
                 LOG_STRING("meter", meter_id), LOG_NUMBER("offset_before", offset),
                 LOG_NUMBER("offset", slot->meter.offset));
    processor->baseline_applies++;
}

/* Whether the baselines file differs from the one last applied; fills its stamp. */
static bool baselines_changed(const struct stream_processor *processor, int64_t *mtime_ns,
                              uint64_t *size)
{
    struct stat status;
    if (stat(processor->baseline_path, &status) != 0)
        return false;
    *mtime_ns = (int64_t)status.st_mtim.tv_sec * 1000000000 + status.st_mtim.tv_nsec;
    *size = (uint64_t)status.st_size;
    return *mtime_ns != processor->baseline_mtime_ns || *size != processor->baseline_size;
}

/* Reads the baselines file: applies it to the meters with state when apply is set, and keeps the
 * others waiting. Returns the meters in the file, or -1 with a message in error. */
static int baselines_load(struct stream_processor *processor, bool apply, char *error,
                          size_t error_size)
{
    struct baseline_load load = {.processor = processor, .apply = apply};
    int meters = stream_baseline_file_load(processor->baseline_path, baseline_each, &load, error,
                                           error_size);
    if (meters >= 0 && load.out_of_memory) {
        snprintf(error, error_size, "out of memory keeping the baselines of new meters");
        meters = -1;
    }
    if (meters < 0) {
        waiting_free(load.waiting, load.count);
        return -1;
    }
    if (load.count > 1)
        qsort(load.waiting, load.count, sizeof *load.waiting, waiting_compare);
    waiting_free(processor->waiting, processor->waiting_count);
    processor->waiting = load.waiting;
    processor->waiting_count = load.count;
    processor->waiting_loaded = true;
    return meters;
}

void processor_baselines_apply(struct stream_processor *processor)
{
    int64_t mtime_ns;
    uint64_t size;
    char error[512];
    if (!baselines_changed(processor, &mtime_ns, &size)) {
        /* Applied before a restart: the meters without state then still wait for theirs. */
        if (!processor->waiting_loaded && processor->baseline_mtime_ns != 0 &&
            baselines_load(processor, false, error, sizeof error) < 0)
            log_warning(processor->logger,
                        "detector baselines of new meters not read; they start from nothing",
                        LOG_STRING("error", error));
        return;
    }
    processor->baseline_applies = 0;
    int meters = baselines_load(processor, true, error, sizeof error);
    processor->baseline_mtime_ns = mtime_ns;
    processor->baseline_size = size;
    processor->checkpoint_forced = true; /* the stamp, at least, is new */
    if (meters < 0) {
        log_warning(processor->logger,
                    "detector baselines not applied; the online ones stay (the next file the "
                    "batch writes is tried again)",
                    LOG_STRING("error", error));
        return;
    }
    processor->baseline_reseeds++;
    log_info(processor->logger, "detector baselines re-seeded",
             LOG_STRING("file", processor->baseline_path), LOG_INTEGER("meters_in_file", meters),
             LOG_INTEGER("meters_applied", (int64_t)processor->baseline_applies),
             LOG_INTEGER("meters_waiting", (int64_t)processor->waiting_count));
}

void processor_baseline_seed(struct stream_processor *processor, struct stream_meter_slot *slot,
                             int64_t first_reading_ns)
{
    if (processor->waiting_count == 0)
        return;
    const struct waiting_key key = {stream_meter_table_id(&processor->meters, slot),
                                    slot->id_length};
    const struct processor_waiting_baseline *found = bsearch(
        &key, processor->waiting, processor->waiting_count, sizeof *found, waiting_key_compare);
    if (!found)
        return;
    if (stream_meter_baseline_seed(&slot->meter, &found->baseline, first_reading_ns) &&
        !processor->suppressing)
        log_info(processor->logger,
                 "register offset taken from the batch at the meter's first reading (it knows "
                 "resets before the stream's first reading)",
                 LOG_STRING("meter", found->meter_id), LOG_NUMBER("offset", slot->meter.offset));
}

/* A checkpoint finished on the writer thread. A re-seed goes on: after the checkpoint before it,
 * the baselines are applied and checkpointed at once, then reading resumes. The reading pauses
 * in between, so the state changes only at a checkpointed position: a replay after a crash
 * starts from a checkpoint on one side of the change, never crosses it. */
static void checkpoint_done_event(evutil_socket_t fd, short what, void *argument)
{
    (void)what;
    struct stream_processor *processor = argument;
    struct processor_checkpoint_job *job = &processor->job;
    uint64_t count;
    if (read(fd, &count, sizeof count) < 0 || !job->running)
        return;
    pthread_join(job->thread, NULL);
    job->running = false;
    checkpoint_outcome(processor, job->result, job->error);
    buffer_release(&job->image); /* large for many meters; rebuilt at the next checkpoint */
    if (processor->reseed_phase == PROCESSOR_RESEED_BEFORE && job->result == 0 &&
        !processor->stopped) {
        processor_baselines_apply(processor);
        processor->reseed_phase = PROCESSOR_RESEED_AFTER;
        if (checkpoint_start(processor) == 0 && processor->job.running)
            return;
    }
    /* Done, or the checkpoint before the change failed: reading resumes (a failed re-seed is
     * tried again later). A failed checkpoint after the change is retried with reading paused:
     * a restart applies a changed file before the replay only when no points were spooled after
     * the checkpoint it loads, so the change must not be followed by readings until a
     * checkpoint holds it. */
    bool resume =
        processor->reseed_phase == PROCESSOR_RESEED_BEFORE
            ? job->result != 0
            : processor->reseed_phase == PROCESSOR_RESEED_AFTER && !processor->checkpoint_forced;
    if (resume) {
        processor->reseed_phase = PROCESSOR_RESEED_NONE;
        processor->paused = false;
        event_active(processor->run_event, EV_TIMEOUT, 0);
    }
}

static void checkpoint_timer_event(evutil_socket_t fd, short what, void *argument)
{
    (void)fd;
    (void)what;
    struct stream_processor *processor = argument;
    if (processor->stopped)
        return;
    int64_t milliseconds = processor->checkpoint_interval_ms;
    if (!processor->job.running) {
        int64_t mtime_ns;
        uint64_t size;
        /* Not while a replay passes points already spooled: they were decided without it. */
        if (processor->reseed_phase == PROCESSOR_RESEED_NONE && !processor->failed &&
            processor->suppress_next == processor->suppress_count &&
            baselines_changed(processor, &mtime_ns, &size)) {
            processor->reseed_phase = PROCESSOR_RESEED_BEFORE;
            processor->paused = true;
            processor->checkpoint_forced = true;
        }
        if (checkpoint_start(processor) == 1 ||
            (processor->reseed_phase != PROCESSOR_RESEED_NONE && !processor->checkpoint_failing))
            milliseconds = CHECKPOINT_WAIT_MS;
    }
    struct timeval delay = {milliseconds / 1000, (milliseconds % 1000) * 1000};
    event_add(processor->checkpoint_timer, &delay);
}

int processor_checkpoint_setup(struct stream_processor *processor, struct event_base *base)
{
    struct processor_checkpoint_job *job = &processor->job;
    job->directory = processor->checkpoint_directory;
    job->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (job->eventfd < 0)
        return -1;
    job->done_event =
        event_new(base, job->eventfd, EV_READ | EV_PERSIST, checkpoint_done_event, processor);
    processor->checkpoint_timer = event_new(base, -1, 0, checkpoint_timer_event, processor);
    if (!job->done_event || !processor->checkpoint_timer || event_add(job->done_event, NULL) != 0)
        return -1;
    /* Baselines applied at start wait for their checkpoint with reading paused: at once. */
    int64_t milliseconds =
        processor->reseed_phase == PROCESSOR_RESEED_NONE ? processor->checkpoint_interval_ms : 0;
    struct timeval interval = {milliseconds / 1000, (milliseconds % 1000) * 1000};
    return event_add(processor->checkpoint_timer, &interval);
}

/* Waits for the checkpoint in flight, if any, and books it. */
static void checkpoint_wait(struct stream_processor *processor)
{
    struct processor_checkpoint_job *job = &processor->job;
    if (!job->running)
        return;
    pthread_join(job->thread, NULL);
    job->running = false;
    checkpoint_outcome(processor, job->result, job->error);
    buffer_release(&job->image);
}

void processor_checkpoint_final(struct stream_processor *processor)
{
    checkpoint_wait(processor);
    int status = checkpoint_build(processor);
    if (status == 0) {
        struct processor_checkpoint_job *job = &processor->job;
        char error[sizeof job->error];
        int result = stream_checkpoint_image_write(job->directory, job->image.data,
                                                   job->image.length, error, sizeof error);
        checkpoint_outcome(processor, result, error);
        buffer_release(&job->image);
        status = result;
    }
    if (status == 0 || status == 2)
        log_info(processor->logger, "stream checkpoint written at shutdown",
                 LOG_INTEGER("position", (int64_t)processor->checkpoint_position),
                 LOG_INTEGER("meters", (int64_t)processor->meters.count));
}

void processor_checkpoint_teardown(struct stream_processor *processor)
{
    struct processor_checkpoint_job *job = &processor->job;
    if (job->running) {
        pthread_join(job->thread, NULL);
        job->running = false;
    }
    buffer_release(&job->image);
    if (job->done_event)
        event_free(job->done_event);
    if (job->eventfd >= 0)
        close(job->eventfd);
    if (processor->checkpoint_timer)
        event_free(processor->checkpoint_timer);
    waiting_free(processor->waiting, processor->waiting_count);
    processor->waiting = NULL;
    processor->waiting_count = 0;
}
