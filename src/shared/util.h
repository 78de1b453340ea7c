/* SPDX-License-Identifier: MIT */
/*
 * util: small helpers every module uses: scope-bound cleanup, string predicates,
 * whole-file reads and atomic writes relative to a directory fd. All functions
 * return 0 (or a count) on success and -errno on failure; none of them logs.
 *
 * Layer src/shared/: libc (and libblkid/libkmod wrappers: fsuuid, modload) with no
 * policy of ephemeral's; includes nothing above itself. log, util, json,
 * mountinfo, fstab, fsuuid, modload.
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes shared by all commands (s6 convention). */
#define EXIT_OK     0
#define EXIT_USAGE  100 /* bad usage or bad configuration */
#define EXIT_SYSTEM 111 /* a system call failed */

static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd)
{
        safe_close(*fd);
}
static inline void freep(void *p)
{
        free(*(void **)p);
}
static inline void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}
static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

#define _cleanup_(f)       __attribute__((cleanup(f)))
#define _cleanup_close_    _cleanup_(closep)
#define _cleanup_free_     _cleanup_(freep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_fclose_   _cleanup_(fclosep)

/* Hand ownership of an fd out of a _cleanup_close_ variable. */
static inline int take_fd(int *fd)
{
        int r = *fd;
        *fd = -EBADF;
        return r;
}

static inline bool streq(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}

/* Returns a pointer past the prefix, or NULL when s does not start with it. */
static inline const char *startswith(const char *s, const char *prefix)
{
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Is the normalised path equal to dir or below it? ("/var/log" is under "/var" and
 * under "/", "/varx" is not under "/var".) */
static inline bool path_is_under(const char *path, const char *dir)
{
        const char *rest = startswith(path, dir);
        return rest && (*rest == '\0' || *rest == '/' || streq(dir, "/"));
}

/* The next component of a '/'-separated path: skips the slashes at *p, returns the
 * component's start and sets *len to its length, and advances *p past it. Returns NULL
 * (with *p at the terminating NUL) when no component is left. */
static inline const char *path_next_component(const char **p, size_t *len)
{
        const char *s = *p, *end;

        while (*s == '/')
                s++;
        *p = s;
        if (*s == '\0')
                return NULL;
        end = strchrnul(s, '/');
        *len = (size_t)(end - s);
        *p = end;
        return s;
}

static inline bool dot_or_dotdot(const char *name)
{
        return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* Read a whole (small) file at dirfd/path into a NUL-terminated buffer. Fails with
 * -EFBIG beyond max bytes. Does not follow a symlink in the last component. Never
 * blocks: a FIFO without data reads as empty or fails with -EAGAIN. */
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);

/* Write data to dirfd/name atomically: temporary file, fsync, rename, fsync dir. */
int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* write(2) until everything is written; returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* fdopendir(fd) that takes fd over: when it fails, fd is closed (errno kept). fd < 0
 * (a failed openat/fcntl) gives NULL with errno left as it is. */
DIR *fdopendir_or_close(int fd);

/* Open a directory below dirfd without following symlinks in any component
 * (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH, fallback: component-wise
 * O_NOFOLLOW walk). path may be "" or "." for dirfd itself. Returns fd or -errno. */
int open_dir_beneath(int dirfd, const char *path, int flags);

/* The fallback of open_dir_beneath (kernels before 5.6), exported for tests. */
int open_dir_walk(int dirfd, const char *path, int flags);

/* openat(dirfd, name, flags|O_DIRECTORY|O_NOFOLLOW); a symlink at name gives
 * -ELOOP (as openat2 RESOLVE_NO_SYMLINKS does), not -ENOTDIR. */
int openat_dir_nofollow(int dirfd, const char *name, int flags);

/* Open path as if rootfd were "/" (openat2 RESOLVE_IN_ROOT, or the same rules
 * walked by hand before 5.6): symlinks are followed inside rootfd, ".." never
 * leaves it. Returns an O_DIRECTORY fd or -errno. */
int open_dir_in_root(int rootfd, const char *path, int flags);
/* Its fallback, exported for tests. */
int open_dir_in_root_walk(int rootfd, const char *path, int flags);

/* Create every missing directory of path below dirfd (mode for new ones),
 * never following symlinks. Returns an O_DIRECTORY fd of the last one or -errno. */
int mkdir_p_beneath(int dirfd, const char *path, mode_t mode);

/* Flags of str_escape. */
#define ESCAPE_QUOTE 1u /* '"' as \" too (a quoted string, as diff prints names) */
#define ESCAPE_8BIT  2u /* bytes >= 0x80 as \ooo too (log lines: plain ASCII only) */

/* The one escaper for untrusted strings that are printed (log.c runs every log
 * line through it; diff's quoting uses it): s is copied C-style into out (len
 * bytes, always NUL-terminated): newline and tab as \n and \t, '\' as \\, the
 * other control bytes and DEL as \ooo, plus what flags ask for. What does not fit
 * is cut, ending in "...". Returns true when anything had to be escaped. */
bool str_escape(char *out, size_t len, const char *s, unsigned flags);

/* Parse an unsigned decimal integer that must fill the whole string. */
int parse_u64(const char *s, uint64_t *ret);
