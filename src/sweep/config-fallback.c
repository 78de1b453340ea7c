/* SPDX-License-Identifier: MIT */
/* config-fallback: TEMPORARY weak stand-ins for the config API until src/config.c
 * (branch core) lands; the real, strong definitions replace them at link time.
 * Remove this file once main has config.c. */
#include <stdio.h>

#include "config.h"
#include "sweep.h"

__attribute__((weak)) int config_parse_file(struct config *c, const char *path)
{
        return 0;
}

__attribute__((weak)) int config_parse_cmdline_file(struct config *c, const char *path)
{
        return 0;
}

__attribute__((weak)) char *format_size(uint64_t bytes, char *buf, unsigned len)
{
        snprintf(buf, len, "%.1fM", (double)bytes / (1024.0 * 1024.0));
        return buf;
}
