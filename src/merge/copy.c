/* SPDX-License-Identifier: MIT */
/*
 * copy: file data from the upper (tmpfs) to a lower temporary. Only the data
 * segments are copied (SEEK_DATA/SEEK_HOLE), so sparse files stay sparse; a trailing
 * hole is made by ftruncate. Kernel copy paths first: copy_file_range (EXDEV between
 * tmpfs and a disk fs on current kernels), then sendfile, then read/write. A path
 * that failed is not tried again for the rest of the merge (the caller keeps the
 * method): one failing copy_file_range per run, not one per file.
 *
 * The common case costs one call: a file whose allocated blocks cover its size
 * has no hole, so it is copied whole without asking for its segments, the output
 * offset is known (no lseek before sendfile) and the copy ends at the size (no
 * ftruncate). Its data is the same either way; only a file with blocks
 * preallocated past its end and a hole inside would lose that hole on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "merge/internal.h"
#include "shared/util.h"

/* Copy len bytes at off from in to out (same offset). *opos is out's file offset
 * (-1: unknown), which sendfile writes at. */
static int copy_segment(int in, int out, off_t off, off_t len, enum merge_copy_method *m,
                        off_t *opos)
{
        while (len > 0) {
                size_t chunk = len > (1 << 30) ? (size_t)1 << 30 : (size_t)len;
                ssize_t n = -1;

                if (*m == MERGE_COPY_RANGE) {
                        loff_t ioff = off, ooff = off;
                        n = copy_file_range(in, &ioff, out, &ooff, chunk, 0);
                        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                                      errno == EOPNOTSUPP || errno == EBADF)) {
                                *m = MERGE_COPY_SENDFILE;
                                continue;
                        }
                } else if (*m == MERGE_COPY_SENDFILE) {
                        off_t ioff = off;
                        if (*opos != off && lseek(out, off, SEEK_SET) < 0)
                                return -errno;
                        *opos = off;
                        n = sendfile(out, in, &ioff, chunk);
                        if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
                                *m = MERGE_COPY_RW;
                                continue;
                        }
                        if (n < 0)
                                *opos = -1;
                        else
                                *opos += n;
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

int merge_copy_data(int in, int out, const struct stat *st, enum merge_copy_method *m,
                    uint64_t *bytes)
{
        off_t size = st->st_size, pos = 0, opos = 0, end = 0;
        int r;

        if ((off_t)st->st_blocks * 512 >= size) {
                /* No room for a hole: all of it is data. */
                r = size > 0 ? copy_segment(in, out, 0, size, m, &opos) : 0;
                if (r < 0)
                        return r;
                *bytes += (uint64_t)size;
                return 0;
        }
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
                r = copy_segment(in, out, data, hole - data, m, &opos);
                if (r < 0)
                        return r;
                *bytes += (uint64_t)(hole - data);
                pos = end = hole;
        }
        /* A trailing hole (the new file is only as long as its last segment). */
        if (end != size && ftruncate(out, size) < 0)
                return -errno;
        return 0;
}
