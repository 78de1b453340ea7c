/* SPDX-License-Identifier: MIT */
/* ephemeral: the dispatcher. Picks the subcommand from argv[1] (or from argv[0]
 * when called as "ephemeral-<cmd>") and hands it the remaining arguments. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "shared/log.h"
#include "shared/util.h"

#ifndef VERSION
#define VERSION "0.0.0"
#endif

static const struct command {
        const char *name;
        int (*run)(int argc, char *argv[]);
        const char *usage;
} commands[] = {
    {"mount", cmd_mount, "[--root DIR] [--store DIR] [--cmdline FILE] [--config FILE]"},
    {"flush", cmd_flush, "[--root DIR] [--store DIR] [--dry-run]"},
    {"checkpoint", cmd_checkpoint, "[--root DIR] [--store DIR] [--dry-run] [--if-due]"},
    {"status", cmd_status, "[--store DIR] [--root DIR] [--json]"},
    {"diff", cmd_diff, "[--store DIR] [--root DIR] [DIR...]"},
    {"sweep", cmd_sweep,
     "[--once] [--dry-run] [--setup] [--interval SECONDS] [--age MINUTES] [--config FILE] "
     "[DIR...]"},
    {"config", cmd_config, "[--keys | --markdown | --example | --man]"},
};

static void usage(FILE *f)
{
        fprintf(f, "Usage:\n");
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                fprintf(f, "  ephemeral %-10s %s\n", commands[i].name, commands[i].usage);
        fprintf(f, "  ephemeral --help | --version\n\n"
                   "Keeps directories such as /etc and /var/log in RAM (OverlayFS on a tmpfs)\n"
                   "and merges the changes down to disk at shutdown. See README.md.\n");
}

static const struct command *find_command(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (streq(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

int main(int argc, char *argv[])
{
        const char *base = strrchr(argv[0], '/');
        const char *sub;
        const struct command *cmd;

        base = base ? base + 1 : argv[0];
        sub = startswith(base, "ephemeral-");
        if (sub && (cmd = find_command(sub)))
                return cmd->run(argc, argv);

        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h")) {
                usage(stdout);
                return EXIT_OK;
        }
        if (streq(argv[1], "--version")) {
                printf("ephemeral %s\n", VERSION);
                return EXIT_OK;
        }
        cmd = find_command(argv[1]);
        if (!cmd) {
                log_error("unknown command '%s' (try 'ephemeral --help')", argv[1]);
                return EXIT_USAGE;
        }
        optind = 0; /* each command parses its own options with getopt_long */
        return cmd->run(argc - 1, argv + 1);
}
