/* SPDX-License-Identifier: MIT */
/*
 * age: when is an entry stale. The newest of atime, mtime, ctime and btime must be
 * older than the cutoff, so a file just extracted from an old tarball (old mtime,
 * new ctime) or just read (new atime) is kept. Directories ignore ctime: removing
 * their stale children changes it, and that must not make them look fresh.
 */
#include "sweep/sweep.h"

static int64_t ts_ns(const struct statx_timestamp *t)
{
        return (int64_t)t->tv_sec * 1000000000LL + (int64_t)t->tv_nsec;
}

void entry_times_from_statx(const struct statx *sx, struct entry_times *ret)
{
        *ret = (struct entry_times){
            .atime = (sx->stx_mask & STATX_ATIME) ? ts_ns(&sx->stx_atime) : 0,
            .mtime = (sx->stx_mask & STATX_MTIME) ? ts_ns(&sx->stx_mtime) : 0,
            .ctime = (sx->stx_mask & STATX_CTIME) ? ts_ns(&sx->stx_ctime) : 0,
            .btime = (sx->stx_mask & STATX_BTIME) ? ts_ns(&sx->stx_btime) : 0,
        };
}

static int64_t max64(int64_t a, int64_t b)
{
        return a > b ? a : b;
}

int64_t entry_age_ref(const struct entry_times *t, bool is_dir)
{
        int64_t ref = max64(max64(t->atime, t->mtime), t->btime);

        return is_dir ? ref : max64(ref, t->ctime);
}

bool entry_is_stale(const struct entry_times *t, bool is_dir, int64_t cutoff_ns)
{
        return entry_age_ref(t, is_dir) <= cutoff_ns;
}
