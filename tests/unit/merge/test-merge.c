/* SPDX-License-Identifier: MIT */
/* Unit tests of the merge engine's pieces without overlayfs: temporary names, the
 * diff-style output, sparse data copies, hardlink table, leftover cleanup, and a
 * merge of a hand-made upper (whiteout and opaque parts need root: skipped
 * otherwise). The real-overlay properties are in tests/integration/test-flush*. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "merge/internal.h"
#include "test.h"
#include "shared/util.h"

static char *tmpdir(void)
{
        char tmpl[] = "/var/tmp/test-merge.XXXXXX";
        char *d = mkdtemp(tmpl);
        return d ? strdup(d) : NULL;
}

static void rm_tree(const char *dir)
{
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void)!system(cmd);
}

static void put(int dfd, const char *name, const char *text)
{
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
                abort();
        close(fd);
}

static char *get(int dfd, const char *name)
{
        char *buf = NULL;
        return read_file_at(dfd, name, 1 << 20, &buf, NULL) < 0 ? NULL : buf;
}

TEST(tmp_names)
{
        struct merge_ctx c = {0};
        char a[MERGE_TMP_LEN + 1], b[MERGE_TMP_LEN + 1];

        merge_tmp_name(&c, a);
        merge_tmp_name(&c, b);
        ASSERT_EQ(strlen(a), MERGE_TMP_LEN);
        ASSERT_TRUE(strcmp(a, b) != 0);
        ASSERT_TRUE(merge_is_tmp_name(a));
        ASSERT_TRUE(merge_is_tmp_name(".#ephemeral.0123456789abcdef"));
        ASSERT_FALSE(merge_is_tmp_name(".#ephemeral.0123456789abcde"));
        ASSERT_FALSE(merge_is_tmp_name(".#ephemeral.0123456789abcdefa"));
        ASSERT_FALSE(merge_is_tmp_name(".#ephemeral.0123456789ABCDEF"));
        ASSERT_FALSE(merge_is_tmp_name(MERGE_MARKER));
        ASSERT_FALSE(merge_is_tmp_name("passwd"));
}

TEST(print_change_quotes_like_diff)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        merge_print_change(f, 'A', "/etc", "plain name");
        merge_print_change(f, 'M', "/etc", "new\nline");
        merge_print_change(f, 'D', "/etc", "q\"b\\s");
        merge_print_change(f, 'O', "/", "x\001");
        fclose(f);
        ASSERT_STREQ(buf, "A /etc/plain name\n"
                          "M \"/etc/new\\nline\"\n"
                          "D \"/etc/q\\\"b\\\\s\"\n"
                          "O \"/x\\001\"\n");
        free(buf);
}

TEST(copy_keeps_holes)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_close_ int dfd = -EBADF, in = -EBADF, out = -EBADF;
        struct stat st;
        uint64_t bytes = 0;
        char buf[8];

        ASSERT_TRUE(dir != NULL);
        dfd = open(dir, O_RDONLY | O_DIRECTORY);
        in = openat(dfd, "in", O_RDWR | O_CREAT, 0644);
        out = openat(dfd, "out", O_RDWR | O_CREAT, 0644);
        ASSERT_TRUE(in >= 0 && out >= 0);
        ASSERT_EQ(pwrite(in, "middle", 6, 16 << 20), 6);
        ASSERT_EQ(ftruncate(in, 64 << 20), 0);
        enum merge_copy_method m = MERGE_COPY_RANGE;
        ASSERT_EQ(fstat(in, &st), 0);
        ASSERT_EQ(merge_copy_data(in, out, &st, &m, &bytes), 0);
        ASSERT_EQ(fstat(out, &st), 0);
        ASSERT_EQ(st.st_size, 64 << 20);
        ASSERT_TRUE(st.st_blocks < 1024); /* not 128 Ki blocks */
        ASSERT_TRUE(bytes < (1 << 20));
        ASSERT_EQ(pread(out, buf, 6, 16 << 20), 6);
        ASSERT_TRUE(memcmp(buf, "middle", 6) == 0);
        rm_tree(dir);
}

/* A file without holes is copied whole by every method, also when a method is
 * carried over from an earlier file, and the output ends at its size. */
TEST(copy_dense_every_method)
{
        static const enum merge_copy_method methods[] = {MERGE_COPY_RANGE, MERGE_COPY_SENDFILE,
                                                         MERGE_COPY_RW};
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_close_ int dfd = -EBADF, in = -EBADF;
        static char data[200000], back[sizeof(data)];
        struct stat st;

        ASSERT_TRUE(dir != NULL);
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (char)(i * 7 + i / 251);
        dfd = open(dir, O_RDONLY | O_DIRECTORY);
        in = openat(dfd, "in", O_RDWR | O_CREAT, 0644);
        ASSERT_TRUE(in >= 0);
        ASSERT_EQ(pwrite(in, data, sizeof(data), 0), (ssize_t)sizeof(data));
        ASSERT_EQ(fstat(in, &st), 0);
        ASSERT_TRUE((off_t)st.st_blocks * 512 >= st.st_size);
        for (size_t k = 0; k < ARRAY_SIZE(methods); k++) {
                _cleanup_close_ int out = -EBADF;
                enum merge_copy_method m = methods[k];
                uint64_t bytes = 0;
                struct stat ost;

                out = openat(dfd,
                             k == 0   ? "o0"
                             : k == 1 ? "o1"
                                      : "o2",
                             O_RDWR | O_CREAT | O_EXCL, 0600);
                ASSERT_TRUE(out >= 0);
                ASSERT_EQ(merge_copy_data(in, out, &st, &m, &bytes), 0);
                ASSERT_EQ(bytes, (uint64_t)sizeof(data));
                ASSERT_TRUE(m >= methods[k]); /* never back to a method that failed */
                ASSERT_EQ(fstat(out, &ost), 0);
                ASSERT_EQ(ost.st_size, (off_t)sizeof(data));
                ASSERT_EQ(pread(out, back, sizeof(back), 0), (ssize_t)sizeof(back));
                ASSERT_TRUE(memcmp(back, data, sizeof(data)) == 0);
        }
        rm_tree(dir);
}

TEST(link_table)
{
        struct merge_ctx c = {0};

        ASSERT_TRUE(merge_link_lookup(&c, 1, 2) == NULL);
        for (unsigned i = 0; i < 1000; i++) {
                char p[32];
                snprintf(p, sizeof(p), "d/%u", i);
                ASSERT_EQ(merge_link_add(&c, 7, i * 4099, p), 0);
        }
        ASSERT_STREQ(merge_link_lookup(&c, 7, 999 * 4099), "d/999");
        ASSERT_STREQ(merge_link_lookup(&c, 7, 0), "d/0");
        ASSERT_TRUE(merge_link_lookup(&c, 8, 0) == NULL);
        merge_links_free(&c);
}

TEST(cleanup_removes_temporaries_only_with_marker)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_close_ int dfd = -EBADF, sub = -EBADF;
        struct stat st;

        ASSERT_TRUE(dir != NULL);
        dfd = open(dir, O_RDONLY | O_DIRECTORY);
        ASSERT_EQ(mkdirat(dfd, "sub", 0755), 0);
        sub = openat(dfd, "sub", O_RDONLY | O_DIRECTORY);
        put(sub, ".#ephemeral.00000000000000aa", "tmp");
        put(sub, ".#ephemeral.keep-me", "not ours");
        ASSERT_EQ(mkdirat(dfd, ".#ephemeral.00000000000000bb", 0755), 0);
        put(dfd, "file", "x");
        ASSERT_EQ(merge_cleanup(dfd, "/test"), 0); /* no marker: nothing */
        ASSERT_EQ(fstatat(sub, ".#ephemeral.00000000000000aa", &st, 0), 0);
        put(dfd, MERGE_MARKER, "");
        ASSERT_EQ(merge_cleanup(dfd, "/test"), 0);
        ASSERT_TRUE(fstatat(sub, ".#ephemeral.00000000000000aa", &st, 0) < 0);
        ASSERT_TRUE(fstatat(dfd, ".#ephemeral.00000000000000bb", &st, 0) < 0);
        ASSERT_TRUE(fstatat(dfd, MERGE_MARKER, &st, 0) < 0);
        ASSERT_EQ(fstatat(sub, ".#ephemeral.keep-me", &st, 0), 0);
        ASSERT_EQ(fstatat(dfd, "file", &st, 0), 0);
        rm_tree(dir);
}

TEST(merge_plain_upper)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_close_ int dfd = -EBADF, up = -EBADF, lo = -EBADF, usub = -EBADF;
        struct merge_stats st = {0};
        struct merge_opts o = {.label = "/t", .out = stdout};
        bool root = geteuid() == 0;
        struct stat s;
        _cleanup_free_ char *a = NULL, *b = NULL;

        ASSERT_TRUE(dir != NULL);
        dfd = open(dir, O_RDONLY | O_DIRECTORY);
        ASSERT_EQ(mkdirat(dfd, "upper", 0755), 0);
        ASSERT_EQ(mkdirat(dfd, "lower", 0755), 0);
        up = openat(dfd, "upper", O_RDONLY | O_DIRECTORY);
        lo = openat(dfd, "lower", O_RDONLY | O_DIRECTORY);
        put(lo, "a", "old a");
        put(lo, "gone", "old");
        ASSERT_EQ(mkdirat(lo, "d", 0755), 0);
        put(up, "a", "new a");
        ASSERT_EQ(linkat(up, "a", up, "b", 0), 0);
        ASSERT_EQ(symlinkat("a", up, "sym"), 0);
        ASSERT_EQ(mkdirat(up, "d", 0700), 0); /* over a lower dir: merged in place */
        usub = openat(up, "d", O_RDONLY | O_DIRECTORY);
        put(usub, "inner", "in d");
        if (root)
                ASSERT_EQ(mknodat(up, "gone", S_IFCHR | 0, makedev(0, 0)), 0);

        ASSERT_EQ(merge_tree(up, lo, &o, &st), 0);
        a = get(lo, "a");
        b = get(lo, "b");
        ASSERT_STREQ(a, "new a");
        ASSERT_STREQ(b, "new a");
        ASSERT_EQ(fstatat(lo, "a", &s, 0), 0);
        ASSERT_EQ(s.st_nlink, 2);
        ASSERT_EQ(fstatat(lo, "d", &s, 0), 0);
        ASSERT_EQ(s.st_mode & 07777, 0700);
        ASSERT_EQ(fstatat(lo, "sym", &s, AT_SYMLINK_NOFOLLOW), 0);
        ASSERT_TRUE(S_ISLNK(s.st_mode));
        ASSERT_EQ(fstatat(lo, "d/inner", &s, 0), 0);
        ASSERT_EQ(fstatat(lo, "gone", &s, 0) < 0, root);
        ASSERT_TRUE(fstatat(lo, MERGE_MARKER, &s, 0) < 0);
        ASSERT_EQ(st.errors, 0);
        rm_tree(dir);
}

TEST(refuses_redirect)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_close_ int dfd = -EBADF, up = -EBADF, lo = -EBADF;
        struct merge_stats st = {0};
        struct merge_opts o = {.label = "/t", .out = stdout};
        struct stat s;

        if (geteuid() != 0) {
                printf("# skipped: trusted.* xattrs need root\n");
                return;
        }
        ASSERT_TRUE(dir != NULL);
        dfd = open(dir, O_RDONLY | O_DIRECTORY);
        ASSERT_EQ(mkdirat(dfd, "upper", 0755), 0);
        ASSERT_EQ(mkdirat(dfd, "lower", 0755), 0);
        up = openat(dfd, "upper", O_RDONLY | O_DIRECTORY);
        lo = openat(dfd, "lower", O_RDONLY | O_DIRECTORY);
        put(up, "new", "x");
        ASSERT_EQ(mkdirat(up, "moved", 0755), 0);
        {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/upper/moved", dir);
                if (setxattr(p, "trusted.overlay.redirect", "/old", 4, 0) < 0) {
                        printf("# skipped: no trusted xattrs on %s\n", dir);
                        rm_tree(dir);
                        return;
                }
        }
        ASSERT_EQ(merge_tree(up, lo, &o, &st), -EPROTO);
        ASSERT_TRUE(fstatat(lo, "new", &s, 0) < 0);
        ASSERT_TRUE(fstatat(lo, MERGE_MARKER, &s, 0) < 0);
        rm_tree(dir);
}

/* An upper copied from a store without user.* xattrs (a checkpoint of one, Linux <
 * 6.6): the disk copy's user.* xattrs are kept; otherwise the upper's set wins. */
TEST(keep_user_xattrs_option)
{
        _cleanup_free_ char *dir = tmpdir();
        _cleanup_close_ int dfd = -EBADF, up = -EBADF, lo = -EBADF;
        struct merge_stats st = {0};
        struct merge_opts o = {.label = "/t", .out = stdout, .keep_user_xattrs = true};
        char v[16];

        ASSERT_TRUE(dir != NULL);
        dfd = open(dir, O_RDONLY | O_DIRECTORY);
        ASSERT_EQ(mkdirat(dfd, "upper", 0755), 0);
        ASSERT_EQ(mkdirat(dfd, "lower", 0755), 0);
        up = openat(dfd, "upper", O_RDONLY | O_DIRECTORY);
        lo = openat(dfd, "lower", O_RDONLY | O_DIRECTORY);
        put(lo, "f", "old");
        put(lo, "g", "old");
        {
                _cleanup_close_ int f = openat(lo, "f", O_RDONLY), g = openat(lo, "g", O_RDONLY);
                if (fsetxattr(f, "user.k", "disk", 4, 0) < 0 ||
                    fsetxattr(g, "user.k", "disk", 4, 0) < 0) {
                        printf("# skipped: no user.* xattrs on %s\n", dir);
                        rm_tree(dir);
                        return;
                }
        }
        put(up, "f", "new");
        ASSERT_EQ(merge_tree(up, lo, &o, &st), 0);
        {
                _cleanup_close_ int f = openat(lo, "f", O_RDONLY);
                ASSERT_EQ(fgetxattr(f, "user.k", v, sizeof(v)), 4);
        }
        /* Without the option the upper's (empty) set of user.* xattrs is merged. */
        put(up, "g", "new");
        ASSERT_EQ(unlinkat(up, "f", 0), 0);
        o.keep_user_xattrs = false;
        ASSERT_EQ(merge_tree(up, lo, &o, &st), 0);
        {
                _cleanup_close_ int g = openat(lo, "g", O_RDONLY);
                ASSERT_TRUE(fgetxattr(g, "user.k", v, sizeof(v)) < 0);
        }
        rm_tree(dir);
}
