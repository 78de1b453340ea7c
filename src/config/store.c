/* SPDX-License-Identifier: MIT */
/* store: userspace access to the store, its uppers and their lowers (see store.h). */
#include "config/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sched.h>
#include <sys/mount.h>

#include "shared/log.h"
#include "shared/mountinfo.h"
#include "shared/util.h"

int store_open(const char *store, const char *who, struct state **ret)
{
        _cleanup_free_ struct state *s = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_errno(ENOMEM, "%s", who);
        fd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_errno(errno, "cannot open the store %s%s", store,
                                 errno == EACCES ? " (run as root)" : "");
        r = state_read(fd, s);
        if (r == -ENOENT)
                return log_errno(r, "no state in %s: 'ephemeral mount' has not run", store);
        if (r == -EBADMSG)
                return log_errno(r, "%s/%s is malformed", store, STATE_FILE);
        if (r < 0)
                return log_errno(r, "cannot read %s/%s", store, STATE_FILE);
        *ret = s;
        s = NULL;
        return take_fd(&fd);
}

int store_open_upper(int storefd, const struct state_dir *d)
{
        _cleanup_close_ int dirfd = -EBADF;
        int fd;

        dirfd = openat(storefd, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        fd = openat(dirfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int target_of(const char *root, const char *path, char *out, size_t len)
{
        int n = snprintf(out, len, "%s%s", streq(root, "/") ? "" : root, path);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool store_overlay_mounted(const char *root, const struct state_dir *d)
{
        _cleanup_free_ struct mount_entry *e = malloc(sizeof(*e));
        char target[PATH_MAX];

        if (!e || target_of(root, d->path, target, sizeof(target)) < 0)
                return false;
        return mountinfo_find_target(target, e) > 0 && mountinfo_is_overlay_of(e, d->name);
}

int store_open_lower(const char *root, const struct state_dir *d)
{
        static bool private_ns;
        _cleanup_close_ int rootfd = -EBADF;
        char target[PATH_MAX];
        int fd;

        if (target_of(root, d->path, target, sizeof(target)) < 0)
                return log_errno(ENAMETOOLONG, "%s", d->path);
        for (int i = 0; i < 16 && store_overlay_mounted(root, d); i++) {
                if (!private_ns) {
                        if (unshare(CLONE_NEWNS) < 0)
                                return log_errno(errno,
                                                 "cannot reach the lower of %s: "
                                                 "unshare",
                                                 target);
                        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                                return log_errno(errno, "cannot make mounts private");
                        private_ns = true;
                }
                if (umount2(target, MNT_DETACH) < 0)
                        return log_errno(errno, "cannot reach the lower of %s", target);
        }
        rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return log_errno(errno, "cannot open root %s", root);
        fd = open_dir_beneath(rootfd, d->path + 1, O_RDONLY);
        if (fd < 0)
                return log_errno(fd, "cannot open the lower dir %s", target);
        return fd;
}

int store_lock(int storefd, const char *store, const char *who, unsigned wait_sec)
{
        /* Polled, not a blocking flock: the wait must end even if the holder hangs. */
        for (unsigned i = 0;; i++) {
                if (flock(storefd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return log_errno(errno, "%s: cannot lock the store %s", who, store);
                if (i >= wait_sec * 10) {
                        log_error("%s: the store %s is in use by another flush or checkpoint; "
                                  "not starting a second one",
                                  who, store);
                        return -EBUSY;
                }
                usleep(100000);
        }
}
