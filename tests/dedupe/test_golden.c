/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_golden.c - the wire format is a decision: a fixed input (two flows,
 * text through zstd, random bytes sent raw, a flush with a tentative literal
 * and its commit, duplicates as references and a run, an edited copy of the
 * random bytes as DELTA records) must encode to the bytes of
 * golden/stream.strd, and that file must decode to the input.
 * To change the format on purpose: bump STRAIT_DEDUPE_VERSION, then
 * STRAIT_UPDATE_GOLDEN=1 build/tests/dedupe/test-dedupe --filter 'golden/stream_is_stable'
 * (the encode comparison assumes Debian bookworm's libzstd 1.5.4).
 */
#include <stdio.h>

#include "helpers.h"

#define GOLDEN GOLDEN_DIR "/stream.strd"

static void golden_input(struct codec *c, struct buf *s, struct buf out[2])
{
	static uint8_t text[20000], rnd[30000], small[3000], edited[30000];
	struct strait_dedupe_flow *f0 = flow_new(c, 0), *f1 = flow_new(c, 1);

	fill_text(text, sizeof(text), 1);
	fill_random(rnd, sizeof(rnd), 2);
	fill_text(small, sizeof(small), 3);
	enc(c, f0, text, 5000, STRAIT_DEDUPE_FLUSH, s);
	buf_put(&out[0], text, 5000);
	enc(c, f1, small, 3000, STRAIT_DEDUPE_FLUSH, s);
	buf_put(&out[1], small, 3000);
	enc(c, f0, text + 5000, 15000, STRAIT_DEDUPE_CONTINUE, s);
	buf_put(&out[0], text + 5000, 15000);
	enc(c, f0, rnd, sizeof(rnd), STRAIT_DEDUPE_CONTINUE, s);
	buf_put(&out[0], rnd, sizeof(rnd));
	enc(c, f0, text, sizeof(text), STRAIT_DEDUPE_END, s);
	buf_put(&out[0], text, sizeof(text));
	enc(c, f1, small, 3000, STRAIT_DEDUPE_END, s);
	buf_put(&out[1], small, 3000);
	memcpy(edited, rnd, sizeof(edited));
	for (size_t i = 1000; i < sizeof(edited); i += 7000)
		edited[i] ^= 0x5a;
	enc(c, f1, edited, sizeof(edited), STRAIT_DEDUPE_END, s);
	buf_put(&out[1], edited, sizeof(edited));
	free(f0);
	free(f1);
}

Test(golden, stream_is_stable)
{
	struct codec c;
	struct buf s = { 0 }, want[2] = { 0 }, got[2] = { 0 }, file = { 0 };
	uint8_t tmp[4096];
	size_t n;
	FILE *fp;

	codec_open(&c, 1u << 20, 256, 1024, 4096);
	golden_input(&c, &s, want);
	{
		struct strait_dedupe_cache_stats st;

		strait_dedupe_encoder_stats(c.enc, &st);
		cr_assert_gt(st.deltas, 0, "the golden input makes no DELTA");
	}
	if (getenv("STRAIT_UPDATE_GOLDEN")) {
		fp = fopen(GOLDEN, "wb");
		cr_assert(fp && fwrite(s.p, 1, s.len, fp) == s.len && !fclose(fp));
	}
	fp = fopen(GOLDEN, "rb");
	cr_assert(fp, "missing %s", GOLDEN);
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		buf_put(&file, tmp, n);
	fclose(fp);
	/* the golden file decodes to the input, whatever our encoder does */
	cr_assert_eq(dec_stream(&c, file.p, file.len, 1000, 999, got, 2), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(got[i].len, want[i].len, "flow %d", i);
		cr_assert(!memcmp(got[i].p, want[i].p, want[i].len), "flow %d", i);
	}
	/* and our encoder still writes exactly it */
	cr_assert_eq(s.len, file.len, "encoded %zu bytes, golden %zu", s.len, file.len);
	cr_assert(!memcmp(s.p, file.p, s.len), "encoded stream differs from golden");
	buf_free(&s);
	buf_free(&file);
	for (int i = 0; i < 2; i++) {
		buf_free(&want[i]);
		buf_free(&got[i]);
	}
	codec_close(&c);
}
