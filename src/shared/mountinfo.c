/* SPDX-License-Identifier: MIT */
/* mountinfo: parse /proc/self/mountinfo (see mountinfo.h). */
#include "shared/mountinfo.h"

#include <stdio.h>
#include <sys/sysmacros.h>

#include "shared/util.h"

/* Undo the kernel's octal escapes (\040 for a space and so on), in place. */
static void unescape(char *s)
{
        char *o = s;

        for (; *s; s++) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                    s[3] >= '0' && s[3] <= '7') {
                        *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
                        s += 3;
                } else {
                        *o++ = *s;
                }
        }
        *o = '\0';
}

static int copy(char *dst, size_t len, const char *src)
{
        if (!src || strlen(src) >= len)
                return -EBADMSG;
        memcpy(dst, src, strlen(src) + 1);
        unescape(dst);
        return 0;
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue" */
static int parse_line(char *line, struct mount_entry *e)
{
        char *save = NULL, *f[6], *w;
        unsigned ma, mi;

        for (int i = 0; i < 6; i++) {
                f[i] = strtok_r(i ? NULL : line, " \n", &save);
                if (!f[i])
                        return -EBADMSG;
        }
        while ((w = strtok_r(NULL, " \n", &save)) && !streq(w, "-"))
                ;
        if (!w)
                return -EBADMSG;
        e->id = atoi(f[0]);
        e->parent = atoi(f[1]);
        if (sscanf(f[2], "%u:%u", &ma, &mi) != 2)
                return -EBADMSG;
        e->dev = makedev(ma, mi);
        if (copy(e->root, sizeof(e->root), f[3]) < 0 ||
            copy(e->target, sizeof(e->target), f[4]) < 0 ||
            copy(e->fstype, sizeof(e->fstype), strtok_r(NULL, " \n", &save)) < 0 ||
            copy(e->source, sizeof(e->source), strtok_r(NULL, " \n", &save)) < 0)
                return -EBADMSG;
        w = strtok_r(NULL, " \n", &save);
        if (copy(e->super, sizeof(e->super), w ? w : "") < 0)
                e->super[0] = '\0';
        return 0;
}

int mountinfo_foreach(int (*fn)(const struct mount_entry *e, void *userdata), void *userdata)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        _cleanup_free_ struct mount_entry *e = NULL;
        size_t cap = 0;
        int r;

        e = malloc(sizeof(*e));
        if (!e)
                return -ENOMEM;
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        errno = 0;
        while (getline(&line, &cap, f) > 0) {
                if (parse_line(line, e) < 0)
                        continue;
                if ((r = fn(e, userdata)) != 0)
                        return r;
                errno = 0;
        }
        return errno ? -errno : 0;
}

struct find_args {
        const char *path;
        bool exact;
        ssize_t best;
        struct mount_entry *ret;
};

static int find_one(const struct mount_entry *e, void *userdata)
{
        struct find_args *a = userdata;
        ssize_t n;

        if (a->exact)
                n = streq(e->target, a->path) ? 1 : -1;
        else
                n = path_is_under(a->path, e->target) ? (ssize_t)strlen(e->target) : -1;
        /* ">=": of mounts stacked on one point, the later one is on top. */
        if (n >= 0 && n >= a->best) {
                a->best = n;
                *a->ret = *e;
        }
        return 0;
}

/* Scans the table; exact: mount point == path, else longest prefix. */
static int find(const char *path, bool exact, struct mount_entry *ret)
{
        struct find_args a = {.path = path, .exact = exact, .best = -1, .ret = ret};
        int r = mountinfo_foreach(find_one, &a);

        if (r < 0)
                return r;
        return a.best >= 0 ? 1 : 0;
}

int mountinfo_find_target(const char *target, struct mount_entry *ret)
{
        return find(target, true, ret);
}

int mountinfo_find_containing(const char *path, struct mount_entry *ret)
{
        return find(path, false, ret);
}

int mountinfo_fs_path(const struct mount_entry *e, const char *path, char *out, size_t outlen)
{
        const char *rest = streq(e->target, "/") ? path : path + strlen(e->target);
        int n;

        if (*rest == '\0')
                n = snprintf(out, outlen, "%s", e->root);
        else
                n = snprintf(out, outlen, "%s%s", streq(e->root, "/") ? "" : e->root, rest);
        return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int mount_option_value(const char *options, const char *key, char *out, size_t outlen)
{
        size_t klen = strlen(key);
        const char *p = options;

        while (p && *p) {
                const char *end = strchrnul(p, ',');
                if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
                        size_t n = (size_t)(end - p) - klen - 1;
                        if (n >= outlen)
                                return 0;
                        memcpy(out, p + klen + 1, n);
                        out[n] = '\0';
                        return 1;
                }
                p = *end ? end + 1 : NULL;
        }
        return 0;
}

bool mountinfo_is_overlay_of(const struct mount_entry *e, const char *name)
{
        char upper[PATH_MAX], suffix[NAME_MAX + 16];
        size_t n, m;

        if (!streq(e->fstype, "overlay") ||
            !mount_option_value(e->super, "upperdir", upper, sizeof(upper)))
                return false;
        snprintf(suffix, sizeof(suffix), "/%s/upper", name);
        n = strlen(upper);
        m = strlen(suffix);
        return n >= m && streq(upper + n - m, suffix);
}
