/* SPDX-License-Identifier: MIT */
/* Unit tests of the state file: names, round trip, tolerant and strict reading. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config/state.h"
#include "test.h"
#include "shared/util.h"

static int tmpdir(void)
{
        static char tmpl[64];
        snprintf(tmpl, sizeof(tmpl), "/tmp/test-state.XXXXXX");
        if (!mkdtemp(tmpl))
                return -1;
        return open(tmpl, O_RDONLY | O_DIRECTORY);
}

static void cleanup(int fd)
{
        char path[64];
        unlinkat(fd, STATE_FILE, 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        char real[PATH_MAX];
        ssize_t n = readlink(path, real, sizeof(real) - 1);
        if (n > 0) {
                real[n] = '\0';
                rmdir(real);
        }
        close(fd);
}

static int put(int fd, const char *text)
{
        return write_file_atomic_at(fd, STATE_FILE, text, strlen(text), 0600);
}

TEST(dir_name)
{
        char buf[NAME_MAX + 1];

        ASSERT_EQ(state_dir_name("/etc", buf, sizeof(buf)), 0);
        ASSERT_STREQ(buf, "etc");
        ASSERT_EQ(state_dir_name("/var/log", buf, sizeof(buf)), 0);
        ASSERT_STREQ(buf, "var-log");
        ASSERT_EQ(state_dir_name("/var-log", buf, sizeof(buf)), 0);
        ASSERT_STREQ(buf, "var_x2dlog");
        ASSERT_EQ(state_dir_name("/a b/\xc3\xa9", buf, sizeof(buf)), 0);
        ASSERT_STREQ(buf, "a_x20b-_xc3_xa9");
        ASSERT_EQ(state_dir_name("/", buf, sizeof(buf)), -EINVAL);
        ASSERT_EQ(state_dir_name("etc", buf, sizeof(buf)), -EINVAL);
        ASSERT_EQ(state_dir_name("/.", buf, sizeof(buf)), -EINVAL);
        ASSERT_EQ(state_dir_name("/etc", buf, 3), -ENAMETOOLONG);
        char longp[300];
        memset(longp, '-', sizeof(longp));
        longp[0] = '/';
        longp[299] = '\0';
        ASSERT_EQ(state_dir_name(longp, buf, sizeof(buf)), -ENAMETOOLONG);
}

TEST(strings)
{
        enum state_status s;
        enum dir_mode m;

        ASSERT_STREQ(state_status_to_string(STATE_MOUNTED), "mounted");
        ASSERT_STREQ(state_status_to_string(STATE_DISCARDED), "discarded");
        ASSERT_EQ(state_status_from_string("flushed", &s), 0);
        ASSERT_EQ(s, STATE_FLUSHED);
        ASSERT_EQ(state_status_from_string("Mounted", &s), -EINVAL);
        ASSERT_STREQ(dir_mode_to_string(DIR_DISCARD), "discard");
        ASSERT_EQ(dir_mode_from_string("persist", &m), 0);
        ASSERT_EQ(m, DIR_PERSIST);
        ASSERT_EQ(dir_mode_from_string("", &m), -EINVAL);
}

TEST(round_trip)
{
        int fd = tmpdir();
        static struct state s, r;

        ASSERT_TRUE(fd >= 0);
        memset(&s, 0, sizeof(s));
        s.version = STATE_VERSION;
        s.cap = 123456789;
        s.n_dirs = 2;
        snprintf(s.dirs[0].path, sizeof(s.dirs[0].path), "/etc");
        snprintf(s.dirs[0].name, sizeof(s.dirs[0].name), "etc");
        s.dirs[0].status = STATE_MOUNTED;
        snprintf(s.dirs[0].uuid, sizeof(s.dirs[0].uuid), "0b5d2a4c-1111-2222-3333-444455556666");
        snprintf(s.dirs[0].fstype, sizeof(s.dirs[0].fstype), "ext4");
        snprintf(s.dirs[0].fsroot, sizeof(s.dirs[0].fsroot), "/@/etc");
        s.dirs[0].dev = makedev(259, 3);
        snprintf(s.dirs[0].options, sizeof(s.dirs[0].options),
                 "lowerdir=/sysroot/etc,upperdir=/run/x/etc/upper,volatile");
        snprintf(s.dirs[1].path, sizeof(s.dirs[1].path), "/var/log");
        snprintf(s.dirs[1].name, sizeof(s.dirs[1].name), "var-log");
        s.dirs[1].mode = DIR_DISCARD;
        s.dirs[1].status = STATE_FAILED;
        ASSERT_EQ(state_write(fd, &s), 0);
        ASSERT_EQ(state_read(fd, &r), 0);
        ASSERT_EQ(r.version, STATE_VERSION);
        ASSERT_EQ(r.cap, 123456789);
        ASSERT_EQ(r.n_dirs, 2);
        ASSERT_STREQ(r.dirs[0].path, "/etc");
        ASSERT_STREQ(r.dirs[0].uuid, s.dirs[0].uuid);
        ASSERT_STREQ(r.dirs[0].fsroot, "/@/etc");
        ASSERT_STREQ(r.dirs[0].options, s.dirs[0].options);
        ASSERT_EQ(major(r.dirs[0].dev), 259);
        ASSERT_EQ(minor(r.dirs[0].dev), 3);
        ASSERT_EQ(r.dirs[0].status, STATE_MOUNTED);
        ASSERT_STREQ(r.dirs[1].name, "var-log");
        ASSERT_EQ(r.dirs[1].mode, DIR_DISCARD);
        ASSERT_EQ(r.dirs[1].status, STATE_FAILED);
        ASSERT_STREQ(r.dirs[1].uuid, "");
        ASSERT_STREQ(r.dirs[1].fstype, "");
        cleanup(fd);
}

/* Values from the mount table may hold a space, a line break, a backslash, or be
 * just "-": escaped on write and read back exactly, so the file stays readable
 * and flush finds the right directory. */
TEST(odd_values)
{
        int fd = tmpdir();
        static struct state s, r;
        static const char *const odd[] = {"/a root/etc", "/a\nb", "/tab\there\\x41", "-", "\x7f"};
        char text[512];

        ASSERT_TRUE(fd >= 0);
        memset(&s, 0, sizeof(s));
        s.n_dirs = 1;
        snprintf(s.dirs[0].path, sizeof(s.dirs[0].path), "/etc");
        snprintf(s.dirs[0].name, sizeof(s.dirs[0].name), "etc");
        for (size_t i = 0; i < ARRAY_SIZE(odd); i++) {
                snprintf(s.dirs[0].fsroot, sizeof(s.dirs[0].fsroot), "%s", odd[i]);
                snprintf(s.dirs[0].uuid, sizeof(s.dirs[0].uuid), "%s", odd[i]);
                snprintf(s.dirs[0].options, sizeof(s.dirs[0].options), "%s", odd[i]);
                ASSERT_EQ(state_write(fd, &s), 0);
                ASSERT_EQ(state_read(fd, &r), 0);
                ASSERT_EQ(r.n_dirs, 1);
                ASSERT_STREQ(r.dirs[0].fsroot, odd[i]);
                ASSERT_STREQ(r.dirs[0].uuid, odd[i]);
                ASSERT_STREQ(r.dirs[0].options, odd[i]);
        }
        snprintf(s.dirs[0].fsroot, sizeof(s.dirs[0].fsroot), "/a root/etc");
        ASSERT_EQ(state_write(fd, &s), 0);
        int tfd = openat(fd, STATE_FILE, O_RDONLY);
        ASSERT_TRUE(tfd >= 0);
        ssize_t n = read(tfd, text, sizeof(text) - 1);
        close(tfd);
        ASSERT_TRUE(n > 0);
        text[n] = '\0';
        ASSERT_TRUE(strstr(text, " fsroot=/a\\x20root/etc ") != NULL);
        cleanup(fd);
}

TEST(tolerant)
{
        int fd = tmpdir();
        static struct state r;

        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(state_read(fd, &r), -ENOENT);
        ASSERT_EQ(put(fd, "ephemeral-state 1\nstore cap=5 future=1\nfuture record\n\n"
                          "dir path=/etc name=etc mode=persist status=mounted new=x uuid=- "
                          "fstype=- fsroot=- dev=0:0 options=-\n"),
                  0);
        ASSERT_EQ(state_read(fd, &r), 0);
        ASSERT_EQ(r.cap, 5);
        ASSERT_EQ(r.n_dirs, 1);
        cleanup(fd);
}

TEST(malformed)
{
        static const char *const bad[] = {
            "",
            "garbage\n",
            "ephemeral-state 2\n",
            "ephemeral-state x\n",
            "ephemeral-state 1\nstore cap=-1\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=keep status=mounted\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=gone\n",
            "ephemeral-state 1\ndir path=etc name=etc mode=persist status=mounted\n",
            "ephemeral-state 1\ndir path=/etc/../x name=etc mode=persist status=mounted\n",
            "ephemeral-state 1\ndir path=/etc name=.. mode=persist status=mounted\n",
            "ephemeral-state 1\ndir path=/etc name=a/b mode=persist status=mounted\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=mounted dev=1\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=mounted novalue\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=mounted\n"
            "dir path=/etc name=etc2 mode=persist status=mounted\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=mounted\n"
            "dir path=/srv name=etc mode=persist status=mounted\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=mounted "
            "fstype=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
            /* bad escapes */
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=mounted "
            "fsroot=/a\\x2\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=mounted "
            "fsroot=/a\\q20\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=mounted "
            "uuid=\\x00\n",
            "ephemeral-state 1\ndir path=/etc name=etc mode=persist status=mounted "
            "fsroot=\\\n",
        };
        int fd = tmpdir();
        static struct state r;

        ASSERT_TRUE(fd >= 0);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                ASSERT_EQ(put(fd, bad[i]), 0);
                if (state_read(fd, &r) != -EBADMSG)
                        FAIL("case %zu was accepted: %s", i, bad[i]);
        }
        /* Too many dirs. */
        char big[8192] = "ephemeral-state 1\n";
        for (int i = 0; i < CONFIG_MAX_DIRS + 1; i++) {
                char line[128];
                snprintf(line, sizeof(line), "dir path=/d%d name=d%d mode=persist status=mounted\n",
                         i, i);
                strcat(big, line);
        }
        ASSERT_EQ(put(fd, big), 0);
        ASSERT_EQ(state_read(fd, &r), -EBADMSG);
        /* Embedded NUL. */
        ASSERT_EQ(write_file_atomic_at(fd, STATE_FILE, "ephemeral-state 1\n\0x", 20, 0600), 0);
        ASSERT_EQ(state_read(fd, &r), -EBADMSG);
        cleanup(fd);
}

TEST(fuzz)
{
        int fd = tmpdir();
        static struct state r;
        static const char *const tokens[] = {
            "ephemeral-state 1\n",
            "dir ",
            "store ",
            "path=/etc ",
            "name=etc ",
            "mode=persist ",
            "status=mounted ",
            "dev=",
            "8:1 ",
            "=",
            " ",
            "\n",
            "uuid=",
            "-",
            "\xff",
            "/",
        };
        char buf[2048];

        ASSERT_TRUE(fd >= 0);
        srand(4242);
        for (int round = 0; round < 3000; round++) {
                size_t n = (size_t)rand() % (sizeof(buf) - 64), o = 0;
                if (round % 2) {
                        for (o = 0; o < n; o++)
                                buf[o] = (char)(rand() % 256);
                } else {
                        while (o < n) {
                                const char *t = tokens[(size_t)rand() % ARRAY_SIZE(tokens)];
                                size_t l = strlen(t);
                                memcpy(buf + o, t, l);
                                o += l;
                        }
                }
                ASSERT_EQ(write_file_atomic_at(fd, STATE_FILE, buf, o, 0600), 0);
                int ret = state_read(fd, &r);
                ASSERT_TRUE(ret == 0 || ret == -EBADMSG);
                if (ret == 0)
                        ASSERT_TRUE(r.n_dirs <= CONFIG_MAX_DIRS);
        }
        cleanup(fd);
}

/* A state file cut at a line boundary (a lost "dir" record would make flush skip
 * that dir and exit 0) is refused: the current format ends with a record that
 * counts the dirs. A file from the previous version (ephemeral-state 1, written
 * by the old binary at boot before an upgrade) has none and is still read. */
TEST(end_record)
{
        static const char *const cut[] = {
            /* the last dir and the end record lost */
            "ephemeral-state 2\nstore cap=1\ndir path=/etc name=etc mode=persist "
            "status=mounted\n",
            /* only the end record lost */
            "ephemeral-state 2\nstore cap=1\ndir path=/etc name=etc mode=persist "
            "status=mounted\ndir path=/srv name=srv mode=persist status=mounted\n",
            /* a count that does not match */
            "ephemeral-state 2\nstore cap=1\ndir path=/etc name=etc mode=persist "
            "status=mounted\nend dirs=2\n",
            "ephemeral-state 2\nend dirs=x\n",
            /* anything after the end */
            "ephemeral-state 2\nend dirs=0\ndir path=/etc name=etc mode=persist "
            "status=mounted\n",
            "ephemeral-state 2\nend dirs=0\nend dirs=0\n",
            /* an end record in the old format is not the old format */
            "ephemeral-state 3\nend dirs=0\n",
        };
        int fd = tmpdir();
        static struct state s, r;
        char *text = NULL;
        size_t len;

        ASSERT_TRUE(fd >= 0);
        for (size_t i = 0; i < ARRAY_SIZE(cut); i++) {
                ASSERT_EQ(put(fd, cut[i]), 0);
                if (state_read(fd, &r) != -EBADMSG)
                        FAIL("case %zu was accepted: %s", i, cut[i]);
        }
        ASSERT_EQ(put(fd, "ephemeral-state 2\nstore cap=1\ndir path=/etc name=etc mode=persist "
                          "status=mounted\nend dirs=1\n"),
                  0);
        ASSERT_EQ(state_read(fd, &r), 0);
        ASSERT_EQ(r.n_dirs, 1);
        ASSERT_EQ(put(fd, "ephemeral-state 1\nstore cap=1\ndir path=/etc name=etc mode=persist "
                          "status=mounted\n"),
                  0);
        ASSERT_EQ(state_read(fd, &r), 0);
        ASSERT_EQ(r.n_dirs, 1);
        /* What state_write writes ends with the record. */
        memset(&s, 0, sizeof(s));
        s.n_dirs = 1;
        snprintf(s.dirs[0].path, sizeof(s.dirs[0].path), "/etc");
        snprintf(s.dirs[0].name, sizeof(s.dirs[0].name), "etc");
        ASSERT_EQ(state_write(fd, &s), 0);
        ASSERT_EQ(read_file_at(fd, STATE_FILE, 65536, &text, &len), 0);
        ASSERT_TRUE(strncmp(text, "ephemeral-state 2\n", 18) == 0);
        ASSERT_TRUE(len > 12 && streq(text + len - 12, "\nend dirs=1\n"));
        free(text);
        cleanup(fd);
}
