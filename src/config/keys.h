/* SPDX-License-Identifier: MIT */
/*
 * keys: the one table of configuration keys. Each row names a key, its type, its
 * default (written in the key's own syntax and parsed like any other value, so a
 * default can never be something a user could not write), its limits and a line of
 * documentation. Parsing (config.c), the defaults (config_init), `ephemeral config
 * --keys`, the README table and runtime/ephemeral.conf.example all come from here;
 * tests/lint.sh fails when a generated document differs from the table.
 * libc only.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum config_key_type {
        KEY_SWITCH,   /* on|off|1|0|yes|no|true|false */
        KEY_DIRS,     /* list of dirs, each optionally :persist or :discard */
        KEY_TMPFS,    /* list of PATH:SIZE */
        KEY_PATHS,    /* list of dirs */
        KEY_NAMES,    /* list of single file names */
        KEY_GLOBS,    /* list of fnmatch globs matched against single names */
        KEY_SIZE,     /* 512M, 2G, 25% */
        KEY_SIZE_OFF, /* a size, or 0 / off for none */
        KEY_NUMBER,   /* a whole number from 1 to max */
        KEY_PATH,     /* one dir */
        KEY_DURATION, /* 15min, 30s, 2h, 0 = off; max seconds in max */
};

struct config_key {
        const char *name; /* without the "ephemeral." prefix; "" is the switch itself */
        enum config_key_type type;
        const char *def;      /* default as the user would write it; NULL: def_text says */
        const char *def_text; /* the default in words, when def is NULL */
        uint64_t max;         /* KEY_NUMBER, KEY_DURATION (seconds): the largest value accepted */
        const char *unit;     /* KEY_NUMBER: what the number counts */
        size_t off;           /* offsetof(struct config, value) */
        size_t off_n;         /* lists: offsetof(struct config, count) */
        size_t off_set;       /* non-zero: a bool set once the key is given explicitly */
        const char *doc;      /* what the key does, one paragraph */
        const char *example;  /* a value worth showing besides the default, or NULL */
};

extern const struct config_key config_keys[];
extern const size_t config_n_keys;

/* The row of a key (without "ephemeral."), or NULL. */
const struct config_key *config_key_find(const char *name);

/* A short description of what a key of this type accepts, for messages and docs. */
const char *config_key_syntax(const struct config_key *k);
