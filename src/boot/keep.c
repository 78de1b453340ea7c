/* SPDX-License-Identifier: MIT */
/*
 * keep: ephemeral.keep=/var/cache/apt,… — caches inside a tmpfs dir that must
 * survive reboots live in <persist>/<name> on the root filesystem and are bound
 * onto their place after the tmpfs is mounted.
 *
 * First-time migration (mount_keep_prepare, before the tmpfs hides the original):
 * each entry of the original dir L is moved with rename(2) into the staging dir
 * <persist>/.<name>.migrating, which is renamed to <persist>/<name> (P) once L is
 * empty. rename is atomic within a filesystem, so at every instant each entry is
 * in L or in the staging dir, never in both and never nowhere: an interruption at
 * any point loses nothing, and the next boot simply goes on moving (P appears only
 * when the move is complete). Entries that appear in L later (a boot with
 * ephemeral=off) are moved into P the same way; a name present in both is left in
 * L and reported, never overwritten. Only same-filesystem moves are attempted.
 *
 * A root mounted read-only in the initramfs is not written to (fsck may not have
 * run yet): an existing P is bound as usual; an unmigrated dir stays where it is
 * and its original is bound instead, so it is kept on disk for this boot, and
 * the migration happens on the first boot with a writable root.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "shared/log.h"
#include "boot/mount.h"
#include "shared/mountinfo.h"
#include "shared/util.h"

/* Why keep path k cannot be used, or NULL. */
static const char *keep_conflict(const struct mount_ctx *ctx, const char *k)
{
        for (unsigned i = 0; i < ctx->cfg.n_dirs; i++)
                if (path_is_under(k, ctx->cfg.dirs[i].path) ||
                    path_is_under(ctx->cfg.dirs[i].path, k))
                        return "overlaps an overlaid dir (ephemeral.dirs)";
        for (unsigned i = 0; i < ctx->cfg.n_tmpfs; i++)
                if (streq(k, ctx->cfg.tmpfs[i].path) || path_is_under(ctx->cfg.tmpfs[i].path, k))
                        return "is or contains a tmpfs dir; keep a directory inside one";
        if (path_is_under(k, ctx->cfg.persist) || path_is_under(ctx->cfg.persist, k))
                return "overlaps the persist dir (ephemeral.persist)";
        return NULL;
}

/* The persist dir must be on disk: not in RAM, not in an overlay. */
static const char *persist_conflict(const struct mount_ctx *ctx)
{
        for (unsigned i = 0; i < ctx->cfg.n_dirs; i++)
                if (path_is_under(ctx->cfg.persist, ctx->cfg.dirs[i].path))
                        return "is inside an overlaid dir (ephemeral.dirs)";
        for (unsigned i = 0; i < ctx->cfg.n_tmpfs; i++)
                if (path_is_under(ctx->cfg.persist, ctx->cfg.tmpfs[i].path))
                        return "is inside a tmpfs dir (ephemeral.tmpfs)";
        return NULL;
}

/* Moves every entry of lowerfd that dst lacks into dst. Returns the number left
 * behind because of a name clash, or -errno. */
static int move_entries(int lowerfd, int dst, const char *keep)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int left = 0;

        d = fdopendir_or_close(openat(lowerfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d))) {
                if (dot_or_dotdot(de->d_name))
                        continue;
                if (renameat2(lowerfd, de->d_name, dst, de->d_name, RENAME_NOREPLACE) == 0)
                        continue;
                if (errno != EEXIST)
                        return log_errno(errno, "ephemeral.keep %s: cannot move '%s'", keep,
                                         de->d_name);
                log_warning("ephemeral.keep %s: '%s' exists in both places; the original is "
                            "left in place on disk",
                            keep, de->d_name);
                left++;
        }
        if (errno)
                return -errno;
        return left;
}

/* Migrates lowerfd (or nothing when < 0) into <persist>/<name>; returns P's fd. */
static int migrate(int persistfd, int lowerfd, const char *name, const char *keep)
{
        _cleanup_close_ int dst = -EBADF;
        char staging[NAME_MAX + 1];
        bool final;
        int r;

        if (snprintf(staging, sizeof(staging), ".%s.migrating", name) >= (int)sizeof(staging))
                return log_errno(ENAMETOOLONG, "ephemeral.keep %s", keep);
        dst = openat(persistfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        final = dst >= 0;
        if (!final) {
                if (errno != ENOENT)
                        return log_errno(errno,
                                         "ephemeral.keep %s: cannot open its persistent "
                                         "dir",
                                         keep);
                if (mkdirat(persistfd, staging, 0700) < 0 && errno != EEXIST)
                        return log_errno(errno, "ephemeral.keep %s: cannot create %s", keep,
                                         staging);
                dst = openat(persistfd, staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dst < 0)
                        return log_errno(errno, "ephemeral.keep %s: cannot open %s", keep, staging);
                if (lowerfd >= 0)
                        copy_dir_attrs(lowerfd, dst, keep);
                else if (fchmod(dst, 0755) < 0)
                        return log_errno(errno, "ephemeral.keep %s: chmod", keep);
        }
        if (lowerfd >= 0) {
                r = move_entries(lowerfd, dst, keep);
                if (r < 0)
                        return r;
                if (r > 0)
                        log_warning("ephemeral.keep %s: %d entries stay hidden in the original "
                                    "dir on disk; move them by hand",
                                    keep, r);
                if (fsync(dst) < 0 || fsync(lowerfd) < 0)
                        return log_errno(errno, "ephemeral.keep %s: fsync", keep);
        }
        if (!final) {
                if (renameat2(persistfd, staging, persistfd, name, RENAME_NOREPLACE) < 0)
                        return log_errno(errno, "ephemeral.keep %s: cannot rename %s", keep,
                                         staging);
                if (fsync(persistfd) < 0)
                        return log_errno(errno, "ephemeral.keep %s: fsync", keep);
                log_info("ephemeral.keep %s: contents moved to its persistent dir", keep);
        }
        return take_fd(&dst);
}

static bool is_mountpoint(const struct mount_ctx *ctx, const char *path)
{
        _cleanup_free_ struct mount_entry *e = malloc(sizeof(*e));
        char target[PATH_MAX];

        return e && mount_target(ctx, path, target, sizeof(target)) == 0 &&
               mountinfo_find_target(target, e) > 0;
}

/* Chooses (and on a writable root, fills) the bind source of keep entry i. */
static void prepare_one(struct mount_ctx *ctx, unsigned i, int persistfd, bool ro)
{
        const char *keep = ctx->cfg.keep[i];
        _cleanup_close_ int lowerfd = -EBADF;
        char name[NAME_MAX + 1];
        struct stat lst, pst;
        int fd;

        if (state_dir_name(keep, name, sizeof(name)) < 0) {
                log_error("ephemeral.keep: '%s' skipped: path too long", keep);
                ctx->n_bad++;
                return;
        }
        lowerfd = open_dir_beneath(ctx->rootfd, keep + 1, O_RDONLY);
        if (lowerfd == -ELOOP || lowerfd == -EXDEV || lowerfd == -ENOTDIR) {
                log_error("ephemeral.keep: '%s' skipped: %s", keep,
                          lowerfd == -ENOTDIR ? "is not a directory"
                                              : "is a symlink or has a symlink component");
                ctx->n_bad++;
                return;
        }
        if (lowerfd < 0 && lowerfd != -ENOENT) {
                log_errno(lowerfd, "ephemeral.keep: '%s' skipped", keep);
                ctx->n_bad++;
                return;
        }
        /* Only what is on the persist dir's filesystem can be renamed into it. */
        if (lowerfd >= 0 &&
            (fstat(lowerfd, &lst) < 0 || fstat(persistfd, &pst) < 0 || lst.st_dev != pst.st_dev)) {
                log_notice("ephemeral.keep %s: not on the filesystem of %s; its current "
                           "contents are not migrated (they stay on disk, hidden)",
                           keep, ctx->cfg.persist);
                lowerfd = safe_close(lowerfd);
        }
        if (!ro) {
                fd = migrate(persistfd, lowerfd, name, keep);
                if (fd >= 0) {
                        ctx->keep_src[i] = fd;
                        return;
                }
                ctx->n_failed++;
                if (lowerfd < 0)
                        return;
                log_error("ephemeral.keep %s: migration failed; binding the original dir "
                          "instead (nothing moved is lost: see %s)",
                          keep, ctx->cfg.persist);
                ctx->keep_src[i] = take_fd(&lowerfd);
                return;
        }
        fd = openat(persistfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                ctx->keep_src[i] = fd;
                return;
        }
        if (lowerfd >= 0) {
                log_notice("ephemeral.keep %s: the root is read-only here, so its contents "
                           "stay in place on disk this boot; they move to %s on the first "
                           "boot with a writable root (kernel option rw)",
                           keep, ctx->cfg.persist);
                ctx->keep_src[i] = take_fd(&lowerfd);
                return;
        }
        log_notice("ephemeral.keep %s: the root is read-only here and the dir has no "
                   "persistent copy yet: in RAM for this boot",
                   keep);
}

void mount_keep_prepare(struct mount_ctx *ctx)
{
        _cleanup_close_ int persistfd = -EBADF;
        struct statvfs sv;
        const char *why;
        bool ro;

        if (ctx->cfg.n_keep == 0)
                return;
        why = persist_conflict(ctx);
        if (why) {
                log_error("ephemeral.persist: '%s' %s; no ephemeral.keep dir is set up",
                          ctx->cfg.persist, why);
                ctx->n_bad += ctx->cfg.n_keep;
                return;
        }
        ro = fstatvfs(ctx->rootfd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
        persistfd = ro ? open_dir_beneath(ctx->rootfd, ctx->cfg.persist + 1, O_RDONLY)
                       : mkdir_p_beneath(ctx->rootfd, ctx->cfg.persist + 1, 0755);
        if (persistfd < 0 && !(ro && persistfd == -ENOENT)) {
                log_errno(persistfd, "ephemeral.persist: cannot open %s%s", ctx->root,
                          ctx->cfg.persist);
                ctx->n_failed += ctx->cfg.n_keep;
                return;
        }
        for (unsigned i = 0; i < ctx->cfg.n_keep; i++) {
                const char *keep = ctx->cfg.keep[i];

                why = keep_conflict(ctx, keep);
                if (why) {
                        log_error("ephemeral.keep: '%s' skipped: %s", keep, why);
                        ctx->n_bad++;
                        continue;
                }
                if (mount_hidden_by_fstab(ctx, keep, "ephemeral.keep"))
                        continue;
                if (is_mountpoint(ctx, keep)) {
                        log_info("ephemeral.keep %s: already mounted, left as it is", keep);
                        continue;
                }
                if (persistfd < 0) { /* read-only root without a persist dir yet */
                        _cleanup_close_ int lowerfd =
                            open_dir_beneath(ctx->rootfd, keep + 1, O_RDONLY);
                        log_notice("ephemeral.keep %s: the root is read-only here and %s does "
                                   "not exist yet; %s",
                                   keep, ctx->cfg.persist,
                                   lowerfd >= 0 ? "the original dir stays in use this boot"
                                                : "in RAM for this boot");
                        ctx->keep_src[i] = take_fd(&lowerfd);
                        continue;
                }
                prepare_one(ctx, i, persistfd, ro);
        }
        if (!ro && syncfs(persistfd) < 0)
                log_warning_errno(errno, "ephemeral.persist: syncfs");
}

void mount_keep_bind(struct mount_ctx *ctx)
{
        for (unsigned i = 0; i < ctx->cfg.n_keep; i++) {
                const char *keep = ctx->cfg.keep[i];
                _cleanup_close_ int mp = -EBADF;
                char src[64], target[PATH_MAX];

                if (ctx->keep_src[i] < 0)
                        continue;
                snprintf(src, sizeof(src), "/proc/self/fd/%d", ctx->keep_src[i]);
                if (mount_target(ctx, keep, target, sizeof(target)) < 0)
                        continue;
                /* The mount point, created inside the tmpfs that now covers it. */
                mp = mkdir_p_beneath(ctx->rootfd, keep + 1, 0755);
                if (mp < 0) {
                        log_errno(mp, "ephemeral.keep %s: cannot create the mount point", keep);
                        ctx->n_failed++;
                        continue;
                }
                if (mount(src, target, NULL, MS_BIND, NULL) < 0) {
                        log_errno(errno, "ephemeral.keep %s: cannot bind-mount it", keep);
                        ctx->n_failed++;
                        continue;
                }
                /* A bind inherits the per-mount read-only flag of a root mounted ro
                 * in the initramfs, and would keep it after the system remounts the
                 * root rw: clear it (the filesystem itself still decides). */
                if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL) <
                    0)
                        log_warning_errno(errno,
                                          "ephemeral.keep %s: cannot make the bind "
                                          "mount writable",
                                          keep);
                log_info("ephemeral.keep %s: bound from its persistent dir", keep);
        }
}
