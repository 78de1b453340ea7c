/* SPDX-License-Identifier: MIT */
/* cmd-sweep: placeholder until implemented. */
#include "commands.h"
#include "log.h"
#include "util.h"

int cmd_sweep(int argc, char *argv[])
{
        log_error("'sweep' is not implemented yet");
        return EXIT_SYSTEM;
}
