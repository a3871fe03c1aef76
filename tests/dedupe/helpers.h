/* SPDX-License-Identifier: BSD-3-Clause */
/* helpers.h - shared by the dedupe tests: codec pairs, data, buffers. */
#ifndef STRAIT_TEST_DEDUPE_HELPERS_H
#define STRAIT_TEST_DEDUPE_HELPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <strait/dedupe.h>

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static inline void buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		cr_assert(b->p);
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

struct codec {
	struct strait_dedupe_params p;
	void *emem, *dmem;
	struct strait_dedupe_encoder *enc;
	struct strait_dedupe_decoder *dec;
};

static inline void codec_open(struct codec *c, uint64_t cap, uint32_t min,
			      uint32_t avg, uint32_t max)
{
	size_t es, ds;

	strait_dedupe_params_default(&c->p);
	c->p.capacity = cap;
	if (min) {
		c->p.min_chunk = min;
		c->p.avg_chunk = avg;
		c->p.max_chunk = max;
	}
	es = strait_dedupe_encoder_size(&c->p);
	ds = strait_dedupe_decoder_size(&c->p);
	cr_assert(es && ds, "params rejected");
	c->emem = malloc(es);
	c->dmem = malloc(ds);
	c->enc = strait_dedupe_encoder_init(c->emem, es, &c->p, 7);
	c->dec = strait_dedupe_decoder_init(c->dmem, ds, &c->p);
	cr_assert(c->enc && c->dec);
}

static inline void codec_close(struct codec *c)
{
	free(c->emem);
	free(c->dmem);
}

struct flowmem {
	struct strait_dedupe_flow *f;
	void *mem;
};

static inline struct strait_dedupe_flow *flow_new(struct codec *c, uint32_t id)
{
	size_t n = strait_dedupe_flow_size(&c->p);
	void *m = malloc(n);

	cr_assert(m);
	return strait_dedupe_flow_init(m, n, &c->p, id);
}

/* Encodes all of data for flow f in one call, appending to *s. */
static inline uint64_t enc(struct codec *c, struct strait_dedupe_flow *f,
			   const void *data, size_t len,
			   enum strait_dedupe_mode mode, struct buf *s)
{
	struct strait_dedupe_encode_result r;
	size_t cap = strait_dedupe_encode_bound(c->enc, len);
	uint8_t *out = malloc(cap);
	int rc;

	cr_assert(out);
	rc = strait_dedupe_encode(c->enc, f, data, len, mode, UINT64_MAX,
				  out, cap, &r);
	cr_assert_eq(rc, 0, "encode: %s", strait_dedupe_strerror(rc));
	cr_assert_eq(r.in_used, len);
	buf_put(s, out, r.out_len);
	free(out);
	return r.decoded;
}

/* Decodes a stream fed in pieces of `in_piece` bytes into buffers of
 * `out_piece` bytes, routing output per flow into outs[flow]. Returns the
 * first error (or 0); asserts the stream ends on a record boundary when
 * it succeeds. */
static inline int dec_stream(struct codec *c, const uint8_t *s, size_t len,
			     size_t in_piece, size_t out_piece,
			     struct buf *outs, uint32_t nflows)
{
	uint8_t *out = malloc(out_piece ? out_piece : 1);
	size_t at = 0;
	int rc = 0;

	while (at < len || at == 0) {
		size_t n = len - at < in_piece ? len - at : in_piece;
		size_t used = 0;

		do {
			struct strait_dedupe_decode_result r;

			rc = strait_dedupe_decode(c->dec, s + at + used, n - used,
						  out, out_piece, &r);
			cr_assert_leq(r.out_len, out_piece);
			if (r.out_len) {
				/* good output before an error is still good */
				cr_assert_lt(r.flow, nflows, "flow %u", r.flow);
				buf_put(&outs[r.flow], out, r.out_len);
			}
			if (rc < 0)
				goto done;
			used += r.in_used;
		} while (rc == 1);
		cr_assert_eq(used, n);
		at += n;
		if (len == 0)
			break;
	}
	rc = strait_dedupe_decode_finish(c->dec);
done:
	free(out);
	return rc;
}

static inline uint64_t xs64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(xs64(&s) >> 32);
}

/* Compressible, text-like bytes: words from a small vocabulary. */
static inline void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
	static const char *w[] = { "block ", "write ", "replica ", "disk ",
		"sector ", "inode ", "the ", "of ", "journal ", "extent ",
		"0000 ", "ffff ", "\n", "vm-", "snapshot ", "commit " };
	uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 3;
	size_t i = 0;

	while (i < n) {
		const char *x = w[xs64(&s) % 16];

		while (*x && i < n)
			p[i++] = (uint8_t)*x++;
	}
}

#endif
