/* SPDX-License-Identifier: MIT */
/* cmd-status: placeholder until implemented. */
#include "commands.h"
#include "log.h"
#include "util.h"

int cmd_status(int argc, char *argv[])
{
        log_error("'status' is not implemented yet");
        return EXIT_SYSTEM;
}
