/* SPDX-License-Identifier: MIT */
/*
 * manifest: print a canonical description of a directory tree, one line per entry
 * sorted by path (bytewise), never following a symlink, so that two trees can be
 * compared with `cmp`/`diff`. libc only (builds with -static for test VMs).
 *
 *   manifest [--blocks] [--no-dir-mtime] [--links-via UPPER] DIR
 *
 * Line: PATH TYPE MODE UID GID SIZE MTIME CONTENT XATTRS LINK [BLOCKS]
 *   PATH     relative to DIR ("." for DIR itself); bytes outside 0x21..0x7e and '\'
 *            written as \xHH, so a line never holds a raw space or newline
 *   TYPE     f d l p c b s
 *   MODE     octal including setuid/setgid/sticky
 *   SIZE     bytes for files and symlinks, "-" for dirs (differs between filesystems)
 *   MTIME    sec.nsec ("-" for dirs with --no-dir-mtime); atime is never shown
 *   CONTENT  sha256:HEX for files, ->TARGET (escaped) for symlinks, rdev=MAJ:MIN for
 *            devices, "-" otherwise
 *   XATTRS   name=hexvalue,... sorted by name, trusted.overlay.* left out, or "-"
 *   LINK     link=N when N is the index (0-based line number) of the first path that
 *            shares this regular file's inode, for files sharing it within the tree;
 *            "-" otherwise
 *   BLOCKS   blocks=N (512-byte units) for files, only with --blocks
 *
 * --links-via UPPER: for a merged overlay view DIR, take the inode identity of a
 * file from UPPER/PATH when that is a regular file. overlayfs does not report one
 * st_ino for all names of an upper inode: a name whose lower origin had nlink 1
 * shows the origin's st_ino, a name created by link() shows the upper's, so two
 * names that are one file (a write to one changes the other) look unrelated.
 * The upper holds the truth for every name it has; other names are lower-only.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- SHA-256 (FIPS 180-4) ---- */
struct sha256 {
        uint32_t h[8];
        uint64_t len;
        unsigned char buf[64];
        size_t n;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(struct sha256 *s, const unsigned char *p)
{
        uint32_t w[64], a, b, c, d, e, f, g, h;

        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
        e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 =
                    h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
                uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
        s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
        static const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
        memcpy(s->h, init, sizeof(init));
        s->len = 0;
        s->n = 0;
}

static void sha256_update(struct sha256 *s, const unsigned char *p, size_t len)
{
        s->len += len;
        while (len > 0) {
                size_t take = 64 - s->n < len ? 64 - s->n : len;
                memcpy(s->buf + s->n, p, take);
                s->n += take;
                p += take;
                len -= take;
                if (s->n == 64) {
                        sha256_block(s, s->buf);
                        s->n = 0;
                }
        }
}

static void sha256_final(struct sha256 *s, char hex[65])
{
        uint64_t bits = s->len * 8;
        unsigned char pad = 0x80, zero = 0, lenbuf[8];

        sha256_update(s, &pad, 1);
        while (s->n != 56)
                sha256_update(s, &zero, 1);
        for (int i = 0; i < 8; i++)
                lenbuf[i] = (unsigned char)(bits >> (56 - 8 * i));
        sha256_update(s, lenbuf, 8);
        for (int i = 0; i < 8; i++)
                sprintf(hex + 8 * i, "%08x", s->h[i]);
}

/* ---- tree walk ---- */
struct entry {
        char *rel;  /* relative path, raw bytes */
        char *path; /* full path for syscalls */
        struct stat st;
        dev_t id_dev; /* inode identity for hardlink groups */
        ino_t id_ino;
        long link;
};

static struct entry *entries;
static size_t n_entries, cap_entries;
static int opt_blocks, opt_no_dir_mtime;
static const char *opt_links_via;

static void die(const char *what, const char *path)
{
        fprintf(stderr, "manifest: %s '%s': %s\n", what, path, strerror(errno));
        exit(2);
}

static char *join(const char *a, const char *b)
{
        char *s;
        if (asprintf(&s, "%s/%s", a, b) < 0) {
                fprintf(stderr, "manifest: out of memory\n");
                exit(2);
        }
        return s;
}

static void add(const char *path, const char *rel)
{
        struct entry *e;

        if (n_entries == cap_entries) {
                cap_entries = cap_entries ? cap_entries * 2 : 1024;
                entries = realloc(entries, cap_entries * sizeof(*entries));
                if (!entries)
                        die("out of memory at", path);
        }
        e = &entries[n_entries];
        if (lstat(path, &e->st) < 0)
                die("cannot stat", path);
        e->path = strdup(path);
        e->rel = strdup(rel);
        e->link = -1;
        e->id_dev = e->st.st_dev;
        e->id_ino = e->st.st_ino;
        if (opt_links_via && S_ISREG(e->st.st_mode)) {
                struct stat up;
                char *u = join(opt_links_via, rel);
                if (lstat(u, &up) == 0 && S_ISREG(up.st_mode)) {
                        e->id_dev = up.st_dev;
                        e->id_ino = up.st_ino;
                }
                free(u);
        }
        n_entries++;
}

static void walk(const char *path, const char *rel)
{
        DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                die("cannot open", path);
        while ((errno = 0, de = readdir(d))) {
                char *p, *r;
                struct stat st;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                p = join(path, de->d_name);
                r = strcmp(rel, ".") ? join(rel, de->d_name) : strdup(de->d_name);
                add(p, r);
                if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                        walk(p, r);
                free(p);
                free(r);
        }
        if (errno)
                die("cannot read", path);
        closedir(d);
}

static int by_rel(const void *a, const void *b)
{
        return strcmp(((const struct entry *)a)->rel, ((const struct entry *)b)->rel);
}

static int by_inode(const void *a, const void *b)
{
        const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
        if (x->id_dev != y->id_dev)
                return x->id_dev < y->id_dev ? -1 : 1;
        if (x->id_ino != y->id_ino)
                return x->id_ino < y->id_ino ? -1 : 1;
        return x < y ? -1 : x > y;
}

static void link_groups(void)
{
        struct entry **v = calloc(n_entries + 1, sizeof(*v));
        size_t n = 0;

        if (!v)
                die("out of memory at", ".");
        for (size_t i = 0; i < n_entries; i++)
                if (S_ISREG(entries[i].st.st_mode) && entries[i].st.st_nlink > 1)
                        v[n++] = &entries[i];
        qsort(v, n, sizeof(*v), by_inode);
        for (size_t i = 0; i < n;) {
                size_t j = i + 1;
                while (j < n && v[j]->id_dev == v[i]->id_dev && v[j]->id_ino == v[i]->id_ino)
                        j++;
                if (j - i > 1)
                        for (size_t k = i; k < j; k++)
                                v[k]->link = (long)(v[i] - entries);
                i = j;
        }
        free(v);
}

static void put_escaped(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (ch <= 0x20 || ch >= 0x7f || ch == '\\')
                        printf("\\x%02x", ch);
                else
                        putchar(ch);
        }
}

static void put_hash(const char *path)
{
        unsigned char buf[65536];
        struct sha256 s;
        char hex[65];
        ssize_t n;
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                die("cannot open", path);
        sha256_init(&s);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                sha256_update(&s, buf, (size_t)n);
        if (n < 0)
                die("cannot read", path);
        close(fd);
        sha256_final(&s, hex);
        printf("sha256:%s", hex);
}

static int by_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_xattrs(const char *path)
{
        char *list, *names[1024];
        ssize_t len = llistxattr(path, NULL, 0);
        size_t n = 0;
        int any = 0;

        if (len < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP))
                len = 0;
        if (len < 0)
                die("cannot list xattrs of", path);
        list = malloc((size_t)len + 1);
        if (!list)
                die("out of memory at", path);
        len = llistxattr(path, list, (size_t)len);
        if (len < 0)
                die("cannot list xattrs of", path);
        for (char *p = list; p < list + len && n < 1024; p += strlen(p) + 1)
                if (strncmp(p, "trusted.overlay.", 16) != 0)
                        names[n++] = p;
        qsort(names, n, sizeof(*names), by_str);
        for (size_t i = 0; i < n; i++) {
                unsigned char val[65536];
                ssize_t vl = lgetxattr(path, names[i], val, sizeof(val));
                if (vl < 0)
                        die("cannot read xattr of", path);
                printf("%s", any ? "," : "");
                put_escaped(names[i], strlen(names[i]));
                putchar('=');
                for (ssize_t k = 0; k < vl; k++)
                        printf("%02x", val[k]);
                any = 1;
        }
        if (!any)
                putchar('-');
        free(list);
}

static char type_char(mode_t m)
{
        return S_ISREG(m)    ? 'f'
               : S_ISDIR(m)  ? 'd'
               : S_ISLNK(m)  ? 'l'
               : S_ISFIFO(m) ? 'p'
               : S_ISCHR(m)  ? 'c'
               : S_ISBLK(m)  ? 'b'
                             : 's';
}

static void print_entry(const struct entry *e)
{
        const struct stat *st = &e->st;
        mode_t m = st->st_mode;

        put_escaped(e->rel, strlen(e->rel));
        printf(" %c %04o %u %u ", type_char(m), (unsigned)(m & 07777), (unsigned)st->st_uid,
               (unsigned)st->st_gid);
        if (S_ISDIR(m))
                printf("- ");
        else
                printf("%lld ", (long long)st->st_size);
        if (S_ISDIR(m) && opt_no_dir_mtime)
                printf("- ");
        else
                printf("%lld.%09ld ", (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        if (S_ISREG(m)) {
                put_hash(e->path);
        } else if (S_ISLNK(m)) {
                char target[4097];
                ssize_t n = readlink(e->path, target, sizeof(target));
                if (n < 0)
                        die("cannot read link", e->path);
                printf("->");
                put_escaped(target, (size_t)n);
        } else if (S_ISCHR(m) || S_ISBLK(m)) {
                printf("rdev=%u:%u", major(st->st_rdev), minor(st->st_rdev));
        } else {
                putchar('-');
        }
        putchar(' ');
        put_xattrs(e->path);
        if (e->link >= 0)
                printf(" link=%ld", e->link);
        else
                printf(" -");
        if (opt_blocks && S_ISREG(m))
                printf(" blocks=%lld", (long long)st->st_blocks);
        putchar('\n');
}

int main(int argc, char *argv[])
{
        const char *dir = NULL;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--blocks"))
                        opt_blocks = 1;
                else if (!strcmp(argv[i], "--no-dir-mtime"))
                        opt_no_dir_mtime = 1;
                else if (!strcmp(argv[i], "--links-via") && i + 1 < argc)
                        opt_links_via = argv[++i];
                else if (argv[i][0] == '-' || dir) {
                        fprintf(stderr, "usage: manifest [--blocks] [--no-dir-mtime] [--links-via "
                                        "UPPER] DIR\n");
                        return 100;
                } else
                        dir = argv[i];
        }
        if (!dir) {
                fprintf(stderr,
                        "usage: manifest [--blocks] [--no-dir-mtime] [--links-via UPPER] DIR\n");
                return 100;
        }
        add(dir, ".");
        if (!S_ISDIR(entries[0].st.st_mode)) {
                errno = ENOTDIR;
                die("not a directory:", dir);
        }
        walk(dir, ".");
        qsort(entries, n_entries, sizeof(*entries), by_rel);
        link_groups();
        for (size_t i = 0; i < n_entries; i++)
                print_entry(&entries[i]);
        return fflush(stdout) == 0 ? 0 : 2;
}
