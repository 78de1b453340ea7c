/* SPDX-License-Identifier: MIT */
/* log: stderr and /dev/kmsg output, one line per call. */
#include "shared/log.h"
#include "shared/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_prog = "ephemeral";
static enum log_level log_max = LOG_LEVEL_INFO;
static int kmsg_fd = -1;

void log_set_prog(const char *prog)
{
        log_prog = prog;
}

void log_set_max_level(enum log_level level)
{
        log_max = level;
}

int log_open_kmsg(void)
{
        if (kmsg_fd >= 0)
                return 0;
        kmsg_fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        return kmsg_fd < 0 ? -errno : 0;
}

void log_close_kmsg(void)
{
        if (kmsg_fd >= 0)
                close(kmsg_fd);
        kmsg_fd = -1;
}

static const char *level_word(enum log_level level)
{
        switch (level) {
        case LOG_LEVEL_ERR:
                return "error: ";
        case LOG_LEVEL_WARNING:
                return "warning: ";
        default:
                return "";
        }
}

/* One line: "prog: level: message[: strerror]". The message is escaped as a
 * whole (str_escape, ASCII only): a file name in it can never start a line of its
 * own (a forged journal entry) nor carry terminal controls. A long message is cut
 * before the errno text, which always stays. */
static void log_line(enum log_level level, const char *text, int err)
{
        char line[2048], suffix[128] = "";
        size_t n, room;

        if (level > log_max)
                return;
        if (err != 0)
                snprintf(suffix, sizeof(suffix), ": %s", strerror(abs(err)));
        n = (size_t)snprintf(line, sizeof(line) / 4, "%s: %s", log_prog, level_word(level));
        if (n >= sizeof(line) / 4)
                n = sizeof(line) / 4 - 1;
        room = sizeof(line) - n - strlen(suffix) - 1; /* and the '\n' */
        str_escape(line + n, room, text, ESCAPE_8BIT);
        n += strlen(line + n);
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s\n", suffix);
        /* One write per line so concurrent writers do not interleave mid-line. */
        (void)!write(STDERR_FILENO, line, n);
        /* The kernel rate-limits writers of /dev/kmsg (printk.devkmsg=ratelimit: a burst
         * of 10 lines per 5 s), so only what a person must see goes there. */
        if (kmsg_fd >= 0 && level <= LOG_LEVEL_NOTICE) {
                char kline[sizeof(line) + 8];
                int k = snprintf(kline, sizeof(kline), "<%d>%s", (int)level, line);
                if (k > 0)
                        (void)!write(kmsg_fd, kline,
                                     (size_t)k < sizeof(kline) ? (size_t)k : sizeof(kline) - 1);
        }
}

static void log_vmsg(enum log_level level, int err, const char *fmt, va_list ap)
{
        char text[4096];

        if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
                return;
        log_line(level, text, err);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_vmsg(level, 0, fmt, ap);
        va_end(ap);
}

int log_errno(int err, const char *fmt, ...)
{
        va_list ap;
        int saved = errno;

        va_start(ap, fmt);
        log_vmsg(LOG_LEVEL_ERR, err, fmt, ap);
        va_end(ap);
        errno = saved;
        return -abs(err);
}

int log_warning_errno(int err, const char *fmt, ...)
{
        va_list ap;
        int saved = errno;

        va_start(ap, fmt);
        log_vmsg(LOG_LEVEL_WARNING, err, fmt, ap);
        va_end(ap);
        errno = saved;
        return -abs(err);
}
