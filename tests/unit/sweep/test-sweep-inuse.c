/* SPDX-License-Identifier: MIT */
/* Unit tests of the in-use checks (src/sweep/inuse.c), against the real kernel:
 * the write-lease probe on open, mapped, locked and free files, and the fixed-size
 * /proc set. Root-only parts skip when not root (leases need ownership or CAP_LEASE,
 * which the test has for its own files anyway). */
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sweep/sweep.h"
#include "test.h"
#include "shared/util.h"

static char dir[] = "/tmp/test-sweep-inuse.XXXXXX";
static int dfd = -1;

static void make_file(const char *name, struct statx *sx)
{
        int fd;

        if (dfd < 0) {
                if (!mkdtemp(dir))
                        FAIL("mkdtemp");
                dfd = open(dir, O_RDONLY | O_DIRECTORY);
        }
        unlinkat(dfd, name, 0);
        fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL, 0644);
        if (fd < 0 || write(fd, "0123456789", 10) != 10)
                FAIL("create %s", name);
        close(fd);
        if (statx(dfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, sx) < 0)
                FAIL("statx %s", name);
}

/* A child that runs hold() and waits until release_child(); two pipes so that
 * neither side can read its own byte. */
struct child {
        pid_t pid;
        int go[2], done[2];
};

static void start_child(struct child *c, void (*hold)(void))
{
        char b;

        if (pipe(c->go) < 0 || pipe(c->done) < 0)
                FAIL("pipe");
        c->pid = fork();
        if (c->pid == 0) {
                hold();
                if (write(c->done[1], "x", 1) != 1 || read(c->go[0], &b, 1) < 0)
                        _exit(1);
                _exit(0);
        }
        if (read(c->done[0], &b, 1) != 1)
                FAIL("child did not start");
}

static void release_child(struct child *c)
{
        int status;

        if (write(c->go[1], "y", 1) != 1)
                FAIL("write");
        waitpid(c->pid, &status, 0);
        close(c->go[0]);
        close(c->go[1]);
        close(c->done[0]);
        close(c->done[1]);
}

static enum probe_result probe(const char *name, const struct statx *sx)
{
        int fd = -1, fd2 = -1;
        struct statx now, now2;
        enum probe_result r = probe_regular(dfd, name, sx, false, &fd, &now);
        /* Both ways of opening (O_PATH + reopen, and by name on nodev) agree. */
        enum probe_result r2;

        if (fd >= 0)
                close(fd);
        if ((r == PROBE_FREE || r == PROBE_NO_LEASE) && now.stx_ino != sx->stx_ino)
                FAIL("probe of %s: the statx returned is not the file's", name);
        r2 = probe_regular(dfd, name, sx, true, &fd2, &now2);
        if ((r2 == PROBE_FREE || r2 == PROBE_NO_LEASE) && now2.stx_ino != sx->stx_ino)
                FAIL("probe of %s: the statx returned is not the file's", name);
        if (fd2 >= 0)
                close(fd2);
        if (r != r2)
                FAIL("probe of %s: %d with O_PATH, %d by name", name, r, r2);
        return r;
}

TEST(free_file_gets_the_lease)
{
        struct statx sx;

        make_file("free", &sx);
        ASSERT_EQ(probe("free", &sx), PROBE_FREE);
}

TEST(open_file_is_busy)
{
        struct statx sx;
        int fd;

        make_file("open", &sx);
        fd = openat(dfd, "open", O_RDONLY);
        ASSERT_EQ(probe("open", &sx), PROBE_BUSY);
        close(fd);
        ASSERT_EQ(probe("open", &sx), PROBE_FREE);
}

/* The kernel question the design depends on: a mapping outlives close() and
 * keeps its file description, so the lease is refused. */
TEST(mapped_then_closed_file_is_busy)
{
        struct statx sx;
        void *m;
        int fd;

        make_file("mapped", &sx);
        fd = openat(dfd, "mapped", O_RDONLY);
        m = mmap(NULL, 10, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        ASSERT_TRUE(m != MAP_FAILED);
        ASSERT_EQ(probe("mapped", &sx), PROBE_BUSY);
        munmap(m, 10);
        ASSERT_EQ(probe("mapped", &sx), PROBE_FREE);

        fd = openat(dfd, "mapped", O_RDWR);
        m = mmap(NULL, 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        ASSERT_TRUE(m != MAP_FAILED);
        ASSERT_EQ(probe("mapped", &sx), PROBE_BUSY);
        munmap(m, 10);
}

static void hold_lock(void)
{
        int fd = openat(dfd, "locked", O_RDONLY);

        flock(fd, LOCK_EX);
}

TEST(flocked_file_is_busy)
{
        struct child c;
        struct statx sx;

        make_file("locked", &sx);
        start_child(&c, hold_lock);
        ASSERT_EQ(probe("locked", &sx), PROBE_BUSY);
        release_child(&c);
        ASSERT_EQ(probe("locked", &sx), PROBE_FREE);
}

static void hold_lock_nolease(void)
{
        int fd = openat(dfd, "locked-nolease", O_RDONLY);

        flock(fd, LOCK_EX);
}

/* probe() in a child without CAP_LEASE (a file we do not own then gets no lease);
 * returns the result. */
static enum probe_result probe_without_cap_lease(const char *name, const struct statx *sx)
{
        int status;
        pid_t pid = fork();

        if (pid == 0) {
                struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
                struct __user_cap_data_struct d[2];

                if (syscall(SYS_capget, &h, d) < 0)
                        _exit(100);
                d[CAP_LEASE / 32].effective &= ~(1U << (CAP_LEASE % 32));
                if (syscall(SYS_capset, &h, d) < 0)
                        _exit(100);
                _exit(probe(name, sx));
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) == 100)
                FAIL("probe child failed");
        return (enum probe_result)WEXITSTATUS(status);
}

/* Where no lease can be had (not the owner, no CAP_LEASE), flock still counts:
 * a granted lease makes the flock check needless, a refused one does not. */
TEST(flocked_file_without_lease_is_busy)
{
        struct child c;
        struct statx sx;

        if (geteuid() != 0) {
                printf("# skipped: needs root (chown)\n");
                return;
        }
        make_file("locked-nolease", &sx);
        ASSERT_EQ(fchownat(dfd, "locked-nolease", 4321, 4321, 0), 0);
        ASSERT_EQ(probe_without_cap_lease("locked-nolease", &sx), PROBE_NO_LEASE);
        start_child(&c, hold_lock_nolease);
        ASSERT_EQ(probe_without_cap_lease("locked-nolease", &sx), PROBE_BUSY);
        release_child(&c);
        ASSERT_EQ(probe_without_cap_lease("locked-nolease", &sx), PROBE_NO_LEASE);
}

TEST(replaced_file_is_gone)
{
        struct statx sx, other;

        make_file("swapped", &sx);
        make_file("swapped.new", &other); /* made while the old exists: another inode */
        ASSERT_EQ(renameat(dfd, "swapped.new", dfd, "swapped"), 0);
        if (sx.stx_ino == other.stx_ino)
                FAIL("tmpfs reused the inode number; cannot test");
        ASSERT_EQ(probe("swapped", &sx), PROBE_GONE);
        ASSERT_EQ(symlinkat("/etc/passwd", dfd, "link"), 0);
        ASSERT_EQ(probe("link", &sx), PROBE_GONE);
        ASSERT_EQ(mkfifoat(dfd, "fifo", 0600), 0);
        ASSERT_EQ(probe("fifo", &sx), PROBE_GONE);
}

TEST(set_is_bounded_and_fails_safe)
{
        struct inuse_set *s = calloc(1, sizeof(*s));
        unsigned added = 0;

        inuse_set_reset(s);
        inuse_set_watch_dev(s, makedev(1, 2));
        ASSERT_EQ(inuse_set_add(s, makedev(9, 9), 5), 0); /* unwatched device: ignored */
        ASSERT_FALSE(inuse_set_contains(s, makedev(9, 9), 5));
        ASSERT_EQ(inuse_set_add(s, makedev(1, 2), 5), 1);
        ASSERT_EQ(inuse_set_add(s, makedev(1, 2), 5), 0);
        ASSERT_TRUE(inuse_set_contains(s, makedev(1, 2), 5));
        ASSERT_FALSE(inuse_set_contains(s, makedev(1, 2), 6));
        for (ino_t i = 100; i < 100 + INUSE_SET_SLOTS; i++)
                if (inuse_set_add(s, makedev(1, 2), i) == 1)
                        added++;
        ASSERT_TRUE(s->full);
        ASSERT_TRUE(added < INUSE_SET_SLOTS);
        /* Full: everything counts as in use. */
        ASSERT_TRUE(inuse_set_contains(s, makedev(1, 2), 999999999));
        free(s);
}

static void hold_fd_and_cwd(void)
{
        int fd = openat(dfd, "held", O_RDONLY);

        (void)fd;
        if (fchdir(dfd) < 0)
                _exit(1);
}

TEST(proc_scan_sees_a_child_cwd_and_fds)
{
        struct inuse_set *s = calloc(1, sizeof(*s));
        struct child c;
        struct statx sx;
        struct stat st;

        make_file("held", &sx);
        ASSERT_EQ(fstat(dfd, &st), 0);
        start_child(&c, hold_fd_and_cwd);
        inuse_set_reset(s);
        inuse_set_watch_dev(s, st.st_dev);
        ASSERT_TRUE(inuse_set_scan(s, "/proc") >= 2);
        ASSERT_TRUE(inuse_set_contains(s, st.st_dev, sx.stx_ino));
        ASSERT_TRUE(inuse_set_contains(s, st.st_dev, st.st_ino)); /* the child's cwd */
        release_child(&c);
        inuse_set_reset(s);
        inuse_set_watch_dev(s, st.st_dev);
        inuse_set_scan(s, "/proc");
        ASSERT_FALSE(inuse_set_contains(s, st.st_dev, sx.stx_ino));
        free(s);
}

static void hold_mapping(void)
{
        int fd = openat(dfd, "mapped-held", O_RDONLY);
        void *m = mmap(NULL, 10, PROT_READ, MAP_PRIVATE, fd, 0);

        close(fd); /* only the mapping is left */
        if (m == MAP_FAILED)
                _exit(1);
}

TEST(proc_scan_sees_a_mapping_without_fd)
{
        struct inuse_set *s = calloc(1, sizeof(*s));
        struct child c;
        struct statx sx;
        struct stat st;

        make_file("mapped-held", &sx);
        ASSERT_EQ(fstat(dfd, &st), 0);
        start_child(&c, hold_mapping);
        inuse_set_reset(s);
        inuse_set_watch_dev(s, st.st_dev);
        inuse_set_scan(s, "/proc");
        ASSERT_TRUE(inuse_set_contains(s, st.st_dev, sx.stx_ino));
        release_child(&c);
        free(s);
}

TEST(cleanup)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}

TEST(lease_list_reads_leases_and_delegations_only)
{
        char path[] = "/tmp/test-sweep-locks.XXXXXX";
        struct lease_list l;
        int fd = mkstemp(path);
        const char *text = "1: FLOCK  ADVISORY  WRITE 26999 00:66:20 0 EOF\n"
                           "2: LEASE  ACTIVE    WRITE 2266 00:2d:12 0 EOF\n"
                           "3: POSIX  ADVISORY  WRITE 14448 fe:00:5317039 0 EOF\n"
                           "4: DELEG  ACTIVE    READ 1 103:05:99999999999 0 EOF\n"
                           "5: LEASE  BREAKING  READ 7 garbage\n";

        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
        close(fd);
        ASSERT_EQ(lease_list_load(&l, path), 2);
        ASSERT_TRUE(lease_list_contains(&l, makedev(0, 0x2d), 12));
        ASSERT_TRUE(lease_list_contains(&l, makedev(0x103, 5), 99999999999ULL));
        ASSERT_FALSE(lease_list_contains(&l, makedev(0, 0x66), 20)); /* flock: not a lease */
        ASSERT_FALSE(lease_list_contains(&l, makedev(0xfe, 0), 5317039));
        unlink(path);
        ASSERT_EQ(lease_list_load(&l, "/nonexistent/locks"), -ENOENT);
        ASSERT_EQ(l.n, 0);
}
