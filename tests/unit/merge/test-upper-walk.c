/* SPDX-License-Identifier: MIT */
/* Unit tests of the upper-tree walker: order, kinds (whiteout, opaque), pruning,
 * and that symlinks are never followed. Root-only parts skip cleanly. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "test.h"
#include "merge/upper-walk.h"
#include "shared/util.h"

static char seen[2048];

static int record(const struct upper_entry *e, void *userdata)
{
        static const char kinds[] = {'d', 'o', 'w', 'f'};
        char line[PATH_MAX + 16];

        snprintf(line, sizeof(line), "%c%u:%s ", kinds[e->kind], e->depth, e->path);
        strncat(seen, line, sizeof(seen) - strlen(seen) - 1);
        if (userdata && streq(e->path, (const char *)userdata))
                return 1;
        return 0;
}

static int stop_at(const struct upper_entry *e, void *userdata)
{
        return streq(e->path, (const char *)userdata) ? -ECANCELED : 0;
}

TEST(walk)
{
        char tmpl[] = "/tmp/test-upper-walk.XXXXXX";
        char *dir = mkdtemp(tmpl);
        bool root = geteuid() == 0;
        int fd;

        ASSERT_TRUE(dir != NULL);
        fd = open(dir, O_RDONLY | O_DIRECTORY);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(mkdirat(fd, "b", 0755), 0);
        ASSERT_EQ(mkdirat(fd, "b/c", 0755), 0);
        close(openat(fd, "b/c/f", O_CREAT | O_WRONLY, 0644));
        close(openat(fd, "a", O_CREAT | O_WRONLY, 0644));
        ASSERT_EQ(symlinkat("/etc", fd, "z-link"), 0);
        ASSERT_EQ(mkdirat(fd, "o", 0755), 0);
        if (root) {
                ASSERT_EQ(mknodat(fd, "wh", S_IFCHR | 0, makedev(0, 0)), 0);
                int o = openat(fd, "o", O_RDONLY | O_DIRECTORY);
                ASSERT_EQ(fsetxattr(o, "trusted.overlay.opaque", "y", 1, 0), 0);
                close(o);
        }
        seen[0] = '\0';
        ASSERT_EQ(upper_walk(fd, record, NULL), 0);
        if (root)
                ASSERT_STREQ(seen, "f1:a d1:b d2:b/c f3:b/c/f o1:o w1:wh f1:z-link ");
        else
                ASSERT_STREQ(seen, "f1:a d1:b d2:b/c f3:b/c/f d1:o f1:z-link ");
        seen[0] = '\0';
        ASSERT_EQ(upper_walk(fd, record, "b"), 0);
        ASSERT_TRUE(strstr(seen, "b/c") == NULL);
        ASSERT_EQ(upper_walk(fd, stop_at, "b/c"), -ECANCELED);

        unlinkat(fd, "wh", 0);
        unlinkat(fd, "z-link", 0);
        unlinkat(fd, "a", 0);
        unlinkat(fd, "b/c/f", 0);
        unlinkat(fd, "b/c", AT_REMOVEDIR);
        unlinkat(fd, "b", AT_REMOVEDIR);
        unlinkat(fd, "o", AT_REMOVEDIR);
        close(fd);
        rmdir(tmpl);
}
