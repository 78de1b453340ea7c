/* SPDX-License-Identifier: MIT */
/*
 * checkpoint-hash: the content hash of journal files and the copy loop that
 * computes it on exactly the bytes it writes (a file written to while it is
 * copied gets the hash of what was copied, so the record never disagrees with the
 * journal). Holes are skipped with SEEK_DATA/SEEK_HOLE and stay holes.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/internal.h"

#define BLK sizeof(((struct chash *)0)->blk)
static const uint64_t K = 0x9e3779b97f4a7c15ULL;

static inline uint64_t mix(uint64_t x)
{
        x ^= x >> 31;
        x *= K;
        x ^= x >> 29;
        return x;
}

static bool all_zero(const unsigned char *p, size_t n)
{
        return n > 0 && p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

static void block(struct chash *c, const unsigned char *p, size_t n)
{
        uint64_t w;

        if (n == BLK && all_zero(p, n)) {
                c->h = mix(c->h ^ 0x5a5a5a5a5a5a5a5aULL);
                return;
        }
        for (size_t i = 0; i < n; i += 8) {
                w = 0;
                memcpy(&w, p + i, n - i < 8 ? n - i : 8);
                c->h = mix(c->h ^ w) + i;
        }
}

void chash_init(struct chash *c)
{
        c->h = K;
        c->len = 0;
        c->fill = 0;
}

void chash_feed(struct chash *c, const void *data, size_t n)
{
        const unsigned char *p = data;

        c->len += n;
        if (c->fill) {
                size_t take = BLK - c->fill < n ? BLK - c->fill : n;
                memcpy(c->blk + c->fill, p, take);
                c->fill += take;
                p += take;
                n -= take;
                if (c->fill < BLK)
                        return;
                block(c, c->blk, BLK);
                c->fill = 0;
        }
        for (; n >= BLK; p += BLK, n -= BLK)
                block(c, p, BLK);
        memcpy(c->blk, p, n);
        c->fill = n;
}

void chash_zeros(struct chash *c, uint64_t n)
{
        static const unsigned char zero[BLK];

        if (c->fill) {
                size_t take = BLK - c->fill < n ? BLK - c->fill : (size_t)n;
                chash_feed(c, zero, take);
                n -= take;
        }
        for (; n >= BLK; n -= BLK) {
                c->len += BLK;
                c->h = mix(c->h ^ 0x5a5a5a5a5a5a5a5aULL);
        }
        chash_feed(c, zero, (size_t)n);
}

uint64_t chash_final(const struct chash *c)
{
        struct chash t = *c;

        if (t.fill)
                block(&t, t.blk, t.fill);
        return mix(t.h ^ t.len) ^ t.len;
}

uint64_t chash_buf(const void *p, size_t n)
{
        struct chash c;

        chash_init(&c);
        chash_feed(&c, p, n);
        return chash_final(&c);
}

static int pwrite_all(int fd, const unsigned char *p, size_t n, off_t off)
{
        while (n > 0) {
                ssize_t w = pwrite(fd, p, n, off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
                off += w;
        }
        return 0;
}

int chash_copy(int in, int out, uint64_t from, uint64_t to, struct chash *c, uint64_t *end,
               uint64_t *written)
{
        static unsigned char buf[1 << 16];
        uint64_t pos = from;
        int r;

        while (pos < to) {
                off_t data = lseek(in, (off_t)pos, SEEK_DATA), hole;
                struct stat st;

                if (data < 0 && errno != ENXIO)
                        return -errno;
                if (data < 0) {
                        /* Only a hole up to the end (which may have moved). */
                        if (fstat(in, &st) < 0)
                                return -errno;
                        if ((uint64_t)st.st_size < to)
                                to = (uint64_t)st.st_size > pos ? (uint64_t)st.st_size : pos;
                        chash_zeros(c, to - pos);
                        pos = to;
                        break;
                }
                if ((uint64_t)data >= to) {
                        chash_zeros(c, to - pos);
                        pos = to;
                        break;
                }
                chash_zeros(c, (uint64_t)data - pos);
                pos = (uint64_t)data;
                hole = lseek(in, data, SEEK_HOLE);
                if (hole < 0)
                        return -errno;
                while (pos < (uint64_t)hole && pos < to) {
                        size_t want = sizeof(buf);
                        ssize_t n;

                        if (to - pos < want)
                                want = (size_t)(to - pos);
                        n = pread(in, buf, want, (off_t)pos);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return -errno;
                        if (n == 0) { /* shrank under us: stop here */
                                *end = pos;
                                return 0;
                        }
                        chash_feed(c, buf, (size_t)n);
                        if (out >= 0) {
                                r = pwrite_all(out, buf, (size_t)n, (off_t)pos);
                                if (r < 0)
                                        return r;
                                *written += (uint64_t)n;
                        }
                        pos += (uint64_t)n;
                }
        }
        *end = pos;
        return 0;
}
