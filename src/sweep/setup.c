/* SPDX-License-Identifier: MIT */
/*
 * setup: `ephemeral sweep --setup`, the per-user caches (ephemeral.usercache and
 * ephemeral.userkeep). For each user with uid >= 1000 whose home exists: a tmpfs
 * (size usercache, mode 0700, owned by the user) on ~/.cache, and each userkeep name
 * bind-mounted inside it from <persist>/home/<user>/<name>. Runs at boot after the
 * local filesystems (homes may be mounted late), so it lives here in userspace.
 *
 * A user controls everything inside their home and can race us, so nothing below
 * the home is ever resolved through a symlink or across a mount: each step opens
 * one component with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) and mounts go
 * onto the opened fd (/proc/self/fd/N), never onto a path a user could swap.
 *
 * First-time migration, before the tmpfs hides the old ~/.cache: the entries of
 * ~/.cache/<name> are moved with rename(2) into <persist>/home/<user>/.<name>.migrating,
 * which becomes <name> once complete (as ephemeral.keep does): every entry is in
 * exactly one of the two places at every instant, so an interruption loses nothing
 * and the next run goes on. A name present in both places stays in the original.
 * When home and persist are different filesystems nothing is moved: the original
 * ~/.cache/<name> is bound into the tmpfs instead (it stays on disk). Running again
 * finds the mounts in place and does nothing (idempotent).
 */
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/mount.h>

#include "shared/log.h"
#include "sweep/sweep.h"
#include "shared/util.h"

#define USER_UID_MIN 1000
#define NOBODY_UID   65534

struct user_ctx {
        const struct setup_opts *o;
        const struct passwd *pw;
        int homefd, userpersistfd;
        uint64_t size;
};

/* One component below dfd, never through a symlink; a mount point is allowed. */
static int open_below(int dfd, const char *name)
{
        return open_dir_beneath(dfd, name, O_RDONLY);
}

/* 1 when dfd/name is a mount root, 0 when not (or the kernel cannot say, before
 * 5.8), -errno when statx fails: "cannot tell" is never taken for "no". */
static int is_mount_root(int dfd, const char *name)
{
        struct statx sx;

        if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &sx) < 0)
                return -errno;
        return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
               (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* mkdir dfd/name for the user (0700) unless present; returns its fd. */
static int mkdir_for_user(int dfd, const char *name, const struct passwd *pw)
{
        _cleanup_close_ int fd = -EBADF;
        bool made = mkdirat(dfd, name, 0700) == 0;

        if (!made && errno != EEXIST)
                return -errno;
        fd = open_below(dfd, name);
        if (fd < 0)
                return fd;
        if (made && fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
                return -errno;
        return take_fd(&fd);
}

static int mount_on_fd(const char *src, int fd, const char *type, unsigned long flags,
                       const char *data)
{
        char target[64];

        snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
        return mount(src, target, type, flags, data) < 0 ? -errno : 0;
}

static int bind_fd_on_fd(int srcfd, int dstfd)
{
        char src[64];

        snprintf(src, sizeof(src), "/proc/self/fd/%d", srcfd);
        return mount_on_fd(src, dstfd, NULL, MS_BIND, NULL);
}

/* Move the entries of origfd into dstfd (rename, no replacing). Returns the number
 * left behind (name clash), or -errno (-EXDEV: other filesystem, nothing moved). */
static int move_entries(const struct user_ctx *u, int origfd, int dstfd, const char *name)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int left = 0;

        d = fdopendir_or_close(fcntl(origfd, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d))) {
                if (dot_or_dotdot(de->d_name))
                        continue;
                if (renameat2(origfd, de->d_name, dstfd, de->d_name, RENAME_NOREPLACE) == 0)
                        continue;
                if (errno == EXDEV)
                        return -EXDEV;
                if (errno != EEXIST)
                        return log_errno(errno, "%s: cannot move ~/.cache/%s/%s", u->pw->pw_name,
                                         name, de->d_name);
                log_warning("%s: ~/.cache/%s/%s exists in both places; the original stays on disk",
                            u->pw->pw_name, name, de->d_name);
                left++;
        }
        return errno ? -errno : left;
}

/* Make <persist>/home/<user>/<name>, migrating ~/.cache/<name> (origfd, or -1) into
 * it first. Returns the fd to bind from: the persistent dir, or origfd's dup when
 * the two are on different filesystems. */
static int prepare_keep(const struct user_ctx *u, int origfd, const char *name)
{
        _cleanup_close_ int final = -EBADF, staging = -EBADF;
        char stage[NAME_MAX + 1];
        int r;

        if (snprintf(stage, sizeof(stage), ".%s.migrating", name) >= (int)sizeof(stage))
                return -ENAMETOOLONG;
        final = open_below(u->userpersistfd, name);
        if (final >= 0) {
                if (origfd >= 0) {
                        r = move_entries(u, origfd, final, name);
                        if (r == -EXDEV)
                                return fcntl(origfd, F_DUPFD_CLOEXEC, 3);
                        if (r < 0)
                                return r;
                }
                return take_fd(&final);
        }
        if (final != -ENOENT)
                return final;
        staging = mkdir_for_user(u->userpersistfd, stage, u->pw);
        if (staging < 0)
                return staging;
        if (origfd >= 0) {
                r = move_entries(u, origfd, staging, name);
                if (r == -EXDEV) {
                        unlinkat(u->userpersistfd, stage, AT_REMOVEDIR);
                        log_notice("%s: ~/.cache/%s is on another filesystem than the persist "
                                   "dir; binding it in place",
                                   u->pw->pw_name, name);
                        return fcntl(origfd, F_DUPFD_CLOEXEC, 3);
                }
                if (r < 0)
                        return r;
                if (r > 0)
                        log_warning("%s: %d entries stay in the original ~/.cache/%s",
                                    u->pw->pw_name, r, name);
                if (fsync(staging) < 0 || fsync(origfd) < 0)
                        return -errno;
        }
        if (renameat2(u->userpersistfd, stage, u->userpersistfd, name, RENAME_NOREPLACE) < 0)
                return -errno;
        if (fsync(u->userpersistfd) < 0)
                return -errno;
        return take_fd(&staging);
}

static int setup_user(struct user_ctx *u)
{
        const struct config *cfg = u->o->cfg;
        _cleanup_close_ int cachefd = -EBADF, tmpfd = -EBADF;
        int keepfds[CONFIG_MAX_PATTERNS];
        unsigned n = cfg->n_userkeep;
        const char *user = u->pw->pw_name;
        char opts[128];
        bool mounted;
        int r = 0;

        for (unsigned i = 0; i < n; i++)
                keepfds[i] = -EBADF;
        cachefd = u->o->dry_run ? open_below(u->homefd, ".cache")
                                : mkdir_for_user(u->homefd, ".cache", u->pw);
        if (cachefd == -ENOENT) {
                log_info("%s: would create ~/.cache and mount a tmpfs on it", user);
                goto out;
        }
        if (cachefd == -ELOOP || cachefd == -ENOTDIR || cachefd == -EXDEV) {
                /* The user's own doing (e.g. ~/.cache -> /etc): never followed. */
                log_warning("%s: ~/.cache is not a plain directory (a symlink?); skipping", user);
                goto out;
        }
        if (cachefd < 0) {
                r = log_errno(cachefd, "%s: cannot create or open ~/.cache", user);
                goto out;
        }
        r = is_mount_root(u->homefd, ".cache");
        if (r < 0) {
                r = log_errno(r, "%s: cannot tell whether ~/.cache is mounted", user);
                goto out;
        }
        mounted = r > 0;

        /* Before the tmpfs hides it: migrate what the keep names hold on disk. */
        for (unsigned i = 0; i < n; i++) {
                _cleanup_close_ int origfd = -EBADF;
                const char *name = cfg->userkeep[i];

                if (!mounted) {
                        origfd = open_below(cachefd, name);
                        if (origfd < 0 && origfd != -ENOENT) {
                                r = log_errno(origfd, "%s: ~/.cache/%s is not a plain directory",
                                              user, name);
                                continue;
                        }
                } else {
                        int k = is_mount_root(cachefd, name);
                        if (k < 0 && k != -ENOENT) {
                                r = log_errno(k, "%s: cannot tell whether ~/.cache/%s is bound",
                                              user, name);
                                continue;
                        }
                        if (k > 0)
                                continue; /* already bound */
                }
                if (u->o->dry_run) {
                        log_info("%s: would bind ~/.cache/%s from the persist dir", user, name);
                        continue;
                }
                keepfds[i] = prepare_keep(u, origfd, name);
                if (keepfds[i] < 0)
                        r = log_errno(keepfds[i], "%s: cannot prepare the persistent ~/.cache/%s",
                                      user, name);
        }

        if (!mounted) {
                snprintf(opts, sizeof(opts), "size=%llu,mode=0700,uid=%u,gid=%u",
                         (unsigned long long)u->size, (unsigned)u->pw->pw_uid,
                         (unsigned)u->pw->pw_gid);
                if (u->o->dry_run) {
                        log_info("%s: would mount a tmpfs (%s) on ~/.cache", user, opts);
                        goto out;
                }
                r = mount_on_fd("tmpfs", cachefd, "tmpfs", MS_NOSUID | MS_NODEV, opts);
                if (r < 0) {
                        r = log_errno(r, "%s: cannot mount a tmpfs on ~/.cache", user);
                        goto out;
                }
                log_info("%s: ~/.cache is a tmpfs now (%s)", user, opts);
        }
        tmpfd = open_below(u->homefd, ".cache");
        if (tmpfd < 0) {
                r = log_errno(tmpfd, "%s: cannot open the new ~/.cache", user);
                goto out;
        }
        for (unsigned i = 0; i < n; i++) {
                _cleanup_close_ int target = -EBADF;

                if (keepfds[i] < 0)
                        continue;
                target = mkdir_for_user(tmpfd, cfg->userkeep[i], u->pw);
                if (target < 0) {
                        r = log_errno(target, "%s: cannot create ~/.cache/%s", user,
                                      cfg->userkeep[i]);
                        continue;
                }
                if (bind_fd_on_fd(keepfds[i], target) < 0)
                        r = log_errno(errno, "%s: cannot bind ~/.cache/%s", user, cfg->userkeep[i]);
        }
out:
        for (unsigned i = 0; i < n; i++)
                safe_close(keepfds[i]);
        return r;
}

static bool valid_user_name(const char *s)
{
        return *s && !strchr(s, '/') && !dot_or_dotdot(s) && strlen(s) < NAME_MAX - 16;
}

static int setup_one(const struct setup_opts *o, int rootfd, int homesfd, const struct passwd *pw,
                     uint64_t size)
{
        _cleanup_close_ int homefd = -EBADF;
        struct user_ctx u = {.o = o, .pw = pw, .size = size, .userpersistfd = -EBADF};
        struct stat st;
        int r;

        if (!valid_user_name(pw->pw_name) || !pw->pw_dir || pw->pw_dir[0] != '/')
                return 0;
        /* The path to the home is the administrator's (may hold symlinks such as
         * /home -> /var/home, resolved inside the root); below it, the user's. */
        homefd = open_dir_in_root(rootfd, pw->pw_dir + 1, O_RDONLY);
        if (homefd == -ENOENT)
                return 0;
        if (homefd < 0)
                return log_errno(homefd, "%s: cannot open the home %s", pw->pw_name, pw->pw_dir);
        if (fstat(homefd, &st) < 0)
                return -errno;
        if (st.st_uid != pw->pw_uid) {
                log_warning("%s: home %s belongs to uid %u; skipping", pw->pw_name, pw->pw_dir,
                            (unsigned)st.st_uid);
                return 0;
        }
        u.homefd = homefd;
        if (o->cfg->n_userkeep > 0 && !o->dry_run) {
                _cleanup_close_ int fd = mkdir_for_user(homesfd, pw->pw_name, pw);
                if (fd < 0)
                        return log_errno(fd, "%s: cannot create its persist dir", pw->pw_name);
                u.userpersistfd = take_fd(&fd);
        }
        r = setup_user(&u);
        safe_close(u.userpersistfd);
        return r;
}

int setup_user_caches(const struct setup_opts *o)
{
        _cleanup_close_ int rootfd = -EBADF, persistfd = -EBADF, homesfd = -EBADF;
        _cleanup_fclose_ FILE *f = NULL;
        uint64_t size = size_to_bytes(&o->cfg->usercache, config_ram_bytes());
        struct passwd *pw;
        int failed = 0;

        if (o->cfg->usercache.value == 0) {
                log_info("ephemeral.usercache is not set: no per-user ~/.cache tmpfs");
                return 0;
        }
        rootfd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return log_errno(errno, "cannot open root %s", o->root);
        if (o->cfg->n_userkeep > 0 && !o->dry_run) {
                persistfd = mkdir_p_beneath(rootfd, o->cfg->persist + 1, 0755);
                if (persistfd < 0)
                        return log_errno(persistfd, "cannot create the persist dir %s",
                                         o->cfg->persist);
                homesfd = mkdir_p_beneath(persistfd, "home", 0755);
                if (homesfd < 0)
                        return log_errno(homesfd, "cannot create %s/home", o->cfg->persist);
        }
        /* The real root: getpwent (NSS users too). A test root: its etc/passwd. */
        if (!streq(o->root, "/")) {
                int fd = openat(rootfd, "etc/passwd", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || !(f = fdopen(fd, "r")))
                        return safe_close(fd),
                               log_errno(errno, "cannot read %s/etc/passwd", o->root);
        } else
                setpwent();
        while ((pw = f ? fgetpwent(f) : getpwent())) {
                if (pw->pw_uid < USER_UID_MIN || pw->pw_uid == NOBODY_UID)
                        continue;
                if (setup_one(o, rootfd, homesfd, pw, size) < 0)
                        failed++;
        }
        if (!f)
                endpwent();
        return failed;
}
