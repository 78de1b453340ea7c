/* SPDX-License-Identifier: MIT */
/*
 * walk: phase 1. Walks the upper tree next to the lower one and, for every
 * entry, decides what the lower needs:
 *   whiteout (char 0:0)          -> delete the lower entry (phase 2)
 *   dir over a lower dir          -> merge inside it, in place (a job of its own)
 *   opaque dir, or dir over a non-dir or over nothing
 *                                 -> build the whole new tree under a temporary name
 *   anything else                 -> write a temporary copy
 * Temporaries live in the directory of their target, so the phase-2 rename is
 * atomic. Nothing visible changes in this phase. In dry-run mode the same walk
 * prints A/M/D/O lines instead of writing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "shared/log.h"
#include "merge/internal.h"
#include "shared/util.h"

#define XATTR_OPAQUE "trusted.overlay.opaque"

static bool is_whiteout(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* 1 when the upper dir hides the lower one, 0 when not (OPAQUE_XWHITEOUTS: the
 * prescan refused it), -errno when the xattr cannot be read: then nobody can tell, and merging in
 * place could bring back what the user deleted. */
#define OPAQUE_XWHITEOUTS 2 /* opaque=x: holds xattr whiteouts (refused) */
static int is_opaque(int udirfd)
{
        char v[8];
        struct entry_ref e = {.fd = udirfd, .dirfd = -EBADF, .name = NULL};
        int r = merge_get_xattr(&e, XATTR_OPAQUE, v, sizeof(v));

        if (r == -ENODATA)
                return 0;
        if (r < 0)
                return r;
        return streq(v, "y") ? 1 : streq(v, "x") ? OPAQUE_XWHITEOUTS : 0;
}

/* A user's entry named like a temporary (or the marker) cannot be merged: the
 * cleanup of an interrupted flush would delete it. An error, so that the upper is
 * kept and the flush exits non-zero, never a silent loss. */
static int refuse_reserved(struct merge_ctx *c, const char *rel)
{
        log_error("cannot merge '%s': the name is reserved for ephemeral's temporaries; "
                  "rename it",
                  merge_path(c, rel, NULL));
        return -EEXIST;
}

/* A readable DIR stream over a duplicate of dirfd. */
static DIR *open_stream(int dirfd)
{
        return fdopendir_or_close(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

static int open_subdir(int dirfd, const char *name)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static struct job *job_new(const char *relpath)
{
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
                return NULL;
        j->relpath = strdup(relpath);
        if (!j->relpath) {
                free(j);
                return NULL;
        }
        return j;
}

static void job_free(struct job *j)
{
        if (!j)
                return;
        for (size_t i = 0; i < j->n_ops; i++)
                free(j->ops[i].name);
        free(j->ops);
        free(j->relpath);
        free(j);
}

static int job_add(struct job *j, enum op_kind kind, const char *name, const char *tmp,
                   bool exchange, uint64_t entries)
{
        struct op *op;

        if (j->n_ops == j->cap_ops) {
                size_t ncap = j->cap_ops ? j->cap_ops * 2 : 8;
                struct op *n = realloc(j->ops, ncap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                j->ops = n;
                j->cap_ops = ncap;
        }
        op = &j->ops[j->n_ops];
        *op = (struct op){.kind = kind, .exchange = exchange, .entries = entries};
        op->name = strdup(name);
        if (!op->name)
                return -ENOMEM;
        if (tmp)
                snprintf(op->tmp, sizeof(op->tmp), "%s", tmp);
        j->n_ops++;
        return 0;
}

static int jobs_push(struct merge_ctx *c, struct job *j)
{
        if (c->n_jobs == c->cap_jobs) {
                size_t ncap = c->cap_jobs ? c->cap_jobs * 2 : 16;
                struct job **n = realloc(c->jobs, ncap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                c->jobs = n;
                c->cap_jobs = ncap;
        }
        c->jobs[c->n_jobs++] = j;
        return 0;
}

void merge_jobs_free(struct merge_ctx *c)
{
        for (size_t i = 0; i < c->n_jobs; i++)
                job_free(c->jobs[i]);
        free(c->jobs);
        c->jobs = NULL;
        c->n_jobs = c->cap_jobs = 0;
}

/* Hardlink a later name of an upper inode to its first lower copy. */
static int link_to_first(struct merge_ctx *c, const char *first, int ldir, const char *dst)
{
        _cleanup_free_ char *parent = strdup(first);
        _cleanup_close_ int pfd = -EBADF;
        char *slash;
        const char *base = first;

        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (slash) {
                *slash = '\0';
                base = first + (slash - parent) + 1;
        } else {
                parent[0] = '\0';
        }
        pfd = merge_open_rel(c->lowerfd, parent, O_PATH);
        if (pfd < 0)
                return pfd;
        return linkat(pfd, base, ldir, dst, 0) < 0 ? -errno : 0;
}

/* The regular file ldir/name that out replaces keeps its user.* xattrs when the
 * store could not hold them (see merge_probe_user_xattrs). */
static int keep_old_user_xattrs(int ldir, const char *name, int out)
{
        _cleanup_close_ int old = -EBADF;
        struct stat st;

        if (!merge_keeps_user_xattrs())
                return 0;
        old = openat(ldir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (old < 0)
                return errno == ENOENT || errno == ELOOP ? 0 : -errno;
        if (fstat(old, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return 0;
        return merge_keep_user_xattrs(&(struct entry_ref){.fd = old},
                                      &(struct entry_ref){.fd = out});
}

/* Open the upper regular file udir/name for reading and fstat it into st. Returns
 * the fd, or -errno; -EBADF (closed again) when it is not a regular file. */
static int open_upper_file(int udir, const char *name, struct stat *st)
{
        _cleanup_close_ int fd = -EBADF;
        /* O_NONBLOCK: what turned into a FIFO since it was listed must not block. */
        int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

        fd = openat(udir, name, flags | O_NOATIME);
        if (fd < 0 && errno == EPERM)
                fd = openat(udir, name, flags);
        if (fd < 0)
                return -errno;
        if (fstat(fd, st) < 0)
                return -errno;
        if (!S_ISREG(st->st_mode))
                return -EBADF;
        return take_fd(&fd);
}

/* Write the upper regular file udir/name (stat st; upper: it open already, or
 * -EBADF) as ldir/dst. */
static int write_file(struct merge_ctx *c, int udir, const char *name, const struct stat *st,
                      int upper, int ldir, const char *dst)
{
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        struct merge_created cr;
        struct stat now = *st;
        mode_t mode;
        int src, r;

        if (upper < 0) {
                in = open_upper_file(udir, name, &now);
                if (in < 0)
                        return in == -EBADF ? -ESTALE : in;
                if (now.st_ino != st->st_ino || now.st_dev != st->st_dev)
                        return -ESTALE; /* replaced under us: nobody should be writing now */
        }
        if (upper >= 0)
                src = upper;
        else
                src = in;
        /* A file that will be ours (root's, mostly) gets its permissions at once,
         * since nobody but its final owner and group ever sees them; any other
         * stays private to us until its owner is set. */
        cr.owner = c->creator_known && now.st_uid == c->euid && now.st_gid == c->egid;
        mode = cr.owner ? now.st_mode & 0777 : 0600;
        cr.mode = mode & ~c->umask;
        out = openat(ldir, dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (out < 0)
                return -errno;
        r = merge_copy_data(src, out, &now, &c->copy_method, &c->st->bytes);
        merge_writeback_kick(c->wb, c->st->bytes);
        if (r >= 0)
                r = merge_copy_meta_created(&(struct entry_ref){.fd = src},
                                            &(struct entry_ref){.fd = out}, &now,
                                            c->creator_known ? &cr : NULL);
        if (r >= 0)
                r = keep_old_user_xattrs(ldir, name, out);
        if (r < 0)
                unlinkat(ldir, dst, 0);
        return r;
}

static int write_special(int udir, const char *name, const struct stat *st, int ldir,
                         const char *dst)
{
        struct entry_ref src = {.fd = -EBADF, .dirfd = udir, .name = name};
        struct entry_ref out = {.fd = -EBADF, .dirfd = ldir, .name = dst};
        int r;

        if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(udir, name, target, sizeof(target));
                if (n < 0)
                        return -errno;
                if ((size_t)n >= sizeof(target))
                        return -ENAMETOOLONG;
                target[n] = '\0';
                if (symlinkat(target, ldir, dst) < 0)
                        return -errno;
        } else if (mknodat(ldir, dst, (st->st_mode & S_IFMT) | 0600, st->st_rdev) < 0) {
                return -errno;
        }
        r = merge_copy_meta(&src, &out, st, true);
        if (r < 0)
                unlinkat(ldir, dst, 0);
        return r;
}

/* Create the lower copy of the upper non-directory udir/name as ldir/dst, where
 * lrel is ldir's path below the lower root (upper: see write_file). */
static int write_nondir(struct merge_ctx *c, int udir, const char *name, const struct stat *st,
                        int upper, int ldir, const char *lrel, const char *dst)
{
        _cleanup_free_ char *where = NULL;
        int r;

        if (st->st_nlink > 1) {
                const char *first = merge_link_lookup(c, st->st_dev, st->st_ino);
                if (first)
                        return link_to_first(c, first, ldir, dst);
        }
        if (S_ISREG(st->st_mode))
                r = write_file(c, udir, name, st, upper, ldir, dst);
        else
                r = write_special(udir, name, st, ldir, dst);
        if (r < 0 || st->st_nlink <= 1)
                return r;
        where = merge_join(lrel, dst);
        if (!where)
                return -ENOMEM;
        return merge_link_add(c, st->st_dev, st->st_ino, where);
}

static int build_tree(struct merge_ctx *c, int udir, int ldir, const char *lrel, const char *drel,
                      uint64_t *entries);

/* Build the new directory for upper dir usub as ldir/dst (dst is created), with
 * all its contents and metadata. */
static int build_dir(struct merge_ctx *c, int usub, const struct stat *st, int ldir,
                     const char *lrel, const char *dst, const char *drel, uint64_t *entries)
{
        _cleanup_close_ int lsub = -EBADF;
        _cleanup_free_ char *sublrel = merge_join(lrel, dst);
        int r;

        if (!sublrel)
                return -ENOMEM;
        if (mkdirat(ldir, dst, 0700) < 0)
                return log_errno(errno, "cannot create '%s'", merge_path(c, drel, NULL));
        lsub = open_subdir(ldir, dst);
        if (lsub < 0)
                return log_errno(lsub, "cannot open '%s'", merge_path(c, drel, NULL));
        r = build_tree(c, usub, lsub, sublrel, drel, entries);
        if (r < 0)
                return r;
        r = merge_copy_meta(&(struct entry_ref){.fd = usub}, &(struct entry_ref){.fd = lsub}, st,
                            true);
        if (r < 0)
                return log_errno(r, "cannot set the attributes of '%s'", merge_path(c, drel, NULL));
        (*entries)++;
        return 0;
}

/* Fill the new lower dir ldir (at lrel; drel is its final path, for messages)
 * from upper dir udir. Returns the first error (all logged). */
static int build_tree(struct merge_ctx *c, int udir, int ldir, const char *lrel, const char *drel,
                      uint64_t *entries)
{
        _cleanup_closedir_ DIR *d = open_stream(udir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return log_errno(errno, "cannot read '%s'", merge_path(c, drel, NULL));
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;
                struct stat st;
                int k;

                if (dot_or_dotdot(de->d_name))
                        continue;
                sub = merge_join(drel, de->d_name);
                if (!sub)
                        return log_errno(ENOMEM, "out of memory");
                if (merge_is_tmp_name(de->d_name)) {
                        k = refuse_reserved(c, sub);
                } else if (fstatat(udir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        k = log_errno(errno, "cannot stat '%s'", merge_path(c, sub, NULL));
                } else if (is_whiteout(&st)) {
                        continue; /* nothing below a new dir to hide */
                } else if (S_ISSOCK(st.st_mode)) {
                        log_notice("skipping socket '%s'", merge_path(c, sub, NULL));
                        continue;
                } else if (c->o->dry_run) {
                        merge_print_change(c->o->out, 'A', c->o->label, sub);
                        if (!S_ISDIR(st.st_mode))
                                continue;
                        _cleanup_close_ int usub = open_subdir(udir, de->d_name);
                        k = usub < 0 ? log_errno(usub, "cannot open '%s'", merge_path(c, sub, NULL))
                                     : build_tree(c, usub, -EBADF, lrel, sub, entries);
                } else if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int usub = open_subdir(udir, de->d_name);
                        k = usub < 0
                                ? log_errno(usub, "cannot open '%s'", merge_path(c, sub, NULL))
                                : build_dir(c, usub, &st, ldir, lrel, de->d_name, sub, entries);
                } else {
                        k = write_nondir(c, udir, de->d_name, &st, -EBADF, ldir, lrel, de->d_name);
                        if (k < 0)
                                log_errno(k, "cannot write '%s'", merge_path(c, sub, NULL));
                        else
                                (*entries)++;
                }
                if (k < 0 && r == 0)
                        r = k;
        }
        if (errno != 0 && r == 0)
                r = log_errno(errno, "cannot read '%s'", merge_path(c, drel, NULL));
        return r;
}

/* A dir or non-dir of the upper (stat ust; upper: see write_file) that replaces
 * the lower entry `name` (stat lst) or adds it (lst NULL). */
static int stage_entry(struct merge_ctx *c, struct job *j, int udir, int ldir, const char *name,
                       const struct stat *ust, int upper, const struct stat *lst, const char *sub)
{
        char tmp[MERGE_TMP_LEN + 1];
        uint64_t entries = 0;
        bool have_lower = lst != NULL, lower_dir = lst && S_ISDIR(lst->st_mode);
        int r;

        if (c->o->dry_run) {
                char kind = !have_lower ? 'A' : S_ISDIR(ust->st_mode) ? 'O' : 'M';
                merge_print_change(c->o->out, kind, c->o->label, sub);
                if (!S_ISDIR(ust->st_mode))
                        return 0;
                _cleanup_close_ int usub = open_subdir(udir, name);
                if (usub < 0)
                        return log_errno(usub, "cannot open '%s'", merge_path(c, sub, NULL));
                return build_tree(c, usub, -EBADF, "", sub, &entries);
        }

        merge_tmp_name(c, tmp);
        if (S_ISDIR(ust->st_mode)) {
                _cleanup_close_ int usub = open_subdir(udir, name);
                if (usub < 0)
                        return log_errno(usub, "cannot open '%s'", merge_path(c, sub, NULL));
                r = build_dir(c, usub, ust, ldir, j->relpath, tmp, sub, &entries);
                if (r < 0) {
                        /* keep the old version: drop the partial new tree */
                        uint64_t n = 0;
                        if (merge_rm_rf(ldir, tmp, c->lower_dev, &n) < 0)
                                c->leftovers = true;
                        return r;
                }
        } else {
                r = write_nondir(c, udir, name, ust, upper, ldir, j->relpath, tmp);
                if (r < 0)
                        return log_errno(r, "cannot write '%s'", merge_path(c, sub, NULL));
                entries = 1;
        }
        r = job_add(j, OP_RENAME, name, tmp, have_lower && (lower_dir || S_ISDIR(ust->st_mode)),
                    entries);
        if (r < 0)
                return log_errno(r, "out of memory");
        return 0;
}

/* Dry run: does the in-place dir need its owner or mode changed? */
static void print_dir_change(struct merge_ctx *c, const struct stat *ust, const struct stat *lst,
                             const char *sub)
{
        if (ust->st_mode != lst->st_mode || ust->st_uid != lst->st_uid ||
            ust->st_gid != lst->st_gid)
                merge_print_change(c->o->out, 'M', c->o->label, sub);
}

static int walk_merge(struct merge_ctx *c, int udir, int ldir, const char *rel);

/* One entry of an upper dir being merged in place. */
static int walk_entry(struct merge_ctx *c, struct job *j, int udir, int ldir, const char *name,
                      unsigned char type)
{
        _cleanup_free_ char *sub = merge_join(j->relpath, name);
        _cleanup_close_ int upper = -EBADF;
        struct stat ust, lst;
        bool have_lower = true;
        int mnt;

        if (!sub)
                return log_errno(ENOMEM, "out of memory");
        if (merge_is_tmp_name(name) || (j->relpath[0] == '\0' && streq(name, MERGE_MARKER)))
                return refuse_reserved(c, sub);
        /* A regular file (by readdir's type) is opened at once: its fstat is the
         * stat, and the copy reads it through the same fd. */
        if (type == DT_REG && !c->o->dry_run)
                upper = open_upper_file(udir, name, &ust);
        if (upper < 0 && fstatat(udir, name, &ust, AT_SYMLINK_NOFOLLOW) < 0)
                return log_errno(errno, "cannot stat upper '%s'", merge_path(c, sub, NULL));
        mnt = merge_stat_mount(ldir, name, &lst);
        if (mnt == -ENOENT)
                have_lower = false;
        else if (mnt < 0)
                return log_errno(mnt, "cannot stat '%s'", merge_path(c, sub, NULL));
        if (have_lower) {
                if (lst.st_dev != c->lower_dev)
                        mnt = 1;
                if (mnt > 0)
                        return log_errno(EXDEV, "'%s' is a mount point, not merging across it",
                                         merge_path(c, sub, NULL));
        }
        if (is_whiteout(&ust)) {
                if (!have_lower)
                        return 0;
                if (c->o->dry_run) {
                        merge_print_change(c->o->out, 'D', c->o->label, sub);
                        return 0;
                }
                return job_add(j, OP_DELETE, name, NULL, false, 0) < 0
                           ? log_errno(ENOMEM, "out of memory")
                           : 0;
        }
        if (S_ISSOCK(ust.st_mode)) {
                log_notice("skipping socket '%s'", merge_path(c, sub, NULL));
                return 0;
        }
        if (S_ISDIR(ust.st_mode) && have_lower && S_ISDIR(lst.st_mode)) {
                _cleanup_close_ int usub = open_subdir(udir, name), lsub = -EBADF;
                if (usub < 0)
                        return log_errno(usub, "cannot open upper '%s'", merge_path(c, sub, NULL));
                int opaque = is_opaque(usub);
                if (opaque < 0)
                        return log_errno(opaque, "cannot tell whether upper '%s' is opaque",
                                         merge_path(c, sub, NULL));
                if (opaque != 1) {
                        if (c->o->dry_run)
                                print_dir_change(c, &ust, &lst, sub);
                        lsub = open_subdir(ldir, name);
                        if (lsub < 0)
                                return log_errno(lsub, "cannot open '%s'",
                                                 merge_path(c, sub, NULL));
                        return walk_merge(c, usub, lsub, sub);
                }
        }
        return stage_entry(c, j, udir, ldir, name, &ust, upper, have_lower ? &lst : NULL, sub);
}

/* Merge upper dir udir into the existing lower dir ldir (both at rel). Pushes the
 * dir's job after those of its subdirs. Errors are logged and recorded. */
/* Do new entries in ldir get the owner and permissions merge_ctx.creator_known
 * promises? false when it cannot tell. */
static bool creator_known(const struct merge_ctx *c, int ldir)
{
        struct stat st;

        if (!c->local_fs || c->o->dry_run || fstat(ldir, &st) < 0 || st.st_gid != c->egid)
                return false;
        if (fgetxattr(ldir, "system.posix_acl_default", NULL, 0) >= 0)
                return false;
        return errno == ENODATA || errno == ENOTSUP;
}

static int walk_merge_dir(struct merge_ctx *c, int udir, int ldir, const char *rel);

/* walk_merge_dir with creator_known for ldir (new dirs built inside it share it:
 * they get its group and no default ACL). */
static int walk_merge(struct merge_ctx *c, int udir, int ldir, const char *rel)
{
        bool outer = c->creator_known;
        int r;

        c->creator_known = creator_known(c, ldir);
        r = walk_merge_dir(c, udir, ldir, rel);
        c->creator_known = outer;
        return r;
}

static int walk_merge_dir(struct merge_ctx *c, int udir, int ldir, const char *rel)
{
        _cleanup_closedir_ DIR *d = open_stream(udir);
        struct job *j = job_new(rel);
        struct dirent *de;
        int r;

        if (!j)
                return log_errno(ENOMEM, "out of memory");
        if (!d) {
                r = log_errno(errno, "cannot read upper '%s'", merge_path(c, rel, NULL));
                job_free(j);
                merge_fail(c, r);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (dot_or_dotdot(de->d_name))
                        continue;
                r = walk_entry(c, j, udir, ldir, de->d_name, de->d_type);
                if (r < 0)
                        merge_fail(c, r);
        }
        if (errno != 0)
                merge_fail(c, log_errno(errno, "cannot read upper '%s'", merge_path(c, rel, NULL)));
        r = jobs_push(c, j);
        if (r < 0) {
                job_free(j);
                merge_fail(c, log_errno(r, "out of memory"));
        }
        return 0;
}

int merge_walk(struct merge_ctx *c)
{
        return walk_merge(c, c->upperfd, c->lowerfd, "");
}

static int refuse(struct merge_ctx *c, const char *rel, const char *which)
{
        log_error("%s: refusing to merge: upper '%s' carries %s, which only the overlay can "
                  "interpret (ephemeral mounts with redirect_dir, metacopy and index off, and "
                  "never makes one); nothing changed",
                  c->o->label, merge_path(c, rel, NULL), which);
        return -EPROTO;
}

/* Prescan: overlayfs features that make the upper meaningless on its own, and a
 * tree deeper than the flush bounds its fds and memory for, found before anything
 * changes (a refusal found in phase 1 would leave the lower dirs' times changed by
 * the temporaries). udir is at depth. The scan runs in each dir as the cwd: an
 * entry's xattrs are then listed by name in one call (there is no fd-relative
 * call that does not follow a symlink), and the type from readdir spares a stat of
 * all but the dirs; paths are built for messages and subdirs only. */
static int scan_features(struct merge_ctx *c, int udir, const char *rel, unsigned depth)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        const char *which;
        int r;

        if (depth > MERGE_MAX_DEPTH) {
                log_error("%s: refusing to merge: nested deeper than %u levels (the limit of "
                          "the flush); nothing changed: '%s'",
                          c->o->label, MERGE_MAX_DEPTH, merge_path(c, rel, NULL));
                return -ELOOP;
        }
        d = open_stream(udir);
        r = merge_needs_overlay_features(&(struct entry_ref){.fd = udir}, &which);
        if (r < 0)
                return log_errno(r, "cannot read the xattrs of upper '%s'",
                                 merge_path(c, rel, NULL));
        if (r > 0)
                return refuse(c, rel, which);
        r = is_opaque(udir);
        if (r < 0)
                return log_errno(r, "cannot tell whether upper '%s' is opaque",
                                 merge_path(c, rel, NULL));
        if (r == OPAQUE_XWHITEOUTS)
                return refuse(c, rel, XATTR_OPAQUE "=x");
        if (!d)
                return log_errno(errno, "cannot read upper '%s'", merge_path(c, rel, NULL));
        if (fchdir(udir) < 0)
                return log_errno(errno, "cannot enter upper '%s'", merge_path(c, rel, NULL));
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;
                bool dir = de->d_type == DT_DIR;
                struct stat st;

                if (dot_or_dotdot(de->d_name))
                        continue;
                if (de->d_type == DT_UNKNOWN) {
                        if (fstatat(udir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                r = -errno;
                                sub = merge_join(rel, de->d_name);
                                return log_errno(r, "cannot stat upper '%s'",
                                                 merge_path(c, sub ? sub : rel, NULL));
                        }
                        dir = S_ISDIR(st.st_mode);
                }
                if (dir) {
                        _cleanup_close_ int usub = -EBADF;

                        sub = merge_join(rel, de->d_name);
                        if (!sub)
                                return log_errno(ENOMEM, "out of memory");
                        usub = open_subdir(udir, de->d_name);
                        if (usub < 0)
                                return log_errno(usub, "cannot open upper '%s'",
                                                 merge_path(c, sub, NULL));
                        r = scan_features(c, usub, sub, depth + 1);
                        if (r != 0)
                                return r;
                        if (fchdir(udir) < 0)
                                return log_errno(errno, "cannot enter upper '%s'",
                                                 merge_path(c, rel, NULL));
                        continue;
                }
                r = merge_needs_overlay_features(
                    &(struct entry_ref){.fd = -EBADF, .dirfd = AT_FDCWD, .name = de->d_name},
                    &which);
                if (r != 0)
                        sub = merge_join(rel, de->d_name);
                if (r != 0 && !sub)
                        return log_errno(ENOMEM, "out of memory");
                if (r < 0)
                        return log_errno(r, "cannot read the xattrs of upper '%s'",
                                         merge_path(c, sub, NULL));
                if (r > 0)
                        return refuse(c, sub, which);
        }
        if (errno != 0)
                return log_errno(errno, "cannot read upper '%s'", merge_path(c, rel, NULL));
        return 0;
}

int merge_check_upper(struct merge_ctx *c)
{
        _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (cwd < 0)
                return log_errno(errno, "%s: cannot open the current directory", c->o->label);
        r = scan_features(c, c->upperfd, "", 0);
        if (fchdir(cwd) < 0 && r == 0)
                r = log_errno(errno, "%s: cannot return to the current directory", c->o->label);
        return r;
}
