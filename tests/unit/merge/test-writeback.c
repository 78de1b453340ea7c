/* SPDX-License-Identifier: MIT */
/* Unit tests of the early write-back helper (merge/writeback.c): the thread starts
 * at the first step crossed, never before, and is gone once merge_writeback_stop
 * returns; without its fd it stays off. Its syncfs failing is tested with strace
 * injection in tests/integration/test-fault-inject.sh. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "merge/internal.h"
#include "test.h"
#include "shared/util.h"

/* The number of threads of this process (/proc/self/status). */
static int threads(void)
{
        char line[256];
        int n = -1;
        FILE *f = fopen("/proc/self/status", "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "Threads: %d", &n) == 1)
                        break;
        fclose(f);
        return n;
}

TEST(starts_at_the_step_and_is_joined)
{
        /* procfs: its syncfs does nothing (the test needs the thread, not a disk). */
        int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct merge_writeback *wb;

        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(threads(), 1);
        wb = merge_writeback_new(fd, 100, 10, "/t");
        ASSERT_TRUE(wb != NULL);
        merge_writeback_kick(wb, 109);
        ASSERT_EQ(threads(), 1); /* not yet 10 bytes past 100 */
        merge_writeback_kick(wb, 110);
        ASSERT_EQ(threads(), 2);
        for (uint64_t b = 120; b < 400; b += 10)
                merge_writeback_kick(wb, b);
        ASSERT_EQ(merge_writeback_stop(wb), 0);
        ASSERT_EQ(threads(), 1);
        close(fd);
}

TEST(no_fd_no_thread)
{
        struct merge_writeback *wb = merge_writeback_new(-EBADF, 0, 1, "/t");

        ASSERT_TRUE(wb != NULL);
        merge_writeback_kick(wb, 1 << 20);
        ASSERT_EQ(threads(), 1);
        ASSERT_EQ(merge_writeback_stop(wb), 0);
        merge_writeback_kick(NULL, 1 << 20);
        ASSERT_EQ(merge_writeback_stop(NULL), 0);
}
