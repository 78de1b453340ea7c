/* SPDX-License-Identifier: MIT */
/*
 * protect: names the sweeper never touches (nor anything below them). The
 * built-in list covers the sockets and lock files of X, ICE, fonts, systemd's
 * PrivateTmp dirs, Kerberos caches, tmux and ssh agents; `ephemeral.sweep.protect=`
 * adds globs (fnmatch, matched against single names).
 */
#include <fnmatch.h>

#include "sweep/sweep.h"

/* True when name cannot match pattern because it differs in the pattern's literal
 * prefix (the characters before the first *, ?, [ or \). A literal character
 * matches only itself in fnmatch (FNM_PERIOD changes nothing there), so this only
 * rules out names fnmatch would reject; everything else goes to fnmatch. It is
 * called for every name of every pass, fnmatch only for the few that remain. */
static bool prefix_differs(const char *pattern, const char *name)
{
        for (size_t i = 0;; i++) {
                char c = pattern[i];

                if (c == '\0' || c == '*' || c == '?' || c == '[' || c == '\\')
                        return false;
                if (c != name[i])
                        return true;
        }
}

bool name_is_protected(const char *name, const char (*patterns)[256], unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                if (!prefix_differs(patterns[i], name) &&
                    fnmatch(patterns[i], name, FNM_PERIOD) == 0)
                        return true;
        return false;
}

void protect_first_init(struct protect_first *f, const char (*patterns)[256], unsigned n)
{
        *f = (struct protect_first){0};
        for (unsigned i = 0; i < n; i++) {
                unsigned char c = (unsigned char)patterns[i][0];

                if (c == '*' || c == '?' || c == '[' || c == '\\') {
                        for (unsigned w = 0; w < 4; w++)
                                f->bits[w] = UINT64_MAX;
                        return;
                }
                f->bits[c >> 6] |= 1ULL << (c & 63);
        }
}
