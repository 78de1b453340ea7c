/* SPDX-License-Identifier: MIT */
/* holders: processes that keep an overlay busy, and the lower inodes they pin (see header). */
#include "shutdown/holders.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "shared/log.h"
#include "shared/util.h"

#define DELETED " (deleted)"

static int paths_add(struct holder_paths *p, const char *rel)
{
        char **v;

        for (size_t i = 0; i < p->n; i++)
                if (streq(p->v[i], rel))
                        return 0;
        v = realloc(p->v, (p->n + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        p->v = v;
        p->v[p->n] = strdup(rel);
        if (!p->v[p->n])
                return -ENOMEM;
        p->n++;
        return 0;
}

/* The part of path below mnt ("" for mnt itself), or NULL when it is not below. */
static const char *below(const char *path, const char *mnt)
{
        const char *rest = streq(mnt, "/") ? path : startswith(path, mnt);

        if (!rest || (*rest != '\0' && *rest != '/'))
                return NULL;
        while (*rest == '/')
                rest++;
        return rest;
}

struct scan {
        const char *mnt;
        uint64_t mnt_id;
        struct holder_paths *paths;
        char first[PATH_MAX]; /* what this process holds, for the message */
        unsigned count;       /* entries this process holds */
};

/* /proc/<pid>/<link> (an fd, cwd or root): on the overlay? */
static int scan_link(struct scan *s, const char *link)
{
        char target[PATH_MAX];
        struct statx stx;
        const char *rel;
        ssize_t n;

        if (statx(AT_FDCWD, link, 0, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID) ||
            stx.stx_mnt_id != s->mnt_id)
                return 0;
        n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                return 0; /* gone meanwhile */
        target[n] = '\0';
        /* Removed or replaced in the merged view: the lower entry on that path is
         * still the one behind it (nothing changes the lower before the merge). */
        if ((size_t)n > strlen(DELETED) && streq(target + n - strlen(DELETED), DELETED))
                target[n - strlen(DELETED)] = '\0';
        rel = below(target, s->mnt);
        if (!rel)
                rel = ""; /* another namespace's view: at least the root is pinned */
        if (s->count++ == 0)
                snprintf(s->first, sizeof(s->first), "%s", target);
        return paths_add(s->paths, rel);
}

/* Mappings: the kernel shows the file's path; those below mnt are the overlay's. */
static int scan_maps(struct scan *s, const char *pid)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        char file[PATH_MAX + 32];
        size_t cap = 0;
        int r = 0;

        snprintf(file, sizeof(file), "/proc/%s/maps", pid);
        f = fopen(file, "re");
        if (!f)
                return 0;
        while (r == 0 && getline(&line, &cap, f) > 0) {
                char *path = strchr(line, '/');
                const char *rel;

                if (!path)
                        continue;
                path[strcspn(path, "\n")] = '\0';
                rel = below(path, s->mnt);
                if (!rel)
                        continue;
                if (s->count++ == 0)
                        snprintf(s->first, sizeof(s->first), "%s (mapped)", path);
                r = paths_add(s->paths, rel);
        }
        return r;
}

static int scan_pid(struct scan *s, const char *pid)
{
        _cleanup_closedir_ DIR *fds = NULL;
        char link[2 * NAME_MAX + 32];
        struct dirent *de;
        int r;

        s->count = 0;
        for (const char *const *l = (const char *const[]){"cwd", "root", NULL}; *l; l++) {
                snprintf(link, sizeof(link), "/proc/%s/%s", pid, *l);
                if ((r = scan_link(s, link)) < 0)
                        return r;
        }
        snprintf(link, sizeof(link), "/proc/%s/fd", pid);
        fds = opendir(link);
        while (fds && (de = readdir(fds))) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(link, sizeof(link), "/proc/%s/fd/%s", pid, de->d_name);
                if ((r = scan_link(s, link)) < 0)
                        return r;
        }
        return scan_maps(s, pid);
}

int holders_scan(const char *mnt, const char *label, struct holder_paths *paths)
{
        _cleanup_closedir_ DIR *proc = NULL;
        struct scan s = {.mnt = mnt, .paths = paths};
        char self[32], comm[64], e1[PATH_MAX];
        struct statx stx;
        struct dirent *de;
        int holders = 0, r;

        if (statx(AT_FDCWD, mnt, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
                return log_errno(errno, "%s: cannot look at %s", label, mnt);
        if (!(stx.stx_mask & STATX_MNT_ID))
                return log_errno(ENOTSUP, "%s: the kernel gives no mount id", label);
        s.mnt_id = stx.stx_mnt_id;
        proc = opendir("/proc");
        if (!proc)
                return log_errno(errno, "%s: cannot read /proc to find what holds %s", label, mnt);
        snprintf(self, sizeof(self), "%d", (int)getpid());
        for (;;) {
                _cleanup_fclose_ FILE *f = NULL;

                errno = 0;
                de = readdir(proc);
                if (!de)
                        break;

                if (!isdigit((unsigned char)de->d_name[0]) || streq(de->d_name, self))
                        continue;
                r = scan_pid(&s, de->d_name);
                if (r < 0)
                        return log_errno(r, "%s: scanning /proc", label);
                if (!s.count)
                        continue;
                holders++;
                snprintf(e1, sizeof(e1), "/proc/%s/comm", de->d_name);
                comm[0] = '\0';
                if ((f = fopen(e1, "re")) && fgets(comm, sizeof(comm), f))
                        comm[strcspn(comm, "\n")] = '\0';
                log_warning("%s: %s is held by pid %s (%s): %s%s", label, mnt, de->d_name, comm,
                            s.first, s.count > 1 ? " and more" : "");
        }
        if (errno)
                return log_errno(errno, "%s: reading /proc", label);
        return holders;
}

static int pins_add(struct merge_pins *pins, const struct stat *st)
{
        struct merge_pin *v = realloc(pins->v, (pins->n + 1) * sizeof(*v));

        if (!v)
                return -ENOMEM;
        pins->v = v;
        pins->v[pins->n++] = (struct merge_pin){.dev = st->st_dev, .ino = st->st_ino};
        return 0;
}

int holders_pins(int lowerfd, const struct holder_paths *paths, struct merge_pins *pins)
{
        for (size_t i = 0; i < paths->n; i++) {
                _cleanup_free_ char *copy = strdup(paths->v[i]);
                _cleanup_close_ int cur = -EBADF;
                char *save = NULL;
                struct stat st;
                int r;

                if (!copy)
                        return -ENOMEM;
                cur = openat(lowerfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (cur < 0 || fstat(cur, &st) < 0)
                        return -errno;
                if ((r = pins_add(pins, &st)) < 0)
                        return r;
                for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                        int next;

                        if (fstatat(cur, c, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                break; /* not in the lower: nothing there to pin */
                        if ((r = pins_add(pins, &st)) < 0)
                                return r;
                        if (!S_ISDIR(st.st_mode))
                                break;
                        next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (next < 0)
                                break;
                        safe_close(cur);
                        cur = next;
                }
        }
        return 0;
}

void holder_paths_free(struct holder_paths *paths)
{
        for (size_t i = 0; i < paths->n; i++)
                free(paths->v[i]);
        free(paths->v);
        *paths = (struct holder_paths){0};
}

void merge_pins_free(struct merge_pins *pins)
{
        free(pins->v);
        *pins = (struct merge_pins){0};
}
