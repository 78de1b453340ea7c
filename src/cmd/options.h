/* SPDX-License-Identifier: MIT */
/* options: the option parsing the commands share. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/* The store every command defaults to: where `mount` puts it in the initramfs. */
#define CMD_DEFAULT_STORE "/run/initramfs/ephemeral"

/* The long options the commands share, by the letter cmd_syntax.options names them:
 * r --root DIR, s --store DIR, n --dry-run, d --if-due, j --json, h --help. */
struct cmd_opts {
        const char *root, *store; /* "/" and CMD_DEFAULT_STORE unless given */
        bool dry_run, if_due, json;
};

/* What one command accepts and how it explains itself. */
struct cmd_syntax {
        const char *name;       /* "flush", for messages */
        const char *short_opts; /* for getopt_long, e.g. "s:r:h" */
        const char *options;    /* the long options it takes, e.g. "rsnh" */
        bool operands;          /* false: an operand left is an error */
        void (*usage)(FILE *f); /* prints the command's usage to f */
};

/* Parses argv into *o (defaults first). Returns 1 to run the command, 0 after --help
 * (usage on stdout), -EINVAL after a bad option (usage on stderr) or an unexpected
 * operand (one line naming it). Operands, if allowed, start at optind. */
int cmd_parse(const struct cmd_syntax *syn, int argc, char *argv[], struct cmd_opts *o);
