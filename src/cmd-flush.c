/* SPDX-License-Identifier: MIT */
/* cmd-flush: placeholder until implemented. */
#include "commands.h"
#include "log.h"
#include "util.h"

int cmd_flush(int argc, char *argv[])
{
        log_error("'flush' is not implemented yet");
        return EXIT_SYSTEM;
}
