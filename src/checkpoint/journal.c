/* SPDX-License-Identifier: MIT */
/*
 * checkpoint-journal: the journal directory. Opening and locking it, the current
 * pointer, choosing (verifying, cutting back) the generation to replay, retiring
 * it, and the two small records the boot line is made of.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "checkpoint/internal.h"
#include "merge/internal.h"
#include "config/store.h"
#include "shared/log.h"
#include "shared/util.h"

#define OVERLAYFS_MAGIC 0x794c7630
#define TMPFS_MAGIC     0x01021994
#define RAMFS_MAGIC     0x858458f6

/* flock, but not forever: a checkpoint stuck on a dying disk must not hang a
 * shutdown. -EWOULDBLOCK after LOCK_WAIT_SEC. */
#define LOCK_WAIT_SEC 60
static int lock_wait(int fd)
{
        for (unsigned i = 0; i < LOCK_WAIT_SEC * 10; i++) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                usleep(100000);
        }
        return -EWOULDBLOCK;
}

static int open_journal(const char *root, const char *path, bool create, bool lock,
                        struct journal *j);

int journal_open(const char *root, const char *path, bool create, struct journal *j)
{
        return open_journal(root, path, create, true, j);
}

int journal_open_unlocked(const char *root, const char *path, struct journal *j)
{
        return open_journal(root, path, false, false, j);
}

static int open_journal(const char *root, const char *path, bool create, bool lock,
                        struct journal *j)
{
        _cleanup_close_ int rootfd = -EBADF, fd = -EBADF;
        struct stat rst, jst;
        struct statfs sf;
        int r;

        *j = (struct journal){.fd = -EBADF};
        snprintf(j->path, sizeof(j->path), "%s", path);
        rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return log_errno(errno, "cannot open the root %s", root);
        fd =
            create ? mkdir_p_beneath(rootfd, path, 0700) : open_dir_beneath(rootfd, path, O_RDONLY);
        if ((fd == -ENOENT && !create) || (fd < 0 && !lock))
                return fd; /* not logged: the caller says what it means */
        if (fd < 0)
                return log_errno(fd, "cannot %s the checkpoint journal %s",
                                 create ? "create" : "open", path);
        if (fstat(rootfd, &rst) < 0 || fstat(fd, &jst) < 0 || fstatfs(fd, &sf) < 0)
                return log_errno(errno, "cannot examine the checkpoint journal %s", path);
        if (sf.f_type == OVERLAYFS_MAGIC || sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC ||
            jst.st_dev != rst.st_dev) {
                log_error("the checkpoint journal %s must be on the root filesystem, not in an "
                          "overlaid dir, a tmpfs or another filesystem (the initramfs replays "
                          "it from there): set ephemeral.journal",
                          path);
                return -EXDEV;
        }
        r = lock ? lock_wait(fd) : 0;
        if (r < 0)
                return log_errno(r,
                                 "cannot lock the checkpoint journal %s (another checkpoint "
                                 "holds it)",
                                 path);
        j->fd = take_fd(&fd);
        return 0;
}

void journal_close(struct journal *j)
{
        j->fd = safe_close(j->fd); /* the lock goes with it */
}

int checkpoint_lock_store(int storefd, const char *store)
{
        int fd = openat(storefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

        if (fd < 0)
                return log_errno(errno, "cannot open the store %s", store);
        r = store_lock(fd, store, "checkpoint", LOCK_WAIT_SEC);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

const char *checkpoint_format_time(int64_t t, char *buf, size_t len)
{
        time_t tt = (time_t)t;
        struct tm tm;

        if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                snprintf(buf, len, "@%" PRId64, t);
        return buf;
}

static int gen_from_name(const char *name, uint64_t *gen)
{
        const char *n = startswith(name, GEN_PREFIX);
        return n && parse_u64(n, gen) == 0 && *gen > 0 ? 0 : -EINVAL;
}

int journal_read_current(int jfd, uint64_t *gen)
{
        char buf[NAME_MAX + 1];
        ssize_t n = readlinkat(jfd, JOURNAL_CURRENT, buf, sizeof(buf) - 1);

        if (n < 0)
                return errno == ENOENT ? -ENOENT : -errno;
        buf[n] = '\0';
        return gen_from_name(buf, gen) < 0 ? -EBADMSG : 0;
}

int journal_boot_id(char *buf, size_t len)
{
        _cleanup_free_ char *s = NULL;
        size_t n = 0;
        int r = read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64, &s, &n);

        if (r < 0)
                return r;
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = '\0';
        snprintf(buf, len, "%s", n ? s : "-");
        return 0;
}

/* Is the file at rel in genfd what the record says? With repair, a copy that a
 * later generation appended to is cut back first, and its times are restored. */
static int verify_file(int genfd, const struct rec_file *f, bool repair)
{
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        _cleanup_free_ char *dir = strdup(f->rel);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        struct timespec ts[2] = {f->atime, f->mtime};
        struct chash c;
        struct stat st;
        uint64_t end = 0, none = 0;
        int r;

        if (!slash)
                return dir ? -EBADMSG : -ENOMEM;
        *slash = '\0';
        dfd = open_dir_beneath(genfd, dir, O_RDONLY);
        if (dfd < 0)
                return dfd;
        fd = openat(dfd, slash + 1, (repair ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < f->size)
                return -EBADMSG;
        if ((uint64_t)st.st_size > f->size && repair && ftruncate(fd, (off_t)f->size) < 0)
                return -errno;
        chash_init(&c);
        r = chash_copy(fd, -1, 0, f->size, &c, &end, &none);
        if (r < 0)
                return r;
        if (end != f->size || chash_final(&c) != f->hash)
                return -EBADMSG;
        if (repair && futimens(fd, ts) < 0)
                return -errno;
        return 0;
}

static int count_names(int dfd, uint64_t *n, unsigned depth)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (depth > 512)
                return -ELOOP;
        d = fdopendir_or_close(openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d))) {
                _cleanup_close_ int sub = -EBADF;
                int r;
                if (dot_or_dotdot(de->d_name))
                        continue;
                (*n)++;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                return -errno;
                        if (S_ISDIR(st.st_mode))
                                de->d_type = DT_DIR;
                }
                if (de->d_type != DT_DIR)
                        continue;
                sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        return -errno;
                r = count_names(sub, n, depth + 1);
                if (r < 0)
                        return r;
        }
        return errno ? -errno : 0;
}

static void fill_gen(const struct record *rec, struct checkpoint_gen *g)
{
        g->gen = rec->gen;
        g->time = rec->time;
        g->entries = rec->entries;
        g->bytes = rec->bytes;
        g->no_user_xattrs = rec->no_user_xattrs;
        g->n_dirs = rec->n_dirs;
        memcpy(g->paths, rec->paths, sizeof(g->paths));
        memcpy(g->names, rec->names, sizeof(g->names));
}

/* Read and check generation gen completely. 0 and g filled, or <0 with why set. */
static int check_gen(int jfd, uint64_t gen, bool repair, struct checkpoint_gen *g, const char **why)
{
        _cleanup_close_ int fd = -EBADF;
        struct record rec;
        char name[64];
        uint64_t names = 0;
        int r;

        snprintf(name, sizeof(name), GEN_PREFIX "%" PRIu64, gen);
        fd = openat(jfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return *why = "its directory is missing", -errno;
        r = record_read(fd, &rec);
        if (r < 0)
                return *why = r == -ENOENT ? "it has no completion record"
                                           : "its completion record is damaged or incomplete",
                       r;
        if (rec.gen != gen) {
                r = -EBADMSG, *why = "its record names another generation";
                goto out;
        }
        for (size_t i = 0; i < rec.n_files; i++) {
                r = verify_file(fd, &rec.files[i], repair);
                if (r < 0) {
                        *why = r == -EBADMSG || r == -ENOENT ? "a file does not match its record"
                                                             : "a file cannot be read";
                        goto out;
                }
        }
        for (unsigned i = 0; i < rec.n_dirs; i++) {
                _cleanup_close_ int d =
                    openat(fd, rec.names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                names++;
                r = d < 0 ? -errno : count_names(d, &names, 0);
                if (r < 0) {
                        *why = "a directory cannot be read";
                        goto out;
                }
        }
        if (names != rec.names_total + rec.n_dirs) {
                r = -EBADMSG, *why = "entries are missing or extra";
                goto out;
        }
        fill_gen(&rec, g);
        g->fd = take_fd(&fd);
        r = 0;
out:
        record_free(&rec);
        return r;
}

static int cmp_desc(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? 1 : x > y ? -1 : 0;
}

/* The generation numbers in the journal, newest first (malloc'd). */
int journal_list_gens(int jfd, uint64_t **ret, size_t *n)
{
        _cleanup_closedir_ DIR *d =
            fdopendir_or_close(openat(jfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        _cleanup_free_ uint64_t *v = NULL;
        size_t cap = 0;
        struct dirent *de;
        uint64_t gen;

        *n = 0;
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d))) {
                if (gen_from_name(de->d_name, &gen) < 0)
                        continue;
                if (*n == cap) {
                        uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));
                        if (!nv)
                                return -ENOMEM;
                        v = nv;
                }
                v[(*n)++] = gen;
        }
        if (errno)
                return -errno;
        if (*n)
                qsort(v, *n, sizeof(*v), cmp_desc);
        *ret = v;
        v = NULL;
        return 0;
}

int journal_pick(struct journal *j, bool repair, struct checkpoint_gen *g)
{
        _cleanup_free_ uint64_t *gens = NULL;
        uint64_t cur;
        size_t n = 0;
        char when[64];
        int r = journal_read_current(j->fd, &cur);

        g->fd = -EBADF;
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_errno(r, "%s/%s is unreadable", j->path, JOURNAL_CURRENT);
        r = journal_list_gens(j->fd, &gens, &n);
        if (r < 0)
                return log_errno(r, "cannot list %s", j->path);
        /* The current one, else the newest older one that is whole. */
        for (size_t i = 0; i < n; i++) {
                const char *why = NULL;
                if (gens[i] > cur)
                        continue; /* an attempt that never became current */
                r = check_gen(j->fd, gens[i], repair, g, &why);
                if (r == 0) {
                        if (gens[i] != cur)
                                log_warning("replaying the older checkpoint " GEN_PREFIX "%" PRIu64
                                            " of %s instead",
                                            gens[i],
                                            checkpoint_format_time(g->time, when, sizeof(when)));
                        return 1;
                }
                log_error("checkpoint %s/" GEN_PREFIX "%" PRIu64 " is damaged (%s): skipped",
                          j->path, gens[i], why);
        }
        return -EBADMSG;
}

int journal_peek(struct journal *j, struct checkpoint_gen *g)
{
        _cleanup_close_ int fd = -EBADF;
        struct record rec;
        char name[64];
        uint64_t cur;
        int r = journal_read_current(j->fd, &cur);

        g->fd = -EBADF;
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        snprintf(name, sizeof(name), GEN_PREFIX "%" PRIu64, cur);
        fd = openat(j->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = record_read(fd, &rec);
        if (r < 0)
                return r;
        fill_gen(&rec, g);
        record_free(&rec);
        return 1;
}

int journal_drop_gen(int jfd, uint64_t gen)
{
        char name[64];
        struct stat st;
        uint64_t count = 0;

        snprintf(name, sizeof(name), GEN_PREFIX "%" PRIu64, gen);
        if (fstat(jfd, &st) < 0)
                return -errno;
        return merge_rm_rf(jfd, name, st.st_dev, &count);
}

int journal_retire(struct journal *j)
{
        _cleanup_free_ uint64_t *gens = NULL;
        size_t n = 0;
        int r = 0;

        if (unlinkat(j->fd, JOURNAL_CURRENT, 0) < 0 && errno != ENOENT)
                return log_errno(errno, "cannot remove %s/%s", j->path, JOURNAL_CURRENT);
        if (fsync(j->fd) < 0)
                return log_errno(errno, "cannot sync %s", j->path);
        /* From here nothing is replayed; what follows only frees space. */
        if (journal_list_gens(j->fd, &gens, &n) == 0)
                for (size_t i = 0; i < n; i++) {
                        int k = journal_drop_gen(j->fd, gens[i]);
                        if (k < 0 && r == 0)
                                r = log_warning_errno(k, "cannot remove %s/" GEN_PREFIX "%" PRIu64,
                                                      j->path, gens[i]);
                }
        (void)unlinkat(j->fd, JOURNAL_SESSION, 0);
        (void)fsync(j->fd);
        return 0;
}

static int read_numbers(int jfd, const char *name, const char *fmt, int want, int64_t *a,
                        int64_t *b, char *word, size_t wordlen)
{
        _cleanup_free_ char *s = NULL;
        char w[64] = "";
        size_t n = 0;
        int r = read_file_at(jfd, name, 4096, &s, &n);

        if (r < 0)
                return r;
        if (want == 3 ? sscanf(s, fmt, w, a, b) != 3 : sscanf(s, fmt, a, b) != 2)
                return -EBADMSG;
        if (word)
                snprintf(word, wordlen, "%s", w);
        return 0;
}

int journal_read_shutdown(struct journal *j, int64_t *time, uint64_t *entries)
{
        int64_t e = 0;
        int r = read_numbers(j->fd, JOURNAL_SHUTDOWN, "%" SCNd64 " %" SCNd64, 2, time, &e, NULL, 0);

        *entries = (uint64_t)e;
        return r;
}

static int read_session(int jfd, char *boot, size_t len, int64_t *boot_time, int64_t *last_run)
{
        return read_numbers(jfd, JOURNAL_SESSION, "%63s %" SCNd64 " %" SCNd64, 3, boot_time,
                            last_run, boot, len);
}

int journal_read_session(struct journal *j, int64_t *boot_time, int64_t *last_run)
{
        return read_session(j->fd, NULL, 0, boot_time, last_run);
}

static int write_line(struct journal *j, const char *name, const char *line)
{
        int r = write_file_atomic_at(j->fd, name, line, strlen(line), 0600);
        if (r < 0)
                return log_errno(r, "cannot write %s/%s", j->path, name);
        return 0;
}

int journal_note_shutdown(struct journal *j, uint64_t entries)
{
        char line[64];

        snprintf(line, sizeof(line), "%" PRId64 " %" PRIu64 "\n", (int64_t)time(NULL), entries);
        (void)unlinkat(j->fd, JOURNAL_SESSION, 0);
        return write_line(j, JOURNAL_SHUTDOWN, line);
}

int journal_note_session(struct journal *j)
{
        char boot[64] = "-", old[64] = "", line[160];
        int64_t boot_time, last = 0, now = (int64_t)time(NULL);
        struct sysinfo si;

        (void)journal_boot_id(boot, sizeof(boot));
        boot_time = sysinfo(&si) == 0 ? now - si.uptime : now;
        if (read_session(j->fd, old, sizeof(old), &boot_time, &last) < 0 || !streq(old, boot)) {
                boot_time = sysinfo(&si) == 0 ? now - si.uptime : now;
                /* This boot is running: the record of the last shutdown is history. */
                (void)unlinkat(j->fd, JOURNAL_SHUTDOWN, 0);
        }
        snprintf(line, sizeof(line), "%s %" PRId64 " %" PRId64 "\n", boot, boot_time, now);
        return write_line(j, JOURNAL_SESSION, line);
}
