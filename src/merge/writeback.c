/* SPDX-License-Identifier: MIT */
/*
 * writeback: start the disk early. Phase 1 writes every temporary into the page
 * cache and ends with one syncfs() that waits for all of it: alone, the disk idles
 * while phase 1 copies, and the CPU idles while the disk writes. A helper thread
 * calls syncfs() each time phase 1 has written another `step` bytes (never two at
 * once), so most of the data is on disk when the final syncfs runs.
 *
 * Nothing the crash argument of merge.c rests on changes: the thread is joined
 * before phase 1's own syncfs, nothing is renamed before that one succeeded, and an
 * earlier syncfs only makes data durable earlier. The thread syncs through its own
 * open file of the lower root, not a dup: syncfs reports a write-back error once
 * per open file (errseq), so the main thread's fd still sees every error since it
 * was opened. A failing syncfs of the thread fails the merge all the same.
 *
 * The thread touches nothing but this struct (its fd, the request, its result);
 * it is started at the first request (small merges never start it) and
 * merge_writeback_stop() joins it, after the request pending then, if any.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "merge/internal.h"
#include "shared/log.h"
#include "shared/util.h"

struct merge_writeback {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        int fd;                         /* the thread's own open file of the lower root */
        bool requested, busy, stopping; /* under lock */
        int error;                      /* under lock: the first failing syncfs, -errno */
        /* The main thread's alone. */
        bool started, disabled;
        uint64_t step, next_at;
        const char *label;
};

static void *run(void *arg)
{
        struct merge_writeback *wb = arg;

        pthread_mutex_lock(&wb->lock);
        for (;;) {
                int r;

                while (!wb->requested && !wb->stopping)
                        pthread_cond_wait(&wb->cond, &wb->lock);
                /* A request made before the stop is still served (phase 1's own syncfs
                 * then finds little left): so whenever a step was crossed, the first
                 * syncfs of the merge is this thread's, which the fault-injection test
                 * relies on, whatever the scheduler did. */
                if (!wb->requested)
                        break;
                wb->requested = false;
                wb->busy = true;
                pthread_mutex_unlock(&wb->lock);
                r = syncfs(wb->fd) < 0 ? -errno : 0;
                pthread_mutex_lock(&wb->lock);
                wb->busy = false;
                if (r < 0 && wb->error == 0)
                        wb->error = r;
        }
        pthread_mutex_unlock(&wb->lock);
        return NULL;
}

struct merge_writeback *merge_writeback_new(int lowerfd, uint64_t written, uint64_t step,
                                            const char *label)
{
        struct merge_writeback *wb = calloc(1, sizeof(*wb));

        if (!wb)
                return NULL;
        pthread_mutex_init(&wb->lock, NULL);
        pthread_cond_init(&wb->cond, NULL);
        wb->fd = openat(lowerfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        wb->step = step;
        wb->next_at = written + step;
        wb->label = label;
        if (wb->fd < 0) {
                log_warning_errno(errno, "%s: cannot open the dir for early write-back", label);
                wb->disabled = true;
        }
        return wb;
}

/* The thread, with every signal blocked (they are the main thread's business). */
static int start(struct merge_writeback *wb)
{
        sigset_t all, old;
        int r;

        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&wb->thread, NULL, run, wb);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return log_warning_errno(-r, "%s: no early write-back", wb->label);
        wb->started = true;
        return 0;
}

void merge_writeback_kick(struct merge_writeback *wb, uint64_t written)
{
        if (!wb || wb->disabled || written < wb->next_at)
                return;
        if (!wb->started && start(wb) < 0) {
                wb->disabled = true; /* only slower: phase 1's own syncfs does it all */
                return;
        }
        pthread_mutex_lock(&wb->lock);
        /* Busy: asked again after the next file. */
        if (!wb->busy && !wb->requested) {
                wb->requested = true;
                wb->next_at = written + wb->step;
                pthread_cond_signal(&wb->cond);
        }
        pthread_mutex_unlock(&wb->lock);
}

int merge_writeback_stop(struct merge_writeback *wb)
{
        int r = 0;

        if (!wb)
                return 0;
        if (wb->started) {
                pthread_mutex_lock(&wb->lock);
                wb->stopping = true;
                pthread_cond_signal(&wb->cond);
                pthread_mutex_unlock(&wb->lock);
                pthread_join(wb->thread, NULL);
                r = wb->error;
        }
        safe_close(wb->fd);
        pthread_cond_destroy(&wb->cond);
        pthread_mutex_destroy(&wb->lock);
        free(wb);
        return r;
}
