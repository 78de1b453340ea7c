/* SPDX-License-Identifier: MIT */
/*
 * merge/internal: what the files of the merge engine share. merge.c orders the
 * phases (and argues crash safety); walk.c (phase 1: walk the upper, write
 * temporaries, build the job list), apply.c (phase 2: renames, deletions, directory
 * metadata), copy.c (file data with holes), meta.c (owner, mode, xattrs, times),
 * links.c (hardlink groups), clean.c (temporary names, recursive removal,
 * leftovers) and, at the bottom, context.c (the helpers all of them call: errors,
 * paths, messages). No file calls merge.c.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "merge/merge.h"

#define MERGE_TMP_LEN (sizeof(MERGE_TMP_PREFIX) - 1 + MERGE_TMP_HEX)

enum op_kind {
        OP_RENAME, /* tmp -> name; when exchange: swap, then remove the old one */
        OP_DELETE, /* remove name (recursively) */
};

struct op {
        enum op_kind kind;
        bool exchange;
        uint64_t entries; /* entries the rename brings in (a new tree: all of them) */
        char *name;
        char tmp[MERGE_TMP_LEN + 1];
};

/* One lower directory that exists and is updated in place. Jobs are kept in
 * post-order (children before their parent) so that a directory's times are set
 * after everything inside it changed. */
struct job {
        char *relpath; /* "" for the root, else "a/b" (same in upper and lower) */
        struct op *ops;
        size_t n_ops, cap_ops;
};

struct link_entry;
struct merge_writeback;

/* How file data is copied (copy.c); a method that failed is not tried again. */
enum merge_copy_method { MERGE_COPY_RANGE, MERGE_COPY_SENDFILE, MERGE_COPY_RW };

struct merge_ctx {
        const struct merge_opts *o;
        struct merge_stats *st;
        int upperfd, lowerfd;
        dev_t lower_dev;
        struct job **jobs;
        size_t n_jobs, cap_jobs;
        struct link_entry *links; /* hash table of upper hardlink groups */
        size_t n_links, cap_links;
        uint64_t tmp_counter;
        enum merge_copy_method copy_method;
        /* What a new entry in the lower dir being written gets (walk.c): when
         * creator_known, the owner euid:egid and the permissions asked for less
         * the umask. Only on filesystems known to do so (local_fs), in dirs whose
         * group is egid (so neither setgid nor grpid changes it) and that have no
         * default ACL. */
        bool local_fs, creator_known;
        uid_t euid;
        gid_t egid;
        mode_t umask;
        struct merge_writeback *wb; /* early write-back of phase 1 (NULL: none) */
        int first_error;
        bool leftovers; /* a temporary could not be removed: keep the marker */
};

/* context.c */
/* Record an error (already logged) for the final result. */
void merge_fail(struct merge_ctx *c, int r);

/* "label/relpath/name" for log messages (log.c escapes them). Returns a static
 * buffer (one of a few rotating ones, so two may be used in one message). */
const char *merge_path(const struct merge_ctx *c, const char *relpath, const char *name);
/* open_dir_beneath, also for paths longer than PATH_MAX (deep trees). */
int merge_open_rel(int rootfd, const char *rel, int flags);
/* relpath + "/" + name (or name when relpath is ""). malloc'd, NULL on ENOMEM. */
char *merge_join(const char *relpath, const char *name);

/* merge-walk.c */
/* -EPROTO (logged) when the upper needs redirect/metacopy support. */
int merge_check_upper(struct merge_ctx *c);
/* Phase 1: temporaries and the job list; errors are recorded with merge_fail. */
int merge_walk(struct merge_ctx *c);
/* merge-apply.c */
/* Phase 2: every job in order; errors are recorded with merge_fail. */
void merge_apply(struct merge_ctx *c);
/* Remove the temporaries of every job (phase 1 could not be made durable). */
void merge_discard(struct merge_ctx *c);
void merge_jobs_free(struct merge_ctx *c);

/* writeback.c: a helper thread that syncfs()es the lower's filesystem each time
 * phase 1 has written another step bytes. NULL when it cannot be made: the merge
 * goes on without (only slower). */
struct merge_writeback *merge_writeback_new(int lowerfd, uint64_t written, uint64_t step,
                                            const char *label);
/* Phase 1 has written `written` bytes in all (main thread only; wb may be NULL). */
void merge_writeback_kick(struct merge_writeback *wb, uint64_t written);
/* Join the thread (after it served a pending request) and free wb: 0, or the first
 * error of its syncfs (-errno). */
int merge_writeback_stop(struct merge_writeback *wb);

/* merge-copy.c: copy the data of in (whose stat is st) to the new, empty out keeping
 * holes; *bytes += copied. *method starts at MERGE_COPY_RANGE and is kept between
 * calls. */
int merge_copy_data(int in, int out, const struct stat *st, enum merge_copy_method *method,
                    uint64_t *bytes);

/* merge-meta.c. An entry is addressed by fd (regular files and dirs: an open fd)
 * or, when fd < 0, by dirfd + name without following a symlink. */
struct entry_ref {
        int fd;
        int dirfd;
        const char *name;
};
/* Give dst the owner, mode, xattrs (all but trusted.overlay.*, and none it has
 * that src lacks) and, when times is true, atime/mtime of the upper entry src
 * described by st. */
int merge_copy_meta(const struct entry_ref *src, const struct entry_ref *dst, const struct stat *st,
                    bool times);
/* What the engine knows of an entry it has just created: the calls that would set
 * what it already has are left out. */
struct merge_created {
        bool owner;  /* it already has st's owner and group */
        mode_t mode; /* the permissions it was created with */
};
/* merge_copy_meta (times included) of an entry the engine has just created. */
int merge_copy_meta_created(const struct entry_ref *src, const struct entry_ref *dst,
                            const struct stat *st, const struct merge_created *cr);
int merge_set_times(const struct entry_ref *dst, const struct stat *st);
/* Value of xattr name on the entry, into buf (NUL-terminated). -ENODATA if none. */
int merge_get_xattr(const struct entry_ref *e, const char *name, char *buf, size_t len);
/* Probe whether the upper fs holds user.* xattrs (known_missing: the caller knows it
 * did not, e.g. a checkpoint's copy of such a store); if it cannot (tmpfs before Linux
 * 6.6), merge_copy_meta keeps the lower's user.* xattrs and merge_keep_user_xattrs
 * copies them from an old lower entry to its replacement. Returns true then. */
bool merge_probe_user_xattrs(int upperfd, bool known_missing);
bool merge_keeps_user_xattrs(void);
int merge_keep_user_xattrs(const struct entry_ref *old, const struct entry_ref *dst);
/* 1 when the entry carries an xattr overlayfs needs to interpret (redirect,
 * metacopy, or the xattr form of a whiteout), with its name in *which; 0 if not;
 * -errno when the xattrs cannot be listed. */
int merge_needs_overlay_features(const struct entry_ref *e, const char **which);

/* merge-links.c: upper (dev, ino) -> lower path of its first copy (phase-1 name). */
const char *merge_link_lookup(struct merge_ctx *c, dev_t dev, ino_t ino);
int merge_link_add(struct merge_ctx *c, dev_t dev, ino_t ino, const char *lower_relpath);
void merge_links_free(struct merge_ctx *c);

/* merge-clean.c */
/* Make a fresh temporary name (not created). */
void merge_tmp_name(struct merge_ctx *c, char out[MERGE_TMP_LEN + 1]);
bool merge_is_tmp_name(const char *name);
/* Is dirfd/name the root of a mount (also a bind mount of the same filesystem,
 * which st_dev cannot tell)? 1 yes, 0 no or the kernel has no way to say (before
 * 5.8), -errno when statx fails: the caller must not go on as if it were "no". */
int merge_is_mount_root(int dirfd, const char *name);
/* fstatat (not following a symlink) and merge_is_mount_root in one call: -errno
 * when the stat fails, else the latter's 1 or 0 with *st filled. */
int merge_stat_mount(int dirfd, const char *name, struct stat *st);
/* Remove dirfd/name and everything below it without following symlinks, leaving
 * the filesystem dev or entering any mount (-EXDEV). *count is increased per removed entry. Logs
 * nothing. */
int merge_rm_rf(int dirfd, const char *name, dev_t dev, uint64_t *count);
/* The walk of merge_rm_rf without removing anything: 0 when nothing below
 * dirfd/name is a mount point (or cannot be told apart from one) and every dir
 * reads to its end; else the first error. */
int merge_check_removable(int dirfd, const char *name, dev_t dev);
