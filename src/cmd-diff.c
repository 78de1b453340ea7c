/* SPDX-License-Identifier: MIT */
/* cmd-diff: placeholder until implemented. */
#include "commands.h"
#include "log.h"
#include "util.h"

int cmd_diff(int argc, char *argv[])
{
        log_error("'diff' is not implemented yet");
        return EXIT_SYSTEM;
}
