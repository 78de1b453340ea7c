/* SPDX-License-Identifier: MIT */
/*
 * status: `ephemeral status` — per overlay: dir, mode, state, mounted or not,
 * RAM held by its upper (sum of st_blocks * 512 over the upper tree, the upper
 * root included) and changed entries (every non-directory entry of the upper —
 * files, symlinks, whiteouts... — plus opaque directories; directories that only
 * carry changed entries are not counted); then the store's size, use and cap.
 * It warns when the configuration file the boot read from the initramfs differs
 * from the root's /etc/ephemeral.conf (the image is stale: rebuild it).
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/statfs.h>

#include "cmd/commands.h"
#include "shared/json.h"
#include "shared/log.h"
#include "config/imageconf.h"
#include "config/store.h"
#include "merge/upper-walk.h"
#include "shared/util.h"

struct usage {
        uint64_t bytes;
        uint64_t changes;
};

static int count(const struct upper_entry *e, void *userdata)
{
        struct usage *u = userdata;

        u->bytes += (uint64_t)e->st->st_blocks * 512;
        if (e->kind != UPPER_DIR)
                u->changes++;
        return 0;
}

static void help(void)
{
        printf("Usage: ephemeral status [--store DIR] [--root DIR] [--json]\n"
               "\n"
               "Show each overlay (dir, mode, state, mounted, RAM of its changes, changed\n"
               "entries) and the store's use; warn when the initramfs's copy of\n"
               "/etc/ephemeral.conf differs from the root's (rebuild the image).\n"
               "  --store DIR  the store (default /run/initramfs/ephemeral)\n"
               "  --root DIR   where the overlaid dirs are seen (default /)\n"
               "  --json       machine-readable output\n"
               "Changed entries: files, symlinks, deletions and other non-directories in the\n"
               "upper, plus opaque (replaced) directories.\n");
}

int cmd_status(int argc, char *argv[])
{
        static const struct option options[] = {
            {"store", required_argument, NULL, 's'},
            {"root", required_argument, NULL, 'r'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        const char *store = "/run/initramfs/ephemeral", *root = "/";
        _cleanup_free_ struct state *s = NULL;
        _cleanup_close_ int storefd = -EBADF;
        struct usage u[CONFIG_MAX_DIRS] = {};
        bool mounted[CONFIG_MAX_DIRS];
        bool json = false, failed = false, stale;
        uint64_t size = 0, used = 0;
        struct statfs sfs;
        char b1[32], b2[32];
        int c, r;

        while ((c = getopt_long(argc, argv, "s:r:jh", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        store = optarg;
                        break;
                case 'r':
                        root = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                log_error("status: unexpected argument '%s'", argv[optind]);
                return EXIT_USAGE;
        }
        storefd = store_open(store, "status", &s);
        if (storefd < 0)
                return EXIT_SYSTEM;
        for (unsigned i = 0; i < s->n_dirs; i++) {
                _cleanup_close_ int fd = store_open_upper(storefd, &s->dirs[i]);
                mounted[i] = store_overlay_mounted(root, &s->dirs[i]);
                if (fd < 0)
                        continue; /* e.g. a failed mount: nothing in RAM */
                r = upper_walk(fd, count, &u[i]);
                if (r < 0) {
                        log_errno(r, "%s: cannot walk its upper dir", s->dirs[i].path);
                        failed = true;
                }
                struct stat st;
                if (fstat(fd, &st) == 0)
                        u[i].bytes += (uint64_t)st.st_blocks * 512;
        }
        r = imageconf_stale(storefd, root);
        if (r < 0)
                log_warning_errno(r,
                                  "cannot compare the configuration this boot read from the "
                                  "initramfs with %s/etc/ephemeral.conf",
                                  streq(root, "/") ? "" : root);
        stale = r > 0;
        if (stale)
                log_warning("the initramfs carries another /etc/ephemeral.conf than the "
                            "root's (changed since the image was built): the next boot still "
                            "reads the image's copy; rebuild the initramfs (update-initramfs "
                            "-u, dracut --force or mkinitcpio -P)");
        if (fstatfs(storefd, &sfs) == 0) {
                size = (uint64_t)sfs.f_blocks * sfs.f_bsize;
                used = (uint64_t)(sfs.f_blocks - sfs.f_bfree) * sfs.f_bsize;
        }

        if (json) {
                printf("{\"store\":{\"path\":");
                json_string(stdout, store);
                printf(",\"size_bytes\":%" PRIu64 ",\"used_bytes\":%" PRIu64
                       ",\"cap_bytes\":%" PRIu64 "},\"image_config_stale\":%s,\"overlays\":[",
                       size, used, s->cap, stale ? "true" : "false");
                for (unsigned i = 0; i < s->n_dirs; i++) {
                        printf("%s{\"dir\":", i ? "," : "");
                        json_string(stdout, s->dirs[i].path);
                        printf(",\"mode\":\"%s\",\"state\":\"%s\",\"mounted\":%s,"
                               "\"upper_bytes\":%" PRIu64 ",\"changes\":%" PRIu64 "}",
                               dir_mode_to_string(s->dirs[i].mode),
                               state_status_to_string(s->dirs[i].status),
                               mounted[i] ? "true" : "false", u[i].bytes, u[i].changes);
                }
                printf("]}\n");
        } else {
                printf("%-24s %-8s %-10s %-7s %9s %8s\n", "DIR", "MODE", "STATE", "MOUNTED", "RAM",
                       "CHANGES");
                for (unsigned i = 0; i < s->n_dirs; i++)
                        printf("%-24s %-8s %-10s %-7s %9s %8" PRIu64 "\n", s->dirs[i].path,
                               dir_mode_to_string(s->dirs[i].mode),
                               state_status_to_string(s->dirs[i].status), mounted[i] ? "yes" : "no",
                               format_size(u[i].bytes, b1, sizeof(b1)), u[i].changes);
                printf("store %s: %s used of %s", store, format_size(used, b1, sizeof(b1)),
                       format_size(size, b2, sizeof(b2)));
                if (size)
                        printf(" (%" PRIu64 "%%)", used * 100 / size);
                printf("\n");
        }
        return failed ? EXIT_SYSTEM : EXIT_OK;
}
