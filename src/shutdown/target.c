/* SPDX-License-Identifier: MIT */
/* target: find, attach and make writable the lower dir for flush (see header). */
#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "shared/log.h"
#include "shutdown/target.h"
#include "config/store.h"
#include "shared/util.h"

#define OVERLAYFS_MAGIC 0x794c7630

/* Mount flags a remount must repeat, or the kernel resets them (same values as ST_*). */
#define KEEP_FLAGS                                                                                 \
        (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_MANDLOCK | MS_NOATIME |            \
         MS_NODIRATIME | MS_RELATIME)

static bool is_overlay(int fd)
{
        struct statfs sf;
        return fstatfs(fd, &sf) == 0 && sf.f_type == OVERLAYFS_MAGIC;
}

/* A lazily detached overlay keeps references to every lower entry it has looked
 * up, in use or not. Dropping the unused dentries and inodes from the caches
 * releases all but those on the paths still in use (which the merge leaves alone),
 * so nothing the merge unlinks stays allocated and the root can go read-only. */
static void drop_unused_caches(const char *label)
{
        _cleanup_close_ int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);

        sync();
        if (fd < 0 || write(fd, "2\n", 2) != 2)
                log_warning_errno(errno,
                                  "%s: cannot drop the unused dentries of the detached "
                                  "overlay (/proc/sys/vm/drop_caches)",
                                  label);
}

/* Unmount every overlay stacked on root/path; a busy one is detached (MNT_DETACH:
 * it is lazily unmounted once the last user goes), with a warning naming what holds
 * it (into *held, when given). */
static int detach_overlays(int rootfd, const char *full, const char *path, const char *label,
                           struct holder_paths *held)
{
        bool lazy = false;

        for (int i = 0; i < 8; i++) {
                _cleanup_close_ int fd = open_dir_beneath(rootfd, path, O_PATH);
                if (fd < 0 || !is_overlay(fd)) {
                        if (lazy)
                                drop_unused_caches(label);
                        return 0;
                }
                fd = safe_close(fd); /* or it keeps the overlay busy */
                if (umount2(full, 0) == 0) {
                        log_info("%s: unmounted the overlay on %s", label, full);
                        continue;
                }
                /* Still in use (a process outlived the stop of userspace): merge what
                 * it holds now, but say that later writes through it are lost. */
                if (errno == EBUSY) {
                        struct holder_paths none = {0};
                        log_warning("%s: the overlay on %s is busy (still in use, or something "
                                    "is mounted inside): detaching it lazily; what is written "
                                    "through it from now on is lost",
                                    label, full);
                        (void)holders_scan(full, label, held ? held : &none);
                        holder_paths_free(&none);
                }
                if (umount2(full, MNT_DETACH) < 0)
                        return log_errno(errno, "%s: cannot detach the overlay on %s", label, full);
                log_info("%s: detached the overlay on %s", label, full);
                lazy = true;
        }
        return log_errno(ELOOP, "%s: too many overlays stacked on %s", label, full);
}

/* Undo \ooo escapes of /proc/self/mountinfo in place. */
static void unescape_octal(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

/* Mount point of mount id, and whether its superblock is read-only. */
static int find_mount(uint64_t id, char *mp, size_t mplen, bool *sb_ro)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;

        if (!f)
                return -errno;
        while (getline(&line, &cap, f) > 0) {
                unsigned long long mid;
                char point[PATH_MAX * 4 + 1], *sep, *superopts;

                if (sscanf(line, "%llu %*u %*u:%*u %*s %4096s", &mid, point) != 2 || mid != id)
                        continue;
                sep = strstr(line, " - ");
                if (!sep)
                        return -EBADMSG;
                /* " - fstype source superopts" */
                superopts = strrchr(sep, ' ');
                if (!superopts)
                        return -EBADMSG;
                superopts++;
                *sb_ro = startswith(superopts, "ro,") || streq(superopts, "ro\n") ||
                         streq(superopts, "ro");
                unescape_octal(point);
                if (strlen(point) >= mplen)
                        return -ENAMETOOLONG;
                strcpy(mp, point);
                return 0;
        }
        return -ENOENT;
}

/* Without /proc: the topmost directory of path that is on the same filesystem
 * (bind mounts of the same filesystem can fool this; mountinfo cannot be fooled). */
static int mount_point_of(const char *path, char *mp, size_t mplen)
{
        struct stat st, up;

        if (strlen(path) >= mplen)
                return -ENAMETOOLONG;
        strcpy(mp, path);
        if (stat(mp, &st) < 0)
                return -errno;
        for (;;) {
                char *slash = strrchr(mp, '/');
                char saved;

                if (!slash || slash == mp)
                        break; /* "/" or a relative top: take mp */
                saved = *slash;
                *slash = '\0';
                if (stat(mp, &up) < 0 || up.st_dev != st.st_dev) {
                        *slash = saved;
                        break;
                }
        }
        return 0;
}

/* Remount the (read-only) mount holding fd (the dir at path) read-write, keeping
 * its other flags. */
static int make_writable(int fd, const char *path, struct merge_target *t, const char *label)
{
        struct statx stx;
        struct statvfs sv;
        unsigned long flags;
        bool sb_ro = true;
        int r;

        if (fstatvfs(fd, &sv) < 0)
                return log_errno(errno, "%s: cannot statvfs the lower dir", label);
        if (!(sv.f_flag & ST_RDONLY))
                return 0;
        r = -ENOTSUP;
        if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) == 0 && (stx.stx_mask & STATX_MNT_ID))
                r = find_mount(stx.stx_mnt_id, t->remounted, sizeof(t->remounted), &sb_ro);
        if (r < 0) {
                log_info("%s: no mount id or /proc/self/mountinfo (%s); finding the mount point "
                         "of %s by walking up",
                         label, strerror(-r), path);
                r = mount_point_of(path, t->remounted, sizeof(t->remounted));
                if (r < 0) {
                        t->remounted[0] = '\0';
                        return log_errno(r, "%s: cannot find the mount point of %s", label, path);
                }
        }
        flags = MS_REMOUNT | (sv.f_flag & KEEP_FLAGS) | (sb_ro ? 0 : MS_BIND);
        if (mount(NULL, t->remounted, NULL, flags, NULL) < 0) {
                r = log_errno(errno, "%s: cannot remount %s read-write", label, t->remounted);
                t->remounted[0] = '\0';
                return r;
        }
        t->remount_flags = flags | MS_RDONLY;
        log_info("%s: remounted %s read-write", label, t->remounted);
        return 0;
}

/* Mount the recorded filesystem of d on a fresh directory below scratch. */
static int mount_private(const struct state_dir *d, const char *scratch, bool readonly,
                         struct merge_target *t, const char *label)
{
        _cleanup_free_ char *dev = NULL, *type = NULL;
        _cleanup_close_ int mfd = -EBADF;
        unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (readonly ? MS_RDONLY : 0);
        int r;

        if (d->fsroot[0] != '/')
                return log_errno(ENOENT,
                                 "%s: cannot mount its filesystem: where the dir lies "
                                 "inside it was not recorded",
                                 label);
        if (d->uuid[0])
                dev = blkid_evaluate_tag("UUID", d->uuid, NULL);
        else if (major(d->dev) != 0)
                dev = blkid_devno_to_devname(d->dev);
        if (!dev)
                return log_errno(ENODEV, "%s: cannot find the filesystem %s%s", label,
                                 d->uuid[0] ? "with UUID " : "(no UUID recorded)", d->uuid);
        type = strdup(d->fstype[0] ? d->fstype : "");
        if (!type)
                return log_errno(ENOMEM, "out of memory");
        if (!type[0]) {
                free(type);
                type = blkid_get_tag_value(NULL, "TYPE", dev);
                if (!type)
                        return log_errno(ENODEV, "%s: cannot tell the type of %s", label, dev);
        }
        r = snprintf(t->mnt, sizeof(t->mnt), "%s/.lower-XXXXXX", scratch);
        if (r < 0 || (size_t)r >= sizeof(t->mnt) || !mkdtemp(t->mnt)) {
                t->mnt[0] = '\0';
                return log_errno(errno ? errno : ENAMETOOLONG,
                                 "%s: cannot create a mount point in %s", label, scratch);
        }
        /* A superblock mounted elsewhere keeps its read-only state: a new mount must
         * ask for the same (EBUSY otherwise). Writing: mount ro, then remount (in
         * make_writable). Dry run: mount rw, then make this mount read-only. */
        if (mount(dev, t->mnt, type, flags, NULL) < 0) {
                bool busy = errno == EBUSY || errno == EROFS || errno == EACCES;
                unsigned long other = readonly ? flags & ~MS_RDONLY : flags | MS_RDONLY;
                if (!busy || mount(dev, t->mnt, type, other, NULL) < 0 ||
                    (readonly &&
                     mount(NULL, t->mnt, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)) {
                        r = log_errno(errno, "%s: cannot mount %s (%s) on %s", label, dev, type,
                                      t->mnt);
                        (void)umount2(t->mnt, MNT_DETACH);
                        rmdir(t->mnt);
                        t->mnt[0] = '\0';
                        return r;
                }
        }
        (void)mount(NULL, t->mnt, NULL, MS_PRIVATE, NULL);
        log_info("%s: mounted %s (%s) on %s", label, dev, type, t->mnt);
        mfd = open(t->mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (mfd < 0)
                return log_errno(errno, "%s: cannot open %s", label, t->mnt);
        t->fd = open_dir_beneath(mfd, d->fsroot, O_RDONLY);
        if (t->fd < 0)
                return log_errno(t->fd, "%s: cannot open %s in %s", label, d->fsroot, dev);
        /* Two filesystems can share a UUID (a cloned disk plugged in): merge only
         * into the device the boot recorded, or say why not. */
        if (major(d->dev) != 0) {
                struct stat st;

                if (fstat(t->fd, &st) < 0) {
                        r = log_errno(errno, "%s: cannot stat %s in %s", label, d->fsroot, dev);
                        t->fd = safe_close(t->fd);
                        return r;
                }
                if (st.st_dev != d->dev) {
                        t->fd = safe_close(t->fd);
                        return log_errno(ENODEV,
                                         "%s: %s (UUID %s) is %u:%u, not the device the boot "
                                         "recorded (%u:%u): two filesystems may share the UUID; "
                                         "not merging",
                                         label, dev, d->uuid[0] ? d->uuid : "-", major(st.st_dev),
                                         minor(st.st_dev), major(d->dev), minor(d->dev));
                }
        }
        return 0;
}

int merge_target_detach(const char *root, const struct state_dir *d)
{
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        char full[PATH_MAX];
        int r = snprintf(full, sizeof(full), "%s%s", streq(root, "/") ? "" : root, d->path);

        if (r < 0 || (size_t)r >= sizeof(full))
                return log_errno(ENAMETOOLONG, "%s: path too long", d->path);
        if (rootfd < 0)
                return log_errno(errno, "cannot open the root %s", root);
        return detach_overlays(rootfd, full, d->path, d->path, NULL);
}

int merge_target_open(const char *root, const struct state_dir *d, const char *scratch,
                      bool readonly, struct merge_target *t)
{
        _cleanup_close_ int rootfd = -EBADF;
        char full[PATH_MAX];
        const char *label = d->path;
        struct stat st;
        int r;

        *t = (struct merge_target){.fd = -EBADF};
        r = snprintf(full, sizeof(full), "%s%s", streq(root, "/") ? "" : root, d->path);
        if (r < 0 || (size_t)r >= sizeof(full))
                return log_errno(ENAMETOOLONG, "%s: path too long", label);
        rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return log_errno(errno, "cannot open the root %s", root);
        if (readonly) /* a dry run looks past the overlay in a mount namespace of its own */
                t->fd = store_open_lower(root, d);
        else if ((r = detach_overlays(rootfd, full, d->path, label, &t->held)) < 0)
                return r;
        else
                t->fd = open_dir_beneath(rootfd, d->path, O_RDONLY);
        if (t->fd >= 0 && fstat(t->fd, &st) == 0 && st.st_dev == d->dev && !is_overlay(t->fd)) {
                if (readonly)
                        return 0;
                if ((r = holders_pins(t->fd, &t->held, &t->pins)) < 0) {
                        merge_target_close(t, label);
                        return log_errno(r, "%s: cannot find what the busy overlay pins", label);
                }
                r = make_writable(t->fd, full, t, label);
                if (r < 0)
                        merge_target_close(t, label);
                return r;
        }
        if (t->fd >= 0)
                log_info("%s: %s is not on the recorded filesystem; mounting it", label, full);
        else
                log_info("%s: %s is not reachable (%s); mounting its filesystem", label, full,
                         strerror(-t->fd));
        t->fd = safe_close(t->fd);
        r = mount_private(d, scratch, readonly, t, label);
        if (r == 0 && !readonly)
                r = holders_pins(t->fd, &t->held, &t->pins);
        if (r == 0 && !readonly)
                r = make_writable(t->fd, t->mnt, t, label);
        if (r < 0)
                merge_target_close(t, label);
        return r;
}

void merge_target_close(struct merge_target *t, const char *label)
{
        t->fd = safe_close(t->fd);
        holder_paths_free(&t->held);
        merge_pins_free(&t->pins);
        if (t->remounted[0]) {
                if (mount(NULL, t->remounted, NULL, t->remount_flags, NULL) < 0)
                        log_warning_errno(errno, "%s: cannot remount %s read-only again", label,
                                          t->remounted);
                else
                        log_info("%s: remounted %s read-only", label, t->remounted);
                t->remounted[0] = '\0';
        }
        if (t->mnt[0]) {
                if (umount2(t->mnt, 0) < 0 && umount2(t->mnt, MNT_DETACH) < 0)
                        log_warning_errno(errno, "%s: cannot unmount %s", label, t->mnt);
                else
                        rmdir(t->mnt);
                t->mnt[0] = '\0';
        }
}
