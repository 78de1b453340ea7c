/* SPDX-License-Identifier: MIT */
/*
 * checkpoint-tree: copy one live upper dir into a generation, in the upper-dir
 * format itself (the merge engine replays it unchanged). Reading an upper while
 * its overlay is mounted is allowed: copy-up completes in the work dir and is
 * renamed in, so an entry is seen whole or not at all; a file being written may be
 * caught mid-write (the same as a power cut at that moment, for that file).
 *
 * A regular file is written in one of three ways:
 *   linked   unchanged since the base (the previous generation of this boot: same
 *            inode, ctime, size and mtime): a hardlink to the base's copy;
 *   appended same inode, grown, owner/mode/xattrs equal to the base's copy and the
 *            first <old size> bytes hash to the base's hash: the base's copy is
 *            linked and only the tail is written (the base's RECORD keeps its
 *            size, so replaying the base cuts the copy back first);
 *   copied   anything else: a new file.
 * The ctime recorded is the one seen before the copy, so a file written during
 * the copy differs at the next checkpoint and is copied again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "checkpoint/internal.h"
#include "merge/internal.h"
#include "shared/log.h"
#include "shared/util.h"

#define XATTR_OPAQUE  "trusted.overlay.opaque"
#define OVERLAY_XATTR "trusted.overlay."
#define MAX_DEPTH     512

struct link_slot {
        ino_t ino;
        char *rel;
};

const char *ckpt_escape(const char *s)
{
        static char bufs[2][PATH_MAX * 2];
        static unsigned next;
        char *b = bufs[next++ % 2];
        size_t o = 0;

        for (; *s && o + 5 < sizeof(bufs[0]); s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch < 0x20 || ch >= 0x7f || ch == '\\' || ch == '\'')
                        o += (size_t)snprintf(b + o, sizeof(bufs[0]) - o, "\\x%02x", ch);
                else
                        b[o++] = (char)ch;
        }
        b[o] = '\0';
        return b;
}

static void fail(struct tree_ctx *t, int r)
{
        if (t->first_error == 0)
                t->first_error = r < 0 ? r : -EIO;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* What identifies an entry's state for "did anything change": every field that a
 * change to it moves (ctime moves on any change to data, owner, mode, xattrs and
 * links), summed so that the order of readdir does not matter. */
static uint64_t entry_sig(const char *rel, const struct stat *st)
{
        struct chash c;
        uint64_t v[9] = {st->st_mode,
                         st->st_uid,
                         st->st_gid,
                         (uint64_t)st->st_size,
                         st->st_ino,
                         st->st_rdev,
                         (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec,
                         (uint64_t)st->st_ctim.tv_sec * 1000000000u + (uint64_t)st->st_ctim.tv_nsec,
                         st->st_nlink};

        chash_init(&c);
        chash_feed(&c, rel, strlen(rel) + 1);
        chash_feed(&c, v, sizeof(v));
        return chash_final(&c);
}

static const char *link_find(struct tree_ctx *t, ino_t ino)
{
        for (size_t i = 0; i < t->n_links; i++)
                if (t->links[i].ino == ino)
                        return t->links[i].rel;
        return NULL;
}

static int link_add(struct tree_ctx *t, ino_t ino, const char *rel)
{
        if (t->n_links == t->cap_links) {
                size_t cap = t->cap_links ? t->cap_links * 2 : 64;
                struct link_slot *n = realloc(t->links, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                t->links = n;
                t->cap_links = cap;
        }
        t->links[t->n_links].rel = strdup(rel);
        if (!t->links[t->n_links].rel)
                return -ENOMEM;
        t->links[t->n_links++].ino = ino;
        return 0;
}

void tree_free(struct tree_ctx *t)
{
        for (size_t i = 0; i < t->n_links; i++)
                free(t->links[i].rel);
        free(t->links);
        t->links = NULL;
        t->n_links = t->cap_links = 0;
}

/* The xattrs of a and b (both fds) are the same, trusted.overlay.* aside. */
static bool same_xattrs(int a, int b)
{
        char la[8192], lb[8192], va[8192], vb[8192];
        ssize_t na = flistxattr(a, la, sizeof(la)), nb = flistxattr(b, lb, sizeof(lb));

        if (na < 0 || nb < 0)
                return false;
        for (int pass = 0; pass < 2; pass++) {
                const char *l = pass ? lb : la;
                ssize_t n = pass ? nb : na;
                for (const char *p = l; p < l + n; p += strlen(p) + 1) {
                        ssize_t x, y;
                        if (startswith(p, OVERLAY_XATTR))
                                continue;
                        x = fgetxattr(a, p, va, sizeof(va));
                        y = fgetxattr(b, p, vb, sizeof(vb));
                        if (x < 0 || y < 0 || x != y || memcmp(va, vb, (size_t)x) != 0)
                                return false;
                }
        }
        return true;
}

/* Copies ufd's bytes from `from` to its end into jfd at the same offsets, hashing on
 * from c's state; the copy is cut where the source ended and e gets its size and hash. */
static int copy_tail(struct tree_ctx *t, int ufd, int jfd, uint64_t from, const struct stat *st,
                     struct chash *c, struct rec_file *e)
{
        uint64_t end = 0;
        int r = chash_copy(ufd, jfd, from, (uint64_t)st->st_size, c, &end, &t->st->bytes);

        if (r < 0)
                return r;
        if (ftruncate(jfd, (off_t)end) < 0)
                return -errno;
        e->size = end;
        e->hash = chash_final(c);
        return 0;
}

/* Try the appended case: 1 done, 0 not applicable (nothing written), <0 error. */
static int try_append(struct tree_ctx *t, int ufd, const struct stat *st, const struct rec_file *b,
                      int gdir, const char *name, struct rec_file *e)
{
        _cleanup_close_ int jfd = -EBADF;
        struct chash c;
        struct stat jst;
        uint64_t end = 0, none = 0;
        int r;

        if ((uint64_t)st->st_size <= b->size || st->st_nlink != 1)
                return 0;
        jfd = openat(t->basefd, b->rel, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (jfd < 0 || fstat(jfd, &jst) < 0 || !S_ISREG(jst.st_mode) ||
            (uint64_t)jst.st_size < b->size || jst.st_uid != st->st_uid ||
            jst.st_gid != st->st_gid || (jst.st_mode & 07777) != (st->st_mode & 07777) ||
            !same_xattrs(ufd, jfd))
                return 0;
        chash_init(&c);
        r = chash_copy(ufd, -1, 0, b->size, &c, &end, &none);
        if (r < 0)
                return r;
        if (end != b->size || chash_final(&c) != b->hash)
                return 0; /* rewritten, not appended */
        if (linkat(t->basefd, b->rel, gdir, name, 0) < 0)
                return -errno;
        /* Past the base's size only: the base's bytes are never touched. */
        r = copy_tail(t, ufd, jfd, b->size, st, &c, e);
        if (r < 0)
                return r;
        t->st->appended++;
        r = merge_set_times(&(struct entry_ref){.fd = jfd}, st);
        return r < 0 ? r : 1;
}

static int copy_new(struct tree_ctx *t, int ufd, const struct stat *st, int gdir, const char *name,
                    struct rec_file *e)
{
        _cleanup_close_ int jfd = -EBADF;
        struct chash c;
        int r;

        jfd = openat(gdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (jfd < 0)
                return -errno;
        chash_init(&c);
        r = copy_tail(t, ufd, jfd, 0, st, &c, e);
        if (r < 0)
                return r;
        t->st->copied++;
        return merge_copy_meta(&(struct entry_ref){.fd = ufd}, &(struct entry_ref){.fd = jfd}, st,
                               true);
}

static int cut_back(int dirfd, const char *name, const struct rec_file *b)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        struct timespec ts[2] = {b->atime, b->mtime};

        if (fd < 0 || ftruncate(fd, (off_t)b->size) < 0 || futimens(fd, ts) < 0)
                return -errno;
        return 0;
}

static int do_file(struct tree_ctx *t, int udir, int gdir, const char *name, const char *rel,
                   const struct stat *lst)
{
        _cleanup_close_ int ufd = -EBADF;
        const struct rec_file *b = record_lookup(t->base, rel);
        struct rec_file e = {.rel = (char *)rel};
        const char *first;
        struct stat st;
        int r;

        if (lst->st_nlink > 1 && (first = link_find(t, lst->st_ino))) {
                /* Another name of a file already in this generation. */
                return linkat(t->genfd, first, gdir, name, 0) < 0 ? -errno : 0;
        }
        ufd = openat(udir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (ufd < 0)
                return -errno;
        if (fstat(ufd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EAGAIN; /* replaced between the stat and the open */
        e.ino = st.st_ino;
        e.ctime = st.st_ctim;
        e.mtime = st.st_mtim;
        e.atime = st.st_atim;
        if (b && b->ino == (uint64_t)st.st_ino && same_time(&b->ctime, &st.st_ctim) &&
            b->size == (uint64_t)st.st_size && same_time(&b->mtime, &st.st_mtim) &&
            linkat(t->basefd, b->rel, gdir, name, 0) == 0) {
                e.size = b->size;
                e.hash = b->hash;
                e.atime = b->atime;
                t->st->linked++;
                /* A later generation that failed may have appended to the shared
                 * copy: cut it back to what the base recorded. */
                if (fstatat(gdir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    (uint64_t)st.st_size > b->size && (r = cut_back(gdir, name, b)) < 0)
                        return r;
        } else {
                r = b ? try_append(t, ufd, &st, b, gdir, name, &e) : 0;
                if (r == 0)
                        r = copy_new(t, ufd, &st, gdir, name, &e);
                else if (r == 1)
                        r = 0;
                if (r < 0)
                        return r;
        }
        if (lst->st_nlink > 1 && (r = link_add(t, lst->st_ino, rel)) < 0)
                return r;
        return record_add(t->out, &e);
}

static int do_other(int udir, int gdir, const char *name, const struct stat *st)
{
        char target[PATH_MAX];
        ssize_t n;
        int r;

        if (S_ISLNK(st->st_mode)) {
                n = readlinkat(udir, name, target, sizeof(target) - 1);
                if (n < 0)
                        return -errno;
                target[n] = '\0';
                r = symlinkat(target, gdir, name);
        } else {
                r = mknodat(gdir, name, st->st_mode & (S_IFMT | 07777), st->st_rdev);
        }
        if (r < 0)
                return -errno;
        return merge_copy_meta(&(struct entry_ref){.fd = -EBADF, .dirfd = udir, .name = name},
                               &(struct entry_ref){.fd = -EBADF, .dirfd = gdir, .name = name}, st,
                               true);
}

static bool dir_is_opaque(int fd)
{
        char v[8];
        ssize_t n = fgetxattr(fd, XATTR_OPAQUE, v, sizeof(v));
        return n == 1 && v[0] == 'y';
}

static int walk_dir(struct tree_ctx *t, int udir, int gdir, const char *rel, const char *label,
                    unsigned depth);

static int do_entry(struct tree_ctx *t, int udir, int gdir, const char *name, const char *rel,
                    const char *label, unsigned depth)
{
        _cleanup_close_ int usub = -EBADF, gsub = -EBADF;
        const char *which = NULL;
        struct stat st;
        int r;

        if (fstatat(udir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno; /* gone meanwhile */
        if (S_ISSOCK(st.st_mode))
                return 0; /* the flush skips sockets too */
        r = merge_needs_overlay_features(
            &(struct entry_ref){.fd = -EBADF, .dirfd = udir, .name = name}, &which);
        if (r > 0) {
                log_error("%s: '%s' carries %s, which a checkpoint cannot record", label,
                          ckpt_escape(rel), which);
                return -EPROTO;
        }
        t->out->names_total++;
        t->out->sig += entry_sig(rel, &st);
        if (!S_ISDIR(st.st_mode))
                t->out->entries++;
        if (S_ISREG(st.st_mode))
                t->out->bytes += (uint64_t)st.st_size;
        if (t->genfd < 0 && !S_ISDIR(st.st_mode))
                return 0;
        if (S_ISREG(st.st_mode))
                return t->genfd < 0 ? 0 : do_file(t, udir, gdir, name, rel, &st);
        if (!S_ISDIR(st.st_mode))
                return do_other(udir, gdir, name, &st);
        if (depth >= MAX_DEPTH)
                return -ELOOP;
        usub = openat(udir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (usub < 0)
                return errno == ENOENT ? 0 : -errno;
        if (dir_is_opaque(usub))
                t->out->entries++;
        if (t->genfd >= 0) {
                if (mkdirat(gdir, name, 0700) < 0)
                        return -errno;
                gsub = openat(gdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (gsub < 0)
                        return -errno;
        }
        return walk_dir(t, usub, gsub, rel, label, depth + 1);
}

/* Copy the contents of udir into gdir (gdir < 0: signature only), then gdir's own
 * owner, mode, xattrs, opacity and times (after its children changed them). */
static int walk_dir(struct tree_ctx *t, int udir, int gdir, const char *rel, const char *label,
                    unsigned depth)
{
        _cleanup_closedir_ DIR *d =
            fdopendir_or_close(openat(udir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        struct dirent *de;
        struct stat st;
        int r;

        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;
                struct record saved;
                if (dot_or_dotdot(de->d_name))
                        continue;
                sub = merge_join(rel, de->d_name);
                if (!sub)
                        return -ENOMEM;
                saved = *t->out;
                r = do_entry(t, udir, gdir, de->d_name, sub, label, depth);
                if (r == -EAGAIN) { /* replaced while we looked: once more */
                        t->out->entries = saved.entries;
                        t->out->names_total = saved.names_total;
                        t->out->bytes = saved.bytes;
                        t->out->sig = saved.sig;
                        r = do_entry(t, udir, gdir, de->d_name, sub, label, depth);
                }
                if (r == -EPROTO || r == -ENOMEM || r == -ENOSPC || r == -EIO || r == -EDQUOT)
                        return r;
                if (r < 0) {
                        log_errno(r, "%s: cannot record '%s'", label, ckpt_escape(sub));
                        fail(t, r);
                }
        }
        if (errno)
                return -errno;
        if (gdir < 0)
                return 0;
        if (fstat(udir, &st) < 0)
                return -errno;
        r = merge_copy_meta(&(struct entry_ref){.fd = udir}, &(struct entry_ref){.fd = gdir}, &st,
                            false);
        if (r == 0 && dir_is_opaque(udir) && fsetxattr(gdir, XATTR_OPAQUE, "y", 1, 0) < 0)
                r = -errno;
        if (r == 0)
                r = merge_set_times(&(struct entry_ref){.fd = gdir}, &st);
        return r;
}

int tree_walk(struct tree_ctx *t, int upperfd, const char *name, const char *label)
{
        _cleanup_close_ int gdir = -EBADF;
        struct stat st;
        int r;

        if (fstat(upperfd, &st) < 0)
                return log_errno(errno, "%s: cannot stat the upper dir", label);
        t->out->sig += entry_sig(name, &st);
        if (t->genfd >= 0) {
                if (mkdirat(t->genfd, name, 0700) < 0)
                        return log_errno(errno, "%s: cannot create %s in the journal", label, name);
                gdir = openat(t->genfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (gdir < 0)
                        return log_errno(errno, "%s: cannot open %s in the journal", label, name);
        }
        r = walk_dir(t, upperfd, gdir, name, label, 0);
        if (r < 0)
                return log_errno(r, "%s: checkpoint failed", label);
        return t->first_error;
}
