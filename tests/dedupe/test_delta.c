/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_delta.c - near-duplicates: chunks that differ from a cached chunk in
 * a few bytes go out as DELTA records and come back exactly, through
 * flushes, credit budgets, small output buffers, interleaved flows and a
 * log that wraps; both ends keep the same log (entries, bytes, counts).
 */
#include "helpers.h"

#define MiB (1u << 20)
#define KiB 1024u

/* A copy of src with small edits: 1-4 bytes overwritten every ~`every`
 * bytes, and a few runs inserted and deleted (shifting what follows). */
static size_t edit(const uint8_t *src, size_t n, uint8_t *dst, size_t every,
		   uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 11;
	size_t i = 0, o = 0;

	while (i < n) {
		size_t run = every / 2 + xs64(&s) % every;
		uint64_t what = xs64(&s) % 16;

		if (run > n - i)
			run = n - i;
		memcpy(dst + o, src + i, run);
		i += run;
		o += run;
		if (i == n)
			break;
		if (what == 0) {                 /* insert 1..64 bytes */
			size_t k = 1 + xs64(&s) % 64;

			fill_random(dst + o, k, xs64(&s));
			o += k;
		} else if (what == 1) {          /* delete 1..64 bytes */
			i += 1 + xs64(&s) % 64;
		} else {                         /* overwrite 1..4 bytes */
			size_t k = 1 + xs64(&s) % 4;

			for (size_t j = 0; j < k && i < n; j++, i++)
				dst[o++] = (uint8_t)(src[i] ^ (1 + xs64(&s) % 255));
		}
	}
	return o;
}

/* Both ends hold the same log and saw the same records. */
static void same_state(struct codec *c)
{
	struct strait_dedupe_cache_stats se, sd;

	strait_dedupe_encoder_stats(c->enc, &se);
	strait_dedupe_decoder_stats(c->dec, &sd);
	cr_assert_eq(sd.entries, se.entries);
	cr_assert_eq(sd.used_bytes, se.used_bytes);
	cr_assert_eq(sd.hits, se.hits);
	cr_assert_eq(sd.misses, se.misses);
	cr_assert_eq(sd.deltas, se.deltas);
	cr_assert_eq(sd.delta_bytes, se.delta_bytes);
}

Test(delta, near_duplicates_cost_a_few_bytes)
{
	/* incompressible data and an edited copy: every edited chunk goes
	 * out as a DELTA (the copy costs a few percent of its size), decoded
	 * whole and through 7-byte buffers */
	struct codec c;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats se;
	struct buf st = { 0 }, o = { 0 }, want = { 0 };
	size_t n = 256 * KiB, m, first;
	uint8_t *a = malloc(n), *b = malloc(2 * n);

	fill_random(a, n, 1);
	m = edit(a, n, b, 3000, 2);
	codec_open(&c, MiB, 256, 1024, 4096);
	f = flow_new(&c, 0);
	enc(&c, f, a, n, STRAIT_DEDUPE_CONTINUE, &st);
	first = st.len;
	enc(&c, f, b, m, STRAIT_DEDUPE_END, &st);
	buf_put(&want, a, n);
	buf_put(&want, b, m);
	strait_dedupe_encoder_stats(c.enc, &se);
	cr_assert_gt(se.deltas, 50, "%llu deltas", (unsigned long long)se.deltas);
	cr_assert_lt(st.len - first, m / 10, "edited copy: %zu bytes for %zu",
		     st.len - first, m);
	cr_assert_eq(dec_stream(&c, st.p, st.len, st.len, 65536, &o, 1), 0);
	cr_assert_eq(o.len, want.len);
	cr_assert(!memcmp(o.p, want.p, want.len));
	same_state(&c);
	strait_dedupe_decoder_reset(c.dec);
	buf_free(&o);
	cr_assert_eq(dec_stream(&c, st.p, st.len, 13, 7, &o, 1), 0);
	cr_assert(o.len == want.len && !memcmp(o.p, want.p, want.len));
	buf_free(&st);
	buf_free(&o);
	buf_free(&want);
	free(f);
	free(a);
	free(b);
	codec_close(&c);
}

Test(delta, compressible_near_duplicates_beyond_the_window)
{
	/* text-like data whose edited copy comes 2.5 MiB later (beyond the
	 * literal stream's 2 MiB window, where only DELTA finds its base) */
	struct codec c;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats se;
	struct buf st = { 0 }, o = { 0 }, want = { 0 };
	size_t n = 5 * MiB / 2, m, first;
	uint8_t *a = malloc(n), *b = malloc(n);

	fill_random(a, n, 5);
	for (size_t i = 0; i < n; i++)
		a[i] = (uint8_t)('a' + a[i] % 20); /* ~4.3 bits per byte */
	m = edit(a, 256 * KiB, b, 4000, 6);
	codec_open(&c, 8 * MiB, 0, 0, 0);
	f = flow_new(&c, 0);
	enc(&c, f, a, n, STRAIT_DEDUPE_CONTINUE, &st);
	first = st.len;
	enc(&c, f, b, m, STRAIT_DEDUPE_END, &st);
	strait_dedupe_encoder_stats(c.enc, &se);
	cr_assert_gt(se.deltas, 20, "%llu deltas", (unsigned long long)se.deltas);
	cr_assert_lt(st.len - first, m / 10, "edited copy: %zu bytes for %zu",
		     st.len - first, m);
	buf_put(&want, a, n);
	buf_put(&want, b, m);
	cr_assert_eq(dec_stream(&c, st.p, st.len, 4096, 65536, &o, 1), 0);
	cr_assert(o.len == want.len && !memcmp(o.p, want.p, want.len));
	same_state(&c);
	buf_free(&st);
	buf_free(&o);
	buf_free(&want);
	free(f);
	free(a);
	free(b);
	codec_close(&c);
}

Test(delta, flushes_and_budgets)
{
	/* the edited copy goes out in pieces with a flush after each (the
	 * DELTA commits what went out tentatively: skip > 0) and then again
	 * with 1500 bytes of credit per call; all of it decodes exactly */
	struct codec c;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats se;
	struct buf st = { 0 }, outs[4] = { 0 }, want = { 0 };
	size_t n = 128 * KiB, m, at = 0, cap;
	uint8_t *a = malloc(n), *b = malloc(2 * n), *out;
	int calls = 0;

	fill_random(a, n, 7);
	m = edit(a, n, b, 2500, 8);
	codec_open(&c, MiB, 256, 1024, 4096);
	f = flow_new(&c, 3);
	enc(&c, f, a, n, STRAIT_DEDUPE_END, &st);
	buf_put(&want, a, n);
	while (at < m) {
		size_t k = m - at < 777 ? m - at : 777;

		enc(&c, f, b + at, k, at + k == m ? STRAIT_DEDUPE_END :
		    STRAIT_DEDUPE_FLUSH, &st);
		at += k;
	}
	buf_put(&want, b, m);
	strait_dedupe_encoder_stats(c.enc, &se);
	cr_assert_gt(se.deltas, 10);
	cr_assert_gt(se.tentative, 0);
	cap = strait_dedupe_encode_bound(c.enc, m);
	out = malloc(cap);
	at = 0;
	while (at < m || strait_dedupe_flow_pending(f)) {
		struct strait_dedupe_encode_result r;

		cr_assert_eq(strait_dedupe_encode(c.enc, f, b + at, m - at,
						  STRAIT_DEDUPE_END, 1500, out, cap, &r), 0);
		cr_assert_leq(r.decoded, 1500);
		cr_assert_gt(r.decoded, 0);
		buf_put(&st, out, r.out_len);
		at += r.in_used;
		cr_assert_lt(++calls, 1000);
	}
	buf_put(&want, b, m);
	cr_assert_eq(dec_stream(&c, st.p, st.len, 999, 64, outs, 4), 0);
	cr_assert_eq(outs[3].len, want.len);
	cr_assert(!memcmp(outs[3].p, want.p, want.len));
	buf_free(&outs[3]);
	same_state(&c);
	buf_free(&st);
	buf_free(&want);
	free(out);
	free(f);
	free(a);
	free(b);
	codec_close(&c);
}

Test(delta, interleaved_flows_and_a_wrapping_log)
{
	/* three flows send edited copies of regions of a 2 MiB pool through
	 * a 1 MiB cache: deltas, references and literals mix, bases get
	 * evicted, the log wraps many times; both ends stay the same */
	struct codec c;
	struct strait_dedupe_flow *f[3];
	struct strait_dedupe_cache_stats se;
	struct buf st = { 0 }, want[3] = { 0 }, got[3] = { 0 };
	size_t pool_n = 2 * MiB;
	uint8_t *pool = malloc(pool_n), *b = malloc(2 * 65536);
	uint64_t seed = 9;

	fill_random(pool, pool_n, 10);
	codec_open(&c, MiB, 256, 1024, 4096);
	for (int i = 0; i < 3; i++)
		f[i] = flow_new(&c, (uint32_t)i);
	for (int i = 0; i < 240; i++) {
		int k = i % 3;
		size_t off = xs64(&seed) % (pool_n - 65536);
		size_t len = 1 + xs64(&seed) % 65536, m;

		m = (i & 4) ? edit(pool + off, len, b, 1 + xs64(&seed) % 6000, seed)
			    : (memcpy(b, pool + off, len), len);
		buf_put(&want[k], b, m);
		enc(&c, f[k], b, m, (i & 8) ? STRAIT_DEDUPE_FLUSH :
		    STRAIT_DEDUPE_CONTINUE, &st);
	}
	for (int k = 0; k < 3; k++)
		enc(&c, f[k], NULL, 0, STRAIT_DEDUPE_END, &st);
	strait_dedupe_encoder_stats(c.enc, &se);
	cr_assert_gt(se.deltas, 100);
	cr_assert_gt(se.hits, 100);
	cr_assert_leq(se.used_bytes, MiB);
	cr_assert_eq(dec_stream(&c, st.p, st.len, 65536, 4096, got, 3), 0);
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(got[k].len, want[k].len, "flow %d", k);
		cr_assert(!memcmp(got[k].p, want[k].p, want[k].len), "flow %d", k);
		buf_free(&got[k]);
		buf_free(&want[k]);
		free(f[k]);
	}
	same_state(&c);
	buf_free(&st);
	free(pool);
	free(b);
	codec_close(&c);
}
