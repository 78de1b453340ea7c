/* SPDX-License-Identifier: MIT */
/*
 * cmd-checkpoint: `ephemeral checkpoint [--root DIR] [--store DIR] [--dry-run]
 * [--if-due]` on the live system: records the persist overlays' upper dirs in the
 * journal (checkpoint/), so that a power cut loses at most what changed since.
 * The journal path and the interval are those `ephemeral mount` recorded in the
 * store's state (else the configuration). --if-due (timers, every minute) does
 * nothing unless the interval has passed since the last checkpoint or the store is
 * 80 % full.
 * Exit: 0 done (or nothing to do), 100 bad usage, 111 failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "cmd/commands.h"
#include "cmd/options.h"
#include "config/config.h"
#include "config/store.h"
#include "shared/log.h"
#include "shared/util.h"

static void usage(FILE *f)
{
        fprintf(f, "Usage: ephemeral checkpoint [--root DIR] [--store DIR] [--dry-run] [--if-due]\n"
                   "Record the changes of every persist overlay in the journal on the disk, so\n"
                   "that the next boot replays them if this one never shuts down cleanly.\n");
}

static const struct cmd_syntax syntax = {
    .name = "checkpoint",
    .short_opts = "h",
    .options = "rsndh",
    .usage = usage,
};

/* An older mount recorded no journal: take it from the configuration. */
static void journal_from_config(const char *root, struct state *s)
{
        static struct config cfg;
        char path[PATH_MAX];

        config_init(&cfg);
        snprintf(path, sizeof(path), "%s/etc/ephemeral.conf", streq(root, "/") ? "" : root);
        (void)config_parse_file(&cfg, path);
        (void)config_parse_cmdline_file(&cfg, "/proc/cmdline");
        snprintf(s->journal, sizeof(s->journal), "%s", cfg.journal);
        s->checkpoint_sec = cfg.checkpoint_sec;
}

/* journald's files are written in place: make them consistent first. */
static void sync_journald(void)
{
        static const char *const paths[] = {"/usr/bin/journalctl", "/bin/journalctl"};
        int status;
        pid_t pid;

        for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
                if (access(paths[i], X_OK) < 0)
                        continue;
                pid = fork();
                if (pid == 0) {
                        execl(paths[i], "journalctl", "--sync", (char *)NULL);
                        _exit(127);
                }
                if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
                    WEXITSTATUS(status) != 0)
                        log_warning("journalctl --sync failed; the system journal may be caught "
                                    "mid-write");
                return;
        }
}

static double now_sec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Due: the interval has passed since the last checkpoint, or the store is 80 %
 * full (the moment before writes start failing; the sweeper's RAM watch uses the
 * same mark). */
static bool due(struct journal *j, uint64_t interval, int storefd)
{
        struct statvfs sv;
        int64_t boot, last;

        if (fstatvfs(storefd, &sv) == 0 && sv.f_blocks > 0 &&
            (sv.f_blocks - sv.f_bfree) * 100 >= sv.f_blocks * 80)
                return true;
        if (journal_read_session(j, &boot, &last) < 0)
                return true;
        return (int64_t)time(NULL) - last + 5 >= (int64_t)interval; /* timers jitter */
}

static int run(const struct cmd_opts *o, struct state *s, int storefd)
{
        struct journal j = {.fd = -EBADF};
        struct checkpoint_stats st;
        double start = now_sec();
        int r;

        r = journal_open(o->root, s->journal, !o->dry_run, &j);
        if (r == -ENOENT) { /* dry run, no journal yet */
                printf("checkpoint: the journal %s does not exist yet; a checkpoint would create "
                       "it\n",
                       s->journal);
                return 0;
        }
        if (r < 0)
                return r;
        if (o->if_due && !due(&j, s->checkpoint_sec, storefd)) {
                journal_close(&j);
                return 0;
        }
        if (!o->dry_run && streq(o->root, "/"))
                sync_journald();
        r = checkpoint_write(&j, storefd, s, o->dry_run, &st);
        journal_close(&j);
        if (r < 0)
                return r;
        if (st.unchanged)
                printf("checkpoint: nothing changed since the last one\n");
        else if (o->dry_run)
                printf("checkpoint: would record %" PRIu64 " entries (%" PRIu64
                       " bytes of file data) in %s\n",
                       st.entries, st.bytes, s->journal);
        else
                printf("checkpoint: %" PRIu64 " entries (%" PRIu64 " copied, %" PRIu64
                       " appended, %" PRIu64 " unchanged), %" PRIu64 " bytes written, %.2f s\n",
                       st.entries, st.copied, st.appended, st.linked, st.bytes, now_sec() - start);
        return 0;
}

int cmd_checkpoint(int argc, char *argv[])
{
        struct cmd_opts o;
        _cleanup_free_ struct state *s = NULL;
        _cleanup_close_ int storefd = -EBADF, lockfd = -EBADF;
        int r = cmd_parse(&syntax, argc, argv, &o);

        if (r <= 0)
                return r == 0 ? EXIT_OK : EXIT_USAGE;
        /* Hooks and timers run it on systems booted with ephemeral=off too. */
        if (faccessat(AT_FDCWD, o.store, F_OK, 0) < 0 && errno == ENOENT) {
                printf("checkpoint: ephemeral is not active (no store at %s): nothing to record\n",
                       o.store);
                return EXIT_OK;
        }
        storefd = store_open(o.store, "checkpoint", &s);
        if (storefd < 0)
                return EXIT_SYSTEM;
        if (!s->journal[0])
                journal_from_config(o.root, s);
        if (s->checkpoint_sec == 0) {
                printf("checkpoint: checkpoints are off (ephemeral.checkpoint=0)\n");
                return EXIT_OK;
        }
        lockfd = checkpoint_lock_store(storefd, o.store);
        if (lockfd < 0)
                return EXIT_SYSTEM;
        /* The state again, under the lock: a flush may have run meanwhile. */
        r = state_read(storefd, s);
        if (r < 0) {
                log_errno(r, "cannot read the state %s/%s", o.store, STATE_FILE);
                return EXIT_SYSTEM;
        }
        if (!s->journal[0])
                journal_from_config(o.root, s);
        r = run(&o, s, storefd);
        return r < 0 ? EXIT_SYSTEM : EXIT_OK;
}
