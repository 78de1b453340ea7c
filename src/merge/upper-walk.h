/* SPDX-License-Identifier: MIT */
/*
 * upper-walk: read-only walk of an overlay upper tree for status and diff. Entries
 * come in a stable order (names sorted bytewise), each directory before its
 * contents, classified the way overlayfs reads them. Directories are entered with
 * openat(O_NOFOLLOW) relative to their parent's fd; nothing is followed.
 */
#pragma once

#include <limits.h>
#include <sys/stat.h>

enum upper_kind {
        UPPER_DIR,        /* a directory (merged with the lower one, if any) */
        UPPER_OPAQUE_DIR, /* trusted.overlay.opaque=y: hides the lower contents */
        UPPER_WHITEOUT,   /* character device 0:0: the lower entry is deleted */
        UPPER_OTHER,      /* file, symlink, fifo, device, socket: replaces the lower */
};

struct upper_entry {
        const char *path; /* relative to the upper root: "ssh/sshd_config" */
        int dirfd;        /* the parent directory */
        const char *name; /* the name in it */
        const struct stat *st;
        enum upper_kind kind;
        unsigned depth; /* 1 for entries of the upper root */
};

/* Return 0 to go on, 1 to skip a directory's contents, < 0 to stop the walk. */
typedef int (*upper_walk_fn)(const struct upper_entry *e, void *userdata);

/* Walks the tree below upperfd (not the root itself). Returns 0, the callback's
 * negative value, or -errno (-ELOOP when deeper than UPPER_WALK_MAX_DEPTH). */
#define UPPER_WALK_MAX_DEPTH 1024
int upper_walk(int upperfd, upper_walk_fn fn, void *userdata);

/* Classifies one entry (fd: the directory itself for directories, else -1).
 * Returns an enum upper_kind, or -errno when a directory's opaque xattr cannot be
 * read (an error is never taken for "not opaque"). */
int upper_classify(int fd, const struct stat *st);
