/* SPDX-License-Identifier: MIT */
/*
 * flush: `ephemeral flush [--root DIR] [--store DIR] [--dry-run]`. Runs after
 * userspace stopped: for every persist dir recorded in the store's state, reach
 * its lower dir (shutdown/target.c), merge the upper into it (merge), mark the dir
 * flushed and empty the upper; discard dirs are marked discarded. Prints a summary
 * and appends it as one line to ephemeral.log in the lower /var/log.
 * Exit: 0 everything merged, 111 any failure, 100 bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "cmd/commands.h"
#include "cmd/options.h"
#include "cmd/flush-journal.h"
#include "shared/log.h"
#include "shutdown/target.h"
#include "shutdown/unreachable.h"
#include "merge/merge.h"
#include "config/state.h"
#include "config/store.h"
#include "shared/util.h"

#define OVERLAYFS_MAGIC 0x794c7630
#define LOG_DIR         "/var/log"
#define LOG_FILE        "ephemeral.log"

struct flush_run {
        const char *root, *store;
        bool dry_run;
        struct state state;
        int storefd;
        struct merge_target targets[CONFIG_MAX_DIRS];
        char summary[4096];
        size_t summary_len;
        bool failed;
        uint64_t merged; /* entries written or deleted */
        struct flush_journal journal;
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: ephemeral flush [--root DIR] [--store DIR] [--dry-run]\n"
                   "Merge every persist overlay's changes down to its lower directory.\n");
}

static double now_sec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void summary_add(struct flush_run *f, const char *fmt, ...) _printf_(2, 3);
static void summary_add(struct flush_run *f, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (f->summary_len >= sizeof(f->summary) - 1)
                return;
        va_start(ap, fmt);
        n = vsnprintf(f->summary + f->summary_len, sizeof(f->summary) - f->summary_len, fmt, ap);
        va_end(ap);
        if (n > 0)
                f->summary_len += (size_t)n;
        if (f->summary_len >= sizeof(f->summary))
                f->summary_len = sizeof(f->summary) - 1;
}

/* A still-mounted overlay of a discard dir goes away without a merge. */
static void discard_dir(struct flush_run *f, struct state_dir *d)
{
        if (f->dry_run) {
                printf("%s: discard mode, changes will be dropped\n", d->path);
                return;
        }
        (void)merge_target_detach(f->root, d);
        d->status = STATE_DISCARDED;
        summary_add(f, "%s%s: discarded", f->summary_len ? "; " : "", d->path);
}

static int flush_dir(struct flush_run *f, unsigned i)
{
        struct state_dir *d = &f->state.dirs[i];
        struct merge_stats st = {0};
        struct merge_opts o = {.label = d->path, .dry_run = f->dry_run, .out = stdout};
        _cleanup_close_ int upperfd = -EBADF;
        char upper[PATH_MAX];
        int r;

        snprintf(upper, sizeof(upper), "%s/upper", d->name);
        upperfd = open_dir_beneath(f->storefd, upper, O_RDONLY);
        if (upperfd < 0)
                return log_errno(upperfd, "%s: cannot open the upper dir %s/%s", d->path, f->store,
                                 upper);
        r = merge_target_open(f->root, d, f->store, f->dry_run, &f->targets[i]);
        if (r < 0)
                return r;
        o.pins = &f->targets[i].pins;
        r = merge_tree(upperfd, f->targets[i].fd, &o, &st);
        if (f->dry_run)
                return r;
        f->merged += st.written + st.deleted;
        summary_add(f, "%s%s: %" PRIu64 " written, %" PRIu64 " deleted, %" PRIu64 " bytes%s",
                    f->summary_len ? "; " : "", d->path, st.written, st.deleted, st.bytes,
                    r < 0 ? ", FAILED" : "");
        if (st.errors)
                summary_add(f, " (%" PRIu64 " errors)", st.errors);
        if (r < 0)
                return r;
        /* Recorded before the upper is emptied: a second run must not merge a
         * half-emptied upper, whose dirs would carry wrong times. */
        d->status = STATE_FLUSHED;
        r = state_write(f->storefd, &f->state);
        if (r < 0)
                return log_errno(r, "%s: merged, but cannot record it in %s/%s", d->path, f->store,
                                 STATE_FILE);
        /* Emptied, although the store is RAM about to go (a tenth of a small-file
         * flush): the empty upper, not only the state's mark, is what keeps a store
         * found again (a shutdown that did not happen) from bringing old versions
         * back; a mark in the state can be lost or overwritten. */
        return merge_empty_dir(upperfd, d->path);
}

/* The lower /var/log: inside a flushed dir if one holds it, else below the root
 * if that is a plain writable filesystem. */
static int open_log_dir(struct flush_run *f)
{
        _cleanup_close_ int rootfd = -EBADF, fd = -EBADF;
        struct statvfs sv;

        for (unsigned i = 0; i < f->state.n_dirs; i++) {
                const char *rest = startswith(LOG_DIR, f->state.dirs[i].path);
                if (f->targets[i].fd < 0 || !rest || (*rest != '/' && *rest != '\0'))
                        continue;
                return open_dir_beneath(f->targets[i].fd, rest, O_RDONLY);
        }
        rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return -errno;
        fd = open_dir_beneath(rootfd, LOG_DIR, O_RDONLY);
        if (fd < 0)
                return fd;
        if (fstatvfs(fd, &sv) < 0)
                return -errno;
        if (sv.f_flag & ST_RDONLY)
                return -EROFS;
        {
                struct statfs sf;
                if (fstatfs(fd, &sf) == 0 && sf.f_type == OVERLAYFS_MAGIC)
                        return -EREMOTE; /* an overlay: the line would be lost in RAM */
        }
        return take_fd(&fd);
}

static void append_log(struct flush_run *f, const char *line)
{
        _cleanup_close_ int dfd = open_log_dir(f), fd = -EBADF;
        struct stat st;
        int r;

        if (dfd < 0) {
                log_warning("summary not written to %s/%s: it is not on a reachable writable "
                            "filesystem (%s)",
                            LOG_DIR, LOG_FILE, strerror(-dfd));
                return;
        }
        /* O_NONBLOCK: a FIFO planted at that name must not hang the shutdown. */
        fd = openat(dfd, LOG_FILE,
                    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0640);
        if (fd < 0) {
                log_warning_errno(errno, "cannot open %s/%s", LOG_DIR, LOG_FILE);
                return;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                log_warning("summary not written: %s/%s is not a regular file", LOG_DIR, LOG_FILE);
                return;
        }
        r = write_all(fd, line, strlen(line));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0)
                log_warning_errno(r, "cannot write %s/%s", LOG_DIR, LOG_FILE);
}

static const struct cmd_syntax syntax = {
    .name = "flush",
    .short_opts = "h",
    .options = "rsnh",
    .usage = usage,
};

/* The store or its state is missing or unreadable (err). Fail closed: "nothing to
 * merge" (0) only when no overlay still keeps changes in the store. */
static int no_state(struct flush_run *f, int err)
{
        char why[PATH_MAX + 128];
        int n;

        snprintf(why, sizeof(why), "%s/%s: %s", f->store, STATE_FILE, strerror(-err));
        n = unreachable_overlays(f->store, why);
        if (n == 0 && err == -ENOENT) {
                printf("no state in %s and no overlay uses it: nothing to merge\n", f->store);
                return EXIT_OK;
        }
        if (n == 0)
                log_errno(err, "cannot read the state %s/%s", f->store, STATE_FILE);
        log_error("flush failed: nothing was merged");
        return EXIT_SYSTEM;
}

/* Deep trees hold a few descriptors per level: allow as many as permitted. */
static void raise_fd_limit(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int cmd_flush(int argc, char *argv[])
{
        static struct flush_run f;
        double start = now_sec();
        time_t wall = time(NULL);
        char line[sizeof(f.summary) + 128], stamp[32];
        struct cmd_opts o;
        int r;

        r = cmd_parse(&syntax, argc, argv, &o);
        if (r <= 0)
                return r == 0 ? EXIT_OK : EXIT_USAGE;
        f = (struct flush_run){.root = o.root,
                               .store = o.store,
                               .dry_run = o.dry_run,
                               .storefd = -1,
                               .journal = {.j = {.fd = -EBADF}, .t = {.fd = -EBADF}}};
        for (unsigned i = 0; i < ARRAY_SIZE(f.targets); i++)
                f.targets[i].fd = -EBADF;
        raise_fd_limit();

        f.storefd = open(f.store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (f.storefd < 0) {
                r = -errno;
                return no_state(&f, r);
        }
        /* Before the state is read: a second flush must not work from a state the
         * first is about to change. A checkpoint holding it finishes first. */
        if (!f.dry_run && store_lock(f.storefd, f.store, "flush", STORE_LOCK_WAIT_FLUSH_SEC) < 0) {
                close(f.storefd);
                return EXIT_SYSTEM;
        }
        r = state_read(f.storefd, &f.state);
        if (r < 0) {
                f.storefd = safe_close(f.storefd);
                return no_state(&f, r);
        }

        if (!f.dry_run) {
                flush_journal_begin(&f.journal, f.root, f.store, f.storefd, &f.state);
        }
        for (unsigned i = 0; i < f.state.n_dirs; i++) {
                struct state_dir *d = &f.state.dirs[i];
                if (d->status != STATE_MOUNTED) {
                        printf("%s: nothing to do (%s)\n", d->path,
                               state_status_to_string(d->status));
                        continue;
                }
                if (d->mode == DIR_DISCARD) {
                        discard_dir(&f, d);
                        continue;
                }
                if (flush_dir(&f, i) < 0)
                        f.failed = true;
        }
        if (!f.dry_run && state_write(f.storefd, &f.state) < 0)
                f.failed = true;

        if (!f.dry_run && f.summary_len) {
                struct tm tm;
                gmtime_r(&wall, &tm);
                strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
                snprintf(line, sizeof(line), "%s flush: %s; %.2f s%s\n", stamp, f.summary,
                         now_sec() - start, f.failed ? "; FAILED" : "");
                fputs(line + strlen(stamp) + 1, stdout);
                append_log(&f, line);
        }
        fflush(stdout);
        if (!f.dry_run)
                flush_journal_end(&f.journal, !f.failed && f.summary_len, f.merged);
        for (unsigned i = 0; i < f.state.n_dirs; i++)
                merge_target_close(&f.targets[i], f.state.dirs[i].path);
        close(f.storefd);
        if (f.failed)
                log_error("flush failed; the lower directories keep the old version of what "
                          "could not be merged");
        return f.failed ? EXIT_SYSTEM : EXIT_OK;
}
