/* SPDX-License-Identifier: MIT */
/*
 * state: the store's state file (format in state.h). Writing is atomic; reading is
 * tolerant of unknown keys and records but strict about the values it uses, since
 * flush opens store directories by the recorded names: a malformed file is
 * -EBADMSG, never a crash and never a half-trusted record.
 */
#include "config/state.h"

#include <ctype.h>
#include <inttypes.h>
#include <sys/sysmacros.h>

#include "shared/log.h"
#include "shared/util.h"

#define STATE_MAX_SIZE (256 * 1024)

int state_dir_name(const char *path, char *out, size_t outlen)
{
        size_t o = 0;

        if (!path || *path != '/' || path[1] == '\0')
                return -EINVAL;
        for (const char *p = path + 1; *p; p++) {
                unsigned char ch = (unsigned char)*p;
                char buf[8];
                size_t n;

                if (ch == '/')
                        n = (size_t)snprintf(buf, sizeof(buf), "-");
                else if (isalnum(ch) || ch == '.' || ch == '_')
                        n = (size_t)snprintf(buf, sizeof(buf), "%c", ch);
                else
                        n = (size_t)snprintf(buf, sizeof(buf), "_x%02x", ch);
                if (o + n + 1 > outlen || o + n > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(out + o, buf, n);
                o += n;
        }
        out[o] = '\0';
        if (dot_or_dotdot(out))
                return -EINVAL;
        return 0;
}

static const char *const status_names[] = {
    [STATE_MOUNTED] = "mounted",
    [STATE_FAILED] = "failed",
    [STATE_FLUSHED] = "flushed",
    [STATE_DISCARDED] = "discarded",
};

const char *state_status_to_string(enum state_status s)
{
        return (unsigned)s < ARRAY_SIZE(status_names) ? status_names[s] : "failed";
}

int state_status_from_string(const char *s, enum state_status *ret)
{
        for (size_t i = 0; i < ARRAY_SIZE(status_names); i++)
                if (streq(s, status_names[i])) {
                        *ret = (enum state_status)i;
                        return 0;
                }
        return -EINVAL;
}

/* Appends " key=value" to buf: "-" for an empty value; a space, a control byte, a
 * backslash, and a value that is just "-" are written as \xHH (see state.h). */
static int append_value(char *buf, size_t cap, size_t *len, const char *key, const char *v)
{
        int n = snprintf(buf + *len, cap - *len, " %s=%s", key, *v ? "" : "-");

        if (n < 0 || (size_t)n >= cap - *len)
                return -E2BIG;
        *len += (size_t)n;
        for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
                bool esc = *p <= ' ' || *p == 0x7f || *p == '\\' || streq(v, "-");
                n = esc ? snprintf(buf + *len, cap - *len, "\\x%02x", *p)
                        : snprintf(buf + *len, cap - *len, "%c", *p);
                if (n < 0 || (size_t)n >= cap - *len)
                        return -E2BIG;
                *len += (size_t)n;
        }
        return 0;
}

int state_write(int storefd, const struct state *s)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = STATE_MAX_SIZE;
        int n;

        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        len += (size_t)snprintf(buf, cap, "ephemeral-state %d\nstore cap=%" PRIu64 "\n",
                                STATE_VERSION, s->cap);
        if (s->journal[0])
                len += (size_t)snprintf(buf + len, cap - len,
                                        "checkpoint interval=%" PRIu64 " journal=%s\n",
                                        s->checkpoint_sec, s->journal);
        for (unsigned i = 0; i < s->n_dirs && i < CONFIG_MAX_DIRS; i++) {
                const struct state_dir *d = &s->dirs[i];

                n = snprintf(buf + len, cap - len, "dir");
                if (n < 0 || (size_t)n >= cap - len)
                        return -E2BIG;
                len += (size_t)n;
                if (append_value(buf, cap, &len, "path", d->path) < 0 ||
                    append_value(buf, cap, &len, "name", d->name) < 0 ||
                    append_value(buf, cap, &len, "mode", dir_mode_to_string(d->mode)) < 0 ||
                    append_value(buf, cap, &len, "status", state_status_to_string(d->status)) < 0 ||
                    append_value(buf, cap, &len, "uuid", d->uuid) < 0 ||
                    append_value(buf, cap, &len, "fstype", d->fstype) < 0 ||
                    append_value(buf, cap, &len, "fsroot", d->fsroot) < 0)
                        return -E2BIG;
                n = snprintf(buf + len, cap - len, " dev=%u:%u", major(d->dev), minor(d->dev));
                if (n < 0 || (size_t)n >= cap - len)
                        return -E2BIG;
                len += (size_t)n;
                if (append_value(buf, cap, &len, "options", d->options) < 0 || len + 1 >= cap)
                        return -E2BIG;
                buf[len++] = '\n';
        }
        /* Proves the file whole: a file cut at a line boundary lacks it. */
        n = snprintf(buf + len, cap - len, "end dirs=%u\n", s->n_dirs);
        if (n < 0 || (size_t)n >= cap - len)
                return -E2BIG;
        len += (size_t)n;
        return write_file_atomic_at(storefd, STATE_FILE, buf, len, 0600);
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Copies a field value ("-" means empty, \xHH a byte); -EBADMSG when it does not
 * fit or holds a bad escape or a NUL. */
static int copy_value(char *dst, size_t dstlen, const char *v)
{
        size_t o = 0;

        if (streq(v, "-"))
                v = "";
        for (; *v; v++) {
                int c = (unsigned char)*v;
                if (c == '\\') {
                        int hi, lo;
                        if (v[1] != 'x' || (hi = hexval(v[2])) < 0 || (lo = hexval(v[3])) < 0)
                                return -EBADMSG;
                        c = hi * 16 + lo;
                        v += 3;
                        if (c == 0)
                                return -EBADMSG;
                }
                if (o + 1 >= dstlen)
                        return -EBADMSG;
                dst[o++] = (char)c;
        }
        if (dstlen == 0)
                return -EBADMSG;
        dst[o] = '\0';
        return 0;
}

static int parse_dev(const char *v, dev_t *ret)
{
        char buf[48];
        char *colon;
        uint64_t ma, mi;

        if (strlen(v) >= sizeof(buf))
                return -EBADMSG;
        memcpy(buf, v, strlen(v) + 1);
        colon = strchr(buf, ':');
        if (!colon)
                return -EBADMSG;
        *colon = '\0';
        if (parse_u64(buf, &ma) < 0 || parse_u64(colon + 1, &mi) < 0 || ma > 0xfffff ||
            mi > 0xfffff)
                return -EBADMSG;
        *ret = makedev((unsigned)ma, (unsigned)mi);
        return 0;
}

static int parse_dir_field(struct state_dir *d, const char *key, const char *v, unsigned *seen)
{
        if (streq(key, "path"))
                return *seen |= 1, copy_value(d->path, sizeof(d->path), v);
        if (streq(key, "name"))
                return *seen |= 2, copy_value(d->name, sizeof(d->name), v);
        if (streq(key, "mode"))
                return *seen |= 4, dir_mode_from_string(v, &d->mode) < 0 ? -EBADMSG : 0;
        if (streq(key, "status"))
                return *seen |= 8, state_status_from_string(v, &d->status) < 0 ? -EBADMSG : 0;
        if (streq(key, "uuid"))
                return copy_value(d->uuid, sizeof(d->uuid), v);
        if (streq(key, "fstype"))
                return copy_value(d->fstype, sizeof(d->fstype), v);
        if (streq(key, "fsroot"))
                return copy_value(d->fsroot, sizeof(d->fsroot), v);
        if (streq(key, "dev"))
                return parse_dev(v, &d->dev);
        if (streq(key, "options"))
                return copy_value(d->options, sizeof(d->options), v);
        return 0; /* unknown key: written by a newer version */
}

/* Validates what flush will trust: the path and the store name. */
static int check_dir(const struct state *s, const struct state_dir *d)
{
        char norm[PATH_MAX];
        const char *why;

        if (config_check_path(d->path, norm, sizeof(norm), &why) < 0 || !streq(norm, d->path))
                return -EBADMSG;
        if (d->name[0] == '\0' || strchr(d->name, '/') || dot_or_dotdot(d->name))
                return -EBADMSG;
        for (unsigned i = 0; i < s->n_dirs; i++)
                if (streq(s->dirs[i].path, d->path) || streq(s->dirs[i].name, d->name))
                        return -EBADMSG;
        return 0;
}

struct parse_ctx {
        bool header; /* the version line was read */
        bool ended;  /* the end record was read: nothing may follow */
};

/* "end dirs=N": the file is whole when N is the number of dir records before. */
static int parse_end(struct state *s, char *save, struct parse_ctx *p)
{
        char *word = strtok_r(NULL, " ", &save);
        const char *v = word ? startswith(word, "dirs=") : NULL;
        uint64_t n;

        if (s->version < 2 || !v || parse_u64(v, &n) < 0 || n != s->n_dirs ||
            strtok_r(NULL, " ", &save))
                return -EBADMSG;
        p->ended = true;
        return 0;
}

static int parse_line(struct state *s, char *line, struct parse_ctx *p)
{
        char *save = NULL, *word, *type;

        if (*line == '\0')
                return 0;
        if (p->ended)
                return -EBADMSG;
        if (!p->header) {
                uint64_t v;
                const char *rest = startswith(line, "ephemeral-state ");
                /* 1: the previous version, without the end record. */
                if (!rest || parse_u64(rest, &v) < 0 || v < 1 || v > STATE_VERSION)
                        return -EBADMSG;
                s->version = (unsigned)v;
                p->header = true;
                return 0;
        }
        type = strtok_r(line, " ", &save);
        if (!type)
                return 0;
        if (streq(type, "end"))
                return parse_end(s, save, p);
        if (streq(type, "store")) {
                while ((word = strtok_r(NULL, " ", &save))) {
                        const char *v = startswith(word, "cap=");
                        if (v && parse_u64(v, &s->cap) < 0)
                                return -EBADMSG;
                }
                return 0;
        }
        if (streq(type, "checkpoint")) {
                while ((word = strtok_r(NULL, " ", &save))) {
                        const char *v, *why;
                        if ((v = startswith(word, "interval=")) &&
                            parse_u64(v, &s->checkpoint_sec) < 0)
                                return -EBADMSG;
                        if ((v = startswith(word, "journal=")) &&
                            config_check_path(v, s->journal, sizeof(s->journal), &why) < 0)
                                return -EBADMSG;
                }
                return 0;
        }
        if (streq(type, "dir")) {
                struct state_dir d = {0};
                unsigned seen = 0;
                int r;

                if (s->n_dirs >= CONFIG_MAX_DIRS)
                        return -EBADMSG;
                while ((word = strtok_r(NULL, " ", &save))) {
                        char *eq = strchr(word, '=');
                        if (!eq)
                                return -EBADMSG;
                        *eq = '\0';
                        r = parse_dir_field(&d, word, eq + 1, &seen);
                        if (r < 0)
                                return r;
                }
                if (seen != 15)
                        return -EBADMSG;
                r = check_dir(s, &d);
                if (r < 0)
                        return r;
                s->dirs[s->n_dirs++] = d;
                return 0;
        }
        return 0; /* unknown record type: forward compatible */
}

int state_read(int storefd, struct state *ret)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ struct state *s = NULL;
        struct parse_ctx ctx = {0};
        size_t len;
        char *p;
        int r;

        r = read_file_at(storefd, STATE_FILE, STATE_MAX_SIZE, &buf, &len);
        if (r == -EFBIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        if (memchr(buf, '\0', len))
                return -EBADMSG;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        for (p = buf; p && *p;) {
                char *nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                r = parse_line(s, p, &ctx);
                if (r < 0)
                        return r;
                p = nl ? nl + 1 : NULL;
        }
        if (!ctx.header)
                return -EBADMSG;
        if (s->version >= 2 && !ctx.ended) {
                log_error("the state file ends without its end record (cut short); refusing "
                          "it");
                return -EBADMSG;
        }
        *ret = *s;
        return 0;
}
