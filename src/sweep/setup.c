/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "log.h"
#include "sweep.h"

int setup_user_caches(const struct setup_opts *o)
{
        log_error("--setup: not yet");
        return -ENOSYS;
}
