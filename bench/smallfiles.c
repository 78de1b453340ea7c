/* SPDX-License-Identifier: MIT */
/*
 * smallfiles: the write pattern of a package manager installing into /etc. For
 * each of COUNT files it writes SIZE bytes to "fNNNNNN.new", fsyncs it and renames
 * it to "fNNNNNN" (dpkg's way of replacing a file atomically); one fsync of the
 * directory at the end. fio cannot rename, hence this helper of bench/overlay.sh.
 * With MAX_SECONDS it stops early once that much time has passed (a slow disk
 * then writes fewer files; the rate is what is compared).
 *
 * Usage: smallfiles DIR COUNT SIZE [MAX_SECONDS]
 * Prints "<files written> <seconds>" on success; exit 100 on bad usage, 111 on
 * failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int parse_long(const char *s, long max, long *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int fail(const char *op, const char *name)
{
        fprintf(stderr, "smallfiles: %s %s: %s\n", op, name, strerror(errno));
        return 111;
}

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

int main(int argc, char **argv)
{
        char tmp[32], name[32];
        long count, size, max_seconds = 1000000, i;
        double start;
        char *buf;
        int dfd;

        if (argc < 4 || argc > 5 || parse_long(argv[2], 1000000, &count) < 0 ||
            parse_long(argv[3], 1 << 20, &size) < 0 ||
            (argc == 5 && parse_long(argv[4], 1000000, &max_seconds) < 0)) {
                fprintf(stderr, "usage: smallfiles DIR COUNT(1..1000000) SIZE(1..1048576) "
                                "[MAX_SECONDS]\n");
                return 100;
        }
        dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return fail("open", argv[1]);
        buf = malloc((size_t)size);
        if (!buf)
                return fail("malloc", "buffer");
        memset(buf, 'x', (size_t)size);

        start = now();
        for (i = 0; i < count; i++) {
                int fd;

                if (i % 64 == 0 && now() - start >= (double)max_seconds)
                        break;
                snprintf(tmp, sizeof(tmp), "f%06ld.new", i);
                snprintf(name, sizeof(name), "f%06ld", i);
                fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        return fail("create", tmp);
                if (write_all(fd, buf, (size_t)size) < 0)
                        return fail("write", tmp);
                if (fsync(fd) < 0)
                        return fail("fsync", tmp);
                if (close(fd) < 0)
                        return fail("close", tmp);
                if (renameat(dfd, tmp, dfd, name) < 0)
                        return fail("rename", tmp);
        }
        if (fsync(dfd) < 0)
                return fail("fsync", argv[1]);
        printf("%ld %.6f\n", i, now() - start);
        free(buf);
        close(dfd);
        return 0;
}
