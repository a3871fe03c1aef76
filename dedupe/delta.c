/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * delta.c - a chunk as copies from a base in the log and inserted bytes.
 *
 * The instructions of a DELTA record (format in include/strait/dedupe.h):
 *
 *   op := varint lit_len | lit_len bytes | varint copy_len
 *         [ | zigzag varint adj   if copy_len > 0 ]
 *
 * The decoder keeps a base cursor (0 at the start): inserted bytes advance
 * it as if they replaced as many base bytes, and a copy starts at cursor +
 * adj and leaves the cursor at its end. A chunk edited in place (a changed
 * row, a patched address) so costs a few bytes per edit: adj is 0. An op
 * with copy_len 0 ends the chunk; an op that adds no byte is refused.
 *
 * Encoder: a hash table of the base's 8-byte strings at every DELTA_STEP-th
 * position (positions of the current base only: each entry carries a
 * generation), then a greedy scan of the chunk that first tries the
 * position the last copy predicts (in place) and then the table, extends
 * each match both ways and emits the longest it finds there. It gives up
 * as soon as the instructions reach the caller's limit (the delta would
 * not pay).
 */
#include "dedupe_internal.h"

#define DELTA_STEP 4      /* base positions indexed */
#define MIN_MATCH 8

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t slot_of(uint64_t v)
{
	return (uint32_t)((v * 0x9E3779B97F4A7C15ULL) >> (64 - DELTA_HASH_LOG));
}

/* Bytes equal from a and b on, at most n. */
static inline size_t common(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t k = 0;

	while (k + 8 <= n) {
		uint64_t x = rd64(a + k) ^ rd64(b + k);

		if (x)
			return k + ((size_t)__builtin_ctzll(x) >> 3);
		k += 8;
	}
	while (k < n && a[k] == b[k])
		k++;
	return k;
}

struct ops {
	uint8_t *p, *end;
	bool full;
};

static void put_var(struct ops *o, uint64_t v)
{
	if (o->end - o->p < 10) {
		o->full = true;
		return;
	}
	o->p += put_varint(o->p, v);
}

static void put_op(struct ops *o, const uint8_t *lit, size_t lit_len,
		   size_t copy_len, int64_t adj)
{
	put_var(o, lit_len);
	if (o->full || (size_t)(o->end - o->p) < lit_len) {
		o->full = true;
		return;
	}
	memcpy(o->p, lit, lit_len);
	o->p += lit_len;
	put_var(o, copy_len);
	if (copy_len)
		put_var(o, ((uint64_t)adj << 1) ^ (uint64_t)(adj >> 63));
}

size_t delta_encode(struct delta_ws *w, const uint8_t *base, size_t blen,
		    const uint8_t *t, size_t tlen, uint8_t *out, size_t cap)
{
	struct ops o = { out, out + cap, false };
	uint32_t gen;
	size_t i = 0, lit = 0, cur = 0; /* cur: the decoder's base cursor */
	int64_t d = 0;                  /* base pos - chunk pos of the last copy */

	if (blen < MIN_MATCH || tlen < MIN_MATCH || blen > DELTA_BASE_MAX)
		return 0;
	if (++w->gen > 0xffff) {
		memset(w->tab, 0, sizeof(w->tab));
		w->gen = 1;
	}
	gen = w->gen << 16;
	for (size_t p = 0; p + MIN_MATCH <= blen; p += DELTA_STEP)
		w->tab[slot_of(rd64(base + p))] = gen | (uint32_t)p;

	while (i + MIN_MATCH <= tlen) {
		uint64_t v = rd64(t + i);
		int64_t in_place = (int64_t)i + d;
		size_t c, len;
		uint32_t e;

		if (in_place >= 0 && (size_t)in_place + MIN_MATCH <= blen &&
		    rd64(base + in_place) == v) {
			c = (size_t)in_place;
		} else {
			e = w->tab[slot_of(v)];
			if ((e & 0xffff0000u) != gen ||
			    rd64(base + (e & 0xffff)) != v) {
				/* the longer nothing matched, the faster it skips */
				i += 1 + ((i - lit) >> 6);
				if (i - lit >= cap)
					return 0;
				continue;
			}
			c = e & 0xffff;
		}
		while (i > lit && c > 0 && t[i - 1] == base[c - 1])
			i--, c--;
		len = MIN_MATCH + common(t + i + MIN_MATCH, base + c + MIN_MATCH,
				       tlen - i - MIN_MATCH < blen - c - MIN_MATCH ?
				       tlen - i - MIN_MATCH : blen - c - MIN_MATCH);
		cur += i - lit;
		put_op(&o, t + lit, i - lit, len, (int64_t)c - (int64_t)cur);
		if (o.full)
			return 0;
		cur = c + len;
		d = (int64_t)c - (int64_t)i;
		i += len;
		lit = i;
	}
	if (lit < tlen)
		put_op(&o, t + lit, tlen - lit, 0, 0);
	return o.full ? 0 : (size_t)(o.p - out);
}

int delta_decode(const uint8_t *base, size_t blen, const uint8_t *ops,
		 size_t olen, uint8_t *dst, size_t len)
{
	size_t p = 0, o = 0;
	uint64_t cur = 0, lit, cl, z;

	while (o < len) {
		if (get_varint(ops, olen, &p, &lit) <= 0 || lit > len - o ||
		    lit > olen - p)
			return STRAIT_DEDUPE_E_DELTA;
		memcpy(dst + o, ops + p, lit);
		p += lit;
		o += lit;
		cur += lit;
		if (get_varint(ops, olen, &p, &cl) <= 0)
			return STRAIT_DEDUPE_E_DELTA;
		if (cl == 0) {
			if (lit == 0 || o != len)
				return STRAIT_DEDUPE_E_DELTA;
			break;
		}
		if (get_varint(ops, olen, &p, &z) <= 0)
			return STRAIT_DEDUPE_E_DELTA;
		/* cur <= blen + len: the checks keep src in [0, blen] */
		{
			int64_t adj = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
			uint64_t src;

			if (adj < -(int64_t)cur || adj > (int64_t)blen)
				return STRAIT_DEDUPE_E_DELTA;
			src = (uint64_t)((int64_t)cur + adj);
			if (src > blen || cl > blen - src || cl > len - o)
				return STRAIT_DEDUPE_E_DELTA;
			memcpy(dst + o, base + src, cl);
			o += cl;
			cur = src + cl;
		}
	}
	return p == olen ? 0 : STRAIT_DEDUPE_E_DELTA;
}
