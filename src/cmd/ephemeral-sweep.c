/* SPDX-License-Identifier: MIT */
/* ephemeral-sweep: the standalone sweeper (libc only), same as `ephemeral sweep`. */
#include "cmd/commands.h"
#include "shared/log.h"

int main(int argc, char *argv[])
{
        log_set_prog("ephemeral-sweep");
        return cmd_sweep(argc, argv);
}
