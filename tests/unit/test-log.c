/* SPDX-License-Identifier: MIT */
/* Unit tests of shared/log: every line escaped as a whole, the errno text kept on
 * long lines, one line per call. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"
#include "shared/log.h"
#include "shared/util.h"

static char captured[8192];

/* Run the log call with stderr going to a temp file; the output in captured. */
#define CAPTURE(call)                                                                              \
        do {                                                                                       \
                char tmpl[] = "/tmp/test-log.XXXXXX";                                              \
                int fd = mkstemp(tmpl), saved = dup(STDERR_FILENO);                                \
                ssize_t n;                                                                         \
                ASSERT_TRUE(fd >= 0 && saved >= 0);                                                \
                unlink(tmpl);                                                                      \
                dup2(fd, STDERR_FILENO);                                                           \
                call;                                                                              \
                dup2(saved, STDERR_FILENO);                                                        \
                close(saved);                                                                      \
                n = pread(fd, captured, sizeof(captured) - 1, 0);                                  \
                close(fd);                                                                         \
                captured[n > 0 ? n : 0] = '\0';                                                    \
        } while (0)

TEST(escapes_names)
{
        log_set_prog("t");
        CAPTURE(log_error("cannot remove '%s'", "x\n<0>forged\033[2J\\\xc3\xa9"));
        ASSERT_STREQ(captured, "t: error: cannot remove 'x\\n<0>forged\\033[2J\\\\\\303\\251'\n");
        CAPTURE(log_errno(EIO, "tab\there"));
        ASSERT_STREQ(captured, "t: error: tab\\there: Input/output error\n");
}

TEST(long_message_keeps_errno)
{
        char name[3000];

        memset(name, 'a', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        log_set_prog("t");
        CAPTURE(log_errno(EIO, "cannot write '%s'", name));
        ASSERT_TRUE(strlen(captured) < 2048);
        ASSERT_TRUE(strstr(captured, "aaa...: Input/output error\n") != NULL);
        ASSERT_TRUE(strchr(captured, '\n') == captured + strlen(captured) - 1);
}

TEST(str_escape)
{
        char out[16];

        ASSERT_FALSE(str_escape(out, sizeof(out), "plain \"é\"", 0));
        ASSERT_STREQ(out, "plain \"é\"");
        ASSERT_TRUE(str_escape(out, sizeof(out), "a\"b", ESCAPE_QUOTE));
        ASSERT_STREQ(out, "a\\\"b");
        ASSERT_TRUE(str_escape(out, sizeof(out), "\x7f\x01", 0));
        ASSERT_STREQ(out, "\\177\\001");
        /* Cut with a mark, never mid-escape, always terminated. */
        str_escape(out, sizeof(out), "0123456789\nabcdef", 0);
        ASSERT_STREQ(out, "0123456789\\n...");
        str_escape(out, 8, "\n\n\n\n\n", 0);
        ASSERT_STREQ(out, "\\n\\n...");
}
