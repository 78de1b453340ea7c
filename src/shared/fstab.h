/* SPDX-License-Identifier: MIT */
/* fstab: what the new root's /etc/fstab will mount after switch_root. */
#pragma once

#include <stddef.h>

/* Finds the deepest entry of <root>/etc/fstab (rootfd) that will mount a
 * filesystem on path or on a parent of it ("/" itself, swap and noauto entries
 * do not count). Returns 1 and its mount point in mp, 0 when none, or -errno
 * (no readable fstab: -ENOENT). */
int fstab_covering(int rootfd, const char *path, char *mp, size_t mplen);
