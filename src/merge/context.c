/* SPDX-License-Identifier: MIT */
/*
 * context: the floor of the merge engine. The helpers that every phase calls
 * back into (recording an error, joining and opening relative paths, naming an
 * entry in a message, printing a change) live here, below merge.c (which orders
 * the phases), walk.c and apply.c, so that no file of the engine calls upward.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "merge/internal.h"
#include "shared/log.h"
#include "shared/util.h"

void merge_fail(struct merge_ctx *c, int r)
{
        c->st->errors++;
        if (c->first_error == 0)
                c->first_error = r < 0 ? r : -EIO;
}

char *merge_join(const char *relpath, const char *name)
{
        char *s;

        if (!relpath || relpath[0] == '\0')
                return strdup(name ? name : "");
        if (!name || name[0] == '\0')
                return strdup(relpath);
        if (asprintf(&s, "%s/%s", relpath, name) < 0)
                return NULL;
        return s;
}

int merge_open_rel(int rootfd, const char *rel, int flags)
{
        _cleanup_close_ int cur = -EBADF;
        int r = open_dir_beneath(rootfd, rel, flags);

        if (r != -ENAMETOOLONG)
                return r;
        /* Deeper than PATH_MAX: one component at a time, none followed. */
        cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return -errno;
        for (const char *p = rel; *p;) {
                const char *end = strchrnul(p, '/');
                char comp[NAME_MAX + 1];
                size_t n = (size_t)(end - p);
                int next;

                if (n == 0 || n > NAME_MAX)
                        return n ? -ENAMETOOLONG : -EINVAL;
                memcpy(comp, p, n);
                comp[n] = '\0';
                if (dot_or_dotdot(comp))
                        return -EINVAL;
                next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                safe_close(cur);
                cur = next;
                p = *end ? end + 1 : end;
        }
        r = openat(cur, ".", flags | O_DIRECTORY | O_CLOEXEC);
        return r < 0 ? -errno : r;
}

/* Escape bytes outside printable ASCII (and '\') as \xHH. */
static void escape_into(char *out, size_t len, size_t *pos, const char *s)
{
        for (; *s && *pos + 5 < len; s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch < 0x20 || ch >= 0x7f || ch == '\\')
                        *pos += (size_t)snprintf(out + *pos, len - *pos, "\\x%02x", ch);
                else
                        out[(*pos)++] = (char)ch;
        }
        out[*pos] = '\0';
}

static void format_path(char *out, size_t len, const char *label, const char *relpath,
                        const char *name)
{
        size_t pos = 0;

        out[0] = '\0';
        escape_into(out, len, &pos, label && !streq(label, "/") ? label : "");
        if (relpath && relpath[0]) {
                escape_into(out, len, &pos, "/");
                escape_into(out, len, &pos, relpath);
        }
        if (name && name[0]) {
                escape_into(out, len, &pos, "/");
                escape_into(out, len, &pos, name);
        }
        if (pos == 0)
                escape_into(out, len, &pos, "/");
}

const char *merge_path(const struct merge_ctx *c, const char *relpath, const char *name)
{
        static char bufs[4][PATH_MAX * 2];
        static unsigned next;
        char *b = bufs[next++ % ARRAY_SIZE(bufs)];

        format_path(b, sizeof(bufs[0]), c->o->label, relpath, name);
        return b;
}

void merge_print_change(FILE *out, char kind, const char *label, const char *relpath)
{
        _cleanup_free_ char *full = NULL;
        bool plain = true;

        /* The quoting of `ephemeral diff` (git's): plain unless a control character,
         * '"' or '\\' is in the path; then in quotes, C-escaped. */
        if (asprintf(&full, "%s/%s", label && !streq(label, "/") ? label : "", relpath) < 0) {
                log_errno(ENOMEM, "out of memory");
                return;
        }
        for (const unsigned char *p = (const unsigned char *)full; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
                        plain = false;
        fprintf(out, "%c ", kind);
        if (plain) {
                fprintf(out, "%s\n", full);
                return;
        }
        fputc('"', out);
        for (const unsigned char *p = (const unsigned char *)full; *p; p++) {
                if (*p == '\n')
                        fputs("\\n", out);
                else if (*p == '\t')
                        fputs("\\t", out);
                else if (*p == '"' || *p == '\\')
                        fprintf(out, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(out, "\\%03o", *p);
                else
                        fputc(*p, out);
        }
        fputs("\"\n", out);
}
