/* SPDX-License-Identifier: MIT */
/*
 * checkpoint-internal: what the files of the checkpoint layer share. hash.c (the
 * content hash and the copy loop that computes it), record.c (a generation's
 * RECORD), tree.c (walking an upper into a generation), journal.c (the journal
 * dir: generations, current, records), write.c (one checkpoint).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "checkpoint/checkpoint.h"

#define GEN_PREFIX     "gen-"
#define RECORD_VERSION 1

/* hash.c: a 64-bit content hash (not cryptographic: it detects damage and proves
 * a prefix unchanged). The data is cut in 4 KiB blocks; an all-zero block hashes
 * the same whether it is a hole or written zeros, so sparse and dense copies of
 * the same content agree. */
struct chash {
        uint64_t h, len;
        size_t fill;
        unsigned char blk[4096];
};
void chash_init(struct chash *c);
void chash_feed(struct chash *c, const void *p, size_t n);
void chash_zeros(struct chash *c, uint64_t n);
uint64_t chash_final(const struct chash *c);
uint64_t chash_buf(const void *p, size_t n);
/* Read in from offset from up to to (or its end, if it shrank), feeding c; with
 * out >= 0 write the data at the same offsets too (holes stay holes). *end is
 * where it stopped; *written counts bytes written. */
int chash_copy(int in, int out, uint64_t from, uint64_t to, struct chash *c, uint64_t *end,
               uint64_t *written);

/* record.c */
struct rec_file {
        char *rel; /* "<dir name>/<path in the upper>" */
        uint64_t ino, size, hash;
        struct timespec ctime, mtime, atime;
};

struct record {
        uint64_t gen;
        int64_t time;
        char boot[64];
        unsigned n_dirs;
        char paths[CONFIG_MAX_DIRS][PATH_MAX];
        char names[CONFIG_MAX_DIRS][NAME_MAX + 1];
        struct rec_file *files;
        size_t n_files, cap_files;
        uint64_t entries, names_total, bytes, sig;
        bool no_user_xattrs; /* the store could not hold user.* xattrs (Linux < 6.6) */
};

int record_add(struct record *r, const struct rec_file *f);
void record_sort(struct record *r);
const struct rec_file *record_lookup(const struct record *r, const char *rel);
void record_free(struct record *r);
/* RECORD in genfd, last line "end <hash of all before>", fsync'ed. */
int record_write(int genfd, const struct record *r);
/* -EBADMSG when damaged or incomplete, -ENOENT when missing. */
int record_read(int genfd, struct record *r);

/* tree.c */
struct tree_ctx {
        const struct record *base; /* the previous generation of this boot, or NULL */
        int basefd;                /* its dir, or -1 */
        int genfd;                 /* the generation being written, -1: signature only */
        struct record *out;        /* files and totals of the new one */
        struct checkpoint_stats *st;
        struct link_slot *links; /* upper hardlinks: ino -> first rel path */
        size_t n_links, cap_links;
        int first_error;
};
/* Walk the upper at upperfd (dir name name): with genfd >= 0 copy it into
 * genfd/name; always add its entries to out->sig and the totals. */
int tree_walk(struct tree_ctx *t, int upperfd, const char *name, const char *label);
void tree_free(struct tree_ctx *t);
/* s with control bytes, non-ASCII, '\\' and '\'' as \xHH, for log lines (one of
 * two rotating static buffers). */
const char *ckpt_escape(const char *s);

/* journal.c */
int journal_read_current(int jfd, uint64_t *gen);
int journal_boot_id(char *buf, size_t len);
/* The generation numbers present, newest first (*ret malloc'd). */
int journal_list_gens(int jfd, uint64_t **ret, size_t *n);
/* Remove gen-<gen> and everything in it. */
int journal_drop_gen(int jfd, uint64_t gen);
