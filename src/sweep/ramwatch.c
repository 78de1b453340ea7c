/* SPDX-License-Identifier: MIT */
/*
 * ramwatch: warn when the store or a managed tmpfs fills up. A warning goes out
 * once when usage crosses 80 % and once more at 95 % of the cap; the alarm re-arms
 * when usage drops back below the mark. The warning names the biggest directories
 * (first level below the mount, sizes summed over a bounded walk that never
 * leaves the mount nor follows symlinks).
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "shared/log.h"
#include "sweep/sweep.h"
#include "shared/util.h"

#define BIGGEST_N      3
#define DU_MAX_ENTRIES 1000000 /* per check: bounds the time a huge tree can take */

int ramwatch_level(uint64_t used, uint64_t cap)
{
        if (cap == 0)
                return 0;
        if (used * 100 >= cap * RAMWATCH_CRIT_PCT)
                return 2;
        if (used * 100 >= cap * RAMWATCH_WARN_PCT)
                return 1;
        return 0;
}

int ramwatch_update(int *level, int new_level)
{
        int old = *level;

        *level = new_level;
        return new_level > old ? new_level : -1;
}

struct du {
        dev_t dev;
        uint64_t entries;
};

static int open_below(int dfd, const char *name)
{
        struct open_how how = {
            .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS,
        };
        int fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof(how));

        if (fd < 0 && (errno == ENOSYS || errno == EPERM))
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd;
}

/* Bytes allocated below dirfd (not counting dirfd itself). */
static uint64_t du_dir(struct du *du, int fd, unsigned depth, unsigned max_depth)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        uint64_t sum = 0;

        d = fdopendir_or_close(fcntl(fd, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return 0;
        while ((de = readdir(d)) && du->entries < DU_MAX_ENTRIES) {
                struct stat st;

                if (dot_or_dotdot(de->d_name))
                        continue;
                du->entries++;
                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != du->dev)
                        continue;
                sum += (uint64_t)st.st_blocks * 512;
                if (S_ISDIR(st.st_mode) && depth < max_depth) {
                        _cleanup_close_ int sub = open_below(fd, de->d_name);
                        if (sub >= 0)
                                sum += du_dir(du, sub, depth + 1, max_depth);
                }
        }
        return sum;
}

struct big {
        char name[NAME_MAX + 1];
        uint64_t bytes;
};

static void biggest_dirs(int fd, dev_t dev, unsigned max_depth, struct big top[BIGGEST_N])
{
        _cleanup_closedir_ DIR *d = NULL;
        struct du du = {.dev = dev};
        struct dirent *de;

        d = fdopendir_or_close(fcntl(fd, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_close_ int sub = -EBADF;
                struct stat st;
                uint64_t bytes;

                if (dot_or_dotdot(de->d_name))
                        continue;
                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev ||
                    !S_ISDIR(st.st_mode))
                        continue;
                sub = open_below(fd, de->d_name);
                if (sub < 0)
                        continue;
                bytes = (uint64_t)st.st_blocks * 512 + du_dir(&du, sub, 1, max_depth);
                for (unsigned i = 0; i < BIGGEST_N; i++) {
                        if (bytes <= top[i].bytes)
                                continue;
                        memmove(&top[i + 1], &top[i], sizeof(top[0]) * (BIGGEST_N - 1 - i));
                        snprintf(top[i].name, sizeof(top[i].name), "%s", de->d_name);
                        top[i].bytes = bytes;
                        break;
                }
        }
}

int ramwatch_check(struct ramwatch_entry *e, unsigned max_depth)
{
        _cleanup_close_ int fd = -EBADF;
        struct big top[BIGGEST_N] = {0};
        struct statvfs sv;
        struct statfs sfs;
        struct stat st;
        char used_s[32], cap_s[32], list[BIGGEST_N * (NAME_MAX + 40)] = "";
        uint64_t used, cap;
        int rose;

        fd = open(e->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fstatvfs(fd, &sv) < 0 || fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
                return -errno;
        if (sfs.f_type != TMPFS_MAGIC)
                return 0; /* only RAM is watched */
        cap = (uint64_t)sv.f_blocks * sv.f_frsize;
        used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
        rose = ramwatch_update(&e->level, ramwatch_level(used, cap));
        if (rose < 0)
                return 0;
        biggest_dirs(fd, st.st_dev, max_depth, top);
        for (unsigned i = 0; i < BIGGEST_N && top[i].bytes; i++) {
                char sz[32];
                size_t len = strlen(list);

                if (snprintf(list + len, sizeof(list) - len, "%s%s (%s)", i ? ", " : "",
                             top[i].name, format_size(top[i].bytes, sz, sizeof(sz))) < 0)
                        break;
        }
        log_warning("%s is %llu%% full (%s of %s, over %d%%); biggest directories: %s", e->path,
                    (unsigned long long)(used * 100 / cap),
                    format_size(used, used_s, sizeof(used_s)),
                    format_size(cap, cap_s, sizeof(cap_s)),
                    rose == 2 ? RAMWATCH_CRIT_PCT : RAMWATCH_WARN_PCT, *list ? list : "(none)");
        return rose;
}

/* The multi-call binary next to this one (or this one, when it is `ephemeral`). */
static void ephemeral_path(char *out, size_t len)
{
        char self[PATH_MAX - 16];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash;

        if (n <= 0) {
                snprintf(out, len, "ephemeral");
                return;
        }
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash && streq(slash + 1, "ephemeral")) {
                snprintf(out, len, "%s", self);
                return;
        }
        if (slash)
                *slash = '\0';
        snprintf(out, len, "%s/ephemeral", slash ? self : ".");
}

void ramwatch_reap(void)
{
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

int ramwatch_trigger_checkpoint(const char *root, const char *store)
{
        char bin[PATH_MAX];
        pid_t pid;

        /* A systemd service is sandboxed (no mknod, no trusted.* xattrs): there
         * the checkpoint timer's `--if-due` run sees the full store within a minute. */
        if (getenv("INVOCATION_ID")) {
                log_notice("the store is filling up: ephemeral-checkpoint.timer records a "
                           "checkpoint within a minute");
                return 0;
        }
        ephemeral_path(bin, sizeof(bin));
        pid = fork();
        if (pid < 0)
                return log_errno(errno, "cannot start a checkpoint");
        if (pid == 0) {
                execl(bin, "ephemeral", "checkpoint", "--root", root, "--store", store,
                      (char *)NULL);
                _exit(127);
        }
        log_notice("the store is filling up: recording a checkpoint (%s checkpoint)", bin);
        return 0;
}
