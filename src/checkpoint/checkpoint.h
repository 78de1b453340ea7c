/* SPDX-License-Identifier: MIT */
/*
 * checkpoint: bounded loss on a power cut. A checkpoint records the upper dirs of
 * every persist overlay, as they are right now, in a journal directory on the disk
 * (key ephemeral.journal, resolved under the root), in the upper-dir format itself
 * (whiteouts are char devices 0:0, opaque dirs carry trusted.overlay.opaque=y), so
 * that the next boot can replay it with the merge engine unchanged.
 *
 * Journal layout (docs/checkpoint.md has the argument):
 *   <journal>/current      symlink -> "gen-<N>": the checkpoint to replay
 *   <journal>/gen-<N>/     one generation: <name>/ per dir (upper format) + RECORD
 *   <journal>/session      "<boot id> <boot time> <last checkpoint run>" of this boot
 *   <journal>/last-shutdown "<time> <entries>": written by a complete flush
 * A generation is written completely, one syncfs, then made current with one
 * rename; unchanged files are hardlinks to the previous generation's copies and an
 * appended file shares the previous copy's inode and gets only its tail (the
 * RECORD keeps every file's size, times and content hash, so replaying an older
 * generation first cuts such a file back). Everything returns 0 or -errno and
 * logs its own failures once.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "config/state.h"

#define JOURNAL_CURRENT  "current"
#define JOURNAL_SESSION  "session"
#define JOURNAL_SHUTDOWN "last-shutdown"
#define JOURNAL_RECORD   "RECORD"

struct journal {
        int fd;              /* the journal dir, O_DIRECTORY, flock'ed exclusively */
        char path[PATH_MAX]; /* as configured ("/var/lib/ephemeral/journal"), for messages */
};

/* Open (with create: make) the journal at path below root and lock it (waits up
 * to a minute for another checkpoint, then -EWOULDBLOCK). Refuses a journal that is not on the root
 * filesystem (the initramfs replays it from there) or lies in an overlay or a tmpfs. -ENOENT (not
 * logged) when it does not exist and create is false. */
int journal_open(const char *root, const char *path, bool create, struct journal *j);
/* The same without the lock, for a look only (status). */
int journal_open_unlocked(const char *root, const char *path, struct journal *j);
void journal_close(struct journal *j);

struct checkpoint_stats {
        uint64_t gen;      /* the generation written (0: none) */
        uint64_t entries;  /* changes recorded (non-dirs and opaque dirs) */
        uint64_t copied;   /* files written whole */
        uint64_t appended; /* files of which only the appended tail was written */
        uint64_t linked;   /* files unchanged since the previous generation */
        uint64_t bytes;    /* file data written */
        bool unchanged;    /* nothing changed since the current one: nothing written */
};

/* Record the persist dirs of state (uppers below storefd) as a new current
 * generation. dry_run: tell what would be written, write nothing. */
int checkpoint_write(struct journal *j, int storefd, const struct state *s, bool dry_run,
                     struct checkpoint_stats *st);

/* A generation chosen for replay (verified; appended files cut back to it). */
struct checkpoint_gen {
        uint64_t gen;
        int64_t time;        /* when it was taken (unix time) */
        uint64_t entries;    /* changes in it */
        uint64_t bytes;      /* file data in it */
        bool no_user_xattrs; /* taken from a store without user.* xattrs: keep the disk's */
        unsigned n_dirs;
        char paths[CONFIG_MAX_DIRS][PATH_MAX];     /* "/etc" */
        char names[CONFIG_MAX_DIRS][NAME_MAX + 1]; /* its dir inside the generation */
        int fd;                                    /* the generation dir */
};

/* Find the generation to replay: the current one if it verifies, else the newest
 * older one that does (each rejected one is logged). With repair, files a later
 * generation appended to are cut back to this one first (needs a writable journal).
 * Returns 1 (g filled, g->fd open), 0 when there is no current checkpoint, -EBADMSG
 * when there is one but none verifies. */
int journal_pick(struct journal *j, bool repair, struct checkpoint_gen *g);

/* Read-only summary of the current generation (no content check): 1 and g filled
 * (g->fd closed), 0 when none, <0 on error. */
int journal_peek(struct journal *j, struct checkpoint_gen *g);

/* The checkpoint is merged (or superseded by a complete flush): remove current,
 * make that durable, drop every generation and the session record. */
int journal_retire(struct journal *j);

/* Records for the boot line: the flush notes a complete shutdown; a checkpoint
 * notes the running boot (and forgets the last shutdown, which is now old). */
int journal_note_shutdown(struct journal *j, uint64_t entries);
int journal_note_session(struct journal *j);
/* 0 and the values when the record exists, -ENOENT when not. */
int journal_read_shutdown(struct journal *j, int64_t *time, uint64_t *entries);
int journal_read_session(struct journal *j, int64_t *boot_time, int64_t *last_run);

/* Lock the store against a concurrent checkpoint or flush (flock on the store
 * dir; waits up to a minute, then -EWOULDBLOCK). Returns the fd holding the lock or -errno
 * (logged). */
int checkpoint_lock_store(int storefd, const char *store);

/* "2026-12-02 03:04:05 UTC" */
const char *checkpoint_format_time(int64_t t, char *buf, size_t len);
