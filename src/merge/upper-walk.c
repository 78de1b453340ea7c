/* SPDX-License-Identifier: MIT */
/* upper-walk: sorted, fd-relative walk of an upper tree (see upper-walk.h). */
#include "merge/upper-walk.h"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "shared/util.h"

int upper_classify(int fd, const struct stat *st)
{
        char v[4];
        ssize_t n;

        if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0))
                return UPPER_WHITEOUT;
        if (!S_ISDIR(st->st_mode))
                return UPPER_OTHER;
        if (fd < 0)
                return -EBADF;
        n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v));
        if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
                return UPPER_DIR;
        if (n < 0)
                return -errno; /* cannot tell: "not opaque" would hide a deletion */
        return n == 1 && v[0] == 'y' ? UPPER_OPAQUE_DIR : UPPER_DIR;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* The names in dirfd, sorted. */
static int list_dir(int dirfd, char ***ret, size_t *ret_n)
{
        _cleanup_closedir_ DIR *d = NULL;
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;

        d = fdopendir_or_close(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d))) {
                if (dot_or_dotdot(de->d_name))
                        continue;
                if (n == cap) {
                        char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
                        if (!nn)
                                return free_names(names, n), -ENOMEM;
                        names = nn;
                }
                names[n] = strdup(de->d_name);
                if (!names[n])
                        return free_names(names, n), -ENOMEM;
                n++;
        }
        if (errno)
                return free_names(names, n), -errno;
        if (n > 0)
                qsort(names, n, sizeof(*names), cmp_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

static int walk(int dirfd, char *path, size_t plen, unsigned depth, upper_walk_fn fn,
                void *userdata)
{
        char **names = NULL;
        size_t n = 0;
        int r;

        if (depth > UPPER_WALK_MAX_DEPTH)
                return -ELOOP;
        r = list_dir(dirfd, &names, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_close_ int fd = -EBADF;
                struct upper_entry e;
                struct stat st;
                size_t nlen = strlen(names[i]);

                if (plen + 1 + nlen >= PATH_MAX) {
                        r = -ENAMETOOLONG;
                        break;
                }
                if (plen)
                        path[plen] = '/';
                memcpy(path + plen + (plen ? 1 : 0), names[i], nlen + 1);
                if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = errno == ENOENT ? 0 : -errno; /* gone meanwhile: fine */
                        path[plen] = '\0';
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        fd = openat(dirfd, names[i],
                                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0) {
                                r = -errno;
                                break;
                        }
                }
                r = upper_classify(fd, &st);
                if (r < 0)
                        break;
                e = (struct upper_entry){.path = path,
                                         .dirfd = dirfd,
                                         .name = names[i],
                                         .st = &st,
                                         .kind = (enum upper_kind)r,
                                         .depth = depth};
                r = fn(&e, userdata);
                if (r == 0 && fd >= 0)
                        r = walk(fd, path, plen + (plen ? 1 : 0) + nlen, depth + 1, fn, userdata);
                else if (r == 1)
                        r = 0;
                path[plen] = '\0';
        }
        free_names(names, n);
        return r < 0 ? r : 0;
}

int upper_walk(int upperfd, upper_walk_fn fn, void *userdata)
{
        char path[PATH_MAX] = "";

        return walk(upperfd, path, 0, 1, fn, userdata);
}
