/* SPDX-License-Identifier: MIT */
/*
 * log: the only place that prints diagnostics. Messages go to stderr and, once
 * log_open_kmsg() succeeded (early boot), to /dev/kmsg as well so they reach the
 * console and the journal. Library code returns -errno; the caller at the top logs
 * once with log_errno(), which returns the negative errno so it can be returned.
 */
#pragma once

#include <stdbool.h>

#define _printf_(a, b) __attribute__((format(printf, a, b)))

enum log_level {
        LOG_LEVEL_ERR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

/* Program name used as the prefix of every line ("ephemeral"). */
void log_set_prog(const char *prog);
/* Lines above this level are dropped (default LOG_LEVEL_INFO). */
void log_set_max_level(enum log_level level);
/* Also write every line to /dev/kmsg. Returns 0 or -errno (then stderr only). */
int log_open_kmsg(void);
void log_close_kmsg(void);

void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
/* Logs "<msg>: <strerror(err)>" at error level and returns -abs(err). */
int log_errno(int err, const char *fmt, ...) _printf_(2, 3);
/* Same at warning level. */
int log_warning_errno(int err, const char *fmt, ...) _printf_(2, 3);

#define log_error(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
