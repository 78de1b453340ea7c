/* SPDX-License-Identifier: MIT */
/*
 * unreachable: the fail-closed check of flush. When the store cannot be opened or
 * its state cannot be read, an overlay whose upper dir lay in the store may still be
 * mounted: its changes are then out of reach (an init's unmount script took the
 * store away while the overlay kept its own reference to the upper). That must
 * never look like "nothing to merge".
 */
#pragma once

/* Log one error line per overlay still mounted whose upper dir is below store or
 * below the boot's default store path; why is the reason the state is unreadable.
 * Returns how many there are (0: nothing was lost), or -errno when the mount table
 * cannot be read (logged: then nobody can tell). */
int unreachable_overlays(const char *store, const char *why);
