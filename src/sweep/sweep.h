/* SPDX-License-Identifier: MIT */
/*
 * sweep: the internals of `ephemeral sweep` (libc only). One file per job:
 * age.c (the staleness rule), protect.c (protected names), inuse.c (write leases,
 * flock and the /proc fallback), walk.c (the fd-pinned walker that deletes),
 * ramwatch.c (tmpfs fill warnings), setup.c (per-user ~/.cache tmpfs); the options
 * and the daemon loop are in cmd/sweep.c. Functions return 0 / a count or -errno.
 *
 * Layer src/sweep/: libc only (the sweeper binary links no libkmod/libblkid; lint
 * checks it); may call src/config/ and src/shared/.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config/config.h"

#define SWEEP_DEFAULT_MAX_DEPTH   64
#define SWEEP_DEFAULT_MAX_DELETES 100000
#define SWEEP_DEFAULT_MAX_SECONDS 60
#define SWEEP_DEFAULT_STORE       "/run/initramfs/ephemeral"
#define SWEEP_MAX_ROOTS           CONFIG_MAX_DIRS
#define SWEEP_MAX_DEPTH_LIMIT     512 /* the largest --max-depth */
#define SWEEP_MAX_NAMES           (SWEEP_MAX_DEPTH_LIMIT + 2)

/* ---- age.c ---- */

/* The times of one entry, in nanoseconds since the epoch (0: unknown). */
struct entry_times {
        int64_t atime, mtime, ctime, btime;
};

void entry_times_from_statx(const struct statx *sx, struct entry_times *ret);
/* The newest of the times that count: all four for files and symlinks; for
 * directories everything but ctime (their own cleanup changes it). */
int64_t entry_age_ref(const struct entry_times *t, bool is_dir);
/* True when the entry's newest time is at or before cutoff. */
bool entry_is_stale(const struct entry_times *t, bool is_dir, int64_t cutoff_ns);

/* ---- protect.c ---- */

/* True when name matches one of the n patterns (fnmatch, no FNM_PATHNAME tricks:
 * patterns apply to single names). The built-in list is the default of
 * ephemeral.sweep.protect (config/keys.c). */
bool name_is_protected(const char *name, const char (*patterns)[256], unsigned n);

/* The first bytes a name can start with to match one of the patterns (all 256 when
 * a pattern starts with a wildcard, a class or an escape): the quick test in front
 * of name_is_protected for every name of a pass. */
struct protect_first {
        uint64_t bits[4];
};

void protect_first_init(struct protect_first *f, const char (*patterns)[256], unsigned n);
static inline bool protect_first_may_match(const struct protect_first *f, const char *name)
{
        unsigned char c = (unsigned char)name[0];

        return (f->bits[c >> 6] >> (c & 63)) & 1;
}

/* ---- inuse.c ---- */

/* A fixed-size set of (dev, ino) of everything open, mapped, or a cwd/root in any
 * process, filled by one /proc scan. Constant memory: when more distinct inodes on
 * the watched devices are seen than fit, it is marked full and everything then
 * counts as in use (safe side). */
#define INUSE_SET_SLOTS 16384 /* power of two; 256 KiB */
#define INUSE_MAX_DEVS  SWEEP_MAX_ROOTS

struct inuse_key {
        uint64_t dev, ino; /* dev as makedev(); 0/0 = empty slot */
};

struct inuse_set {
        struct inuse_key slots[INUSE_SET_SLOTS];
        unsigned count;
        bool full;
        bool scanned;
        dev_t devs[INUSE_MAX_DEVS]; /* only inodes on these devices are recorded */
        unsigned n_devs;
};

/* s must start zeroed (calloc): reset clears only slots that were filled. */
void inuse_set_reset(struct inuse_set *s);
void inuse_set_watch_dev(struct inuse_set *s, dev_t dev);
int inuse_set_add(struct inuse_set *s, dev_t dev, ino_t ino);
bool inuse_set_contains(const struct inuse_set *s, dev_t dev, ino_t ino);
/* Scan proc (normally "/proc") once: fd/, map_files/ (or maps), cwd, root of every
 * process. Returns the number of inodes recorded or -errno. */
int inuse_set_scan(struct inuse_set *s, const char *proc);

/* Files somebody holds a lease or delegation on (Samba oplocks, NFS delegations),
 * from /proc/locks at the start of a pass: we keep them without opening them, since
 * even a non-blocking open would make the kernel break the holder's lease. At most
 * LEASE_LIST_MAX are remembered; beyond that, opening decides (the open fails with
 * EWOULDBLOCK and the file is kept, but the holder is asked to give the lease up). */
#define LEASE_LIST_MAX 256

struct lease_list {
        struct inuse_key keys[LEASE_LIST_MAX];
        unsigned n;
};

/* Load the LEASE and DELEG lines of path (normally /proc/locks). Returns the count
 * or -errno (then the list is empty). */
int lease_list_load(struct lease_list *l, const char *path);
bool lease_list_contains(const struct lease_list *l, dev_t dev, ino_t ino);

/* The outcome of probing a regular file before unlinking it. */
enum probe_result {
        PROBE_FREE,     /* lease held on *ret_fd: nobody else has it open */
        PROBE_BUSY,     /* open / mapped / leased / flocked by someone: keep */
        PROBE_NO_LEASE, /* the filesystem or permissions refuse leases: ask /proc */
        PROBE_GONE,     /* replaced or removed meanwhile: skip */
};

/* Open dfd/name (a regular file whose statx is sx) without following symlinks,
 * without blocking and without breaking anyone's lease, take a write lease (or,
 * where leases are refused, an flock), then check on the open file that it is
 * still the same inode and a regular file. nodev: the filesystem is mounted nodev
 * (no device can be opened there), which allows a faster open. On PROBE_FREE or
 * PROBE_NO_LEASE, *ret_fd is the open file (lease held for PROBE_FREE) and *ret_sx
 * its statx taken after the lease. */
enum probe_result probe_regular(int dfd, const char *name, const struct statx *sx, bool nodev,
                                int *ret_fd, struct statx *ret_sx);

/* ---- walk.c ---- */

struct sweep_opts {
        int64_t now_ns; /* reference time (--now for tests, else the clock) */
        uint64_t age_min;
        unsigned max_depth;
        uint64_t max_deletes; /* per pass */
        uint64_t max_seconds; /* per pass (wall clock, monotonic) */
        bool dry_run;
        bool any_fs;
        bool verbose;
        const char (*protect)[256]; /* the config's list (its default: the built-in one) */
        unsigned n_protect;
        const char *proc; /* "/proc" */
};

struct sweep_stats {
        uint64_t files, symlinks, dirs; /* removed (or would be, with dry_run) */
        uint64_t in_use, locked, errors;
        bool truncated; /* a limit (depth, deletions, time) or a signal ended it early */
};

/* Everything one pass needs; set up by sweep_pass_init, reused across passes. */
struct sweep_pass {
        const struct sweep_opts *opts;
        struct inuse_set *inuse; /* heap, one per daemon */
        const struct lease_list *leases;
        struct sweep_stats stats;
        int64_t deadline_mono_ns;
        uint64_t deletes;
        volatile sig_atomic_t *stop;
        uint64_t root_mnt_id;
        dev_t root_dev;
        bool root_nodev;
        unsigned until_clock; /* entries left before must_stop reads the clock again */
        struct protect_first protect_first; /* of opts->protect, set by sweep_root */
        /* The names from the root down to the current entry, pointing into each
         * level's getdents buffer; the path is put together only for a message. */
        const char *root;
        const char *names[SWEEP_MAX_NAMES];
        unsigned n_names;
        char path[4096]; /* for messages only, never used for system calls */
};

/* Sweep one root directory (a path from the configuration or the command line).
 * Returns 0 (stats in p->stats, accumulated), or -errno when the root itself
 * cannot be used (not logged; -EMEDIUMTYPE: not a tmpfs and no any_fs). */
int sweep_root(struct sweep_pass *p, const char *root);

/* Monotonic clock in ns. */
int64_t now_mono_ns(void);
int64_t now_real_ns(void);

/* ---- ramwatch.c ---- */

#define RAMWATCH_WARN_PCT 80
#define RAMWATCH_CRIT_PCT 95

struct ramwatch_entry {
        char path[4096];
        int level; /* 0 below 80 %, 1 at/over 80 %, 2 at/over 95 % */
};

/* The level for used/cap. */
int ramwatch_level(uint64_t used, uint64_t cap);
/* Update the armed state: returns the new level when it rose (warn now), else -1. */
int ramwatch_update(int *level, int new_level);
/* Check one mount (a tmpfs path); warns once per crossing, naming the biggest
 * directories. Returns the level it rose to (1: 80 %, 2: 95 %) when it warned, 0
 * otherwise, or -errno. */
int ramwatch_check(struct ramwatch_entry *e, unsigned max_depth);
/* The store passed the mark: start `ephemeral checkpoint --root root --store store` (the binary
 * next to this one) without waiting; under systemd only say that the timer will.
 * The sweeper links libc only, so it runs the command rather than the engine. */
int ramwatch_trigger_checkpoint(const char *root, const char *store);
/* Collect finished checkpoint processes. */
void ramwatch_reap(void);

/* ---- setup.c ---- */

struct setup_opts {
        const char *root; /* "/" or a fake root for tests */
        const struct config *cfg;
        bool dry_run;
};

/* Mount a tmpfs on ~/.cache of each user (uid >= 1000) and bind the userkeep
 * names from persist. Returns the number of users that failed (logged), or -errno. */
int setup_user_caches(const struct setup_opts *o);
