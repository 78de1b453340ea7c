/* SPDX-License-Identifier: MIT */
/*
 * copy: file data from the upper (tmpfs) to a lower temporary. Only the data
 * segments are copied (SEEK_DATA/SEEK_HOLE), so sparse files stay sparse; a trailing
 * hole is made by ftruncate. Kernel copy paths first: copy_file_range (EXDEV between
 * tmpfs and a disk fs on current kernels), then sendfile, then read/write.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "merge/internal.h"
#include "shared/util.h"

enum copy_method { COPY_RANGE, COPY_SENDFILE, COPY_RW };

/* Copy len bytes at off from in to out (same offset). */
static int copy_segment(int in, int out, off_t off, off_t len, enum copy_method *m)
{
        while (len > 0) {
                size_t chunk = len > (1 << 30) ? (size_t)1 << 30 : (size_t)len;
                ssize_t n = -1;

                if (*m == COPY_RANGE) {
                        loff_t ioff = off, ooff = off;
                        n = copy_file_range(in, &ioff, out, &ooff, chunk, 0);
                        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                                      errno == EOPNOTSUPP || errno == EBADF)) {
                                *m = COPY_SENDFILE;
                                continue;
                        }
                } else if (*m == COPY_SENDFILE) {
                        off_t ioff = off;
                        if (lseek(out, off, SEEK_SET) < 0)
                                return -errno;
                        n = sendfile(out, in, &ioff, chunk);
                        if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
                                *m = COPY_RW;
                                continue;
                        }
                } else {
                        char buf[65536];
                        size_t want = chunk < sizeof(buf) ? chunk : sizeof(buf);
                        n = pread(in, buf, want, off);
                        if (n > 0) {
                                ssize_t done = 0;
                                while (done < n) {
                                        ssize_t w =
                                            pwrite(out, buf + done, (size_t)(n - done), off + done);
                                        if (w < 0) {
                                                if (errno == EINTR)
                                                        continue;
                                                return -errno;
                                        }
                                        done += w;
                                }
                        }
                }
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -ENODATA; /* the source shrank under us */
                off += n;
                len -= n;
        }
        return 0;
}

int merge_copy_data(int in, int out, off_t size, uint64_t *bytes)
{
        enum copy_method m = COPY_RANGE;
        off_t pos = 0;
        int r;

        while (pos < size) {
                off_t data = lseek(in, pos, SEEK_DATA), hole;
                if (data < 0) {
                        if (errno == ENXIO)
                                break; /* only a hole up to the end */
                        if (errno != EINVAL)
                                return -errno;
                        data = pos; /* no SEEK_DATA support: copy everything */
                        hole = size;
                } else {
                        hole = lseek(in, data, SEEK_HOLE);
                        if (hole < 0)
                                return -errno;
                }
                if (hole > size)
                        hole = size;
                if (data >= size)
                        break;
                r = copy_segment(in, out, data, hole - data, &m);
                if (r < 0)
                        return r;
                *bytes += (uint64_t)(hole - data);
                pos = hole;
        }
        if (ftruncate(out, size) < 0)
                return -errno;
        return 0;
}
