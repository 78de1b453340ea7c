/* SPDX-License-Identifier: MIT */
/* imageconf: the boot's configuration file, recorded in the store (see imageconf.h). */
#include "config/imageconf.h"

#include <fcntl.h>
#include <stdio.h>

#include "shared/log.h"
#include "shared/util.h"

/* The config parser reads at most 1 MiB too. */
#define IMAGECONF_MAX (1 << 20)
#define ROOT_CONFIG   "etc/ephemeral.conf"

int imageconf_record(int storefd, const char *path)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = path ? read_file_at(AT_FDCWD, path, IMAGECONF_MAX, &buf, &len) : -ENOENT;
        if (r == -ENOENT) {
                if (unlinkat(storefd, IMAGECONF_FILE, 0) < 0 && errno != ENOENT)
                        return log_errno(errno, "cannot remove the old %s from the store",
                                         IMAGECONF_FILE);
                return 0;
        }
        if (r < 0)
                return log_errno(r, "cannot read %s to record it in the store", path);
        r = write_file_atomic_at(storefd, IMAGECONF_FILE, buf, len, 0600);
        if (r < 0)
                return log_errno(r, "cannot record %s in the store", path);
        return 0;
}

int imageconf_stale(int storefd, const char *root)
{
        _cleanup_free_ char *image = NULL, *disk = NULL;
        _cleanup_close_ int rootfd = -EBADF;
        size_t ilen = 0, dlen = 0;
        int r;

        r = read_file_at(storefd, IMAGECONF_FILE, IMAGECONF_MAX, &image, &ilen);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return -errno;
        r = read_file_at(rootfd, ROOT_CONFIG, IMAGECONF_MAX, &disk, &dlen);
        if (r == -ENOENT)
                return 1;
        if (r < 0)
                return r;
        return ilen != dlen || memcmp(image, disk, ilen) != 0;
}
