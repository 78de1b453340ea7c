/* SPDX-License-Identifier: MIT */
/*
 * walk: one sweeping pass over a root directory. Every system call is relative to a
 * directory fd pinned on the way down (never a built path): subdirectories are
 * entered with openat2(RESOLVE_BENEATH|RESOLVE_NO_XDEV|RESOLVE_NO_SYMLINKS) and their
 * dev/ino compared with what statx saw, so a symlink or mount swapped in mid-walk
 * cannot redirect a deletion. Mounts are never crossed (other st_dev, another mount
 * id, or a mount root). Regular files are unlinked while we hold a write lease on
 * them (see inuse.c), after re-checking inode and age on the open file; empty stale
 * directories go deepest first and each parent gets its times back. Depth, deletions
 * and run time per pass are bounded; memory is one getdents buffer per level plus
 * the fixed in-use set.
 *
 * Cost per entry (what makes a pass cheap): the d_type from getdents skips sockets,
 * FIFOs and devices without a system call; every other entry costs one statx by
 * name (a directory one more, the statx of the opened fd, and one in restore_times
 * when nothing was removed from it), and only a stale regular file more: open,
 * lease, statx of the open file, lease check, statx by name, unlink, close (8 in
 * all). Directories are not opened before that statx: opening a name could trigger
 * an automount, which statx with AT_NO_AUTOMOUNT does not. Paths are put together
 * only for messages.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <time.h>

#include "shared/log.h"
#include "sweep/sweep.h"
#include "shared/util.h"

#define STATX_WANT (STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID)

int64_t now_mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t now_real_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static dev_t sx_dev(const struct statx *sx)
{
        return makedev(sx->stx_dev_major, sx->stx_dev_minor);
}

static int statx_nofollow(int dfd, const char *name, struct statx *ret)
{
        int flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_SYNC_AS_STAT;

        if (*name == '\0')
                flags |= AT_EMPTY_PATH;
        if (statx(dfd, name, flags, STATX_WANT, ret) < 0)
                return -errno;
        return 0;
}

static bool same_entry(const struct statx *a, const struct statx *b)
{
        return a->stx_ino == b->stx_ino && sx_dev(a) == sx_dev(b);
}

static bool is_other_mount(const struct sweep_pass *p, const struct statx *sx)
{
        if (sx_dev(sx) != p->root_dev)
                return true;
        if ((sx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
            (sx->stx_attributes & STATX_ATTR_MOUNT_ROOT))
                return true;
        return (sx->stx_mask & STATX_MNT_ID) && sx->stx_mnt_id != p->root_mnt_id;
}

static int64_t cutoff_ns(const struct sweep_pass *p)
{
        return p->opts->now_ns - (int64_t)p->opts->age_min * 60 * 1000000000LL;
}

static bool is_stale(const struct sweep_pass *p, const struct statx *sx)
{
        struct entry_times t;

        entry_times_from_statx(sx, &t);
        return entry_is_stale(&t, S_ISDIR(sx->stx_mode), cutoff_ns(p));
}

/* The path of the current entry (root/names...), for messages. */
static const char *entry_path(struct sweep_pass *p)
{
        size_t len = (size_t)snprintf(p->path, sizeof(p->path), "%s", p->root ? p->root : "");
        unsigned n = p->n_names < SWEEP_MAX_NAMES ? p->n_names : SWEEP_MAX_NAMES;

        for (unsigned i = 0; i < n && len < sizeof(p->path); i++)
                len += (size_t)snprintf(p->path + len, sizeof(p->path) - len, "%s%s",
                                        len && p->path[len - 1] == '/' ? "" : "/", p->names[i]);
        return p->path;
}

/* The clock is read every this many entries, not for each. */
#define CLOCK_EVERY 64

static bool must_stop(struct sweep_pass *p)
{
        if (p->stop && *p->stop) {
                p->stats.truncated = true;
                return true;
        }
        if (p->deletes >= p->opts->max_deletes) {
                if (!p->stats.truncated)
                        log_warning("%s: reached %llu deletions in this pass, continuing next pass",
                                    entry_path(p), (unsigned long long)p->opts->max_deletes);
                p->stats.truncated = true;
                return true;
        }
        if (p->until_clock > 0) {
                p->until_clock--;
                return false;
        }
        p->until_clock = CLOCK_EVERY - 1;
        if (now_mono_ns() > p->deadline_mono_ns) {
                if (!p->stats.truncated)
                        log_warning("%s: pass ran for %llus, continuing next pass", entry_path(p),
                                    (unsigned long long)p->opts->max_seconds);
                p->stats.truncated = true;
                return true;
        }
        return false;
}

static bool in_use_by_proc(struct sweep_pass *p, const struct statx *sx)
{
        if (!p->inuse->scanned) {
                int r = inuse_set_scan(p->inuse, p->opts->proc);
                if (r < 0)
                        log_warning_errno(r, "cannot scan %s; keeping directories and symlinks",
                                          p->opts->proc);
        }
        return inuse_set_contains(p->inuse, sx_dev(sx), sx->stx_ino);
}

static void note_removed(struct sweep_pass *p, const struct statx *sx)
{
        p->deletes++;
        if (S_ISDIR(sx->stx_mode))
                p->stats.dirs++;
        else if (S_ISLNK(sx->stx_mode))
                p->stats.symlinks++;
        else
                p->stats.files++;
        if (p->opts->dry_run)
                log_info("would remove %s", entry_path(p));
        else if (p->opts->verbose)
                log_info("removed %s", entry_path(p));
}

static void note_kept(struct sweep_pass *p, const char *why)
{
        p->stats.in_use++;
        if (p->opts->verbose || p->opts->dry_run)
                log_info("keeping %s (%s)", entry_path(p), why);
}

/* Unlink dfd/name if it still is the inode we checked. Returns 1 removed, 0 kept. */
static int unlink_checked(struct sweep_pass *p, int dfd, const char *name,
                          const struct statx *expect, int flags)
{
        struct statx now;

        if (statx_nofollow(dfd, name, &now) < 0 || !same_entry(&now, expect))
                return 0;
        if (!p->opts->dry_run && unlinkat(dfd, name, flags) < 0) {
                if (errno == ENOENT || errno == ENOTEMPTY || errno == EEXIST || errno == EBUSY)
                        return 0;
                log_warning_errno(errno, "cannot remove %s", entry_path(p));
                p->stats.errors++;
                return 0;
        }
        note_removed(p, expect);
        return 1;
}

static int sweep_regular(struct sweep_pass *p, int dfd, const char *name, const struct statx *sx)
{
        _cleanup_close_ int fd = -EBADF;
        enum probe_result probe;
        struct statx fresh;

        if (lease_list_contains(p->leases, sx_dev(sx), sx->stx_ino)) {
                note_kept(p, "leased");
                return 0;
        }
        probe = probe_regular(dfd, name, sx, p->root_nodev, &fd, &fresh);
        switch (probe) {
        case PROBE_GONE:
                return 0;
        case PROBE_BUSY:
                note_kept(p, "open, mapped, leased or locked");
                return 0;
        case PROBE_NO_LEASE:
                if (in_use_by_proc(p, sx)) {
                        note_kept(p, "open or mapped");
                        return 0;
                }
                /* No lease holds it still: look at the open file again after the scan. */
                if (statx_nofollow(fd, "", &fresh) < 0)
                        return 0;
                break;
        case PROBE_FREE:
                break;
        }
        /* The last word is the open file's (taken under the lease): same inode, still
         * a plain stale file. */
        if (!same_entry(&fresh, sx) || !S_ISREG(fresh.stx_mode) || (fresh.stx_mode & S_ISVTX) ||
            !is_stale(p, &fresh))
                return 0;
        /* Someone started opening it since we took the lease (the kernel is breaking
         * it; their open waits for us): it is in use after all. */
        if (probe == PROBE_FREE && fcntl(fd, F_GETLEASE) != F_WRLCK) {
                note_kept(p, "being opened");
                return 0;
        }
        return unlink_checked(p, dfd, name, &fresh, 0);
}

static int sweep_symlink(struct sweep_pass *p, int dfd, const char *name, const struct statx *sx)
{
        /* Judged by its own times; an O_PATH fd on the link itself keeps it. */
        if (in_use_by_proc(p, sx)) {
                note_kept(p, "open");
                return 0;
        }
        return unlink_checked(p, dfd, name, sx, 0);
}

/* Enter dfd/name, which statx described as sx, without following anything. */
static int open_subdir(int dfd, const char *name, const struct statx *sx)
{
        struct open_how how = {
            .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
            .resolve =
                RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int fd = -EBADF;
        struct statx now;

        fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof(how));
        if (fd < 0 && (errno == ENOSYS || errno == EPERM))
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (statx_nofollow(fd, "", &now) < 0)
                return -errno;
        if (!same_entry(&now, sx))
                return -ESTALE;
        return take_fd(&fd);
}

static int sweep_dir(struct sweep_pass *p, int fd, const struct statx *self, unsigned depth,
                     uint64_t *ret_remaining);

/* Returns 1 when the directory was removed. */
static int sweep_subdir(struct sweep_pass *p, int dfd, const char *name, const struct statx *sx,
                        unsigned depth)
{
        _cleanup_close_ int fd = -EBADF;
        uint64_t remaining = 0;

        if (streq(name, "lost+found"))
                return 0;
        if (depth >= p->opts->max_depth) {
                if (!p->stats.truncated)
                        log_warning("%s: deeper than %u levels, not descending", entry_path(p),
                                    p->opts->max_depth);
                p->stats.truncated = true;
                return 0;
        }
        fd = open_subdir(dfd, name, sx);
        if (fd < 0) {
                if (fd != -ENOENT && fd != -ESTALE && fd != -ELOOP && fd != -EXDEV &&
                    fd != -ENOTDIR) {
                        log_warning_errno(fd, "cannot open %s", entry_path(p));
                        p->stats.errors++;
                }
                return 0;
        }
        /* Somebody holds flock() on it: the whole tree is theirs (as systemd-tmpfiles).
         * Ours is held until the directory is done, removal included. */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
                p->stats.locked++;
                if (p->opts->verbose || p->opts->dry_run)
                        log_info("keeping %s (locked)", entry_path(p));
                return 0;
        }
        sweep_dir(p, fd, sx, depth + 1, &remaining);
        if (remaining > 0 || (sx->stx_mode & S_ISVTX) || !is_stale(p, sx) || must_stop(p))
                return 0;
        if (in_use_by_proc(p, sx)) {
                note_kept(p, "a process's cwd, root or open directory");
                return 0;
        }
        return unlink_checked(p, dfd, name, sx, AT_REMOVEDIR);
}

/* Returns 1 when the entry was removed, 0 when it stays. type: the d_type getdents
 * gave (DT_UNKNOWN where the filesystem does not say). */
static int sweep_entry(struct sweep_pass *p, int dfd, const char *name, unsigned char type,
                       unsigned depth)
{
        struct statx sx;
        int r;

        /* Sockets, FIFOs and devices are never removed: no need to look closer. Had
         * one been replaced since getdents, keeping the new entry is the safe side. */
        if (type == DT_SOCK || type == DT_FIFO || type == DT_CHR || type == DT_BLK)
                return 0;
        if (protect_first_may_match(&p->protect_first, name) &&
            name_is_protected(name, p->opts->protect, p->opts->n_protect))
                return 0;
        r = statx_nofollow(dfd, name, &sx);
        if (r < 0) {
                if (r == -ENOENT)
                        return 1; /* gone meanwhile: it does not keep the parent */
                log_warning_errno(r, "cannot stat %s", entry_path(p));
                p->stats.errors++;
                return 0;
        }
        if (is_other_mount(p, &sx))
                return 0;
        if (S_ISDIR(sx.stx_mode))
                return sweep_subdir(p, dfd, name, &sx, depth);
        if (sx.stx_mode & S_ISVTX)
                return 0;
        if (!S_ISREG(sx.stx_mode) && !S_ISLNK(sx.stx_mode))
                return 0; /* sockets, FIFOs, devices */
        if (!is_stale(p, &sx))
                return 0;
        if (S_ISLNK(sx.stx_mode))
                return sweep_symlink(p, dfd, name, &sx);
        return sweep_regular(p, dfd, name, &sx);
}

static void restore_times(struct sweep_pass *p, int fd, const struct statx *before, bool removed)
{
        struct statx now;
        struct timespec ts[2] = {
            {before->stx_atime.tv_sec, before->stx_atime.tv_nsec},
            {before->stx_mtime.tv_sec, before->stx_mtime.tv_nsec},
        };

        /* Our readdir may have bumped atime, our unlinks mtime: put them back so the
         * sweep itself never makes a directory look fresh (in a dry run too: that
         * undoes our own side effect, it deletes nothing). After a removal both are
         * set back anyway; otherwise only a changed atime is worth a write. */
        if (!removed) {
                if (statx_nofollow(fd, "", &now) < 0 ||
                    (now.stx_atime.tv_sec == before->stx_atime.tv_sec &&
                     now.stx_atime.tv_nsec == before->stx_atime.tv_nsec))
                        return;
                ts[1].tv_nsec = UTIME_OMIT;
        }
        if (futimens(fd, ts) < 0)
                log_warning_errno(errno, "cannot restore the times of %s", entry_path(p));
}

/* One level's getdents64 buffer: about 300 entries of short names per call. */
#define DIRENT_BUF_SIZE 8192

static int sweep_dir(struct sweep_pass *p, int fd, const struct statx *self, unsigned depth,
                     uint64_t *ret_remaining)
{
        _cleanup_free_ char *buf = malloc(DIRENT_BUF_SIZE);
        uint64_t remaining = 0;
        bool removed = false, stopped = false;
        ssize_t n = 0;

        *ret_remaining = 1; /* unread: not known to be empty */
        if (!buf)
                return log_warning_errno(ENOMEM, "cannot read %s", entry_path(p));
        /* getdents64 on our own fd (no DIR: its fstat, dup and 32 KiB buffer buy
         * nothing here); the names stay in buf while the level is worked on. */
        while (!stopped && (n = getdents64(fd, buf, DIRENT_BUF_SIZE)) > 0) {
                for (ssize_t off = 0; off < n;) {
                        const struct dirent64 *de = (const struct dirent64 *)(buf + off);
                        int r;

                        off += de->d_reclen;
                        if (dot_or_dotdot(de->d_name))
                                continue;
                        if (must_stop(p)) {
                                remaining++;
                                stopped = true;
                                break;
                        }
                        if (p->n_names < SWEEP_MAX_NAMES)
                                p->names[p->n_names] = de->d_name;
                        p->n_names++;
                        r = sweep_entry(p, fd, de->d_name, de->d_type, depth);
                        p->n_names--;
                        if (r > 0)
                                removed = true;
                        else
                                remaining++;
                }
        }
        if (!stopped && n < 0) {
                /* What was not read may still be there: the dir is not empty. */
                log_warning_errno(errno, "cannot read %s to its end", entry_path(p));
                p->stats.errors++;
                remaining++;
        }
        restore_times(p, fd, self, removed && !p->opts->dry_run);
        *ret_remaining = remaining;
        return 0;
}

/* Open the dir at path (absolute, or relative to the cwd) following no symlink
 * in any component. */
static int open_path_nofollow(const char *path)
{
        _cleanup_close_ int top = -EBADF;

        if (path[0] != '/')
                return open_dir_beneath(AT_FDCWD, path, O_RDONLY);
        top = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (top < 0)
                return -errno;
        return open_dir_beneath(top, path, O_RDONLY);
}

int sweep_root(struct sweep_pass *p, const char *root)
{
        _cleanup_close_ int fd = -EBADF;
        struct statfs sfs;
        struct statx sx;
        uint64_t remaining;
        int r;

        /* Errors with the root itself are returned, not logged: the caller logs
         * them once, not every pass. The root is opened with the rules of
         * everything below it: a configured dir that does not exist yet may be a
         * user's symlink to another tmpfs (-ELOOP). */
        fd = open_path_nofollow(root);
        if (fd < 0)
                return fd;
        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        if (sfs.f_type != TMPFS_MAGIC && !p->opts->any_fs)
                return -EMEDIUMTYPE;
        r = statx_nofollow(fd, "", &sx);
        if (r < 0)
                return r;
        p->root_dev = sx_dev(&sx);
        p->root_nodev = (sfs.f_flags & ST_NODEV) != 0;
        p->root_mnt_id = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
        inuse_set_watch_dev(p->inuse, p->root_dev);
        p->root = root;
        p->n_names = 0;
        protect_first_init(&p->protect_first, p->opts->protect, p->opts->n_protect);
        return sweep_dir(p, fd, &sx, 0, &remaining);
}
