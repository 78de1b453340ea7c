/* SPDX-License-Identifier: MIT */
/*
 * ephemeral config: every configuration key with its default and meaning, from
 * the one table (config/keys.c), as text (--keys, the default), as the README's
 * Markdown table (--markdown), as the commented example file (--example) or as
 * the ephemeral.conf(5) key list in man(7) markup (--man). The generated
 * documents are checked against the table by tests/lint.sh.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "config/keys.h"
#include "shared/log.h"
#include "shared/util.h"

enum format { FMT_KEYS, FMT_MARKDOWN, FMT_EXAMPLE, FMT_MAN };

/* "ephemeral.dirs", or "ephemeral" for the switch. */
static const char *full_name(const struct config_key *k, char *buf, size_t len)
{
        snprintf(buf, len, "ephemeral%s%s", *k->name ? "." : "", k->name);
        return buf;
}

/* The key as written in the config file: "dirs", or "ephemeral" for the switch. */
static const char *file_name(const struct config_key *k)
{
        return *k->name ? k->name : "ephemeral";
}

/* Prints text wrapped at width, each line started by prefix. */
static void wrap(FILE *f, const char *prefix, const char *text, size_t width)
{
        const char *p = text;

        while (*p) {
                size_t n = strlen(p), cut = n;

                if (n > width) {
                        cut = width;
                        while (cut > 0 && p[cut] != ' ')
                                cut--;
                        if (cut == 0)
                                cut = strcspn(p, " ");
                }
                fprintf(f, "%s%.*s\n", prefix, (int)cut, p);
                p += cut;
                while (*p == ' ')
                        p++;
        }
}

/* Markdown table cells: '|' must be escaped. */
static void md(FILE *f, const char *s)
{
        for (; *s; s++) {
                if (*s == '|')
                        fputc('\\', f);
                fputc(*s, f);
        }
}

/* man(7) text: a leading '.' or '\'' and every '\' must be escaped. */
static void roff(FILE *f, const char *s)
{
        if (*s == '.' || *s == '\'')
                fputs("\\&", f);
        for (; *s; s++) {
                if (*s == '\\')
                        fputs("\\e", f);
                else if (*s == '-')
                        fputs("\\-", f);
                else if (*s == '`')
                        continue;
                else
                        fputc(*s, f);
        }
}

static void print_key(FILE *f, enum format fmt, const struct config_key *k)
{
        char name[64];

        full_name(k, name, sizeof(name));
        switch (fmt) {
        case FMT_KEYS:
                fprintf(f, "%s = %s%s%s\n", name, k->def ? k->def : "(", k->def ? "" : k->def_text,
                        k->def ? "" : ")");
                fprintf(f, "    %s", config_key_syntax(k));
                if (k->type == KEY_NUMBER)
                        fprintf(f, " (%s, 1-%llu)", k->unit, (unsigned long long)k->max);
                fputc('\n', f);
                wrap(f, "    ", k->doc, 76);
                break;
        case FMT_MARKDOWN:
                fprintf(f, "| `%s` | ", name);
                if (k->def) {
                        fputc('`', f);
                        md(f, k->def);
                        fputc('`', f);
                } else {
                        fprintf(f, "(%s)", k->def_text);
                }
                fputs(" | ", f);
                md(f, k->doc);
                if (k->example) {
                        fputs(" Example: `", f);
                        md(f, k->example);
                        fputc('`', f);
                }
                fputs(" |\n", f);
                break;
        case FMT_EXAMPLE:
                fputc('\n', f);
                wrap(f, "# ", k->doc, 84);
                if (k->example)
                        fprintf(f, "# Example: %s = %s\n", file_name(k), k->example);
                if (k->def)
                        fprintf(f, "#%s = %s\n", file_name(k), k->def);
                else
                        fprintf(f, "# Unset: %s.\n", k->def_text);
                break;
        case FMT_MAN:
                fputs(".TP\n.BR ", f);
                roff(f, name);
                fputs(" \" = \" \"", f);
                roff(f, k->def ? k->def : "(unset)");
                fputs("\"\n", f);
                roff(f, k->doc);
                fputc('\n', f);
                if (!k->def) {
                        fputs("Unset: ", f);
                        roff(f, k->def_text);
                        fputs(".\n", f);
                }
                if (k->example) {
                        fputs("Example: ", f);
                        roff(f, k->example);
                        fputc('\n', f);
                }
                break;
        }
}

static const char example_head[] =
    "# /etc/ephemeral.conf - settings of ephemeral (RAM overlays, tmpfs mounts, sweeper).\n"
    "# Generated by `ephemeral config --example` from the table of keys: edit the table\n"
    "# (src/config/keys.c), not this file.\n"
    "#\n"
    "# Precedence: built-in defaults < this file < the kernel command line, where every key\n"
    "# is written with an \"ephemeral.\" prefix (ephemeral.dirs=/etc) and `ephemeral=off`\n"
    "# disables everything for one boot (rescue switch). A later source replaces a key's\n"
    "# whole value. Bad entries are reported with their text and skipped; the rest applies.\n"
    "# Lists are comma-separated; `none` empties a list.\n"
    "#\n"
    "# The initramfs reads its own copy of this file: after editing, rebuild the image\n"
    "# (`update-initramfs -u` on Debian/Ubuntu/Raspberry Pi OS, `mkinitcpio -P` on\n"
    "# Arch/Artix, `dracut -f` on Fedora).\n"
    "#\n"
    "# Every key below shows its default, commented out.\n";

static void usage(FILE *f)
{
        fprintf(f, "Usage: ephemeral config [--keys | --markdown | --example | --man]\n"
                   "Print every configuration key with its default and meaning.\n\n"
                   "  --keys       as text (the default)\n"
                   "  --markdown   as the README's table\n"
                   "  --example    as a commented /etc/ephemeral.conf\n"
                   "  --man        as the key list of ephemeral.conf(5)\n");
}

int cmd_config(int argc, char *argv[])
{
        static const struct option options[] = {
            {"keys", no_argument, NULL, 'k'},    {"markdown", no_argument, NULL, 'm'},
            {"example", no_argument, NULL, 'e'}, {"man", no_argument, NULL, 'n'},
            {"help", no_argument, NULL, 'h'},    {0},
        };
        enum format fmt = FMT_KEYS;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'k':
                        fmt = FMT_KEYS;
                        break;
                case 'm':
                        fmt = FMT_MARKDOWN;
                        break;
                case 'e':
                        fmt = FMT_EXAMPLE;
                        break;
                case 'n':
                        fmt = FMT_MAN;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_OK;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                log_error("config: unexpected argument '%s'", argv[optind]);
                return EXIT_USAGE;
        }
        if (fmt == FMT_EXAMPLE)
                fputs(example_head, stdout);
        if (fmt == FMT_MARKDOWN)
                fputs("| key (cmdline) | default | meaning |\n|---|---|---|\n", stdout);
        for (size_t i = 0; i < config_n_keys; i++)
                print_key(stdout, fmt, &config_keys[i]);
        if (fflush(stdout) != 0 || ferror(stdout))
                return log_errno(errno, "config: cannot write the output"), EXIT_SYSTEM;
        return EXIT_OK;
}
