/* SPDX-License-Identifier: MIT */
/* config/internal: what config.c, values.c and parse.c share. */
#pragma once

#include <stddef.h>

#include "config/config.h"

/* The origin of values applied by config_init. */
#define CONFIG_DEFAULT_ORIGIN "built-in default"

/* Text of a bad entry, safe to print: at most 120 bytes, non-printables as \xHH. */
const char *config_shown(const char *s, size_t len, char *buf, size_t buflen);
/* Log "origin: ephemeral.key: 'text' skipped: why" and count the error. */
void config_report_bad(struct config *c, const char *origin, const char *key, const char *text,
                       size_t len, const char *why);
/* "listed twice" / "nested in another entry of the same list" / NULL. */
const char *config_path_conflict(const char *a, const char *b);
/* Cap an absolute size at RAM + swap (a warning unless origin is the default). */
void config_cap_size(struct size_spec *s, const char *key, const char *origin);
