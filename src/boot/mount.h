/* SPDX-License-Identifier: MIT */
/*
 * mount: the shared context of `ephemeral mount` and its steps. cmd/mount.c reads
 * the configuration, loads overlayfs and mounts the store, then runs each step in
 * turn (overlay.c, then tmpfs.c and keep.c; dirattr.c copies a dir's attributes).
 * A step never stops the boot: it reports every failed entry once (stderr and
 * /dev/kmsg), counts it in the context and goes on with the next one.
 *
 * Layer src/boot/: what `mount` does in the initramfs; may call src/merge/ (the
 * cleanup of an interrupted flush), src/config/ and src/shared/.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "config/state.h"

struct mount_ctx {
        char root[PATH_MAX];  /* canonical; "/" or no trailing slash */
        char store[PATH_MAX]; /* canonical store path */
        int rootfd;           /* O_DIRECTORY fd of the root */
        int storefd;          /* O_DIRECTORY fd of the mounted store, -EBADF if none */
        struct config cfg;
        struct state state; /* recorded in <store>/state */
        uint64_t ram;       /* bytes, for percentage sizes */
        unsigned n_bad;     /* entries skipped because of the configuration */
        unsigned n_failed;  /* mounts that failed */
        /* keep entries: what mount_keep_prepare chose to bind (fd of the source
         * directory, opened before a tmpfs could hide it), -EBADF: skip it. */
        int keep_src[CONFIG_MAX_DIRS];
};

/* A step: mounts one kind of thing for every configured entry. */
typedef void (*mount_step_fn)(struct mount_ctx *ctx);
void mount_overlays(struct mount_ctx *ctx);     /* overlay.c */
void mount_keep_prepare(struct mount_ctx *ctx); /* keep.c: before the tmpfs hide the lower */
void mount_tmpfs_dirs(struct mount_ctx *ctx);   /* tmpfs.c */
void mount_keep_bind(struct mount_ctx *ctx);    /* keep.c */

/* <root><path> into out (path absolute). Returns 0 or -ENAMETOOLONG. */
int mount_target(const struct mount_ctx *ctx, const char *path, char *out, size_t outlen);

/* When <root>/etc/fstab will mount a filesystem on path or a parent of it that is
 * not mounted yet, a mount of ours would be hidden after switch_root: logs why
 * (what: "ephemeral.dirs" ...), counts it as a bad entry and returns true. */
bool mount_hidden_by_fstab(struct mount_ctx *ctx, const char *path, const char *what);

/* Give directory dst the owner, mode, times and xattrs (except trusted.overlay.*)
 * of src. A missing xattr support on dst is a warning only. Returns 0 or -errno. */
int copy_dir_attrs(int src, int dst, const char *what);
