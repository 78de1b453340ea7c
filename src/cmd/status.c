/* SPDX-License-Identifier: MIT */
/*
 * status: `ephemeral status` — per overlay: dir, mode, state, mounted or not,
 * RAM held by its upper (sum of st_blocks * 512 over the upper tree, the upper
 * root included) and changed entries (every non-directory entry of the upper —
 * files, symlinks, whiteouts... — plus opaque directories; directories that only
 * carry changed entries are not counted; none once the dir is flushed: all of it
 * is on disk); then the store's size, use and cap.
 * It warns when the configuration file the boot read from the initramfs differs
 * from the root's /etc/ephemeral.conf (the image is stale: rebuild it).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <time.h>

#include "checkpoint/checkpoint.h"
#include "cmd/commands.h"
#include "cmd/options.h"
#include "cmd/replay.h"
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

/* The checkpoint side: the journal's current checkpoint and what this boot found
 * of the last shutdown (the line `ephemeral mount` kept in the store). */
struct ckpt_info {
        const char *journal;
        uint64_t interval;
        int have; /* 1: a current checkpoint, 0: none, <0: unreadable (-errno) */
        struct checkpoint_gen g;
        char outcome[1024];
};

static void checkpoint_info(const char *root, int storefd, const struct state *s,
                            struct ckpt_info *ci)
{
        static struct config cfg;
        struct journal j = {.fd = -EBADF};
        _cleanup_free_ char *line = NULL;
        size_t n = 0;

        ci->journal = s->journal;
        ci->interval = s->checkpoint_sec;
        if (!s->journal[0]) {
                config_init(&cfg);
                ci->journal = cfg.journal;
                ci->interval = cfg.checkpoint_sec;
        }
        ci->have = journal_open_unlocked(root, ci->journal, &j);
        if (ci->have == -ENOENT)
                ci->have = 0;
        else if (ci->have == 0) {
                ci->have = journal_peek(&j, &ci->g);
                journal_close(&j);
        }
        ci->outcome[0] = '\0';
        if (read_file_at(storefd, REPLAY_OUTCOME_FILE, sizeof(ci->outcome) - 1, &line, &n) == 0) {
                while (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                snprintf(ci->outcome, sizeof(ci->outcome), "%s", line);
        }
}

static void print_checkpoint_json(const struct ckpt_info *ci)
{
        printf(",\"checkpoint\":{\"interval_sec\":%" PRIu64 ",\"journal\":", ci->interval);
        json_string(stdout, ci->journal);
        if (ci->have > 0)
                printf(",\"last_time\":%" PRId64 ",\"last_age_sec\":%" PRId64
                       ",\"last_entries\":%" PRIu64 ",\"last_bytes\":%" PRIu64 "}",
                       ci->g.time, (int64_t)time(NULL) - ci->g.time, ci->g.entries, ci->g.bytes);
        else
                printf(",\"last_time\":null,\"last_age_sec\":null,\"last_entries\":null,"
                       "\"last_bytes\":null}");
        printf(",\"last_shutdown\":");
        if (ci->outcome[0])
                json_string(stdout, ci->outcome);
        else
                printf("null");
}

static void print_checkpoint_text(const struct ckpt_info *ci)
{
        char b[32];

        if (ci->interval == 0)
                printf("checkpoints: off\n");
        else if (ci->have > 0)
                printf("checkpoints: every %" PRIu64 " s to %s; last %" PRId64 " s ago (%" PRIu64
                       " entries, %s)\n",
                       ci->interval, ci->journal, (int64_t)time(NULL) - ci->g.time, ci->g.entries,
                       format_size(ci->g.bytes, b, sizeof(b)));
        else if (ci->have == 0)
                printf("checkpoints: every %" PRIu64 " s to %s; none yet this boot\n", ci->interval,
                       ci->journal);
        else
                printf("checkpoints: every %" PRIu64 " s to %s; unreadable (%s)\n", ci->interval,
                       ci->journal, strerror(-ci->have));
        if (ci->outcome[0])
                printf("last shutdown: %s\n", ci->outcome);
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: ephemeral status [--store DIR] [--root DIR] [--json]\n"
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

static const struct cmd_syntax syntax = {
    .name = "status",
    .short_opts = "s:r:jh",
    .options = "srjh",
    .usage = usage,
};

int cmd_status(int argc, char *argv[])
{
        _cleanup_free_ struct state *s = NULL;
        _cleanup_close_ int storefd = -EBADF;
        struct cmd_opts o;
        struct usage u[CONFIG_MAX_DIRS] = {};
        bool mounted[CONFIG_MAX_DIRS];
        bool json, failed = false, stale;
        uint64_t size = 0, used = 0;
        struct statfs sfs;
        static struct ckpt_info ci;
        char b1[32], b2[32];
        int r;

        r = cmd_parse(&syntax, argc, argv, &o);
        if (r <= 0)
                return r == 0 ? EXIT_OK : EXIT_USAGE;
        json = o.json;
        storefd = store_open(o.store, "status", &s);
        if (storefd < 0)
                return EXIT_SYSTEM;
        for (unsigned i = 0; i < s->n_dirs; i++) {
                _cleanup_close_ int fd = store_open_upper(storefd, &s->dirs[i]);
                mounted[i] = store_overlay_mounted(o.root, &s->dirs[i]);
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
                /* Whatever its upper still holds (an emptying that failed half-way)
                 * is on disk: no change any more. */
                if (s->dirs[i].status == STATE_FLUSHED)
                        u[i].changes = 0;
        }
        checkpoint_info(o.root, storefd, s, &ci);
        r = imageconf_stale(storefd, o.root);
        if (r < 0)
                log_warning_errno(r,
                                  "cannot compare the configuration this boot read from the "
                                  "initramfs with %s/etc/ephemeral.conf",
                                  streq(o.root, "/") ? "" : o.root);
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
                json_string(stdout, o.store);
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
                printf("]");
                print_checkpoint_json(&ci);
                printf("}\n");
        } else {
                printf("%-24s %-8s %-10s %-7s %9s %8s\n", "DIR", "MODE", "STATE", "MOUNTED", "RAM",
                       "CHANGES");
                for (unsigned i = 0; i < s->n_dirs; i++)
                        printf("%-24s %-8s %-10s %-7s %9s %8" PRIu64 "\n", s->dirs[i].path,
                               dir_mode_to_string(s->dirs[i].mode),
                               state_status_to_string(s->dirs[i].status), mounted[i] ? "yes" : "no",
                               format_size(u[i].bytes, b1, sizeof(b1)), u[i].changes);
                printf("store %s: %s used of %s", o.store, format_size(used, b1, sizeof(b1)),
                       format_size(size, b2, sizeof(b2)));
                if (size)
                        printf(" (%" PRIu64 "%%)", used * 100 / size);
                printf("\n");
                print_checkpoint_text(&ci);
        }
        return failed ? EXIT_SYSTEM : EXIT_OK;
}
