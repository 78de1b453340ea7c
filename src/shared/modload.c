/* SPDX-License-Identifier: MIT */
/* modload: filesystem modules loaded with libkmod, which is opened only when a module
 * must be loaded (see modload.h). */
#include "shared/modload.h"

#include <dlfcn.h>
#include <libkmod.h>
#include <stdio.h>

#include "shared/util.h"

/* The library's path on the build machine (the Makefile asks the compiler), so
 * that no search through ld.so.cache is needed; its soname is the fallback. */
#ifndef LIBKMOD_SO
#define LIBKMOD_SO "libkmod.so.2"
#endif

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

/* The libkmod calls used here, resolved from the library when first needed. */
static struct kmod_api {
        typeof(&kmod_new) new_ctx;
        typeof(&kmod_unref) unref;
        typeof(&kmod_set_log_fn) set_log_fn;
        typeof(&kmod_module_new_from_lookup) new_from_lookup;
        typeof(&kmod_list_next) list_next;
        typeof(&kmod_module_get_module) get_module;
        typeof(&kmod_module_probe_insert_module) probe_insert;
        typeof(&kmod_module_unref) module_unref;
        typeof(&kmod_module_unref_list) unref_list;
} kmod;

static char dl_error[256];

static int kmod_api_open(void)
{
        static const char *const names[] = {"kmod_new",
                                            "kmod_unref",
                                            "kmod_set_log_fn",
                                            "kmod_module_new_from_lookup",
                                            "kmod_list_next",
                                            "kmod_module_get_module",
                                            "kmod_module_probe_insert_module",
                                            "kmod_module_unref",
                                            "kmod_module_unref_list"};
        void **slot = (void **)&kmod;
        void *h;

        _Static_assert(sizeof(kmod) == sizeof(names) / sizeof(names[0]) * sizeof(void *),
                       "one name per slot");
        if (kmod.new_ctx)
                return 0;
        h = dlopen(LIBKMOD_SO, RTLD_NOW | RTLD_LOCAL);
        if (!h && strchr(LIBKMOD_SO, '/'))
                h = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(dl_error, sizeof(dl_error), "%s", dlerror());
                return -ELIBACC;
        }
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                slot[i] = dlsym(h, names[i]);
                if (!slot[i]) {
                        snprintf(dl_error, sizeof(dl_error), "%s", dlerror());
                        memset(&kmod, 0, sizeof(kmod));
                        dlclose(h);
                        return -ELIBBAD;
                }
        }
        return 0;
}

const char *modload_library_error(void)
{
        return dl_error;
}

int modload_filesystem(const char *fstype, const char *modules_dir)
{
        struct kmod_ctx *ctx;
        struct kmod_list *list = NULL, *it;
        int r;

        if (!modules_dir && filesystem_known(fstype) > 0)
                return 0;
        r = kmod_api_open();
        if (r < 0)
                return r;
        ctx = kmod.new_ctx(modules_dir, NULL);
        if (!ctx)
                return -ENOMEM;
        kmod.set_log_fn(ctx, silent, NULL);
        r = kmod.new_from_lookup(ctx, fstype, &list);
        if (r >= 0 && !list)
                r = -ENOENT;
        for (it = list; it; it = kmod.list_next(list, it)) {
                struct kmod_module *mod = kmod.get_module(it);
                r = kmod.probe_insert(mod, 0, NULL, NULL, NULL, NULL);
                kmod.module_unref(mod);
                if (r == -EEXIST)
                        r = 0;
                if (r >= 0)
                        break;
        }
        kmod.unref_list(list);
        kmod.unref(ctx);
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
