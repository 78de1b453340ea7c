/* SPDX-License-Identifier: MIT */
/* commands: the subcommands of the multi-call binary. Each returns an exit code
 * (EXIT_OK, EXIT_USAGE, EXIT_SYSTEM) and prints its own one-line reasons. argv[0]
 * is the subcommand name; options are parsed with getopt_long from there.
 *
 * Layer src/cmd/: thin commands that parse options and call the layers below;
 * nothing else includes them. ephemeral.c is the dispatcher, ephemeral-sweep.c the
 * libc-only sweeper's main. */
#pragma once

int cmd_mount(int argc, char *argv[]);
int cmd_flush(int argc, char *argv[]);
int cmd_checkpoint(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);
int cmd_diff(int argc, char *argv[]);
int cmd_sweep(int argc, char *argv[]);
int cmd_config(int argc, char *argv[]);
