/* SPDX-License-Identifier: MIT */
/*
 * protect: names the sweeper never touches (nor anything below them). The
 * built-in list covers the sockets and lock files of X, ICE, fonts, systemd's
 * PrivateTmp dirs, Kerberos caches, tmux and ssh agents; `ephemeral.sweep.protect=`
 * adds globs (fnmatch, matched against single names).
 */
#include <fnmatch.h>

#include "sweep/sweep.h"

bool name_is_protected(const char *name, const char (*patterns)[256], unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                if (fnmatch(patterns[i], name, FNM_PERIOD) == 0)
                        return true;
        return false;
}
