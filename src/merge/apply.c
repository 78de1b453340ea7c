/* SPDX-License-Identifier: MIT */
/*
 * apply: phase 2. For every job (a lower dir updated in place, children
 * before parents): rename each temporary over its target (RENAME_EXCHANGE when a
 * directory is involved on either side, then the old one is removed), delete what
 * whiteouts hide, then give the dir the upper dir's owner, mode, xattrs and times.
 * On a failure the temporary is removed and the old lower entry stays.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/log.h"
#include "merge/internal.h"
#include "shared/util.h"

/* The lower and upper dirs of the path being applied, one pair of fds per level
 * (level 0: the roots, not owned). Jobs come in post-order, so moving from one to
 * the next closes the levels that differ and opens only the new ones: each dir is
 * opened once, and the flush stays linear in depth instead of re-opening every
 * level from the root per job (quadratic). At most MERGE_MAX_DEPTH + 1 levels. */
struct level {
        int lfd, ufd;
        size_t end; /* where this level's component ends in path */
};
struct dir_cursor {
        struct level lv[MERGE_MAX_DEPTH + 2];
        size_t n; /* levels open below the roots */
        char *path;
};

static void cursor_init(struct dir_cursor *cur, const struct merge_ctx *c)
{
        cur->lv[0] = (struct level){.lfd = c->lowerfd, .ufd = c->upperfd, .end = 0};
        cur->n = 0;
        cur->path = NULL;
}

static void cursor_pop_to(struct dir_cursor *cur, size_t n)
{
        for (; cur->n > n; cur->n--) {
                safe_close(cur->lv[cur->n].lfd);
                safe_close(cur->lv[cur->n].ufd);
        }
        if (cur->path)
                cur->path[cur->lv[n].end] = '\0';
}

static void cursor_done(struct dir_cursor *cur)
{
        cursor_pop_to(cur, 0);
        free(cur->path);
        cur->path = NULL;
}

/* Make relpath the cursor's deepest level. On an error the cursor stays valid
 * (at a prefix of relpath). */
static int cursor_move(struct dir_cursor *cur, const char *relpath)
{
        size_t common = 0, keep = 0, len = strlen(relpath);
        const char *p;
        char *np;

        if (cur->path)
                while (cur->path[common] && cur->path[common] == relpath[common])
                        common++;
        /* The deepest level whose whole path is shared. */
        for (size_t i = 1; i <= cur->n; i++) {
                size_t e = cur->lv[i].end;
                if (e > common || (relpath[e] != '/' && relpath[e] != '\0'))
                        break;
                keep = i;
        }
        cursor_pop_to(cur, keep);
        np = realloc(cur->path, len + 1);
        if (!np)
                return -ENOMEM;
        cur->path = np;
        p = relpath + cur->lv[keep].end;
        for (;;) {
                struct level *up = &cur->lv[cur->n], *l = up + 1;
                char comp[NAME_MAX + 1];
                const char *s;
                size_t n;

                s = path_next_component(&p, &n);
                if (!s)
                        break;
                if (cur->n > MERGE_MAX_DEPTH)
                        return -ELOOP;
                if (n > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(comp, s, n);
                comp[n] = '\0';
                l->lfd = openat_dir_nofollow(up->lfd, comp, O_RDONLY);
                if (l->lfd < 0)
                        return l->lfd;
                l->ufd = openat_dir_nofollow(up->ufd, comp, O_RDONLY);
                if (l->ufd < 0) {
                        int r = l->ufd;
                        safe_close(l->lfd);
                        return r;
                }
                l->end = (size_t)(p - relpath);
                memcpy(cur->path + up->end, relpath + up->end, l->end - up->end);
                cur->path[l->end] = '\0';
                cur->n++;
        }
        memcpy(cur->path, relpath, len + 1);
        return 0;
}

static void drop_tmp(struct merge_ctx *c, int ldir, const char *tmp)
{
        uint64_t n = 0;
        if (merge_rm_rf(ldir, tmp, c->lower_dev, &n) < 0)
                c->leftovers = true;
}

/* Is dirfd/name a lower entry that something still uses through a lazily detached
 * overlay (merge_opts.pins)? Unlinking it would leave an orphan that keeps the root
 * from going read-only. */
static bool is_pinned(const struct merge_ctx *c, int dirfd, const char *name)
{
        const struct merge_pins *p = c->o->pins;
        struct stat st;

        if (!p || !p->n || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        for (size_t i = 0; i < p->n; i++)
                if (p->v[i].dev == st.st_dev && p->v[i].ino == st.st_ino)
                        return true;
        return false;
}

/* The old version of path, in use, stays under the temporary name tmp (with the
 * marker) until a later run removes it. */
static void keep_pinned(struct merge_ctx *c, const char *path, const char *tmp)
{
        c->leftovers = true;
        log_warning("'%s': its old version is still in use through the detached overlay: "
                    "kept as %s until the next run removes it",
                    path, tmp);
}

static int do_rename(struct merge_ctx *c, const struct job *j, int ldir, const struct op *op)
{
        const char *path = merge_path(c, j->relpath, op->name);
        char aside[MERGE_TMP_LEN + 1];
        const char *old = op->tmp;
        int r;

        if (!op->exchange && is_pinned(c, ldir, op->name)) {
                if (renameat2(ldir, op->tmp, ldir, op->name, RENAME_EXCHANGE) == 0) {
                        c->st->written += op->entries;
                        keep_pinned(c, path, op->tmp);
                        return 0;
                }
                log_warning_errno(errno, "'%s' is in use, but cannot be exchanged: replacing it",
                                  path);
        }
        if (!op->exchange) {
                if (renameat(ldir, op->tmp, ldir, op->name) < 0) {
                        r = log_errno(errno, "cannot replace '%s'", path);
                        drop_tmp(c, ldir, op->tmp);
                        return r;
                }
                c->st->written += op->entries;
                return 0;
        }
        /* A dir replaces a non-dir or the other way round, or an opaque dir replaces
         * a dir: swap atomically, then the old one (now under the temporary name)
         * goes. */
        if (renameat2(ldir, op->tmp, ldir, op->name, RENAME_EXCHANGE) < 0) {
                if (errno != EINVAL && errno != ENOSYS) {
                        r = log_errno(errno, "cannot replace '%s'", path);
                        drop_tmp(c, ldir, op->tmp);
                        return r;
                }
                /* The filesystem cannot exchange (NFS, exfat...): move the old one
                 * aside, put the new one in, then remove the old one. Not atomic,
                 * but a failure leaves the old version whole (removing it first
                 * could fail half-way and leave neither). */
                merge_tmp_name(c, aside);
                if (renameat(ldir, op->name, ldir, aside) < 0) {
                        r = log_errno(errno, "cannot replace '%s'", path);
                        drop_tmp(c, ldir, op->tmp);
                        return r;
                }
                if (renameat(ldir, op->tmp, ldir, op->name) < 0) {
                        r = log_errno(errno, "cannot replace '%s'", path);
                        if (renameat(ldir, aside, ldir, op->name) < 0)
                                log_errno(errno, "cannot move the old version of '%s' back from %s",
                                          path, aside);
                        drop_tmp(c, ldir, op->tmp);
                        return r;
                }
                old = aside;
        }
        c->st->written += op->entries;
        if (is_pinned(c, ldir, old)) {
                keep_pinned(c, path, old);
                return 0;
        }
        r = merge_rm_rf(ldir, old, c->lower_dev, &c->st->deleted);
        if (r < 0) {
                c->leftovers = true;
                return log_errno(r, "cannot remove the old version of '%s'", path);
        }
        return 0;
}

static int do_delete(struct merge_ctx *c, const struct job *j, int ldir, const struct op *op)
{
        const char *path = merge_path(c, j->relpath, op->name);
        char tmp[MERGE_TMP_LEN + 1];
        struct stat st;
        int r;

        if (fstatat(ldir, op->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_errno(errno, "cannot stat '%s'", path);
        }
        if (is_pinned(c, ldir, op->name)) {
                /* Out of the way under a temporary name, but not unlinked. */
                merge_tmp_name(c, tmp);
                if (renameat(ldir, op->name, ldir, tmp) < 0)
                        return log_errno(errno, "cannot delete '%s'", path);
                keep_pinned(c, path, tmp);
                return 0;
        }
        if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(ldir, op->name, 0) < 0)
                        return log_errno(errno, "cannot delete '%s'", path);
                c->st->deleted++;
                return 0;
        }
        /* A mount point inside (or an error that keeps us from telling) stops
         * the deletion before anything is removed: the old version stays whole. */
        r = merge_check_removable(ldir, op->name, c->lower_dev);
        if (r == -EXDEV)
                return log_errno(r, "'%s' is or holds a mount point, not deleting it", path);
        if (r < 0)
                return log_errno(r, "cannot delete '%s'", path);
        /* The dir disappears at once. What cannot be removed stays under the
         * temporary name (never back under its name half emptied: that is neither
         * version); the marker stays and the next run removes it. */
        merge_tmp_name(c, tmp);
        if (renameat(ldir, op->name, ldir, tmp) < 0)
                return log_errno(errno, "cannot delete '%s'", path);
        r = merge_rm_rf(ldir, tmp, c->lower_dev, &c->st->deleted);
        if (r < 0) {
                c->leftovers = true;
                return log_errno(r, "cannot delete everything in '%s' (the rest stays as %s)", path,
                                 tmp);
        }
        return 0;
}

static void apply_job(struct merge_ctx *c, struct dir_cursor *cur, const struct job *j)
{
        struct stat st;
        int ldir, udir, r;

        r = cursor_move(cur, j->relpath);
        if (r < 0) {
                merge_fail(c, log_errno(r, "cannot open '%s'", merge_path(c, j->relpath, NULL)));
                c->leftovers = true;
                return;
        }
        ldir = cur->lv[cur->n].lfd;
        udir = cur->lv[cur->n].ufd;
        for (size_t i = 0; i < j->n_ops; i++) {
                const struct op *op = &j->ops[i];
                if (op->kind == OP_RENAME && (r = do_rename(c, j, ldir, op)) < 0)
                        merge_fail(c, r);
        }
        for (size_t i = 0; i < j->n_ops; i++) {
                const struct op *op = &j->ops[i];
                if (op->kind == OP_DELETE && (r = do_delete(c, j, ldir, op)) < 0)
                        merge_fail(c, r);
        }
        if (fstat(udir, &st) < 0) {
                merge_fail(
                    c, log_errno(errno, "cannot stat upper '%s'", merge_path(c, j->relpath, NULL)));
                return;
        }
        r = merge_copy_meta(&(struct entry_ref){.fd = udir}, &(struct entry_ref){.fd = ldir}, &st,
                            true);
        if (r < 0)
                merge_fail(c, log_errno(r, "cannot set the attributes of '%s'",
                                        merge_path(c, j->relpath, NULL)));
}

void merge_apply(struct merge_ctx *c)
{
        static struct dir_cursor cur;

        cursor_init(&cur, c);
        for (size_t i = 0; i < c->n_jobs; i++)
                apply_job(c, &cur, c->jobs[i]);
        cursor_done(&cur);
}

void merge_discard(struct merge_ctx *c)
{
        static struct dir_cursor cur;

        cursor_init(&cur, c);
        for (size_t i = 0; i < c->n_jobs; i++) {
                const struct job *j = c->jobs[i];
                if (cursor_move(&cur, j->relpath) < 0) {
                        c->leftovers = true;
                        continue;
                }
                for (size_t k = 0; k < j->n_ops; k++)
                        if (j->ops[k].kind == OP_RENAME)
                                drop_tmp(c, cur.lv[cur.n].lfd, j->ops[k].tmp);
        }
        cursor_done(&cur);
}
