/* SPDX-License-Identifier: MIT */
/*
 * mountinfo: questions answered from /proc/self/mountinfo: what is mounted exactly
 * at a path (the topmost mount), and which mount holds a path (to learn the
 * filesystem type, source device and the path inside that filesystem).
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct mount_entry {
        int id, parent;
        dev_t dev;
        char root[PATH_MAX];   /* path inside the filesystem that is mounted here */
        char target[PATH_MAX]; /* mount point */
        char fstype[64];
        char source[PATH_MAX];
        char super[2048]; /* superblock options (overlay: lowerdir=…,upperdir=…) */
};

/* Calls fn for every mount, in table order, until it returns non-zero; returns
 * that value, 0 at the end, or -errno when the table cannot be read. */
int mountinfo_foreach(int (*fn)(const struct mount_entry *e, void *userdata), void *userdata);

/* The topmost mount whose mount point is exactly target. Returns 1 and fills ret,
 * 0 when nothing is mounted there, or -errno. */
int mountinfo_find_target(const char *target, struct mount_entry *ret);

/* The mount holding path (absolute, canonical: no symlinks): the topmost mount
 * whose mount point is the longest prefix of path. Returns 1, 0 or -errno. */
int mountinfo_find_containing(const char *path, struct mount_entry *ret);

/* Where path lives inside the filesystem of e (which must contain it): e->root
 * joined with the part of path below e->target. Returns 0 or -ENAMETOOLONG. */
int mountinfo_fs_path(const struct mount_entry *e, const char *path, char *out, size_t outlen);

/* Option value from a comma-separated option string ("upperdir" of
 * "lowerdir=/a,upperdir=/b") into out; 1 found, 0 not. */
int mount_option_value(const char *options, const char *key, char *out, size_t outlen);

/* Is e an overlay whose upper dir is <something>/<name>/upper (ours, for the store
 * dir name)? The store's own path is not compared: it reads differently in the
 * initramfs and after switch_root. */
bool mountinfo_is_overlay_of(const struct mount_entry *e, const char *name);
