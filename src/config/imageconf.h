/* SPDX-License-Identifier: MIT */
/*
 * imageconf: which configuration file the running system booted with. An
 * initramfs carries its own copy of /etc/ephemeral.conf, taken when the image was
 * built; after an edit (or a kernel upgrade that did not rebuild the image) the
 * next boot still reads the old copy. `ephemeral mount` records the copy it read in
 * the store (file "image.conf"), and `ephemeral status` compares it with the
 * root's /etc/ephemeral.conf.
 */
#pragma once

#define IMAGECONF_FILE "image.conf"

/* Records in the store a copy of the config file at path (read from outside the
 * root: the image's own copy, or --config). A missing file, or path NULL, records
 * nothing (the next boot reads the root's file itself) and removes an older
 * record. Returns 0 or -errno (logged). */
int imageconf_record(int storefd, const char *path);

/* Compares the recorded copy with <root>/etc/ephemeral.conf. Returns 0 when
 * nothing was recorded or both are the same, 1 when they differ (a missing root
 * file differs), -errno when one cannot be read (not logged). */
int imageconf_stale(int storefd, const char *root);
