/* SPDX-License-Identifier: MIT */
/* store: what status and diff need to look at a mounted store from userspace. */
#pragma once

#include <stdbool.h>

#include "config/state.h"

/* Opens the store and reads its state into a newly allocated *ret (free() it);
 * logs a one-line reason on failure (for -ENOMEM: "<who>: <strerror>").
 * Returns the store fd or -errno (then *ret is untouched). */
int store_open(const char *store, const char *who, struct state **ret);

/* Opens <store>/<name>/upper (O_DIRECTORY) or returns -errno (not logged). */
int store_open_upper(int storefd, const struct state_dir *d);

/* Is d's overlay mounted on <root><d->path> right now? */
bool store_overlay_mounted(const char *root, const struct state_dir *d);

/* Opens the lower directory of d as the overlay sees it, under root. When the
 * overlay is mounted, the process first moves to a private mount namespace and
 * detaches the overlay there only, so the system's view is untouched. Returns an
 * O_DIRECTORY fd or -errno (logged). */
int store_open_lower(const char *root, const struct state_dir *d);

/* Take the store's lock (flock LOCK_EX on the store dir fd, held until the fd is
 * closed): one flush (or checkpoint) at a time changes the lowers and the state.
 * A held lock is waited for up to wait_sec seconds (0: fails at once). Returns 0, or
 * -EBUSY (logged: "<who>: the store <store> is in use by another flush or
 * checkpoint") or -errno (logged). flock locks belong to an open file description:
 * a process takes the store's lock once. */
int store_lock(int storefd, const char *store, const char *who, unsigned wait_sec);
/* How long flush waits for a checkpoint (or another flush) to let go of the store. */
#define STORE_LOCK_WAIT_FLUSH_SEC 15
