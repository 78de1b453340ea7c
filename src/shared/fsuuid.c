/* SPDX-License-Identifier: MIT */
/* fsuuid: libblkid lookups (see fsuuid.h). */
#include "shared/fsuuid.h"

#include <blkid.h>
#include <stdlib.h>

#include "shared/util.h"

static int probe_uuid(const char *devname, char *out, size_t outlen)
{
        blkid_probe pr;
        const char *uuid = NULL;
        int r = -ENOENT;

        pr = blkid_new_probe_from_filename(devname);
        if (!pr)
                return errno > 0 ? -errno : -ENOENT;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE);
        if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "UUID", &uuid, NULL) == 0 &&
            uuid && strlen(uuid) < outlen) {
                memcpy(out, uuid, strlen(uuid) + 1);
                r = 0;
        }
        blkid_free_probe(pr);
        return r;
}

int fsuuid_get(dev_t dev, const char *source, char *out, size_t outlen)
{
        char *devname;
        int r = -ENOENT;

        if (outlen == 0)
                return -EINVAL;
        out[0] = '\0';
        devname = blkid_devno_to_devname(dev);
        if (devname) {
                r = probe_uuid(devname, out, outlen);
                free(devname);
        }
        if (r < 0 && source && startswith(source, "/dev/"))
                r = probe_uuid(source, out, outlen);
        if (r < 0)
                out[0] = '\0';
        return r;
}
