/* SPDX-License-Identifier: MIT */
/* cmd-mount: placeholder until implemented. */
#include "commands.h"
#include "log.h"
#include "util.h"

int cmd_mount(int argc, char *argv[])
{
        log_error("'mount' is not implemented yet");
        return EXIT_SYSTEM;
}
