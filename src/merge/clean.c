/* SPDX-License-Identifier: MIT */
/*
 * merge-clean: temporary names, recursive removal that never follows a symlink nor
 * leaves its filesystem, and the cleanup of an interrupted flush's leftovers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "shared/log.h"
#include "merge/internal.h"
#include "shared/util.h"

void merge_tmp_name(struct merge_ctx *c, char out[MERGE_TMP_LEN + 1])
{
        if (c->tmp_counter == 0) {
                uint64_t seed = 0;
                if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
                        seed = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
                c->tmp_counter = seed | 1;
        }
        snprintf(out, MERGE_TMP_LEN + 1, "%s%016" PRIx64, MERGE_TMP_PREFIX, c->tmp_counter++);
}

bool merge_is_tmp_name(const char *name)
{
        const char *p = startswith(name, MERGE_TMP_PREFIX);
        if (!p || strlen(p) != MERGE_TMP_HEX)
                return false;
        for (; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

int merge_is_mount_root(int dfd, const char *name)
{
        struct statx stx;

        if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &stx) < 0)
                /* Before 4.11 there is no statx, as before 5.8 there is no mount-root
                 * attribute: st_dev is all there is. Any other error: cannot tell. */
                return errno == ENOSYS ? 0 : -errno;
        return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
               (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

int merge_stat_mount(int dfd, const char *name, struct stat *st)
{
        struct statx stx;

        if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) < 0) {
                if (errno != ENOSYS)
                        return -errno;
                /* Before 4.11: st_dev is all there is (see merge_is_mount_root). */
                return fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
        }
        *st = (struct stat){
            .st_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor),
            .st_ino = stx.stx_ino,
            .st_mode = stx.stx_mode,
            .st_nlink = stx.stx_nlink,
            .st_uid = stx.stx_uid,
            .st_gid = stx.stx_gid,
            .st_rdev = makedev(stx.stx_rdev_major, stx.stx_rdev_minor),
            .st_size = (off_t)stx.stx_size,
            .st_blksize = (blksize_t)stx.stx_blksize,
            .st_blocks = (blkcnt_t)stx.stx_blocks,
            .st_atim = {.tv_sec = stx.stx_atime.tv_sec, .tv_nsec = stx.stx_atime.tv_nsec},
            .st_mtim = {.tv_sec = stx.stx_mtime.tv_sec, .tv_nsec = stx.stx_mtime.tv_nsec},
            .st_ctim = {.tv_sec = stx.stx_ctime.tv_sec, .tv_nsec = stx.stx_ctime.tv_nsec},
        };
        return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
               (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* 0 when dfd/name (a dir with stat st) is on dev and no mount root, else -EXDEV
 * or the error that kept us from telling. */
static int check_same_mount(int dfd, const char *name, const struct stat *st, dev_t dev)
{
        int r;

        if (st->st_dev != dev)
                return -EXDEV;
        r = merge_is_mount_root(dfd, name);
        return r < 0 ? r : r > 0 ? -EXDEV : 0;
}

/* merge_rm_rf, or with count NULL merge_check_removable. */
static int rm_rf(int dfd, const char *name, dev_t dev, uint64_t *count)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct stat st;
        struct dirent *de;
        int r = 0;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode)) {
                if (!count)
                        return 0;
                if (unlinkat(dfd, name, 0) < 0)
                        return errno == ENOENT ? 0 : -errno;
                (*count)++;
                return 0;
        }
        r = check_same_mount(dfd, name, &st, dev);
        if (r < 0)
                return r; /* a mount point (or maybe one): never leave the filesystem */
        d = fdopendir_or_close(openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d))) {
                int k;
                if (dot_or_dotdot(de->d_name))
                        continue;
                k = rm_rf(dirfd(d), de->d_name, dev, count);
                if (k < 0 && !count)
                        return k;
                if (k < 0 && r == 0)
                        r = k;
        }
        if (errno != 0 && r == 0)
                r = -errno;
        if (r < 0 || !count)
                return r;
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
                return -errno;
        (*count)++;
        return 0;
}

int merge_rm_rf(int dfd, const char *name, dev_t dev, uint64_t *count)
{
        return rm_rf(dfd, name, dev, count);
}

int merge_check_removable(int dfd, const char *name, dev_t dev)
{
        return rm_rf(dfd, name, dev, NULL);
}

static int remove_tmps(int dfd, const char *name, dev_t dev, const char *label, uint64_t *count);

/* remove_tmps in the subdir dfd/name, unless it is not a dir or on another mount.
 * Logs its failures. */
static int remove_tmps_below(int dfd, const char *name, dev_t dev, const char *label,
                             uint64_t *count)
{
        _cleanup_close_ int sub = -EBADF;
        struct stat st;
        int r;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return log_errno(errno, "%s: cannot remove leftovers in '%s'", label, name);
        if (!S_ISDIR(st.st_mode))
                return 0;
        r = check_same_mount(dfd, name, &st, dev);
        if (r == -EXDEV)
                return 0; /* another filesystem: no temporaries of ours */
        if (r < 0)
                return log_errno(r, "%s: cannot remove leftovers in '%s'", label, name);
        sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
                return log_errno(errno, "%s: cannot remove leftovers in '%s'", label, name);
        return remove_tmps(sub, name, dev, label, count);
}

/* Remove every temporary below dfd (named name, "" for the root; recursing into
 * subdirs on dev). Logs its failures. A dir that cannot be read to its end is a
 * failure: a temporary in it would stay with no marker left to find it. */
static int remove_tmps(int dfd, const char *name, dev_t dev, const char *label, uint64_t *count)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        d = fdopendir_or_close(openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d)
                return log_errno(errno, "%s: cannot remove leftovers in '%s'", label, name);
        while ((errno = 0, de = readdir(d))) {
                int k = 0;

                if (dot_or_dotdot(de->d_name))
                        continue;
                if (merge_is_tmp_name(de->d_name)) {
                        k = merge_rm_rf(dirfd(d), de->d_name, dev, count);
                        if (k < 0)
                                log_errno(k, "%s: cannot remove leftovers in '%s'", label,
                                          de->d_name);
                } else if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
                        k = remove_tmps_below(dirfd(d), de->d_name, dev, label, count);
                }
                if (k < 0 && r == 0)
                        r = k;
        }
        if (errno != 0)
                return log_errno(errno, "%s: cannot remove leftovers in '%s'", label, name);
        return r;
}

int merge_cleanup(int lowerfd, const char *label)
{
        struct stat st;
        uint64_t count = 0;
        int r;

        if (fstatat(lowerfd, MERGE_MARKER, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_errno(errno, "%s: cannot check for %s", label, MERGE_MARKER);
        }
        if (fstat(lowerfd, &st) < 0)
                return log_errno(errno, "%s: cannot stat", label);
        log_notice("%s: an earlier flush was interrupted; removing its temporaries", label);
        r = remove_tmps(lowerfd, "", st.st_dev, label, &count);
        if (r < 0)
                return r;
        if (syncfs(lowerfd) < 0)
                return log_errno(errno, "%s: syncfs failed", label);
        if (unlinkat(lowerfd, MERGE_MARKER, 0) < 0 && errno != ENOENT)
                return log_errno(errno, "%s: cannot remove %s", label, MERGE_MARKER);
        log_notice("%s: removed %" PRIu64 " leftover entries", label, count);
        return 0;
}

int merge_empty_dir(int dfd, const char *label)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        struct stat st;
        uint64_t count = 0;
        int fd, r = 0;

        if (fstat(dfd, &st) < 0)
                return log_errno(errno, "%s: cannot stat the upper dir", label);
        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_errno(errno, "%s: cannot open the upper dir", label);
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return log_errno(errno, "%s: cannot read the upper dir", label);
        }
        while ((errno = 0, de = readdir(d))) {
                int k;
                if (dot_or_dotdot(de->d_name))
                        continue;
                k = merge_rm_rf(dirfd(d), de->d_name, st.st_dev, &count);
                if (k < 0 && r == 0)
                        r = log_errno(k, "%s: cannot empty the upper dir ('%s')", label,
                                      de->d_name);
        }
        if (errno != 0 && r == 0)
                r = log_errno(errno, "%s: cannot read the upper dir", label);
        return r;
}
