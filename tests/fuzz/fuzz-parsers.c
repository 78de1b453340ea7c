/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the parsers that read untrusted text: the kernel command
 * line, the config file and the store's state file. The first input byte picks
 * the parser, the rest is its input. Not built by the Makefile; build and run:
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 * -fno-sanitize-recover=all -Isrc \
 *       tests/fuzz/fuzz-parsers.c src/config/[a-z]*.c src/shared/util.c src/shared/log.c \
 *       src/shared/mountinfo.c \
 *       -o /tmp/fuzz-parsers
 *   mkdir -p /tmp/fuzz-corpus && /tmp/fuzz-parsers -max_total_time=300 /tmp/fuzz-corpus
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "shared/log.h"
#include "config/state.h"
#include "shared/util.h"

static int storefd = -1;

static void setup(void)
{
        char tmpl[] = "/tmp/fuzz-parsers.XXXXXX";

        log_set_max_level(0);
        if (!mkdtemp(tmpl))
                abort();
        storefd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (storefd < 0)
                abort();
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
