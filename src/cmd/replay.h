/* SPDX-License-Identifier: MIT */
/* replay: what `ephemeral mount` does with a checkpoint the last boot left (replay.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shutdown/target.h"

/* If the journal (below root) holds a current checkpoint, verify it, merge it into
 * the lower dirs and retire it (not when enabled is false: ephemeral=off). Writes
 * the boot line (what happened to the last boot's changes; "" when there is
 * nothing to say) into line. scratch: a dir for a private mount if the engine
 * needs one. Never stops the boot: 0, or -errno when something failed (logged). */
int replay_at_boot(const char *root, const char *journal, const char *scratch, bool enabled,
                   char *line, size_t len);

/* Where the boot line stays: appended to <root>/var/log/ephemeral.log (through the
 * overlay when one is mounted there, so it reaches the disk with the next
 * checkpoint or flush; skipped on a read-only root) and in <store>/boot-outcome for
 * `ephemeral status`. Failures are notes only. */
#define REPLAY_OUTCOME_FILE "boot-outcome"
void replay_record_line(int rootfd, int storefd, const char *line);

/* merge_target_open for the dir at path below root as it is now (the journal's
 * dir, or a dir named by a checkpoint): reachable, made writable. 0 or -errno
 * (-ENOENT not logged). */
int replay_target_open(const char *root, const char *path, const char *scratch,
                       struct merge_target *t);
