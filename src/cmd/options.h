/* SPDX-License-Identifier: MIT */
/* options: what the commands' option parsing shares. */
#pragma once

#include <stdbool.h>

/* The store every command defaults to: where `mount` puts it in the initramfs. */
#define CMD_DEFAULT_STORE "/run/initramfs/ephemeral"

/* Handles c as getopt_long returned it when it is 'r' (--root DIR) or 's' (--store
 * DIR): true then, with optarg stored in *root or *store. */
bool cmd_where_option(int c, const char **root, const char **store);

/* After getopt_long: when an operand is left, logs "<cmd>: unexpected argument '…'"
 * and returns false. */
bool cmd_no_operands(const char *cmd, int argc, char *argv[]);
