/* SPDX-License-Identifier: MIT */
/*
 * meta: owner, mode, xattrs and times of one entry, copied from the upper.
 * Order matters: chown clears setuid/setgid and security.capability, and an ACL
 * rewrites the group bits, so: chown, drop xattrs the upper lacks (e.g. a default
 * ACL inherited by a new file), set xattrs, chmod, set security.capability, times.
 * Entries without an fd (symlinks, FIFOs, devices) are reached through their parent
 * with the l*xattr calls after fchdir(), since there is no fd-relative xattr call
 * that leaves the last component unfollowed on older kernels.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "merge/internal.h"
#include "shared/util.h"

#define XATTR_OVERLAY_PREFIX "trusted.overlay."
#define XATTR_CAPS           "security.capability"
#define XATTR_SELINUX        "security.selinux"
#define XATTR_ACL            "system.posix_acl_access"

enum xa_call { XA_LIST, XA_GET, XA_SET, XA_REMOVE };

static int saved_cwd = -EBADF;

/* One xattr call on e. For XA_LIST buf/len receive the list, for XA_GET the value,
 * for XA_SET the new value. Returns the syscall's result or -errno. */
static ssize_t xa(const struct entry_ref *e, enum xa_call call, const char *name, void *buf,
                  size_t len)
{
        ssize_t n;
        int saved;

        if (e->fd >= 0) {
                switch (call) {
                case XA_LIST:
                        n = flistxattr(e->fd, buf, len);
                        break;
                case XA_GET:
                        n = fgetxattr(e->fd, name, buf, len);
                        break;
                case XA_SET:
                        n = fsetxattr(e->fd, name, buf, len, 0);
                        break;
                default:
                        n = fremovexattr(e->fd, name);
                        break;
                }
                return n < 0 ? -errno : n;
        }
        /* AT_FDCWD: the caller has already made the parent the cwd. */
        if (e->dirfd != AT_FDCWD && saved_cwd < 0) {
                saved_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (saved_cwd < 0)
                        return -errno;
        }
        if (e->dirfd != AT_FDCWD && fchdir(e->dirfd) < 0)
                return -errno;
        switch (call) {
        case XA_LIST:
                n = llistxattr(e->name, buf, len);
                break;
        case XA_GET:
                n = lgetxattr(e->name, name, buf, len);
                break;
        case XA_SET:
                n = lsetxattr(e->name, name, buf, len, 0);
                break;
        default:
                n = lremovexattr(e->name, name);
                break;
        }
        saved = errno;
        if (e->dirfd != AT_FDCWD)
                (void)!fchdir(saved_cwd);
        return n < 0 ? -saved : n;
}

/* Most lists and values fit this: one call instead of asking for the size first. */
#define XA_GUESS 1024

/* A malloc'd copy of the n bytes at p (one byte more, so never malloc(0)). */
static char *dup_bytes(const char *p, size_t n)
{
        char *b = malloc(n + 1);
        if (b)
                memcpy(b, p, n);
        return b;
}

/* The NUL-separated name list of e's xattrs in a malloc'd buffer (NULL when none). */
static int xa_list(const struct entry_ref *e, char **ret, size_t *ret_len)
{
        char guess[XA_GUESS];
        ssize_t g = xa(e, XA_LIST, NULL, guess, sizeof(guess));

        if (g == -ENOTSUP || g == -EOPNOTSUPP)
                g = 0;
        if (g >= 0) {
                *ret = NULL;
                *ret_len = 0;
                if (g == 0)
                        return 0;
                *ret = dup_bytes(guess, (size_t)g);
                if (!*ret)
                        return -ENOMEM;
                *ret_len = (size_t)g;
                return 0;
        }
        if (g != -ERANGE)
                return (int)g;
        for (int attempt = 0; attempt < 8; attempt++) {
                _cleanup_free_ char *buf = NULL;
                ssize_t n = xa(e, XA_LIST, NULL, NULL, 0);
                if (n == -ENOTSUP || n == -EOPNOTSUPP)
                        n = 0;
                if (n < 0)
                        return (int)n;
                if (n == 0) {
                        *ret = NULL;
                        *ret_len = 0;
                        return 0;
                }
                buf = malloc((size_t)n);
                if (!buf)
                        return -ENOMEM;
                n = xa(e, XA_LIST, NULL, buf, (size_t)n);
                if (n == -ERANGE)
                        continue; /* grew meanwhile */
                if (n < 0)
                        return (int)n;
                *ret = buf;
                *ret_len = (size_t)n;
                buf = NULL;
                return 0;
        }
        return -ERANGE;
}

static int xa_get(const struct entry_ref *e, const char *name, char **ret, size_t *ret_len)
{
        char guess[XA_GUESS];
        ssize_t g = xa(e, XA_GET, name, guess, sizeof(guess));

        if (g >= 0) {
                *ret = dup_bytes(guess, (size_t)g);
                if (!*ret)
                        return -ENOMEM;
                *ret_len = (size_t)g;
                return 0;
        }
        if (g != -ERANGE)
                return (int)g;
        for (int attempt = 0; attempt < 8; attempt++) {
                _cleanup_free_ char *buf = NULL;
                ssize_t n = xa(e, XA_GET, name, NULL, 0);
                if (n < 0)
                        return (int)n;
                buf = malloc((size_t)n + 1);
                if (!buf)
                        return -ENOMEM;
                n = xa(e, XA_GET, name, buf, (size_t)n);
                if (n == -ERANGE)
                        continue;
                if (n < 0)
                        return (int)n;
                *ret = buf;
                *ret_len = (size_t)n;
                buf = NULL;
                return 0;
        }
        return -ERANGE;
}

static bool list_has(const char *list, size_t len, const char *name)
{
        for (const char *p = list; p < list + len; p += strlen(p) + 1)
                if (streq(p, name))
                        return true;
        return false;
}

static int copy_one_xattr(const struct entry_ref *src, const struct entry_ref *dst,
                          const char *name)
{
        _cleanup_free_ char *val = NULL;
        size_t len = 0;
        ssize_t r;

        r = xa_get(src, name, &val, &len);
        if (r == -ENODATA)
                return 0; /* removed meanwhile */
        if (r < 0)
                return (int)r;
        r = xa(dst, XA_SET, name, val, len);
        return r < 0 ? (int)r : 0;
}

/* Before Linux 6.6 tmpfs cannot hold user.* xattrs, so overlayfs silently dropped
 * them when it copied an entry up into the store: the upper lacks them although
 * nobody removed them (nobody could: setting or removing one through the overlay
 * fails the same way). In that case the disk copy's user.* xattrs are kept. */
static bool keep_lower_user_xattrs;

bool merge_probe_user_xattrs(int upperfd, bool known_missing)
{
        _cleanup_close_ int fd = -EBADF;

        /* On an unnamed file of the store (O_TMPFILE): nothing that is merged
         * ever carries the probe, even if removing it again would fail. */
        fd = openat(upperfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        /* Any failure (EOPNOTSUPP: tmpfs before 6.6) keeps the disk's user.*
         * xattrs: the choice that cannot lose any. */
        keep_lower_user_xattrs =
            known_missing || fd < 0 || fsetxattr(fd, "user.ephemeral-probe", "1", 1, 0) < 0;
        return keep_lower_user_xattrs;
}

bool merge_keeps_user_xattrs(void)
{
        return keep_lower_user_xattrs;
}

int merge_keep_user_xattrs(const struct entry_ref *old, const struct entry_ref *dst)
{
        _cleanup_free_ char *list = NULL;
        size_t len = 0;
        int r;

        if (!keep_lower_user_xattrs)
                return 0;
        r = xa_list(old, &list, &len);
        if (r < 0)
                return r;
        for (const char *p = list; p && p < list + len; p += strlen(p) + 1) {
                if (!startswith(p, "user."))
                        continue;
                r = copy_one_xattr(old, dst, p);
                if (r < 0)
                        return r;
        }
        return 0;
}

int merge_get_xattr(const struct entry_ref *e, const char *name, char *buf, size_t len)
{
        ssize_t n = xa(e, XA_GET, name, buf, len - 1);
        if (n < 0)
                return (int)n == -ENOTSUP ? -ENODATA : (int)n;
        buf[n] = '\0';
        return 0;
}

int merge_needs_overlay_features(const struct entry_ref *e, const char **which)
{
        static const char *const refused[] = {
            "trusted.overlay.redirect", "trusted.overlay.metacopy",
            /* The second whiteout form (a zero-size file in a dir marked opaque=x):
             * the kernel never makes it in an upper; as a file it would be merged
             * as an empty one. */
            "trusted.overlay.whiteout"};
        _cleanup_free_ char *list = NULL;
        size_t len = 0;
        int r = xa_list(e, &list, &len);

        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
                if (list_has(list, len, refused[i])) {
                        *which = refused[i];
                        return 1;
                }
        return 0;
}

int merge_set_times(const struct entry_ref *dst, const struct stat *st)
{
        struct timespec ts[2] = {st->st_atim, st->st_mtim};
        int r;

        if (dst->fd >= 0)
                r = futimens(dst->fd, ts);
        else
                r = utimensat(dst->dirfd, dst->name, ts, AT_SYMLINK_NOFOLLOW);
        return r < 0 ? -errno : 0;
}

static int copy_meta(const struct entry_ref *src, const struct entry_ref *dst,
                     const struct stat *st, bool times, const struct merge_created *cr)
{
        _cleanup_free_ char *slist = NULL, *dlist = NULL;
        size_t slen = 0, dlen = 0;
        bool acl;
        int r;

        if (cr && cr->owner)
                r = 0; /* a chown to the owner it has would change nothing */
        else if (dst->fd >= 0)
                r = fchown(dst->fd, st->st_uid, st->st_gid);
        else
                r = fchownat(dst->dirfd, dst->name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
        if (r < 0)
                return -errno;

        r = xa_list(src, &slist, &slen);
        if (r < 0)
                return r;
        r = xa_list(dst, &dlist, &dlen);
        if (r < 0)
                return r;
        for (const char *p = dlist; p && p < dlist + dlen; p += strlen(p) + 1) {
                if (startswith(p, XATTR_OVERLAY_PREFIX) || list_has(slist, slen, p))
                        continue;
                if (keep_lower_user_xattrs && startswith(p, "user."))
                        continue; /* dropped by copy-up, not by anyone's choice */
                r = (int)xa(dst, XA_REMOVE, p, NULL, 0);
                if (r == -ENODATA)
                        continue;
                if (r < 0 && streq(p, XATTR_SELINUX))
                        continue; /* the policy may insist on a label */
                if (r < 0)
                        return r;
        }
        for (const char *p = slist; p && p < slist + slen; p += strlen(p) + 1) {
                if (startswith(p, XATTR_OVERLAY_PREFIX) || streq(p, XATTR_CAPS))
                        continue;
                r = copy_one_xattr(src, dst, p);
                if (r < 0)
                        return r;
        }
        /* Setting or dropping an ACL rewrites the group bits: then chmod. */
        acl = list_has(slist, slen, XATTR_ACL) || list_has(dlist, dlen, XATTR_ACL);
        if (cr && !acl && cr->mode == (st->st_mode & 07777))
                r = 0; /* created with these permissions, which nothing changed since */
        else if (!S_ISLNK(st->st_mode)) {
                if (dst->fd >= 0)
                        r = fchmod(dst->fd, st->st_mode & 07777);
                else
                        r = fchmodat(dst->dirfd, dst->name, st->st_mode & 07777, 0);
                if (r < 0)
                        return -errno;
        }
        if (list_has(slist, slen, XATTR_CAPS)) {
                r = copy_one_xattr(src, dst, XATTR_CAPS);
                if (r < 0)
                        return r;
        }
        return times ? merge_set_times(dst, st) : 0;
}

int merge_copy_meta(const struct entry_ref *src, const struct entry_ref *dst, const struct stat *st,
                    bool times)
{
        return copy_meta(src, dst, st, times, NULL);
}

int merge_copy_meta_created(const struct entry_ref *src, const struct entry_ref *dst,
                            const struct stat *st, const struct merge_created *cr)
{
        return copy_meta(src, dst, st, true, cr);
}
