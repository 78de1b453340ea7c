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

const char *merge_path(const struct merge_ctx *c, const char *relpath, const char *name)
{
        static char bufs[4][PATH_MAX * 2];
        static unsigned next;
        char *b = bufs[next++ % ARRAY_SIZE(bufs)];
        const char *label = c->o->label && !streq(c->o->label, "/") ? c->o->label : "";
        bool rel = relpath && relpath[0], nam = name && name[0];

        /* Not escaped here: every log line is (log.c). */
        snprintf(b, sizeof(bufs[0]), "%s%s%s%s%s", label, rel ? "/" : "", rel ? relpath : "",
                 nam ? "/" : "", nam ? name : "");
        if (b[0] == '\0')
                snprintf(b, sizeof(bufs[0]), "/");
        return b;
}

void merge_print_change(FILE *out, char kind, const char *label, const char *relpath)
{
        _cleanup_free_ char *full = NULL, *quoted = NULL;
        size_t len;

        /* The quoting of `ephemeral diff` (git's): plain unless a control character,
         * '"' or '\\' is in the path; then in quotes, C-escaped. */
        if (asprintf(&full, "%s/%s", label && !streq(label, "/") ? label : "", relpath) < 0 ||
            !(quoted = malloc(len = strlen(full) * 4 + 1))) {
                log_errno(ENOMEM, "out of memory");
                return;
        }
        if (str_escape(quoted, len, full, ESCAPE_QUOTE))
                fprintf(out, "%c \"%s\"\n", kind, quoted);
        else
                fprintf(out, "%c %s\n", kind, full);
}
