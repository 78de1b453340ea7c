/* SPDX-License-Identifier: MIT */
/* fstab: read the new root's fstab (see fstab.h). */
#include "shared/fstab.h"

#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>

#include "shared/util.h"

int fstab_covering(int rootfd, const char *path, char *mp, size_t mplen)
{
        _cleanup_close_ int etc = -EBADF;
        _cleanup_fclose_ FILE *f = NULL;
        struct mntent ent;
        char buf[4096];
        size_t best = 0;
        int fd;

        etc = open_dir_beneath(rootfd, "etc", O_RDONLY);
        if (etc < 0)
                return etc;
        /* O_NONBLOCK: a FIFO here must not stall the boot */
        fd = openat(etc, "fstab", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "r");
        if (!f) {
                safe_close(fd);
                return -errno;
        }
        /* getmntent_r decodes \040 and friends and skips comments. */
        while (getmntent_r(f, &ent, buf, sizeof(buf))) {
                const char *dir = ent.mnt_dir;
                size_t n;

                if (dir[0] != '/' || streq(dir, "/") || streq(ent.mnt_type, "swap") ||
                    hasmntopt(&ent, "noauto"))
                        continue;
                n = strlen(dir);
                while (n > 1 && dir[n - 1] == '/')
                        n--;
                if (strncmp(dir, path, n) != 0 || (path[n] != '\0' && path[n] != '/'))
                        continue;
                if (n > best && n < mplen) {
                        best = n;
                        memcpy(mp, dir, n);
                        mp[n] = '\0';
                }
        }
        return best > 0 ? 1 : 0;
}
