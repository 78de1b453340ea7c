/* SPDX-License-Identifier: MIT */
/* modload: libkmod loading of filesystem modules (see modload.h). */
#include "shared/modload.h"

#include <libkmod.h>
#include <stdio.h>

#include "shared/util.h"

static int filesystem_known(const char *fstype)
{
        _cleanup_fclose_ FILE *f = NULL;
        char line[256];

        f = fopen("/proc/filesystems", "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                char *name = strrchr(line, '\t');
                name = name ? name + 1 : line;
                name[strcspn(name, "\n")] = '\0';
                if (streq(name, fstype))
                        return 1;
        }
        return 0;
}

static void silent(void *data, int priority, const char *file, int line, const char *fn,
                   const char *format, va_list args)
{
}

int modload_filesystem(const char *fstype, const char *modules_dir)
{
        struct kmod_ctx *ctx;
        struct kmod_list *list = NULL, *it;
        int r;

        if (!modules_dir && filesystem_known(fstype) > 0)
                return 0;
        ctx = kmod_new(modules_dir, NULL);
        if (!ctx)
                return -ENOMEM;
        kmod_set_log_fn(ctx, silent, NULL);
        r = kmod_module_new_from_lookup(ctx, fstype, &list);
        if (r >= 0 && !list)
                r = -ENOENT;
        kmod_list_foreach(it, list)
        {
                struct kmod_module *mod = kmod_module_get_module(it);
                r = kmod_module_probe_insert_module(mod, 0, NULL, NULL, NULL, NULL);
                kmod_module_unref(mod);
                if (r == -EEXIST)
                        r = 0;
                if (r >= 0)
                        break;
        }
        kmod_module_unref_list(list);
        kmod_unref(ctx);
        if (r < 0)
                return r == -ENOENT || r == -ENOSYS ? -ENOENT : r;
        return 0;
}

const char *modload_missing_hint(void)
{
        return "the overlay kernel module is not in this initramfs; add it and rebuild the "
               "image (dracut: the ephemeral module does 'instmods overlay', or "
               "add_drivers+=\" overlay \" in /etc/dracut.conf.d/; mkinitcpio: add the "
               "ephemeral hook or MODULES=(overlay) to /etc/mkinitcpio.conf, then mkinitcpio -P)";
}
