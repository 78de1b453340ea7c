/* SPDX-License-Identifier: MIT */
/* options: the option handling every command shares (see options.h). */
#include <getopt.h>

#include "cmd/options.h"
#include "shared/log.h"

bool cmd_where_option(int c, const char **root, const char **store)
{
        if (c == 'r')
                *root = optarg;
        else if (c == 's')
                *store = optarg;
        else
                return false;
        return true;
}

bool cmd_no_operands(const char *cmd, int argc, char *argv[])
{
        if (optind >= argc)
                return true;
        log_error("%s: unexpected argument '%s'", cmd, argv[optind]);
        return false;
}
