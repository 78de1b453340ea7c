/* SPDX-License-Identifier: MIT */
/*
 * diff: `ephemeral diff` — what flush would write, git-status style, one line
 * per entry of the upper trees, as merged paths:
 *   A  added: no lower counterpart (also everything inside an opaque directory)
 *   M  modified: replaces a lower entry (a directory: only when its owner or mode
 *      changed; directories that merely contain changes are not listed)
 *   D  deleted: a whiteout
 *   O  opaque: the directory replaces the lower one and all its contents
 * Paths with control characters, '"' or '\' are quoted and C-escaped like git does.
 * A flushed dir lists nothing: its upper is emptied, all of it is on disk.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cmd/commands.h"
#include "cmd/options.h"
#include "shared/log.h"
#include "config/store.h"
#include "merge/upper-walk.h"
#include "shared/util.h"

struct diff_ctx {
        const struct state_dir *dir;
        int lowerfd;
        const char *filters[64]; /* normalised merged paths; none: everything */
        unsigned n_filters;
        unsigned opaque_depth; /* > 0: inside an opaque or added directory */
};

static void print_path(const char *dir, const char *rel)
{
        bool plain = true;
        char full[PATH_MAX * 2];

        snprintf(full, sizeof(full), "%s/%s", dir, rel);
        for (const unsigned char *p = (const unsigned char *)full; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
                        plain = false;
        if (plain) {
                fputs(full, stdout);
                return;
        }
        putchar('"');
        for (const unsigned char *p = (const unsigned char *)full; *p; p++) {
                if (*p == '\n')
                        fputs("\\n", stdout);
                else if (*p == '\t')
                        fputs("\\t", stdout);
                else if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        printf("\\%03o", *p);
                else
                        putchar(*p);
        }
        putchar('"');
}

/* Does the merged path dir/rel pass the filters? */
static bool wanted(const struct diff_ctx *ctx, const char *rel)
{
        char full[PATH_MAX * 2];

        if (ctx->n_filters == 0)
                return true;
        snprintf(full, sizeof(full), "%s/%s", ctx->dir->path, rel);
        for (unsigned i = 0; i < ctx->n_filters; i++) {
                if (path_is_under(full, ctx->filters[i]))
                        return true;
        }
        return false;
}

/* stat of the lower counterpart of rel, never following a symlink. 0 or -errno. */
static int lower_stat(const struct diff_ctx *ctx, const char *rel, struct stat *st)
{
        _cleanup_close_ int parent = -EBADF;
        char dir[PATH_MAX];
        const char *slash = strrchr(rel, '/');

        if (slash) {
                memcpy(dir, rel, (size_t)(slash - rel));
                dir[slash - rel] = '\0';
                parent = open_dir_beneath(ctx->lowerfd, dir, O_PATH);
                if (parent < 0)
                        return parent;
        }
        if (fstatat(slash ? parent : ctx->lowerfd, slash ? slash + 1 : rel, st,
                    AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return 0;
}

static int visit(const struct upper_entry *e, void *userdata)
{
        struct diff_ctx *ctx = userdata;
        struct stat lst;
        char code = 0;
        bool has_lower = false;

        if (ctx->opaque_depth && e->depth <= ctx->opaque_depth)
                ctx->opaque_depth = 0; /* left the opaque or added directory */
        if (!ctx->opaque_depth) {
                int r = lower_stat(ctx, e->path, &lst);
                /* Only "not there" means added; any other error is no answer. */
                if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                        return r;
                has_lower = r == 0;
        }
        switch (e->kind) {
        case UPPER_WHITEOUT:
                code = 'D';
                break;
        case UPPER_OPAQUE_DIR:
                code = 'O';
                if (!ctx->opaque_depth)
                        ctx->opaque_depth = e->depth;
                break;
        case UPPER_DIR:
                if (!has_lower) {
                        code = 'A';
                        if (!ctx->opaque_depth)
                                ctx->opaque_depth = e->depth;
                } else if ((lst.st_mode & 07777) != (e->st->st_mode & 07777) ||
                           lst.st_uid != e->st->st_uid || lst.st_gid != e->st->st_gid ||
                           !S_ISDIR(lst.st_mode)) {
                        code = 'M';
                }
                break;
        case UPPER_OTHER:
                code = has_lower ? 'M' : 'A';
                break;
        }
        if (code && wanted(ctx, e->path)) {
                printf("%c ", code);
                print_path(ctx->dir->path, e->path);
                putchar('\n');
        }
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: ephemeral diff [--store DIR] [--root DIR] [DIR...]\n"
                   "\n"
                   "List what flush would write to disk: A added, M modified, D deleted,\n"
                   "O opaque (directory replaced with its contents). DIR limits the output to\n"
                   "paths at or below it; it must be an overlaid dir or lie inside one.\n"
                   "  --store DIR  the store (default /run/initramfs/ephemeral)\n"
                   "  --root DIR   where the overlaid dirs and their lower dirs are (default /)\n");
}

/* Index of the overlay holding filter f, or -1. */
static int dir_of(const struct state *s, const char *f)
{
        for (unsigned i = 0; i < s->n_dirs; i++) {
                if (path_is_under(f, s->dirs[i].path))
                        return (int)i;
        }
        return -1;
}

static const struct cmd_syntax syntax = {
    .name = "diff",
    .short_opts = "s:r:h",
    .options = "srh",
    .operands = true,
    .usage = usage,
};

int cmd_diff(int argc, char *argv[])
{
        struct cmd_opts o;
        static char norm[64][PATH_MAX];
        _cleanup_free_ struct state *s = NULL;
        _cleanup_close_ int storefd = -EBADF;
        int owner[64];
        unsigned n_filters = 0;
        bool failed = false;
        int r;

        r = cmd_parse(&syntax, argc, argv, &o);
        if (r <= 0)
                return r == 0 ? EXIT_OK : EXIT_USAGE;
        storefd = store_open(o.store, "diff", &s);
        if (storefd < 0)
                return EXIT_SYSTEM;
        for (int i = optind; i < argc; i++) {
                const char *why;

                if (n_filters >= ARRAY_SIZE(norm)) {
                        log_error("diff: too many DIR arguments (at most 64)");
                        return EXIT_USAGE;
                }
                if (config_normalize_path(argv[i], norm[n_filters], PATH_MAX, &why) < 0) {
                        log_error("diff: '%s': %s", argv[i], why);
                        return EXIT_USAGE;
                }
                owner[n_filters] = dir_of(s, norm[n_filters]);
                if (owner[n_filters] < 0) {
                        log_error("diff: '%s' is not an overlaid dir nor inside one", argv[i]);
                        return EXIT_USAGE;
                }
                n_filters++;
        }
        for (unsigned i = 0; i < s->n_dirs; i++) {
                _cleanup_close_ int upperfd = -EBADF, lowerfd = -EBADF;
                struct diff_ctx ctx = {.dir = &s->dirs[i]};

                for (unsigned f = 0; f < n_filters; f++)
                        if (owner[f] == (int)i)
                                ctx.filters[ctx.n_filters++] = norm[f];
                if (n_filters && ctx.n_filters == 0)
                        continue;
                if (s->dirs[i].status == STATE_FLUSHED)
                        continue; /* on disk already: flush would write nothing */
                upperfd = store_open_upper(storefd, &s->dirs[i]);
                if (upperfd < 0)
                        continue; /* a failed mount or a flushed dir: no changes */
                lowerfd = store_open_lower(o.root, &s->dirs[i]);
                if (lowerfd < 0) {
                        failed = true;
                        continue;
                }
                ctx.lowerfd = lowerfd;
                r = upper_walk(upperfd, visit, &ctx);
                if (r < 0) {
                        log_errno(r, "%s: cannot walk its upper dir", s->dirs[i].path);
                        failed = true;
                }
        }
        return failed ? EXIT_SYSTEM : EXIT_OK;
}
