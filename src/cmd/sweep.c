/* SPDX-License-Identifier: MIT */
/*
 * sweep: `ephemeral sweep` / `ephemeral-sweep`. Parses options over the
 * configuration (file, then kernel command line, then flags), checks the roots,
 * and runs passes: once, or every --interval seconds until SIGTERM/SIGINT, which
 * end the current pass early and exit 0. `--setup` does the per-user ~/.cache
 * mounts instead (setup.c).
 */
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

#include "cmd/commands.h"
#include "config/keys.h"
#include "shared/log.h"
#include "sweep/sweep.h"
#include "shared/util.h"

#define DEFAULT_CONFIG  "/etc/ephemeral.conf"
#define DEFAULT_CMDLINE "/proc/cmdline"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static void usage(FILE *f, const char *prog)
{
        fprintf(
            f,
            "Usage: %s [OPTIONS] [DIR...]\n"
            "Deletes stale entries from tmpfs directories (default: ephemeral.sweep.dirs,\n"
            "else the ephemeral.tmpfs dirs) that no process has open, mapped or locked.\n\n"
            "  --once               one pass, then exit\n"
            "  --interval SECONDS   time between passes (default %s, ephemeral.sweep.interval)\n"
            "  --age MINUTES        entries untouched for this long are stale (default\n"
            "                       ephemeral.sweep.age: %s)\n"
            "  --config FILE        config file (default " DEFAULT_CONFIG ")\n"
            "  --cmdline FILE       kernel command line to read (default " DEFAULT_CMDLINE ")\n"
            "  --dry-run            log what would be removed, remove nothing\n"
            "  --any-fs             also sweep roots that are not tmpfs\n"
            "  --store DIR          store to watch for RAM use (default " SWEEP_DEFAULT_STORE ")\n"
            "  --max-depth N        levels to descend (default %d)\n"
            "  --max-deletions N    per pass (default %d)\n"
            "  --max-seconds N      per pass (default %d)\n"
            "  -v, --verbose        log every removal\n"
            "  --setup              mount the per-user ~/.cache tmpfs (ephemeral.usercache)\n"
            "  --root DIR           the root tree (default /): with --setup the one holding\n"
            "                       etc/passwd and homes; else where a checkpoint is recorded\n"
            "  --now EPOCH          (tests only) pretend the time is EPOCH seconds\n"
            "  --passes N           (tests only) exit after N passes\n",
            prog, config_key_find("sweep.interval")->def, config_key_find("sweep.age")->def,
            SWEEP_DEFAULT_MAX_DEPTH, SWEEP_DEFAULT_MAX_DELETES, SWEEP_DEFAULT_MAX_SECONDS);
}

enum {
        OPT_ONCE = 0x100,
        OPT_INTERVAL,
        OPT_AGE,
        OPT_CONFIG,
        OPT_CMDLINE,
        OPT_DRY_RUN,
        OPT_ANY_FS,
        OPT_STORE,
        OPT_MAX_DEPTH,
        OPT_MAX_DELETIONS,
        OPT_MAX_SECONDS,
        OPT_SETUP,
        OPT_ROOT,
        OPT_NOW,
        OPT_PASSES,
        OPT_HELP,
};

struct args {
        bool once, setup;
        const char *config, *cmdline, *store, *root;
        uint64_t interval, age, now, passes, max_depth, max_deletes, max_seconds;
        bool have_interval, have_age, have_now;
        struct sweep_opts opts;
};

static int parse_number(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *ret)
{
        uint64_t v;

        if (parse_u64(arg, &v) < 0 || v < min || v > max) {
                log_error("%s: invalid value '%s' (expected a whole number %llu..%llu)", opt, arg,
                          (unsigned long long)min, (unsigned long long)max);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int parse_args(int argc, char *argv[], struct args *a)
{
        static const struct option longopts[] = {
            {"once", no_argument, NULL, OPT_ONCE},
            {"interval", required_argument, NULL, OPT_INTERVAL},
            {"age", required_argument, NULL, OPT_AGE},
            {"config", required_argument, NULL, OPT_CONFIG},
            {"cmdline", required_argument, NULL, OPT_CMDLINE},
            {"dry-run", no_argument, NULL, OPT_DRY_RUN},
            {"any-fs", no_argument, NULL, OPT_ANY_FS},
            {"store", required_argument, NULL, OPT_STORE},
            {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
            {"max-deletions", required_argument, NULL, OPT_MAX_DELETIONS},
            {"max-seconds", required_argument, NULL, OPT_MAX_SECONDS},
            {"verbose", no_argument, NULL, 'v'},
            {"setup", no_argument, NULL, OPT_SETUP},
            {"root", required_argument, NULL, OPT_ROOT},
            {"now", required_argument, NULL, OPT_NOW},
            {"passes", required_argument, NULL, OPT_PASSES},
            {"help", no_argument, NULL, OPT_HELP},
            {},
        };
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "v", longopts, NULL)) >= 0) {
                switch (c) {
                case OPT_ONCE:
                        a->once = true;
                        break;
                case OPT_INTERVAL:
                        r = parse_number("--interval", optarg, 1, 86400 * 7, &a->interval);
                        a->have_interval = true;
                        break;
                case OPT_AGE:
                        r = parse_number("--age", optarg, 0, 525600 * 10, &a->age);
                        a->have_age = true;
                        break;
                case OPT_CONFIG:
                        a->config = optarg;
                        break;
                case OPT_CMDLINE:
                        a->cmdline = optarg;
                        break;
                case OPT_DRY_RUN:
                        a->opts.dry_run = true;
                        break;
                case OPT_ANY_FS:
                        a->opts.any_fs = true;
                        break;
                case OPT_STORE:
                        a->store = optarg;
                        break;
                case OPT_MAX_DEPTH:
                        r = parse_number("--max-depth", optarg, 1, SWEEP_MAX_DEPTH_LIMIT,
                                         &a->max_depth);
                        break;
                case OPT_MAX_DELETIONS:
                        r = parse_number("--max-deletions", optarg, 1, UINT32_MAX, &a->max_deletes);
                        break;
                case OPT_MAX_SECONDS:
                        r = parse_number("--max-seconds", optarg, 1, 86400, &a->max_seconds);
                        break;
                case 'v':
                        a->opts.verbose = true;
                        break;
                case OPT_SETUP:
                        a->setup = true;
                        break;
                case OPT_ROOT:
                        a->root = optarg;
                        break;
                case OPT_NOW:
                        r = parse_number("--now", optarg, 1, INT64_MAX / 1000000000LL, &a->now);
                        a->have_now = true;
                        break;
                case OPT_PASSES:
                        r = parse_number("--passes", optarg, 1, UINT32_MAX, &a->passes);
                        break;
                case OPT_HELP:
                        usage(stdout, argv[0]);
                        exit(EXIT_OK);
                default:
                        fprintf(stderr, "Try '%s --help'.\n", argv[0]);
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        for (int i = optind; i < argc; i++)
                if (argv[i][0] != '/') {
                        log_error("%s: directories to sweep must be absolute paths", argv[i]);
                        return -EINVAL;
                }
        return 0;
}

static int load_config(const struct args *a, struct config *cfg)
{
        const char *file = a->config ? a->config : DEFAULT_CONFIG;
        int r;

        /* The effective protect list is the config's: its default is the built-in
         * list (config/keys.c), and `sweep.protect=` replaces it (like every list key). */
        config_init(cfg);
        if (a->config && access(a->config, R_OK) < 0)
                return log_errno(errno, "cannot read config file %s", a->config);
        r = config_parse_file(cfg, file);
        if (r < 0)
                return log_errno(r, "cannot read config file %s", file);
        r = config_parse_cmdline_file(cfg, a->cmdline ? a->cmdline : DEFAULT_CMDLINE);
        if (r < 0)
                log_warning_errno(r, "cannot read the kernel command line");
        return 0;
}

static void install_signals(void)
{
        struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART */

        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        /* A lease break is announced with SIGIO, whose default is to terminate: we
         * notice breaks with F_GETLEASE instead (walk.c). */
        signal(SIGIO, SIG_IGN);
}

/* Sleep, waking at once for SIGTERM/SIGINT (blocked while we check the flag, then
 * atomically unblocked by ppoll, so a signal cannot slip in between). */
static void sleep_interruptible(uint64_t seconds)
{
        struct timespec ts = {.tv_sec = (time_t)seconds};
        sigset_t block, old;

        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        sigprocmask(SIG_BLOCK, &block, &old);
        if (!stop_requested)
                ppoll(NULL, 0, &ts, &old);
        sigprocmask(SIG_SETMASK, &old, NULL);
}

static void log_pass(const char *root, const struct sweep_stats *s, bool dry_run)
{
        enum log_level lvl =
            (s->files || s->symlinks || s->dirs || dry_run) ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;

        log_msg(lvl,
                "%s: %s %llu files, %llu symlinks, %llu directories; kept %llu in use, %llu "
                "locked%s",
                root, dry_run ? "would remove" : "removed", (unsigned long long)s->files,
                (unsigned long long)s->symlinks, (unsigned long long)s->dirs,
                (unsigned long long)s->in_use, (unsigned long long)s->locked,
                s->truncated ? " (pass cut short)" : "");
}

struct run {
        const char *roots[SWEEP_MAX_ROOTS];
        unsigned n_roots;
        int last_err[SWEEP_MAX_ROOTS]; /* a root's error is logged when it changes */
        bool explicit_roots;           /* given as arguments, not from the config */
        struct ramwatch_entry watch[SWEEP_MAX_ROOTS + 1 + CONFIG_MAX_DIRS];
        unsigned n_watch;
        bool store_watched; /* watch[0] is the store: passing 80 % records a checkpoint */
};

static void log_root_error(const struct run *run, unsigned i, int err)
{
        const char *root = run->roots[i];

        if (err == -ELOOP)
                log_error("%s: a symlink in the path; not sweeping it (the sweeper follows "
                          "none)",
                          root);
        else if (err != -EMEDIUMTYPE)
                log_errno(err, "cannot sweep %s", root);
        else if (run->explicit_roots)
                log_error("%s is not a tmpfs; refusing to sweep it (use --any-fs to allow)", root);
        else
                log_warning("%s (configured) is not a tmpfs; not sweeping it until it is "
                            "(use --any-fs to allow)",
                            root);
}

static int run_pass(const struct args *a, struct run *run, struct sweep_opts *opts,
                    struct inuse_set *inuse)
{
        static struct lease_list leases;
        int worst = 0;

        lease_list_load(&leases, "/proc/locks");
        opts->now_ns = a->have_now ? (int64_t)a->now * 1000000000LL : now_real_ns();
        inuse_set_reset(inuse);
        for (unsigned i = 0; i < run->n_roots; i++) {
                struct stat st;
                if (stat(run->roots[i], &st) == 0)
                        inuse_set_watch_dev(inuse, st.st_dev);
        }
        for (unsigned i = 0; i < run->n_roots && !stop_requested; i++) {
                struct sweep_pass p = {
                    .opts = opts,
                    .inuse = inuse,
                    .leases = &leases,
                    .stop = &stop_requested,
                    .deadline_mono_ns = now_mono_ns() + (int64_t)opts->max_seconds * 1000000000LL,
                };
                int r = sweep_root(&p, run->roots[i]);

                if (r < 0 && r != run->last_err[i])
                        log_root_error(run, i, r);
                run->last_err[i] = r < 0 ? r : 0;
                if (r == -EMEDIUMTYPE && run->explicit_roots)
                        worst = EXIT_USAGE;
                else if (r < 0 && worst == 0)
                        worst = EXIT_SYSTEM;
                else if (r >= 0)
                        log_pass(run->roots[i], &p.stats, opts->dry_run);
        }
        ramwatch_reap();
        for (unsigned i = 0; i < run->n_watch && !stop_requested; i++)
                if (ramwatch_check(&run->watch[i], 8) > 0 && i == 0 && run->store_watched)
                        (void)ramwatch_trigger_checkpoint(a->root ? a->root : "/",
                                                          run->watch[0].path);
        return worst;
}

static void add_watch(struct run *run, const char *path)
{
        for (unsigned i = 0; i < run->n_watch; i++)
                if (streq(run->watch[i].path, path))
                        return;
        if (run->n_watch < ARRAY_SIZE(run->watch))
                snprintf(run->watch[run->n_watch++].path, sizeof(run->watch[0].path), "%s", path);
}

int cmd_sweep(int argc, char *argv[])
{
        static struct config cfg;
        struct args a = {
            .opts =
                {
                    .max_depth = SWEEP_DEFAULT_MAX_DEPTH,
                    .proc = "/proc",
                },
        };
        _cleanup_free_ struct inuse_set *inuse = NULL;
        _cleanup_free_ struct run *run = NULL;
        struct stat st;
        int r;

        /* The sweeper runs for the whole uptime: keep its resident memory small. A
         * fixed mmap threshold (no dynamic raise) gives every big buffer (the config
         * parser's list contexts, ours) fresh zero pages that are returned on free,
         * instead of heap that calloc zeroes and that stays. */
        mallopt(M_MMAP_THRESHOLD, 64 * 1024);
        if (parse_args(argc, argv, &a) < 0)
                return EXIT_USAGE;
        if (load_config(&a, &cfg) < 0)
                return EXIT_USAGE;
        if (a.setup) {
                struct setup_opts so = {
                    .root = a.root ? a.root : "/", .cfg = &cfg, .dry_run = a.opts.dry_run};
                r = setup_user_caches(&so);
                return r < 0 ? (r == -EINVAL ? EXIT_USAGE : EXIT_SYSTEM)
                             : (r > 0 ? EXIT_SYSTEM : EXIT_OK);
        }

        a.opts.age_min = a.have_age ? a.age : cfg.sweep_age_min;
        a.opts.max_depth = a.max_depth ? (unsigned)a.max_depth : SWEEP_DEFAULT_MAX_DEPTH;
        a.opts.max_deletes = a.max_deletes ? a.max_deletes : SWEEP_DEFAULT_MAX_DELETES;
        a.opts.max_seconds = a.max_seconds ? a.max_seconds : SWEEP_DEFAULT_MAX_SECONDS;
        a.opts.protect = cfg.protect;
        a.opts.n_protect = cfg.n_protect;
        if (!a.have_interval)
                a.interval = cfg.sweep_interval_sec;
        /* calloc: both are big (run holds a path per watched mount, the in-use set
         * 256 KiB) and come as fresh zero pages, which cost RAM only once used. */
        run = calloc(1, sizeof(*run));
        inuse = calloc(1, sizeof(*inuse));
        if (!run || !inuse)
                return log_errno(ENOMEM, "cannot allocate"), EXIT_SYSTEM;

        if (optind < argc) {
                run->explicit_roots = true;
                for (int i = optind; i < argc && run->n_roots < SWEEP_MAX_ROOTS; i++)
                        run->roots[run->n_roots++] = argv[i];
                if (argc - optind > SWEEP_MAX_ROOTS) {
                        log_error("at most %d directories", SWEEP_MAX_ROOTS);
                        return EXIT_USAGE;
                }
        } else {
                if (!cfg.enabled) {
                        log_info("ephemeral is off (kernel command line): nothing to sweep");
                        return EXIT_OK;
                }
                if (cfg.sweep_dirs_set)
                        for (unsigned i = 0; i < cfg.n_sweep_dirs; i++)
                                run->roots[run->n_roots++] = cfg.sweep_dirs[i];
                else
                        for (unsigned i = 0; i < cfg.n_tmpfs; i++)
                                run->roots[run->n_roots++] = cfg.tmpfs[i].path;
        }
        if (run->n_roots == 0) {
                log_error("nothing to sweep: no directories given and none configured");
                return EXIT_USAGE;
        }
        const char *store = a.store ? a.store : SWEEP_DEFAULT_STORE;
        if (stat(store, &st) == 0 && S_ISDIR(st.st_mode)) {
                add_watch(run, store);
                run->store_watched = true;
        } else if (a.store)
                log_warning("store %s does not exist; not watching it", store);
        for (unsigned i = 0; i < run->n_roots; i++)
                add_watch(run, run->roots[i]);
        /* RAM is watched on every tmpfs ephemeral mounts, swept or not (/var/cache);
         * ramwatch_check skips what is not a tmpfs. */
        for (unsigned i = 0; !run->explicit_roots && i < cfg.n_tmpfs; i++)
                add_watch(run, cfg.tmpfs[i].path);

        install_signals();

        for (uint64_t pass = 1;; pass++) {
                r = run_pass(&a, run, &a.opts, inuse);
                /* A root refused as not tmpfs is a configuration error: stop at once. */
                if (r == EXIT_USAGE)
                        return EXIT_USAGE;
                if (stop_requested) {
                        log_info("stopping on signal");
                        return EXIT_OK;
                }
                if (a.once)
                        return r;
                if (a.passes && pass >= a.passes)
                        return EXIT_OK;
                sleep_interruptible(a.interval);
                if (stop_requested) {
                        log_info("stopping on signal");
                        return EXIT_OK;
                }
        }
}
