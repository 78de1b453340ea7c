/* SPDX-License-Identifier: MIT */
/* fsuuid: the UUID of the filesystem on a block device, through libblkid. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* UUID of the filesystem on device dev (or, when dev has no device node, e.g. a
 * btrfs subvolume, on the device named by source). Returns 0, or -ENOENT when
 * none can be found (then out is ""), or -errno. */
int fsuuid_get(dev_t dev, const char *source, char *out, size_t outlen);
