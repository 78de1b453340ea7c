/* SPDX-License-Identifier: MIT */
/* keys: the table of configuration keys (see keys.h). */
#include "config/keys.h"

#include "config/config.h"
#include "shared/util.h"

#define AT(field)      offsetof(struct config, field)
#define LIST(arr, cnt) .off = AT(arr), .off_n = AT(cnt)

/*
 * The store cap defaults to 25 % of RAM. The store only holds what changed in /etc
 * and /var/log during one boot (usually a few MiB), and tmpfs allocates lazily, so
 * the cap is a ceiling, not a reservation. It exists to turn a runaway logger into
 * ENOSPC in /var/log instead of an OOM kill of the desktop; 25 % still leaves three
 * quarters of RAM to programs and to the /tmp tmpfs, where the 50-90 % defaults of
 * other tools let one full tmpfs push a small machine (a 1 GiB Pi) into the OOM
 * killer. 25 % of 1 GiB is 256 MiB, far more than a day of logs on such a machine.
 */
const struct config_key config_keys[] = {
    {.name = "",
     .type = KEY_SWITCH,
     .def = "on",
     .off = AT(enabled),
     .doc = "The rescue switch: `ephemeral=off` on the kernel command line does nothing at "
            "all for one boot."},
    {.name = "dirs",
     .type = KEY_DIRS,
     .def = "/etc,/var/log",
     LIST(dirs, n_dirs),
     .doc = "Directories kept in RAM: an OverlayFS on each, its upper layer in the store. "
            "Suffix :persist (the default) merges the changes down to the disk at shutdown; "
            ":discard throws them away. At most 16; not /, /proc, /sys, /dev, /run, /boot, "
            "relative paths, symlinks, nested or duplicate entries."},
    {.name = "size",
     .type = KEY_SIZE,
     .def = "25%",
     .off = AT(size),
     .doc = "Cap of the store (the tmpfs holding the upper layers): absolute (512M, 2G; "
            "K/M/G/T are powers of 1024) or a percentage of RAM. tmpfs allocates lazily: "
            "a ceiling, not a reservation. A full store turns into ENOSPC in the overlaid "
            "dirs. A size beyond RAM + swap is capped there."},
    {.name = "tmpfs",
     .type = KEY_TMPFS,
     .def = "/tmp:5G,/var/tmp:1G,/var/cache:2G",
     LIST(tmpfs, n_tmpfs),
     .doc = "Plain tmpfs mounts for temporary data (nothing is merged back), PATH:SIZE each "
            "(nosuid,nodev; owner, mode and xattrs of the dir they cover). A dir that the "
            "root's fstab already mounts is left to fstab, with one notice."},
    {.name = "keep",
     .type = KEY_PATHS,
     .def = "none",
     LIST(keep, n_keep),
     .doc = "Caches inside a tmpfs dir that survive reboots: bind-mounted from `persist`, "
            "their contents migrated there the first time.",
     .example = "/var/cache/pacman,/var/cache/apt"},
    {.name = "persist",
     .type = KEY_PATH,
     .def = "/var/lib/ephemeral/persist",
     .off = AT(persist),
     .doc = "Where kept caches (`keep`, `userkeep`) live on the disk."},
    {.name = "usercache",
     .type = KEY_SIZE_OFF,
     .def = "0",
     .off = AT(usercache),
     .doc = "Size of a per-user tmpfs on ~/.cache (uid >= 1000); 0 = off.",
     .example = "2G"},
    {.name = "userkeep",
     .type = KEY_NAMES,
     .def = "none",
     LIST(userkeep, n_userkeep),
     .doc = "Names inside ~/.cache kept on the disk (under `persist`), per user.",
     .example = "paru,nvidia,mesa_shader_cache"},
    {.name = "journal",
     .type = KEY_PATH,
     .def = "/var/lib/ephemeral/journal",
     .off = AT(journal),
     .doc = "Where checkpoints of the `persist` dirs are written on the disk (under the "
            "root); it must not be inside an overlaid or tmpfs dir. The next boot replays "
            "the last one if the shutdown did not complete."},
    {.name = "checkpoint",
     .type = KEY_DURATION,
     .def = "15min",
     .max = 7 * 86400,
     .off = AT(checkpoint_sec),
     .doc = "Interval of the periodic checkpoints (s, min or h; a bare number is seconds; "
            "at most 7 days): what a power cut can lose at most. 0 turns checkpoints off "
            "(periodic, triggered and manual).",
     .example = "5min"},
    {.name = "sweep.dirs",
     .type = KEY_PATHS,
     .def_text = "the tmpfs dirs",
     LIST(sweep_dirs, n_sweep_dirs),
     .off_set = AT(sweep_dirs_set),
     .doc = "Directories the sweeper cleans; unset, every tmpfs dir. /var/cache is among "
            "them then (tmpfs is relatime, so a cache file read often but not held open can "
            "look ten minutes old): /tmp,/var/tmp keeps caches for the whole boot.",
     .example = "/tmp,/var/tmp"},
    {.name = "sweep.interval",
     .type = KEY_NUMBER,
     .def = "60",
     .max = 86400,
     .unit = "seconds",
     .off = AT(sweep_interval_sec),
     .doc = "Seconds between two passes of the sweeper."},
    {.name = "sweep.age",
     .type = KEY_NUMBER,
     .def = "10",
     .max = 525600,
     .unit = "minutes",
     .off = AT(sweep_age_min),
     .doc = "Minutes after which an unused file in a swept dir is deleted."},
    {.name = "sweep.protect",
     .type = KEY_GLOBS,
     .def = ".X11-unix,.ICE-unix,.X*-lock,.font-unix,systemd-private-*,krb5cc_*,tmux-*,ssh-*",
     LIST(protect, n_protect),
     .doc = "Names the sweeper never deletes, nor anything below them (fnmatch globs)."},
};

const size_t config_n_keys = ARRAY_SIZE(config_keys);

const struct config_key *config_key_find(const char *name)
{
        for (size_t i = 0; i < config_n_keys; i++)
                if (streq(config_keys[i].name, name))
                        return &config_keys[i];
        return NULL;
}

const char *config_key_syntax(const struct config_key *k)
{
        switch (k->type) {
        case KEY_SWITCH:
                return "on|off|1|0|yes|no|true|false";
        case KEY_DIRS:
                return "list of DIR[:persist|:discard], or none";
        case KEY_TMPFS:
                return "list of DIR:SIZE, or none";
        case KEY_PATHS:
                return "list of DIR, or none";
        case KEY_NAMES:
                return "list of file names, or none";
        case KEY_GLOBS:
                return "list of globs, or none";
        case KEY_SIZE:
                return "SIZE (512M, 2G, 25%)";
        case KEY_SIZE_OFF:
                return "SIZE (512M, 2G, 25%) or 0";
        case KEY_NUMBER:
                return "NUMBER";
        case KEY_PATH:
                return "DIR";
        case KEY_DURATION:
                return "DURATION (30s, 15min, 2h) or 0";
        }
        return "?";
}
