/* SPDX-License-Identifier: MIT */
/*
 * values: the lexical side of configuration values (paths, sizes, modes) and the
 * machine facts sizes are measured against (RAM, swap). libc only.
 */
#include <ctype.h>
#include <inttypes.h>
#include <sys/sysinfo.h>

#include "config/config.h"
#include "config/internal.h"
#include "config/state.h"
#include "shared/log.h"
#include "shared/util.h"

static bool path_char_ok(unsigned char ch)
{
        /* Bytes >= 0x80 are UTF-8. Everything that means something to the kernel
         * command line (space, quotes), to our lists (',' ':') or to overlayfs
         * options (',' ':' '\\' '=') is refused, as is anything unprintable. */
        return isalnum(ch) || ch >= 0x80 || strchr("/._-+@~%", ch);
}

int config_normalize_path(const char *path, char *out, unsigned outlen, const char **why)
{
        size_t o = 0, n;
        const char *p = path, *s;

        if (!path || *path == '\0')
                return *why = "empty path", -EINVAL;
        if (*path != '/')
                return *why = "not an absolute path", -EINVAL;
        while ((s = path_next_component(&p, &n))) {
                if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return *why = "contains a '.' or '..' component", -EINVAL;
                if (n > NAME_MAX)
                        return *why = "a component is longer than NAME_MAX", -EINVAL;
                if (o + 1 + n + 1 > outlen || o + 1 + n + 1 > PATH_MAX)
                        return *why = "path too long", -EINVAL;
                out[o++] = '/';
                memcpy(out + o, s, n);
                o += n;
        }
        if (o == 0) {
                if (outlen < 2)
                        return *why = "path too long", -EINVAL;
                out[o++] = '/';
        }
        out[o] = '\0';
        return 0;
}

int config_check_path(const char *path, char *out, unsigned outlen, const char **why)
{
        static const char *const forbidden[] = {"/proc", "/sys", "/dev", "/run", "/boot"};
        int r;

        if (path && *path == '/')
                for (const char *q = path; *q; q++)
                        if (!path_char_ok((unsigned char)*q))
                                return *why = "contains a character that is not allowed in a "
                                              "path here (space, quote, ',', ':', '=', '\\' or "
                                              "a control character)",
                                       -EINVAL;
        r = config_normalize_path(path, out, outlen, why);
        if (r < 0)
                return r;
        if (streq(out, "/"))
                return *why = "'/' itself cannot be used", -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(forbidden); i++)
                if (path_is_under(out, forbidden[i]))
                        return *why = "/proc, /sys, /dev, /run and /boot (and anything "
                                      "below them) cannot be used",
                               -EINVAL;
        return 0;
}

/* The decimal digits at *p (at least one) into *ret; *p is left after them. */
static int parse_leading_number(const char **p, uint64_t *ret)
{
        uint64_t v = 0;

        if (!*p || **p < '0' || **p > '9')
                return -EINVAL;
        for (; **p >= '0' && **p <= '9'; (*p)++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(**p - '0');
        }
        *ret = v;
        return 0;
}

int parse_size(const char *s, struct size_spec *ret)
{
        uint64_t v, mul = 1;
        bool percent = false;
        const char *p = s;
        int r = parse_leading_number(&p, &v);

        if (r < 0)
                return r;
        if (*p == '%') {
                percent = true;
        } else if (*p != '\0') {
                /* k, M, G, T (either case): powers of 1024 */
                static const char units[] = "kmgt";
                const char *u = memchr(units, tolower((unsigned char)*p), sizeof(units) - 1);

                if (!u)
                        return -EINVAL;
                mul = 1ULL << (10 * (u - units + 1));
        }
        if (*p != '\0' && p[1] != '\0')
                return -EINVAL;
        if (v == 0)
                return -EINVAL;
        if (percent && v > 100)
                return -EINVAL;
        if (v > UINT64_MAX / mul)
                return -ERANGE;
        *ret = (struct size_spec){.value = v * mul, .percent = percent};
        return 0;
}

int parse_duration(const char *s, uint64_t max, uint64_t *ret_sec)
{
        static const struct {
                const char *suffix;
                uint64_t mul;
        } units[] = {{"", 1}, {"s", 1}, {"min", 60}, {"h", 3600}};
        uint64_t v;
        const char *p = s;
        int r = parse_leading_number(&p, &v);

        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                if (!streq(p, units[i].suffix))
                        continue;
                if (v > max / units[i].mul)
                        return -ERANGE;
                *ret_sec = v * units[i].mul;
                return 0;
        }
        return -EINVAL;
}

uint64_t size_to_bytes(const struct size_spec *s, uint64_t ram_bytes)
{
        if (!s->percent)
                return s->value;
        /* Divide first: ram * 100 could overflow on absurd inputs. */
        return ram_bytes / 100 * s->value + ram_bytes % 100 * s->value / 100;
}

char *format_size(uint64_t bytes, char *buf, unsigned len)
{
        static const char units[] = "KMGTPE";
        double v = (double)bytes;
        int u = -1;

        if (len == 0)
                return buf;
        if (bytes < 1024) {
                snprintf(buf, len, "%" PRIu64 "B", bytes);
                return buf;
        }
        while (v >= 1024.0 && u < 5) {
                v /= 1024.0;
                u++;
        }
        snprintf(buf, len, "%.1f%c", v, units[u]);
        return buf;
}

/* Declared in state.h; defined here because config parses them and the sweeper,
 * which links config but not state, must link. */
const char *dir_mode_to_string(enum dir_mode m)
{
        return m == DIR_DISCARD ? "discard" : "persist";
}

int dir_mode_from_string(const char *s, enum dir_mode *ret)
{
        if (streq(s, "persist"))
                *ret = DIR_PERSIST;
        else if (streq(s, "discard"))
                *ret = DIR_DISCARD;
        else
                return -EINVAL;
        return 0;
}

uint64_t config_ram_bytes(void)
{
        struct sysinfo si;
        long pages, page;

        if (sysinfo(&si) == 0 && si.totalram > 0)
                return (uint64_t)si.totalram * si.mem_unit;
        pages = sysconf(_SC_PHYS_PAGES);
        page = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0)
                return (uint64_t)pages * (uint64_t)page;
        /* Never 0: a percentage of 0 would become "size=0", which tmpfs reads as
         * unlimited. Assume a small machine so that the cap stays conservative. */
        return 512ULL << 20;
}

uint64_t config_ram_swap_bytes(void)
{
        struct sysinfo si;

        if (sysinfo(&si) == 0 && si.totalram > 0)
                return ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
        return config_ram_bytes();
}

/* An absolute size beyond RAM + swap is no cap at all: cap it there, and say so
 * unless it is a built-in default (e.g. /tmp:5G on a 1 GiB machine). */
void config_cap_size(struct size_spec *s, const char *key, const char *origin)
{
        uint64_t limit = config_ram_swap_bytes();
        char a[32], b[32];

        if (s->percent || s->value <= limit)
                return;
        if (!streq(origin, CONFIG_DEFAULT_ORIGIN))
                log_warning("%s: ephemeral.%s: %s is more than RAM + swap: capped at %s", origin,
                            key, format_size(s->value, a, sizeof(a)),
                            format_size(limit, b, sizeof(b)));
        s->value = limit;
}
