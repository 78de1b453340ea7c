/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for what must come back unchanged or stay safe:
 *   0: the state file round trip: a state built from the input (any byte in the
 *      uuid, fstype, fsroot and options values, paths the config accepts) is
 *      written, read back and must be equal, field by field;
 *   1: store names: two different accepted paths never share a store directory
 *      name, and a name is never ".", ".." or holds a '/';
 *   2: paths that end up in mount option strings: what config_check_path accepts
 *      is absolute, holds none of the bytes an option string cannot carry, no
 *      "." / ".." / empty component, and normalising it again changes nothing.
 * The first input byte picks the property. Built and run by `make fuzz` (see
 * tests/integration/test-fuzz.sh).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config/config.h"
#include "config/state.h"
#include "shared/log.h"
#include "shared/util.h"

static int storefd = -1;
static char store[64];

static void remove_store(void)
{
        (void)unlinkat(storefd, STATE_FILE, 0);
        (void)rmdir(store);
}

/* The store goes on a tmpfs when there is one: state_write syncs, and a sync per
 * input on a disk would make the fuzzing a hundred times slower. */
static void setup(void)
{
        snprintf(store, sizeof(store), "%s/%s.XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", "fuzz-roundtrip");
        log_set_max_level(0);
        if (!mkdtemp(store))
                abort();
        storefd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (storefd < 0)
                abort();
        atexit(remove_store);
}

/* The input, consumed front to back; exhausted input reads as zeros. */
struct input {
        const uint8_t *p;
        size_t n;
};

static uint8_t take_byte(struct input *in)
{
        if (in->n == 0)
                return 0;
        in->n--;
        return *in->p++;
}

static uint32_t take_u32(struct input *in)
{
        uint32_t v = 0;
        for (int i = 0; i < 4; i++)
                v = v << 8 | take_byte(in);
        return v;
}

/* A NUL-free string: bytes up to the next 0xff (or the end), at most len-1. */
static void take_string(struct input *in, char *out, size_t len)
{
        size_t o = 0;

        while (in->n > 0) {
                uint8_t b = take_byte(in);
                if (b == 0xff)
                        break;
                if (b != 0 && o + 1 < len)
                        out[o++] = (char)b;
        }
        out[o] = '\0';
}

/* An accepted overlay path from the input, normalised; false if the config would
 * refuse it. */
static bool take_path(struct input *in, char out[PATH_MAX])
{
        char raw[PATH_MAX];
        const char *why;

        raw[0] = '/';
        take_string(in, raw + 1, sizeof(raw) - 1);
        return config_check_path(raw, out, PATH_MAX, &why) == 0;
}

static void check_same_dir(const struct state_dir *a, const struct state_dir *b)
{
        if (!streq(a->path, b->path) || !streq(a->name, b->name) || a->mode != b->mode ||
            a->status != b->status || !streq(a->uuid, b->uuid) || !streq(a->fstype, b->fstype) ||
            !streq(a->fsroot, b->fsroot) || a->dev != b->dev || !streq(a->options, b->options))
                abort();
}

static void state_roundtrip(struct input *in)
{
        static struct state s, back;
        unsigned want = take_byte(in) % (CONFIG_MAX_DIRS + 1);

        memset(&s, 0, sizeof(s));
        s.version = STATE_VERSION;
        s.cap = (uint64_t)take_u32(in) << 32 | take_u32(in);
        for (unsigned i = 0; i < want && in->n > 0; i++) {
                struct state_dir *d = &s.dirs[s.n_dirs];
                bool dup = false;

                if (!take_path(in, d->path) ||
                    state_dir_name(d->path, d->name, sizeof(d->name)) < 0)
                        continue;
                for (unsigned k = 0; k < s.n_dirs; k++)
                        if (streq(s.dirs[k].path, d->path))
                                dup = true;
                if (dup)
                        continue;
                d->mode = take_byte(in) % 2 ? DIR_DISCARD : DIR_PERSIST;
                d->status = (enum state_status)(take_byte(in) % 4);
                take_string(in, d->uuid, sizeof(d->uuid));
                take_string(in, d->fstype, sizeof(d->fstype));
                take_string(in, d->fsroot, sizeof(d->fsroot));
                take_string(in, d->options, sizeof(d->options));
                d->dev = makedev(take_u32(in) & 0xfffff, take_u32(in) & 0xfffff);
                s.n_dirs++;
        }
        if (state_write(storefd, &s) < 0)
                return; /* too big for the file: refused, fine */
        if (state_read(storefd, &back) < 0)
                abort(); /* written but not readable */
        if (back.cap != s.cap || back.n_dirs != s.n_dirs)
                abort();
        for (unsigned i = 0; i < s.n_dirs; i++)
                check_same_dir(&s.dirs[i], &back.dirs[i]);
}

static void store_names(struct input *in)
{
        char a[PATH_MAX], b[PATH_MAX], na[NAME_MAX + 1], nb[NAME_MAX + 1];

        if (!take_path(in, a) || !take_path(in, b))
                return;
        if (state_dir_name(a, na, sizeof(na)) < 0 || state_dir_name(b, nb, sizeof(nb)) < 0)
                return;
        if (na[0] == '\0' || strchr(na, '/') || dot_or_dotdot(na))
                abort();
        if (!streq(a, b) && streq(na, nb))
                abort(); /* two dirs would share one upper */
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && streq(s + n - k, suffix);
}

static void option_paths(struct input *in)
{
        char raw[PATH_MAX], norm[PATH_MAX], again[PATH_MAX];
        const char *why;

        take_string(in, raw, sizeof(raw));
        if (config_check_path(raw, norm, sizeof(norm), &why) < 0)
                return;
        if (norm[0] != '/')
                abort();
        for (const unsigned char *p = (const unsigned char *)norm; *p; p++)
                if (*p <= ' ' || *p == 0x7f || strchr(",:=\\\"'", *p))
                        abort();
        if (strstr(norm, "//") || strstr(norm, "/./") || strstr(norm, "/../") ||
            ends_with(norm, "/.") || ends_with(norm, "/..") || ends_with(norm, "/"))
                abort();
        if (config_check_path(norm, again, sizeof(again), &why) < 0 || !streq(norm, again))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct input in = {data, size};

        if (storefd < 0)
                setup();
        switch (take_byte(&in) % 3) {
        case 0:
                state_roundtrip(&in);
                break;
        case 1:
                store_names(&in);
                break;
        case 2:
                option_paths(&in);
                break;
        }
        return 0;
}
