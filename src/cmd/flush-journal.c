/* SPDX-License-Identifier: MIT */
/*
 * cmd-flush-journal: what a shutdown flush does with the checkpoint journal.
 * A checkpoint of this boot that is still current when the flush merges would be
 * replayed by the next boot if the flush were cut short, over a lower that
 * already holds newer versions. So, before merging, the flush records the final
 * state as one more checkpoint (incremental: only what changed since the last
 * one); a crash at any point after that replays exactly what the flush was
 * writing. After a complete flush the journal is retired and the shutdown noted
 * for the next boot's line. If the final checkpoint cannot be written, the
 * journal is retired before the merge instead: a crash then leaves each file old
 * or new, as a flush without checkpoints does.
 */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "cmd/flush-journal.h"
#include "cmd/replay.h"
#include "shared/log.h"
#include "shared/util.h"

void flush_journal_begin(struct flush_journal *fj, const char *root, const char *store, int storefd,
                         const struct state *s)
{
        static struct config cfg;
        const char *path = s->journal;
        struct checkpoint_stats st;
        struct checkpoint_gen g;
        int r;

        *fj = (struct flush_journal){.j = {.fd = -EBADF}, .t = {.fd = -EBADF}};
        if (!path[0]) {
                config_init(&cfg);
                path = cfg.journal;
        }
        r = replay_target_open(root, path, store, &fj->t);
        if (r == -ENOENT)
                return; /* checkpoints never ran on this system */
        if (r < 0) {
                log_warning_errno(r,
                                  "the checkpoint journal %s is not reachable; if a checkpoint "
                                  "of this boot is in it, the next boot replays it",
                                  path);
                return;
        }
        if (journal_open(root, path, false, &fj->j) < 0) {
                merge_target_close(&fj->t, path);
                return;
        }
        fj->open = true;
        if (journal_peek(&fj->j, &g) == 0)
                return; /* nothing current: nothing could be replayed */
        r = checkpoint_write(&fj->j, storefd, s, false, &st);
        if (r == 0) {
                if (!st.unchanged)
                        printf("checkpoint before the flush: %" PRIu64 " entries, %" PRIu64
                               " bytes written\n",
                               st.entries, st.bytes);
                return;
        }
        log_warning("the final checkpoint failed: retiring the journal before the merge (a "
                    "crash during the flush leaves each file old or new)");
        (void)journal_retire(&fj->j);
}

void flush_journal_end(struct flush_journal *fj, bool complete, uint64_t entries)
{
        if (!fj->open)
                return;
        /* Incomplete: the final checkpoint stays current; the next boot replays it and
         * so retries what failed. */
        if (complete && journal_retire(&fj->j) == 0)
                (void)journal_note_shutdown(&fj->j, entries);
        journal_close(&fj->j);
        merge_target_close(&fj->t, fj->j.path);
        fj->open = false;
}
