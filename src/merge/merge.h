/* SPDX-License-Identifier: MIT */
/*
 * merge: the engine that writes an overlayfs upper dir down into its lower dir so
 * that the lower ends up exactly as the merged view was. Whiteouts delete, opaque
 * dirs replace, new and changed entries are written as temporaries and renamed
 * into place in a second phase, each phase closed by one syncfs(), so a crash at
 * any point leaves every file either old or new (see merge.c for the argument).
 * Nothing here follows a symlink or leaves the lower filesystem.
 *
 * All functions log their own failures (one line each, with the path) and return
 * 0 or a negative errno.
 *
 * Layer src/merge/: this is its one public header (flush, mount's cleanup at boot
 * and tests use it); merge/internal.h is for the engine's own files. It may call
 * src/config/ and src/shared/ only. upper-walk.h is the read-only walker that
 * `status` and `diff` use.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Name prefix of every temporary the engine creates in a lower dir; a temporary is
 * this prefix followed by exactly MERGE_TMP_HEX hex digits. */
#define MERGE_TMP_PREFIX ".#ephemeral."
#define MERGE_TMP_HEX    16
/* Written (and synced) in the lower root before the first temporary, removed after
 * the final sync: its presence means a flush was interrupted. */
#define MERGE_MARKER ".#ephemeral.flush-in-progress"

/* The deepest upper dir the flush merges (the upper root is depth 0). Real /etc
 * and /var/log are < 30 deep; a deeper tree (anyone who can write below /var/log
 * can make one) is refused before anything of its overlaid dir is touched, which
 * bounds the fds (about 3 per level) and the time of a flush. */
#define MERGE_MAX_DEPTH 1024u

struct merge_stats {
        uint64_t written; /* entries created or replaced (a new tree: all inside it) */
        uint64_t deleted; /* lower entries removed (counting everything inside) */
        uint64_t bytes;   /* file data copied */
        uint64_t errors;  /* entries that failed (each logged once) */
};

/* Lower inodes something still uses through a lazily detached overlay (see
 * shutdown/holders.h): the merge never unlinks one of them; the old version stays
 * as a leftover temporary, which the next run removes. */
struct merge_pin {
        dev_t dev;
        ino_t ino;
};
struct merge_pins {
        struct merge_pin *v;
        size_t n;
};

struct merge_opts {
        const char *label; /* the overlaid path ("/etc"), used in messages and output */
        bool dry_run;      /* print A/M/D/O lines to out and change nothing */
        FILE *out;
        const struct merge_pins *pins; /* NULL: none */
        /* The upper is a copy (a checkpoint) of a store that could not hold user.*
         * xattrs (tmpfs before Linux 6.6): keep the disk's, as the flush does. */
        bool keep_user_xattrs;
};

/* Merge the upper tree at upperfd into the lower tree at lowerfd (both O_DIRECTORY).
 * Refuses (nothing touched) an upper that needs redirect or metacopy support
 * (-EPROTO) or is deeper than MERGE_MAX_DEPTH (-ELOOP). Returns 0 when every entry
 * merged, else the first error; stats counts what was done either way. */
int merge_tree(int upperfd, int lowerfd, const struct merge_opts *o, struct merge_stats *st);

/* Remove the leftovers of an interrupted flush below lowerfd if its marker is there
 * (temporaries anywhere in the tree, on the same filesystem). 0 when clean. */
int merge_cleanup(int lowerfd, const char *label);

/* Remove everything inside the upper dir (not the dir itself). */
int merge_empty_dir(int dirfd, const char *label);

/* Write one "X path" line as `ephemeral diff` does (git-style quoting). */
void merge_print_change(FILE *out, char kind, const char *label, const char *relpath);
