/* SPDX-License-Identifier: MIT */
/*
 * fail-call: an LD_PRELOAD shim for tests. One libc call fails with one errno when
 * the path it acts on contains a given string; everything else goes to libc.
 *
 *   FAIL_CALL=statx|fstatat|fgetxattr|lgetxattr|fremovexattr|readdir|getdents64
 *   FAIL_PATH=substring  (matched against "dir/name": a dir fd or DIR is resolved
 *                         through /proc/self/fd)
 *   FAIL_ERRNO=5         (default EIO)
 *   FAIL_SKIP=N          (the first N matching calls succeed; default 0)
 *
 *   cc -shared -fPIC -o fail-call.so tests/lib/fail-call.c -ldl
 * With an ASan build, also set ASAN_OPTIONS=verify_asan_link_order=0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static int skipped;

/* Does the call named call on dirfd/name (name may be NULL or "") hit the fault? */
static int hit(const char *call, int dirfd, const char *name)
{
        const char *want = getenv("FAIL_CALL"), *sub = getenv("FAIL_PATH");
        char link[64], path[PATH_MAX * 2] = "";
        ssize_t n = -1;

        if (!want || !sub || strcmp(want, call) != 0)
                return 0;
        if (dirfd >= 0 && (!name || name[0] != '/')) {
                snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
                n = readlink(link, path, PATH_MAX);
        }
        if (n < 0)
                n = 0;
        path[n] = '\0';
        if (name && name[0])
                snprintf(path + n, sizeof(path) - (size_t)n, "/%s", name);
        if (!strstr(path, sub))
                return 0;
        if (getenv("FAIL_SKIP") && skipped < atoi(getenv("FAIL_SKIP"))) {
                skipped++;
                return 0;
        }
        errno = getenv("FAIL_ERRNO") ? atoi(getenv("FAIL_ERRNO")) : EIO;
        return 1;
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int statx(int dirfd, const char *name, int flags, unsigned mask, struct statx *buf)
{
        return hit("statx", dirfd, name) ? -1 : REAL(statx)(dirfd, name, flags, mask, buf);
}

int fstatat(int dirfd, const char *name, struct stat *buf, int flags)
{
        return hit("fstatat", dirfd, name) ? -1 : REAL(fstatat)(dirfd, name, buf, flags);
}

ssize_t fgetxattr(int fd, const char *attr, void *value, size_t size)
{
        return hit("fgetxattr", fd, NULL) ? -1 : REAL(fgetxattr)(fd, attr, value, size);
}

ssize_t lgetxattr(const char *path, const char *attr, void *value, size_t size)
{
        return hit("lgetxattr", AT_FDCWD, path) ? -1 : REAL(lgetxattr)(path, attr, value, size);
}

int fremovexattr(int fd, const char *attr)
{
        return hit("fremovexattr", fd, NULL) ? -1 : REAL(fremovexattr)(fd, attr);
}

struct dirent *readdir(DIR *d)
{
        return hit("readdir", dirfd(d), NULL) ? NULL : REAL(readdir)(d);
}

ssize_t getdents64(int fd, void *buf, size_t n)
{
        return hit("getdents64", fd, NULL) ? -1 : REAL(getdents64)(fd, buf, n);
}
