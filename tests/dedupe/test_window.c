/* SPDX-License-Identifier: BSD-3-Clause */
/* test_window.c - the literal window as a memory budget (params.window_log):
 * what the header carries, which decoders take a stream, what it saves. */
#include <xxhash.h>

#include "helpers.h"

#define CAP (64ull << 20) /* default window 1/8: 8 MiB, log 23 */
#define LEN (3u << 20)

static uint8_t *text(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);
	uint32_t x = seed;

	cr_assert(p);
	/* compressible, with repeats further apart than 2 MiB only by
	 * chance: words from a small table */
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)("etaoin shrdlu\n"[(x >> 16) % 14]);
	}
	return p;
}

/* A codec pair of capacity CAP whose encoder has window log ew and whose
 * decoder has dw (0: the default). */
static void pair(struct codec *c, uint32_t ew, uint32_t dw)
{
	struct strait_dedupe_params dp;
	size_t es, ds;

	strait_dedupe_params_default(&c->p);
	c->p.capacity = CAP;
	dp = c->p;
	c->p.window_log = ew;
	dp.window_log = dw;
	es = strait_dedupe_encoder_size(&c->p);
	ds = strait_dedupe_decoder_size(&dp);
	cr_assert(es && ds);
	c->emem = malloc(es);
	c->dmem = malloc(ds);
	c->enc = strait_dedupe_encoder_init(c->emem, es, &c->p, 3);
	c->dec = strait_dedupe_decoder_init(c->dmem, ds, &dp);
	cr_assert(c->enc && c->dec);
}

Test(window, params_bounds)
{
	struct strait_dedupe_params p;

	strait_dedupe_params_default(&p);
	p.capacity = CAP;
	cr_assert_eq(strait_dedupe_window_max(CAP), 8u << 20);
	cr_assert_eq(strait_dedupe_window_max(1ull << 40), 128u << 20);
	cr_assert_eq(strait_dedupe_window_max(4u << 20), 2u << 20);
	cr_assert_eq(strait_dedupe_window_max(0), 2u << 20); /* no cache yet */
	cr_assert_eq(strait_dedupe_window_max(4), 2u << 20);
	for (uint32_t w = 0; w < 40; w++) {
		p.window_log = w;
		cr_assert_eq(strait_dedupe_params_check(&p) == 0,
			     w == 0 || (w >= STRAIT_DEDUPE_WINDOW_LOG_MIN && w <= 23),
			     "window_log %u", w);
	}
}

Test(window, budget_saves_memory_and_round_trips)
{
	struct codec c;
	struct strait_dedupe_flow *f;
	struct buf s = { 0 }, o = { 0 };
	struct strait_dedupe_params p;
	uint8_t *d = text(LEN, 1);
	size_t big, small;

	strait_dedupe_params_default(&p);
	p.capacity = CAP;
	big = strait_dedupe_encoder_size(&p) + strait_dedupe_decoder_size(&p);
	p.window_log = 21;
	small = strait_dedupe_encoder_size(&p) + strait_dedupe_decoder_size(&p);
	/* each end holds a window: 8 MiB against 2 MiB */
	cr_assert_geq(big - small, 2 * (6u << 20), "%zu -> %zu", big, small);

	/* a 2 MiB encoder, a decoder of the default 8 MiB: taken */
	pair(&c, 21, 0);
	f = flow_new(&c, 0);
	enc(&c, f, d, LEN, STRAIT_DEDUPE_FLUSH, &s);
	cr_assert_eq(s.p[6], 21, "header byte 6: the encoder's window log");
	cr_assert_eq(dec_stream(&c, s.p, s.len, 4096, 65536, &o, 1), 0);
	cr_assert_eq(o.len, LEN);
	cr_assert(!memcmp(o.p, d, LEN));
	free(f);
	codec_close(&c);

	/* and a decoder of exactly 2 MiB */
	pair(&c, 21, 21);
	buf_free(&o);
	cr_assert_eq(dec_stream(&c, s.p, s.len, s.len, 65536, &o, 1), 0);
	cr_assert(o.len == LEN && !memcmp(o.p, d, LEN));
	codec_close(&c);
	buf_free(&s);
	buf_free(&o);
	free(d);
}

Test(window, larger_than_the_decoder_is_refused)
{
	struct codec c;
	struct strait_dedupe_flow *f;
	struct buf s = { 0 }, o = { 0 };
	uint8_t *d = text(1u << 20, 2);

	/* the default 8 MiB encoder, a 4 MiB decoder: refused at the
	 * header, nothing output (a stream never sizes a decoder) */
	pair(&c, 0, 22);
	f = flow_new(&c, 0);
	enc(&c, f, d, 1u << 20, STRAIT_DEDUPE_FLUSH, &s);
	cr_assert_eq(s.p[6], 23);
	cr_assert_eq(dec_stream(&c, s.p, s.len, s.len, 65536, &o, 1),
		     STRAIT_DEDUPE_E_PARAMS);
	cr_assert_eq(o.len, 0);
	free(f);
	codec_close(&c);
	buf_free(&s);
	free(d);
}

/* A header with byte 6 set to w (its checksum made right). */
static void header_with_window(uint8_t h[STRAIT_DEDUPE_HEADER_SIZE], uint8_t w)
{
	struct strait_dedupe_params p;
	uint32_t x;

	strait_dedupe_params_default(&p);
	p.capacity = CAP;
	strait_dedupe_header_write(h, &p, &(struct strait_dedupe_state){ 1, 0 });
	h[6] = w;
	x = XXH32(h, 44, 0);
	memcpy(h + 44, &x, 4);
}

Test(window, header_byte_6_is_checked)
{
	uint8_t h[STRAIT_DEDUPE_HEADER_SIZE];
	struct strait_dedupe_params p;
	struct strait_dedupe_state st;

	header_with_window(h, 21);
	cr_assert_eq(strait_dedupe_header_parse(h, sizeof(h), &p, &st), 0);
	cr_assert_eq(p.window_log, 21);
	header_with_window(h, 20);      /* below zstd's 2 MiB */
	cr_assert_eq(strait_dedupe_header_parse(h, sizeof(h), &p, &st),
		     STRAIT_DEDUPE_E_HEADER);
	header_with_window(h, 0);
	cr_assert_eq(strait_dedupe_header_parse(h, sizeof(h), &p, &st),
		     STRAIT_DEDUPE_E_HEADER);
	header_with_window(h, 24);      /* above 1/8 of the 64 MiB cache */
	cr_assert_eq(strait_dedupe_header_parse(h, sizeof(h), &p, &st),
		     STRAIT_DEDUPE_E_PARAMS);
	header_with_window(h, 255);
	cr_assert_eq(strait_dedupe_header_parse(h, sizeof(h), &p, &st),
		     STRAIT_DEDUPE_E_PARAMS);
}
