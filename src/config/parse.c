/* SPDX-License-Identifier: MIT */
/*
 * parse: the two sources a user writes, the config file (`key = value`, '#'
 * comments) and the kernel command line (`ephemeral.key=value`), turned into
 * config_set() calls. libc only.
 */
#include <ctype.h>
#include <fcntl.h>

#include "config/config.h"
#include "config/internal.h"
#include "config/keys.h"
#include "shared/log.h"
#include "shared/util.h"

#define CMDLINE_ORIGIN "kernel command line"

static char *strip(char *s)
{
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

/* Parses one line of the config file; returns -EINVAL when it was bad. */
static int parse_line(struct config *c, char *line, const char *origin)
{
        char *eq, *key, *value, *hash;
        size_t n;

        line = strip(line);
        if (*line == '\0' || *line == '#')
                return 0;
        /* A '#' after white space starts a comment ('#' inside a value stays). */
        for (hash = line; (hash = strchr(hash, '#')); hash++)
                if (hash[-1] == ' ' || hash[-1] == '\t') {
                        *hash = '\0';
                        break;
                }
        eq = strchr(line, '=');
        if (!eq) {
                char buf[640];
                c->n_errors++;
                log_error("%s: '%s' skipped: expected 'key = value'", origin,
                          config_shown(line, strlen(line), buf, sizeof(buf)));
                return -EINVAL;
        }
        *eq = '\0';
        key = strip(line);
        value = strip(eq + 1);
        n = strlen(value);
        if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
                value[n - 1] = '\0';
                value++;
        }
        if (startswith(key, "ephemeral.")) {
                key += strlen("ephemeral.");
                if (*key == '\0')
                        return config_report_bad(c, origin, "", value, strlen(value),
                                                 "no key after 'ephemeral.'"),
                               -EINVAL;
        } else if (streq(key, "ephemeral") || streq(key, "enabled"))
                key = "";
        else if (*key == '\0')
                key = "(empty key)";
        return config_set(c, key, value, origin) == -EINVAL ? -EINVAL : 0;
}

int config_parse_file(struct config *c, const char *path)
{
        _cleanup_free_ char *buf = NULL;
        char origin[PATH_MAX + 32];
        unsigned lineno = 0;
        int bad = 0, r;
        size_t len;
        char *p;

        r = read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_errno(r, "cannot read config file %s", path);
        /* A NUL byte would hide the rest of the file: make it a line break. */
        for (size_t i = 0; i < len; i++)
                if (buf[i] == '\0')
                        buf[i] = '\n';
        p = buf;
        if (startswith(p, "\xef\xbb\xbf"))
                p += 3; /* a UTF-8 byte order mark, written by some editors */
        for (; p && *p;) {
                char *nl = strchr(p, '\n');
                if (nl)
                        *nl = '\0';
                lineno++;
                snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
                if (strlen(p) >= CONFIG_MAX_VALUE) {
                        c->n_errors++;
                        log_error("%s: line too long, skipped", origin);
                        bad++;
                } else if (parse_line(c, p, origin) < 0) {
                        bad++;
                }
                p = nl ? nl + 1 : NULL;
        }
        return bad;
}

/* Applies one "ephemeral..." word of the command line. */
static int cmdline_word(struct config *c, char *word)
{
        char *eq, *key;

        if (streq(word, "ephemeral"))
                return c->enabled = true, 0;
        key = (char *)startswith(word, "ephemeral");
        if (!key || (*key != '=' && *key != '.'))
                return 0;
        eq = strchr(word, '=');
        if (*key == '=')
                return config_set(c, "", key + 1, CMDLINE_ORIGIN) < 0 ? -EINVAL : 0;
        key++;
        if (*key == '\0' || *key == '=') {
                /* "ephemeral.=off" is not the switch: refuse it rather than guess. */
                config_report_bad(c, CMDLINE_ORIGIN, "", word, strlen(word),
                                  "no key after 'ephemeral.'");
                return -EINVAL;
        }
        if (!eq && !config_key_find(key))
                return config_set(c, key, "", CMDLINE_ORIGIN), 0; /* warns: unknown key */
        if (!eq) {
                config_report_bad(c, CMDLINE_ORIGIN, key, "", 0, "missing '=value'");
                return -EINVAL;
        }
        *eq = '\0';
        return config_set(c, key, eq + 1, CMDLINE_ORIGIN) == -EINVAL ? -EINVAL : 0;
}

int config_parse_cmdline(struct config *c, const char *cmdline)
{
        _cleanup_free_ char *word = NULL;
        const char *p = cmdline;
        int bad = 0;

        if (!cmdline)
                return 0;
        word = malloc(strlen(cmdline) + 1);
        if (!word)
                return log_errno(ENOMEM, "cannot parse the kernel command line");
        for (;;) {
                bool quoted = false;
                size_t n = 0;

                while (*p && isspace((unsigned char)*p))
                        p++;
                if (*p == '\0')
                        break;
                /* Like the kernel: double quotes group spaces and are removed. */
                for (; *p && (quoted || !isspace((unsigned char)*p)); p++) {
                        if (*p == '"')
                                quoted = !quoted;
                        else
                                word[n++] = *p;
                }
                word[n] = '\0';
                if (streq(word, "--"))
                        break; /* the rest belongs to init */
                if (cmdline_word(c, word) < 0)
                        bad++;
        }
        return bad;
}

int config_parse_cmdline_file(struct config *c, const char *path)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_errno(r, "cannot read the kernel command line from %s", path);
        /* An embedded NUL would hide the rest; treat it as a space. */
        for (size_t i = 0; i < len; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        return config_parse_cmdline(c, buf);
}
