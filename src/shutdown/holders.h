/* SPDX-License-Identifier: MIT */
/*
 * holders: who still uses an overlay at flush time, and which lower inodes that
 * use pins. A process that holds a file open (or as cwd, root or a mapping) in an
 * overlay keeps it busy: flush can only detach it lazily, and the detached overlay
 * keeps references to the lower entries on that file's path. Replacing or deleting
 * one of them would leave an unlinked inode in use, so the later read-only remount
 * of the root fails ("busy") and the filesystem is left with orphans. flush names
 * the holders and hands the pinned inodes to the merge, which then keeps the old
 * version of such an entry as a leftover temporary instead of unlinking it.
 */
#pragma once

#include <stddef.h>

#include "merge/merge.h"

/* Paths (relative to the overlay's root, "" for the root itself) in use by some
 * process, each once. */
struct holder_paths {
        char **v;
        size_t n;
};

/* Scan /proc/<pid>/{fd/<n>,cwd,root,maps} of every process but this one for what
 * lies on the overlay mounted at mnt (an absolute path); log one line per process
 * naming it (pid, command, first path) and add the paths to *paths. Returns the
 * number of holding processes or -errno (logged). */
int holders_scan(const char *mnt, const char *label, struct holder_paths *paths);

/* The lower entries on each path (every component from the root down, where it
 * exists below lowerfd) as pins for the merge. Returns 0 or -errno. */
int holders_pins(int lowerfd, const struct holder_paths *paths, struct merge_pins *pins);

void holder_paths_free(struct holder_paths *paths);
void merge_pins_free(struct merge_pins *pins);
