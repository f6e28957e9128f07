/* The sync thread of `spool.sync: always`: the fdatasync of a commit runs here while the event
 * loop goes on reading, validating and appending the next requests, which then share the next
 * fdatasync. The loop hands over one job at a time (fd and the last sequence written before the
 * handover) and learns of its end through an eventfd. Writes keep happening on the loop: Linux
 * allows pwritev and fdatasync on one file at once, and an fdatasync covers every write that
 * returned before it started. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "relay/spool_internal.h"

struct spool_syncer {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake; /* a job or stop for the thread */
    pthread_cond_t idle; /* the job finished */
    int event_fd;
    const struct spool_io *io; /* borrowed from the spool */
    /* Under mutex: */
    bool busy;     /* a job was handed over and has not finished */
    bool finished; /* it finished and its result was not collected yet */
    bool stop;
    int fd;
    uint64_t sequence;
    int error; /* errno of a failed fdatasync, 0 */
};

static void *syncer_run(void *argument)
{
    struct spool_syncer *syncer = argument;
    pthread_mutex_lock(&syncer->mutex);
    for (;;) {
        while (!syncer->stop && (!syncer->busy || syncer->finished))
            pthread_cond_wait(&syncer->wake, &syncer->mutex);
        if (syncer->stop)
            break;
        int fd = syncer->fd;
        pthread_mutex_unlock(&syncer->mutex);
        int error = syncer->io->fdatasync(syncer->io->context, fd) == 0 ? 0 : errno;
        pthread_mutex_lock(&syncer->mutex);
        syncer->error = error;
        syncer->finished = true;
        syncer->busy = false;
        pthread_cond_broadcast(&syncer->idle);
        uint64_t one = 1;
        /* The counter cannot overflow: the loop reads it before the next job. */
        (void)!write(syncer->event_fd, &one, sizeof one);
    }
    pthread_mutex_unlock(&syncer->mutex);
    return NULL;
}

int spool_sync_thread_start(struct spool *spool)
{
    if (spool->syncer)
        return spool->syncer->event_fd;
    if (spool->sync_mode != CONFIG_SYNC_ALWAYS)
        return -ENOTSUP;
    struct spool_syncer *syncer = calloc(1, sizeof *syncer);
    if (!syncer)
        return -ENOMEM;
    syncer->io = &spool->io;
    syncer->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (syncer->event_fd < 0) {
        int error = errno;
        free(syncer);
        return -error;
    }
    pthread_mutex_init(&syncer->mutex, NULL);
    pthread_cond_init(&syncer->wake, NULL);
    pthread_cond_init(&syncer->idle, NULL);
    int error = pthread_create(&syncer->thread, NULL, syncer_run, syncer);
    if (error != 0) {
        pthread_cond_destroy(&syncer->idle);
        pthread_cond_destroy(&syncer->wake);
        pthread_mutex_destroy(&syncer->mutex);
        close(syncer->event_fd); /* never written */
        free(syncer);
        return -error;
    }
    spool->syncer = syncer;
    return syncer->event_fd;
}

void spool_sync_thread_stop(struct spool *spool)
{
    struct spool_syncer *syncer = spool->syncer;
    if (!syncer)
        return;
    pthread_mutex_lock(&syncer->mutex);
    syncer->stop = true;
    pthread_cond_signal(&syncer->wake);
    pthread_mutex_unlock(&syncer->mutex);
    pthread_join(syncer->thread, NULL);
    pthread_cond_destroy(&syncer->idle);
    pthread_cond_destroy(&syncer->wake);
    pthread_mutex_destroy(&syncer->mutex);
    close(syncer->event_fd); /* a counter, nothing to lose */
    free(syncer);
    spool->syncer = NULL;
    spool->sync_in_flight = false;
}

bool spool_sync_thread_hand_over(struct spool *spool, int fd, uint64_t sequence)
{
    struct spool_syncer *syncer = spool->syncer;
    if (!syncer)
        return false;
    pthread_mutex_lock(&syncer->mutex);
    syncer->fd = fd;
    syncer->sequence = sequence;
    syncer->busy = true;
    syncer->finished = false;
    pthread_cond_signal(&syncer->wake);
    pthread_mutex_unlock(&syncer->mutex);
    spool->sync_in_flight = true;
    return true;
}

int spool_sync_thread_collect(struct spool *spool, bool wait, uint64_t *sequence)
{
    struct spool_syncer *syncer = spool->syncer;
    if (!syncer)
        return -EAGAIN;
    /* Drained first, whatever comes next: a level-triggered event must not fire again for a
     * result already collected by a waiting caller. */
    uint64_t count;
    (void)!read(syncer->event_fd, &count, sizeof count); /* EAGAIN when not written yet */
    if (!spool->sync_in_flight)
        return -EAGAIN;
    pthread_mutex_lock(&syncer->mutex);
    while (wait && syncer->busy)
        pthread_cond_wait(&syncer->idle, &syncer->mutex);
    bool finished = syncer->finished;
    int error = syncer->error;
    *sequence = syncer->sequence;
    syncer->finished = false;
    pthread_mutex_unlock(&syncer->mutex);
    if (!finished)
        return -EAGAIN;
    spool->sync_in_flight = false;
    return error == 0 ? 0 : -error;
}
