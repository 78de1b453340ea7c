/* SPDX-License-Identifier: MIT */
/* config: placeholder until implemented. */
#include "config.h"

void config_init(struct config *c)
{
        (void)c;
}
