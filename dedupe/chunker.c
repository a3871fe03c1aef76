/* SPDX-License-Identifier: proprietary */
/*
 * chunker.c - content-defined chunking: gear hash, FastCDC normalized.
 *
 * h = (h << 1) + gear[byte]; a cut follows the byte where (h & mask) == 0.
 * Bytes [0, min) are skipped (never a cut, never hashed). Between min and
 * `normal` (= avg) the mask has log2(avg) + 2 bits, after it log2(avg) - 2
 * bits (normalization level 2: chunk sizes cluster around avg). At max the
 * chunk is cut regardless. The mask bits sit at 61..(62 - k): a bit at
 * position b of h depends on the last b + 1 bytes, so every cut looks at a
 * window of >= 40 bytes.
 *
 * Speed: the hash chain is serial (shift, add per byte). Two bytes per step
 * shorten it to one shift and one add per two bytes:
 *     t  = h << 2
 *     a  = t + (gear[b0] << 1)          == 2 * (h after b0), off the chain
 *     h' = t + ((gear[b0] << 1) + gear[b1])
 * The cut test after b0 is (a & (mask << 1)) == 0, equal to the one-byte
 * test since the mask's top bit is below 63. Both tests are folded into one
 * rarely taken branch.
 */
#include "dedupe_internal.h"
#include "gear.h"

static uint64_t mask_bits(unsigned k)
{
	return ((1ULL << k) - 1) << (62 - k);
}

void chunker_cfg_init(struct chunker_cfg *c,
		      const struct strait_dedupe_params *p)
{
	unsigned bits = (unsigned)__builtin_ctz(p->avg_chunk);

	c->min = p->min_chunk;
	c->normal = p->avg_chunk;
	c->max = p->max_chunk;
	c->mask_s = mask_bits(bits + 2);
	c->mask_l = mask_bits(bits > 3 ? bits - 2 : 1);
}

/* Hashes p[i..end); returns the cut length (index + 1 of the cut byte) or 0
 * if none, with *hp and *ip advanced to end. */
static inline size_t scan(const uint8_t *p, size_t *ip, size_t end,
			  uint64_t *hp, uint64_t m)
{
	uint64_t h = *hp;
	const uint64_t m2 = m << 1;
	size_t i = *ip;

	for (; i + 2 <= end; i += 2) {
		uint64_t g0 = gear[p[i]] << 1;
		uint64_t t = h << 2;
		uint64_t a = t + g0;

		h = t + (g0 + gear[p[i + 1]]);
		if (unlikely(!(a & m2) || !(h & m))) {
			if (!(a & m2))
				return i + 1;
			return i + 2;
		}
	}
	if (i < end) {
		h = (h << 1) + gear[p[i]];
		i++;
		if (!(h & m))
			return i;
	}
	*hp = h;
	*ip = i;
	return 0;
}

size_t chunker_find(const struct chunker_cfg *c, const uint8_t *p,
		    size_t avail, struct chunk_scan *st, bool final)
{
	size_t i = st->pos, cut;
	uint64_t h = st->hash;
	size_t normal = c->normal < avail ? c->normal : avail;
	size_t end = c->max < avail ? c->max : avail;

	if (i < c->min) {
		i = c->min;
		h = 0;
	}
	if (i < normal) {
		cut = scan(p, &i, normal, &h, c->mask_s);
		if (cut)
			goto found;
	}
	if (i < end) {
		cut = scan(p, &i, end, &h, c->mask_l);
		if (cut)
			goto found;
	}
	if (avail >= c->max) {
		cut = c->max;
		goto found;
	}
	if (final && avail) {
		cut = avail;
		goto found;
	}
	st->pos = (uint32_t)(i > avail ? avail : i);
	st->hash = h;
	if (i > avail) /* not started: avail < min */
		st->pos = 0, st->hash = 0;
	return 0;
found:
	st->pos = 0;
	st->hash = 0;
	return cut;
}

size_t strait_dedupe_chunk_next(const struct strait_dedupe_params *p,
				const uint8_t *data, size_t len)
{
	struct chunker_cfg c;
	struct chunk_scan st = { 0, 0 };

	chunker_cfg_init(&c, p);
	return chunker_find(&c, data, len, &st, true);
}
