/* SPDX-License-Identifier: MIT */
/* Unit tests of the sweeper's protected names (src/sweep/protect.c). */
#include <fnmatch.h>

#include "config/config.h"
#include "sweep/sweep.h"
#include "test.h"

/* The default list, as the sweeper gets it: ephemeral.sweep.protect's default. */
static bool protected_by_default(const char *name)
{
        static struct config c;

        config_init(&c);
        return name_is_protected(name, c.protect, c.n_protect);
}

TEST(defaults_protect_the_usual_suspects)
{
        const char *yes[] = {".X11-unix",   ".ICE-unix",  ".X0-lock",
                             ".X1024-lock", ".font-unix", "systemd-private-abc-foo.service-xyz",
                             "krb5cc_1000", "tmux-1000",  "ssh-XXXXabc"};
        const char *no[] = {"X11-unix", ".X0-lockx",    "foo",        "krb5cc",         "tmux",
                            "ssh",      "my-ssh-agent", ".X11-unix2", "systemd-private"};

        for (unsigned i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
                if (!protected_by_default(yes[i]))
                        FAIL("%s should be protected", yes[i]);
        for (unsigned i = 0; i < sizeof(no) / sizeof(no[0]); i++)
                if (protected_by_default(no[i]))
                        FAIL("%s should not be protected", no[i]);
}

TEST(configured_globs_replace_the_defaults)
{
        const char pats[][256] = {"keep-*", "*.pid", "exact"};

        ASSERT_TRUE(name_is_protected("keep-me", pats, 3));
        ASSERT_TRUE(name_is_protected("daemon.pid", pats, 3));
        ASSERT_TRUE(name_is_protected("exact", pats, 3));
        ASSERT_FALSE(name_is_protected("exactly", pats, 3));
        ASSERT_FALSE(name_is_protected(".X11-unix", pats, 3));
}

TEST(leading_dot_must_be_explicit)
{
        const char pats[][256] = {"*"};

        /* Like the shell: "*" does not match hidden names. */
        ASSERT_TRUE(name_is_protected("visible", pats, 1));
        ASSERT_FALSE(name_is_protected(".hidden", pats, 1));
}

TEST(character_classes)
{
        const char pats[][256] = {"cache-[0-9]"};

        ASSERT_TRUE(name_is_protected("cache-7", pats, 1));
        ASSERT_FALSE(name_is_protected("cache-x", pats, 1));
}

/* The literal-prefix shortcut in front of fnmatch (protect.c) must never change an
 * answer: compare with fnmatch itself over patterns with escapes, classes, leading
 * dots and wildcards in every position. */
TEST(prefix_shortcut_agrees_with_fnmatch)
{
        const char pats[][256] = {"ab",  "a\\b",  "\\*x", "a*",   "*b",  "a?c",  "[ab]c",
                                  ".a*", "a[.]b", "",     "abc*", "a\\", "s*-x", "ssh-*"};
        const char *names[] = {"ab",  "a",   "b", "*x",  "ax",  "abc", "ac",   "bc",  ".a",
                               ".ab", "a.b", "",  "abd", "a\\", "s-x", "ssh-", "ssh", "s0"};

        for (unsigned i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
                for (unsigned j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
                        bool want = fnmatch(pats[i], names[j], FNM_PERIOD) == 0;
                        struct protect_first f;

                        if (name_is_protected(names[j], &pats[i], 1) != want)
                                FAIL("pattern '%s', name '%s': expected %d", pats[i], names[j],
                                     want);
                        /* The first-byte set of the walker never rules out a match. */
                        protect_first_init(&f, &pats[i], 1);
                        if (want && !protect_first_may_match(&f, names[j]))
                                FAIL("pattern '%s': first-byte set rules out '%s'", pats[i],
                                     names[j]);
                }
}

TEST(first_byte_set_of_the_defaults)
{
        static struct config c;
        struct protect_first f;

        config_init(&c);
        protect_first_init(&f, c.protect, c.n_protect);
        ASSERT_TRUE(protect_first_may_match(&f, ".X11-unix"));
        ASSERT_TRUE(protect_first_may_match(&f, "krb5cc_0"));
        ASSERT_TRUE(protect_first_may_match(&f, "ssh-x"));
        ASSERT_FALSE(protect_first_may_match(&f, "foo"));
        ASSERT_FALSE(protect_first_may_match(&f, "d0001"));
}
