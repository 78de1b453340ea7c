/* SPDX-License-Identifier: MIT */
/* Unit tests of the checkpoint's completion record and content hash: a RECORD
 * round-trips every field; any changed, cut or missing byte makes it -EBADMSG; the
 * hash depends on content only (holes hash as zeros, any split of the stream gives
 * the same value) and differs for different content. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/internal.h"
#include "test.h"
#include "shared/util.h"

static int gen_dir(char *path, size_t len)
{
        snprintf(path, len, "/var/tmp/test-record.XXXXXX");
        if (!mkdtemp(path))
                return -1;
        return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void sample(struct record *r)
{
        struct rec_file f = {.rel = "etc/a b\\c", .ino = 7, .size = 12, .hash = 0xabcdef};

        *r = (struct record){.gen = 3,
                             .time = 1700000000,
                             .entries = 2,
                             .names_total = 4,
                             .bytes = 12,
                             .sig = 0x1234,
                             .no_user_xattrs = true};
        snprintf(r->boot, sizeof(r->boot), "boot-id");
        r->n_dirs = 1;
        snprintf(r->names[0], sizeof(r->names[0]), "etc");
        snprintf(r->paths[0], sizeof(r->paths[0]), "/etc");
        f.ctime = (struct timespec){100, 999999999};
        f.mtime = (struct timespec){-5, 1};
        f.atime = (struct timespec){0, 0};
        if (record_add(r, &f) < 0)
                abort();
}

TEST(record_round_trip)
{
        char path[64];
        _cleanup_close_ int fd = gen_dir(path, sizeof(path));
        struct record w, r;
        const struct rec_file *f;

        ASSERT_TRUE(fd >= 0);
        sample(&w);
        ASSERT_EQ(record_write(fd, &w), 0);
        ASSERT_EQ(record_read(fd, &r), 0);
        ASSERT_EQ(r.gen, 3);
        ASSERT_EQ(r.time, 1700000000);
        ASSERT_STREQ(r.boot, "boot-id");
        ASSERT_EQ(r.n_dirs, 1);
        ASSERT_STREQ(r.paths[0], "/etc");
        ASSERT_TRUE(r.no_user_xattrs);
        ASSERT_EQ(r.sig, 0x1234);
        ASSERT_EQ(r.names_total, 4);
        f = record_lookup(&r, "etc/a b\\c");
        ASSERT_TRUE(f != NULL);
        ASSERT_EQ(f->ino, 7);
        ASSERT_EQ(f->size, 12);
        ASSERT_EQ(f->hash, 0xabcdef);
        ASSERT_EQ(f->ctime.tv_nsec, 999999999);
        ASSERT_EQ(f->mtime.tv_sec, -5);
        ASSERT_TRUE(record_lookup(&r, "etc/other") == NULL);
        record_free(&r);
        record_free(&w);
        (void)unlinkat(fd, JOURNAL_RECORD, 0);
        rmdir(path);
}

/* Every single-byte change and every cut of the file is detected. */
TEST(record_damage_is_detected)
{
        char path[64];
        _cleanup_close_ int fd = gen_dir(path, sizeof(path));
        _cleanup_free_ char *buf = NULL;
        struct record w, r;
        size_t len = 0;

        ASSERT_TRUE(fd >= 0);
        sample(&w);
        ASSERT_EQ(record_write(fd, &w), 0);
        ASSERT_EQ(read_file_at(fd, JOURNAL_RECORD, 1 << 20, &buf, &len), 0);
        for (size_t i = 0; i < len; i++) {
                for (int cut = 0; cut < 2; cut++) {
                        char *copy = malloc(len);
                        memcpy(copy, buf, len);
                        copy[i] ^= 0x01;
                        ASSERT_EQ(unlinkat(fd, JOURNAL_RECORD, 0), 0);
                        ASSERT_EQ(write_file_atomic_at(fd, JOURNAL_RECORD, cut ? buf : copy,
                                                       cut ? i : len, 0600),
                                  0);
                        ASSERT_EQ(record_read(fd, &r), -EBADMSG);
                        free(copy);
                }
        }
        ASSERT_EQ(unlinkat(fd, JOURNAL_RECORD, 0), 0);
        ASSERT_EQ(record_read(fd, &r), -ENOENT);
        record_free(&w);
        rmdir(path);
}

TEST(hash_depends_on_content_only)
{
        static unsigned char data[3 * 4096 + 123];
        struct chash a, b, c;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (unsigned char)(i * 7 + 1);
        memset(data + 4096, 0, 4096); /* one all-zero block */
        chash_init(&a);
        chash_feed(&a, data, sizeof(data));
        chash_init(&b);
        for (size_t i = 0; i < sizeof(data); i += 1000)
                chash_feed(&b, data + i, sizeof(data) - i < 1000 ? sizeof(data) - i : 1000);
        chash_init(&c);
        chash_feed(&c, data, 4096);
        chash_zeros(&c, 4096); /* a hole */
        chash_feed(&c, data + 8192, sizeof(data) - 8192);
        ASSERT_EQ(chash_final(&a), chash_final(&b));
        ASSERT_EQ(chash_final(&a), chash_final(&c));
        ASSERT_EQ(chash_final(&a), chash_buf(data, sizeof(data)));
        data[100] ^= 1;
        ASSERT_TRUE(chash_buf(data, sizeof(data)) != chash_final(&a));
        /* a prefix: the state is a snapshot, finalizing does not consume it */
        ASSERT_TRUE(chash_buf(data, 10) != chash_buf(data, 11));
        ASSERT_TRUE(chash_buf("", 0) != chash_buf("\0", 1));
}
