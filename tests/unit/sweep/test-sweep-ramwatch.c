/* SPDX-License-Identifier: MIT */
/* Unit tests of the RAM watch thresholds (src/sweep/ramwatch.c). */
#include "sweep/sweep.h"
#include "test.h"

TEST(levels)
{
        ASSERT_EQ(ramwatch_level(0, 100), 0);
        ASSERT_EQ(ramwatch_level(79, 100), 0);
        ASSERT_EQ(ramwatch_level(80, 100), 1);
        ASSERT_EQ(ramwatch_level(94, 100), 1);
        ASSERT_EQ(ramwatch_level(95, 100), 2);
        ASSERT_EQ(ramwatch_level(100, 100), 2);
        ASSERT_EQ(ramwatch_level(5, 0), 0);
        /* No overflow for large filesystems. */
        ASSERT_EQ(ramwatch_level(90ULL << 40, 100ULL << 40), 1);
}

TEST(warns_once_per_crossing_and_rearms)
{
        int level = 0;

        ASSERT_EQ(ramwatch_update(&level, 0), -1);
        ASSERT_EQ(ramwatch_update(&level, 1), 1);  /* crossed 80 %: warn */
        ASSERT_EQ(ramwatch_update(&level, 1), -1); /* still over: quiet */
        ASSERT_EQ(ramwatch_update(&level, 2), 2);  /* crossed 95 %: warn */
        ASSERT_EQ(ramwatch_update(&level, 2), -1);
        ASSERT_EQ(ramwatch_update(&level, 1), -1); /* fell back: re-armed for 95 % */
        ASSERT_EQ(ramwatch_update(&level, 2), 2);
        ASSERT_EQ(ramwatch_update(&level, 0), -1);
        ASSERT_EQ(ramwatch_update(&level, 1), 1);
}
