/* SPDX-License-Identifier: MIT */
/* Unit tests of the mountinfo helpers. */
#include "shared/mountinfo.h"
#include "test.h"
#include "shared/util.h"

TEST(option_value)
{
        char v[64];

        ASSERT_EQ(mount_option_value("lowerdir=/a,upperdir=/s/etc/upper,workdir=/w", "upperdir", v,
                                     sizeof(v)),
                  1);
        ASSERT_STREQ(v, "/s/etc/upper");
        ASSERT_EQ(mount_option_value("rw,lowerdir=/a", "lowerdir", v, sizeof(v)), 1);
        ASSERT_STREQ(v, "/a");
        ASSERT_EQ(mount_option_value("xupperdir=/x,upperdir", "upperdir", v, sizeof(v)), 0);
        ASSERT_EQ(mount_option_value("", "upperdir", v, sizeof(v)), 0);
        ASSERT_EQ(mount_option_value("upperdir=/very/long/value", "upperdir", v, 4), 0);
}

TEST(fs_path)
{
        struct mount_entry e = {.root = "/", .target = "/sysroot"};
        char out[PATH_MAX];

        ASSERT_EQ(mountinfo_fs_path(&e, "/sysroot/etc", out, sizeof(out)), 0);
        ASSERT_STREQ(out, "/etc");
        ASSERT_EQ(mountinfo_fs_path(&e, "/sysroot", out, sizeof(out)), 0);
        ASSERT_STREQ(out, "/");
        snprintf(e.root, sizeof(e.root), "/@");
        ASSERT_EQ(mountinfo_fs_path(&e, "/sysroot/var/log", out, sizeof(out)), 0);
        ASSERT_STREQ(out, "/@/var/log");
        snprintf(e.target, sizeof(e.target), "/");
        ASSERT_EQ(mountinfo_fs_path(&e, "/etc", out, sizeof(out)), 0);
        ASSERT_STREQ(out, "/@/etc");
        ASSERT_EQ(mountinfo_fs_path(&e, "/etc", out, 4), -ENAMETOOLONG);
}

TEST(find)
{
        static struct mount_entry e;

        ASSERT_EQ(mountinfo_find_target("/", &e), 1);
        ASSERT_STREQ(e.target, "/");
        ASSERT_EQ(mountinfo_find_containing("/proc/self/mountinfo", &e), 1);
        ASSERT_STREQ(e.target, "/proc");
        ASSERT_STREQ(e.fstype, "proc");
        ASSERT_EQ(mountinfo_find_target("/no/such/mount/point", &e), 0);
}

TEST(is_overlay_of)
{
        static struct mount_entry e = {.fstype = "overlay",
                                       .super = "rw,lowerdir=/r/etc,upperdir=/s/etc/upper,"
                                                "workdir=/s/etc/work"};

        ASSERT_TRUE(mountinfo_is_overlay_of(&e, "etc"));
        ASSERT_FALSE(mountinfo_is_overlay_of(&e, "tc"));
        ASSERT_FALSE(mountinfo_is_overlay_of(&e, "var-log"));
        snprintf(e.fstype, sizeof(e.fstype), "tmpfs");
        ASSERT_FALSE(mountinfo_is_overlay_of(&e, "etc"));
}

TEST(path_is_under)
{
        ASSERT_TRUE(path_is_under("/var/log", "/var"));
        ASSERT_TRUE(path_is_under("/var", "/var"));
        ASSERT_TRUE(path_is_under("/var", "/"));
        ASSERT_FALSE(path_is_under("/varx", "/var"));
        ASSERT_FALSE(path_is_under("/var", "/var/log"));
}
