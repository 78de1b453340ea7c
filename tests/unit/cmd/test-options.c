/* SPDX-License-Identifier: MIT */
/* Unit tests of cmd/options: each command takes only the options its syntax names,
 * defaults come first, --help and bad input say so, operands only where allowed. */
#include <errno.h>
#include <getopt.h>

#include "cmd/options.h"
#include "test.h"

static int usage_out, usage_err;

static void usage(FILE *f)
{
        if (f == stdout)
                usage_out++;
        else
                usage_err++;
}

static const struct cmd_syntax flush_like = {
    .name = "flush", .short_opts = "h", .options = "rsnh", .usage = usage};
static const struct cmd_syntax diff_like = {
    .name = "diff", .short_opts = "s:r:h", .options = "srh", .operands = true, .usage = usage};

/* Runs cmd_parse on a NULL-terminated argv from scratch. */
static int parse(const struct cmd_syntax *syn, struct cmd_opts *o, char **argv)
{
        int argc = 0;

        while (argv[argc])
                argc++;
        optind = 0; /* glibc: start over */
        opterr = 0;
        usage_out = usage_err = 0;
        return cmd_parse(syn, argc, argv, o);
}

TEST(defaults_and_values)
{
        struct cmd_opts o;

        ASSERT_EQ(parse(&flush_like, &o, (char *[]){"flush", NULL}), 1);
        ASSERT_STREQ(o.root, "/");
        ASSERT_STREQ(o.store, CMD_DEFAULT_STORE);
        ASSERT_FALSE(o.dry_run);
        ASSERT_EQ(parse(&flush_like, &o,
                        (char *[]){"flush", "--root", "/mnt", "--store=/s", "--dry-run", NULL}),
                  1);
        ASSERT_STREQ(o.root, "/mnt");
        ASSERT_STREQ(o.store, "/s");
        ASSERT_TRUE(o.dry_run);
        ASSERT_EQ(parse(&diff_like, &o, (char *[]){"diff", "-s", "/x", "-r", "/y", NULL}), 1);
        ASSERT_STREQ(o.store, "/x");
        ASSERT_STREQ(o.root, "/y");
}

TEST(only_the_options_the_command_names)
{
        struct cmd_opts o;

        /* --json and --if-due are known to some commands, not to flush */
        ASSERT_EQ(parse(&flush_like, &o, (char *[]){"flush", "--json", NULL}), -EINVAL);
        ASSERT_EQ(usage_err, 1);
        ASSERT_EQ(parse(&flush_like, &o, (char *[]){"flush", "--if-due", NULL}), -EINVAL);
        ASSERT_EQ(parse(&diff_like, &o, (char *[]){"diff", "--dry-run", NULL}), -EINVAL);
        ASSERT_EQ(parse(&flush_like, &o, (char *[]){"flush", "--bogus", NULL}), -EINVAL);
        ASSERT_EQ(parse(&flush_like, &o, (char *[]){"flush", "--root", NULL}), -EINVAL);
}

TEST(help_and_operands)
{
        struct cmd_opts o;

        ASSERT_EQ(parse(&flush_like, &o, (char *[]){"flush", "--help", NULL}), 0);
        ASSERT_EQ(usage_out, 1);
        ASSERT_EQ(usage_err, 0);
        ASSERT_EQ(parse(&flush_like, &o, (char *[]){"flush", "extra", NULL}), -EINVAL);
        ASSERT_EQ(parse(&diff_like, &o, (char *[]){"diff", "/etc", "/var/log", NULL}), 1);
        ASSERT_EQ(optind, 1);
}
