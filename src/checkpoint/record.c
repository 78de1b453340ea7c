/* SPDX-License-Identifier: MIT */
/*
 * checkpoint-record: the RECORD of a generation, its completion record. Text, one
 * record per line, fields separated by single spaces; a path is written with
 * every byte outside '!'..'~' and every '\' as \xHH.
 *
 *   ephemeral-checkpoint 1
 *   gen <N>
 *   time <unix seconds>
 *   boot <boot id>
 *   dir <name> <path>
 *   store no-user-xattrs       (only when the store could not hold them)
 *   f <rel> <ino> <ctime> <size> <mtime> <atime> <hash>      (one per regular file)
 *   total entries=<n> names=<n> bytes=<n> sig=<hex>
 *   end <hash of every byte before this line>
 *
 * Times are <sec>.<nsec>. A RECORD without a matching end line is an incomplete or
 * damaged generation.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/internal.h"
#include "shared/util.h"

#define RECORD_MAX (256u << 20)

int record_add(struct record *r, const struct rec_file *f)
{
        if (r->n_files == r->cap_files) {
                size_t cap = r->cap_files ? r->cap_files * 2 : 256;
                struct rec_file *n = realloc(r->files, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                r->files = n;
                r->cap_files = cap;
        }
        r->files[r->n_files] = *f;
        r->files[r->n_files].rel = strdup(f->rel);
        if (!r->files[r->n_files].rel)
                return -ENOMEM;
        r->n_files++;
        return 0;
}

static int cmp_rel(const void *a, const void *b)
{
        return strcmp(((const struct rec_file *)a)->rel, ((const struct rec_file *)b)->rel);
}

void record_sort(struct record *r)
{
        if (r->n_files)
                qsort(r->files, r->n_files, sizeof(r->files[0]), cmp_rel);
}

const struct rec_file *record_lookup(const struct record *r, const char *rel)
{
        struct rec_file key = {.rel = (char *)rel};

        if (!r || !r->n_files)
                return NULL;
        return bsearch(&key, r->files, r->n_files, sizeof(r->files[0]), cmp_rel);
}

void record_free(struct record *r)
{
        for (size_t i = 0; i < r->n_files; i++)
                free(r->files[i].rel);
        free(r->files);
        r->files = NULL;
        r->n_files = r->cap_files = 0;
}

static void put_escaped(FILE *f, const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p <= ' ' || *p > '~' || *p == '\\')
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
}

/* In place; -EINVAL on a bad escape or an empty result. */
static int unescape(char *s)
{
        char *o = s;

        for (char *p = s; *p; p++) {
                unsigned v;
                if (*p != '\\') {
                        *o++ = *p;
                        continue;
                }
                if (p[1] != 'x' || sscanf(p + 2, "%2x", &v) != 1 || !p[2] || !p[3] || v == 0)
                        return -EINVAL;
                *o++ = (char)v;
                p += 3;
        }
        *o = '\0';
        return o == s ? -EINVAL : 0;
}

static void put_time(FILE *f, const struct timespec *t)
{
        fprintf(f, " %" PRId64 ".%09ld", (int64_t)t->tv_sec, t->tv_nsec);
}

int record_write(int genfd, const struct record *r)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int ret;

        if (!f)
                return -ENOMEM;
        fprintf(f, "ephemeral-checkpoint %d\ngen %" PRIu64 "\ntime %" PRId64 "\nboot %s\n",
                RECORD_VERSION, r->gen, r->time, r->boot[0] ? r->boot : "-");
        for (unsigned i = 0; i < r->n_dirs; i++) {
                fprintf(f, "dir %s ", r->names[i]);
                put_escaped(f, r->paths[i]);
                fputc('\n', f);
        }
        if (r->no_user_xattrs)
                fputs("store no-user-xattrs\n", f);
        for (size_t i = 0; i < r->n_files; i++) {
                const struct rec_file *e = &r->files[i];
                fputs("f ", f);
                put_escaped(f, e->rel);
                fprintf(f, " %" PRIu64, e->ino);
                put_time(f, &e->ctime);
                fprintf(f, " %" PRIu64, e->size);
                put_time(f, &e->mtime);
                put_time(f, &e->atime);
                fprintf(f, " %016" PRIx64 "\n", e->hash);
        }
        fprintf(
            f, "total entries=%" PRIu64 " names=%" PRIu64 " bytes=%" PRIu64 " sig=%016" PRIx64 "\n",
            r->entries, r->names_total, r->bytes, r->sig);
        if (fflush(f) != 0) {
                fclose(f);
                return -ENOMEM;
        }
        fprintf(f, "end %016" PRIx64 "\n", chash_buf(buf, len));
        if (fclose(f) != 0)
                return -ENOMEM;
        fd = openat(genfd, JOURNAL_RECORD, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0600);
        if (fd < 0)
                return -errno;
        ret = write_all(fd, buf, len);
        return ret < 0 ? ret : 0;
}

static int parse_time(const char *s, struct timespec *t)
{
        long long sec;
        long nsec;
        int n = 0;

        if (sscanf(s, "%lld.%9ld%n", &sec, &nsec, &n) != 2 || s[n] != '\0' || nsec < 0)
                return -EBADMSG;
        t->tv_sec = (time_t)sec;
        t->tv_nsec = nsec;
        return 0;
}

static int parse_file(struct record *r, char *line)
{
        char *f[8], *save = NULL;
        struct rec_file e = {0};
        int n = 0;

        for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                if (n < 8)
                        f[n++] = tok;
                else
                        return -EBADMSG;
        if (n != 7 || unescape(f[0]) < 0 || parse_u64(f[1], &e.ino) < 0 ||
            parse_time(f[2], &e.ctime) < 0 || parse_u64(f[3], &e.size) < 0 ||
            parse_time(f[4], &e.mtime) < 0 || parse_time(f[5], &e.atime) < 0 ||
            sscanf(f[6], "%16" SCNx64, &e.hash) != 1)
                return -EBADMSG;
        e.rel = f[0];
        return record_add(r, &e);
}

static int parse_line(struct record *r, char *line, unsigned lineno)
{
        char *rest;

        if (lineno == 0)
                return streq(line, "ephemeral-checkpoint 1") ? 0 : -EBADMSG;
        if ((rest = (char *)startswith(line, "gen ")))
                return parse_u64(rest, &r->gen) < 0 ? -EBADMSG : 0;
        if ((rest = (char *)startswith(line, "time ")))
                return sscanf(rest, "%" SCNd64, &r->time) == 1 ? 0 : -EBADMSG;
        if ((rest = (char *)startswith(line, "boot "))) {
                snprintf(r->boot, sizeof(r->boot), "%s", rest);
                return 0;
        }
        if ((rest = (char *)startswith(line, "dir "))) {
                char *sp = strchr(rest, ' ');
                if (!sp || r->n_dirs >= CONFIG_MAX_DIRS || (size_t)(sp - rest) > NAME_MAX)
                        return -EBADMSG;
                *sp = '\0';
                if (unescape(sp + 1) < 0 || strlen(sp + 1) >= PATH_MAX || strchr(rest, '/') ||
                    dot_or_dotdot(rest) || !*rest)
                        return -EBADMSG;
                snprintf(r->names[r->n_dirs], sizeof(r->names[0]), "%s", rest);
                snprintf(r->paths[r->n_dirs], sizeof(r->paths[0]), "%s", sp + 1);
                r->n_dirs++;
                return 0;
        }
        if (streq(line, "store no-user-xattrs")) {
                r->no_user_xattrs = true;
                return 0;
        }
        if ((rest = (char *)startswith(line, "f ")))
                return parse_file(r, rest);
        if ((rest = (char *)startswith(line, "total ")))
                return sscanf(rest,
                              "entries=%" SCNu64 " names=%" SCNu64 " bytes=%" SCNu64
                              " sig=%" SCNx64,
                              &r->entries, &r->names_total, &r->bytes, &r->sig) == 4
                           ? 0
                           : -EBADMSG;
        return 0; /* unknown records: newer writers may add some */
}

int record_read(int genfd, struct record *r)
{
        _cleanup_free_ char *buf = NULL;
        char *end, *p;
        size_t len;
        uint64_t want;
        unsigned lineno = 0;
        int ret;

        *r = (struct record){0};
        ret = read_file_at(genfd, JOURNAL_RECORD, RECORD_MAX, &buf, &len);
        if (ret < 0)
                return ret == -ENOENT ? -ENOENT : ret;
        /* The end line: last line of the file, covering everything before it. */
        if (len < 2 || buf[len - 1] != '\n')
                return -EBADMSG;
        buf[len - 1] = '\0';
        end = strrchr(buf, '\n');
        end = end ? end + 1 : buf;
        if (!startswith(end, "end ") || sscanf(end + 4, "%16" SCNx64, &want) != 1 ||
            chash_buf(buf, (size_t)(end - buf)) != want)
                return -EBADMSG;
        *end = '\0';
        for (p = buf; *p; lineno++) {
                char *nl = strchr(p, '\n');
                if (!nl)
                        return record_free(r), -EBADMSG;
                *nl = '\0';
                ret = parse_line(r, p, lineno);
                if (ret < 0)
                        return record_free(r), ret == -ENOMEM ? ret : -EBADMSG;
                p = nl + 1;
        }
        record_sort(r);
        return lineno > 0 ? 0 : -EBADMSG;
}
