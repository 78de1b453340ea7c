/* SPDX-License-Identifier: MIT */
/* modload: make sure a kernel filesystem is available, loading its module with
 * libkmod when it is neither built in nor loaded. libkmod (and what it links:
 * libcrypto, libzstd, liblzma) is opened with dlopen only then: linked, it cost
 * every command about 4 ms of start-up. The image hooks install it. */
#pragma once

/* Returns 0 when filesystem fstype (module of the same name) is available.
 * -ENOENT: no such module in modules_dir (NULL: the running kernel's); the caller
 * prints modload_missing_hint(). -ELIBACC or -ELIBBAD: libkmod could not be opened
 * (modload_library_error() says why). Other -errno: loading failed. Logs nothing. */
int modload_filesystem(const char *fstype, const char *modules_dir);

/* dlerror()'s text for the last -ELIBACC or -ELIBBAD. */
const char *modload_library_error(void);

/* How to fix an initramfs that lacks a module: one line for the log. */
const char *modload_missing_hint(void);
