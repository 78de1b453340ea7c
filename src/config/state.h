/* SPDX-License-Identifier: MIT */
/*
 * state: what `ephemeral mount` did, recorded in the store (file "state") so that
 * flush, status and diff need nothing else. Text format, one record per line,
 * fields separated by single spaces. In values, "-" stands for empty, and a space,
 * a control byte, a backslash (and a lone "-") are written as \xHH: fsroot comes
 * from the mount table and may hold any of them.
 *
 *   ephemeral-state 2
 *   store cap=<bytes>
 *   checkpoint interval=<seconds, 0: off> journal=<path under the root>
 *   dir path=/etc name=etc mode=persist|discard status=mounted|failed|flushed|discarded
 *       uuid=<fs UUID or -> fstype=<ext4> fsroot=<path of the dir inside its fs>
 *       dev=<major>:<minor> options=<overlay options>
 *   end dirs=<number of dir records>
 *
 * (a "dir" record is one line.) The end record proves the file whole: one cut at a
 * line boundary is refused. Version 1 (the previous one) had none and is still
 * read, without that proof. Store layout: <store>/state, <store>/<name>/upper,
 * <store>/<name>/work. Unknown keys are ignored on read (forward compatible).
 */
#pragma once

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"

#define STATE_FILE    "state"
#define STATE_VERSION 2

enum state_status {
        STATE_MOUNTED,   /* overlay mounted, upper holds changes */
        STATE_FAILED,    /* mount was attempted and failed; nothing to flush */
        STATE_FLUSHED,   /* merged down; upper emptied */
        STATE_DISCARDED, /* discard mode, dropped at shutdown */
};

struct state_dir {
        char path[PATH_MAX];     /* the overlaid dir, relative to the root: "/etc" */
        char name[NAME_MAX + 1]; /* its directory name in the store */
        enum dir_mode mode;
        enum state_status status;
        char uuid[64]; /* "" when the lower fs has none */
        char fstype[32];
        char fsroot[PATH_MAX]; /* where path lives inside its filesystem */
        dev_t dev;             /* st_dev of the lower dir at mount time */
        char options[1024];    /* overlay mount options used */
};

struct state {
        unsigned version;
        uint64_t cap;            /* store tmpfs size in bytes */
        char journal[PATH_MAX];  /* "": not recorded (ephemeral.journal's default applies) */
        uint64_t checkpoint_sec; /* ephemeral.checkpoint at mount time */
        struct state_dir dirs[CONFIG_MAX_DIRS];
        unsigned n_dirs;
};

/* Store directory name for an overlaid path: "/var/log" -> "var-log"; characters
 * other than [A-Za-z0-9._] and '/' are hex-escaped as "_xHH". */
int state_dir_name(const char *path, char *out, size_t outlen);

/* Read <storefd>/state into *ret (left untouched on failure). -ENOENT when there is
 * none; -EBADMSG on a malformed or cut file (a cut one is also logged). */
int state_read(int storefd, struct state *ret);
/* Write it atomically (temporary + rename + fsync). */
int state_write(int storefd, const struct state *s);

const char *dir_mode_to_string(enum dir_mode m);
int dir_mode_from_string(const char *s, enum dir_mode *ret);
const char *state_status_to_string(enum state_status s);
int state_status_from_string(const char *s, enum state_status *ret);
