/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.c - the cache log, identical at both ends of a direction.
 *
 * Entries are appended at `head` in stream order. A chunk that would cross
 * the end of the ring starts at 0 instead; the gap [head, cap) is treated as
 * written (entries there are evicted) so live entries always follow each
 * other in ring order from the oldest to the newest, and eviction only ever
 * looks at the oldest entry:
 *
 *   |  live (newest)  |head-> new chunk |  evicted  | live (oldest) ... |
 */
#include "dedupe_internal.h"

uint32_t log_max_entries(const struct strait_dedupe_params *p)
{
	return (uint32_t)(p->capacity / p->min_chunk) +
	       STRAIT_DEDUPE_EXTRA_ENTRIES;
}

void log_init(struct dedupe_log *l, uint8_t *data, uint64_t cap,
	      struct log_entry *ent, uint32_t max_ent)
{
	l->data = data;
	l->cap = cap;
	l->ent = ent;
	l->max_ent = max_ent;
	log_clear(l);
}

void log_clear(struct dedupe_log *l)
{
	l->head = 0;
	l->used = 0;
	l->tail = 0;
	l->count = 0;
	l->next = 0;
}

static void evict_oldest(struct dedupe_log *l)
{
	l->used -= l->ent[l->tail].len;
	l->tail = log_idx_add(l, l->tail, 1);
	l->count--;
}

/* Evicts, oldest first, entries overlapping [a, a + n). */
static void evict_range(struct dedupe_log *l, uint64_t a, uint64_t n)
{
	while (l->count) {
		const struct log_entry *o = &l->ent[l->tail];

		if (o->off >= a + n || o->off + o->len <= a)
			break;
		evict_oldest(l);
	}
}

uint32_t log_insert(struct dedupe_log *l, uint32_t len, uint32_t check)
{
	uint32_t idx;

	if (l->head + len > l->cap) {
		evict_range(l, l->head, l->cap - l->head);
		l->head = 0;
	}
	evict_range(l, l->head, len);
	if (l->count == l->max_ent)
		evict_oldest(l);
	idx = l->next;
	l->ent[idx].off = l->head;
	l->ent[idx].len = len;
	l->ent[idx].check = check;
	l->next = log_idx_add(l, idx, 1);
	l->count++;
	l->used += len;
	l->head += len;
	return idx;
}
