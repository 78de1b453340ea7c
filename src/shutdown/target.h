/* SPDX-License-Identifier: MIT */
/*
 * target: reach the lower directory of an overlay for flush. Detaches a
 * still-mounted overlay on <root><dir>; if <root><dir> is not the filesystem
 * recorded at mount time (or not reachable), mounts that filesystem itself (found
 * by UUID with libblkid) on a private directory; a read-only filesystem is
 * remounted read-write, and back afterwards.
 *
 * Layer src/shutdown/: what `flush` needs around the engine; may call src/merge/,
 * src/config/ and src/shared/.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>

#include "config/state.h"
#include "shutdown/holders.h"

struct merge_target {
        int fd;                      /* the lower dir, O_DIRECTORY */
        struct holder_paths held;    /* paths in use when the overlay had to be detached lazily */
        struct merge_pins pins;      /* the lower inodes on them: the merge must not unlink these */
        char mnt[PATH_MAX];          /* our own mount of the filesystem, "" if none */
        char remounted[PATH_MAX];    /* mount point remounted read-write, "" if none */
        unsigned long remount_flags; /* flags to restore it read-only with */
};

/* Open the lower dir of d. With readonly (dry-run) nothing is detached or made
 * writable: the filesystem is mounted read-only privately when needed. scratch is
 * a directory (the store) for the private mount point. Logs; returns 0 or -errno. */
int merge_target_open(const char *root, const struct state_dir *d, const char *scratch,
                      bool readonly, struct merge_target *t);

/* Detach the overlays (only those) stacked on <root><d->path>. 0 or -errno (logged). */
int merge_target_detach(const char *root, const struct state_dir *d);

/* Undo what open did (read-only again, private mount gone). Logs failures. */
void merge_target_close(struct merge_target *t, const char *label);
