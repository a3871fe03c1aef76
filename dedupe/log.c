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
#include <xxhash.h>

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
	l->fp = NULL;
	l->unverified = NULL;
	l->file = NULL;
	l->file_dirty = false;
	log_clear(l);
}

void log_clear(struct dedupe_log *l)
{
	l->digest = 0;
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

uint32_t log_insert(struct dedupe_log *l, uint32_t len)
{
	uint32_t idx;

	if (unlikely(l->file && !l->file_dirty)) {
		/* the first change since the file was opened or committed */
		cache_file_mark_dirty(l->file);
		l->file_dirty = true;
	}
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
	l->ent[idx].check = 0;
	if (l->unverified)
		l->unverified[idx / 64] &= ~(1ULL << (idx % 64));
	l->next = log_idx_add(l, idx, 1);
	l->count++;
	l->used += len;
	l->head += len;
	return idx;
}

void log_distrust(struct dedupe_log *l, uint64_t *bits)
{
	uint32_t idx = l->tail;

	memset(bits, 0, ((size_t)l->max_ent + 63) / 64 * 8);
	for (uint32_t i = 0; i < l->count; i++) {
		bits[idx / 64] |= 1ULL << (idx % 64);
		idx = log_idx_add(l, idx, 1);
	}
	l->unverified = bits;
}

bool log_verify(struct dedupe_log *l, uint32_t idx)
{
	const struct log_entry *e = &l->ent[idx];
	XXH128_hash_t h = XXH3_128bits(l->data + e->off, e->len);

	if ((uint32_t)h.high64 != e->check || h.low64 != l->fp[idx])
		return false;
	l->unverified[idx / 64] &= ~(1ULL << (idx % 64));
	return true;
}

/* True if the live entries are what log_insert() leaves: in ring order,
 * each starting where the one before ended (or at 0 after the one wrap),
 * inside the ring, the newest ending at head, their bytes adding up to
 * `used` and never overlapping. Checked on a log loaded from a file, so
 * that eviction and every reference stay inside the ring. */
bool log_consistent(const struct dedupe_log *l,
		    const struct strait_dedupe_params *p)
{
	uint64_t sum = 0, end = 0;
	bool wrapped = false;
	uint32_t idx = l->tail;

	if (l->max_ent != log_max_entries(p) || l->count > l->max_ent ||
	    l->tail >= l->max_ent || l->next >= l->max_ent ||
	    log_idx_add(l, l->tail, l->count) != l->next ||
	    l->head > l->cap || l->used > l->cap)
		return false;
	for (uint32_t i = 0; i < l->count; i++, idx = log_idx_add(l, idx, 1)) {
		const struct log_entry *e = &l->ent[idx];

		if (e->len == 0 || e->len > p->max_chunk || e->off > l->cap ||
		    e->len > l->cap - e->off)
			return false;
		if (i && e->off != end) {
			if (e->off != 0 || wrapped)
				return false;
			wrapped = true;
		}
		/* after the wrap, the newest bytes must stay below the oldest */
		if (wrapped && e->off + e->len > l->ent[l->tail].off)
			return false;
		end = e->off + e->len;
		sum += e->len;
	}
	return sum == l->used && (!l->count || end == l->head);
}
