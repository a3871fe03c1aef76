/* SPDX-License-Identifier: BSD-3-Clause */
/* test_codec.c - chunker, round trips, flushes, flows, eviction, epochs. */
#include <errno.h>

#include "helpers.h"

#define MiB (1u << 20)

/* Encode one flow (END at the end) and decode; output must match. */
static void roundtrip(struct codec *c, const uint8_t *data, size_t len,
		      size_t piece, size_t in_piece, size_t out_piece)
{
	struct strait_dedupe_flow *f = flow_new(c, 0);
	struct buf s = { 0 }, o = { 0 };
	size_t at = 0;

	do {
		size_t n = len - at < piece ? len - at : piece;

		enc(c, f, data + at, n, at + n == len ? STRAIT_DEDUPE_END :
		    STRAIT_DEDUPE_CONTINUE, &s);
		at += n;
	} while (at < len);
	cr_assert_eq(strait_dedupe_flow_pending(f), 0);
	cr_assert_eq(dec_stream(c, s.p, s.len, in_piece, out_piece, &o, 1), 0);
	cr_assert_eq(o.len, len);
	cr_assert(len == 0 || memcmp(o.p, data, len) == 0, "bytes differ");
	buf_free(&s);
	buf_free(&o);
	free(f);
}

Test(chunker, sizes_within_bounds_and_content_defined)
{
	struct strait_dedupe_params p;
	size_t n = 4 * MiB, at = 0, cuts = 0;
	uint8_t *d = malloc(n + 100);

	strait_dedupe_params_default(&p);
	fill_random(d + 100, n, 1);
	while (at < n) {
		size_t c = strait_dedupe_chunk_next(&p, d + 100 + at, n - at);

		cr_assert(c > 0 && c <= p.max_chunk);
		if (at + c < n)
			cr_assert_geq(c, p.min_chunk);
		at += c;
		cuts++;
	}
	/* normalized chunking: mean near avg (2/3 .. 3/2 of it) */
	cr_assert(n / cuts > p.avg_chunk * 2 / 3 && n / cuts < p.avg_chunk * 3 / 2,
		  "mean chunk %zu", n / cuts);
	/* shift resilience: 37 bytes prepended, boundaries resynchronize */
	{
		size_t a = 0, b = 0, same = 0;
		const uint8_t *x = d + 100, *y = d + 63;

		fill_random(d + 63, 37, 99);
		while (a < n && b < n + 37) {
			if (a + 37 == b) {
				same++;
				a += strait_dedupe_chunk_next(&p, x + a, n - a);
				b += strait_dedupe_chunk_next(&p, y + b, n + 37 - b);
			} else if (a + 37 < b) {
				a += strait_dedupe_chunk_next(&p, x + a, n - a);
			} else {
				b += strait_dedupe_chunk_next(&p, y + b, n + 37 - b);
			}
		}
		cr_assert_geq(same, cuts - 3, "%zu of %zu boundaries shared", same, cuts);
	}
	free(d);
}

Test(chunker, resumable_across_calls)
{
	/* same chunks whether fed whole or in odd pieces: same log state */
	struct codec a, b;
	struct strait_dedupe_cache_stats sa, sb;
	size_t n = 3 * MiB;
	uint8_t *d = malloc(n);

	fill_text(d, n / 2, 5);
	fill_random(d + n / 2, n - n / 2, 6);
	codec_open(&a, 16 * MiB, 0, 0, 0);
	codec_open(&b, 16 * MiB, 0, 0, 0);
	roundtrip(&a, d, n, n, n, MiB);
	roundtrip(&b, d, n, 1237, 999, 4097);
	strait_dedupe_encoder_stats(a.enc, &sa);
	strait_dedupe_encoder_stats(b.enc, &sb);
	cr_assert_eq(sa.entries, sb.entries);
	cr_assert_eq(sa.used_bytes, sb.used_bytes);
	cr_assert_eq(sa.misses, sb.misses);
	codec_close(&a);
	codec_close(&b);
	free(d);
}

Test(codec, roundtrip_kinds)
{
	struct codec c;
	size_t n = 2 * MiB;
	uint8_t *d = malloc(n);

	codec_open(&c, 32 * MiB, 0, 0, 0);
	roundtrip(&c, d, 0, 1, 1, 1);            /* empty */
	memset(d, 0, n);
	roundtrip(&c, d, n, n, n, MiB);          /* zeros */
	fill_random(d, n, 11);
	roundtrip(&c, d, n, n, 4096, 65536);     /* incompressible */
	roundtrip(&c, d, n, 100000, n, 1);       /* again: all references, 1-byte out */
	fill_text(d, n, 12);
	roundtrip(&c, d, n, 65536, 1, 777);      /* 1-byte input pieces */
	roundtrip(&c, d, 1, 1, 1, 1);            /* one byte */
	codec_close(&c);
	free(d);
}

Test(codec, incompressible_goes_raw_and_text_through_zstd)
{
	struct codec c;
	struct strait_dedupe_cache_stats s;
	size_t n = MiB;
	uint8_t *d = malloc(n);

	codec_open(&c, 8 * MiB, 0, 0, 0);
	fill_random(d, n, 21);
	roundtrip(&c, d, n, n, n, n);
	strait_dedupe_encoder_stats(c.enc, &s);
	cr_assert_eq(s.literal_raw, n);
	cr_assert_eq(s.literal_zstd, 0);
	fill_text(d, n, 22);
	roundtrip(&c, d, n, n, n, n);
	strait_dedupe_encoder_stats(c.enc, &s);
	cr_assert_eq(s.literal_zstd, n);
	codec_close(&c);
	free(d);
}

Test(codec, duplicates_become_references_and_runs)
{
	struct codec c;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats s;
	struct buf st = { 0 }, o = { 0 };
	size_t n = 4 * MiB, first;
	uint8_t *d = malloc(n);

	codec_open(&c, 16 * MiB, 0, 0, 0);
	f = flow_new(&c, 0);
	fill_random(d, n, 31);
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &st);
	first = st.len;
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &st);
	/* the second copy costs a handful of run records */
	cr_assert_lt(st.len - first, 64, "second copy cost %zu bytes", st.len - first);
	strait_dedupe_encoder_stats(c.enc, &s);
	cr_assert_eq(s.hits, s.misses);
	cr_assert_eq(dec_stream(&c, st.p, st.len, 1 << 16, 1000, &o, 1), 0);
	cr_assert_eq(o.len, 2 * n);
	cr_assert(!memcmp(o.p, d, n) && !memcmp(o.p + n, d, n));
	buf_free(&st);
	buf_free(&o);
	free(f);
	codec_close(&c);
	free(d);
}

/* Flush after every prefix length: tentative + commit must rebuild exactly. */
Test(codec, flush_at_every_byte)
{
	struct codec c;
	size_t n = 3000;
	uint8_t *d = malloc(n);

	fill_text(d, n, 41);
	codec_open(&c, MiB, 256, 1024, 4096);
	/* cut == n: everything went out tentatively, then END with no bytes */
	for (size_t cut = 0; cut <= n;
	     cut = cut < n && cut + (cut < 300 ? 1 : 37) > n ? n : cut + (cut < 300 ? 1 : 37)) {
		struct strait_dedupe_flow *f = flow_new(&c, 3);
		struct buf s = { 0 }, o[4] = { 0 };
		uint64_t dec1, dec2;

		strait_dedupe_decoder_reset(c.dec);
		strait_dedupe_encoder_reset(c.enc, (uint32_t)cut);
		dec1 = enc(&c, f, d, cut, STRAIT_DEDUPE_FLUSH, &s);
		cr_assert_eq(dec1, cut, "flush must send all %zu bytes", cut);
		/* everything flushed is decodable now */
		cr_assert_eq(dec_stream(&c, s.p, s.len, s.len + 1, 100, o, 4), 0);
		cr_assert_eq(o[3].len, cut);
		dec2 = enc(&c, f, d + cut, n - cut, STRAIT_DEDUPE_END, &s);
		cr_assert_eq(dec1 + dec2, n);
		o[3].len = 0;
		strait_dedupe_decoder_reset(c.dec);
		cr_assert_eq(dec_stream(&c, s.p, s.len, 13, 100, o, 4), 0);
		cr_assert_eq(o[3].len, n, "cut %zu", cut);
		cr_assert(!memcmp(o[3].p, d, n), "cut %zu", cut);
		buf_free(&s);
		buf_free(&o[3]);
		free(f);
	}
	codec_close(&c);
	free(d);
}

/* A flushed chunk that is complete only at END (no bytes after the flush):
 * the tentative bytes are all there is; no commit, both logs skip it, and
 * the stream stays decodable for the next flow (new or duplicate chunk). */
Test(codec, flush_then_end_with_nothing_more)
{
	struct codec c;
	struct strait_dedupe_flow *f;
	struct buf st = { 0 }, o = { 0 };
	size_t n = 500;
	uint8_t *d = malloc(n);

	fill_random(d, n, 61);
	codec_open(&c, MiB, 256, 1024, 4096);
	f = flow_new(&c, 0);
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &st);          /* a chunk in the log */
	cr_assert_eq(enc(&c, f, d, n, STRAIT_DEDUPE_FLUSH, &st), n);
	cr_assert_eq(enc(&c, f, NULL, 0, STRAIT_DEDUPE_END, &st), 0);
	cr_assert_eq(strait_dedupe_flow_pending(f), 0);
	cr_assert_eq(enc(&c, f, d + 7, n - 7, STRAIT_DEDUPE_FLUSH, &st), n - 7);
	cr_assert_eq(enc(&c, f, NULL, 0, STRAIT_DEDUPE_END, &st), 0);
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &st);          /* still a reference */
	cr_assert_eq(dec_stream(&c, st.p, st.len, 1, 100, &o, 1), 0);
	cr_assert_eq(o.len, 4 * n - 7);
	cr_assert(!memcmp(o.p, d, n) && !memcmp(o.p + n, d, n));
	cr_assert(!memcmp(o.p + 2 * n, d + 7, n - 7));
	cr_assert(!memcmp(o.p + 3 * n - 7, d, n));
	buf_free(&st);
	buf_free(&o);
	free(f);
	codec_close(&c);
	free(d);
}

Test(codec, repeated_flushes_then_duplicate_commit)
{
	/* flush a partial chunk in three steps, then the chunk completes as a
	 * duplicate of an earlier chunk: the commit is a reference with skip */
	struct codec c;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats s;
	struct buf st = { 0 }, o = { 0 };
	size_t n = 64 * 1024;
	uint8_t *d = malloc(n);

	fill_random(d, n, 51);
	codec_open(&c, MiB, 256, 1024, 4096);
	f = flow_new(&c, 0);
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &st);
	enc(&c, f, d, 100, STRAIT_DEDUPE_FLUSH, &st);
	enc(&c, f, d + 100, 50, STRAIT_DEDUPE_FLUSH, &st);
	enc(&c, f, d + 150, 1, STRAIT_DEDUPE_FLUSH, &st);
	enc(&c, f, d + 151, n - 151, STRAIT_DEDUPE_END, &st);
	strait_dedupe_encoder_stats(c.enc, &s);
	cr_assert_eq(s.tentative, 151);
	cr_assert_eq(s.hits, s.misses, "second copy all references");
	cr_assert_eq(dec_stream(&c, st.p, st.len, 1000, 333, &o, 1), 0);
	cr_assert_eq(o.len, 2 * n);
	cr_assert(!memcmp(o.p, d, n) && !memcmp(o.p + n, d, n));
	buf_free(&st);
	buf_free(&o);
	free(f);
	codec_close(&c);
	free(d);
}

Test(codec, interleaved_flows)
{
	enum { FLOWS = 5 };
	struct codec c;
	struct strait_dedupe_flow *f[FLOWS];
	struct buf st = { 0 }, o[FLOWS] = { 0 };
	size_t n = 512 * 1024, at[FLOWS] = { 0 };
	uint8_t *d[FLOWS];
	uint64_t seed = 77;

	codec_open(&c, 4 * MiB, 0, 0, 0);
	for (int i = 0; i < FLOWS; i++) {
		f[i] = flow_new(&c, (uint32_t)i);
		d[i] = malloc(n);
		/* flows 0..2 share content, 3 is text, 4 random */
		if (i < 3)
			fill_random(d[i], n, 61);
		else if (i == 3)
			fill_text(d[i], n, 62);
		else
			fill_random(d[i], n, 63);
	}
	for (bool left = true; left;) {
		left = false;
		for (int i = 0; i < FLOWS; i++) {
			size_t k = xs64(&seed) % 20000;
			enum strait_dedupe_mode m = (k & 3) == 0 ?
				STRAIT_DEDUPE_FLUSH : STRAIT_DEDUPE_CONTINUE;

			if (at[i] == n)
				continue;
			if (k > n - at[i])
				k = n - at[i];
			if (at[i] + k == n)
				m = STRAIT_DEDUPE_END;
			enc(&c, f[i], d[i] + at[i], k, m, &st);
			at[i] += k;
			left = true;
		}
	}
	cr_assert_eq(dec_stream(&c, st.p, st.len, 4096, 1500, o, FLOWS), 0);
	for (int i = 0; i < FLOWS; i++) {
		cr_assert_eq(o[i].len, n, "flow %d", i);
		cr_assert(!memcmp(o[i].p, d[i], n), "flow %d", i);
		buf_free(&o[i]);
		free(f[i]);
		free(d[i]);
	}
	buf_free(&st);
	codec_close(&c);
}

Test(codec, eviction_wraps_around)
{
	/* 1 MiB cache, 12 MiB of data drawn from a 2 MiB pool: some repeats
	 * are still cached (references), others evicted (literals again); the
	 * log wraps many times and both ends must agree throughout. */
	struct codec c;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats se, sd;
	struct buf st = { 0 }, o = { 0 }, want = { 0 };
	size_t pool_n = 2 * MiB;
	uint8_t *pool = malloc(pool_n);
	uint64_t seed = 5;

	fill_random(pool, pool_n, 71);
	codec_open(&c, MiB, 256, 1024, 4096);
	f = flow_new(&c, 0);
	for (int i = 0; i < 200; i++) {
		size_t off = xs64(&seed) % (pool_n - 65536);
		size_t len = 1 + xs64(&seed) % 65536;

		buf_put(&want, pool + off, len);
		enc(&c, f, pool + off, len, STRAIT_DEDUPE_CONTINUE, &st);
	}
	enc(&c, f, NULL, 0, STRAIT_DEDUPE_END, &st);
	strait_dedupe_encoder_stats(c.enc, &se);
	cr_assert_gt(se.hits, 100);
	cr_assert_leq(se.used_bytes, MiB);
	cr_assert_eq(dec_stream(&c, st.p, st.len, 65536, 65536, &o, 1), 0);
	cr_assert_eq(o.len, want.len);
	cr_assert(!memcmp(o.p, want.p, want.len));
	strait_dedupe_decoder_stats(c.dec, &sd);
	cr_assert_eq(sd.entries, se.entries);
	cr_assert_eq(sd.used_bytes, se.used_bytes);
	cr_assert_eq(sd.hits, se.hits);
	buf_free(&st);
	buf_free(&o);
	buf_free(&want);
	free(f);
	free(pool);
	codec_close(&c);
}

Test(codec, epoch_reset)
{
	struct codec c;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats s;
	struct buf st = { 0 }, o = { 0 };
	struct strait_dedupe_decode_result r;
	size_t n = MiB;
	uint8_t *d = malloc(n);

	fill_random(d, n, 81);
	codec_open(&c, 4 * MiB, 0, 0, 0);
	f = flow_new(&c, 0);
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &st);
	strait_dedupe_encoder_reset(c.enc, 8);
	free(f);
	f = flow_new(&c, 0);
	/* after the reset, the same bytes are literals again (log empty) */
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &st);
	strait_dedupe_encoder_stats(c.enc, &s);
	cr_assert_eq(s.hits, 0);
	cr_assert_eq(dec_stream(&c, st.p, st.len, 100000, 65536, &o, 1), 0);
	cr_assert_eq(o.len, 2 * n);
	cr_assert(!memcmp(o.p + n, d, n));
	cr_assert_eq(strait_dedupe_decode(c.dec, NULL, 0, NULL, 0, &r), 0);
	cr_assert_eq(r.epoch, 8);
	buf_free(&st);
	buf_free(&o);
	free(f);
	codec_close(&c);
	free(d);
}

Test(codec, budget_splits_runs)
{
	/* a flow with 100 KB of credit at a time: each call decodes to at
	 * most the budget, consumes only what fits, and the rest follows */
	struct codec c;
	struct strait_dedupe_flow *f;
	struct buf st = { 0 }, o = { 0 };
	size_t n = 2 * MiB, at = 0;
	uint8_t *d = malloc(n), *out;
	size_t cap;
	int calls = 0;

	fill_random(d, n, 91);
	codec_open(&c, 8 * MiB, 0, 0, 0);
	f = flow_new(&c, 0);
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &st);
	cap = strait_dedupe_encode_bound(c.enc, n);
	out = malloc(cap);
	while (at < n || strait_dedupe_flow_pending(f)) {
		struct strait_dedupe_encode_result r;

		cr_assert_eq(strait_dedupe_encode(c.enc, f, d + at, n - at,
						  STRAIT_DEDUPE_END, 100000, out, cap, &r), 0);
		cr_assert_leq(r.decoded, 100000);
		cr_assert_gt(r.decoded, 0);
		buf_put(&st, out, r.out_len);
		at += r.in_used;
		cr_assert_lt(++calls, 100);
	}
	cr_assert_geq(calls, 21);
	cr_assert_eq(dec_stream(&c, st.p, st.len, st.len, 4096, &o, 1), 0);
	cr_assert_eq(o.len, 2 * n);
	cr_assert(!memcmp(o.p + n, d, n));
	buf_free(&st);
	buf_free(&o);
	free(out);
	free(f);
	codec_close(&c);
	free(d);
}

Test(codec, budget_smaller_than_a_chunk)
{
	/* 700 bytes of credit per call, less than any chunk: progress by
	 * tentative pieces, commits as references for the second copy */
	struct codec c;
	struct strait_dedupe_flow *f;
	struct buf st = { 0 }, o = { 0 };
	size_t n = 200000, at = 0, cap;
	uint8_t *d = malloc(n), *out;
	int calls = 0;

	fill_random(d, n, 93);
	codec_open(&c, 4 * MiB, 0, 0, 0);
	f = flow_new(&c, 0);
	cap = strait_dedupe_encode_bound(c.enc, n);
	out = malloc(cap);
	for (int pass = 0; pass < 2; pass++) {
		at = 0;
		while (at < n || strait_dedupe_flow_pending(f)) {
			struct strait_dedupe_encode_result r;

			cr_assert_eq(strait_dedupe_encode(c.enc, f, d + at, n - at,
							  STRAIT_DEDUPE_END, 700, out, cap, &r), 0);
			cr_assert_leq(r.decoded, 700);
			cr_assert_gt(r.decoded, 0, "no progress at %zu", at);
			buf_put(&st, out, r.out_len);
			at += r.in_used;
			cr_assert_lt(++calls, 2000);
		}
	}
	cr_assert_eq(dec_stream(&c, st.p, st.len, 333, 1000, &o, 1), 0);
	cr_assert_eq(o.len, 2 * n);
	cr_assert(!memcmp(o.p, d, n) && !memcmp(o.p + n, d, n));
	buf_free(&st);
	buf_free(&o);
	free(out);
	free(f);
	codec_close(&c);
	free(d);
}

Test(codec, encode_rejects_small_output)
{
	struct codec c;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_encode_result r;
	uint8_t in[100] = { 0 }, out[100];

	codec_open(&c, MiB, 0, 0, 0);
	f = flow_new(&c, 0);
	cr_assert_eq(strait_dedupe_encode(c.enc, f, in, sizeof(in),
					  STRAIT_DEDUPE_END, UINT64_MAX, out,
					  sizeof(out), &r), -ENOBUFS);
	cr_assert_eq(r.in_used, 0);
	free(f);
	codec_close(&c);
}

Test(params, checks)
{
	struct strait_dedupe_params p;

	strait_dedupe_params_default(&p);
	cr_assert_eq(strait_dedupe_params_check(&p), 0);
	p.avg_chunk = 3000;
	cr_assert_neq(strait_dedupe_params_check(&p), 0);
	strait_dedupe_params_default(&p);
	p.capacity = 1000;
	cr_assert_neq(strait_dedupe_params_check(&p), 0);
	cr_assert_eq(strait_dedupe_encoder_size(&p), 0);
	strait_dedupe_params_default(&p);
	p.max_chunk = 1 << 20;
	cr_assert_neq(strait_dedupe_params_check(&p), 0);
}

Test(codec, zero_copy_segments)
{
	/* the same interleaved stream decoded through segments (few, small)
	 * must give the same bytes per flow as the copying decoder */
	enum { FLOWS = 3 };
	struct codec c;
	struct strait_dedupe_flow *f[FLOWS];
	struct buf st = { 0 }, o[FLOWS] = { 0 };
	size_t n = 300000;
	uint8_t *d = malloc(n);

	fill_text(d, n / 2, 101);
	fill_random(d + n / 2, n - n / 2, 102);
	codec_open(&c, 2 * MiB, 256, 1024, 4096);
	for (int i = 0; i < FLOWS; i++)
		f[i] = flow_new(&c, (uint32_t)i);
	for (size_t at = 0; at < n; at += 10007) {
		size_t k = n - at < 10007 ? n - at : 10007;

		for (int i = 0; i < FLOWS; i++)
			enc(&c, f[i], d + at, k, at + k == n ? STRAIT_DEDUPE_END :
			    (i == 1 ? STRAIT_DEDUPE_FLUSH : STRAIT_DEDUPE_CONTINUE), &st);
	}
	for (size_t at = 0; at < st.len;) {
		size_t k = st.len - at < 777 ? st.len - at : 777, used = 0;
		int rc;

		do {
			struct strait_dedupe_decode_result r;
			struct strait_dedupe_segment sg[3];
			unsigned ns, total = 0;

			rc = strait_dedupe_decode_segments(c.dec, st.p + at + used, k - used,
							   5000, sg, 3, &ns, &r);
			cr_assert_geq(rc, 0, "%s", strait_dedupe_strerror(rc));
			cr_assert_leq(ns, 3);
			for (unsigned s = 0; s < ns; s++) {
				buf_put(&o[r.flow], sg[s].p, sg[s].len);
				total += (unsigned)sg[s].len;
			}
			cr_assert_eq(total, r.out_len);
			cr_assert_leq(total, 5000);
			used += r.in_used;
		} while (rc == 1);
		at += k;
	}
	cr_assert_eq(strait_dedupe_decode_finish(c.dec), 0);
	for (int i = 0; i < FLOWS; i++) {
		cr_assert_eq(o[i].len, n, "flow %d", i);
		cr_assert(!memcmp(o[i].p, d, n), "flow %d", i);
		buf_free(&o[i]);
		free(f[i]);
	}
	buf_free(&st);
	codec_close(&c);
	free(d);
}

Test(codec, drain_rate_moves_the_level)
{
	/* a link draining 1 byte/s: the encoder always outpaces it, so every
	 * 2 MiB the level goes one step up, to level_max; each step starts a
	 * new zstd frame, which the decoder follows; rate 0 returns to the
	 * fixed level. The bytes come back exactly throughout. */
	struct codec c;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats s;
	struct buf st = { 0 }, o = { 0 }, want = { 0 };
	size_t n = 8 * MiB;
	uint8_t *d = malloc(n);
	size_t es;

	fill_random(d, n, 41);
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)('a' + d[i] % 20);
	strait_dedupe_params_default(&c.p);
	c.p.capacity = 32 * MiB;
	c.p.level_max = 9;
	es = strait_dedupe_encoder_size(&c.p);
	c.emem = malloc(es);
	c.enc = strait_dedupe_encoder_init(c.emem, es, &c.p, 1);
	c.dmem = malloc(strait_dedupe_decoder_size(&c.p));
	c.dec = strait_dedupe_decoder_init(c.dmem, strait_dedupe_decoder_size(&c.p), &c.p);
	cr_assert(c.enc && c.dec);
	f = flow_new(&c, 0);
	strait_dedupe_encoder_stats(c.enc, &s);
	cr_assert_eq(s.level, 3);
	strait_dedupe_encoder_set_rate(c.enc, 1);
	for (size_t at = 0; at < n / 2; at += 512 * 1024)
		enc(&c, f, d + at, 512 * 1024, STRAIT_DEDUPE_CONTINUE, &st);
	strait_dedupe_encoder_stats(c.enc, &s);
	cr_assert_eq(s.level, 9, "level %d after 4 MiB at 1 byte/s", s.level);
	cr_assert_eq(s.level_changes, 2);
	strait_dedupe_encoder_set_rate(c.enc, 0);
	enc(&c, f, d + n / 2, n / 2, STRAIT_DEDUPE_END, &st);
	strait_dedupe_encoder_stats(c.enc, &s);
	cr_assert_eq(s.level, 3);
	buf_put(&want, d, n);
	cr_assert_eq(dec_stream(&c, st.p, st.len, 100000, 65536, &o, 1), 0);
	cr_assert(o.len == n && !memcmp(o.p, want.p, n));
	buf_free(&st);
	buf_free(&o);
	buf_free(&want);
	free(f);
	free(d);
	codec_close(&c);
}
