/* SPDX-License-Identifier: MIT */
/* unreachable: overlays whose store is gone (see header). */
#include "shutdown/unreachable.h"

#include <limits.h>

#include "shared/log.h"
#include "shared/mountinfo.h"
#include "shared/util.h"

#define BOOT_STORE "/run/initramfs/ephemeral"

struct args {
        const char *store, *why;
        int count;
};

static int check_one(const struct mount_entry *e, void *userdata)
{
        struct args *a = userdata;
        char upper[PATH_MAX];

        if (!streq(e->fstype, "overlay") ||
            !mount_option_value(e->super, "upperdir", upper, sizeof(upper)))
                return 0;
        if (!path_is_under(upper, a->store) && !path_is_under(upper, BOOT_STORE))
                return 0;
        a->count++;
        log_error("the overlay on %s keeps its changes in %s, but the store's state cannot be "
                  "read (%s): these changes are UNREACHABLE and will be LOST at poweroff",
                  e->target, upper, a->why);
        return 0;
}

int unreachable_overlays(const char *store, const char *why)
{
        struct args a = {.store = store, .why = why};
        int r = mountinfo_foreach(check_one, &a);

        if (r < 0)
                return log_errno(r,
                                 "cannot read /proc/self/mountinfo to tell whether an overlay "
                                 "still uses the store %s",
                                 store);
        return a.count;
}
