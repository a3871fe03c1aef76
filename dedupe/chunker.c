/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * chunker.c - content-defined chunking: gear hash, FastCDC normalized.
 *
 * h = (h << 1) + gear[byte]; a cut follows the byte where (h & mask) == 0.
 * Bytes [0, min) are skipped (never a cut, never hashed). Between min and
 * `normal` (= avg) the mask has log2(avg) + 2 bits, after it log2(avg) - 2
 * bits (normalization level 2: chunk sizes cluster around avg). At max the
 * chunk is cut regardless. The mask bits end at bit 59: a bit at position b
 * of h depends on the last b + 1 bytes, so every cut looks at >= 40 bytes.
 *
 * Speed. The hash is a serial chain (shift, add per byte) and the loop is
 * bound by instructions per byte, so it takes four bytes per step:
 *
 *     t  = h << 4                              the only work on the chain
 *     p1 = gear[3][b0]                         (gear[k] = gear << k)
 *     p2 = p1 + gear[2][b1]
 *     p3 = p2 + gear[1][b2]
 *     p4 = p3 + gear[0][b3]                    off the chain
 *     t + p1 = 8 h1,  t + p2 = 4 h2,  t + p3 = 2 h3,  t + p4 = h4
 *
 * where hk is the hash after byte k. Testing (8 h1) against mask << 3 is
 * testing h1 against mask (the mask's top bit is 59, nothing shifts out),
 * so the cuts are exactly those of the one-byte loop: 2 chain ops and about
 * 5 instructions per byte instead of 8.
 *
 * Samples. The resemblance features (resemble.c) need content-defined
 * samples of each chunk: the positions where the top SAMPLE_BITS bits of h
 * are zero (about one per 64 bytes), keeping bits 20..51 of h there (a hash
 * of the last 52 bytes). Those top bits are a subset of both cut masks, so
 * one test per byte does both jobs: a cut is a sample whose remaining mask
 * bits are zero too. The samples are not part of the format (the decoder
 * never sees them); only the cuts are.
 */
#include "dedupe_internal.h"
#include "gear.h"

/* Keeps the compiler from folding p4 back into the chain (t + p3 + g...). */
#define OFF_CHAIN(x) __asm__("" : "+r"(x))

#define SAMPLE_BITS 6

static uint64_t mask_bits(unsigned k)
{
	return ((1ULL << k) - 1) << (60 - k);
}

void chunker_cfg_init(struct chunker_cfg *c,
		      const struct strait_dedupe_params *p)
{
	unsigned bits = (unsigned)__builtin_ctz(p->avg_chunk);

	c->min = p->min_chunk;
	c->normal = p->avg_chunk;
	c->max = p->max_chunk;
	unsigned lbits = bits > 3 ? bits - 2 : 1;

	c->mask_s = mask_bits(bits + 2);
	c->mask_l = mask_bits(lbits);
	c->mask_r = mask_bits(lbits < SAMPLE_BITS ? lbits : SAMPLE_BITS);
}

static inline void sample(struct chunk_scan *st, uint64_t v)
{
	if (st->ns < CHUNK_SAMPLES)
		st->samp[st->ns] = (uint32_t)v;
	st->ns++;
}

/* Hashes p[i..end); returns the cut length (index + 1 of the cut byte) or 0
 * if none, with *hp and *ip advanced to end. Samples go to st. */
static inline size_t scan(const uint8_t *p, size_t *ip, size_t end,
			  uint64_t *hp, uint64_t m, uint64_t r,
			  struct chunk_scan *st)
{
	const uint64_t m1 = m << 1, m2 = m << 2, m3 = m << 3;
	const uint64_t r1 = r << 1, r2 = r << 2, r3 = r << 3;
	uint64_t h = *hp;
	size_t i = *ip;

	for (; i + 4 <= end; i += 4) {
		uint64_t t = h << 4;
		uint64_t p1 = gear[3][p[i]];
		uint64_t p2 = p1 + gear[2][p[i + 1]];
		uint64_t p3 = p2 + gear[1][p[i + 2]];
		uint64_t p4 = p3 + gear[0][p[i + 3]];

		OFF_CHAIN(p4);
		h = t + p4;
		if (unlikely(!((t + p1) & r3))) {
			if (!((t + p1) & m3))
				return i + 1;
			sample(st, (t + p1) >> 23);
		}
		if (unlikely(!((t + p2) & r2))) {
			if (!((t + p2) & m2))
				return i + 2;
			sample(st, (t + p2) >> 22);
		}
		if (unlikely(!((t + p3) & r1))) {
			if (!((t + p3) & m1))
				return i + 3;
			sample(st, (t + p3) >> 21);
		}
		if (unlikely(!(h & r))) {
			if (!(h & m))
				return i + 4;
			sample(st, h >> 20);
		}
	}
	for (; i < end; i++) {
		h = (h << 1) + gear[0][p[i]];
		if (!(h & r)) {
			if (!(h & m))
				return i + 1;
			sample(st, h >> 20);
		}
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
		st->ns = 0;
	}
	if (i < normal) {
		cut = scan(p, &i, normal, &h, c->mask_s, c->mask_r, st);
		if (cut)
			goto found;
	}
	if (i < end) {
		cut = scan(p, &i, end, &h, c->mask_l, c->mask_r, st);
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
	struct chunk_scan st = { 0 };

	chunker_cfg_init(&c, p);
	return chunker_find(&c, data, len, &st, true);
}
