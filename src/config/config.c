/* SPDX-License-Identifier: MIT */
/*
 * config: applies one key's value to a struct config, driven by the table in
 * keys.c (see config.h). Every value is validated here; a bad entry is logged
 * once with its text and origin and skipped, the rest of the value still applies.
 * libc only.
 */
#include "config/config.h"

#include <inttypes.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "config/internal.h"
#include "config/keys.h"
#include "config/state.h"
#include "shared/log.h"
#include "shared/util.h"

/* Text of a bad entry, safe to print: at most 120 bytes, non-printables as \xHH. */
const char *config_shown(const char *s, size_t len, char *buf, size_t buflen)
{
        size_t o = 0;

        for (size_t i = 0; i < len && o + 5 < buflen; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (i >= 120) {
                        memcpy(buf + o, "...", 3);
                        o += 3;
                        break;
                }
                if (ch < 0x20 || ch == 0x7f || ch == '\\')
                        o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", ch);
                else
                        buf[o++] = (char)ch;
        }
        buf[o] = '\0';
        return buf;
}

void config_report_bad(struct config *c, const char *origin, const char *key, const char *text,
                       size_t len, const char *why)
{
        char buf[640];

        c->n_errors++;
        log_error("%s: ephemeral%s%s: '%s' skipped: %s", origin, *key ? "." : "", key,
                  config_shown(text, len, buf, sizeof(buf)), why);
}

/* One item of a comma-separated list, as a NUL-terminated copy. */
struct item {
        char text[CONFIG_MAX_VALUE];
        size_t len;
};

/* Splits value at commas; calls fn for each item (empty items included, so that
 * "a,,b" is reported). Stops early when fn returns < 0. */
static void for_each_item(const char *value, void (*fn)(struct item *it, void *userdata),
                          void *userdata)
{
        const char *p = value;
        struct item it;

        for (;;) {
                const char *end = strchrnul(p, ','), *q = p;
                size_t n;

                /* "dirs = /etc, /var/log" in the file: blanks around items are
                 * not part of them */
                while (q < end && (*q == ' ' || *q == '\t'))
                        q++;
                n = (size_t)(end - q);
                while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\t'))
                        n--;
                if (n >= sizeof(it.text))
                        n = sizeof(it.text) - 1;
                memcpy(it.text, q, n);
                it.text[n] = '\0';
                it.len = n;
                fn(&it, userdata);
                if (*end == '\0')
                        break;
                p = end + 1;
        }
}

/* Relationship of two normalised paths: equal, one nested in the other, or unrelated. */
const char *config_path_conflict(const char *a, const char *b)
{
        if (streq(a, b))
                return "listed twice";
        if (path_is_under(a, b) || path_is_under(b, a))
                return "nested in another entry of the same list";
        return NULL;
}

struct list_ctx {
        struct config *c;
        const char *origin, *key;
        enum config_key_type type;
        bool bad;
        /* parsed result, copied into the config only when the whole value was seen;
         * one key has one type, so they share the memory (zeroed for every key) */
        union {
                struct overlay_entry dirs[CONFIG_MAX_DIRS];
                struct tmpfs_entry tmpfs[CONFIG_MAX_DIRS];
                char paths[CONFIG_MAX_DIRS][PATH_MAX];
                char names[CONFIG_MAX_PATTERNS][256];
        };
        unsigned n;
};

static void bad_item(struct list_ctx *ctx, const struct item *it, const char *why)
{
        config_report_bad(ctx->c, ctx->origin, ctx->key, it->text, it->len, why);
        ctx->bad = true;
}

/* Validates one path item against the entries already accepted (paths of n
 * earlier entries are found through get). Returns 0 with the normalised path. */
static int check_list_path(struct list_ctx *ctx, const struct item *it, const char *path, char *out,
                           const char *(*get)(struct list_ctx *, unsigned))
{
        const char *why;

        if (config_check_path(path, out, PATH_MAX, &why) < 0)
                return bad_item(ctx, it, why), -EINVAL;
        for (unsigned i = 0; i < ctx->n; i++) {
                why = config_path_conflict(get(ctx, i), out);
                if (why)
                        return bad_item(ctx, it, why), -EINVAL;
        }
        if (ctx->n >= CONFIG_MAX_DIRS)
                return bad_item(ctx, it, "too many entries (the maximum is 16)"), -EINVAL;
        return 0;
}

static const char *get_dir(struct list_ctx *ctx, unsigned i)
{
        return ctx->dirs[i].path;
}

static const char *get_tmpfs(struct list_ctx *ctx, unsigned i)
{
        return ctx->tmpfs[i].path;
}

static const char *get_path(struct list_ctx *ctx, unsigned i)
{
        return ctx->paths[i];
}

/* The part of an item before its last ':' (or all of it), as a string. */
static const char *item_path(const struct item *it, const char *colon, char *buf)
{
        size_t n = colon ? (size_t)(colon - it->text) : it->len;

        memcpy(buf, it->text, n);
        buf[n] = '\0';
        return buf;
}

static void add_dir(struct item *it, void *userdata)
{
        struct list_ctx *ctx = userdata;
        const char *colon = strchr(it->text, ':');
        enum dir_mode mode = DIR_PERSIST;
        char path[CONFIG_MAX_VALUE], out[PATH_MAX];

        if (colon && dir_mode_from_string(colon + 1, &mode) < 0)
                return bad_item(ctx, it, "unknown mode (use :persist or :discard)");
        if (check_list_path(ctx, it, item_path(it, colon, path), out, get_dir) < 0)
                return;
        snprintf(ctx->dirs[ctx->n].path, PATH_MAX, "%s", out);
        ctx->dirs[ctx->n++].mode = mode;
}

static void add_tmpfs(struct item *it, void *userdata)
{
        struct list_ctx *ctx = userdata;
        const char *colon = strrchr(it->text, ':');
        char path[CONFIG_MAX_VALUE], out[PATH_MAX];
        struct size_spec size;
        int r;

        if (!colon)
                return bad_item(ctx, it, "missing size (write e.g. /tmp:1G or /tmp:10%)");
        r = parse_size(colon + 1, &size);
        if (r < 0)
                return bad_item(ctx, it,
                                r == -ERANGE ? "size too large"
                                             : "bad size (use e.g. 512M, 2G or 10%, not 0)");
        if (check_list_path(ctx, it, item_path(it, colon, path), out, get_tmpfs) < 0)
                return;
        snprintf(ctx->tmpfs[ctx->n].path, PATH_MAX, "%s", out);
        config_cap_size(&size, ctx->key, ctx->origin);
        ctx->tmpfs[ctx->n++].size = size;
}

static void add_path(struct item *it, void *userdata)
{
        struct list_ctx *ctx = userdata;
        char out[PATH_MAX];

        if (check_list_path(ctx, it, it->text, out, get_path) < 0)
                return;
        snprintf(ctx->paths[ctx->n++], PATH_MAX, "%s", out);
}

/* A file name (userkeep) or a glob matched against file names (sweep.protect). */
static void add_name(struct item *it, void *userdata)
{
        struct list_ctx *ctx = userdata;
        bool is_glob = ctx->type == KEY_GLOBS;

        if (it->len == 0)
                return bad_item(ctx, it, "empty entry");
        if (it->len >= sizeof(ctx->names[0]))
                return bad_item(ctx, it, "too long");
        if (!is_glob && dot_or_dotdot(it->text))
                return bad_item(ctx, it, "'.' and '..' are not names");
        for (size_t i = 0; i < it->len; i++) {
                unsigned char ch = (unsigned char)it->text[i];
                if (ch == '/' || ch < 0x20 || ch == 0x7f || ch == ' ')
                        return bad_item(ctx, it,
                                        "must be a single file name (no '/', "
                                        "space or control character)");
        }
        for (unsigned i = 0; i < ctx->n; i++)
                if (streq(ctx->names[i], it->text))
                        return bad_item(ctx, it, "listed twice");
        if (ctx->n >= CONFIG_MAX_PATTERNS)
                return bad_item(ctx, it, "too many entries (the maximum is 32)");
        memcpy(ctx->names[ctx->n++], it->text, it->len + 1);
}

void config_init(struct config *c)
{
        *c = (struct config){0};
        config_defaults(c);
}

void config_defaults(struct config *c)
{
        for (size_t i = 0; i < config_n_keys; i++)
                if (config_keys[i].def)
                        config_set(c, config_keys[i].name, config_keys[i].def,
                                   CONFIG_DEFAULT_ORIGIN);
}

static void *field(struct config *c, size_t off)
{
        return (char *)c + off;
}

static int set_switch(struct config *c, const struct config_key *k, const char *value,
                      const char *origin)
{
        static const char *const on[] = {"on", "1", "yes", "true"};
        static const char *const off[] = {"off", "0", "no", "false"};
        bool *dst = field(c, k->off);

        for (size_t i = 0; i < ARRAY_SIZE(on); i++)
                if (streq(value, on[i]))
                        return *dst = true, 0;
        for (size_t i = 0; i < ARRAY_SIZE(off); i++)
                if (streq(value, off[i]))
                        return *dst = false, 0;
        config_report_bad(c, origin, k->name, value, strlen(value), "expected on|off|1|0|yes|no");
        return -EINVAL;
}

static int set_size(struct config *c, const struct config_key *k, const char *value,
                    const char *origin)
{
        struct size_spec s, *dst = field(c, k->off);
        int r;

        if (k->type == KEY_SIZE_OFF &&
            (streq(value, "0") || streq(value, "off") || streq(value, "no"))) {
                *dst = (struct size_spec){0};
                return 0;
        }
        r = parse_size(value, &s);
        if (r < 0) {
                config_report_bad(c, origin, k->name, value, strlen(value),
                                  r == -ERANGE ? "size too large"
                                               : "bad size (use e.g. 512M, 2G or 25%; K/M/G/T "
                                                 "are powers of 1024, percentages 1-100)");
                return -EINVAL;
        }
        config_cap_size(&s, k->name, origin);
        *dst = s;
        return 0;
}

static int set_number(struct config *c, const struct config_key *k, const char *value,
                      const char *origin)
{
        uint64_t v;

        if (parse_u64(value, &v) < 0 || v == 0 || v > k->max) {
                char why[96];
                snprintf(why, sizeof(why), "expected a whole number from 1 to %" PRIu64, k->max);
                config_report_bad(c, origin, k->name, value, strlen(value), why);
                return -EINVAL;
        }
        *(uint64_t *)field(c, k->off) = v;
        return 0;
}

static int set_duration(struct config *c, const struct config_key *k, const char *value,
                        const char *origin)
{
        uint64_t v;
        int r = parse_duration(value, k->max, &v);

        if (r < 0) {
                char why[128];
                snprintf(why, sizeof(why),
                         r == -ERANGE ? "longer than the limit of %" PRIu64 " seconds"
                                      : "expected 0 or a whole number with s, min or h (at most "
                                        "%" PRIu64 " seconds)",
                         k->max);
                config_report_bad(c, origin, k->name, value, strlen(value), why);
                return -EINVAL;
        }
        *(uint64_t *)field(c, k->off) = v;
        return 0;
}

static int set_path(struct config *c, const struct config_key *k, const char *value,
                    const char *origin)
{
        char out[PATH_MAX];
        const char *why;

        if (config_check_path(value, out, sizeof(out), &why) < 0) {
                config_report_bad(c, origin, k->name, value, strlen(value), why);
                return -EINVAL;
        }
        snprintf(field(c, k->off), PATH_MAX, "%s", out);
        return 0;
}

/* List keys: the accepted entries replace the old value; "none" empties it. */
static int set_list(struct config *c, const struct config_key *k, const char *value,
                    const char *origin)
{
        _cleanup_free_ struct list_ctx *ctx = NULL;
        void (*fn)(struct item *, void *);
        const void *src;
        size_t elem;

        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return log_errno(ENOMEM, "config"), -EINVAL;
        switch (k->type) {
        case KEY_DIRS:
                fn = add_dir, src = ctx->dirs, elem = sizeof(ctx->dirs[0]);
                break;
        case KEY_TMPFS:
                fn = add_tmpfs, src = ctx->tmpfs, elem = sizeof(ctx->tmpfs[0]);
                break;
        case KEY_PATHS:
                fn = add_path, src = ctx->paths, elem = sizeof(ctx->paths[0]);
                break;
        default:
                fn = add_name, src = ctx->names, elem = sizeof(ctx->names[0]);
                break;
        }
        ctx->c = c;
        ctx->origin = origin;
        ctx->key = k->name;
        ctx->type = k->type;
        if (!streq(value, "none"))
                for_each_item(value, fn, ctx);
        memcpy(field(c, k->off), src, elem * ctx->n);
        *(unsigned *)field(c, k->off_n) = ctx->n;
        if (k->off_set && !streq(origin, CONFIG_DEFAULT_ORIGIN))
                *(bool *)field(c, k->off_set) = true;
        return ctx->bad ? -EINVAL : 0;
}

int config_set(struct config *c, const char *key, const char *value, const char *origin)
{
        const struct config_key *k;

        if (!key)
                key = "";
        if (!origin)
                origin = "?";
        k = config_key_find(key);
        if (!k) {
                char buf[640];
                log_warning("%s: unknown key 'ephemeral.%s' ignored", origin,
                            config_shown(key, strlen(key), buf, sizeof(buf)));
                return -ENOENT;
        }
        if (!value || *value == '\0') {
                config_report_bad(c, origin, key, "", 0,
                                  "empty value (lists take 'none' to be emptied)");
                return -EINVAL;
        }
        if (strlen(value) >= CONFIG_MAX_VALUE) {
                config_report_bad(c, origin, key, value, strlen(value), "value too long");
                return -EINVAL;
        }
        switch (k->type) {
        case KEY_SWITCH:
                return set_switch(c, k, value, origin);
        case KEY_SIZE:
        case KEY_SIZE_OFF:
                return set_size(c, k, value, origin);
        case KEY_NUMBER:
                return set_number(c, k, value, origin);
        case KEY_PATH:
                return set_path(c, k, value, origin);
        case KEY_DURATION:
                return set_duration(c, k, value, origin);
        case KEY_DIRS:
        case KEY_TMPFS:
        case KEY_PATHS:
        case KEY_NAMES:
        case KEY_GLOBS:
                return set_list(c, k, value, origin);
        }
        return -EINVAL;
}

static void drop_dir(struct config *c, unsigned i, const char *why, int err)
{
        c->n_errors++;
        if (err)
                log_errno(err, "ephemeral.dirs: '%s' skipped: %s", c->dirs[i].path, why);
        else
                log_error("ephemeral.dirs: '%s' skipped: %s", c->dirs[i].path, why);
        memmove(&c->dirs[i], &c->dirs[i + 1], sizeof(c->dirs[0]) * (c->n_dirs - i - 1));
        c->n_dirs--;
}

int config_check_dirs_in_root(struct config *c, int rootfd)
{
        struct stat st[CONFIG_MAX_DIRS];
        int removed = 0;

        for (unsigned i = 0; i < c->n_dirs;) {
                _cleanup_close_ int fd = -EBADF;
                const char *why = NULL;
                bool dup = false;

                fd = open_dir_beneath(rootfd, c->dirs[i].path + 1, O_RDONLY);
                if (fd == -ENOENT)
                        why = "does not exist in the root";
                else if (fd == -ELOOP || fd == -EXDEV)
                        why = "is a symlink or has a symlink component in the root";
                else if (fd == -ENOTDIR)
                        why = "is not a directory in the root";
                else if (fd < 0)
                        why = "cannot be opened in the root";
                else if (fstat(fd, &st[i]) < 0)
                        why = "cannot be examined";
                for (unsigned j = 0; !why && j < i; j++) {
                        dup = st[j].st_dev == st[i].st_dev && st[j].st_ino == st[i].st_ino;
                        if (dup || config_path_conflict(c->dirs[i].path, c->dirs[j].path))
                                why = dup ? "is the same directory as another entry"
                                          : "is nested in another entry";
                }
                if (why) {
                        drop_dir(c, i, why,
                                 fd < 0 && fd != -ENOENT && fd != -ELOOP && fd != -ENOTDIR &&
                                         fd != -EXDEV
                                     ? fd
                                     : 0);
                        removed++;
                        continue;
                }
                i++;
        }
        return removed;
}
