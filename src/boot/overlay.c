/* SPDX-License-Identifier: MIT */
/*
 * overlay: the overlay step of `ephemeral mount`. For each configured dir:
 * <store>/<name>/{upper,work}, the upper root made to look like the lower dir,
 * overlayfs on <root><dir> with the lower dir as its only lower layer, and a
 * state record (lower filesystem identity for flush). Already mounted overlays are
 * left alone, so running mount twice stacks nothing.
 */
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "shared/fsuuid.h"
#include "shared/log.h"
#include "merge/merge.h"
#include "boot/mount.h"
#include "shared/mountinfo.h"
#include "shared/util.h"

/* redirect_dir/index/metacopy off: the upper stays a self-contained tree of
 * whole files that flush can merge without the lower's help. */
#define OVERLAY_FIXED_OPTIONS "redirect_dir=off,index=off,metacopy=off"

static struct state_dir *record_for(struct state *s, const char *path)
{
        for (unsigned i = 0; i < s->n_dirs; i++)
                if (streq(s->dirs[i].path, path))
                        return &s->dirs[i];
        if (s->n_dirs >= CONFIG_MAX_DIRS)
                return NULL;
        memset(&s->dirs[s->n_dirs], 0, sizeof(s->dirs[0]));
        memcpy(s->dirs[s->n_dirs].path, path, strlen(path) + 1); /* both PATH_MAX */
        s->dirs[s->n_dirs].status = STATE_FAILED;
        return &s->dirs[s->n_dirs++];
}

/*
 * `volatile` leaves work/work/incompat/volatile/dirty behind when the overlay goes away, and
 * overlayfs then refuses to mount that upper/work pair again, because after a crash
 * an unsynced upper on disk may be torn. Our upper is on the store tmpfs: a crash
 * takes upper and work with it, so if they still exist they are exactly as the
 * kernel left them, and removing the marker is safe.
 */
static void clear_volatile_marker(int workfd)
{
        unlinkat(workfd, "work/incompat/volatile/dirty", 0);
        unlinkat(workfd, "work/incompat/volatile", AT_REMOVEDIR);
        unlinkat(workfd, "work/incompat", AT_REMOVEDIR);
}

/* Lower filesystem identity for the state record. */
static void record_lower(struct state_dir *d, const char *target, int lowerfd)
{
        _cleanup_free_ struct mount_entry *e = malloc(sizeof(*e));
        struct stat st;

        if (fstat(lowerfd, &st) == 0)
                d->dev = st.st_dev;
        if (!e || mountinfo_find_containing(target, e) <= 0) {
                log_warning("%s: cannot find its filesystem in /proc/self/mountinfo", target);
                return;
        }
        if (strlen(e->fstype) < sizeof(d->fstype))
                memcpy(d->fstype, e->fstype, strlen(e->fstype) + 1);
        if (mountinfo_fs_path(e, target, d->fsroot, sizeof(d->fsroot)) < 0)
                d->fsroot[0] = '\0';
        if (fsuuid_get(d->dev, e->source, d->uuid, sizeof(d->uuid)) < 0)
                log_debug("%s: no filesystem UUID found for %s (dev %u:%u); flush will use the "
                          "path",
                          target, e->source, major(d->dev), minor(d->dev));
}

/* Is the directory at fd empty? (false when it cannot be read to its end) */
static bool dir_empty(int fd)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        d = fdopendir_or_close(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d)
                return false;
        while ((errno = 0, de = readdir(d)))
                if (!dot_or_dotdot(de->d_name))
                        return false;
        return errno == 0;
}

/* Creates <store>/<name>/{upper,work}; a new upper gets the lower's identity. done:
 * the record says the upper was flushed or discarded, so what it holds is on disk
 * already or was dropped; mounted again it would bring back old versions over
 * newer ones: it is emptied first (flush leaves it as it is, see cmd/flush.c). */
static int prepare_store_dirs(struct mount_ctx *ctx, const char *name, int lowerfd,
                              const char *what, bool done)
{
        _cleanup_close_ int dirfd = -EBADF, upperfd = -EBADF, workfd = -EBADF;
        bool fresh;
        int r;

        dirfd = mkdir_p_beneath(ctx->storefd, name, 0700);
        if (dirfd < 0)
                return log_errno(dirfd, "%s: cannot create %s/%s", what, ctx->store, name);
        fresh = mkdirat(dirfd, "upper", 0700) == 0;
        if (!fresh && errno != EEXIST)
                return log_errno(errno, "%s: cannot create %s/%s/upper", what, ctx->store, name);
        if (mkdirat(dirfd, "work", 0700) < 0 && errno != EEXIST)
                return log_errno(errno, "%s: cannot create %s/%s/work", what, ctx->store, name);
        upperfd = openat(dirfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        workfd = openat(dirfd, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upperfd < 0 || workfd < 0)
                return log_errno(errno, "%s: cannot open %s/%s", what, ctx->store, name);
        /* Never mounted (overlayfs fills work/ on mount) and empty: a run that
         * stopped before the attributes were copied; nothing in it to keep. */
        if (!fresh && dir_empty(upperfd) && dir_empty(workfd))
                fresh = true;
        if (!fresh && done) {
                log_notice("%s: emptying the upper %s/%s/upper of an earlier run (merged or "
                           "discarded already)",
                           what, ctx->store, name);
                r = merge_empty_dir(upperfd, what);
                if (r < 0)
                        return r;
                clear_volatile_marker(workfd);
                fresh = true;
        }
        if (fresh)
                return copy_dir_attrs(lowerfd, upperfd, what);
        /* Left from an earlier run in this boot: its changes are kept as they are. */
        log_notice("%s: reusing the existing upper %s/%s/upper", what, ctx->store, name);
        clear_volatile_marker(workfd);
        return 0;
}

/* An interrupted flush (power cut at shutdown) leaves its marker and temporaries in
 * the lower dir. They must not show up in the merged view: remove them now if the
 * root is writable; otherwise the next flush removes them first (it checks the
 * marker too), and until then they are only hidden dot files. */
static void clean_flush_leftovers(int lowerfd, const char *path, const char *what)
{
        struct statvfs sv;

        if (faccessat(lowerfd, MERGE_MARKER, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        if (fstatvfs(lowerfd, &sv) == 0 && (sv.f_flag & ST_RDONLY)) {
                log_notice("%s: an interrupted flush left temporaries (%s*); the root is "
                           "read-only here, so the next flush removes them",
                           what, MERGE_TMP_PREFIX);
                return;
        }
        (void)merge_cleanup(lowerfd, path); /* logs what it removed or why not */
}

static int do_mount(const char *target, const char *options, bool *used_volatile)
{
        char withvol[1040];

        /* volatile: no syncs to the upper, which is RAM anyway (see issue 2). */
        snprintf(withvol, sizeof(withvol), "%s,volatile", options);
        if (mount("overlay", target, "overlay", 0, withvol) == 0) {
                *used_volatile = true;
                return 0;
        }
        if (errno != EINVAL)
                return -errno;
        /* Kernels before 5.10 do not know volatile: same result, only slower. */
        *used_volatile = false;
        return mount("overlay", target, "overlay", 0, options) < 0 ? -errno : 0;
}

/* Returns 1 when it mounted the overlay now, 0 when it was mounted already, or
 * -errno (logged). */
static int overlay_one(struct mount_ctx *ctx, const struct overlay_entry *o, struct state_dir *d)
{
        _cleanup_free_ struct mount_entry *e = NULL;
        _cleanup_close_ int lowerfd = -EBADF;
        char target[PATH_MAX], what[PATH_MAX + 32], name[NAME_MAX + 1], options[1000];
        bool vol = false;
        int r, n;

        snprintf(what, sizeof(what), "overlay %s", o->path);
        snprintf(name, sizeof(name), "%s", d->name);
        r = mount_target(ctx, o->path, target, sizeof(target));
        if (r < 0)
                return log_errno(r, "%s", what);
        e = malloc(sizeof(*e));
        if (!e)
                return log_errno(ENOMEM, "%s", what);
        r = mountinfo_find_target(target, e);
        if (r > 0 && mountinfo_is_overlay_of(e, name)) {
                log_info("%s: already mounted, left as it is", what);
                d->status = STATE_MOUNTED;
                return 0;
        }
        if (r > 0 && streq(e->fstype, "overlay"))
                return log_errno(EBUSY,
                                 "%s: another overlay is mounted on %s; not stacking "
                                 "a second one",
                                 what, target);
        lowerfd = open_dir_beneath(ctx->rootfd, o->path + 1, O_RDONLY);
        if (lowerfd < 0)
                return log_errno(lowerfd, "%s: cannot open %s", what, target);
        record_lower(d, target, lowerfd);
        clean_flush_leftovers(lowerfd, o->path, what);
        r = prepare_store_dirs(ctx, name, lowerfd, what,
                               d->status == STATE_FLUSHED || d->status == STATE_DISCARDED);
        if (r < 0)
                return r;
        n = snprintf(options, sizeof(options),
                     "lowerdir=%s,upperdir=%s/%s/upper,workdir=%s/%s/work," OVERLAY_FIXED_OPTIONS,
                     target, ctx->store, name, ctx->store, name);
        if (n < 0 || (size_t)n >= sizeof(options))
                return log_errno(ENAMETOOLONG, "%s: mount options too long", what);
        r = do_mount(target, options, &vol);
        if (r < 0)
                return log_errno(r, "%s: cannot mount overlayfs on %s (%s)", what, target, options);
        snprintf(d->options, sizeof(d->options), "%s%s", options, vol ? ",volatile" : "");
        d->status = STATE_MOUNTED;
        log_notice("%s: mounted (%s, upper in %s/%s)", what, dir_mode_to_string(o->mode),
                   ctx->store, name);
        return 1;
}

/* The state could not record an overlay this run mounted: flush would never merge
 * it, so its changes would be lost at shutdown. Unmounted, writes go to disk. */
static void unmount_unrecorded(struct mount_ctx *ctx, const char *path, struct state_dir *d)
{
        char target[PATH_MAX];
        int r;

        d->status = STATE_FAILED;
        r = mount_target(ctx, path, target, sizeof(target));
        if (r == 0 && umount2(target, 0) < 0)
                r = -errno;
        if (r < 0) {
                log_errno(r,
                          "overlay %s: cannot unmount it again; its changes will NOT be "
                          "written to disk at shutdown",
                          path);
                return;
        }
        log_error("overlay %s: unmounted again, since its record could not be written "
                  "(without it the changes would be lost at shutdown)",
                  path);
}

/* The store name of path must exist and not be taken by another recorded dir
 * ("/a-b" and "/a_x2db" both escape to "a_x2db"). */
static bool name_usable(struct mount_ctx *ctx, const char *path)
{
        char name[NAME_MAX + 1];
        int r;

        r = state_dir_name(path, name, sizeof(name));
        if (r < 0) {
                log_errno(r, "overlay %s: no usable store name", path);
                return false;
        }
        for (unsigned i = 0; i < ctx->state.n_dirs; i++)
                if (streq(ctx->state.dirs[i].name, name) && !streq(ctx->state.dirs[i].path, path)) {
                        log_error("overlay %s: skipped: its store name '%s' is taken by %s", path,
                                  name, ctx->state.dirs[i].path);
                        return false;
                }
        return true;
}

void mount_overlays(struct mount_ctx *ctx)
{
        for (unsigned i = 0; i < ctx->cfg.n_dirs; i++) {
                const struct overlay_entry *o = &ctx->cfg.dirs[i];
                struct state_dir *d;
                int r, mounted_now;

                if (mount_hidden_by_fstab(ctx, o->path, "ephemeral.dirs"))
                        continue;
                if (ctx->storefd < 0) {
                        log_error("overlay %s: not mounted (no store, see above)", o->path);
                        ctx->n_failed++;
                        continue;
                }
                if (!name_usable(ctx, o->path)) {
                        ctx->n_failed++;
                        continue;
                }
                d = record_for(&ctx->state, o->path);
                if (!d) {
                        log_error("overlay %s: the state has no room for it", o->path);
                        ctx->n_failed++;
                        continue;
                }
                state_dir_name(o->path, d->name, sizeof(d->name));
                d->mode = o->mode;
                mounted_now = overlay_one(ctx, o, d);
                if (mounted_now < 0) {
                        ctx->n_failed++;
                        /* a dir whose overlay is still mounted keeps its record */
                        if (d->status != STATE_MOUNTED)
                                d->status = STATE_FAILED;
                }
                r = state_write(ctx->storefd, &ctx->state);
                if (r < 0) {
                        log_errno(r, "cannot write %s/%s", ctx->store, STATE_FILE);
                        ctx->n_failed++;
                        if (mounted_now > 0)
                                unmount_unrecorded(ctx, o->path, d);
                }
        }
}
