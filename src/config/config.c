/* SPDX-License-Identifier: MIT */
/*
 * config: built-in defaults < config file < kernel command line (see config.h).
 * Every value is validated here; a bad entry is logged once with its text and
 * origin and skipped, the rest of the value still applies. libc only.
 */
#include "config/config.h"

#include <ctype.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include "shared/log.h"
#include "config/state.h"
#include "shared/util.h"

#define CMDLINE_ORIGIN "kernel command line"

/*
 * The store cap defaults to 25 % of RAM. The store only holds what changed in /etc
 * and /var/log during one boot (usually a few MiB), and tmpfs allocates lazily, so
 * the cap is a ceiling, not a reservation. It exists to turn a runaway logger into
 * ENOSPC in /var/log instead of an OOM kill of the desktop; 25 % still leaves three
 * quarters of RAM to programs and to the /tmp tmpfs, where the 50-90 % defaults of
 * other tools let one full tmpfs push a small machine (a 1 GiB Pi) into the OOM
 * killer. 25 % of 1 GiB is 256 MiB, far more than a day of logs on such a machine.
 */
#define DEFAULT_STORE_PERCENT 25

static const char *const default_protect[] = {
    ".X11-unix",         ".ICE-unix", ".X*-lock", ".font-unix",
    "systemd-private-*", "krb5cc_*",  "tmux-*",   "ssh-*",
};

/* Text of a bad entry, safe to print: at most 120 bytes, non-printables as \xHH. */
static const char *shown(const char *s, size_t len, char *buf, size_t buflen)
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

static void report_bad(struct config *c, const char *origin, const char *key, const char *text,
                       size_t len, const char *why)
{
        char buf[640];

        c->n_errors++;
        log_error("%s: ephemeral%s%s: '%s' skipped: %s", origin, *key ? "." : "", key,
                  shown(text, len, buf, sizeof(buf)), why);
}

static bool path_char_ok(unsigned char ch)
{
        /* Bytes >= 0x80 are UTF-8. Everything that means something to the kernel
         * command line (space, quotes), to our lists (',' ':') or to overlayfs
         * options (',' ':' '\\' '=') is refused, as is anything unprintable. */
        return isalnum(ch) || ch >= 0x80 || strchr("/._-+@~%", ch);
}

int config_normalize_path(const char *path, char *out, unsigned outlen, const char **why)
{
        size_t o = 0, n;
        const char *p = path, *s;

        if (!path || *path == '\0')
                return *why = "empty path", -EINVAL;
        if (*path != '/')
                return *why = "not an absolute path", -EINVAL;
        while ((s = path_next_component(&p, &n))) {
                if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return *why = "contains a '.' or '..' component", -EINVAL;
                if (n > NAME_MAX)
                        return *why = "a component is longer than NAME_MAX", -EINVAL;
                if (o + 1 + n + 1 > outlen || o + 1 + n + 1 > PATH_MAX)
                        return *why = "path too long", -EINVAL;
                out[o++] = '/';
                memcpy(out + o, s, n);
                o += n;
        }
        if (o == 0) {
                if (outlen < 2)
                        return *why = "path too long", -EINVAL;
                out[o++] = '/';
        }
        out[o] = '\0';
        return 0;
}

int config_check_path(const char *path, char *out, unsigned outlen, const char **why)
{
        static const char *const forbidden[] = {"/proc", "/sys", "/dev", "/run", "/boot"};
        int r;

        if (path && *path == '/')
                for (const char *q = path; *q; q++)
                        if (!path_char_ok((unsigned char)*q))
                                return *why = "contains a character that is not allowed in a "
                                              "path here (space, quote, ',', ':', '=', '\\' or "
                                              "a control character)",
                                       -EINVAL;
        r = config_normalize_path(path, out, outlen, why);
        if (r < 0)
                return r;
        if (streq(out, "/"))
                return *why = "'/' itself cannot be used", -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(forbidden); i++)
                if (path_is_under(out, forbidden[i]))
                        return *why = "/proc, /sys, /dev, /run and /boot (and anything "
                                      "below them) cannot be used",
                               -EINVAL;
        return 0;
}

int parse_size(const char *s, struct size_spec *ret)
{
        uint64_t v = 0, mul = 1;
        bool percent = false;
        const char *p = s;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        switch (*p) {
        case '\0':
                break;
        case '%':
                percent = true;
                break;
        case 'k':
        case 'K':
                mul = 1ULL << 10;
                break;
        case 'm':
        case 'M':
                mul = 1ULL << 20;
                break;
        case 'g':
        case 'G':
                mul = 1ULL << 30;
                break;
        case 't':
        case 'T':
                mul = 1ULL << 40;
                break;
        default:
                return -EINVAL;
        }
        if (*p != '\0' && p[1] != '\0')
                return -EINVAL;
        if (v == 0)
                return -EINVAL;
        if (percent && v > 100)
                return -EINVAL;
        if (v > UINT64_MAX / mul)
                return -ERANGE;
        *ret = (struct size_spec){.value = v * mul, .percent = percent};
        return 0;
}

uint64_t size_to_bytes(const struct size_spec *s, uint64_t ram_bytes)
{
        if (!s->percent)
                return s->value;
        /* Divide first: ram * 100 could overflow on absurd inputs. */
        return ram_bytes / 100 * s->value + ram_bytes % 100 * s->value / 100;
}

char *format_size(uint64_t bytes, char *buf, unsigned len)
{
        static const char units[] = "KMGTPE";
        double v = (double)bytes;
        int u = -1;

        if (len == 0)
                return buf;
        if (bytes < 1024) {
                snprintf(buf, len, "%" PRIu64 "B", bytes);
                return buf;
        }
        while (v >= 1024.0 && u < 5) {
                v /= 1024.0;
                u++;
        }
        snprintf(buf, len, "%.1f%c", v, units[u]);
        return buf;
}

/* Declared in state.h; defined here because config parses them and the sweeper,
 * which links config but not state, must link. */
const char *dir_mode_to_string(enum dir_mode m)
{
        return m == DIR_DISCARD ? "discard" : "persist";
}

int dir_mode_from_string(const char *s, enum dir_mode *ret)
{
        if (streq(s, "persist"))
                *ret = DIR_PERSIST;
        else if (streq(s, "discard"))
                *ret = DIR_DISCARD;
        else
                return -EINVAL;
        return 0;
}

void config_init(struct config *c)
{
        *c = (struct config){.enabled = true};
        snprintf(c->dirs[0].path, sizeof(c->dirs[0].path), "/etc");
        snprintf(c->dirs[1].path, sizeof(c->dirs[1].path), "/var/log");
        c->n_dirs = 2;
        c->size = (struct size_spec){.value = DEFAULT_STORE_PERCENT, .percent = true};
        c->tmpfs[0] = (struct tmpfs_entry){.path = "/tmp", .size = {5ULL << 30, false}};
        c->tmpfs[1] = (struct tmpfs_entry){.path = "/var/tmp", .size = {1ULL << 30, false}};
        c->tmpfs[2] = (struct tmpfs_entry){.path = "/var/cache", .size = {2ULL << 30, false}};
        c->n_tmpfs = 3;
        snprintf(c->persist, sizeof(c->persist), "/var/lib/ephemeral/persist");
        c->sweep_interval_sec = 60;
        c->sweep_age_min = 10;
        for (size_t i = 0; i < ARRAY_SIZE(default_protect); i++)
                snprintf(c->protect[i], sizeof(c->protect[i]), "%s", default_protect[i]);
        c->n_protect = ARRAY_SIZE(default_protect);
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
static const char *path_conflict(const char *a, const char *b)
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
        bool bad;
        /* parsed result, copied into the config only when the whole value was seen */
        struct overlay_entry dirs[CONFIG_MAX_DIRS];
        struct tmpfs_entry tmpfs[CONFIG_MAX_DIRS];
        char paths[CONFIG_MAX_DIRS][PATH_MAX];
        char names[CONFIG_MAX_PATTERNS][256];
        unsigned n;
};

static void bad_item(struct list_ctx *ctx, const struct item *it, const char *why)
{
        report_bad(ctx->c, ctx->origin, ctx->key, it->text, it->len, why);
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
                why = path_conflict(get(ctx, i), out);
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
        bool is_glob = streq(ctx->key, "sweep.protect");

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

static int set_bool(struct config *c, const char *value, const char *origin)
{
        static const char *const on[] = {"on", "1", "yes", "true"};
        static const char *const off[] = {"off", "0", "no", "false"};

        for (size_t i = 0; i < ARRAY_SIZE(on); i++)
                if (streq(value, on[i]))
                        return c->enabled = true, 0;
        for (size_t i = 0; i < ARRAY_SIZE(off); i++)
                if (streq(value, off[i]))
                        return c->enabled = false, 0;
        report_bad(c, origin, "", value, strlen(value), "expected on|off|1|0|yes|no");
        return -EINVAL;
}

static int set_size(struct config *c, struct size_spec *dst, const char *key, const char *value,
                    const char *origin, bool zero_disables)
{
        struct size_spec s;
        int r;

        if (zero_disables && (streq(value, "0") || streq(value, "off") || streq(value, "no"))) {
                *dst = (struct size_spec){0};
                return 0;
        }
        r = parse_size(value, &s);
        if (r < 0) {
                report_bad(c, origin, key, value, strlen(value),
                           r == -ERANGE ? "size too large"
                                        : "bad size (use e.g. 512M, 2G or 25%; K/M/G/T are "
                                          "powers of 1024, percentages 1-100)");
                return -EINVAL;
        }
        *dst = s;
        return 0;
}

static int set_number(struct config *c, uint64_t *dst, const char *key, const char *value,
                      const char *origin, uint64_t max)
{
        uint64_t v;

        if (parse_u64(value, &v) < 0 || v == 0 || v > max) {
                char why[96];
                snprintf(why, sizeof(why), "expected a whole number from 1 to %" PRIu64, max);
                report_bad(c, origin, key, value, strlen(value), why);
                return -EINVAL;
        }
        *dst = v;
        return 0;
}

/* List keys: the accepted entries replace the old value; "none" empties it. */
static int set_list(struct config *c, const char *key, const char *value, const char *origin)
{
        _cleanup_free_ struct list_ctx *ctx = NULL;
        void (*fn)(struct item *, void *);

        if (streq(key, "dirs"))
                fn = add_dir;
        else if (streq(key, "tmpfs"))
                fn = add_tmpfs;
        else if (streq(key, "keep") || streq(key, "sweep.dirs"))
                fn = add_path;
        else
                fn = add_name;

        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return log_errno(ENOMEM, "config"), -EINVAL;
        ctx->c = c;
        ctx->origin = origin;
        ctx->key = key;
        if (!streq(value, "none"))
                for_each_item(value, fn, ctx);

        if (streq(key, "dirs")) {
                memcpy(c->dirs, ctx->dirs, sizeof(ctx->dirs[0]) * ctx->n);
                c->n_dirs = ctx->n;
        } else if (streq(key, "tmpfs")) {
                memcpy(c->tmpfs, ctx->tmpfs, sizeof(ctx->tmpfs[0]) * ctx->n);
                c->n_tmpfs = ctx->n;
        } else if (streq(key, "keep")) {
                memcpy(c->keep, ctx->paths, sizeof(ctx->paths[0]) * ctx->n);
                c->n_keep = ctx->n;
        } else if (streq(key, "sweep.dirs")) {
                memcpy(c->sweep_dirs, ctx->paths, sizeof(ctx->paths[0]) * ctx->n);
                c->n_sweep_dirs = ctx->n;
                c->sweep_dirs_set = true;
        } else if (streq(key, "userkeep")) {
                memcpy(c->userkeep, ctx->names, sizeof(ctx->names[0]) * ctx->n);
                c->n_userkeep = ctx->n;
        } else {
                memcpy(c->protect, ctx->names, sizeof(ctx->names[0]) * ctx->n);
                c->n_protect = ctx->n;
        }
        return ctx->bad ? -EINVAL : 0;
}

static bool known_key(const char *key)
{
        static const char *const keys[] = {
            "",          "dirs",    "tmpfs",     "keep",          "userkeep",       "size",
            "usercache", "persist", "sweep.age", "sweep.protect", "sweep.interval", "sweep.dirs"};

        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                if (streq(key, keys[i]))
                        return true;
        return false;
}

int config_set(struct config *c, const char *key, const char *value, const char *origin)
{
        static const char *const lists[] = {"dirs",     "tmpfs",         "keep",
                                            "userkeep", "sweep.protect", "sweep.dirs"};

        if (!key)
                key = "";
        if (!origin)
                origin = "?";
        if (!known_key(key)) {
                char buf[640];
                log_warning("%s: unknown key 'ephemeral.%s' ignored", origin,
                            shown(key, strlen(key), buf, sizeof(buf)));
                return -ENOENT;
        }
        if (!value || *value == '\0') {
                report_bad(c, origin, key, "", 0, "empty value (lists take 'none' to be emptied)");
                return -EINVAL;
        }
        if (strlen(value) >= CONFIG_MAX_VALUE) {
                report_bad(c, origin, key, value, strlen(value), "value too long");
                return -EINVAL;
        }
        if (*key == '\0')
                return set_bool(c, value, origin);
        for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
                if (streq(key, lists[i]))
                        return set_list(c, key, value, origin);
        if (streq(key, "size"))
                return set_size(c, &c->size, key, value, origin, false);
        if (streq(key, "usercache"))
                return set_size(c, &c->usercache, key, value, origin, true);
        if (streq(key, "sweep.interval"))
                return set_number(c, &c->sweep_interval_sec, key, value, origin, 86400);
        if (streq(key, "sweep.age"))
                return set_number(c, &c->sweep_age_min, key, value, origin, 525600);
        /* persist */
        {
                char out[PATH_MAX];
                const char *why;
                if (config_check_path(value, out, sizeof(out), &why) < 0) {
                        report_bad(c, origin, key, value, strlen(value), why);
                        return -EINVAL;
                }
                snprintf(c->persist, sizeof(c->persist), "%s", out);
                return 0;
        }
}

static char *strip(char *s)
{
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

/* Parses one line of the config file; returns -EINVAL when it was bad. */
static int parse_line(struct config *c, char *line, const char *origin)
{
        char *eq, *key, *value, *hash;
        size_t n;

        line = strip(line);
        if (*line == '\0' || *line == '#')
                return 0;
        /* A '#' after white space starts a comment ('#' inside a value stays). */
        for (hash = line; (hash = strchr(hash, '#')); hash++)
                if (hash[-1] == ' ' || hash[-1] == '\t') {
                        *hash = '\0';
                        break;
                }
        eq = strchr(line, '=');
        if (!eq) {
                char buf[640];
                c->n_errors++;
                log_error("%s: '%s' skipped: expected 'key = value'", origin,
                          shown(line, strlen(line), buf, sizeof(buf)));
                return -EINVAL;
        }
        *eq = '\0';
        key = strip(line);
        value = strip(eq + 1);
        n = strlen(value);
        if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
                value[n - 1] = '\0';
                value++;
        }
        if (startswith(key, "ephemeral."))
                key += strlen("ephemeral.");
        else if (streq(key, "ephemeral") || streq(key, "enabled"))
                key = "";
        else if (*key == '\0')
                key = "(empty key)";
        return config_set(c, key, value, origin) == -EINVAL ? -EINVAL : 0;
}

int config_parse_file(struct config *c, const char *path)
{
        _cleanup_free_ char *buf = NULL;
        char origin[PATH_MAX + 32];
        unsigned lineno = 0;
        int bad = 0, r;
        size_t len;
        char *p;

        r = read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_errno(r, "cannot read config file %s", path);
        /* A NUL byte would hide the rest of the file: make it a line break. */
        for (size_t i = 0; i < len; i++)
                if (buf[i] == '\0')
                        buf[i] = '\n';
        p = buf;
        if (startswith(p, "\xef\xbb\xbf"))
                p += 3; /* a UTF-8 byte order mark, written by some editors */
        for (; p && *p;) {
                char *nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                lineno++;
                snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
                if (strlen(p) >= CONFIG_MAX_VALUE) {
                        c->n_errors++;
                        log_error("%s: line too long, skipped", origin);
                        bad++;
                } else if (parse_line(c, p, origin) < 0) {
                        bad++;
                }
                p = nl ? nl + 1 : NULL;
        }
        return bad;
}

/* Applies one "ephemeral..." word of the command line. */
static int cmdline_word(struct config *c, char *word)
{
        char *eq, *key;

        if (streq(word, "ephemeral"))
                return c->enabled = true, 0;
        key = (char *)startswith(word, "ephemeral");
        if (!key || (*key != '=' && *key != '.'))
                return 0;
        eq = strchr(word, '=');
        if (*key == '=')
                return set_bool(c, key + 1, CMDLINE_ORIGIN) < 0 ? -EINVAL : 0;
        key++;
        if (!eq && !known_key(key))
                return config_set(c, key, "", CMDLINE_ORIGIN), 0; /* warns: unknown key */
        if (!eq) {
                report_bad(c, CMDLINE_ORIGIN, key, "", 0, "missing '=value'");
                return -EINVAL;
        }
        *eq = '\0';
        return config_set(c, key, eq + 1, CMDLINE_ORIGIN) == -EINVAL ? -EINVAL : 0;
}

int config_parse_cmdline(struct config *c, const char *cmdline)
{
        _cleanup_free_ char *word = NULL;
        const char *p = cmdline;
        int bad = 0;

        if (!cmdline)
                return 0;
        word = malloc(strlen(cmdline) + 1);
        if (!word)
                return log_errno(ENOMEM, "cannot parse the kernel command line");
        for (;;) {
                bool quoted = false;
                size_t n = 0;

                while (*p && isspace((unsigned char)*p))
                        p++;
                if (*p == '\0')
                        break;
                /* Like the kernel: double quotes group spaces and are removed. */
                for (; *p && (quoted || !isspace((unsigned char)*p)); p++) {
                        if (*p == '"')
                                quoted = !quoted;
                        else
                                word[n++] = *p;
                }
                word[n] = '\0';
                if (streq(word, "--"))
                        break; /* the rest belongs to init */
                if (cmdline_word(c, word) < 0)
                        bad++;
        }
        return bad;
}

int config_parse_cmdline_file(struct config *c, const char *path)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_errno(r, "cannot read the kernel command line from %s", path);
        /* An embedded NUL would hide the rest; treat it as a space. */
        for (size_t i = 0; i < len; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        return config_parse_cmdline(c, buf);
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
                        if (dup || path_conflict(c->dirs[i].path, c->dirs[j].path))
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

uint64_t config_ram_bytes(void)
{
        struct sysinfo si;
        long pages, page;

        if (sysinfo(&si) == 0 && si.totalram > 0)
                return (uint64_t)si.totalram * si.mem_unit;
        pages = sysconf(_SC_PHYS_PAGES);
        page = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0)
                return (uint64_t)pages * (uint64_t)page;
        /* Never 0: a percentage of 0 would become "size=0", which tmpfs reads as
         * unlimited. Assume a small machine so that the cap stays conservative. */
        return 512ULL << 20;
}
