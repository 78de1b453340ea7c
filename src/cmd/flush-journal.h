/* SPDX-License-Identifier: MIT */
/* flush-journal: the flush's side of checkpoints (flush-journal.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "checkpoint/checkpoint.h"
#include "config/state.h"
#include "shutdown/target.h"

struct flush_journal {
        struct journal j;
        struct merge_target t; /* the journal's filesystem, made writable */
        bool open;
};

/* Before the merge (not for a dry run): open the journal if there is one and, when
 * a checkpoint is current, write the final one (or retire it if that fails). */
void flush_journal_begin(struct flush_journal *fj, const char *root, const char *store, int storefd,
                         const struct state *s);
/* After the merge: complete -> retire the journal and note the shutdown. */
void flush_journal_end(struct flush_journal *fj, bool complete, uint64_t entries);
