/* SPDX-License-Identifier: MIT */
/* Unit tests of the sweeper's staleness rule (src/sweep/age.c). */
#include "sweep/sweep.h"
#include "test.h"

#define S 1000000000LL

TEST(all_old_is_stale)
{
        struct entry_times t = {.atime = 10 * S, .mtime = 20 * S, .ctime = 30 * S, .btime = 5 * S};

        ASSERT_TRUE(entry_is_stale(&t, false, 30 * S));
        ASSERT_TRUE(entry_is_stale(&t, false, 31 * S));
        ASSERT_FALSE(entry_is_stale(&t, false, 29 * S));
}

TEST(each_time_alone_keeps_a_file)
{
        int64_t cutoff = 100 * S;
        struct entry_times base = {.atime = 1 * S, .mtime = 1 * S, .ctime = 1 * S, .btime = 1 * S};
        struct entry_times t;

        ASSERT_TRUE(entry_is_stale(&base, false, cutoff));
        t = base, t.atime = 101 * S;
        ASSERT_FALSE(entry_is_stale(&t, false, cutoff));
        t = base, t.mtime = 101 * S;
        ASSERT_FALSE(entry_is_stale(&t, false, cutoff));
        /* Extracted from an old tarball: old mtime, fresh ctime. */
        t = base, t.ctime = 101 * S;
        ASSERT_FALSE(entry_is_stale(&t, false, cutoff));
        t = base, t.btime = 101 * S;
        ASSERT_FALSE(entry_is_stale(&t, false, cutoff));
}

TEST(directories_ignore_ctime)
{
        struct entry_times t = {.atime = 1 * S, .mtime = 2 * S, .ctime = 500 * S, .btime = 1 * S};

        ASSERT_TRUE(entry_is_stale(&t, true, 100 * S));
        ASSERT_FALSE(entry_is_stale(&t, false, 100 * S));
        ASSERT_EQ(entry_age_ref(&t, true), 2 * S);
        ASSERT_EQ(entry_age_ref(&t, false), 500 * S);
        t.btime = 200 * S;
        ASSERT_FALSE(entry_is_stale(&t, true, 100 * S));
}

TEST(nanoseconds_count)
{
        struct entry_times t = {.mtime = 100 * S + 1};

        ASSERT_FALSE(entry_is_stale(&t, false, 100 * S));
        ASSERT_TRUE(entry_is_stale(&t, false, 100 * S + 1));
}

TEST(times_from_statx_respect_the_mask)
{
        struct statx sx = {0};
        struct entry_times t;

        sx.stx_mask = STATX_MTIME | STATX_ATIME;
        sx.stx_mtime.tv_sec = 7;
        sx.stx_atime.tv_sec = 3;
        sx.stx_btime.tv_sec = 99; /* not in the mask: unknown, must not count */
        sx.stx_ctime.tv_sec = 98;
        entry_times_from_statx(&sx, &t);
        ASSERT_EQ(t.mtime, 7 * S);
        ASSERT_EQ(t.atime, 3 * S);
        ASSERT_EQ(t.btime, 0);
        ASSERT_EQ(t.ctime, 0);
        ASSERT_EQ(entry_age_ref(&t, false), 7 * S);
}
