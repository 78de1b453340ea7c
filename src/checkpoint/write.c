/* SPDX-License-Identifier: MIT */
/*
 * checkpoint-write: one checkpoint. The order, and why a crash anywhere is safe:
 *   1. a signature of every upper (a stat walk, no writes): equal to the current
 *      generation's means nothing changed, and nothing is written;
 *   2. leftovers of an interrupted checkpoint (generations newer than current) go;
 *   3. gen-<N+1> is written completely (tree.c), then its RECORD;
 *   4. one syncfs() makes all of it durable;
 *   5. a symlink "current.new" -> gen-<N+1> is renamed over "current" (the one
 *      atomic step), and the journal dir is fsync'ed;
 *   6. generations older than the previous current are dropped.
 * A crash before 5 leaves the old current (its files are never changed: an
 * appended copy only grows past the size its RECORD holds, and replay cuts it
 * back); a crash after 5 leaves the new one. Either way step 2 of the next run or
 * the replay's choice ignores what is not current.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "checkpoint/internal.h"
#include "config/store.h"
#include "shared/log.h"
#include "shared/util.h"

#define CURRENT_NEW "current.new"

static bool recorded(const struct state_dir *d)
{
        return d->mode == DIR_PERSIST && d->status == STATE_MOUNTED;
}

/* The base: the current generation if this boot wrote it (its upper inodes are the
 * ones the RECORD names). 0 and rec/fd set, or -ENOENT. */
static int open_base(struct journal *j, const char *boot, uint64_t cur, struct record *rec, int *fd)
{
        char name[64], when[64];
        int r;

        snprintf(name, sizeof(name), GEN_PREFIX "%" PRIu64, cur);
        *fd = openat(j->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*fd < 0)
                return -ENOENT;
        r = record_read(*fd, rec);
        /* An unknown boot id (no /proc in a shutdown initramfs) trusts the base: a
         * file is only linked when inode, ctime (ns), size and mtime all match. */
        if (r == 0 && !streq(rec->boot, boot) && !streq(boot, "-") && !streq(rec->boot, "-")) {
                log_warning("%s: the checkpoint of %s is from an earlier boot and was never "
                            "replayed; this one supersedes it",
                            j->path, checkpoint_format_time(rec->time, when, sizeof(when)));
                record_free(rec);
                r = -ESTALE;
        }
        if (r < 0)
                *fd = safe_close(*fd);
        return r < 0 ? -ENOENT : 0;
}

static int walk_all(struct tree_ctx *t, int storefd, const struct state *s, struct record *out)
{
        for (unsigned i = 0; i < s->n_dirs; i++) {
                const struct state_dir *d = &s->dirs[i];
                _cleanup_close_ int ufd = -EBADF;
                int r;

                if (!recorded(d))
                        continue;
                ufd = store_open_upper(storefd, d);
                if (ufd < 0)
                        return log_errno(ufd, "%s: cannot open its upper dir in the store",
                                         d->path);
                if (out->n_dirs >= CONFIG_MAX_DIRS)
                        return -E2BIG;
                snprintf(out->names[out->n_dirs], sizeof(out->names[0]), "%s", d->name);
                snprintf(out->paths[out->n_dirs], sizeof(out->paths[0]), "%s", d->path);
                out->n_dirs++;
                r = tree_walk(t, ufd, d->name, d->path);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Remove what is neither current nor the one before it. */
static void drop_stale(struct journal *j, uint64_t cur)
{
        _cleanup_free_ uint64_t *gens = NULL;
        uint64_t prev = 0;
        size_t n = 0;

        if (journal_list_gens(j->fd, &gens, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                if (gens[i] < cur && prev == 0)
                        prev = gens[i];
        for (size_t i = 0; i < n; i++) {
                int r;
                if (gens[i] == cur || gens[i] == prev)
                        continue;
                r = journal_drop_gen(j->fd, gens[i]);
                if (r < 0)
                        log_warning_errno(r, "cannot remove %s/" GEN_PREFIX "%" PRIu64, j->path,
                                          gens[i]);
        }
}

static int commit(struct journal *j, int genfd, uint64_t gen)
{
        char target[64];

        if (syncfs(genfd) < 0)
                return log_errno(errno, "%s: syncfs failed; the checkpoint is not used", j->path);
        snprintf(target, sizeof(target), GEN_PREFIX "%" PRIu64, gen);
        (void)unlinkat(j->fd, CURRENT_NEW, 0);
        if (symlinkat(target, j->fd, CURRENT_NEW) < 0 ||
            renameat(j->fd, CURRENT_NEW, j->fd, JOURNAL_CURRENT) < 0)
                return log_errno(errno, "%s: cannot make %s current", j->path, target);
        if (fsync(j->fd) < 0)
                return log_errno(errno, "%s: cannot sync the journal dir", j->path);
        return 0;
}

/* tmpfs holds user.* xattrs only since Linux 6.6: before, copy-up drops them and
 * the checkpoint has none, which must not read as "removed" at replay. Probed on an
 * unnamed file of the store, like the flush does. */
static bool store_holds_user_xattrs(int storefd)
{
        _cleanup_close_ int fd = openat(storefd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        return fd >= 0 && fsetxattr(fd, "user.ephemeral-probe", "1", 1, 0) == 0;
}

static int write_gen(struct journal *j, int storefd, const struct state *s, struct tree_ctx *t,
                     uint64_t gen, const char *boot)
{
        _cleanup_close_ int genfd = -EBADF;
        char name[64];
        int r;

        snprintf(name, sizeof(name), GEN_PREFIX "%" PRIu64, gen);
        if (mkdirat(j->fd, name, 0700) < 0)
                return log_errno(errno, "cannot create %s/%s", j->path, name);
        genfd = openat(j->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (genfd < 0)
                return log_errno(errno, "cannot open %s/%s", j->path, name);
        t->genfd = genfd;
        t->out->gen = gen;
        t->out->no_user_xattrs = !store_holds_user_xattrs(storefd);
        t->out->time = (int64_t)time(NULL);
        snprintf(t->out->boot, sizeof(t->out->boot), "%s", boot);
        r = walk_all(t, storefd, s, t->out);
        if (r == 0) {
                r = record_write(genfd, t->out);
                if (r < 0)
                        log_errno(r, "cannot write %s/%s/%s", j->path, name, JOURNAL_RECORD);
        }
        if (r == 0)
                r = commit(j, genfd, gen);
        if (r < 0 && journal_drop_gen(j->fd, gen) < 0)
                log_warning("%s/%s is left behind; the next checkpoint removes it", j->path, name);
        return r;
}

int checkpoint_write(struct journal *j, int storefd, const struct state *s, bool dry_run,
                     struct checkpoint_stats *st)
{
        struct record base = {0}, sig = {0}, out = {0};
        _cleanup_free_ uint64_t *gens = NULL;
        struct tree_ctx t = {.basefd = -EBADF, .genfd = -EBADF, .st = st};
        char boot[64] = "-";
        uint64_t cur = 0, next;
        size_t n = 0;
        bool have_base = false;
        int r;

        *st = (struct checkpoint_stats){0};
        (void)journal_boot_id(boot, sizeof(boot));
        r = journal_read_current(j->fd, &cur);
        if (r < 0 && r != -ENOENT)
                return log_errno(r, "%s/%s is unreadable", j->path, JOURNAL_CURRENT);
        if (r == 0)
                have_base = open_base(j, boot, cur, &base, &t.basefd) == 0;
        if (have_base)
                t.base = &base;

        /* 1: did anything change? */
        t.out = &sig;
        r = walk_all(&t, storefd, s, &sig);
        if (r < 0)
                goto out;
        if (have_base ? sig.sig == base.sig && sig.n_dirs == base.n_dirs
                      : sig.names_total == 0 && cur == 0) {
                st->unchanged = true;
                goto out;
        }
        if (dry_run) {
                st->entries = sig.entries;
                st->bytes = sig.bytes;
                goto out;
        }

        /* 2, 3-5 */
        r = journal_list_gens(j->fd, &gens, &n);
        if (r < 0) {
                log_errno(r, "cannot list %s", j->path);
                goto out;
        }
        next = (n ? gens[0] : 0) + 1;
        for (size_t i = 0; i < n; i++)
                if (gens[i] > cur && journal_drop_gen(j->fd, gens[i]) < 0)
                        log_warning("cannot remove the unfinished %s/" GEN_PREFIX "%" PRIu64,
                                    j->path, gens[i]);
        t.out = &out;
        r = write_gen(j, storefd, s, &t, next, boot);
        if (r < 0)
                goto out;
        st->gen = next;
        st->entries = out.entries;
        /* 6 */
        drop_stale(j, next);
out:
        tree_free(&t);
        safe_close(t.basefd);
        record_free(&base);
        record_free(&sig);
        record_free(&out);
        if (r == 0 && !dry_run)
                (void)journal_note_session(j);
        return r;
}
