/* SPDX-License-Identifier: MIT */
/* dirattr: give a new directory (an upper root, a tmpfs root) the identity of the
 * directory it stands in for (see copy_dir_attrs in mount.h). */
#include <sys/stat.h>
#include <sys/xattr.h>

#include "shared/log.h"
#include "boot/mount.h"
#include "shared/util.h"

static int copy_xattrs(int src, int dst, const char *what)
{
        _cleanup_free_ char *names = NULL, *value = NULL;
        ssize_t len, vcap = 65536;

        len = flistxattr(src, NULL, 0);
        if (len < 0)
                return errno == ENOTSUP ? 0 : log_errno(errno, "%s: cannot list xattrs", what);
        if (len == 0)
                return 0;
        names = malloc((size_t)len);
        value = malloc((size_t)vcap);
        if (!names || !value)
                return log_errno(ENOMEM, "%s", what);
        len = flistxattr(src, names, (size_t)len);
        if (len < 0)
                return log_errno(errno, "%s: cannot list xattrs", what);
        for (char *n = names; n < names + len; n += strlen(n) + 1) {
                ssize_t v;

                /* overlayfs's own attributes would change what the overlay means */
                if (startswith(n, "trusted.overlay."))
                        continue;
                v = fgetxattr(src, n, value, (size_t)vcap);
                if (v < 0) {
                        log_warning_errno(errno, "%s: cannot read xattr %s", what, n);
                        continue;
                }
                if (fsetxattr(dst, n, value, (size_t)v, 0) < 0)
                        log_warning_errno(errno, "%s: cannot copy xattr %s", what, n);
        }
        return 0;
}

int copy_dir_attrs(int src, int dst, const char *what)
{
        struct stat st;
        struct timespec ts[2];

        if (fstat(src, &st) < 0)
                return log_errno(errno, "%s: cannot stat", what);
        /* chown first: it may clear set-id bits, which the chmod below restores */
        if (fchown(dst, st.st_uid, st.st_gid) < 0)
                return log_errno(errno, "%s: cannot set owner", what);
        copy_xattrs(src, dst, what);
        if (fchmod(dst, st.st_mode & 07777) < 0)
                return log_errno(errno, "%s: cannot set mode", what);
        ts[0] = st.st_atim;
        ts[1] = st.st_mtim;
        if (futimens(dst, ts) < 0)
                log_warning_errno(errno, "%s: cannot set times", what);
        return 0;
}
