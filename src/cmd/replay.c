/* SPDX-License-Identifier: MIT */
/*
 * cmd-replay: the boot side of checkpoints, run by `ephemeral mount` before any
 * overlay is mounted (the only moment a lower dir may change). If the journal
 * holds a current checkpoint, the last boot never completed its flush: the
 * checkpoint is verified (a damaged one is skipped for the previous one), merged
 * into each lower dir by the merge engine with the flush's guarantees (the root is
 * remounted read-write for it and read-only again), and retired. Then it says, in
 * one line, what happened to the last boot's changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "cmd/replay.h"
#include "merge/merge.h"
#include "shared/log.h"
#include "shared/util.h"
#include "shutdown/target.h"

/* A state_dir for merge_target_open: the dir as it is now under root. */
static int target_of(const char *root, const char *path, struct state_dir *d)
{
        char full[PATH_MAX];
        struct stat st;

        *d = (struct state_dir){0};
        snprintf(d->path, sizeof(d->path), "%s", path);
        if (snprintf(full, sizeof(full), "%s%s", streq(root, "/") ? "" : root, path) >=
            (int)sizeof(full))
                return -ENAMETOOLONG;
        if (stat(full, &st) < 0)
                return -errno;
        d->dev = st.st_dev;
        return 0;
}

int replay_target_open(const char *root, const char *path, const char *scratch,
                       struct merge_target *t)
{
        struct state_dir d;
        int r = target_of(root, path, &d);

        *t = (struct merge_target){.fd = -EBADF};
        if (r < 0)
                return r;
        return merge_target_open(root, &d, scratch, false, t);
}

static int replay_dir(const char *root, const struct checkpoint_gen *g, unsigned i,
                      const char *scratch, uint64_t *written)
{
        struct merge_opts o = {
            .label = g->paths[i], .out = stdout, .keep_user_xattrs = g->no_user_xattrs};
        struct merge_stats ms = {0};
        struct merge_target t = {.fd = -EBADF};
        _cleanup_close_ int upperfd = -EBADF;
        char norm[PATH_MAX];
        const char *why;
        int r;

        if (config_check_path(g->paths[i], norm, sizeof(norm), &why) < 0 ||
            !streq(norm, g->paths[i]))
                return log_errno(EINVAL, "checkpoint names a bad directory '%s': %s", g->paths[i],
                                 why ? why : "not normalised");
        upperfd = openat(g->fd, g->names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upperfd < 0)
                return log_errno(errno, "%s: the checkpoint's copy is missing", g->paths[i]);
        r = replay_target_open(root, g->paths[i], scratch, &t);
        if (r < 0)
                return log_errno(r, "%s: cannot reach the directory", g->paths[i]);
        r = merge_tree(upperfd, t.fd, &o, &ms);
        merge_target_close(&t, g->paths[i]);
        *written += ms.written + ms.deleted;
        return r;
}

static void say_lost(struct journal *j, char *line, size_t len)
{
        int64_t boot, last;
        char when[64];

        if (journal_read_session(j, &boot, &last) < 0) {
                snprintf(line, len,
                         "no checkpoint to replay: the changes of the last boot are lost");
                return;
        }
        snprintf(line, len,
                 "no checkpoint to replay: the changes of the last boot after %s are lost",
                 checkpoint_format_time(last, when, sizeof(when)));
}

static void say_history(struct journal *j, char *line, size_t len)
{
        int64_t t;
        uint64_t n;

        if (journal_read_shutdown(j, &t, &n) == 0)
                snprintf(line, len, "last shutdown merged %" PRIu64 " entries", n);
        else if (journal_read_session(j, &t, &t) == 0)
                say_lost(j, line, len);
}

static int replay(const char *root, struct journal *j, const char *scratch, char *line, size_t len)
{
        struct checkpoint_gen g = {.fd = -EBADF};
        struct merge_target jt = {.fd = -EBADF};
        uint64_t written = 0;
        unsigned failed = 0;
        char when[64];
        int r;

        /* The journal's filesystem read-write: replay cuts appended copies back. */
        r = replay_target_open(root, j->path, scratch, &jt);
        if (r < 0) {
                snprintf(line, len,
                         "last shutdown did not complete, and its checkpoint cannot be replayed "
                         "(the journal is not writable: %s); it is kept for the next boot",
                         strerror(-r));
                return r;
        }
        r = journal_pick(j, true, &g);
        if (r <= 0) {
                say_lost(j, line, len);
                merge_target_close(&jt, j->path);
                return r;
        }
        checkpoint_format_time(g.time, when, sizeof(when));
        log_notice("replaying the checkpoint of %s (%" PRIu64 " entries) from %s", when, g.entries,
                   j->path);
        for (unsigned i = 0; i < g.n_dirs; i++)
                if (replay_dir(root, &g, i, scratch, &written) < 0)
                        failed++;
        safe_close(g.fd);
        if (failed == 0)
                r = journal_retire(j);
        if (failed)
                snprintf(line, len,
                         "last shutdown did not complete: the replay of the checkpoint of %s "
                         "failed for %u of %u dirs (the old version of what failed stays; the "
                         "next boot tries again)",
                         when, failed, g.n_dirs);
        else
                snprintf(line, len,
                         "last shutdown did not complete: replayed the checkpoint of %s (%" PRIu64
                         " entries)",
                         when, g.entries);
        merge_target_close(&jt, j->path);
        return failed ? -EIO : r;
}

int replay_at_boot(const char *root, const char *journal, const char *scratch, bool enabled,
                   char *line, size_t len)
{
        struct journal j = {.fd = -EBADF};
        struct checkpoint_gen g;
        char when[64];
        int r;

        line[0] = '\0';
        r = journal_open(root, journal, false, &j);
        if (r == -ENOENT)
                return 0; /* checkpoints never ran here */
        if (r < 0)
                return r;
        r = journal_peek(&j, &g);
        if (r == 0) {
                say_history(&j, line, len);
        } else if (!enabled) {
                snprintf(line, len,
                         "a checkpoint is pending in %s; it is replayed at the next boot without "
                         "ephemeral=off",
                         journal);
        } else {
                if (r > 0)
                        log_info("found the checkpoint of %s in %s",
                                 checkpoint_format_time(g.time, when, sizeof(when)), journal);
                r = replay(root, &j, scratch, line, len);
        }
        journal_close(&j);
        return r < 0 ? r : 0;
}

void replay_record_line(int rootfd, int storefd, const char *line)
{
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        char buf[1200], stamp[32];
        time_t now = time(NULL);
        struct statvfs sv;
        struct stat st;
        struct tm tm;

        if (storefd >= 0) {
                snprintf(buf, sizeof(buf), "%s\n", line);
                (void)write_file_atomic_at(storefd, REPLAY_OUTCOME_FILE, buf, strlen(buf), 0644);
        }
        if (rootfd < 0)
                return;
        dfd = open_dir_beneath(rootfd, "var/log", O_RDONLY);
        if (dfd < 0 || fstatvfs(dfd, &sv) < 0 || (sv.f_flag & ST_RDONLY))
                return; /* read-only root, no overlay: the console has it */
        /* O_NONBLOCK: a FIFO at that name must not hang the boot. */
        fd = openat(dfd, "ephemeral.log",
                    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0640);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                log_info("boot line not written to /var/log/ephemeral.log");
                return;
        }
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(buf, sizeof(buf), "%s boot: %s\n", stamp, line);
        if (write_all(fd, buf, strlen(buf)) < 0)
                log_info("boot line not written to /var/log/ephemeral.log");
}
