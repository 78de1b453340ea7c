/* SPDX-License-Identifier: MIT */
/* Unit tests of shared/util: the no-symlink directory walks (also the fallback for
 * kernels without openat2), each in its own temp tree. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "shared/util.h"

static char tree[64];

/* tree/a/b (dirs), tree/link -> a, tree/a/file. Returns an fd on tree. */
static int make_tree(void)
{
        int fd;

        snprintf(tree, sizeof(tree), "/tmp/test-util.XXXXXX");
        ASSERT_TRUE(mkdtemp(tree) != NULL);
        fd = open(tree, O_RDONLY | O_DIRECTORY);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(mkdirat(fd, "a", 0755), 0);
        ASSERT_EQ(mkdirat(fd, "a/b", 0755), 0);
        ASSERT_EQ(symlinkat("a", fd, "link"), 0);
        close(openat(fd, "a/file", O_CREAT | O_WRONLY, 0644));
        return fd;
}

static void remove_tree(void)
{
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tree);
        ASSERT_EQ(system(cmd), 0);
}

TEST(open_dir_walk_names_a_symlink)
{
        int fd = make_tree(), r;

        r = open_dir_walk(fd, "a/b", O_RDONLY);
        ASSERT_TRUE(r >= 0);
        close(r);
        /* A symlinked component is a symlink (-ELOOP, as openat2 says), not "not a
         * directory". */
        ASSERT_EQ(open_dir_walk(fd, "link/b", O_RDONLY), -ELOOP);
        ASSERT_EQ(open_dir_walk(fd, "link", O_RDONLY), -ELOOP);
        ASSERT_EQ(open_dir_walk(fd, "a/file", O_RDONLY), -ENOTDIR);
        ASSERT_EQ(open_dir_walk(fd, "a/../a", O_RDONLY), -EXDEV);
        ASSERT_EQ(mkdir_p_beneath(fd, "link/new", 0755), -ELOOP);
        ASSERT_EQ(open_dir_beneath(fd, "link/b", O_RDONLY), -ELOOP);
        close(fd);
        remove_tree();
}

TEST(mkdir_p_beneath_creates_each_missing_dir)
{
        int fd = make_tree(), r;
        struct stat st;

        r = mkdir_p_beneath(fd, "a/new/deeper", 0700);
        ASSERT_TRUE(r >= 0);
        /* the fd returned is the last dir, open for reading and writing into */
        ASSERT_EQ(mkdirat(r, "inside", 0755), 0);
        close(r);
        ASSERT_EQ(fstatat(fd, "a/new/deeper/inside", &st, AT_SYMLINK_NOFOLLOW), 0);
        ASSERT_EQ(fstatat(fd, "a/new", &st, AT_SYMLINK_NOFOLLOW), 0);
        ASSERT_EQ(st.st_mode & 07777, 0700);
        r = mkdir_p_beneath(fd, "a/new/deeper", 0700); /* existing: fine */
        ASSERT_TRUE(r >= 0);
        close(r);
        ASSERT_EQ(mkdir_p_beneath(fd, "a/../x", 0755), -EINVAL);
        ASSERT_EQ(mkdir_p_beneath(fd, "a/./x", 0755), -EINVAL);
        ASSERT_EQ(mkdir_p_beneath(fd, "a/file/x", 0755), -ENOTDIR);
        ASSERT_EQ(fstatat(fd, "x", &st, AT_SYMLINK_NOFOLLOW), -1);
        close(fd);
        remove_tree();
}

TEST(open_dir_in_root)
{
        int fd = make_tree(), r;
        struct stat a, b;

        ASSERT_EQ(symlinkat("/a/b", fd, "abs"), 0);
        ASSERT_EQ(symlinkat("../../..", fd, "a/b/up"), 0);
        ASSERT_EQ(fstatat(fd, "a/b", &a, 0), 0);
        /* An absolute symlink resolves inside the root, ".." never leaves it: with
         * openat2 and with the walk for kernels without it. */
        for (int walk = 0; walk < 2; walk++) {
                int (*open_fn)(int, const char *, int) =
                    walk ? open_dir_in_root_walk : open_dir_in_root;
                r = open_fn(fd, "abs", O_RDONLY);
                ASSERT_TRUE(r >= 0);
                ASSERT_EQ(fstat(r, &b), 0);
                close(r);
                ASSERT_EQ(a.st_ino, b.st_ino);
                r = open_fn(fd, "a/b/up/a/b", O_RDONLY);
                ASSERT_TRUE(r >= 0);
                ASSERT_EQ(fstat(r, &b), 0);
                close(r);
                ASSERT_EQ(a.st_ino, b.st_ino);
                ASSERT_EQ(open_fn(fd, "a/file", O_RDONLY), -ENOTDIR);
        }
        close(fd);
        remove_tree();
}
