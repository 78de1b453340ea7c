/* SPDX-License-Identifier: MIT */
/*
 * config: the settings of ephemeral and where they come from. Built-in defaults,
 * then the config file (`key = value`, '#' comments), then the kernel command line
 * (`ephemeral.key=value`, `ephemeral=off`). A later source replaces a key's whole
 * value. Bad entries are reported (with the offending text) and skipped; the rest
 * still applies. The keys, their defaults and documentation are one table
 * (keys.c); parse.c reads the two sources, values.c the lexical forms.
 * This layer is libc only (the sweeper links it) and calls only src/shared/.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define CONFIG_MAX_DIRS     16 /* overlays, tmpfs mounts, keep entries: each list */
#define CONFIG_MAX_PATTERNS 32 /* sweep.protect globs, userkeep names */
#define CONFIG_MAX_VALUE    4096

/* A size: absolute bytes or a percentage of RAM (tmpfs "size=" semantics). */
struct size_spec {
        uint64_t value; /* bytes, or percent (1..100) when percent is true */
        bool percent;
};

enum dir_mode {
        DIR_PERSIST, /* merged down at shutdown (default) */
        DIR_DISCARD, /* thrown away at shutdown */
};

struct overlay_entry {
        char path[PATH_MAX]; /* absolute, normalised, no trailing slash */
        enum dir_mode mode;
};

struct tmpfs_entry {
        char path[PATH_MAX];
        struct size_spec size;
};

struct config {
        bool enabled; /* ephemeral=off|0|no clears it */
        struct overlay_entry dirs[CONFIG_MAX_DIRS];
        unsigned n_dirs;
        struct size_spec size; /* store tmpfs cap */
        struct tmpfs_entry tmpfs[CONFIG_MAX_DIRS];
        unsigned n_tmpfs;
        char keep[CONFIG_MAX_DIRS][PATH_MAX]; /* caches bind-mounted from persist */
        unsigned n_keep;
        char persist[PATH_MAX];     /* persistent dir for keep/userkeep */
        struct size_spec usercache; /* value 0: no per-user ~/.cache tmpfs */
        char userkeep[CONFIG_MAX_PATTERNS][256];
        unsigned n_userkeep;
        char journal[PATH_MAX];  /* checkpoint journal on the disk (under the root) */
        uint64_t checkpoint_sec; /* checkpoint interval; 0: checkpoints off */
        /* sweeper */
        /* Dirs swept when none are given; unless set, the tmpfs dirs. */
        char sweep_dirs[CONFIG_MAX_DIRS][PATH_MAX];
        unsigned n_sweep_dirs;
        bool sweep_dirs_set;
        uint64_t sweep_interval_sec;
        uint64_t sweep_age_min;
        char protect[CONFIG_MAX_PATTERNS][256];
        unsigned n_protect;
        unsigned n_errors; /* bad entries seen while parsing (each already logged) */
};

/* Fill in the built-in defaults (the table's, parsed like any value). */
void config_init(struct config *c);
/* config_init for a config known to be all zero (calloc'd or static): the same
 * result without writing the whole struct (~280 KiB: page faults at boot). */
void config_defaults(struct config *c);

/* Apply one key (without the "ephemeral." prefix; "" is the on/off switch itself)
 * from origin (a file:line or "kernel command line", used in messages). Returns 0,
 * or -EINVAL when the value was bad and has been logged and skipped (partly or whole),
 * or -ENOENT for an unknown key (logged as a warning). Never crashes on any input. */
int config_set(struct config *c, const char *key, const char *value, const char *origin);

/* Parse a config file. A missing file is not an error (returns 0). Returns the number
 * of bad lines (>= 0, all logged) or -errno when the file exists but can't be read. */
int config_parse_file(struct config *c, const char *path);

/* Parse a kernel command line (quotes as the kernel handles them). Only
 * "ephemeral" and "ephemeral.*" words are looked at. Returns the number of bad words. */
int config_parse_cmdline(struct config *c, const char *cmdline);

/* Read path (e.g. /proc/cmdline) and parse it. Missing file: 0. */
int config_parse_cmdline_file(struct config *c, const char *path);

/* Parse "512M", "2G", "1024", "25%"; K/M/G/T suffixes are powers of 1024. 0 and
 * percentages outside 1..100 are -EINVAL, overflow -ERANGE. */
int parse_size(const char *s, struct size_spec *ret);

/* Parse a duration: "0", "90", "30s", "15min", "2h" (whole numbers; a bare number is
 * seconds). -EINVAL on anything else, -ERANGE beyond max seconds. */
int parse_duration(const char *s, uint64_t max, uint64_t *ret_sec);

/* Resolve a size_spec against the machine's RAM (bytes). */
uint64_t size_to_bytes(const struct size_spec *s, uint64_t ram_bytes);

/* RAM of this machine in bytes (sysinfo), the base of percentage sizes; never 0. */
uint64_t config_ram_bytes(void);
/* RAM + swap in bytes: no absolute size is allowed beyond it (it is capped there). */
uint64_t config_ram_swap_bytes(void);

/* Format a size for humans ("512.0M"). Returns buf. */
char *format_size(uint64_t bytes, char *buf, unsigned len);

/* Check a directory path lexically: absolute, no "." / ".." / empty components,
 * not "/", not under /proc /sys /dev /run /boot, only characters that survive
 * the cmdline and overlayfs option syntax. Writes the normalised form to out.
 * Returns 0 or -EINVAL with a static reason in *why. */
int config_check_path(const char *path, char *out, unsigned outlen, const char **why);

/* Only the lexical normalisation of config_check_path (absolute, no "." / ".." /
 * empty components, "/" stays "/"); any byte is allowed. For paths that are
 * looked up, never mounted (diff filters). Returns 0 or -EINVAL with *why. */
int config_normalize_path(const char *path, char *out, unsigned outlen, const char **why);

/* Check the overlay dirs against the root tree at rootfd: each must exist, be a real
 * directory (no symlink in any component), and no two may be equal or nested. Bad
 * ones are logged and removed from the list. Returns the number removed. */
int config_check_dirs_in_root(struct config *c, int rootfd);
