/* SPDX-License-Identifier: MIT */
/* modload: make sure a kernel filesystem is available, loading its module with
 * libkmod when it is neither built in nor loaded. */
#pragma once

/* Returns 0 when filesystem fstype (module of the same name) is available.
 * -ENOENT: no such module in modules_dir (NULL: the running kernel's); the caller
 * prints modload_missing_hint(). Other -errno: loading failed. Logs nothing. */
int modload_filesystem(const char *fstype, const char *modules_dir);

/* How to fix an initramfs that lacks a module: one line for the log. */
const char *modload_missing_hint(void);
