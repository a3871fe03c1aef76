/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "neigh.h"

int neigh_init(struct neigh_table *t, uint32_t size)
{
	memset(t, 0, sizeof(*t));
	if (size < NEIGH_WAYS || (size & (size - 1)))
		return -EINVAL;
	t->e = calloc(size, sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	t->mask = size / NEIGH_WAYS - 1;
	return 0;
}

void neigh_free(struct neigh_table *t)
{
	free(t->e);
	t->e = NULL;
}

static inline uint32_t neigh_hash(uint8_t family, const uint8_t *ip, uint16_t vlan)
{
	uint32_t h = 2166136261u ^ vlan ^ ((uint32_t)family << 16);
	unsigned n = family == 4 ? 4 : 16;
	for (unsigned i = 0; i < n; i++)
		h = (h ^ ip[i]) * 16777619u;
	return h ^ (h >> 15);
}

static inline bool match(const struct neigh_entry *e, uint8_t family, const uint8_t *ip,
			 uint16_t vlan)
{
	return e->valid && e->family == family && e->vlan == vlan &&
	       !memcmp(e->ip, ip, family == 4 ? 4 : 16);
}

const struct neigh_entry *neigh_lookup(const struct neigh_table *t, uint8_t family,
				       const uint8_t *ip, uint16_t vlan)
{
	const struct neigh_entry *s = &t->e[(neigh_hash(family, ip, vlan) & t->mask) * NEIGH_WAYS];
	for (int i = 0; i < NEIGH_WAYS; i++)
		if (match(&s[i], family, ip, vlan))
			return &s[i];
	return NULL;
}

void neigh_learn(struct neigh_table *t, uint8_t family, const uint8_t *ip, uint16_t vlan,
		 const uint8_t *mac, uint64_t now_ms)
{
	neigh_learn_pin(t, family, ip, vlan, mac, now_ms, false);
}

/* The owner's writes to an entry other threads may read: seq odd around
 * them (neigh_read). */
static inline void write_begin(struct neigh_entry *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void write_end(struct neigh_entry *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
}

static void learn(struct neigh_table *t, uint8_t family, const uint8_t *ip, uint16_t vlan,
		  const uint8_t *mac, uint64_t now_ms, bool pin, bool borrowed)
{
	struct neigh_entry *s = &t->e[(neigh_hash(family, ip, vlan) & t->mask) * NEIGH_WAYS];
	struct neigh_entry *victim = NULL;
	for (int i = 0; i < NEIGH_WAYS; i++) {
		struct neigh_entry *e = &s[i];
		if (match(e, family, ip, vlan)) {
			if (borrowed && !e->borrowed)
				return; /* learnt here: better than a copy */
			/* Refresh: the common case is an unchanged MAC, written
			 * only when the clock moved, to keep the line clean. */
			if (memcmp(e->mac, mac, 6)) {
				write_begin(e);
				memcpy(e->mac, mac, 6);
				write_end(e);
				t->updated++;
			}
			if (e->seen_ms != now_ms)
				e->seen_ms = now_ms;
			if (e->borrowed && !borrowed)
				e->borrowed = 0;
			if (pin && !e->pinned)
				e->pinned = 1;
			return;
		}
		if (!e->valid) {
			if (!victim || victim->valid)
				victim = e;
		} else if (!e->pinned && (!victim || (victim->valid && e->seen_ms < victim->seen_ms))) {
			victim = e;
		}
	}
	if (!victim)
		return; /* a set of pinned entries */
	write_begin(victim);
	__atomic_store_n(&victim->valid, 0, __ATOMIC_RELAXED);
	memset(victim->ip, 0, sizeof(victim->ip));
	memcpy(victim->ip, ip, family == 4 ? 4 : 16);
	memcpy(victim->mac, mac, 6);
	victim->vlan = vlan;
	victim->family = family;
	victim->pinned = pin;
	victim->borrowed = borrowed;
	victim->seen_ms = now_ms;
	__atomic_store_n(&victim->valid, 1, __ATOMIC_RELAXED);
	write_end(victim);
	t->learned++;
}

void neigh_learn_pin(struct neigh_table *t, uint8_t family, const uint8_t *ip, uint16_t vlan,
		     const uint8_t *mac, uint64_t now_ms, bool pin)
{
	learn(t, family, ip, vlan, mac, now_ms, pin, false);
}

void neigh_learn_borrowed(struct neigh_table *t, uint8_t family, const uint8_t *ip,
			  uint16_t vlan, const uint8_t *mac, uint64_t now_ms)
{
	learn(t, family, ip, vlan, mac, now_ms, false, true);
}

bool neigh_read(const struct neigh_table *t, uint8_t family, const uint8_t *ip, uint16_t vlan,
		struct neigh_entry *out)
{
	const struct neigh_entry *s = &t->e[(neigh_hash(family, ip, vlan) & t->mask) * NEIGH_WAYS];
	for (int i = 0; i < NEIGH_WAYS; i++) {
		const struct neigh_entry *e = &s[i];
		for (int tries = 0; tries < 4; tries++) {
			uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
			if (seq & 1)
				continue;
			/* a racy copy, checked by seq below (as snap_seqlock.h) */
			memcpy(out, (const void *)e, sizeof(*out));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != seq)
				continue;
			if (match(out, family, ip, vlan))
				return true;
			break;
		}
	}
	return false;
}
