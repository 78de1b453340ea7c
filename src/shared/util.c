/* SPDX-License-Identifier: MIT */
/* util: file and string helpers (see util.h for the contract). */
#include "shared/util.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 4096;

        /* O_NONBLOCK: a FIFO (or a tty) in place of a config file must not stall
         * the boot; regular files are not affected by it. */
        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;
                if (len == cap) {
                        char *nb;
                        if (cap >= max)
                                return -EFBIG;
                        cap = cap * 2 > max ? max : cap * 2;
                        nb = realloc(buf, cap + 1);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = buf;
        buf = NULL;
        return 0;
}

int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
        char tmp[NAME_MAX + 1];
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (snprintf(tmp, sizeof(tmp), ".#%s.%ld", name, (long)getpid()) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0) {
                unlinkat(dirfd, tmp, 0);
                return r;
        }
        if (fsync(dirfd) < 0 && errno != EINVAL && errno != EBADF)
                return -errno;
        return 0;
}

/* Copy the next component of *p (after any slashes) into comp and advance *p past it.
 * Returns 1 for a component, 0 at the end of the path, -ENAMETOOLONG beyond NAME_MAX. */
static int next_component(const char **p, char comp[static NAME_MAX + 1])
{
        const char *s;
        size_t n;

        s = path_next_component(p, &n);
        if (!s)
                return 0;
        if (n > NAME_MAX)
                return -ENAMETOOLONG;
        memcpy(comp, s, n);
        comp[n] = '\0';
        return 1;
}

int openat_dir_nofollow(int dirfd, const char *name, int flags)
{
        struct stat st;
        int fd = openat(dirfd, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd >= 0)
                return fd;
        /* O_NOFOLLOW|O_DIRECTORY on a symlink says ENOTDIR; openat2 says ELOOP. */
        if (errno == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode))
                return -ELOOP;
        return -errno;
}

/* Moves *cur on to next (an fd, or -errno passed through). */
static int step_into(int *cur, int next)
{
        if (next < 0)
                return next;
        safe_close(*cur);
        *cur = next;
        return 0;
}

/* The dir fd refers to, opened again with flags. */
static int reopen_dir(int fd, int flags)
{
        int r = openat(fd, ".", flags | O_DIRECTORY | O_CLOEXEC);

        return r < 0 ? -errno : r;
}

/* One component at a time beneath dirfd, never following a symlink or "..": with
 * create, each missing component is made first (mode). Returns the last dir opened
 * with flags. */
static int walk_beneath(int dirfd, const char *path, int flags, bool create, mode_t mode)
{
        _cleanup_close_ int cur = -EBADF;
        char comp[NAME_MAX + 1];
        const char *p = path;
        int r;

        cur = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return -errno;
        while ((r = next_component(&p, comp)) > 0) {
                if (streq(comp, "..") || (create && streq(comp, ".")))
                        return create ? -EINVAL : -EXDEV;
                if (create && mkdirat(cur, comp, mode) < 0 && errno != EEXIST)
                        return -errno;
                r = step_into(&cur, openat_dir_nofollow(cur, comp, O_PATH));
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : reopen_dir(cur, flags);
}

int open_dir_walk(int dirfd, const char *path, int flags)
{
        return walk_beneath(dirfd, path, flags, false, 0);
}

/* Is fd the same dir as rootfd? */
static bool same_dir(int fd, int rootfd)
{
        struct stat a, b;

        return fstat(fd, &a) == 0 && fstat(rootfd, &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

/* RESOLVE_IN_ROOT by hand, for kernels without openat2: one component at a time,
 * a symlink's target resolved with rootfd as "/", ".." never above rootfd. */
int open_dir_in_root_walk(int rootfd, const char *path, int flags)
{
        _cleanup_free_ char *rest = strdup(path);
        _cleanup_close_ int cur = -EBADF;
        char comp[NAME_MAX + 1];
        const char *p;
        unsigned links = 0;
        int r;

        if (!rest)
                return -ENOMEM;
        cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return -errno;
        p = rest;
        while ((r = next_component(&p, comp)) > 0) {
                char target[PATH_MAX];
                struct stat st;
                ssize_t n;

                if (streq(comp, "."))
                        continue;
                if (streq(comp, "..") && same_dir(cur, rootfd))
                        continue;
                if (!streq(comp, "..") && fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISLNK(st.st_mode)) {
                        char *joined;
                        n = readlinkat(cur, comp, target, sizeof(target) - 1);
                        if (n < 0)
                                return -errno;
                        if (++links > 40)
                                return -ELOOP;
                        target[n] = '\0';
                        if (asprintf(&joined, "%s/%s", target, p) < 0)
                                return -ENOMEM;
                        free(rest);
                        rest = joined;
                        p = rest;
                        if (target[0] == '/') {
                                safe_close(cur);
                                cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                                if (cur < 0)
                                        return -errno;
                        }
                        continue;
                }
                r = step_into(&cur, openat_dir_nofollow(cur, comp, O_PATH));
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : reopen_dir(cur, flags);
}

int open_dir_in_root(int rootfd, const char *path, int flags)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_DIRECTORY | O_CLOEXEC),
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

        if (fd >= 0)
                return (int)fd;
        if (errno != ENOSYS && errno != EPERM)
                return -errno;
        return open_dir_in_root_walk(rootfd, path, flags);
}

DIR *fdopendir_or_close(int fd)
{
        DIR *d;

        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d)
                safe_close(fd);
        return d;
}

int open_dir_beneath(int dirfd, const char *path, int flags)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_DIRECTORY | O_CLOEXEC),
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd;

        if (!path || *path == '\0')
                path = ".";
        while (*path == '/' && path[1] != '\0')
                path++;
        if (streq(path, "/"))
                path = ".";
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0)
                return (int)fd;
        if (errno != ENOSYS && errno != EPERM)
                return -errno;
        return open_dir_walk(dirfd, path, flags);
}

int mkdir_p_beneath(int dirfd, const char *path, mode_t mode)
{
        return walk_beneath(dirfd, path, O_RDONLY, true, mode);
}

int parse_u64(const char *s, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

bool str_escape(char *out, size_t len, const char *s, unsigned flags)
{
        static const char cut[] = "...";
        bool escaped = false;
        size_t pos = 0;

        if (len == 0)
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                char e[5];
                size_t n;

                if (*p == '\n' || *p == '\t' || *p == '\\' || (*p == '"' && (flags & ESCAPE_QUOTE)))
                        n = (size_t)snprintf(e, sizeof(e), "\\%c",
                                             *p == '\n'   ? 'n'
                                             : *p == '\t' ? 't'
                                                          : (char)*p);
                else if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && (flags & ESCAPE_8BIT)))
                        n = (size_t)snprintf(e, sizeof(e), "\\%03o", *p);
                else
                        n = (size_t)snprintf(e, sizeof(e), "%c", *p);
                if (n > 1)
                        escaped = true;
                /* Room for this piece and, if more follows, for the cut mark. */
                if (pos + n + (p[1] ? sizeof(cut) - 1 : 0) >= len) {
                        if (pos + sizeof(cut) - 1 < len) {
                                memcpy(out + pos, cut, sizeof(cut) - 1);
                                pos += sizeof(cut) - 1;
                        }
                        break;
                }
                memcpy(out + pos, e, n);
                pos += n;
        }
        out[pos] = '\0';
        return escaped;
}
