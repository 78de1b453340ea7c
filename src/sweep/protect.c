/* SPDX-License-Identifier: MIT */
/*
 * protect: names the sweeper never touches (nor anything below them). The
 * built-in list covers the sockets and lock files of X, ICE, fonts, systemd's
 * PrivateTmp dirs, Kerberos caches, tmux and ssh agents; `ephemeral.sweep.protect=`
 * adds globs (fnmatch, matched against single names).
 */
#include <fnmatch.h>

#include "sweep/sweep.h"

const char *const sweep_default_protect[] = {
    ".X11-unix", ".ICE-unix", ".X*-lock", ".font-unix", "systemd-private-*",
    "krb5cc_*",  "tmux-*",    "ssh-*",    NULL,
};

bool name_is_protected(const char *name, const char (*patterns)[256], unsigned n, bool use_defaults)
{
        if (use_defaults)
                for (const char *const *p = sweep_default_protect; *p; p++)
                        if (fnmatch(*p, name, FNM_PERIOD) == 0)
                                return true;
        for (unsigned i = 0; i < n; i++)
                if (fnmatch(patterns[i], name, FNM_PERIOD) == 0)
                        return true;
        return false;
}
