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

void neigh_learn_pin(struct neigh_table *t, uint8_t family, const uint8_t *ip, uint16_t vlan,
		     const uint8_t *mac, uint64_t now_ms, bool pin)
{
	struct neigh_entry *s = &t->e[(neigh_hash(family, ip, vlan) & t->mask) * NEIGH_WAYS];
	struct neigh_entry *victim = NULL;
	for (int i = 0; i < NEIGH_WAYS; i++) {
		struct neigh_entry *e = &s[i];
		if (match(e, family, ip, vlan)) {
			/* Refresh: the common case is an unchanged MAC, written
			 * only when the clock moved, to keep the line clean. */
			if (memcmp(e->mac, mac, 6)) {
				memcpy(e->mac, mac, 6);
				t->updated++;
			}
			if (e->seen_ms != now_ms)
				e->seen_ms = now_ms;
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
	__atomic_store_n(&victim->valid, 0, __ATOMIC_RELEASE);
	memset(victim->ip, 0, sizeof(victim->ip));
	memcpy(victim->ip, ip, family == 4 ? 4 : 16);
	memcpy(victim->mac, mac, 6);
	victim->vlan = vlan;
	victim->family = family;
	victim->pinned = pin;
	victim->seen_ms = now_ms;
	__atomic_store_n(&victim->valid, 1, __ATOMIC_RELEASE);
	t->learned++;
}
