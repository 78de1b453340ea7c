/* SPDX-License-Identifier: MIT */
/*
 * links: hardlink groups of the upper. The first name of an upper inode with
 * nlink > 1 is written as usual; its lower path (as it is during phase 1, i.e. the
 * temporary) is remembered here under the upper (dev, ino), and every later name
 * becomes a link to it. Open addressing, linear probing, grown at half full.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "merge/internal.h"
#include "shared/util.h"

struct link_entry {
        dev_t dev;
        ino_t ino;
        char *path; /* NULL: empty slot */
};

static size_t slot_of(dev_t dev, ino_t ino, size_t cap)
{
        uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev;
        h ^= h >> 29;
        return (size_t)(h & (cap - 1));
}

const char *merge_link_lookup(struct merge_ctx *c, dev_t dev, ino_t ino)
{
        if (c->cap_links == 0)
                return NULL;
        for (size_t i = slot_of(dev, ino, c->cap_links);; i = (i + 1) & (c->cap_links - 1)) {
                struct link_entry *e = &c->links[i];
                if (!e->path)
                        return NULL;
                if (e->dev == dev && e->ino == ino)
                        return e->path;
        }
}

static void insert(struct link_entry *tab, size_t cap, struct link_entry e)
{
        size_t i = slot_of(e.dev, e.ino, cap);
        while (tab[i].path)
                i = (i + 1) & (cap - 1);
        tab[i] = e;
}

int merge_link_add(struct merge_ctx *c, dev_t dev, ino_t ino, const char *lower_relpath)
{
        char *copy;

        if ((c->n_links + 1) * 2 > c->cap_links) {
                size_t ncap = c->cap_links ? c->cap_links * 2 : 64;
                struct link_entry *tab = calloc(ncap, sizeof(*tab));
                if (!tab)
                        return -ENOMEM;
                for (size_t i = 0; i < c->cap_links; i++)
                        if (c->links[i].path)
                                insert(tab, ncap, c->links[i]);
                free(c->links);
                c->links = tab;
                c->cap_links = ncap;
        }
        copy = strdup(lower_relpath);
        if (!copy)
                return -ENOMEM;
        insert(c->links, c->cap_links, (struct link_entry){dev, ino, copy});
        c->n_links++;
        return 0;
}

void merge_links_free(struct merge_ctx *c)
{
        for (size_t i = 0; i < c->cap_links; i++)
                free(c->links[i].path);
        free(c->links);
        c->links = NULL;
        c->n_links = c->cap_links = 0;
}
