/* SPDX-License-Identifier: MIT */
/* Unit tests of the config module: defaults, file and command line parsing, every
 * kind of bad value (reported and skipped, the rest applied), sizes, and a fuzz
 * pass of random bytes through both parsers. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/keys.h"
#include "shared/log.h"
#include "test.h"
#include "shared/util.h"

static struct config c;

static void fresh(void)
{
        config_init(&c);
}

TEST(defaults)
{
        fresh();
        ASSERT_TRUE(c.enabled);
        ASSERT_EQ(c.n_dirs, 2);
        ASSERT_STREQ(c.dirs[0].path, "/etc");
        ASSERT_STREQ(c.dirs[1].path, "/var/log");
        ASSERT_EQ(c.dirs[0].mode, DIR_PERSIST);
        ASSERT_TRUE(c.size.percent);
        ASSERT_EQ(c.size.value, 25);
        ASSERT_EQ(c.n_tmpfs, 3);
        ASSERT_STREQ(c.tmpfs[0].path, "/tmp");
        ASSERT_EQ(c.tmpfs[0].size.value, 5ULL << 30);
        ASSERT_STREQ(c.tmpfs[2].path, "/var/cache");
        ASSERT_STREQ(c.persist, "/var/lib/ephemeral/persist");
        ASSERT_EQ(c.sweep_interval_sec, 60);
        ASSERT_EQ(c.sweep_age_min, 10);
        ASSERT_FALSE(c.sweep_dirs_set); /* the tmpfs dirs are swept */
        ASSERT_EQ(c.n_protect, 8);
        ASSERT_STREQ(c.protect[2], ".X*-lock");
        ASSERT_EQ(c.usercache.value, 0);
        ASSERT_EQ(c.n_keep, 0);
        ASSERT_EQ(c.n_errors, 0);
}

TEST(sweep_dirs)
{
        fresh();
        ASSERT_EQ(config_set(&c, "sweep.dirs", "/tmp,/var/cache", "t"), 0);
        ASSERT_TRUE(c.sweep_dirs_set);
        ASSERT_EQ(c.n_sweep_dirs, 2);
        ASSERT_STREQ(c.sweep_dirs[1], "/var/cache");
        ASSERT_EQ(config_set(&c, "sweep.dirs", "relative", "t"), -EINVAL);
        ASSERT_EQ(c.n_sweep_dirs, 0);
        ASSERT_EQ(config_set(&c, "sweep.dirs", "none", "t"), 0);
        ASSERT_EQ(c.n_sweep_dirs, 0);
}

TEST(sizes)
{
        struct size_spec s;
        char buf[32];

        ASSERT_EQ(parse_size("1024", &s), 0);
        ASSERT_EQ(s.value, 1024);
        ASSERT_FALSE(s.percent);
        ASSERT_EQ(parse_size("512M", &s), 0);
        ASSERT_EQ(s.value, 512ULL << 20);
        ASSERT_EQ(parse_size("2G", &s), 0);
        ASSERT_EQ(s.value, 2ULL << 30);
        ASSERT_EQ(parse_size("3k", &s), 0);
        ASSERT_EQ(s.value, 3072);
        ASSERT_EQ(parse_size("1T", &s), 0);
        ASSERT_EQ(s.value, 1ULL << 40);
        ASSERT_EQ(parse_size("25%", &s), 0);
        ASSERT_TRUE(s.percent);
        ASSERT_EQ(s.value, 25);
        ASSERT_EQ(parse_size("100%", &s), 0);
        ASSERT_EQ(parse_size("101%", &s), -EINVAL);
        ASSERT_EQ(parse_size("0%", &s), -EINVAL);
        ASSERT_EQ(parse_size("0", &s), -EINVAL);
        ASSERT_EQ(parse_size("0G", &s), -EINVAL);
        ASSERT_EQ(parse_size("", &s), -EINVAL);
        ASSERT_EQ(parse_size(NULL, &s), -EINVAL);
        ASSERT_EQ(parse_size("G", &s), -EINVAL);
        ASSERT_EQ(parse_size("-1G", &s), -EINVAL);
        ASSERT_EQ(parse_size("1.5G", &s), -EINVAL);
        ASSERT_EQ(parse_size("1GB", &s), -EINVAL);
        ASSERT_EQ(parse_size("1X", &s), -EINVAL);
        ASSERT_EQ(parse_size(" 1G", &s), -EINVAL);
        ASSERT_EQ(parse_size("99999999999999999999", &s), -ERANGE);
        ASSERT_EQ(parse_size("17179869184G", &s), -ERANGE);
        s = (struct size_spec){25, true};
        ASSERT_EQ(size_to_bytes(&s, 4ULL << 30), 1ULL << 30);
        ASSERT_EQ(size_to_bytes(&s, UINT64_MAX),
                  UINT64_MAX / 100 * 25 + UINT64_MAX % 100 * 25 / 100);
        s = (struct size_spec){1234, false};
        ASSERT_EQ(size_to_bytes(&s, 4ULL << 30), 1234);
        ASSERT_STREQ(format_size(512, buf, sizeof(buf)), "512B");
        ASSERT_STREQ(format_size(512ULL << 20, buf, sizeof(buf)), "512.0M");
        ASSERT_STREQ(format_size(3ULL << 29, buf, sizeof(buf)), "1.5G");
        ASSERT_STREQ(format_size(UINT64_MAX, buf, sizeof(buf)), "16.0E");
        ASSERT_TRUE(config_ram_bytes() > 0);
}

TEST(check_path)
{
        char out[PATH_MAX];
        const char *why;

        ASSERT_EQ(config_check_path("/etc", out, sizeof(out), &why), 0);
        ASSERT_STREQ(out, "/etc");
        ASSERT_EQ(config_check_path("//var///log/", out, sizeof(out), &why), 0);
        ASSERT_STREQ(out, "/var/log");
        ASSERT_EQ(config_check_path("/srv/caf\xc3\xa9", out, sizeof(out), &why), 0);
        ASSERT_EQ(config_check_path("etc", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("///", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/etc/../root", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/etc/./x", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/..", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/proc", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/sys/kernel", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/dev", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/run/x", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/boot/", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/bootx", out, sizeof(out), &why), 0);
        ASSERT_EQ(config_check_path("/a b", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/a,b", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/a:b", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/a\\b", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/a\nb", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_check_path("/a", out, 2, &why), -EINVAL);
}

/* diff filters: normalised like config paths, but any byte is fine in a name. */
TEST(normalize_path)
{
        char out[PATH_MAX];
        const char *why;

        ASSERT_EQ(config_normalize_path("//etc//My Wifi,5:GHz/", out, sizeof(out), &why), 0);
        ASSERT_STREQ(out, "/etc/My Wifi,5:GHz");
        ASSERT_EQ(config_normalize_path("///", out, sizeof(out), &why), 0);
        ASSERT_STREQ(out, "/");
        ASSERT_EQ(config_normalize_path("/run/x", out, sizeof(out), &why), 0);
        ASSERT_EQ(config_normalize_path("etc", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_normalize_path("", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_normalize_path(NULL, out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_normalize_path("/etc/../x", out, sizeof(out), &why), -EINVAL);
        ASSERT_EQ(config_normalize_path("/a", out, 2, &why), -EINVAL);
        ASSERT_EQ(config_normalize_path("/", out, 1, &why), -EINVAL);
}

TEST(cmdline_dirs)
{
        fresh();
        ASSERT_EQ(
            config_parse_cmdline(&c, "root=/dev/sda1 ephemeral.dirs=\"/etc,/srv:discard\" quiet"),
            0);
        ASSERT_EQ(c.n_dirs, 2);
        ASSERT_STREQ(c.dirs[0].path, "/etc");
        ASSERT_EQ(c.dirs[0].mode, DIR_PERSIST);
        ASSERT_STREQ(c.dirs[1].path, "/srv");
        ASSERT_EQ(c.dirs[1].mode, DIR_DISCARD);
        ASSERT_EQ(c.n_errors, 0);
        fresh();
        ASSERT_EQ(config_parse_cmdline(&c, "\"ephemeral.dirs=/home/x y:persist\""), 1);
        fresh();
        ASSERT_EQ(config_parse_cmdline(&c, "ephemeral.dirs=/var/log:persist,/etc/"), 0);
        ASSERT_STREQ(c.dirs[1].path, "/etc");
}

TEST(cmdline_onoff)
{
        const char *off[] = {"ephemeral=off", "ephemeral=0", "ephemeral=no"};
        for (size_t i = 0; i < ARRAY_SIZE(off); i++) {
                fresh();
                ASSERT_EQ(config_parse_cmdline(&c, off[i]), 0);
                ASSERT_FALSE(c.enabled);
                ASSERT_EQ(config_parse_cmdline(&c, "ephemeral=on"), 0);
                ASSERT_TRUE(c.enabled);
        }
        fresh();
        ASSERT_EQ(config_parse_cmdline(&c, "ephemeral=maybe"), 1);
        ASSERT_TRUE(c.enabled);
        ASSERT_EQ(config_parse_cmdline(&c, "ephemeralx=off ephemeral_dirs=/x notephemeral=off"), 0);
        ASSERT_TRUE(c.enabled);
        ASSERT_EQ(config_parse_cmdline(&c, "-- ephemeral=off"), 0);
        ASSERT_TRUE(c.enabled);
        ASSERT_EQ(config_parse_cmdline(&c, "ephemeral=off ephemeral"), 0);
        ASSERT_TRUE(c.enabled);
}

/* An unknown key is a warning also without a value (a flag of a newer version);
 * a known key without one is an error. */
TEST(cmdline_key_without_value)
{
        fresh();
        ASSERT_EQ(config_parse_cmdline(&c, "ephemeral.debug ephemeral.frob.nicate"), 0);
        ASSERT_EQ(c.n_errors, 0);
        ASSERT_EQ(config_parse_cmdline(&c, "ephemeral.dirs"), 1);
        ASSERT_EQ(c.n_errors, 1);
        ASSERT_EQ(c.n_dirs, 2);
}

/* Each bad dir is skipped with an error; the good ones stay, in order. */
TEST(bad_dirs)
{
        fresh();
        ASSERT_EQ(config_set(&c, "dirs",
                             "etc,/etc/../x,/,/proc,/sys/x,/dev,/run,/boot,/var/log,/var/log/,"
                             "/var/log/journal,/var,,/x:bogus,/a b,/srv:discard",
                             "test"),
                  -EINVAL);
        ASSERT_EQ(c.n_dirs, 2);
        ASSERT_STREQ(c.dirs[0].path, "/var/log");
        ASSERT_STREQ(c.dirs[1].path, "/srv");
        ASSERT_EQ(c.dirs[1].mode, DIR_DISCARD);
        ASSERT_EQ(c.n_errors, 14);
}

TEST(too_many_dirs)
{
        char value[1024] = "";
        fresh();
        for (int i = 0; i < CONFIG_MAX_DIRS + 3; i++) {
                char e[16];
                snprintf(e, sizeof(e), "%s/d%d", i ? "," : "", i);
                strcat(value, e);
        }
        ASSERT_EQ(config_set(&c, "dirs", value, "test"), -EINVAL);
        ASSERT_EQ(c.n_dirs, CONFIG_MAX_DIRS);
        ASSERT_EQ(c.n_errors, 3);
}

TEST(empty_and_none)
{
        fresh();
        ASSERT_EQ(config_set(&c, "dirs", "", "test"), -EINVAL);
        ASSERT_EQ(c.n_dirs, 2);
        ASSERT_EQ(config_set(&c, "size", "", "test"), -EINVAL);
        ASSERT_EQ(config_set(&c, "dirs", "none", "test"), 0);
        ASSERT_EQ(c.n_dirs, 0);
        ASSERT_EQ(config_set(&c, "tmpfs", "none", "test"), 0);
        ASSERT_EQ(c.n_tmpfs, 0);
        ASSERT_EQ(c.n_errors, 2);
        ASSERT_EQ(config_set(&c, "dirs", NULL, NULL), -EINVAL);
        ASSERT_EQ(config_set(&c, "dirz", "", "test"), -ENOENT); /* unknown beats empty */
}

TEST(other_keys)
{
        fresh();
        ASSERT_EQ(config_set(&c, "size", "512M", "t"), 0);
        ASSERT_EQ(c.size.value, 512ULL << 20);
        ASSERT_FALSE(c.size.percent);
        ASSERT_EQ(config_set(&c, "size", "0", "t"), -EINVAL);
        ASSERT_EQ(config_set(&c, "size", "lots", "t"), -EINVAL);
        ASSERT_EQ(config_set(&c, "size", "200%", "t"), -EINVAL);
        ASSERT_EQ(c.size.value, 512ULL << 20);
        ASSERT_EQ(
            config_set(&c, "tmpfs", "/tmp:1G,/var/tmp:10%,/x,/y:0,/z:big,/tmp:2G,/run:1G", "t"),
            -EINVAL);
        ASSERT_EQ(c.n_tmpfs, 2);
        ASSERT_EQ(c.tmpfs[1].size.value, 10);
        ASSERT_TRUE(c.tmpfs[1].size.percent);
        ASSERT_EQ(
            config_set(&c, "keep", "/var/cache/apt,/var/cache/pacman/pkg,/var/cache/apt,x", "t"),
            -EINVAL);
        ASSERT_EQ(c.n_keep, 2);
        ASSERT_STREQ(c.keep[1], "/var/cache/pacman/pkg");
        ASSERT_EQ(config_set(&c, "persist", "/data/keep/", "t"), 0);
        ASSERT_STREQ(c.persist, "/data/keep");
        ASSERT_EQ(config_set(&c, "persist", "relative", "t"), -EINVAL);
        ASSERT_STREQ(c.persist, "/data/keep");
        ASSERT_EQ(config_set(&c, "usercache", "2G", "t"), 0);
        ASSERT_EQ(c.usercache.value, 2ULL << 30);
        ASSERT_EQ(config_set(&c, "usercache", "off", "t"), 0);
        ASSERT_EQ(c.usercache.value, 0);
        ASSERT_EQ(config_set(&c, "userkeep", "paru,nvidia,mesa_shader_cache,a/b,..,paru", "t"),
                  -EINVAL);
        ASSERT_EQ(c.n_userkeep, 3);
        ASSERT_EQ(config_set(&c, "sweep.interval", "30", "t"), 0);
        ASSERT_EQ(c.sweep_interval_sec, 30);
        ASSERT_EQ(config_set(&c, "sweep.interval", "0", "t"), -EINVAL);
        ASSERT_EQ(config_set(&c, "sweep.interval", "-5", "t"), -EINVAL);
        ASSERT_EQ(config_set(&c, "sweep.age", "5m", "t"), -EINVAL);
        ASSERT_EQ(config_set(&c, "sweep.age", "99999999999999999999999", "t"), -EINVAL);
        ASSERT_EQ(config_set(&c, "sweep.age", "20", "t"), 0);
        ASSERT_EQ(c.sweep_age_min, 20);
        ASSERT_EQ(c.sweep_interval_sec, 30);
        ASSERT_EQ(config_set(&c, "sweep.protect", "foo-*,.X*-lock", "t"), 0);
        ASSERT_EQ(c.n_protect, 2);
        ASSERT_STREQ(c.protect[0], "foo-*");
        ASSERT_EQ(config_set(&c, "bogus", "1", "t"), -ENOENT);
        ASSERT_EQ(config_set(&c, "sweep.protect", "a,,b", "t"), -EINVAL);
        ASSERT_EQ(c.n_protect, 2);
}

static char *write_tmp(const char *text)
{
        static char path[64];
        int fd;

        snprintf(path, sizeof(path), "/tmp/test-config.XXXXXX");
        fd = mkstemp(path);
        if (fd < 0)
                return NULL;
        if (write_all(fd, text, strlen(text)) < 0) {
                close(fd);
                return NULL;
        }
        close(fd);
        return path;
}

TEST(file)
{
        char *p;

        fresh();
        p = write_tmp("# comment\n\n  dirs = /etc, /srv:discard  # two dirs\n"
                      "size=1G\nephemeral.sweep.age = 3\nnot a line\nwhat = ever\n"
                      "dirs2=\n tmpfs = \"/tmp:1G\"\nephemeral = no\n");
        ASSERT_TRUE(p != NULL);
        /* blanks around list items are fine; unknown keys are warnings only */
        ASSERT_EQ(config_parse_file(&c, p), 1);
        unlink(p);
        ASSERT_EQ(c.n_dirs, 2);
        ASSERT_STREQ(c.dirs[0].path, "/etc");
        ASSERT_STREQ(c.dirs[1].path, "/srv");
        ASSERT_EQ(c.dirs[1].mode, DIR_DISCARD);
        ASSERT_EQ(c.size.value, 1ULL << 30);
        ASSERT_EQ(c.sweep_age_min, 3);
        ASSERT_EQ(c.n_tmpfs, 1);
        ASSERT_FALSE(c.enabled);
        ASSERT_EQ(config_parse_file(&c, "/nonexistent/ephemeral.conf"), 0);
        ASSERT_EQ(config_parse_cmdline_file(&c, "/nonexistent/cmdline"), 0);
        ASSERT_EQ(config_parse_file(&c, "/"), -EISDIR);
}

/* A UTF-8 byte order mark (some editors write one) is not part of the first key:
 * otherwise "dirs" is reported as an unknown key, which looks like a parser bug. */
TEST(file_bom)
{
        char *p;

        fresh();
        p = write_tmp("\xef\xbb\xbf"
                      "dirs = /srv\n");
        ASSERT_TRUE(p != NULL);
        ASSERT_EQ(config_parse_file(&c, p), 0);
        unlink(p);
        ASSERT_EQ(c.n_dirs, 1);
        ASSERT_STREQ(c.dirs[0].path, "/srv");
}

TEST(file_then_cmdline)
{
        char *p;

        fresh();
        p = write_tmp("dirs = /etc,/srv\nsize = 10%\n");
        ASSERT_TRUE(p != NULL);
        ASSERT_EQ(config_parse_file(&c, p), 0);
        unlink(p);
        ASSERT_EQ(config_parse_cmdline(&c, "ephemeral.dirs=/opt ephemeral.size=1G"), 0);
        ASSERT_EQ(c.n_dirs, 1);
        ASSERT_STREQ(c.dirs[0].path, "/opt");
        ASSERT_EQ(c.size.value, 1ULL << 30);
}

TEST(dirs_in_root)
{
        char tmpl[] = "/tmp/test-config-root.XXXXXX";
        char *root = mkdtemp(tmpl);
        int fd;

        ASSERT_TRUE(root != NULL);
        fd = open(root, O_RDONLY | O_DIRECTORY);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(mkdirat(fd, "etc", 0755), 0);
        ASSERT_EQ(mkdirat(fd, "real", 0755), 0);
        ASSERT_EQ(mkdirat(fd, "real/sub", 0755), 0);
        ASSERT_EQ(symlinkat("real", fd, "link"), 0);
        ASSERT_EQ(symlinkat("/etc", fd, "abs"), 0);
        close(openat(fd, "file", O_CREAT | O_WRONLY, 0644));
        fresh();
        ASSERT_EQ(config_set(&c, "dirs", "/etc,/missing,/link/sub,/abs,/file,/real/sub", "t"), 0);
        ASSERT_EQ(config_check_dirs_in_root(&c, fd), 4);
        ASSERT_EQ(c.n_dirs, 2);
        ASSERT_STREQ(c.dirs[0].path, "/etc");
        ASSERT_STREQ(c.dirs[1].path, "/real/sub");
        ASSERT_EQ(c.n_errors, 4);
        unlinkat(fd, "file", 0);
        unlinkat(fd, "abs", 0);
        unlinkat(fd, "link", 0);
        unlinkat(fd, "real/sub", AT_REMOVEDIR);
        unlinkat(fd, "real", AT_REMOVEDIR);
        unlinkat(fd, "etc", AT_REMOVEDIR);
        close(fd);
        rmdir(root);
}

/* Random bytes (and random mixes of meaningful tokens) through every parser: no
 * crash, no sanitizer report, and the config stays within its bounds. */
TEST(fuzz)
{
        static const char *const tokens[] = {
            "ephemeral", ".",    "dirs",
            "=",         "\"",   " ",
            ",",         ":",    "/",
            "etc",       "..",   "persist",
            "discard",   "size", "tmpfs",
            "%",         "G",    "keep",
            "#",         "\n",   "\t",
            "--",        "none", "sweep.protect",
            "userkeep",  "0",    "9999999999999999999999",
            "\xff",      "\\",
        };
        char buf[4096];
        unsigned seed = 12345;

        log_set_max_level(0); /* keep the output readable: only crashes matter here */
        srand(seed);
        for (int round = 0; round < 4000; round++) {
                size_t n = (size_t)rand() % (sizeof(buf) - 1);
                char *p;

                if (round % 2) {
                        for (size_t i = 0; i < n; i++)
                                buf[i] = (char)(rand() % 255 + 1);
                        buf[n] = '\0';
                } else {
                        size_t o = 0;
                        while (o < n) {
                                const char *t = tokens[(size_t)rand() % ARRAY_SIZE(tokens)];
                                size_t l = strlen(t);
                                if (o + l >= sizeof(buf))
                                        break;
                                memcpy(buf + o, t, l);
                                o += l;
                        }
                        buf[o] = '\0';
                }
                fresh();
                config_parse_cmdline(&c, buf);
                ASSERT_TRUE(c.n_dirs <= CONFIG_MAX_DIRS && c.n_tmpfs <= CONFIG_MAX_DIRS &&
                            c.n_keep <= CONFIG_MAX_DIRS && c.n_protect <= CONFIG_MAX_PATTERNS &&
                            c.n_userkeep <= CONFIG_MAX_PATTERNS);
                config_set(&c, "dirs", buf, "fuzz");
                config_set(&c, "tmpfs", buf, "fuzz");
                config_set(&c, "sweep.protect", buf, "fuzz");
                if (round % 50 == 0) {
                        p = write_tmp(buf);
                        ASSERT_TRUE(p != NULL);
                        config_parse_file(&c, p);
                        unlink(p);
                }
                for (unsigned i = 0; i < c.n_dirs; i++)
                        ASSERT_TRUE(c.dirs[i].path[0] == '/' && c.dirs[i].path[1] != '\0');
        }
        log_set_max_level(LOG_LEVEL_INFO);
}

TEST(every_key_in_the_table_is_complete_and_its_default_parses)
{
        for (size_t i = 0; i < config_n_keys; i++) {
                const struct config_key *k = &config_keys[i];
                struct config one = {0};

                if (!k->doc || !*k->doc)
                        FAIL("key '%s' has no documentation", k->name);
                if (!k->def == !k->def_text)
                        FAIL("key '%s' needs exactly one of def and def_text", k->name);
                if (k->type == KEY_NUMBER && (!k->max || !k->unit))
                        FAIL("number key '%s' needs max and unit", k->name);
                if (config_key_find(k->name) != k)
                        FAIL("key '%s' is listed twice", k->name);
                if (k->def && config_set(&one, k->name, k->def, "t") != 0)
                        FAIL("default of '%s' does not parse: %s", k->name, k->def);
                if (k->example && config_set(&one, k->name, k->example, "t") != 0)
                        FAIL("example of '%s' does not parse: %s", k->name, k->example);
        }
}

TEST(empty_key_after_the_prefix_is_refused_not_the_switch)
{
        fresh();
        ASSERT_EQ(config_parse_cmdline(&c, "ephemeral.=off"), 1);
        ASSERT_TRUE(c.enabled);
        ASSERT_EQ(c.n_errors, 1);
        ASSERT_EQ(config_parse_cmdline(&c, "ephemeral.=0 ephemeral=off"), 1);
        ASSERT_FALSE(c.enabled);
}

TEST(empty_key_after_the_prefix_in_the_file_is_refused)
{
        char path[] = "/tmp/test-config-XXXXXX";
        int fd = mkstemp(path);

        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(write(fd, "ephemeral. = off\n", 17) == 17);
        close(fd);
        fresh();
        ASSERT_EQ(config_parse_file(&c, path), 1);
        ASSERT_TRUE(c.enabled);
        unlink(path);
}

TEST(sizes_beyond_ram_and_swap_are_capped)
{
        uint64_t limit = config_ram_swap_bytes();

        fresh();
        ASSERT_TRUE(limit >= config_ram_bytes());
        ASSERT_EQ(config_set(&c, "size", "16777215T", "t"), 0);
        ASSERT_FALSE(c.size.percent);
        ASSERT_EQ(c.size.value, limit);
        ASSERT_EQ(config_set(&c, "tmpfs", "/tmp:16777215T", "t"), 0);
        ASSERT_EQ(c.tmpfs[0].size.value, limit);
        ASSERT_EQ(config_set(&c, "size", "1M", "t"), 0);
        ASSERT_EQ(c.size.value, 1ULL << 20);
        ASSERT_EQ(config_set(&c, "size", "100%", "t"), 0);
        ASSERT_EQ(c.size.value, 100);
}

TEST(durations)
{
        uint64_t v = 1;

        ASSERT_EQ(parse_duration("0", 100, &v), 0);
        ASSERT_EQ(v, 0);
        ASSERT_EQ(parse_duration("90", 1000, &v), 0);
        ASSERT_EQ(v, 90);
        ASSERT_EQ(parse_duration("30s", 1000, &v), 0);
        ASSERT_EQ(v, 30);
        ASSERT_EQ(parse_duration("15min", 1000, &v), 0);
        ASSERT_EQ(v, 900);
        ASSERT_EQ(parse_duration("2h", 86400, &v), 0);
        ASSERT_EQ(v, 7200);
        ASSERT_EQ(parse_duration("2h", 7199, &v), -ERANGE);
        ASSERT_EQ(parse_duration("99999999999999999999999h", UINT64_MAX, &v), -ERANGE);
        ASSERT_EQ(parse_duration("", 100, &v), -EINVAL);
        ASSERT_EQ(parse_duration("min", 100, &v), -EINVAL);
        ASSERT_EQ(parse_duration("-5", 100, &v), -EINVAL);
        ASSERT_EQ(parse_duration("5m", 1000, &v), -EINVAL);
        ASSERT_EQ(parse_duration("5 min", 1000, &v), -EINVAL);
        ASSERT_EQ(parse_duration("1.5h", 86400, &v), -EINVAL);
        ASSERT_EQ(parse_duration("15MIN", 1000, &v), -EINVAL);
        ASSERT_EQ(v, 7200);
}

TEST(checkpoint_keys)
{
        fresh();
        ASSERT_EQ(c.checkpoint_sec, 900);
        ASSERT_STREQ(c.journal, "/var/lib/ephemeral/journal");
        ASSERT_EQ(config_set(&c, "checkpoint", "5min", "t"), 0);
        ASSERT_EQ(c.checkpoint_sec, 300);
        ASSERT_EQ(config_set(&c, "checkpoint", "0", "t"), 0);
        ASSERT_EQ(c.checkpoint_sec, 0);
        ASSERT_EQ(config_set(&c, "checkpoint", "8d", "t"), -EINVAL);
        ASSERT_EQ(config_set(&c, "checkpoint", "169h", "t"), -EINVAL);
        ASSERT_EQ(c.checkpoint_sec, 0);
        ASSERT_EQ(config_set(&c, "journal", "/srv/journal", "t"), 0);
        ASSERT_STREQ(c.journal, "/srv/journal");
        ASSERT_EQ(config_set(&c, "journal", "relative", "t"), -EINVAL);
        ASSERT_EQ(config_set(&c, "journal", "/run/x", "t"), -EINVAL);
        ASSERT_STREQ(c.journal, "/srv/journal");
        ASSERT_EQ(config_parse_cmdline(&c, "quiet ephemeral.checkpoint=1h"), 0);
        ASSERT_EQ(c.checkpoint_sec, 3600);
}
