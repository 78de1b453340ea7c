/* SPDX-License-Identifier: MIT */
/*
 * no-rename-exchange: an LD_PRELOAD shim for tests. renameat2() with
 * RENAME_EXCHANGE fails with EINVAL, as it does on filesystems that cannot
 * exchange (NFS, exfat, ntfs3...); everything else goes to the kernel.
 *
 *   cc -shared -fPIC -o no-rename-exchange.so tests/lib/no-rename-exchange.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags)
{
        if (flags & RENAME_EXCHANGE) {
                errno = EINVAL;
                return -1;
        }
        return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}
