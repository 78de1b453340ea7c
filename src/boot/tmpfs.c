/* SPDX-License-Identifier: MIT */
/*
 * tmpfs: the tmpfs step of `ephemeral mount` (ephemeral.tmpfs=/tmp:5G,…).
 * Each dir gets a size-capped tmpfs (nosuid,nodev) with the owner, mode and
 * xattrs (an SELinux label, say) of the directory it covers. A dir that the root's
 * fstab mounts itself (a tmpfs /tmp is common) is left to fstab, with one notice.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "shared/fstab.h"
#include "shared/log.h"
#include "boot/mount.h"
#include "shared/mountinfo.h"
#include "shared/util.h"

/* A tmpfs over an overlaid dir (or one of its parents) would hide the overlay. */
static bool hides_overlay(struct mount_ctx *ctx, const char *path)
{
        for (unsigned i = 0; i < ctx->cfg.n_dirs; i++)
                if (path_is_under(ctx->cfg.dirs[i].path, path)) {
                        log_error("ephemeral.tmpfs: '%s' skipped: it would hide the overlay "
                                  "on %s",
                                  path, ctx->cfg.dirs[i].path);
                        ctx->n_bad++;
                        return true;
                }
        return false;
}

static int tmpfs_one(struct mount_ctx *ctx, const struct tmpfs_entry *t)
{
        _cleanup_free_ struct mount_entry *e = NULL;
        _cleanup_close_ int lowerfd = -EBADF, fd = -EBADF;
        char target[PATH_MAX], opts[160], what[PATH_MAX + 16], size[32];
        uint64_t bytes;
        struct stat st;
        int r;

        snprintf(what, sizeof(what), "tmpfs %s", t->path);
        r = mount_target(ctx, t->path, target, sizeof(target));
        if (r < 0)
                return log_errno(r, "%s", what);
        e = malloc(sizeof(*e));
        if (!e)
                return log_errno(ENOMEM, "%s", what);
        if (mountinfo_find_target(target, e) > 0 && streq(e->fstype, "tmpfs")) {
                log_info("%s: already mounted, left as it is", what);
                return 0;
        }
        lowerfd = open_dir_beneath(ctx->rootfd, t->path + 1, O_RDONLY);
        if (lowerfd < 0) {
                ctx->n_bad++;
                log_error("ephemeral.tmpfs: '%s' skipped: %s", t->path,
                          lowerfd == -ENOENT    ? "does not exist in the root"
                          : lowerfd == -ELOOP   ? "is a symlink or has a symlink component"
                          : lowerfd == -ENOTDIR ? "is not a directory"
                                                : strerror(-lowerfd));
                return 0;
        }
        if (fstat(lowerfd, &st) < 0)
                return log_errno(errno, "%s: cannot stat %s", what, target);
        bytes = size_to_bytes(&t->size, ctx->ram);
        snprintf(opts, sizeof(opts), "mode=%04o,uid=%u,gid=%u,size=%" PRIu64,
                 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid, bytes);
        if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                return log_errno(errno, "%s: cannot mount on %s (%s)", what, target, opts);
        fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || copy_dir_attrs(lowerfd, fd, what) < 0)
                log_warning("%s: mounted, but its root may lack the lower's attributes", what);
        log_info("%s: mounted (%s, mode %04o)", what, format_size(bytes, size, sizeof(size)),
                 (unsigned)(st.st_mode & 07777));
        return 0;
}

void mount_tmpfs_dirs(struct mount_ctx *ctx)
{
        for (unsigned i = 0; i < ctx->cfg.n_tmpfs; i++) {
                const struct tmpfs_entry *t = &ctx->cfg.tmpfs[i];
                char mp[PATH_MAX];

                if (hides_overlay(ctx, t->path))
                        continue;
                if (fstab_covering(ctx->rootfd, t->path, mp, sizeof(mp)) > 0 &&
                    streq(mp, t->path)) {
                        log_notice("tmpfs %s: the root's /etc/fstab mounts it; left to fstab",
                                   t->path);
                        continue;
                }
                if (mount_hidden_by_fstab(ctx, t->path, "ephemeral.tmpfs"))
                        continue;
                if (tmpfs_one(ctx, t) < 0)
                        ctx->n_failed++;
        }
}
