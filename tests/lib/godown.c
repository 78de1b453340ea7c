/* SPDX-License-Identifier: MIT */
/*
 * godown: simulate a power cut on a mounted filesystem. The shutdown ioctl
 * (FS_IOC_SHUTDOWN, ext4 and xfs) with the "no log flush" flag makes the
 * filesystem refuse every later write and drops what the journal has not
 * committed, as a power cut would; after an unmount, the next mount replays the
 * journal up to its last commit.
 *
 *   godown [--flush] PATH      PATH: any file or directory on the filesystem
 *
 * --flush flushes the log first (EXT4_GOING_FLAGS_LOGFLUSH). libc only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Not in the uapi headers of every libc: the values of fs/ext4/ext4.h and xfs_fs.h. */
#define GODOWN_IOC       _IOR('X', 125, uint32_t)
#define GOING_LOGFLUSH   0x1
#define GOING_NOLOGFLUSH 0x2

int main(int argc, char *argv[])
{
        uint32_t flags = GOING_NOLOGFLUSH;
        const char *path;
        int fd;

        if (argc == 3 && strcmp(argv[1], "--flush") == 0)
                flags = GOING_LOGFLUSH;
        else if (argc != 2 || argv[1][0] == '-') {
                fprintf(stderr, "Usage: godown [--flush] PATH\n");
                return 100;
        }
        path = argv[argc - 1];
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "godown: cannot open %s: %s\n", path, strerror(errno));
                return 111;
        }
        if (ioctl(fd, GODOWN_IOC, &flags) < 0) {
                fprintf(stderr, "godown: shutdown of %s failed: %s\n", path, strerror(errno));
                return 111;
        }
        close(fd);
        return 0;
}
