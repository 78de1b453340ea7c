/* SPDX-License-Identifier: MIT */
/* options: the option parsing the commands share (see options.h). */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "cmd/options.h"
#include "shared/log.h"
#include "shared/util.h"

static const struct option all_options[] = {
    {"root", required_argument, NULL, 'r'}, {"store", required_argument, NULL, 's'},
    {"dry-run", no_argument, NULL, 'n'},    {"if-due", no_argument, NULL, 'd'},
    {"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
};

int cmd_parse(const struct cmd_syntax *syn, int argc, char *argv[], struct cmd_opts *o)
{
        struct option table[ARRAY_SIZE(all_options) + 1] = {};
        unsigned n = 0;
        int c;

        for (unsigned i = 0; i < ARRAY_SIZE(all_options); i++)
                if (strchr(syn->options, all_options[i].val))
                        table[n++] = all_options[i];

        *o = (struct cmd_opts){.root = "/", .store = CMD_DEFAULT_STORE};
        while ((c = getopt_long(argc, argv, syn->short_opts, table, NULL)) >= 0) {
                switch (c) {
                case 'r':
                        o->root = optarg;
                        break;
                case 's':
                        o->store = optarg;
                        break;
                case 'n':
                        o->dry_run = true;
                        break;
                case 'd':
                        o->if_due = true;
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 'h':
                        syn->usage(stdout);
                        return 0;
                default:
                        syn->usage(stderr);
                        return -EINVAL;
                }
        }
        if (!syn->operands && optind < argc) {
                log_error("%s: unexpected argument '%s'", syn->name, argv[optind]);
                return -EINVAL;
        }
        return 1;
}
