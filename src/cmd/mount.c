/* SPDX-License-Identifier: MIT */
/*
 * mount: `ephemeral mount` runs in the initramfs with the real root at --root.
 * It reads the configuration (defaults < --config < --cmdline), loads overlayfs,
 * mounts the store tmpfs at --store and runs the mount steps (see mount.h). It
 * never fails the boot: exit 0 when all is well, 100 when configuration entries
 * were skipped, 111 when a mount failed (each failure already reported) or the
 * kernel command line could not be read (then nothing is mounted: it may hold
 * the rescue switch ephemeral=off).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include "cmd/commands.h"
#include "cmd/options.h"
#include "cmd/replay.h"
#include "config/imageconf.h"
#include "shared/fstab.h"
#include "shared/log.h"
#include "shared/modload.h"
#include "boot/mount.h"
#include "shared/mountinfo.h"
#include "shared/util.h"

#define DEFAULT_STORE   CMD_DEFAULT_STORE
#define DEFAULT_CMDLINE "/proc/cmdline"
#define DEFAULT_CONFIG  "/etc/ephemeral.conf"

/* Each kind of mount is one step in its own file; they run in this order. */
static const mount_step_fn steps[] = {
    mount_overlays,
    mount_keep_prepare,
    mount_tmpfs_dirs,
    mount_keep_bind,
};

/* Paths end up inside mount option strings: refuse what those cannot carry. */
static bool option_safe(const char *path)
{
        for (const unsigned char *p = (const unsigned char *)path; *p; p++)
                if (*p < 0x21 || *p == 0x7f || strchr(",:=\\\"", *p))
                        return false;
        return true;
}

/* tmpfs holds user.* xattrs only since Linux 6.6: before, overlayfs drops them when
 * it copies a file up (the flush keeps the disk copy's; see merge/meta.c). */
static void warn_no_user_xattrs(int storefd)
{
        static const char probe[] = "user.ephemeral-probe";

        if (fsetxattr(storefd, probe, "1", 1, 0) == 0) {
                (void)fremovexattr(storefd, probe);
                return;
        }
        if (errno == EOPNOTSUPP)
                log_notice("this kernel's tmpfs cannot hold user.* xattrs (Linux < 6.6): a "
                           "changed file shows none until the next boot; the flush keeps "
                           "those on disk");
}

int mount_target(const struct mount_ctx *ctx, const char *path, char *out, size_t outlen)
{
        int n = snprintf(out, outlen, "%s%s", streq(ctx->root, "/") ? "" : ctx->root, path);
        return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

bool mount_hidden_by_fstab(struct mount_ctx *ctx, const char *path, const char *what)
{
        _cleanup_free_ struct mount_entry *e = NULL;
        char mp[PATH_MAX], target[PATH_MAX];
        int r;

        r = fstab_covering(ctx->rootfd, path, mp, sizeof(mp));
        if (r <= 0)
                return false; /* no fstab (or unreadable): nothing will cover it */
        e = malloc(sizeof(*e));
        if (!e || mount_target(ctx, mp, target, sizeof(target)) < 0)
                return false;
        if (mountinfo_find_target(target, e) > 0)
                return false; /* already mounted here: our mount goes on top of it */
        log_error("%s: '%s' skipped: %s is a separate filesystem in the root's /etc/fstab, "
                  "mounted only after this point, and would hide it; choose a directory on "
                  "the root filesystem or have %s mounted in the initramfs (fstab option "
                  "x-initrd.mount)",
                  what, path, mp, mp);
        ctx->n_bad++;
        return true;
}

static void help(void)
{
        printf(
            "Usage: ephemeral mount [--root DIR] [--store DIR] [--cmdline FILE] [--config FILE]\n"
            "\n"
            "Mount the RAM store and the overlays on the root at DIR (run in the initramfs).\n"
            "  --root DIR      the real root (default /)\n"
            "  --store DIR     where the store tmpfs goes (default " DEFAULT_STORE ")\n"
            "  --cmdline FILE  kernel command line to read (default " DEFAULT_CMDLINE ")\n"
            "  --config FILE   config file (default " DEFAULT_CONFIG ", else DIR" DEFAULT_CONFIG
            ")\n"
            "Exit status: 0 all mounted, 100 configuration entries skipped, 111 a mount "
            "failed\nor the kernel command line could not be read (then nothing is mounted).\n");
}

/* Reads the configuration; *ret_image is the file read from outside the root (the
 * image's own copy, or --config), NULL when it is the root's own file. */
static int read_config(struct mount_ctx *ctx, const char *config, const char *cmdline,
                       bool explicit_config, const char **ret_image)
{
        char alt[PATH_MAX];

        config_defaults(&ctx->cfg); /* ctx is calloc'd */
        *ret_image = config;
        /* The image's copy wins; without one, the root's own file is read, so a
         * change to it needs no initramfs rebuild. */
        if (!explicit_config && access(config, F_OK) < 0 && !streq(ctx->root, "/") &&
            mount_target(ctx, config, alt, sizeof(alt)) == 0) {
                config = alt;
                *ret_image = NULL;
        }
        if (config_parse_file(&ctx->cfg, config) < 0)
                ctx->cfg.n_errors++;
        /* Fail closed: a command line that could not be read may hold the rescue
         * switch ephemeral=off (the error is already logged). */
        return config_parse_cmdline_file(&ctx->cfg, cmdline) < 0 ? -EIO : 0;
}

static int mount_store(struct mount_ctx *ctx, const char *store)
{
        _cleanup_free_ struct mount_entry *e = NULL;
        _cleanup_close_ int fd = -EBADF, base = -EBADF;
        char opts[128], size[32];
        uint64_t cap;
        struct statfs sfs;
        int r;

        base = open(store[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (base < 0)
                return log_errno(errno, "cannot open the directory of %s", store);
        fd = mkdir_p_beneath(base, store, 0700);
        if (fd < 0)
                return log_errno(fd, "cannot create the store directory %s", store);
        if (!realpath(store, ctx->store))
                return log_errno(errno, "cannot resolve %s", store);
        if (!option_safe(ctx->store))
                return log_errno(EINVAL,
                                 "store path %s contains a character that mount "
                                 "options cannot carry (space , : = \\ \")",
                                 ctx->store);
        e = malloc(sizeof(*e));
        if (!e)
                return log_errno(ENOMEM, "store");
        r = mountinfo_find_target(ctx->store, e);
        if (r < 0)
                return log_errno(r, "cannot read /proc/self/mountinfo");
        if (r > 0 && streq(e->fstype, "tmpfs")) {
                log_info("store %s is already mounted, using it", ctx->store);
        } else {
                cap = size_to_bytes(&ctx->cfg.size, ctx->ram);
                snprintf(opts, sizeof(opts), "mode=0700,size=%" PRIu64, cap);
                if (mount("ephemeral", ctx->store, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                        return log_errno(errno, "cannot mount the store tmpfs on %s (%s)",
                                         ctx->store, opts);
                log_info("store: tmpfs on %s, capped at %s", ctx->store,
                         format_size(cap, size, sizeof(size)));
        }
        ctx->storefd = open(ctx->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ctx->storefd < 0)
                return log_errno(errno, "cannot open the store %s", ctx->store);
        warn_no_user_xattrs(ctx->storefd);
        r = state_read(ctx->storefd, &ctx->state);
        if (r == -EBADMSG)
                log_warning("%s/%s is malformed; writing a new one", ctx->store, STATE_FILE);
        else if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "cannot read %s/%s; writing a new one", ctx->store,
                                  STATE_FILE);
        /* On failure state_read left ctx->state as it was: all zero (ctx is
         * calloc'd), i.e. no records. */
        ctx->state.version = STATE_VERSION;
        snprintf(ctx->state.journal, sizeof(ctx->state.journal), "%s", ctx->cfg.journal);
        ctx->state.checkpoint_sec = ctx->cfg.checkpoint_sec;
        if (fstatfs(ctx->storefd, &sfs) == 0)
                ctx->state.cap = (uint64_t)sfs.f_blocks * (uint64_t)sfs.f_bsize;
        r = state_write(ctx->storefd, &ctx->state);
        if (r < 0)
                return log_errno(r, "cannot write %s/%s", ctx->store, STATE_FILE);
        return 0;
}

static int run(struct mount_ctx *ctx, const char *root, const char *store)
{
        int r;

        if (!realpath(root, ctx->root))
                return log_errno(errno, "cannot use root %s", root);
        if (!option_safe(ctx->root))
                return log_errno(EINVAL,
                                 "root path %s contains a character that mount "
                                 "options cannot carry (space , : = \\ \")",
                                 ctx->root);
        ctx->rootfd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ctx->rootfd < 0)
                return log_errno(errno, "cannot open root %s", ctx->root);
        config_check_dirs_in_root(&ctx->cfg, ctx->rootfd);
        ctx->n_bad = ctx->cfg.n_errors;
        /* Without overlayfs or the store, the overlay step counts its dirs as
         * failed; the tmpfs and keep steps still run. */
        r = ctx->cfg.n_dirs > 0 ? modload_filesystem("overlay", NULL) : 0;
        if (r == -ENOENT)
                log_errno(r, "cannot load overlayfs: %s", modload_missing_hint());
        else if (r == -ELIBACC || r == -ELIBBAD)
                log_errno(r,
                          "cannot load the overlay kernel module: %s (the image needs "
                          "libkmod.so.2: rebuild it with ephemeral's hook installed)",
                          modload_library_error());
        else if (r < 0)
                log_errno(r, "cannot load the overlay kernel module");
        else if (ctx->cfg.n_dirs > 0 && mount_store(ctx, store) < 0)
                /* no state, no flush: overlays would lose their changes */
                ctx->storefd = safe_close(ctx->storefd);
        for (size_t i = 0; i < ARRAY_SIZE(steps); i++)
                steps[i](ctx);
        return 0;
}

int cmd_mount(int argc, char *argv[])
{
        static const struct option options[] = {
            {"root", required_argument, NULL, 'r'},    {"store", required_argument, NULL, 's'},
            {"cmdline", required_argument, NULL, 'c'}, {"config", required_argument, NULL, 'C'},
            {"help", no_argument, NULL, 'h'},          {},
        };
        const char *root = "/", *store = DEFAULT_STORE, *cmdline = DEFAULT_CMDLINE;
        const char *config = DEFAULT_CONFIG, *image_config;
        bool explicit_config = false;
        _cleanup_free_ struct mount_ctx *ctx = NULL;
        char line[1024];
        int c, r;

        while ((c = getopt_long(argc, argv, "r:s:c:C:h", options, NULL)) >= 0) {
                switch (c) {
                case 'r':
                        root = optarg;
                        break;
                case 's':
                        store = optarg;
                        break;
                case 'c':
                        cmdline = optarg;
                        break;
                case 'C':
                        config = optarg;
                        explicit_config = true;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                log_error("mount: unexpected argument '%s' (try 'ephemeral mount --help')",
                          argv[optind]);
                return EXIT_USAGE;
        }
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx) {
                log_errno(ENOMEM, "mount");
                return EXIT_SYSTEM;
        }
        ctx->rootfd = ctx->storefd = -EBADF;
        for (size_t i = 0; i < ARRAY_SIZE(ctx->keep_src); i++)
                ctx->keep_src[i] = -EBADF;
        ctx->ram = config_ram_bytes();
        (void)log_open_kmsg(); /* early boot: make every line reach the console */
        snprintf(ctx->root, sizeof(ctx->root), "%s", root);
        if (read_config(ctx, config, cmdline, explicit_config, &image_config) < 0) {
                log_error("cannot tell whether the kernel command line says ephemeral=off: "
                          "mounting nothing");
                return EXIT_SYSTEM;
        }
        /* Before any overlay: the only moment a checkpoint may reach the lower. */
        if (replay_at_boot(root, ctx->cfg.journal, store, ctx->cfg.enabled, line, sizeof(line)) < 0)
                ctx->n_failed++;
        if (line[0])
                log_notice("%s", line);
        if (!ctx->cfg.enabled) {
                log_notice("disabled (ephemeral=off): nothing mounted");
                return ctx->n_failed ? EXIT_SYSTEM : EXIT_OK;
        }
        r = run(ctx, root, store);
        /* For `ephemeral status`: the copy this boot read, to tell when the image is
         * stale. Run on the live root (--root /), mount leaves the boot's record. */
        if (ctx->storefd >= 0 && !streq(ctx->root, "/"))
                (void)imageconf_record(ctx->storefd, image_config);
        if (line[0])
                replay_record_line(ctx->rootfd, ctx->storefd, line);
        safe_close(ctx->rootfd);
        safe_close(ctx->storefd);
        for (size_t i = 0; i < ARRAY_SIZE(ctx->keep_src); i++)
                safe_close(ctx->keep_src[i]);
        if (r < 0)
                return EXIT_SYSTEM;
        if (ctx->n_failed > 0)
                return EXIT_SYSTEM;
        return ctx->n_bad > 0 ? EXIT_USAGE : EXIT_OK;
}
