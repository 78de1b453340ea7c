/* SPDX-License-Identifier: MIT */
/*
 * inuse: is anybody using this file? For regular files the kernel answers: a write
 * lease (F_SETLEASE F_WRLCK) is refused with EAGAIN while any other open file
 * description of the inode exists, in any PID or mount namespace, and a mapping
 * keeps its file description alive after close(), so mapped files are refused too.
 * Held across unlinkat(), the lease also makes a new opener wait until we are done.
 * Where leases cannot apply (directories, symlinks, filesystems or permissions that
 * refuse them) one scan of /proc per pass collects the (dev, ino) of every open fd,
 * mapped file, cwd and root into a fixed-size set.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/sysmacros.h>

#include "sweep/sweep.h"
#include "shared/util.h"

void inuse_set_reset(struct inuse_set *s)
{
        /* Only slots that were filled are dirty: most passes never scan /proc (the
         * leases answer), and clearing 256 KiB would put it all in our RSS. */
        if (s->count > 0)
                memset(s->slots, 0, sizeof(s->slots));
        s->count = 0;
        s->full = false;
        s->scanned = false;
        s->n_devs = 0;
}

void inuse_set_watch_dev(struct inuse_set *s, dev_t dev)
{
        for (unsigned i = 0; i < s->n_devs; i++)
                if (s->devs[i] == dev)
                        return;
        if (s->n_devs < INUSE_MAX_DEVS) {
                s->devs[s->n_devs++] = dev;
                s->scanned = false; /* a scan done before did not record this device */
        }
}

static bool watched(const struct inuse_set *s, dev_t dev)
{
        for (unsigned i = 0; i < s->n_devs; i++)
                if (s->devs[i] == dev)
                        return true;
        return false;
}

static unsigned slot_of(dev_t dev, ino_t ino)
{
        uint64_t h =
            ((uint64_t)ino * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)dev * 0xC2B2AE3D27D4EB4FULL);

        return (unsigned)(h >> 32) & (INUSE_SET_SLOTS - 1);
}

int inuse_set_add(struct inuse_set *s, dev_t dev, ino_t ino)
{
        unsigned i = slot_of(dev, ino);

        if (!watched(s, dev))
                return 0;
        if (dev == 0 && ino == 0)
                return 0;
        for (unsigned n = 0; n < INUSE_SET_SLOTS; n++, i = (i + 1) & (INUSE_SET_SLOTS - 1)) {
                struct inuse_key *k = &s->slots[i];

                if (k->dev == dev && k->ino == ino)
                        return 0;
                if (k->dev == 0 && k->ino == 0) {
                        /* Keep a quarter free so probing stays short; beyond that the
                         * set is "full" and every lookup answers "in use". */
                        if (s->count >= INUSE_SET_SLOTS / 4 * 3) {
                                s->full = true;
                                return -ENOSPC;
                        }
                        *k = (struct inuse_key){dev, ino};
                        s->count++;
                        return 1;
                }
        }
        s->full = true;
        return -ENOSPC;
}

bool inuse_set_contains(const struct inuse_set *s, dev_t dev, ino_t ino)
{
        unsigned i = slot_of(dev, ino);

        if (s->full)
                return true;
        for (unsigned n = 0; n < INUSE_SET_SLOTS; n++, i = (i + 1) & (INUSE_SET_SLOTS - 1)) {
                const struct inuse_key *k = &s->slots[i];

                if (k->dev == dev && k->ino == ino)
                        return true;
                if (k->dev == 0 && k->ino == 0)
                        return false;
        }
        return false;
}

/* Add the target of every magic link in pid/sub (fd/ or map_files/). */
static void scan_links(struct inuse_set *s, int piddfd, const char *sub)
{
        _cleanup_close_ int fd = openat(piddfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d)
                return;
        take_fd(&fd);
        while ((errno = 0, de = readdir(d))) {
                struct stat st;

                if (dot_or_dotdot(de->d_name))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) == 0)
                        inuse_set_add(s, st.st_dev, st.st_ino);
        }
        /* Cut short (not a process that just exited): nothing is proven unused. */
        if (errno != 0 && errno != ENOENT && errno != ESRCH)
                s->full = true;
}

/* map_files/ needs CAP_SYS_ADMIN; /proc/pid/maps names device and inode for all. */
static void scan_maps(struct inuse_set *s, int piddfd)
{
        _cleanup_close_ int fd = openat(piddfd, "maps", O_RDONLY | O_CLOEXEC);
        _cleanup_fclose_ FILE *f = NULL;
        char line[512];

        if (fd < 0)
                return;
        f = fdopen(fd, "r");
        if (!f)
                return;
        take_fd(&fd);
        while (fgets(line, sizeof(line), f)) {
                unsigned maj, min;
                unsigned long long ino;

                if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &ino) == 3 && ino)
                        inuse_set_add(s, makedev(maj, min), (ino_t)ino);
                /* A line longer than the buffer: skip its rest. */
                while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
                        ;
        }
}

int inuse_set_scan(struct inuse_set *s, const char *proc)
{
        _cleanup_closedir_ DIR *d = opendir(proc);
        struct dirent *de;
        char self[32];

        s->scanned = true;
        /* Our own fds are the directories being walked: not a reason to keep them. */
        snprintf(self, sizeof(self), "%d", (int)getpid());
        if (!d) {
                /* No /proc: nothing can be proven unused. */
                s->full = true;
                return -errno;
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_close_ int pfd = -EBADF;
                struct stat st;

                if (de->d_name[0] < '0' || de->d_name[0] > '9' || streq(de->d_name, self))
                        continue;
                pfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (pfd < 0)
                        continue;
                scan_links(s, pfd, "fd");
                scan_maps(s, pfd);
                if (fstatat(pfd, "cwd", &st, 0) == 0)
                        inuse_set_add(s, st.st_dev, st.st_ino);
                if (fstatat(pfd, "root", &st, 0) == 0)
                        inuse_set_add(s, st.st_dev, st.st_ino);
        }
        if (errno != 0) {
                s->full = true; /* not every process seen: nothing is proven unused */
                return -errno;
        }
        return (int)s->count;
}

int lease_list_load(struct lease_list *l, const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[256];

        l->n = 0;
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                char type[16], *tok, *save = NULL;

                /* "1: LEASE  ACTIVE    WRITE 2266 00:2d:12 0 EOF" */
                if (sscanf(line, "%*d: %15s", type) != 1 ||
                    (!streq(type, "LEASE") && !streq(type, "DELEG")))
                        continue;
                for (tok = strtok_r(line, " \t\n", &save); tok;
                     tok = strtok_r(NULL, " \t\n", &save)) {
                        unsigned maj, min;
                        unsigned long long ino;
                        int end = 0;

                        if (sscanf(tok, "%x:%x:%llu%n", &maj, &min, &ino, &end) == 3 &&
                            tok[end] == '\0') {
                                if (l->n < LEASE_LIST_MAX)
                                        l->keys[l->n++] =
                                            (struct inuse_key){makedev(maj, min), ino};
                                break;
                        }
                }
        }
        return (int)l->n;
}

bool lease_list_contains(const struct lease_list *l, dev_t dev, ino_t ino)
{
        for (unsigned i = 0; l && i < l->n; i++)
                if (l->keys[i].dev == dev && l->keys[i].ino == ino)
                        return true;
        return false;
}

static bool same_inode(const struct stat *st, const struct statx *sx)
{
        return st->st_dev == makedev(sx->stx_dev_major, sx->stx_dev_minor) &&
               st->st_ino == sx->stx_ino;
}

/* Open dfd/name for the lease without side effects. On a nodev filesystem nothing
 * opened by name can be a device, O_NONBLOCK keeps a FIFO from blocking and a socket
 * fails with ENXIO: open it directly (the fast path; probe_regular checks the inode
 * on the open file). Elsewhere a device could have been swapped in: O_PATH opens
 * nothing, so check the inode first and reopen exactly that inode through
 * /proc/self/fd. */
static int open_for_lease(int dfd, const char *name, const struct statx *sx, bool nodev)
{
        _cleanup_close_ int pfd = -EBADF, fd = -EBADF;
        char magic[64];
        struct stat st;

        if (!nodev) {
                pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (pfd < 0)
                        return -errno;
                if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode) || !same_inode(&st, sx))
                        return -ESTALE;
                snprintf(magic, sizeof(magic), "/proc/self/fd/%d", pfd);
                fd = open(magic, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                if (fd >= 0 || errno != ENOENT)
                        return fd >= 0 ? take_fd(&fd) : -errno;
                /* No /proc: by name after all, checked in probe_regular. */
        }
        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        return fd >= 0 ? take_fd(&fd) : -errno;
}

enum probe_result probe_regular(int dfd, const char *name, const struct statx *sx, bool nodev,
                                int *ret_fd, struct statx *ret_sx)
{
        _cleanup_close_ int fd = -EBADF;
        struct statx now;
        bool leased;

        fd = open_for_lease(dfd, name, sx, nodev);
        if (fd == -ESTALE)
                return PROBE_GONE;
        if (fd < 0) {
                /* EWOULDBLOCK: someone holds a lease on it, i.e. it is in use. */
                if (fd == -EWOULDBLOCK)
                        return PROBE_BUSY;
                if (fd == -ENOENT || fd == -ELOOP)
                        return PROBE_GONE;
                return PROBE_NO_LEASE; /* e.g. EACCES: let /proc decide */
        }
        leased = fcntl(fd, F_SETLEASE, F_WRLCK) == 0;
        /* EAGAIN: another open file description of the inode exists (an open fd or a
         * mapping anywhere). Other errors: EINVAL (fs, or not a regular file),
         * EPERM/EACCES (not owner, no CAP_LEASE). */
        if (!leased && (errno == EAGAIN || errno == EBUSY))
                return PROBE_BUSY;
        /* The inode as the open file sees it, after the lease: the one we judged,
         * still a regular file (else it was replaced: our lease goes with the fd). */
        if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME,
                  &now) < 0 ||
            !S_ISREG(now.stx_mode) || now.stx_ino != sx->stx_ino ||
            now.stx_dev_major != sx->stx_dev_major || now.stx_dev_minor != sx->stx_dev_minor)
                return PROBE_GONE;
        /* Honour flock(1) like systemd-tmpfiles: a locked file is in use. A granted
         * write lease already proves it: flock(2) needs a descriptor opened for
         * reading or writing, and any such open file description other than ours
         * makes the kernel refuse the lease. Without a lease, ask flock itself (our
         * lock goes away with the fd). */
        if (!leased && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
                return PROBE_BUSY;
        *ret_sx = now;
        *ret_fd = take_fd(&fd);
        return leased ? PROBE_FREE : PROBE_NO_LEASE;
}
