/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the parsers that read untrusted text: the kernel command
 * line, the config file and the store's state file. The first input byte picks
 * the parser, the rest is its input. Built by `make fuzz` (clang, libFuzzer, ASan,
 * UBSan) and run by tests/integration/test-fuzz.sh on tests/fuzz/corpus/fuzz-parsers/
 * for a bounded time; for a longer run:
 *
 *   make fuzz && mkdir -p /tmp/corpus && cp -r tests/fuzz/corpus/fuzz-parsers/. /tmp/corpus &&
 *   build/fuzz/fuzz-parsers -max_total_time=3600 /tmp/corpus
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "shared/log.h"
#include "config/state.h"
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
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", "fuzz-parsers");
        log_set_max_level(0);
        if (!mkdtemp(store))
                abort();
        storefd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (storefd < 0)
                abort();
        atexit(remove_store);
}

static void check_bounds(const struct config *c)
{
        if (c->n_dirs > CONFIG_MAX_DIRS || c->n_tmpfs > CONFIG_MAX_DIRS ||
            c->n_keep > CONFIG_MAX_DIRS || c->n_protect > CONFIG_MAX_PATTERNS ||
            c->n_userkeep > CONFIG_MAX_PATTERNS)
                abort();
        for (unsigned i = 0; i < c->n_dirs; i++)
                if (c->dirs[i].path[0] != '/' || c->dirs[i].path[1] == '\0')
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct config c;
        static struct state s;
        _cleanup_free_ char *text = NULL;
        char path[64];
        int fd;

        if (storefd < 0)
                setup();
        if (size < 1)
                return 0;
        text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        config_init(&c);
        switch (data[0] % 3) {
        case 0:
                config_parse_cmdline(&c, text);
                check_bounds(&c);
                break;
        case 1:
                fd = memfd_create("conf", MFD_CLOEXEC);
                if (fd < 0)
                        abort();
                if (write_all(fd, data + 1, size - 1) < 0)
                        abort();
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                config_parse_file(&c, path);
                close(fd);
                check_bounds(&c);
                break;
        case 2:
                fd = openat(storefd, STATE_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || write_all(fd, data + 1, size - 1) < 0)
                        abort();
                close(fd);
                if (state_read(storefd, &s) == 0) {
                        /* what was accepted must be written back and read back the same */
                        static struct state again;
                        if (s.n_dirs > CONFIG_MAX_DIRS)
                                abort();
                        if (state_write(storefd, &s) < 0 || state_read(storefd, &again) < 0 ||
                            again.n_dirs != s.n_dirs)
                                abort();
                }
                break;
        }
        return 0;
}
