/* SPDX-License-Identifier: BSD-3-Clause */
#include "flows.h"

#include <stdlib.h>
#include <string.h>

enum { FIRST_BUCKETS = 1024 };

void flows_init(struct flow_table *t)
{
	memset(t, 0, sizeof(*t));
}

void flows_free(struct flow_table *t)
{
	for (struct flow *f = t->first, *n; f; f = n) {
		n = f->next;
		free(f);
	}
	free(t->b);
	memset(t, 0, sizeof(*t));
}

/* FNV-1a over one endpoint. */
static uint32_t ep_hash(const uint8_t *a, uint16_t port)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	return (h ^ (port >> 8)) * 16777619u;
}

/* Direction-free: the same for both directions of a connection. */
static uint32_t key_hash(uint8_t family, const uint8_t *a, uint16_t ap,
			 const uint8_t *b, uint16_t bp)
{
	return (ep_hash(a, ap) + ep_hash(b, bp)) ^ family;
}

static bool is(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp)
{
	return ap == bp && !memcmp(a, b, 16);
}

struct flow *flows_find(struct flow_table *t, const struct segment *s, int *dir)
{
	if (!t->b)
		return NULL;
	uint32_t h = key_hash(s->family, s->src, s->sport, s->dst, s->dport);
	for (struct flow *f = t->b[h & t->mask]; f; f = f->hnext) {
		if (f->family != s->family)
			continue;
		if (is(f->caddr, f->cport, s->src, s->sport) && is(f->saddr, f->sport, s->dst, s->dport)) {
			*dir = C2S;
			return f;
		}
		if (is(f->saddr, f->sport, s->src, s->sport) && is(f->caddr, f->cport, s->dst, s->dport)) {
			*dir = S2C;
			return f;
		}
	}
	return NULL;
}

static uint32_t flow_hash(const struct flow *f)
{
	return key_hash(f->family, f->caddr, f->cport, f->saddr, f->sport);
}

static bool grow(struct flow_table *t)
{
	uint32_t nb = t->b ? (t->mask + 1) * 2 : FIRST_BUCKETS;
	struct flow **b = calloc(nb, sizeof(*b));
	if (!b)
		return false;
	for (uint32_t i = 0; t->b && i <= t->mask; i++)
		for (struct flow *f = t->b[i], *n; f; f = n) {
			n = f->hnext;
			uint32_t j = flow_hash(f) & (nb - 1);
			f->hnext = b[j];
			b[j] = f;
		}
	free(t->b);
	t->b = b;
	t->mask = nb - 1;
	return true;
}

struct flow *flows_add(struct flow_table *t, const struct segment *s, bool client_is_src)
{
	if ((!t->b || t->n > t->mask) && !grow(t) && !t->b)
		return NULL;
	struct flow *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->id = ++t->count;
	f->family = s->family;
	memcpy(f->caddr, client_is_src ? s->src : s->dst, 16);
	memcpy(f->saddr, client_is_src ? s->dst : s->src, 16);
	f->cport = client_is_src ? s->sport : s->dport;
	f->sport = client_is_src ? s->dport : s->sport;
	f->nvlan = s->nvlan;
	memcpy(f->vlan, s->vlan, sizeof(f->vlan));
	f->group = -1;
	for (int d = 0; d < 2; d++) {
		f->d[d].flow = f;
		f->d[d].dir = (uint8_t)d;
	}
	uint32_t j = flow_hash(f) & t->mask;
	f->hnext = t->b[j];
	t->b[j] = f;
	f->in_table = true;
	t->n++;
	if (t->last)
		t->last->next = f;
	else
		t->first = f;
	t->last = f;
	return f;
}

void flows_retire(struct flow_table *t, struct flow *f)
{
	if (!f->in_table)
		return;
	struct flow **pp = &t->b[flow_hash(f) & t->mask];
	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	f->hnext = NULL;
	f->in_table = false;
	t->n--;
}
